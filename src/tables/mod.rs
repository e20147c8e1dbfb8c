//! Code tables: which codes exist in a release of a code system, and what the code system says
//! about each (description, billable or header, parent and children, 7th characters,
//! Excludes1, add-on codes).
//!
//! One model serves every system ([`System`]): a [`Table`] is one release of one system, its
//! entries sorted by code in the normal form of [`crate::codes`] (byte order, which is the
//! ICD-10 tabular order). A [`TableSet`] holds several releases; [`TableSet::shipped`] holds the
//! tables built into medpol (`tables/README.md`), loaded once per process straight from the
//! bytes embedded in the binary.
//!
//! ```
//! use medpol::codes::System;
//! use medpol::tables::TableSet;
//! use medpol::types::Date;
//!
//! let tables = TableSet::shipped();
//! let date = Date::parse("2026-05-01").unwrap();
//! let icd = tables.in_force(System::Icd10Cm, date).unwrap();
//! let code = icd.lookup("M48.50XA").unwrap();
//! assert!(code.is_billable());
//! assert_eq!(code.parent().unwrap().code(), "M48.50");
//! let rule = code.seventh().unwrap();
//! assert_eq!(rule.meaning('A').as_deref(), Some("initial encounter for fracture"));
//! assert!(icd.lookup("M48.50XK").is_none());
//! ```
//!
//! ICD-10-CM 7th-character codes are not stored: a leaf under a 7th-character rule is a header
//! whose codes are derived from the rule (`M48.50` gives `M48.50XA`, `M48.50XD`, ...). They are
//! entries like any other for every function here.
//!
//! Nothing here reads or writes files: [`Table::from_bytes`] takes the bytes of a table file
//! and the [`import`] functions take the text of a source file.

mod code;
mod data;
mod format;
pub mod import;
mod notes;
mod shipped;
mod suggest;

use std::borrow::Cow;
use std::fmt;

use crate::codes::System;
use crate::types::Date;

use code::CodeBuf;
pub use code::MAX_CODE;
pub use data::{EntryData, NoteData, TableData};
use format::{Stored, StoredIter, View};
pub use notes::{CodeRef, parse_refs};
pub use suggest::{Slip, SlipKind, Suggestion};

/// Why a table could not be loaded or a set could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    pub message: String,
}

impl TableError {
    fn new(message: impl Into<String>) -> TableError {
        TableError {
            message: message.into(),
        }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TableError {}

// ------------------------------------------------------------------ sets of tables

/// Releases of code systems, each identified by its release id.
#[derive(Clone, Default)]
pub struct TableSet {
    /// Sorted by system, then effective date, then release id.
    tables: Vec<Table>,
    errors: Vec<TableError>,
}

impl TableSet {
    /// An empty set.
    pub fn new() -> TableSet {
        TableSet::default()
    }

    /// The tables shipped in medpol, loaded once per process (a header check and a checksum
    /// per table; nothing is decoded up front).
    pub fn shipped() -> &'static TableSet {
        static SHIPPED: std::sync::OnceLock<TableSet> = std::sync::OnceLock::new();
        SHIPPED.get_or_init(shipped::load)
    }

    /// The shipped tables plus a project's own (such as its licensed CPT table). A user table
    /// may not reuse a release id already in the set.
    pub fn shipped_and(user: impl IntoIterator<Item = Table>) -> Result<TableSet, TableError> {
        let mut set = TableSet::shipped().clone();
        for table in user {
            set.add(table)?;
        }
        Ok(set)
    }

    /// Adds a release; fails when the set already has one with the same release id.
    pub fn add(&mut self, table: Table) -> Result<(), TableError> {
        if self.get(table.release()).is_some() {
            return Err(TableError::new(format!(
                "two tables have the release id `{}`",
                table.release()
            )));
        }
        self.tables.push(table);
        self.tables.sort_by(|a, b| {
            (a.system(), a.effective(), a.release()).cmp(&(b.system(), b.effective(), b.release()))
        });
        Ok(())
    }

    /// Every table, by system, then effective date.
    pub fn iter(&self) -> impl Iterator<Item = &Table> {
        self.tables.iter()
    }

    /// The releases of one system, oldest first.
    pub fn releases(&self, system: System) -> impl Iterator<Item = &Table> {
        self.tables.iter().filter(move |t| t.system() == system)
    }

    /// The table with this release id (`icd10cm-2026-04`).
    pub fn get(&self, release: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.release() == release)
    }

