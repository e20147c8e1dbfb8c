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

/// Files at least this large have their runs (and, where a run is broken, its declarations)
/// parsed in parallel: below it, starting the threads costs more than it saves.
const PARALLEL_FROM: usize = 256 * 1024;

/// The reserved words of the grammar (`keyword` in `grammar/medpol.pest`): never names. The
/// declaration keywords come first (`scan::DECLARATION_KEYWORDS`).
pub const RESERVED: &[&str] = &[
    "policy",
    "import",
    "fact",
    "codes",
    "define",
    "decision",
    "test",
    "constraint",
    "record",
    "rule",
    "when",
    "then",
    "otherwise",
    "and",
    "or",
    "not",
    "in",
    "has",
    "as",
    "true",
    "false",
];

/// Parses one file's text into a syntax tree, recovering at every declaration.
pub fn parse(file: FileId, text: &str) -> Parsed {
    parse_with(file, text, true)
}

/// [`parse`], with the whole-file attempt optional so that tests can hold the recovery path to
/// the same result on files that parse.
fn parse_with(file: FileId, text: &str, try_whole: bool) -> Parsed {
    use rayon::prelude::*;

    let scanned = scan::scan(file, text);
    let mut diagnostics = scanned.diagnostics;
    let mut tree = ast::File {
        id: file,
        decls: Vec::new(),
        broken: Vec::new(),
        comments: scanned.comments,
    };
    // The grammar reads the file in runs of whole declarations of up to `RUN` bytes (the whole
    // of most files). Only when a run fails (or the scanner already found something wrong) are
    // its declarations read one by one, to report each broken one and keep the others. On text
    // that parses, both give the same tree, so the second is recovery only.
    let clean = scanned
        .chunks
        .iter()
        .all(|c| !c.too_deep && c.first_problem.is_none());
    let runs = if try_whole && clean {
        runs(&scanned.chunks)
    } else {
        scanned.chunks.chunks(1).collect()
    };
    let one = |run: &[scan::Chunk]| parse_run(file, text, run);
    let parts: Vec<Vec<ChunkParse>> = if text.len() >= PARALLEL_FROM {
        runs.par_iter().map(|run| one(run)).collect()
    } else {
        runs.iter().map(|run| one(run)).collect()
    };
    for part in parts.into_iter().flatten() {
        tree.decls.extend(part.decls);
        diagnostics.extend(part.diagnostics);
        tree.broken.extend(part.broken);
    }
    finish(file, text, tree, diagnostics)
}

/// The most text the grammar reads in one run. It keeps a token for every rule it enters, some
/// 80 bytes for each byte of text: read whole, an 8 MB file peaked at 640 MB in the parse alone
/// (`docs/performance.md`).
const RUN: usize = 256 * 1024;

/// Consecutive chunks grouped into runs of about [`RUN`] bytes; a longer chunk is a run alone.
fn runs(chunks: &[scan::Chunk]) -> Vec<&[scan::Chunk]> {
    let mut runs = Vec::new();
    let mut first = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let start = chunks.get(first).map_or(chunk.start, |c| c.start);
        if chunk.end.saturating_sub(start) > RUN && i > first {
            runs.push(chunks.get(first..i).unwrap_or_default());
            first = i;
        }
    }
    if first < chunks.len() {
        runs.push(chunks.get(first..).unwrap_or_default());
    }
    runs
}

/// One run of chunks read by the grammar at once, or, when that fails, chunk by chunk.
fn parse_run(file: FileId, text: &str, run: &[scan::Chunk]) -> Vec<ChunkParse> {
    if let [only] = run {
        return vec![parse_chunk(file, text, only)];
    }
    let (Some(first), Some(last)) = (run.first(), run.last()) else {
        return Vec::new();
    };
    let mut whole = ChunkParse {
        decls: Vec::new(),
        diagnostics: Vec::new(),
        broken: None,
    };
    if let Some(run_text) = text.get(first.start..last.end)
        && let Ok(pairs) = Grammar::parse(Rule::chunk, run_text)
    {
        let mut builder = build::Builder::new(file, first.start, &mut whole.diagnostics);
        whole.decls = builder.chunk(pairs);
        return vec![whole];
    }
    run.iter()
        .map(|chunk| parse_chunk(file, text, chunk))
        .collect()
}

/// The parse of a file, with a diagnostic for a file that declares nothing.
fn finish(file: FileId, text: &str, tree: ast::File, mut diagnostics: Vec<Diagnostic>) -> Parsed {
    if tree.decls.is_empty() && tree.broken.is_empty() && diagnostics.is_empty() {
        let what = if text.trim().is_empty() {
            "empty file"
        } else {
            "file has no declarations"
        };
        diagnostics.push(
            Diagnostic::new(Code::EmptyFile, what)
                .primary(Span::new(file, 0, 0), "nothing is declared in this file")
                .help(
                    "start with a `policy` block, or declare shared `fact`s, `codes` and `define`s",
                ),
        );
    }
    Parsed {
        file: tree,
        diagnostics,
    }
}

