//! One linear pass over the text before the grammar runs.
//!
//! It does three things the grammar cannot do well: it cuts the file into declaration chunks
//! (a chunk starts at a line whose first word is a declaration keyword), so that the parser can
//! report every broken declaration instead of stopping at the first; it finds lexical problems
//! (NUL bytes, unterminated strings and comments) and reports them in plain words; and it
//! measures bracket nesting, so that absurdly deep input is refused before any recursive code
//! sees it. It defines no syntax: the grammar alone decides what is valid.

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// Brackets may nest this deep; deeper input is refused with E0006.
pub const MAX_NESTING: usize = 64;

/// Declaration keywords; a line starting with one of them starts a new chunk. They are the
/// first reserved words (a test holds them to the grammar's `declaration` rule).
pub const DECLARATION_KEYWORDS: &[&str] = super::RESERVED.split_at(9).0;

#[derive(Debug, Clone)]
pub struct Chunk {
    pub start: usize,
    pub end: usize,
    /// The declaration keyword that starts the chunk (none for text before the first one).
    pub keyword: Option<&'static str>,
    /// The declared name or test title, when it can be read.
    pub name: Option<String>,
    /// Offset of the first lexical problem in the chunk: the grammar's own error at or after
    /// it would only repeat the problem in vaguer words.
    pub first_problem: Option<usize>,
    /// The chunk nests too deeply to hand to the grammar.
    pub too_deep: bool,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub chunks: Vec<Chunk>,
    pub comments: Vec<Span>,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn scan(file: FileId, text: &str) -> Scan {
    let mut s = Scanner {
        file,
        text,
        bytes: text.as_bytes(),
        pos: 0,
        out: Scan::default(),
        depth: 0,
        line_start: true,
    };
    s.run();
    s.out
}

struct Scanner<'a> {
    file: FileId,
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Scan,
    depth: usize,
    /// No token yet on the current line.
    line_start: bool,
}

