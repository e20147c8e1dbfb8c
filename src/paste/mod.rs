//! Reading a code table pasted from a printed policy (`medpol codes import`): the codes it
//! lists, repaired where the evidence singles one code out, as `codes` blocks of medpol.
//!
//! Policies print their code tables in columns (code, description), and a copy from a PDF or
//! a web page brings OCR damage and the print's layout with it: descriptions wrap onto
//! following lines, a code stands beside the last line of its description, headers and page
//! headers interrupt the table, and OCR fills the empty code column of a wrapped line with a
//! damaged copy of the code above (`WI40.50XA` under `M48.50xA`). The stage reads in four
//! passes, each on evidence computed from the text and the tables in force:
//!
//! 1. lines: each line is a row (code candidates in the code column and the text beside
//!    them), a line of text, or not text; each candidate is read against the tables
//!    (`resolve`): a code, a printed pattern, a heading, a code a table of selected codes does
//!    not list, or damage;
//! 2. continuations (`attach::merge`): a row whose text completes the table's description of
//!    the row above, and whose candidate is no code with that text but looks like the code
//!    above, is a wrapped line of that row: merged, not read as a code;
//! 3. descriptions (`attach::attach`): the lines of text between rows go to the row above,
//!    the row below or neither, as the tables' descriptions and the layout say;
//! 4. repairs (`resolve::decide`): a damaged candidate becomes the one code whose description
//!    is the printed one, or without a description the one code its few slips single out;
//!    otherwise it is reported and left out.
//!
//! The codes read are then written per system (`compress`): a family of the table whose
//! every billable code was read as a pattern, the rest one code a line, each with the table's
//! description as a comment. Every change is reported ([`Change`]). See
//! `docs/decisions/0007-code-table-import.md` for the rules and why no code is guessed.

mod attach;
mod compress;
mod lines;
mod resolve;
mod text;

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use crate::codes::System;
use crate::diagnostic::shown;
use crate::tables::TableSet;
use crate::types::Date;

use lines::Kind;
pub use lines::MAX_LINE;
use resolve::{Candidate, Decision, Evidence, InForce, Reading};

/// The largest input read, in bytes (`docs/limits.md`): some 40,000 rows of a printed table.
pub const MAX_INPUT: usize = crate::input::Kind::Paste.limit() as usize;
/// Table searches for damaged candidates at most; the rest are reported unsearched. A search
/// walks a whole table, some 20 ms: a hundred take two seconds.
const MAX_SEARCHES: usize = 100;
/// Table searches at most for codes whose printed description is not the table's (is it
/// another code's?); the rest are kept with a note.
const MAX_CHECKS: usize = 50;
/// How far from a damaged code the codes that tell its system are looked for, in rows.
const NEAR_ROWS: usize = 50;
/// The set name when none is given.
pub const DEFAULT_NAME: &str = "imported_codes";

/// How to read.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read every code as one of this system.
    pub system: Option<System>,
    /// The date whose tables are in force.
    pub date: Date,
    /// The name of the set; with codes of several systems, each block's name ends in its
    /// system (`vertebroplasty_cpt`).
    pub name: Option<String>,
}

/// Why nothing could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// More than [`MAX_INPUT`] bytes.
    TooLarge { bytes: usize },
    /// The set name cannot name a set.
    Name(String),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::TooLarge { bytes } => write!(
                f,
                "the input has {bytes} bytes, more than the {} MiB a pasted table may have",
                MAX_INPUT >> 20
            ),
            ImportError::Name(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ImportError {}

/// What was read: one block per code system, and every change made to the text.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub blocks: Vec<Block>,
    pub changes: Vec<Change>,
    /// Lines of the input.
    pub lines: usize,
}

impl Imported {
    /// Everything printed was read without a guess: there is at least one code, and nothing
    /// was left out that could be a code.
    pub fn complete(&self) -> bool {
        !self.blocks.is_empty() && !self.changes.iter().any(|c| c.kind.leaves_out())
    }
}

