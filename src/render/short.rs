//! The one-line form: `file:line:col: severity[code]: message`, for editors' problem
//! matchers and build logs.

use codespan_reporting::diagnostic::{
    Diagnostic as CsDiagnostic, Label as CsLabel, Severity as CsSeverity,
};
use codespan_reporting::term::{self, Config, DisplayStyle};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{FileId, Sources};

fn to_codespan(d: &Diagnostic) -> CsDiagnostic<FileId> {
    let severity = match d.severity {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
        Severity::Note => CsSeverity::Note,
    };
    let labels = d
        .labels
        .iter()
        .map(|l| {
            let label = if l.primary {
                CsLabel::primary(l.span.file, l.span.range())
            } else {
                CsLabel::secondary(l.span.file, l.span.range())
            };
            label.with_message(l.message.clone())
        })
        .collect();
    // One line per diagnostic, whatever a message holds.
    let message: String = d
        .message
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    CsDiagnostic::new(severity)
        .with_code(d.code.as_str())
        .with_message(message)
        .with_labels(labels)
}

/// Renders diagnostics one per line.
pub fn render(sources: &Sources, diagnostics: &[Diagnostic]) -> String {
    let config = Config {
        display_style: DisplayStyle::Short,
        ..Config::default()
    };
    let mut out = String::new();
    for d in diagnostics {
        // A diagnostic with several primary labels would make several lines; the first is
        // where the problem is.
        let mut single = d.clone();
        let mut seen_primary = false;
        single.labels.retain(|l| {
            let keep = !(l.primary && seen_primary);
            seen_primary |= l.primary;
            keep
        });
        match term::emit_into_string(&config, sources, &to_codespan(&single)) {
            Ok(s) => out.push_str(&s),
            Err(_) => {
                out.push_str(&format!(
                    "{}[{}]: {}\n",
                    d.severity.as_str(),
                    d.code,
                    d.message
                ));
            }
        }
    }
    out
}