    /// The release of a system in force on a date: the one whose effective date is the latest
    /// on or before it.
    pub fn in_force(&self, system: System, date: Date) -> Option<&Table> {
        self.releases(system)
            .filter(|t| t.effective() <= date)
            .last()
    }

    /// The newest release of a system.
    pub fn latest(&self, system: System) -> Option<&Table> {
        self.releases(system).last()
    }

    /// Shipped tables that failed to load (a damaged build); empty in a sound build, and
    /// tested to be.
    pub fn load_errors(&self) -> &[TableError] {
        &self.errors
    }
}

impl fmt::Debug for TableSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.tables.iter().map(Table::release))
            .finish()
    }
}

// ------------------------------------------------------------------ one table

/// One release of one code system.
#[derive(Clone)]
pub struct Table {
    view: View,
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Table({})", self.release())
    }
}

impl Table {
    /// Reads a table file, in place: the bytes are checked (header, bounds, checksum) and kept;
    /// entries are decoded when asked for.
    pub fn from_bytes(bytes: impl Into<Cow<'static, [u8]>>) -> Result<Table, TableError> {
        Ok(Table {
            view: View::parse(bytes.into()).map_err(TableError::new)?,
        })
    }

    /// Encodes imported data and reads it back.
    pub fn from_data(data: &TableData) -> Result<Table, TableError> {
        Table::from_bytes(data.to_bytes()?)
    }