/// A `codes` block of one system.
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    #[serde(serialize_with = "system_name")]
    pub system: System,
    /// The table the codes were checked against (none when the system has no table).
    pub release: Option<String>,
    pub name: String,
    /// Every code read, sorted: what the block expands to against the same table.
    pub codes: Vec<String>,
    /// The block's items in order: codes and patterns.
    pub items: Vec<Item>,
    /// The block as medpol text, in the formatter's style, ending in a line break.
    pub text: String,
}

/// One item of a block.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// A code (`C41.2`) or a pattern (`M48.5-`, `0QS0*`).
    pub item: String,
    /// The table's description (for a pattern, its family's).
    pub comment: String,
    /// The codes it stands for.
    pub codes: Vec<String>,
}

fn system_name<S: serde::Serializer>(system: &System, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(system.name())
}

/// A change to the printed text, or something left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// The line it is about (1-based), when it is about one.
    pub line: Option<usize>,
    /// What was printed (cut when long).
    pub written: Option<String>,
    /// The code or pattern it became.
    pub code: Option<String>,
    /// In words, lower case, without a final period.
    pub message: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The kinds of change, most serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A candidate no evidence singles a code out for: left out.
    Unrecognised,
    /// A heading printed as a code (not valid on a claim): left out.
    Heading,
    /// A line longer than [`MAX_LINE`]: not read.
    LineTooLong,
    /// A line with control characters: not read.
    NotText,
    /// A code in text that is not a row of the table (a header, prose): not read.
    CodeInText,
    /// A damaged code replaced by the code the evidence singles out.
    Repaired,
    /// A row that continues the description of the row above: merged into it.
    Merged,
    /// A printed pattern read as the codes of the table below it.
    Pattern,
    /// A complete family written as a pattern.
    Compressed,
    /// A code read a second time: dropped.
    Duplicate,
    /// A well-formed code a table of selected codes does not list: taken as written.
    Unlisted,
    /// A code whose printed description is not the table's.
    DescriptionDiffers,
    /// Lower-case letters read as upper case.
    Normalised,
    /// Bytes that are not UTF-8, replaced.
    InvalidUtf8,
    /// A line with no code that belongs to no description (a header, prose).
    Skipped,
}

impl ChangeKind {
    /// Whether something printed that may be a code was left out.
    pub fn leaves_out(self) -> bool {
        matches!(
            self,
            ChangeKind::Unrecognised
                | ChangeKind::Heading
                | ChangeKind::LineTooLong
                | ChangeKind::NotText
                | ChangeKind::CodeInText
        )
    }

    /// The kind's name in the JSON report: `unrecognised`, `code-in-text`.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Unrecognised => "unrecognised",
            ChangeKind::Heading => "heading",
            ChangeKind::LineTooLong => "line-too-long",
            ChangeKind::NotText => "not-text",
            ChangeKind::CodeInText => "code-in-text",
            ChangeKind::Repaired => "repaired",
            ChangeKind::Merged => "merged",
            ChangeKind::Pattern => "pattern",
            ChangeKind::Compressed => "compressed",
            ChangeKind::Duplicate => "duplicate",
            ChangeKind::Unlisted => "unlisted",
            ChangeKind::DescriptionDiffers => "description-differs",
            ChangeKind::Normalised => "normalised",
            ChangeKind::InvalidUtf8 => "invalid-utf8",
            ChangeKind::Skipped => "skipped",
        }
    }
}

// ------------------------------------------------------------------ the reader's state

/// One code candidate of a row.
#[derive(Debug, Clone)]
struct Token {
    /// As printed, without the punctuation around it.
    written: String,
    reading: Reading,
    /// For a damaged candidate, the codes it may be, once searched.
    candidates: Option<Vec<Candidate>>,
}

/// A row of the table: code candidates and their description's pieces.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    tokens: Vec<Token>,
    /// Lines of text above that begin the description.
    before: Vec<String>,
    /// The text beside the codes.
    own: String,
    /// Lines below that continue it (text lines and merged rows).
    after: Vec<String>,
    /// Merged into the row above.
    gone: bool,
}

impl Row {
    /// The description as printed, in normal form.
    fn description(&self) -> String {
        let mut parts: Vec<&str> = self.before.iter().map(String::as_str).collect();
        parts.push(&self.own);
        parts.extend(self.after.iter().map(String::as_str));
        text::normal(&parts.join(" "))
    }
}

