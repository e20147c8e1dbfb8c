//! Cutting pasted text into the lines of a code table: rows (codes in the code column, and
//! the text beside them), lines of text without a code, and lines that are not text at all.

use crate::codes::{CodeForm, System, parse_code};

/// The longest line read, in bytes. A row of a printed table is a few hundred bytes; a line of
/// codes in columns a few thousand.
pub const MAX_LINE: usize = 8 * 1024;
/// The longest token taken for a code, in characters: a code has at most 8, and OCR damage
/// (`101-0.0070`) makes a few more; a longer word is text.
const MAX_TOKEN: usize = 24;

/// One line of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// 1-based.
    pub number: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Blank,
    /// Code candidates in the code column, and the text after them (the description).
    Row {
        tokens: Vec<String>,
        text: String,
    },
    /// Text without a code. `indented` when its code column is empty (the line starts with a
    /// tab or spaces): a wrapped description line; otherwise a header, a page header or prose,
    /// or a wrapped line whose indentation the copy lost.
    Text {
        text: String,
        indented: bool,
    },
    /// Longer than [`MAX_LINE`] bytes: not read.
    TooLong {
        bytes: usize,
    },
    /// Holds control characters (a NUL, an escape): not text.
    NotText,
}

/// The lines of a text, each read on its own.
pub fn read(text: &str) -> Vec<Line> {
    text.split('\n')
        .enumerate()
        .map(|(i, raw)| Line {
            number: i + 1,
            kind: kind(raw),
        })
        .collect()
}

fn kind(raw: &str) -> Kind {
    if raw.len() > MAX_LINE {
        return Kind::TooLong { bytes: raw.len() };
    }
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    // A form feed (a page break in a copied PDF) is white space; other controls are not text.
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\u{c}' | '\r'))
    {
        return Kind::NotText;
    }
    if raw.trim().is_empty() {
        return Kind::Blank;
    }
    let indented = raw.starts_with(char::is_whitespace);
    // The code column: the first word, when it is a code candidate; more codes follow it
    // (in columns, separated by tabs, spaces or commas) when they are well formed.
    let words: Vec<&str> = raw.split_whitespace().collect();
    let mut tokens: Vec<String> = Vec::new();
    for word in &words {
        match code_like(word) {
            Some(t) if tokens.is_empty() || well_formed(t) => tokens.push(t.to_string()),
            _ => break,
        }
    }
    let text = words.get(tokens.len()..).unwrap_or(&[]).join(" ");
    // An indented line is a wrapped description unless it starts with a well-formed code
    // (a list of codes indented as a whole).
    let starts_with_code = tokens.first().is_some_and(|t| well_formed(t));
    if tokens.is_empty() || (indented && !starts_with_code) {
        return Kind::Text {
            text: words.join(" "),
            indented,
        };
    }
    let text = text
        .trim_start_matches(|c: char| {
            matches!(c, '-' | '–' | '—' | ':' | '|' | '=') || c.is_whitespace()
        })
        .to_string();
    Kind::Row { tokens, text }
}

/// The token as a code candidate, without the punctuation around it (`22510,` `(C41.2)`):
/// letters, digits and the marks OCR makes of strokes and smudges, with at least one digit,
/// and not the name of a code system (`ICD-10-CM` heads a table, it is not a code).
pub fn code_like(word: &str) -> Option<&str> {
    let t = word
        .trim_start_matches(['(', '['])
        .trim_end_matches([',', ';', ':', ')', ']']);
    let n = t.chars().count();
    let ok = (3..=MAX_TOKEN).contains(&n)
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | '|' | '!'))
        && t.chars().any(|c| c.is_ascii_digit())
        && !system_name(t);
    ok.then_some(t)
}

/// `ICD-10`, `ICD-10-CM`, `ICD10PCS`, `ICD-9`, `CPT-4`, `CPT4`: names of code systems.
fn system_name(t: &str) -> bool {
    let upper = t.to_ascii_uppercase();
    let after = |name: &str| {
        upper
            .strip_prefix(name)
            .is_some_and(|r| r.starts_with(|c: char| c == '-' || c.is_ascii_digit()))
    };
    after("ICD") || after("CPT")
}

/// Whether the token has the form of a code or pattern of some system, as written (lower case
/// read as upper case).
pub fn well_formed(token: &str) -> bool {
    System::ALL.iter().any(|s| {
        matches!(
            parse_code(*s, token),
            Ok(CodeForm::Exact(_) | CodeForm::Prefix(_))
        )
    })
}