    /// The table file's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.view.bytes()
    }

    pub fn system(&self) -> System {
        self.view.system
    }

    /// The release id, such as `icd10cm-2026-04`.
    pub fn release(&self) -> &str {
        &self.view.release
    }

    pub fn title(&self) -> &str {
        &self.view.title
    }

    /// The first day the release applies.
    pub fn effective(&self) -> Date {
        self.view.effective
    }

    /// How many codes the table has, headers and derived 7th-character codes included.
    pub fn len(&self) -> usize {
        self.view.total as usize
    }

    pub fn is_empty(&self) -> bool {
        self.view.total == 0
    }

    /// How many codes are valid on a claim.
    /// Whether the table lists every code of the code's kind, so that a code it lacks does
    /// not exist (see [`TableData::covers`]).
    pub fn covers(&self, code: &str) -> bool {
        let covers = &self.view.covers;
        covers == "*" || code.chars().next().is_some_and(|c| covers.contains(c))
    }

    /// Whether the table carries Excludes1 notes (the tabular XML does; flat lists do not).
    pub fn has_notes(&self) -> bool {
        self.view.has_notes()
    }

    /// What the table covers: `*`, the first characters it covers, or nothing.
    pub fn coverage(&self) -> &str {
        &self.view.covers
    }

    pub fn billable_count(&self) -> usize {
        self.view.billable as usize
    }

    /// The entry of a code in normal form (lower case is accepted); `None` when the release
    /// has no such code.
    pub fn lookup(&self, code: &str) -> Option<Entry<'_>> {
        // Upper-cased byte by byte into the fixed buffer: the checker looks up every code of
        // every set, several times with later releases, so no allocation per lookup.
        let mut query = CodeBuf::EMPTY;
        for b in code.bytes() {
            query.push(b.to_ascii_uppercase())?;
        }
        let mut floor = None;
        let mut next = None;
        for s in self.view.seek(query.as_bytes()) {
            if s.code <= query {
                floor = Some(s);
            } else {
                next = Some(s);
                break;
            }
        }
        let floor = floor?;
        if floor.code == query {
            return Some(self.stored(floor));
        }
        let rule = self.derives(floor, next)?;
        self.view
            .rule(rule)
            .iter()
            .enumerate()
            .find(|(_, (ch, _))| floor.code.with_seventh(*ch) == Some(query))
            .map(|(index, (ch, _))| Entry {
                table: self,
                code: query,
                kind: Kind::Derived {
                    base: floor,
                    rule,
                    index: index as u8,
                    ch: *ch,
                },
            })
    }

    /// What the release says of a code, by the one rule for every table, whole or partial: a
    /// code it lists is billable or a heading; a code it does not list is absent only where
    /// the table covers the code's kind ([`Table::covers`]); elsewhere the table cannot say
    /// (`None`), and the code is taken as written. The checker (code sets and tests) and the
    /// binding of artifacts' facts both read it.
    pub fn status(&self, code: &str) -> Option<crate::artifact::CodeStatus> {
        use crate::artifact::CodeStatus;
        match self.lookup(code) {
            Some(e) if e.is_billable() => Some(CodeStatus::Billable),
            Some(_) => Some(CodeStatus::Heading),
            None if self.covers(code) => Some(CodeStatus::Absent),
            None => None,
        }
    }

    /// Whether the release has this code.
    pub fn contains(&self, code: &str) -> bool {
        self.lookup(code).is_some()
    }

    /// Every entry, in code order.
    pub fn iter(&self) -> Entries<'_> {
        Entries::new(self, self.view.block_entries(0), Vec::new(), Stop::End)
    }

    /// The entries whose code starts with `prefix` (the code itself included), in code order:
    /// `M80.08X` gives `M80.08XA`, `M80.08XD`, ...
    pub fn prefix(&self, prefix: &str) -> Entries<'_> {
        let p = prefix.to_ascii_uppercase().into_bytes();
        Entries::new(self, self.view.seek(&p), p.clone(), Stop::Prefix(p))
    }

    /// The entries from `first` to `last` inclusive, in code order (headers included):
    /// `M48.50XA`..`M48.58XS`.
    pub fn range(&self, first: &str, last: &str) -> Entries<'_> {
        let lo = first.to_ascii_uppercase().into_bytes();
        let hi = last.to_ascii_uppercase().into_bytes();
        Entries::new(self, self.view.seek(&lo), lo, Stop::After(hi))
    }

    /// The entries from the first code at or after `from` to the end.
    fn entries_from(&self, from: Vec<u8>) -> Entries<'_> {
        Entries::new(self, self.view.seek(&from), from, Stop::End)
    }

    /// The billable codes at or below a code or prefix.
    pub fn billable_under(&self, code_or_prefix: &str) -> impl Iterator<Item = Entry<'_>> {
        self.prefix(code_or_prefix).filter(Entry::is_billable)
    }

    /// The children of a code; empty when it has none or does not exist.
    pub fn children(&self, code: &str) -> Vec<Entry<'_>> {
        self.lookup(code).map(|e| e.children()).unwrap_or_default()
    }

    /// Existing codes a written code may have meant, best first: look-alike characters
    /// (OCR), one-character slips, a misplaced or missing dot, a missing placeholder `X`.
    /// See [`Suggestion`].
    pub fn suggest(&self, written: &str) -> Vec<Suggestion> {
        suggest::suggest(self, written, &[])
    }

    /// Like [`Table::suggest`], knowing the codes written near it (the rest of its code set or
    /// list), closest first. A code damaged in a list is most often a repeat of a neighbour
    /// or one of its siblings, so those are preferred, the more the closer they are.
    pub fn suggest_near(&self, written: &str, near: &[&str]) -> Vec<Suggestion> {
        suggest::suggest(self, written, near)
    }

    /// How a written code differs from one code of the table (`WI40.50XA` from `M48.50XA`:
    /// `WI` for `M`, `0` for `8`), with the cost of those slips on the scale of
    /// [`Table::suggest`]; `None` when the table has no such code or the written one is too
    /// long to be a code.
    pub fn compare(&self, written: &str, code: &str) -> Option<Suggestion> {
        suggest::compare(&self.lookup(code)?, written)
    }

    fn stored(&self, s: Stored) -> Entry<'_> {
        Entry {
            table: self,
            code: s.code,
            kind: Kind::Stored(s),
        }
    }

    /// The 7th-character rule of a code's nearest ancestor-or-self that defines one, and that
    /// ancestor's code.
    fn rule_in_force(&self, code: CodeBuf) -> Option<(u32, CodeBuf)> {
        std::iter::once(code)
            .chain(code.ancestors())
            .find_map(|c| Some((self.view.rule_defined_at(c.as_bytes())?, c)))
    }

    /// The stored entry with this code, and the one after it.
    fn stored_and_next(&self, code: CodeBuf) -> Option<(Stored, Option<Stored>)> {
        let mut it = self
            .view
            .seek(code.as_bytes())
            .skip_while(|s| s.code < code);
        let s = it.next().filter(|s| s.code == code)?;
        Some((s, it.next()))
    }

    /// The rule whose codes derive from a stored entry: it is a leaf under a rule.
    fn derives(&self, s: Stored, next: Option<Stored>) -> Option<u32> {
        if !self.view.derive_seventh || next.is_some_and(|n| n.code.under(&s.code)) {
            return None;
        }
        self.rule_in_force(s.code).map(|(rule, _)| rule)
    }
}

