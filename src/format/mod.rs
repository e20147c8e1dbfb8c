//! The formatter: one file's text in the canonical style (see `docs/formatting.md`).
//!
//! [`format`] is the stage's one public function. It works on the syntax tree of
//! [`syntax::parse`] and the comment spans the parser records, so it only rewrites layout:
//! indentation, spacing, line breaks, commas. It refuses a file with syntax errors rather than
//! guess, and it checks its own output: the output must parse to the same tree (spans aside)
//! with the same comments, or the text is refused unchanged.

mod build;
mod doc;

pub use doc::WIDTH;

use crate::ast;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::source::FileId;
use crate::syntax;

/// Why a text was not formatted.
#[derive(Debug)]
pub enum Error {
    /// The text has errors the parser reports (the same diagnostics as `medpol check`).
    Syntax(Vec<Diagnostic>),
    /// The formatted text would not parse to the same declarations and comments: a fault of
    /// the formatter, so the text is left as it is.
    Changed,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Syntax(d) if d.len() == 1 => write!(f, "the file has an error"),
            Error::Syntax(d) => write!(f, "the file has {} errors", d.len()),
            Error::Changed => write!(
                f,
                "the formatter would change what the file means; it is left as it is (please report this)"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Formats one file's text. `file` is the id the diagnostics of a refusal point into.
pub fn format(file: FileId, text: &str) -> Result<String, Error> {
    let parsed = syntax::parse(file, text);
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error && d.code != Code::EmptyFile)
        .collect();
    if !errors.is_empty() || !parsed.file.broken.is_empty() {
        return Err(Error::Syntax(errors));
    }
    let docs = build::Builder::new(text, &parsed.file.comments).file(&parsed.file);
    let out = doc::print(&docs);
    let again = syntax::parse(file, &out);
    if !again.file.broken.is_empty()
        || shape(&again.file) != shape(&parsed.file)
        || comments(&out, &again.file) != comments(text, &parsed.file)
    {
        return Err(Error::Changed);
    }
    Ok(out)
}

/// The declarations as a text without spans: equal for two files that say the same thing in
/// the same words.
fn shape(file: &ast::File) -> String {
    strip_spans(&format!("{:?}", file.decls))
}

/// Removes every `Span { .. }` from a debug print (a span holds no braces of its own).
fn strip_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(at) = rest.find("Span {") {
        out.push_str(rest.get(..at).unwrap_or(""));
        let after = rest.get(at..).unwrap_or("");
        match after.find('}') {
            Some(close) => rest = after.get(close + 1..).unwrap_or(""),
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// The comments' texts, in order, without trailing blanks.
fn comments<'t>(text: &'t str, file: &ast::File) -> Vec<&'t str> {
    file.comments
        .iter()
        .map(|s| text.get(s.range()).unwrap_or("").trim_end())
        .collect()
}

#[cfg(test)]
mod tests;