/// What one declaration chunk gave.
struct ChunkParse {
    decls: Vec<ast::Decl>,
    diagnostics: Vec<Diagnostic>,
    broken: Option<ast::BrokenDecl>,
}

fn parse_chunk(file: FileId, text: &str, chunk: &scan::Chunk) -> ChunkParse {
    let mut out = ChunkParse {
        decls: Vec::new(),
        diagnostics: Vec::new(),
        broken: None,
    };
    let Some(chunk_text) = text.get(chunk.start..chunk.end) else {
        return out;
    };
    let broken = || ast::BrokenDecl {
        keyword: chunk.keyword.unwrap_or_default().to_string(),
        name: chunk.name.clone(),
        span: Span::new(file, chunk.start, chunk.end),
    };
    if chunk.too_deep {
        out.broken = Some(broken());
        return out;
    }
    match Grammar::parse(Rule::chunk, chunk_text) {
        Ok(pairs) => {
            let mut builder = build::Builder::new(file, chunk.start, &mut out.diagnostics);
            out.decls = builder.chunk(pairs);
        }
        Err(err) => {
            let err = error::with_detail(err, chunk_text);
            let (at, expected) = error::locate(&err, chunk_text);
            let at = chunk.start + at;
            if chunk.first_problem.is_none_or(|first| at < first) {
                out.diagnostics.push(error::syntax_error(
                    expected,
                    file,
                    text,
                    chunk.start,
                    at,
                    chunk.end,
                ));
            }
            if chunk.keyword.is_some() {
                out.broken = Some(broken());
            }
        }
    }
    out
}

/// Where a file stops being valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// Byte offset of the first invalid sequence (the same in the decoded text).
    pub offset: usize,
    /// Its length in bytes.
    pub len: usize,
    /// How many invalid sequences the file has.
    pub count: usize,
}

/// Reads bytes as UTF-8 text. A leading byte-order mark is dropped; invalid sequences are
/// replaced with U+FFFD and described by the second value.
pub fn decode(bytes: Vec<u8>) -> (String, Option<InvalidUtf8>) {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(err) => {
            let offset = err.utf8_error().valid_up_to();
            let len = err.utf8_error().error_len().unwrap_or(1);
            let bytes = err.into_bytes();
            let count = bytes
                .utf8_chunks()
                .filter(|c| !c.invalid().is_empty())
                .count();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            (text, Some(InvalidUtf8 { offset, len, count }))
        }
    }
}