// ------------------------------------------------------------------ entries

#[derive(Clone, Copy, Debug)]
enum Kind {
    Stored(Stored),
    /// A 7th-character code derived from a stored leaf.
    Derived {
        base: Stored,
        rule: u32,
        /// The character's place in the rule.
        index: u8,
        ch: u8,
    },
}

/// One code of a table. A small handle: descriptions and relations are decoded when asked.
#[derive(Clone, Copy)]
pub struct Entry<'t> {
    table: &'t Table,
    code: CodeBuf,
    kind: Kind,
}

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Entry({} in {})", self.code(), self.table.release())
    }
}

impl PartialEq for Entry<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.table, other.table) && self.code == other.code
    }
}

impl Eq for Entry<'_> {}

impl<'t> Entry<'t> {
    /// The code, in normal form.
    pub fn code(&self) -> &str {
        self.code.as_str()
    }

    pub fn table(&self) -> &'t Table {
        self.table
    }

    /// Valid on a claim. The other entries are headers: they group codes.
    pub fn is_billable(&self) -> bool {
        match self.kind {
            Kind::Stored(s) => s.flags & format::BILLABLE != 0,
            Kind::Derived { .. } => true,
        }
    }

    pub fn is_header(&self) -> bool {
        !self.is_billable()
    }

    /// The full description.
    pub fn long(&self) -> String {
        match self.kind {
            Kind::Stored(s) => self
                .table
                .view
                .texts(s.ordinal)
                .map(|t| self.table.view.text(&t.long))
                .unwrap_or_default(),
            Kind::Derived {
                base, rule, index, ..
            } => {
                let base = self.table.stored(base).long();
                let meaning = self.rule_meaning(rule, index);
                format!("{base}, {meaning}")
            }
        }
    }

    /// The abbreviated description, when the source has one (the CMS XML has only the long
    /// one).
    pub fn short(&self) -> Option<String> {
        let view = &self.table.view;
        match self.kind {
            Kind::Stored(s) => view.texts(s.ordinal)?.short.map(|t| view.text(&t)),
            Kind::Derived { base, index, .. } => {
                let texts = view.texts(base.ordinal)?;
                texts
                    .derived_shorts
                    .get(usize::from(index))
                    .map(|t| view.text(t))
            }
        }
    }

    /// The short description when there is one, else the long one.
    pub fn description(&self) -> String {
        self.short().unwrap_or_else(|| self.long())
    }

    fn rule_meaning(&self, rule: u32, index: u8) -> String {
        let chars = self.table.view.rule(rule);
        chars
            .get(usize::from(index))
            .map(|(_, m)| self.table.view.text(m))
            .unwrap_or_default()
    }

    /// The entry this one is under: the longest code of the table that is a proper prefix of
    /// this one (for a 7th-character code, the code it is derived from).
    pub fn parent(&self) -> Option<Entry<'t>> {
        match self.kind {
            Kind::Derived { base, .. } => Some(self.table.stored(base)),
            Kind::Stored(_) => self
                .code
                .ancestors()
                .find_map(|c| self.table.view.find(c.as_bytes()))
                .map(|s| self.table.stored(s)),
        }
    }

    /// The parent, its parent, and so on up to the top (a category).
    pub fn ancestors(&self) -> Vec<Entry<'t>> {
        let mut out = Vec::new();
        let mut at = self.parent();
        while let Some(e) = at {
            at = e.parent();
            out.push(e);
        }
        out
    }

    /// The entries directly under this one, in code order.
    pub fn children(&self) -> Vec<Entry<'t>> {
        let Kind::Stored(s) = self.kind else {
            return Vec::new();
        };
        let table = self.table;
        let mut out = Vec::new();
        let mut last: Option<CodeBuf> = None;
        let below = table
            .view
            .seek(s.code.as_bytes())
            .skip_while(|t| t.code <= s.code)
            .take_while(|t| t.code.under(&s.code));
        for t in below {
            if last.is_none_or(|l| !t.code.under(&l)) {
                out.push(table.stored(t));
                last = Some(t.code);
            }
        }
        if out.is_empty() {
            out.extend(self.derived());
        }
        out
    }

    /// The 7th-character codes derived from this entry (empty unless it is a leaf under a
    /// rule).
    fn derived(&self) -> Vec<Entry<'t>> {
        let Kind::Stored(s) = self.kind else {
            return Vec::new();
        };
        let table = self.table;
        let Some((_, next)) = table.stored_and_next(s.code) else {
            return Vec::new();
        };
        let Some(rule) = table.derives(s, next) else {
            return Vec::new();
        };
        derived_entries(table, s, rule)
    }

    /// The 7th-character rule that applies to this code: the one defined at the code or at its
    /// nearest ancestor that defines one.
    pub fn seventh(&self) -> Option<SeventhRule<'t>> {
        let (code, base) = match self.kind {
            Kind::Stored(s) => (s.code, self.needs_seventh().then_some(s.code)),
            Kind::Derived { base, .. } => (base.code, Some(base.code)),
        };
        let (rule, defined_at) = self.table.rule_in_force(code)?;
        Some(SeventhRule {
            table: self.table,
            rule,
            defined_at,
            base,
        })
    }

    /// A header whose codes are this code plus a 7th character: `M48.56` needs one
    /// (`M48.56XA`); writing `M48.56` alone on a claim is an error.
    pub fn needs_seventh(&self) -> bool {
        match self.kind {
            Kind::Stored(s) => self
                .table
                .stored_and_next(s.code)
                .and_then(|(s, next)| self.table.derives(s, next))
                .is_some(),
            Kind::Derived { .. } => false,
        }
    }

    /// The 7th character of a derived code (`A` for `M48.50XA`).
    pub fn seventh_char(&self) -> Option<char> {
        match self.kind {
            Kind::Derived { ch, .. } => Some(char::from(ch)),
            Kind::Stored(_) => None,
        }
    }

    /// The Excludes1 notes that apply to this code: its own and those of every ancestor, the
    /// nearest first. A code in one of their [`Excludes1::refs`] is never reported with this
    /// one.
    pub fn excludes1(&self) -> Vec<Excludes1> {
        let own = match self.kind {
            Kind::Stored(s) => s.code,
            Kind::Derived { base, .. } => base.code,
        };
        std::iter::once(own)
            .chain(own.ancestors())
            .flat_map(|at| {
                self.table
                    .view
                    .notes(at.as_bytes())
                    .into_iter()
                    .map(move |(text, refs)| (at, text, refs))
            })
            .map(|(at, text, refs)| Excludes1 {
                from: at.as_str().to_string(),
                note: self.table.view.text(&text),
                refs,
            })
            .collect()
    }

    /// The Excludes1 note that excludes `other` from this code, if any.
    pub fn excludes(&self, other: &str) -> Option<Excludes1> {
        let other = other.to_ascii_uppercase();
        self.excludes1()
            .into_iter()
            .find(|n| n.refs.iter().any(|r| r.covers(&other)))
    }

    fn addon(&self) -> (bool, Vec<String>) {
        match self.kind {
            Kind::Stored(s) => self.table.view.addon(s.code.as_bytes()),
            Kind::Derived { .. } => (false, Vec::new()),
        }
    }

    /// A CPT/HCPCS add-on code: reported only together with one of its primary codes.
    pub fn is_addon(&self) -> bool {
        self.addon().0
    }

    /// The codes an add-on code is reported with (`22512`: `22510`, `22511`).
    pub fn primaries(&self) -> Vec<String> {
        self.addon().1
    }
}

