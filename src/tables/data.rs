//! A table as the importers build it: plain owned data, encoded once into the on-disk format
//! (`docs/decisions/0002-table-format.md`) and read back through [`super::Table`].

use crate::codes::System;
use crate::types::Date;

use super::{CodeRef, TableError};

/// One release of one code system, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableData {
    pub system: System,
    /// `icd10cm-2026-04`, `cpt-local`.
    pub release: String,
    pub title: String,
    pub effective: Date,
    /// ICD-10-CM: the 7th-character codes are not stored but derived. Every leaf entry under a
    /// [`EntryData::seventh`] rule (its own or its nearest ancestor's) is a header, and its
    /// codes are the leaf padded with placeholder `X` to six characters plus each character of
    /// the rule, described as the leaf's long description, a comma and the meaning.
    pub derive_seventh: bool,
    /// Which codes the table lists completely, by their first character: `*` for every code of
    /// its system, `0` for ICD-10-PCS section 0 only, empty for a table of selected codes
    /// (such as a local CPT table). A code the table does not cover is not reported unknown.
    pub covers: String,
    /// Sorted by code, byte order, no code twice.
    pub entries: Vec<EntryData>,
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntryData {
    /// In the normal form of [`crate::codes`].
    pub code: String,
    pub billable: bool,
    pub short: Option<String>,
    pub long: String,
    /// A 7th-character rule defined here (`sevenChrDef`): each allowed character with its
    /// meaning, in character order.
    pub seventh: Option<Vec<(char, String)>>,
    /// Short descriptions of this entry's derived 7th-character codes, in the order of the
    /// rule's characters; empty when the source has none (the CMS XML).
    pub derived_shorts: Vec<String>,
    pub excludes1: Vec<NoteData>,
    /// A CPT/HCPCS add-on code, reported only with one of [`EntryData::primaries`].
    pub addon: bool,
    pub primaries: Vec<String>,
}

/// An Excludes1 note: its text and the codes it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteData {
    pub text: String,
    pub refs: Vec<CodeRef>,
}

impl TableData {
    /// The table file: the format of `docs/decisions/0002-table-format.md`. Fails on data no
    /// importer produces (codes out of order or repeated, a billable leaf under a
    /// 7th-character rule).
    pub fn to_bytes(&self) -> Result<Vec<u8>, TableError> {
        super::format::encode(self).map_err(|m| TableError {
            message: format!("{}: {m}", self.release),
        })
    }
}
