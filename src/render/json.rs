//! The JSON form, for build steps.

use std::io::Write as _;

use serde::Serialize;

use super::location;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{Sources, Span};

#[derive(Serialize)]
struct Output<'a> {
    diagnostics: Each<'a>,
    summary: Summary,
}

/// The diagnostics, each turned into its JSON form only as it is written: four million of them
/// are not held twice.
struct Each<'a> {
    sources: &'a Sources,
    diagnostics: &'a [Diagnostic],
}

impl Serialize for Each<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.diagnostics.iter().map(|d| one(self.sources, d)))
    }
}

#[derive(Serialize)]
struct Summary {
    errors: usize,
    warnings: usize,
    notes: usize,
    files: usize,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    notes: &'a [String],
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: &'a str,
    primary: bool,
}

fn place(sources: &Sources, span: Span) -> (&str, usize, usize, usize, usize) {
    let (line, column) = location(sources, span, false);
    let (end_line, end_column) = location(sources, span, true);
    (sources.name(span.file), line, column, end_line, end_column)
}

fn one<'a>(sources: &'a Sources, d: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let primary = d.primary_span().map(|s| place(sources, s));
    JsonDiagnostic {
        code: d.code.as_str(),
        name: d.code.name(),
        severity: d.severity,
        message: &d.message,
        file: primary.map(|p| p.0),
        line: primary.map(|p| p.1),
        column: primary.map(|p| p.2),
        end_line: primary.map(|p| p.3),
        end_column: primary.map(|p| p.4),
        labels: d
            .labels
            .iter()
            .map(|l| {
                let (file, line, column, end_line, end_column) = place(sources, l.span);
                JsonLabel {
                    file,
                    line,
                    column,
                    end_line,
                    end_column,
                    message: &l.message,
                    primary: l.primary,
                }
            })
            .collect(),
        help: d.help.as_deref(),
        notes: &d.notes,
    }
}

fn output<'a>(sources: &'a Sources, diagnostics: &'a [Diagnostic], files: usize) -> Output<'a> {
    let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
    Output {
        diagnostics: Each {
            sources,
            diagnostics,
        },
        summary: Summary {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            notes: count(Severity::Note),
            files,
        },
    }
}

/// Renders diagnostics and a summary as one JSON document.
pub fn render(sources: &Sources, diagnostics: &[Diagnostic], files: usize) -> String {
    let out = output(sources, diagnostics, files);
    serde_json::to_string_pretty(&out).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Writes the document [`render`] gives, and a line end, as it is made: a report of millions
/// of diagnostics is never held whole in memory.
pub fn write(
    to: impl std::io::Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
    files: usize,
) -> std::io::Result<()> {
    let mut to = std::io::BufWriter::with_capacity(1 << 16, to);
    serde_json::to_writer_pretty(&mut to, &output(sources, diagnostics, files))
        .map_err(std::io::Error::from)?;
    to.write_all(b"\n")?;
    to.flush()
}