fn derived_entries(table: &Table, base: Stored, rule: u32) -> Vec<Entry<'_>> {
    table
        .view
        .rule(rule)
        .iter()
        .enumerate()
        .filter_map(|(index, (ch, _))| {
            Some(Entry {
                table,
                code: base.code.with_seventh(*ch)?,
                kind: Kind::Derived {
                    base,
                    rule,
                    index: index as u8,
                    ch: *ch,
                },
            })
        })
        .collect()
}

/// The 7th characters allowed under an ICD-10-CM code and what each means.
#[derive(Clone, Copy)]
pub struct SeventhRule<'t> {
    table: &'t Table,
    rule: u32,
    defined_at: CodeBuf,
    base: Option<CodeBuf>,
}

impl fmt::Debug for SeventhRule<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SeventhRule(at {}: {:?})",
            self.defined_at(),
            self.chars()
        )
    }
}

impl SeventhRule<'_> {
    /// The code whose `sevenChrDef` this is (`M48.5`).
    pub fn defined_at(&self) -> &str {
        self.defined_at.as_str()
    }

    /// Each allowed character with its meaning, in order.
    pub fn chars(&self) -> Vec<(char, String)> {
        self.table
            .view
            .rule(self.rule)
            .into_iter()
            .map(|(ch, m)| (char::from(ch), self.table.view.text(&m)))
            .collect()
    }

    pub fn allows(&self, ch: char) -> bool {
        self.chars()
            .iter()
            .any(|(c, _)| *c == ch.to_ascii_uppercase())
    }

    /// What a character means: `A` is "initial encounter for fracture" under `M48.5`.
    pub fn meaning(&self, ch: char) -> Option<String> {
        let ch = ch.to_ascii_uppercase();
        self.chars()
            .into_iter()
            .find(|(c, _)| *c == ch)
            .map(|(_, m)| m)
    }

    /// The code the character is appended to, when the rule was asked for at one (a leaf
    /// such as `M48.50`, or a derived code).
    pub fn base(&self) -> Option<&str> {
        self.base.as_ref().map(CodeBuf::as_str)
    }

    /// How many placeholder `X` pad the base to six characters before the 7th (`M48.50`: 1,
    /// `T07`: 3, `T36.0X1`: 0).
    pub fn placeholders(&self) -> Option<usize> {
        self.base.map(|b| b.placeholders())
    }

    /// The full code for a character: `M48.50` and `A` give `M48.50XA`.
    pub fn code_with(&self, ch: char) -> Option<String> {
        let ch = u8::try_from(ch.to_ascii_uppercase()).ok()?;
        self.allows(char::from(ch))
            .then(|| self.base?.with_seventh(ch))
            .flatten()
            .map(|c| c.as_str().to_string())
    }
}