impl InvalidUtf8 {
    /// E0002 at the first invalid sequence: the text before it is unchanged by decoding, so
    /// the offset points at the replacement character there.
    pub fn diagnostic(self, file: FileId) -> Diagnostic {
        let InvalidUtf8 { offset, len, count } = self;
        let shown = "\u{FFFD}".len();
        let mut d = Diagnostic::new(
            Code::InvalidUtf8,
            format!(
                "the file is not valid UTF-8: {len} invalid byte{} at byte offset {offset}",
                if len == 1 { "" } else { "s" }
            ),
        )
        .primary(
            Span::new(file, offset, offset + shown),
            "invalid UTF-8 starts here",
        )
        .help("re-save the file as UTF-8; medpol reads no other encoding");
        if count > 1 {
            let more = count - 1;
            d = d.note(format!(
                "the file has {more} more invalid sequence{} after this one",
                if more == 1 { "" } else { "s" }
            ));
        }
        d
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

    /// Reading a file declaration by declaration is only the recovery path: on every policy
    /// and test file of the repository it must give the tree and diagnostics that reading it
    /// whole gives.
    #[test]
    fn whole_file_and_per_declaration_parses_agree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut compared = 0;
        for dir in ["policies", "tests", "docs"] {
            for entry in walkdir::WalkDir::new(root.join(dir)).into_iter().flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "medpol") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(path) else {
                    continue;
                };
                let whole = parse(FileId(0), &text);
                let chunks = parse_with(FileId(0), &text, false);
                assert_eq!(
                    shown(&whole),
                    shown(&chunks),
                    "{} parses differently whole",
                    path.display()
                );
                compared += 1;
            }
        }
        assert!(compared > 50, "only {compared} files were compared");
    }

    /// A file past [`RUN`] is read in runs of whole declarations, each with its own recovery: the
    /// same tree and diagnostics as reading it chunk by chunk, with a broken declaration in one
    /// run.
    #[test]
    fn a_large_file_read_in_runs_parses_as_chunk_by_chunk() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let policy = std::fs::read_to_string(root.join("policies/bcbsma-484.medpol")).unwrap();
        let mut text = policy.repeat(2 * RUN / policy.len() + 2);
        text.push_str("define broken = a and\n");
        text.push_str(&policy.repeat(RUN / policy.len() + 1));
        let scanned = scan::scan(FileId(0), &text);
        let runs = runs(&scanned.chunks);
        assert!(runs.len() >= 3, "{} runs", runs.len());
        for run in &runs {
            let (first, last) = (run.first().unwrap(), run.last().unwrap());
            assert!(run.len() == 1 || last.end - first.start <= RUN);
        }
        let parsed = parse(FileId(0), &text);
        assert_eq!(shown(&parsed), shown(&parse_with(FileId(0), &text, false)));
        let errors = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
        assert_eq!(errors, 1);
        assert_eq!(parsed.file.broken.len(), 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x4d45_4450),
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// The same, on a valid policy with lines dropped, repeated and moved: text that often
        /// still parses whole, with declarations cut at new places.
        #[test]
        fn whole_file_and_per_declaration_parses_agree_on_shuffled_lines(
            edits in proptest::collection::vec((0usize..3, 0usize..400, 0usize..400), 1..6)
        ) {
            let text = include_str!("../../tests/cases/check/ok-complete-policy.medpol");
            let mut lines: Vec<&str> = text.lines().collect();
            for (kind, a, b) in edits {
                let (a, b) = (a % lines.len().max(1), b % lines.len().max(1));
                match kind {
                    0 if lines.len() > 1 => {
                        lines.remove(a);
                    }
                    1 => {
                        let line = lines.get(a).copied().unwrap_or_default();
                        lines.insert(b, line);
                    }
                    _ => lines.swap(a, b),
                }
            }
            let text = lines.join("\n");
            let whole = parse(FileId(0), &text);
            let chunks = parse_with(FileId(0), &text, false);
            proptest::prop_assert_eq!(shown(&whole), shown(&chunks));
        }
    }

    /// What a parse gave, to compare two.
    fn shown(parsed: &Parsed) -> String {
        format!("{:?}", (&parsed.file, &parsed.diagnostics))
    }

    /// A declaration keyword is never a value: alone at a line start inside a set literal or a
    /// test's given value, it starts a declaration whichever way the file is read (the
    /// declaration before it is cut there), and within a line it is a syntax error too.
    #[test]
    fn a_declaration_word_is_never_a_value_either_way() {
        for keyword in scan::DECLARATION_KEYWORDS {
            for text in [
                format!("fact p: enum {{ a, b }}\ndefine d = p in {{\n  a,\n  {keyword}\n}}\n"),
                format!("fact p: enum {{ a, b }}\ndefine d = p in {{ a, {keyword}-1 }}\n"),
                format!(
                    "fact p: enum {{ a, b }}\ntest \"t\" {{\n  given {{ p =\n{keyword}.x }}\n}}\n"
                ),
            ] {
                let whole = parse(FileId(0), &text);
                let chunks = parse_with(FileId(0), &text, false);
                assert_eq!(shown(&whole), shown(&chunks), "{text}");
                let first = whole.diagnostics.first().map(|d| (d.code, d.help.clone()));
                let (code, help) = first.unwrap_or_else(|| panic!("no error in {text}"));
                assert_eq!(code, Code::SyntaxError, "{text}");
                let said = format!("`{keyword}` ");
                assert!(help.is_some_and(|h| h.starts_with(&said)), "{text}");
            }
        }
    }

    /// A word that only starts like a declaration keyword is a name both ways, also when it
    /// goes on with a combining mark (a letter test would have cut the `define` before it).
    #[test]
    fn a_name_that_starts_like_a_keyword_is_read_the_same_either_way() {
        let text = "fact p: bool\ndefine d = p and\nfact\u{301}\n";
        let whole = parse(FileId(0), text);
        assert!(whole.diagnostics.is_empty(), "{:?}", whole.diagnostics);
        assert_eq!(whole.file.decls.len(), 2);
        assert_eq!(shown(&whole), shown(&parse_with(FileId(0), text, false)));
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
        let (text, bad) = decode(b"\xEF\xBB\xBFfact a: bool".to_vec());
        assert_eq!((text.as_str(), bad), ("fact a: bool", None));
        let (_, bad) = decode(b"fact \xFF\xFEa: bool \xC3".to_vec());
        let bad = bad.unwrap();
        assert_eq!((bad.offset, bad.len, bad.count), (5, 1, 3));
        let d = bad.diagnostic(FileId(0));
        assert_eq!(
            (d.code, d.primary_span()),
            (Code::InvalidUtf8, Some(Span::new(FileId(0), 5, 8)))
        );
    }
}
