//! GitHub Actions workflow commands: one `::error`, `::warning` or `::notice` line per
//! diagnostic, so that a workflow step annotates the pull request at the right line.

use super::location;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Sources;

/// A command's message: `%`, carriage returns and line feeds escaped, as the runner reads them.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property's value: the message's escapes, and `:` and `,`, which end a property.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

fn one(sources: &Sources, d: &Diagnostic) -> String {
    let command = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let mut properties = Vec::new();
    if let Some(span) = d.primary_span() {
        let (line, column) = location(sources, span, false);
        let (end_line, end_column) = location(sources, span, true);
        properties.push(format!("file={}", property(sources.name(span.file))));
        properties.push(format!("line={line}"));
        properties.push(format!("col={column}"));
        properties.push(format!("endLine={end_line}"));
        // GitHub reads a column range only on one line.
        if end_line == line {
            properties.push(format!("endColumn={end_column}"));
        }
    }
    properties.push(format!(
        "title={}",
        property(&format!("{} {}", d.code.as_str(), d.code.name()))
    ));
    format!(
        "::{command} {}::{}\n",
        properties.join(","),
        data(&d.full_message())
    )
}

/// The workflow commands for the diagnostics, one line each.
pub fn render(sources: &Sources, diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| one(sources, d)).collect()
}
