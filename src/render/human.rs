//! The rich terminal report, drawn by miette.

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::source::{SourceFile, Sources};

/// Whether the report is drawn in colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Always,
    Never,
}

/// Renders diagnostics as a terminal report, each followed by a blank line.
pub fn render(sources: &Sources, diagnostics: &[Diagnostic], color: Color) -> String {
    let theme = match color {
        Color::Always => GraphicalTheme::unicode(),
        Color::Never => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for d in diagnostics {
        let report = Report::new(sources, d);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!(
                "{}[{}]: {}\n",
                d.severity.as_str(),
                d.code,
                d.message
            ));
        }
        out.push('\n');
    }
    out
}

/// A file's text as miette reads it. miette's own reader walks the text from its start for
/// every snippet, which is quadratic for many diagnostics in a big file; this one uses the
/// line index to cut out just the lines a snippet shows. A very long line is cut to a window
/// around the label: miette would otherwise print all of it for every label on it, and it
/// cannot draw a label beyond display column 65,535 at all.
struct Window<'a> {
    file: &'a SourceFile,
}

/// Lines longer than this (in bytes) are shown as a window around the label.
const LONG_LINE: usize = 1_000;
/// How many characters of a long line are shown on each side of the label.
const MARGIN: usize = 60;

impl Window<'_> {
    /// The offset `chars` characters before `at`, but not before `floor`.
    fn back(&self, at: usize, chars: usize, floor: usize) -> usize {
        let head = self.file.text.get(floor..at).unwrap_or("");
        at - head
            .chars()
            .rev()
            .take(chars)
            .map(char::len_utf8)
            .sum::<usize>()
    }

    /// The offset `chars` characters after `at`, but not after `ceiling`.
    fn forward(&self, at: usize, chars: usize, ceiling: usize) -> usize {
        let tail = self.file.text.get(at..ceiling).unwrap_or("");
        at + tail.chars().take(chars).map(char::len_utf8).sum::<usize>()
    }
}

impl SourceCode for Window<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let text = &self.file.text;
        let start = span.offset();
        let end = start + span.len();
        if end > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let line = self.file.line_index(start);
        let line_start = self.file.line_start(line);
        // The column of the span, for the report's `[file:line:column]` header.
        let column = text.get(line_start..start).map_or(0, |p| p.chars().count());
        let last_of_span = self
            .file
            .line_index(end.saturating_sub(usize::from(!span.is_empty())));
        let long = (line..=last_of_span).any(|l| self.file.line_range(l).len() > LONG_LINE);
        let (from, to, first, last) = if long {
            let line_end = self.file.line_range(last_of_span).end;
            let from = self.back(start, MARGIN, line_start);
            let to = self.forward(end, MARGIN, line_end);
            // Stop before the line end, so the window is one piece of text.
            let to = text
                .get(from..to)
                .map_or(to, |w| from + w.trim_end_matches(['\n', '\r']).len());
            (from, to.max(from), line, last_of_span)
        } else {
            let first = line.saturating_sub(context_lines_before);
            let last =
                (last_of_span + context_lines_after).min(self.file.line_count().saturating_sub(1));
            // Context lines that are themselves very long are left out.
            let first = (first..line)
                .find(|l| (*l..line).all(|x| self.file.line_range(x).len() <= LONG_LINE))
                .unwrap_or(line);
            let last = (last_of_span..=last)
                .take_while(|l| *l == last_of_span || self.file.line_range(*l).len() <= LONG_LINE)
                .last()
                .unwrap_or(last_of_span);
            let from = self.file.line_start(first);
            let to = self.file.line_start(last + 1).max(from);
            (from, to, first, last)
        };
        let data = text
            .as_bytes()
            .get(from..to)
            .ok_or(MietteError::OutOfBounds)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.file.name.clone(),
            data,
            SourceSpan::new(from.into(), to - from),
            first,
            column,
            last - first + 1,
        )))
    }
}

struct Report<'a> {
    diagnostic: &'a Diagnostic,
    window: Option<Window<'a>>,
    /// Labels in files other than the primary one, shown as their own snippets.
    elsewhere: Vec<Related<'a>>,
    help: Option<String>,
}

impl<'a> Report<'a> {
    fn new(sources: &'a Sources, d: &'a Diagnostic) -> Report<'a> {
        let file = d.primary_span().map(|s| s.file);
        let window = file
            .and_then(|f| sources.get(f))
            .map(|file| Window { file });
        let elsewhere = d
            .labels
            .iter()
            .filter(|l| Some(l.span.file) != file)
            .filter_map(|l| {
                Some(Related {
                    label: l,
                    window: Window {
                        file: sources.get(l.span.file)?,
                    },
                })
            })
            .collect();
        let mut help = d.help.clone();
        for note in &d.notes {
            let line = format!("note: {note}");
            help = Some(match help {
                Some(h) => format!("{h}\n{line}"),
                None => line,
            });
        }
        Report {
            diagnostic: d,
            window,
            elsewhere,
            help,
        }
    }
}

/// A label's span as the report draws it. A span longer than a long line (a string or code
/// of a hundred megabytes) is drawn by its first characters: the report quotes a bounded part
/// of the input, as messages do.
fn labeled(l: &Label, text: &str) -> LabeledSpan {
    let start = l.span.start as usize;
    let len = match text.get(l.span.range()) {
        Some(spanned) if spanned.len() > LONG_LINE => spanned
            .char_indices()
            .nth(MARGIN)
            .map_or(spanned.len(), |(i, _)| i),
        _ => l.span.len(),
    };
    let span = SourceSpan::new(start.into(), len);
    let text = (!l.message.is_empty()).then(|| l.message.clone());
    if l.primary {
        LabeledSpan::new_primary_with_span(text, span)
    } else {
        LabeledSpan::new_with_span(text, span)
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Note => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.window.as_ref().map(|w| w as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let file = self.diagnostic.primary_span().map(|s| s.file)?;
        Some(Box::new(
            self.diagnostic
                .labels
                .iter()
                .filter(move |l| l.span.file == file)
                .map(|l| labeled(l, self.window.as_ref().map_or("", |w| &w.file.text))),
        ))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.elsewhere.is_empty() {
            return None;
        }
        Some(Box::new(
            self.elsewhere.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

/// A label in another file.
struct Related<'a> {
    label: &'a Label,
    window: Window<'a>,
}

impl fmt::Debug for Related<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label.message)
    }
}

impl fmt::Display for Related<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in {}", self.window.file.name)
    }
}

impl std::error::Error for Related<'_> {}

impl miette::Diagnostic for Related<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.window)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(labeled(
            self.label,
            &self.window.file.text,
        ))))
    }
}