/// A line of text without a code.
#[derive(Debug, Clone)]
struct TextLine {
    line: usize,
    text: String,
    indented: bool,
    used: bool,
}

impl TextLine {
    /// It starts a description (a capital), rather than continuing one.
    fn starts(&self) -> bool {
        self.text.starts_with(|c: char| c.is_uppercase())
    }
}

/// The lines of one run of non-blank lines, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Row(usize),
    Text(usize),
}

struct Reader<'t> {
    tables: InForce<'t>,
    rows: Vec<Row>,
    texts: Vec<TextLine>,
    blocks: Vec<Vec<Elem>>,
    /// The codes read exactly anywhere in the paste.
    taken: HashSet<String>,
    searches: usize,
    checks: usize,
    changes: Vec<Change>,
}

/// Reads a pasted code table. Never fails on its content: what cannot be read is reported in
/// [`Imported::changes`]; only an input past [`MAX_INPUT`] bytes or a bad name is refused.
pub fn import(bytes: &[u8], tables: &TableSet, options: &Options) -> Result<Imported, ImportError> {
    if bytes.len() > MAX_INPUT {
        return Err(ImportError::TooLarge { bytes: bytes.len() });
    }
    let name = options.name.as_deref().unwrap_or(DEFAULT_NAME);
    check_name(name)?;
    let mut reader = Reader {
        tables: InForce::new(tables, options.date, options.system),
        rows: Vec::new(),
        texts: Vec::new(),
        blocks: Vec::new(),
        taken: HashSet::new(),
        searches: 0,
        checks: 0,
        changes: Vec::new(),
    };
    let text = String::from_utf8_lossy(bytes);
    if let std::borrow::Cow::Owned(_) = text {
        reader.invalid_utf8(bytes);
    }
    let lines = lines::read(&text);
    let count = text.lines().count();
    reader.lines(lines);
    reader.taken = reader
        .rows
        .iter()
        .flat_map(|r| &r.tokens)
        .filter_map(|t| match &t.reading {
            Reading::Code { code, .. } => Some(code.clone()),
            _ => None,
        })
        .collect();
    reader.merge();
    reader.attach();
    let read = reader.resolve();
    let blocks = reader.blocks_of(read, name);
    let mut changes = reader.changes;
    changes.sort_by_key(|c| (c.kind, c.line));
    Ok(Imported {
        blocks,
        changes,
        lines: count,
    })
}

/// A name the grammar takes for a set: ASCII letters, digits and `_`, not starting with a
/// digit, at most 128 characters, and not a reserved word.
fn check_name(name: &str) -> Result<(), ImportError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !crate::syntax::RESERVED.contains(&name);
    if ok {
        Ok(())
    } else {
        Err(ImportError::Name(format!(
            "`{}` cannot name a set: use letters, digits and `_`, not a reserved word",
            shown(name)
        )))
    }
}

