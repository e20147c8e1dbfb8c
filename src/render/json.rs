//! The JSON form, for build steps.

use serde::Serialize;

use super::location;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{Sources, Span};

#[derive(Serialize)]
struct Output<'a> {
    diagnostics: Vec<JsonDiagnostic<'a>>,
    summary: Summary,
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

/// Renders diagnostics and a summary as one JSON document.
pub fn render(sources: &Sources, diagnostics: &[Diagnostic], files: usize) -> String {
    let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
    let out = Output {
        diagnostics: diagnostics
            .iter()
            .map(|d| {
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
            })
            .collect(),
        summary: Summary {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            notes: count(Severity::Note),
            files,
        },
    };
    serde_json::to_string_pretty(&out).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
