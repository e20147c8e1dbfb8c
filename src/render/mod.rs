//! Showing diagnostics: the edges of the pipeline.
//!
//! One model, several forms, each with its own library for its own job: [`human`] draws the rich
//! terminal report with miette; [`short`] writes one `file:line:col: severity[code]: message`
//! line per diagnostic with codespan-reporting, which also maps every byte offset to a line and
//! column for [`json`], [`sarif`] (code scanning) and [`github`] (workflow commands that
//! annotate a pull request).

pub mod github;
pub mod human;
pub mod json;
pub mod sarif;
pub mod short;

use std::collections::BTreeMap;

use codespan_reporting::files::Files as _;

use crate::diagnostic::{Code, Diagnostic};
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

/// How many diagnostics of one code the terminal and one-line reports show by default: a
/// file of four million repeats of one mistake needs its first few and a count, not four
/// million reports (the JSON form keeps every one).
pub const PER_CODE: usize = 20;

/// The diagnostics a report shows: the first [`PER_CODE`] of each code, in order, and the
/// lines that count, code by code, the ones left out (`hint` says how to see them all).
pub fn first_of_each_code(diagnostics: &[Diagnostic], hint: &str) -> (Vec<Diagnostic>, String) {
    let mut seen: BTreeMap<Code, usize> = BTreeMap::new();
    let mut shown = Vec::new();
    for d in diagnostics {
        let n = seen.entry(d.code).or_default();
        *n += 1;
        if *n <= PER_CODE {
            shown.push(d.clone());
        }
    }
    let mut counts = String::new();
    for (code, n) in seen {
        if n > PER_CODE {
            counts.push_str(&format!(
                "… and {} more {code} {} ({hint})\n",
                thousands(n - PER_CODE),
                code.name()
            ));
        }
    }
    (shown, counts)
}

/// A count with a comma every three digits, as the reports print large numbers.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(3_999_980), "3,999,980");
    }
}
