//! Stage 1, parse: text to syntax tree.
//!
//! [`parse`] is the stage's one public function. It never fails: whatever the input, it returns
//! the declarations it could read and a diagnostic for everything else.

mod build;
mod error;
pub mod scan;

use pest::Parser as _;

use crate::ast;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/medpol.pest"]
struct Grammar;

/// Names longer than this are refused with E0010.
pub const MAX_NAME_LEN: usize = 128;

/// The result of parsing one file.
#[derive(Debug)]
pub struct Parsed {
    pub file: ast::File,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one file's text into a syntax tree, recovering at every declaration.
pub fn parse(file: FileId, text: &str) -> Parsed {
    let scanned = scan::scan(file, text);
    let mut diagnostics = scanned.diagnostics;
    let mut tree = ast::File {
        id: file,
        decls: Vec::new(),
        broken: Vec::new(),
        comments: scanned.comments,
    };
    for chunk in &scanned.chunks {
        let Some(chunk_text) = text.get(chunk.start..chunk.end) else {
            continue;
        };
        let broken = || ast::BrokenDecl {
            keyword: chunk.keyword.unwrap_or_default().to_string(),
            name: chunk.name.clone(),
            span: Span::new(file, chunk.start, chunk.end),
        };
        if chunk.too_deep {
            tree.broken.push(broken());
            continue;
        }
        match Grammar::parse(Rule::chunk, chunk_text) {
            Ok(pairs) => {
                let mut builder = build::Builder::new(file, chunk.start, &mut diagnostics);
                tree.decls.extend(builder.chunk(pairs));
            }
            Err(err) => {
                let err = error::with_detail(err, chunk_text);
                if std::env::var("MEDPOL_DEBUG").is_ok() { eprintln!("{}", error::debug_attempts(&err)); }
                let at = chunk.start + error::position(&err, chunk_text);
                if chunk.first_problem.is_none_or(|first| at < first) {
                    diagnostics.push(error::syntax_error(&err, file, text, chunk.start, at, chunk.end));
                }
                if chunk.keyword.is_some() {
                    tree.broken.push(broken());
                }
            }
        }
    }
    if tree.decls.is_empty() && tree.broken.is_empty() && diagnostics.is_empty() {
        let what = if text.trim().is_empty() {
            "empty file"
        } else {
            "file has no declarations"
        };
        diagnostics.push(
            Diagnostic::new(Code::EmptyFile, what)
                .primary(Span::new(file, 0, 0), "nothing is declared in this file")
                .help("start with a `policy` block, or declare shared `fact`s, `codes` and `define`s"),
        );
    }
    Parsed {
        file: tree,
        diagnostics,
    }
}

/// A file's bytes read as text.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    /// Where the first invalid UTF-8 sequence starts, its length, and how many there are.
    pub invalid_utf8: Option<(usize, usize, usize)>,
}

/// Reads bytes as UTF-8 text. A leading byte-order mark is dropped; invalid sequences are
/// replaced with U+FFFD and reported by [`Decoded::diagnostic`].
pub fn decode(bytes: Vec<u8>) -> Decoded {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    match String::from_utf8(bytes) {
        Ok(text) => Decoded {
            text,
            invalid_utf8: None,
        },
        Err(err) => {
            let bytes = err.into_bytes();
            let mut first = None;
            let mut count = 0;
            for chunk in bytes.utf8_chunks() {
                if !chunk.invalid().is_empty() {
                    count += 1;
                }
            }
            if let Err(e) = std::str::from_utf8(&bytes) {
                first = Some((e.valid_up_to(), e.error_len().unwrap_or(1)));
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Decoded {
                text,
                invalid_utf8: first.map(|(at, len)| (at, len, count)),
            }
        }
    }
}

impl Decoded {
    /// E0002 for the first invalid sequence. The offset is valid in the decoded text too: the
    /// text before it is unchanged, and the replacement character starts there.
    pub fn diagnostic(&self, file: FileId) -> Option<Diagnostic> {
        let (at, len, count) = self.invalid_utf8?;
        let shown = "\u{FFFD}".len();
        let mut d = Diagnostic::new(
            Code::InvalidUtf8,
            format!(
                "the file is not valid UTF-8: {len} invalid byte{} at byte offset {at}",
                if len == 1 { "" } else { "s" }
            ),
        )
        .primary(Span::new(file, at, at + shown), "invalid UTF-8 starts here")
        .help("re-save the file as UTF-8; medpol reads no other encoding");
        if count > 1 {
            d = d.note(format!(
                "the file has {} more invalid sequences after this one",
                count - 1
            ));
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<(Code, u32, u32)> {
        parse(FileId(0), text)
            .diagnostics
            .iter()
            .map(|d| {
                let s = d.primary_span().unwrap_or_default();
                (d.code, s.start, s.end)
            })
            .collect()
    }

    #[test]
    fn every_broken_declaration_is_reported() {
        let text = "fact a: bool\nfact b bool\nfact c: bool\ndefine d = a and\nfact e: bool\n";
        let parsed = parse(FileId(0), text);
        let errors: Vec<_> = parsed.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(errors, vec![Code::SyntaxError, Code::SyntaxError]);
        assert_eq!(parsed.file.decls.len(), 3);
        let broken: Vec<_> = parsed.file.broken.iter().map(|b| b.name.clone()).collect();
        assert_eq!(broken, vec![Some("b".into()), Some("d".into())]);
    }

    #[test]
    fn syntax_error_points_at_the_unexpected_token() {
        let text = "fact b bool\n";
        assert_eq!(codes(text), vec![(Code::SyntaxError, 7, 11)]);
    }

    #[test]
    fn empty_and_comment_only_files_are_errors() {
        assert_eq!(codes(""), vec![(Code::EmptyFile, 0, 0)]);
        assert_eq!(codes("// nothing\n"), vec![(Code::EmptyFile, 0, 0)]);
    }

    #[test]
    fn bom_is_dropped_and_invalid_utf8_located() {
        let d = decode(b"\xEF\xBB\xBFfact a: bool".to_vec());
        assert_eq!(d.text, "fact a: bool");
        let d = decode(b"fact \xFF\xFEa: bool \xC3".to_vec());
        assert_eq!(d.invalid_utf8, Some((5, 1, 3)));
        let diag = d.diagnostic(FileId(0)).map(|d| (d.code, d.primary_span()));
        assert_eq!(diag, Some((Code::InvalidUtf8, Some(Span::new(FileId(0), 5, 8)))));
    }
}
