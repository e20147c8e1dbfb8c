//! Showing diagnostics: the edges of the pipeline.
//!
//! One model, three forms, each with its own library for its own job: [`human`] draws the rich
//! terminal report with miette; [`short`] writes one `file:line:col: severity[code]: message`
//! line per diagnostic with codespan-reporting, which also maps every byte offset to a line and
//! column for [`json`].

pub mod human;
pub mod json;
pub mod short;

use codespan_reporting::files::Files as _;

use crate::source::{Sources, Span};

/// One-based line and column of a byte offset, as codespan-reporting counts them (columns in
/// Unicode scalar values).
pub fn location(sources: &Sources, span: Span, end: bool) -> (usize, usize) {
    let at = if end { span.end } else { span.start } as usize;
    match sources.location(span.file, at) {
        Ok(l) => (l.line_number, l.column_number),
        Err(_) => (1, 1),
    }
}