impl Scanner<'_> {
    fn run(&mut self) {
        self.out.chunks.push(Chunk {
            start: 0,
            end: 0,
            keyword: None,
            name: None,
            first_problem: None,
            too_deep: false,
        });
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'\n' | b'\r' => {
                    self.pos += 1;
                    self.line_start = true;
                }
                b' ' | b'\t' => self.pos += 1,
                b'/' if self.bytes.get(self.pos + 1) == Some(&b'/') => self.line_comment(),
                b'/' if self.bytes.get(self.pos + 1) == Some(&b'*') => self.block_comment(),
                b'"' => {
                    self.line_start = false;
                    self.string();
                }
                b'(' | b'{' | b'[' => {
                    self.line_start = false;
                    self.depth += 1;
                    if self.depth == MAX_NESTING + 1 {
                        self.too_deep();
                    }
                    self.pos += 1;
                }
                b')' | b'}' | b']' => {
                    self.line_start = false;
                    self.depth = self.depth.saturating_sub(1);
                    self.pos += 1;
                }
                _ if b < 0x20 || b == 0x7f => self.control_characters(),
                0xEF if self.bytes.get(self.pos..self.pos + 3) == Some("\u{FFFD}".as_bytes()) => {
                    self.replacement_character()
                }
                _ => {
                    if self.line_start {
                        self.line_start = false;
                        self.maybe_declaration();
                    }
                    self.word_or_char();
                }
            }
        }
        if let Some(last) = self.out.chunks.last_mut() {
            last.end = self.text.len();
        }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn current_chunk(&mut self) -> Option<&mut Chunk> {
        self.out.chunks.last_mut()
    }

    fn problem(&mut self, at: usize, diagnostic: Diagnostic) {
        if let Some(chunk) = self.current_chunk()
            && chunk.first_problem.is_none()
        {
            chunk.first_problem = Some(at);
        }
        self.out.diagnostics.push(diagnostic);
    }

    fn line_comment(&mut self) {
        let start = self.pos;
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b'\n' || b == b'\r' {
                break;
            }
            self.pos += 1;
        }
        self.out.comments.push(self.span(start, self.pos));
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        self.pos += 2;
        loop {
            match self.bytes.get(self.pos) {
                None => {
                    let d =
                        Diagnostic::new(Code::UnterminatedComment, "unterminated block comment")
                            .primary(self.span(start, start + 2), "the comment starts here")
                            .help("close it with `*/`; block comments do not nest");
                    self.problem(start, d);
                    break;
                }
                Some(b'*') if self.bytes.get(self.pos + 1) == Some(&b'/') => {
                    self.pos += 2;
                    break;
                }
                Some(_) => self.pos += 1,
            }
        }
        self.out.comments.push(self.span(start, self.pos));
    }

    fn string(&mut self) {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.bytes.get(self.pos) {
                None | Some(b'\n' | b'\r') => {
                    let d = Diagnostic::new(Code::UnterminatedString, "unterminated string")
                        .primary(
                            self.span(start, self.pos),
                            "this string has no closing `\"`",
                        )
                        .help("strings end on the line they start; close it with `\"`");
                    self.problem(start, d);
                    return;
                }
                Some(b'\\') => {
                    // An escape never swallows the line end: the string is then unterminated.
                    let next = self.bytes.get(self.pos + 1);
                    self.pos += if matches!(next, None | Some(b'\n' | b'\r')) {
                        1
                    } else {
                        2
                    };
                }
                Some(b'"') => {
                    self.pos += 1;
                    return;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn too_deep(&mut self) {
        let at = self.pos;
        let d = Diagnostic::new(
            Code::NestingTooDeep,
            format!("nesting too deep: more than {MAX_NESTING} levels of brackets"),
        )
        .primary(self.span(at, at + 1), "this bracket is one level too deep")
        .help("split the condition into named `define`s");
        self.problem(at, d);
        if let Some(chunk) = self.current_chunk() {
            chunk.too_deep = true;
        }
    }

    fn control_characters(&mut self) {
        let start = self.pos;
        let first = self.bytes.get(start).copied().unwrap_or(0);
        while let Some(&b) = self.bytes.get(self.pos) {
            if (b < 0x20 && b != b'\n' && b != b'\r' && b != b'\t') || b == 0x7f {
                self.pos += 1;
            } else {
                break;
            }
        }
        let count = self.pos - start;
        let what = if first == 0 {
            "NUL byte".to_string()
        } else {
            format!("control character U+{first:04X}")
        };
        let message = if count == 1 {
            format!("{what} in the text")
        } else {
            format!("{what} in the text (and {} more after it)", count - 1)
        };
        let d = Diagnostic::new(Code::InvalidCharacter, message)
            .primary(self.span(start, self.pos), "not allowed here")
            .help("policy files are plain text; remove the character or re-save the file as UTF-8 text");
        self.problem(start, d);
    }

    /// U+FFFD stands where decoding found bytes that are not UTF-8 (or where another tool
    /// already replaced them). In a string or comment it is harmless; in code it is reported
    /// here, in plain words, instead of as a syntax error.
    fn replacement_character(&mut self) {
        let start = self.pos;
        self.pos += '\u{FFFD}'.len_utf8();
        self.line_start = false;
        let d = Diagnostic::new(
            Code::InvalidCharacter,
            "replacement character U+FFFD in the text",
        )
        .primary(self.span(start, self.pos), "not UTF-8 text here")
        .help("the file has bytes here that are not UTF-8, or a converter replaced them; retype the text");
        self.problem(start, d);
    }

    /// Skips one word (letters, digits, `_`, `.`, `-`, `*`) or one other character.
    fn word_or_char(&mut self) {
        // Most words are ASCII: those bytes are taken without decoding characters.
        let ascii = self
            .bytes
            .get(self.pos..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'*'))
            .count();
        let start = self.pos + ascii;
        let rest = self.text.get(start..).unwrap_or("");
        let mut len = 0;
        for c in rest.chars() {
            if is_word_char(c) {
                len += c.len_utf8();
            } else {
                break;
            }
        }
        if len == 0 && ascii == 0 {
            len = rest.chars().next().map_or(1, char::len_utf8);
        }
        self.pos = start + len;
    }

    /// At the first token of a line: starts a new chunk if it is a declaration keyword.
    fn maybe_declaration(&mut self) {
        // Most lines start with some other word: one byte tells.
        let first = self.bytes.get(self.pos);
        if !DECLARATION_KEYWORDS
            .iter()
            .any(|k| k.as_bytes().first() == first)
        {
            return;
        }
        let rest = self.text.get(self.pos..).unwrap_or("");
        let Some(keyword) = DECLARATION_KEYWORDS.iter().copied().find(|k| {
            rest.starts_with(k)
                && !rest
                    .get(k.len()..)
                    .and_then(|r| r.chars().next())
                    .is_some_and(is_ident_char)
        }) else {
            return;
        };
        let start = self.pos;
        if let Some(last) = self.out.chunks.last_mut() {
            last.end = start;
        }
        self.depth = 0;
        let after = rest.get(keyword.len()..).unwrap_or("");
        self.out.chunks.push(Chunk {
            start,
            end: start,
            keyword: Some(keyword),
            name: declared_name(after),
            first_problem: None,
            too_deep: false,
        });
    }
}

/// The grammar's `XID_CONTINUE`: a declaration keyword is cut here exactly where the grammar
/// reads it as a keyword (`fact\u{301}` is a name to both).
fn is_ident_char(c: char) -> bool {
    pest::unicode::XID_CONTINUE(c)
}

fn is_word_char(c: char) -> bool {
    is_ident_char(c) || matches!(c, '.' | '-' | '*')
}

/// The name after a declaration keyword (`fact age`), or the title of `test "..."`.
fn declared_name(after: &str) -> Option<String> {
    let rest = after.trim_start_matches([' ', '\t']);
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find(['"', '\n', '\r'])?;
        return quoted.get(..end).map(str::to_string);
    }
    let name: String = rest.chars().take_while(|&c| is_ident_char(c)).collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &str) -> Vec<(Option<&'static str>, Option<String>, String)> {
        scan(FileId(0), text)
            .chunks
            .into_iter()
            .map(|c| {
                (
                    c.keyword,
                    c.name,
                    text.get(c.start..c.end).unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn declarations_start_at_line_starts_only() {
        let got =
            chunks("// head\nfact a: bool\n  define b = a and c\n/* fact x */ codes c = cpt {1}\n");
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].2, "// head\n");
        assert_eq!(got[1].0, Some("fact"));
        assert_eq!(got[1].1.as_deref(), Some("a"));
        assert_eq!(got[2].0, Some("define"));
        assert_eq!(
            got[2].2, "define b = a and c\n/* fact x */ ",
            "comments are trivia before a keyword"
        );
        assert_eq!(got[3].0, Some("codes"));
    }

    #[test]
    fn every_declaration_keyword_starts_a_chunk() {
        let text: String = DECLARATION_KEYWORDS
            .iter()
            .map(|k| format!("{k} x\n"))
            .collect();
        let got = chunks(&text);
        let keywords: Vec<_> = got.iter().filter_map(|c| c.0).collect();
        assert_eq!(keywords, DECLARATION_KEYWORDS);
        // The same words as the grammar's `declaration` rule, so that no kind of declaration
        // can hide in the chunk before it.
        let grammar = include_str!("../../grammar/medpol.pest");
        let rule = grammar
            .split("declaration = _{")
            .nth(1)
            .and_then(|r| r.split('}').next())
            .unwrap();
        let mut in_grammar: Vec<&str> = rule
            .split('|')
            .map(|alt| alt.trim().trim_end_matches("_decl"))
            .collect();
        let mut listed = DECLARATION_KEYWORDS.to_vec();
        in_grammar.sort_unstable();
        listed.sort_unstable();
        assert_eq!(in_grammar, listed);
    }

    #[test]
    fn keywords_inside_block_comments_do_not_split() {
        let got = chunks("fact a: bool /*\nfact b: bool\n*/\n");
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn unterminated_string_is_reported_at_its_quote() {
        let s = scan(FileId(0), "fact a: bool \"oops\nfact b: bool\n");
        assert_eq!(s.diagnostics.len(), 1);
        assert_eq!(s.diagnostics[0].code, Code::UnterminatedString);
        assert_eq!(s.diagnostics[0].primary_span().map(|s| s.start), Some(13));
        assert_eq!(
            s.chunks.len(),
            3,
            "the next line still starts a declaration"
        );
    }

    #[test]
    fn deep_nesting_is_flagged_once() {
        let text = format!("define x = {}a{}", "(".repeat(100), ")".repeat(100));
        let s = scan(FileId(0), &text);
        assert_eq!(s.diagnostics.len(), 1);
        assert_eq!(s.diagnostics[0].code, Code::NestingTooDeep);
        assert!(s.chunks[1].too_deep);
        let at = s.diagnostics[0].primary_span().map(|s| s.start as usize);
        assert_eq!(at, Some("define x = ".len() + MAX_NESTING));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = format!(
            "define x \"{}\" = a // {}\n",
            "(".repeat(100),
            "{".repeat(100)
        );
        assert!(scan(FileId(0), &text).diagnostics.is_empty());
    }

    #[test]
    fn nul_runs_are_one_diagnostic() {
        let s = scan(FileId(0), "fact a\0\0\0: bool");
        assert_eq!(s.diagnostics.len(), 1);
        assert_eq!(s.diagnostics[0].code, Code::InvalidCharacter);
        assert_eq!(
            s.diagnostics[0].primary_span().map(|s| (s.start, s.end)),
            Some((6, 9))
        );
    }
}