/// An Excludes1 note that applies to a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excludes1 {
    /// The code the note is written at (the entry itself or an ancestor).
    pub from: String,
    /// The note as the tabular prints it.
    pub note: String,
    /// The codes it names. Notes that name codes only with a qualifier ("E08-E13 with .44")
    /// have none: the qualifier is not modelled, and a guess would report false conflicts.
    pub refs: Vec<CodeRef>,
}

// ------------------------------------------------------------------ iteration

enum Stop {
    End,
    Prefix(Vec<u8>),
    After(Vec<u8>),
}

/// Entries of a table in code order; see [`Table::iter`], [`Table::prefix`],
/// [`Table::range`].
pub struct Entries<'t> {
    table: &'t Table,
    stored: std::iter::Peekable<StoredIter<'t>>,
    /// A leaf whose 7th-character codes come next: the leaf, its rule, where the rule's
    /// characters are in `rules`, and how many have been given.
    pending: Option<(Stored, u32, usize, usize)>,
    from: Vec<u8>,
    stop: Stop,
    finished: bool,
    /// The codes defining the 7th-character rules in force, outermost first, and the next
    /// rule key to meet: walking in code order, a rule comes into force at its code and
    /// leaves it after the code's last descendant.
    scopes: Option<Vec<(CodeBuf, u32)>>,
    next_key: Option<usize>,
    /// Each rule's characters, decoded once.
    rules: Vec<(u32, Vec<u8>)>,
}

