//! Importers: source files of code tables to [`TableData`].
//!
//! - [`icd10cm_xml`]: the CMS ICD-10-CM tabular XML (`icd10cm-tabular-2026-04.xml`), with its
//!   7th-character rules and Excludes1 notes.
//! - [`tsv`]: a flat tab-separated list with a header row: `code`, `billable`, `short`, `long`
//!   (also `short_description` and `long_description`), and for CPT/HCPCS optionally `addon`
//!   and `primaries`.
//! - [`local`]: a local YAML table, such as a project's licensed CPT table.
//! - [`hcpcs`]: CMS's alpha-numeric HCPCS file (fixed width, `HCPC2026_JAN_ANWEB.txt`), read
//!   from its bytes with [`cms_text`].
//!
//! They take the text (the caller reads the file) and the file's name for messages. A
//! malformed source gives an [`ImportError`] with the file and line, never a panic.

mod hcpcs;
mod local;
mod tsv;
mod xml;

use std::fmt;

use crate::codes::{CodeForm, System, parse_code};
use crate::types::Date;

use super::TableData;

pub use hcpcs::{HCPCS_COVERS, cms_text, hcpcs};
pub use local::local;
pub use tsv::tsv;
pub use xml::icd10cm_xml;

/// What the source file does not say about the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub system: System,
    /// `icd10cm-2026-04`.
    pub id: String,
    pub title: String,
    pub effective: Date,
    /// See [`TableData::covers`].
    pub covers: String,
}

impl Release {
    fn table(&self, derive_seventh: bool) -> TableData {
        TableData {
            system: self.system,
            release: self.id.clone(),
            title: self.title.clone(),
            effective: self.effective,
            derive_seventh,
            covers: self.covers.clone(),
            entries: Vec::new(),
        }
    }
}

/// A problem in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub file: String,
    /// One-based; `None` for a problem of the whole file.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ImportError {}

/// Builds errors for one file.
#[derive(Clone, Copy)]
struct At<'f> {
    file: &'f str,
}

impl At<'_> {
    fn line(self, line: usize, message: impl Into<String>) -> ImportError {
        ImportError {
            file: self.file.to_string(),
            line: Some(line),
            message: message.into(),
        }
    }

    fn file(self, message: impl Into<String>) -> ImportError {
        ImportError {
            file: self.file.to_string(),
            line: None,
            message: message.into(),
        }
    }
}

/// A code of the system in normal form, or why it is not one.
///
/// ICD-10-CM's April 2026 update added the category `QA0` (a letter in second place), which
/// [`parse_code`] does not accept yet; the tables take any code of the tabular's shape.
fn code(system: System, written: &str) -> Result<String, String> {
    let written = written.trim();
    if system == System::Icd10Cm && super::code::tabular_icd10cm(written) {
        return Ok(written.to_ascii_uppercase());
    }
    match parse_code(system, written) {
        Ok(CodeForm::Exact(code)) => Ok(code),
        Ok(CodeForm::Prefix(_)) => Err(format!(
            "`{}` is a pattern, not a code",
            crate::diagnostic::shown(written)
        )),
        Err(e) => Err(format!(
            "`{written}` is not a valid {} code: {}",
            system.display(),
            e.reason
        )),
    }
}

/// Text with its runs of white space made single spaces.
fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The table of a flat list's rows (each with its line): sorted by code, no code twice.
/// `none` says what an empty list means.
fn flat_table(
    at: At<'_>,
    release: &Release,
    mut rows: Vec<(super::EntryData, usize)>,
    none: &str,
) -> Result<TableData, ImportError> {
    if rows.is_empty() {
        return Err(at.file(none));
    }
    rows.sort_by(|a, b| a.0.code.cmp(&b.0.code));
    no_repeats(at, &rows, |e| e.code.as_str())?;
    let mut table = release.table(false);
    table.entries = rows.into_iter().map(|(e, _)| e).collect();
    Ok(table)
}

/// Reports the first code written twice; entries must be sorted by code.
fn no_repeats<T>(
    at: At<'_>,
    entries: &[(T, usize)],
    code: impl Fn(&T) -> &str,
) -> Result<(), ImportError> {
    for pair in entries.windows(2) {
        if let [(a, first), (b, second)] = pair
            && code(a) == code(b)
        {
            let (first, second) = ((*first).min(*second), (*first).max(*second));
            return Err(at.line(
                second,
                format!("`{}` is listed twice (first on line {first})", code(b)),
            ));
        }
    }
    Ok(())
}