impl Reader<'_> {
    fn note(&mut self, kind: ChangeKind, line: Option<usize>, message: String) {
        self.changes.push(Change {
            kind,
            line,
            written: None,
            code: None,
            message,
        });
    }

    fn change(
        &mut self,
        kind: ChangeKind,
        line: usize,
        written: &str,
        code: Option<&str>,
        message: String,
    ) {
        self.changes.push(Change {
            kind,
            line: Some(line),
            written: Some(shown(written).into_owned()),
            code: code.map(str::to_string),
            message,
        });
    }

    fn invalid_utf8(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        let mut count = 0usize;
        let mut first = None;
        let mut offset = 0usize;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(_) => break,
                Err(e) => {
                    let bad = e.error_len().unwrap_or(rest.len() - e.valid_up_to());
                    let at = offset + e.valid_up_to();
                    first.get_or_insert(at);
                    count += 1;
                    let skip = e.valid_up_to() + bad;
                    offset += skip;
                    rest = rest.get(skip..).unwrap_or(&[]);
                }
            }
        }
        let line = first.map(|at| {
            bytes
                .get(..at)
                .unwrap_or(&[])
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        });
        let plural = if count == 1 { "" } else { "s" };
        self.note(
            ChangeKind::InvalidUtf8,
            line,
            format!("the input is not UTF-8 text: {count} invalid byte sequence{plural} replaced"),
        );
    }

    /// Pass 1: rows, lines of text and runs of non-blank lines; each candidate read.
    fn lines(&mut self, lines: Vec<lines::Line>) {
        let mut block: Vec<Elem> = Vec::new();
        for line in lines {
            match line.kind {
                Kind::Row { tokens, text } => {
                    let tokens = tokens
                        .into_iter()
                        .map(|t| Token {
                            reading: resolve::read(&self.tables, &t),
                            written: t,
                            candidates: None,
                        })
                        .collect();
                    block.push(Elem::Row(self.rows.len()));
                    self.rows.push(Row {
                        line: line.number,
                        tokens,
                        before: Vec::new(),
                        own: text,
                        after: Vec::new(),
                        gone: false,
                    });
                }
                Kind::Text { text, indented } => {
                    block.push(Elem::Text(self.texts.len()));
                    self.texts.push(TextLine {
                        line: line.number,
                        text,
                        indented,
                        used: false,
                    });
                }
                other => {
                    if !block.is_empty() {
                        self.blocks.push(std::mem::take(&mut block));
                    }
                    match other {
                        Kind::TooLong { bytes } => self.note(
                            ChangeKind::LineTooLong,
                            Some(line.number),
                            format!(
                                "the line has {bytes} bytes, more than the {MAX_LINE} a line may have: not read"
                            ),
                        ),
                        Kind::NotText => self.note(
                            ChangeKind::NotText,
                            Some(line.number),
                            "the line has control characters: not text, not read".into(),
                        ),
                        _ => {}
                    }
                }
            }
        }
        if !block.is_empty() {
            self.blocks.push(block);
        }
    }

    /// The codes read exactly nearest a row, closest first: the neighbours a damaged code is
    /// most often a copy or a sibling of.
    fn near(&self, row: usize) -> Vec<String> {
        let code = |r: &Row| {
            r.tokens.iter().find_map(|t| match &t.reading {
                Reading::Code { code, .. } => Some(code.clone()),
                _ => None,
            })
        };
        let mut out = Vec::new();
        for d in 1..=6 {
            for r in [row.checked_sub(d), row.checked_add(d)]
                .into_iter()
                .flatten()
            {
                if let Some(c) = self.rows.get(r).filter(|r| !r.gone).and_then(code) {
                    out.push(c);
                }
            }
            if out.len() >= 4 {
                break;
            }
        }
        out
    }

    /// The systems of the codes read nearest a row (within [`NEAR_ROWS`] rows).
    fn near_systems(&self, row: usize) -> Vec<System> {
        for d in 1..=NEAR_ROWS {
            let mut found: Vec<System> = [row.checked_sub(d), row.checked_add(d)]
                .into_iter()
                .flatten()
                .filter_map(|r| self.rows.get(r))
                .flat_map(|r| r.tokens.iter().filter_map(|t| t.reading.system()))
                .collect();
            if !found.is_empty() {
                found.sort();
                found.dedup();
                return found;
            }
        }
        Vec::new()
    }

    /// The codes a damaged candidate may be (searched once).
    fn candidates(&mut self, row: usize, token: usize) -> Vec<Candidate> {
        let Some(t) = self.rows.get(row).and_then(|r| r.tokens.get(token)) else {
            return Vec::new();
        };
        if let Some(c) = &t.candidates {
            return c.clone();
        }
        let Reading::Damaged { systems } = &t.reading else {
            return Vec::new();
        };
        // Past the budget nothing is searched, nor remembered as searched.
        if self.searches >= MAX_SEARCHES {
            return Vec::new();
        }
        let systems = match self.tables.forced() {
            Some(s) => vec![s],
            None if !systems.is_empty() => systems.clone(),
            None => {
                let near = self.near_systems(row);
                if near.is_empty() {
                    self.tables.systems()
                } else {
                    near
                }
            }
        };
        let written = t.written.clone();
        self.searches += systems.len();
        let near = self.near(row);
        let near: Vec<&str> = near.iter().map(String::as_str).collect();
        let found = resolve::candidates(&self.tables, &systems, &written, &near, &self.taken);
        if let Some(t) = self.rows.get_mut(row).and_then(|r| r.tokens.get_mut(token)) {
            t.candidates = Some(found.clone());
        }
        found
    }

    /// The codes a one-code row may be, with their descriptions (normal form), for comparing
    /// with the printed text; empty for a row of several codes.
    fn descriptions(&mut self, row: usize) -> Vec<(System, String, String)> {
        let Some(r) = self.rows.get(row) else {
            return Vec::new();
        };
        let [token] = r.tokens.as_slice() else {
            return Vec::new();
        };
        match &token.reading {
            Reading::Code { system, code } | Reading::Heading { system, code } => self
                .tables
                .description(*system, code)
                .map(|d| vec![(*system, code.clone(), text::normal(&d))])
                .unwrap_or_default(),
            Reading::Damaged { .. } => self
                .candidates(row, 0)
                .into_iter()
                .filter_map(|c| Some((c.system, c.code, c.description?)))
                .collect(),
            Reading::Pattern { .. } | Reading::Unlisted { .. } => Vec::new(),
        }
    }

    /// Pass 4: what each candidate stands for; the codes read, by system, in order.
    fn resolve(&mut self) -> Vec<(System, String, usize)> {
        let mut read: Vec<(System, String, usize)> = Vec::new();
        for row in 0..self.rows.len() {
            let Some(r) = self.rows.get(row) else {
                continue;
            };
            if r.gone {
                continue;
            }
            let line = r.line;
            let single = r.tokens.len() == 1;
            let printed = if single {
                r.description()
            } else {
                String::new()
            };
            for token in 0..r.tokens.len() {
                let Some(t) = self
                    .rows
                    .get(row)
                    .and_then(|r| r.tokens.get(token))
                    .cloned()
                else {
                    continue;
                };
                self.resolve_token(row, token, &t, line, &printed, &mut read);
            }
        }
        read
    }

    fn resolve_token(
        &mut self,
        row: usize,
        token: usize,
        t: &Token,
        line: usize,
        printed: &str,
        read: &mut Vec<(System, String, usize)>,
    ) {
        let written = t.written.as_str();
        let cased = written.bytes().any(|b| b.is_ascii_lowercase());
        match &t.reading {
            Reading::Code { system, code } => {
                let table_says = self
                    .tables
                    .description(*system, code)
                    .map(|d| text::normal(&d));
                let exact = !printed.is_empty() && table_says.as_deref() == Some(printed);
                let own = table_says.filter(|_| !printed.is_empty() && !exact);
                let differs = own
                    .as_deref()
                    .is_some_and(|d| text::similarity(printed, d) < text::MATCH);
                if let Some(own) = &own
                    && let Some(other) = self.described_as(row, *system, written, printed, own)
                {
                    self.change(
                        ChangeKind::Repaired,
                        line,
                        written,
                        Some(&other.code),
                        format!(
                            "{}, but the printed description is the table's description of `{}`, and of no other code near it, and the two differ by a reading slip ({}): read as `{}`",
                            if written == code {
                                format!("`{code}` is a code")
                            } else {
                                format!("`{}` reads as `{code}`", shown(written))
                            },
                            other.code,
                            other.slips_text(),
                            other.code
                        ),
                    );
                    read.push((*system, other.code, line));
                    return;
                }
                if cased
                    && !exact
                    && let Some(other) = self.digit_reading(*system, written, code)
                    && !self.printed_is_nearer(*system, code, &other, printed)
                {
                    let release = self.tables.release(*system).unwrap_or("the table");
                    self.unrecognised(
                        line,
                        written,
                        &format!(
                            "`{}` reads as `{code}` in upper case and as `{other}` with its lower-case letters read as the digits they look like; both are codes of {release} and nothing printed tells them apart",
                            shown(written)
                        ),
                    );
                    return;
                }
                if cased {
                    self.normalised(line, written, code);
                }
                if differs {
                    let d = self.tables.description(*system, code).unwrap_or_default();
                    self.change(
                        ChangeKind::DescriptionDiffers,
                        line,
                        written,
                        Some(code),
                        format!(
                            "the printed description of `{code}` is not the table's, and no code near it has it: kept, as the code exists (the table says “{}”)",
                            shown(&d)
                        ),
                    );
                }
                read.push((*system, code.clone(), line));
            }
            Reading::Pattern {
                system,
                prefix,
                codes,
            } => {
                if cased {
                    self.normalised(line, written, &written.to_ascii_uppercase());
                }
                let n = codes.len();
                self.change(
                    ChangeKind::Pattern,
                    line,
                    written,
                    Some(prefix),
                    format!(
                        "the pattern `{}` is read as the {n} code{} of {} below `{prefix}`",
                        shown(written),
                        if n == 1 { "" } else { "s" },
                        self.tables.release(*system).unwrap_or("the table")
                    ),
                );
                read.extend(codes.iter().map(|c| (*system, c.clone(), line)));
            }
            Reading::Heading { system, code } => {
                let release = self.tables.release(*system).unwrap_or("the table");
                self.change(
                    ChangeKind::Heading,
                    line,
                    written,
                    Some(code),
                    format!(
                        "`{code}` is a heading in {release}, not a code valid on a claim: left out (`{code}-` would stand for the codes below it)"
                    ),
                );
            }
            Reading::Unlisted { system, code } => {
                if cased {
                    self.normalised(line, written, code);
                }
                let why = match self.tables.release(*system) {
                    Some(release) => format!(
                        "{release} lists only some {} codes, so it cannot say whether `{code}` exists: kept as written",
                        system.display()
                    ),
                    None => format!(
                        "there is no {} table in force, so `{code}` is kept as written",
                        system.display()
                    ),
                };
                self.change(ChangeKind::Unlisted, line, written, Some(code), why);
                read.push((*system, code.clone(), line));
            }
            Reading::Damaged { .. } => {
                let searched = self.searches < MAX_SEARCHES || t.candidates.is_some();
                let candidates = self.candidates(row, token);
                if !searched {
                    let why = format!(
                        "was not searched: the paste has more damaged codes than {MAX_SEARCHES} searches of the tables cover"
                    );
                    self.not_a_code(line, written, &why);
                    return;
                }
                match resolve::decide(&candidates, printed) {
                    Decision::Repair(c, evidence) => {
                        self.repaired(line, written, &t.reading, &c, &evidence);
                        read.push((c.system, c.code, line));
                    }
                    Decision::Unrecognised(why, closest) => {
                        let list: Vec<String> =
                            closest.iter().map(|c| format!("`{}`", c.code)).collect();
                        let closest = if list.is_empty() {
                            String::new()
                        } else {
                            format!(" (nearest: {})", list.join(", "))
                        };
                        self.not_a_code(line, written, &format!("{why}{closest}"));
                    }
                }
            }
        }
    }

    /// For a code whose printed description is not the table's: the one other code near it
    /// whose description the printed one is, nearer than the code's own, when the two codes
    /// differ only by slips a reader makes (`0QSl3ZZ` read as `0QSL3ZZ`, printed with the
    /// description of `0QS13ZZ`).
    fn described_as(
        &mut self,
        row: usize,
        system: System,
        written: &str,
        printed: &str,
        own: &str,
    ) -> Option<Candidate> {
        if self.checks >= MAX_CHECKS {
            return None;
        }
        self.checks += 1;
        let near = self.near(row);
        let near: Vec<&str> = near.iter().map(String::as_str).collect();
        let others: Vec<Candidate> =
            resolve::candidates(&self.tables, &[system], written, &near, &self.taken)
                .into_iter()
                .filter(|c| !c.slips.is_empty() && c.description.as_deref() != Some(own))
                .collect();
        let mut texts: Vec<&str> = vec![own];
        texts.extend(others.iter().filter_map(|c| c.description.as_deref()));
        let described: Vec<&Candidate> =
            others.iter().filter(|c| c.description.is_some()).collect();
        match text::nearest(printed, &texts) {
            Ok(i) if i > 0 => described
                .get(i - 1)
                .filter(|c| c.only_reading_slips())
                .map(|c| (*c).clone()),
            _ => None,
        }
    }

    /// Whether the printed description singles out `code` rather than `other`.
    fn printed_is_nearer(&self, system: System, code: &str, other: &str, printed: &str) -> bool {
        let normal = |c: &str| {
            self.tables
                .description(system, c)
                .map(|d| text::normal(&d))
                .unwrap_or_default()
        };
        let (mine, theirs) = (normal(code), normal(other));
        !printed.is_empty() && text::nearest(printed, &[&mine, &theirs]) == Ok(0)
    }

    /// The code a written code with lower-case letters is when those that look like digits
    /// are read as the digits (`0QUl3JZ`: `0QU13JZ`), when that is another code of the system.
    fn digit_reading(&self, system: System, written: &str, code: &str) -> Option<String> {
        let digits: String = written
            .chars()
            .map(|c| match c {
                'l' | 'i' => '1',
                'o' => '0',
                's' => '5',
                'z' => '2',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        match resolve::read(&self.tables, &digits) {
            Reading::Code { system: s, code: c } if s == system && c != code => Some(c),
            _ => None,
        }
    }

    /// A candidate left out, and why.
    fn unrecognised(&mut self, line: usize, written: &str, why: &str) {
        self.change(
            ChangeKind::Unrecognised,
            line,
            written,
            None,
            format!("{why}: left out"),
        );
    }

    /// A damaged candidate left out: `why` completes "`X` is not a code of the tables, and".
    fn not_a_code(&mut self, line: usize, written: &str, why: &str) {
        let why = format!(
            "`{}` is not a code of the tables, and {why}",
            shown(written)
        );
        self.unrecognised(line, written, &why);
    }

    fn normalised(&mut self, line: usize, written: &str, code: &str) {
        self.change(
            ChangeKind::Normalised,
            line,
            written,
            Some(code),
            format!(
                "`{}` read as `{code}`: lower-case letters are case damage",
                shown(written)
            ),
        );
    }

    fn repaired(
        &mut self,
        line: usize,
        written: &str,
        reading: &Reading,
        c: &Candidate,
        evidence: &Evidence,
    ) {
        let release = self.tables.release(c.system).unwrap_or("the table");
        let absent = match reading {
            Reading::Damaged { systems } if !systems.is_empty() => {
                format!("`{}` is not in {release}", shown(written))
            }
            _ => format!("`{}` is not a code", shown(written)),
        };
        let slips = if c.slips.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.slips_text())
        };
        let why = match evidence {
            Evidence::Description => format!(
                "the printed description is the table's description of `{}`, and of no other code near it",
                c.code
            ),
            Evidence::Slips => format!(
                "no other code of {release} is as near, and nothing is printed beside it to say otherwise"
            ),
        };
        self.change(
            ChangeKind::Repaired,
            line,
            written,
            Some(&c.code),
            format!("{absent}; it is `{}`{slips}: {why}", c.code),
        );
    }

    /// The blocks: per system, the codes read without repeats, compressed and written.
    fn blocks_of(&mut self, read: Vec<(System, String, usize)>, name: &str) -> Vec<Block> {
        let mut first: HashMap<(System, String), usize> = HashMap::new();
        let mut by_system: Vec<(System, Vec<String>)> = Vec::new();
        for (system, code, line) in read {
            if let Some(at) = first.get(&(system, code.clone())) {
                if *at != line {
                    self.note(
                        ChangeKind::Duplicate,
                        Some(line),
                        format!("`{code}` was read already on line {at}: dropped"),
                    );
                }
                continue;
            }
            first.insert((system, code.clone()), line);
            match by_system.iter_mut().find(|(s, _)| *s == system) {
                Some((_, codes)) => codes.push(code),
                None => by_system.push((system, vec![code])),
            }
        }
        by_system.sort_by_key(|(s, _)| *s);
        let several = by_system.len() > 1;
        let mut blocks = Vec::new();
        for (system, codes) in by_system {
            let table = self.tables.table(system);
            let (items, families) = compress::items(table, system, &codes);
            for f in families {
                self.note(ChangeKind::Compressed, None, f);
            }
            let name = if several {
                format!("{name}_{}", system.name())
            } else {
                name.to_string()
            };
            let mut sorted = codes;
            sorted.sort();
            let text = compress::render(&name, system, table, &items, sorted.len());
            blocks.push(Block {
                system,
                release: table.map(|t| t.release().to_string()),
                name,
                codes: sorted,
                items,
                text,
            });
        }
        blocks
    }
}

#[cfg(test)]
mod tests;