impl<'t> Entries<'t> {
    fn new(table: &'t Table, stored: StoredIter<'t>, from: Vec<u8>, stop: Stop) -> Entries<'t> {
        let mut stored = stored.peekable();
        // The block starts before `from`. A code derived from a stored one extends it by one
        // character, so only stored codes that begin `from` can lead to codes at or after it:
        // the others are passed over here, without working out their 7th-character rules.
        while stored
            .next_if(|s| {
                let code = s.code.as_bytes();
                code < from.as_slice() && !from.starts_with(code)
            })
            .is_some()
        {}
        Entries {
            table,
            stored,
            pending: None,
            from,
            stop,
            finished: false,
            scopes: None,
            next_key: None,
            rules: Vec::new(),
        }
    }

    /// The rule in force at a stored entry; entries must come in code order.
    fn rule_at(&mut self, code: CodeBuf) -> Option<u32> {
        let view = &self.table.view;
        let scopes = self.scopes.get_or_insert_with(|| {
            // The first entry: the rules of its ancestors are already in force.
            let mut outer: Vec<(CodeBuf, u32)> = code
                .ancestors()
                .filter_map(|a| Some((a, view.rule_defined_at(a.as_bytes())?)))
                .collect();
            outer.reverse();
            outer
        });
        let next_key = self
            .next_key
            .get_or_insert_with(|| view.rule_keys_before(code.as_bytes()));
        while scopes.last().is_some_and(|(c, _)| !code.under(c)) {
            scopes.pop();
        }
        while let Some((key, rule)) = view.rule_key(*next_key) {
            if key > code {
                break;
            }
            if key == code {
                scopes.push((key, rule));
            }
            *next_key += 1;
        }
        scopes.last().map(|(_, rule)| *rule)
    }

    fn next_any(&mut self) -> Option<Entry<'t>> {
        if let Some((base, rule, at, given)) = self.pending {
            let ch = self
                .rules
                .get(at)
                .and_then(|(_, chars)| chars.get(given))
                .copied();
            if let Some(ch) = ch {
                self.pending = Some((base, rule, at, given + 1));
                if let Some(code) = base.code.with_seventh(ch) {
                    return Some(Entry {
                        table: self.table,
                        code,
                        kind: Kind::Derived {
                            base,
                            rule,
                            index: given as u8,
                            ch,
                        },
                    });
                }
            }
            self.pending = None;
        }
        let s = self.stored.next()?;
        let next = self.stored.peek().copied();
        let table = self.table;
        if table.view.derive_seventh {
            let rule = self.rule_at(s.code);
            let leaf = next.is_none_or(|n| !n.code.under(&s.code));
            if let Some(rule) = rule.filter(|_| leaf) {
                let at = match self.rules.iter().position(|(r, _)| *r == rule) {
                    Some(at) => at,
                    None => {
                        let chars = table.view.rule(rule).iter().map(|(ch, _)| *ch).collect();
                        self.rules.push((rule, chars));
                        self.rules.len() - 1
                    }
                };
                self.pending = Some((s, rule, at, 0));
            }
        }
        Some(table.stored(s))
    }
}

impl<'t> Iterator for Entries<'t> {
    type Item = Entry<'t>;

    fn next(&mut self) -> Option<Entry<'t>> {
        while !self.finished {
            let e = self.next_any()?;
            let code = e.code.as_bytes();
            if !self.from.is_empty() && code < self.from.as_slice() {
                continue;
            }
            let done = match &self.stop {
                Stop::End => false,
                Stop::Prefix(p) => !code.starts_with(p),
                Stop::After(hi) => code > hi.as_slice(),
            };
            if !done {
                return Some(e);
            }
            self.finished = true;
        }
        None
    }
}

/// Patients' codes in decision artifacts are checked against these tables by the rule the
/// checker applies to code sets and tests ([`Table::status`]).
impl crate::artifact::Releases for TableSet {
    fn status(
        &self,
        _system: System,
        release: &str,
        code: &str,
    ) -> Option<crate::artifact::CodeStatus> {
        self.get(release)?.status(code)
    }
}

#[cfg(test)]
mod tests;
