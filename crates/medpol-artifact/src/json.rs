//! A pull reader over JSON text, for binding facts as they are read.
//!
//! Facts are one flat object of names and scalar values or lists of codes. Going through
//! serde's visitor for each of them spent most of the time of binding (see
//! `docs/performance.md`); this reader hands the binder each key and value where it lies in
//! the text, borrowed, and knows where each one is, so that a key given twice can be named
//! with both places. It accepts exactly RFC 8259 JSON (a test holds it to serde_json on
//! generated and mutated texts); anything not a fact's usual shape (a nested object, a
//! number with a fraction) is handed back as its raw text for serde_json to read.

use std::borrow::Cow;

/// Lists and objects nested deeper than this are refused, as serde_json does.
const DEPTH: usize = 128;

/// Where the text is not JSON, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

type Result<T> = std::result::Result<T, JsonError>;

/// The bytes that end the plain run of a string: its closing quote, a backslash, and the
/// control characters JSON does not allow in one.
fn special(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The offset of the first [`special`] byte, eight bytes at a time: for each byte of a word,
/// the high bit of `b - k` with `b`'s own high bit clear says that `b < k` (borrows only run
/// upwards from a byte that matches, so the lowest flagged byte is always a true match).
fn first_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, k: u8| w.wrapping_sub(ONES * u64::from(k)) & !w & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let hits = below(w, 0x20)
            | below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| special(*b))
        .map(|i| at + i)
}

/// A reader over JSON text; a copy remembers a place to read from again.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Reader<'t> {
    /// A reader at the start of the text, after a byte order mark if there is one.
    pub(crate) fn new(text: &'t str) -> Reader<'t> {
        let at = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Reader { text, at }
    }

    pub(crate) fn at(&self) -> usize {
        self.at
    }

    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    fn fail<T>(&self, what: &'static str) -> Result<T> {
        Err(JsonError { at: self.at, what })
    }

    /// The next byte that is not white space, without taking it.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes().get(self.at) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// Takes the next byte if it is `b` (after white space).
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Takes `b` or fails with `what`.
    pub(crate) fn expect(&mut self, b: u8, what: &'static str) -> Result<()> {
        if self.eat(b) { Ok(()) } else { self.fail(what) }
    }

    /// After the last value: only white space may follow.
    pub(crate) fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("more text after the end"),
        }
    }

    /// A string, at its opening quote (after white space): borrowed when it has no escapes.
    pub(crate) fn string(&mut self) -> Result<Cow<'t, str>> {
        if !self.eat(b'"') {
            return self.fail("expected a string in double quotes");
        }
        let start = self.at;
        let rest = self.bytes().get(start..).unwrap_or_default();
        // One pass to the closing quote, a backslash or a control character, a word at a
        // time: fact names, codes and values are short, too short for a vectorised search.
        let Some(i) = first_special(rest) else {
            self.at = self.text.len();
            return self.fail("a string is not closed");
        };
        match rest.get(i) {
            Some(b'"') => {
                self.at = start + i + 1;
                Ok(Cow::Borrowed(
                    self.text.get(start..start + i).unwrap_or_default(),
                ))
            }
            Some(b'\\') => {
                self.at = start + i;
                let mut owned = String::from(self.text.get(start..start + i).unwrap_or_default());
                self.escaped(&mut owned)?;
                Ok(Cow::Owned(owned))
            }
            _ => {
                self.at = start + i;
                self.fail("a control character in a string (write it as an escape)")
            }
        }
    }

    /// The rest of a string that has an escape, at the first backslash.
    fn escaped(&mut self, out: &mut String) -> Result<()> {
        loop {
            let Some(&b) = self.bytes().get(self.at) else {
                return self.fail("a string is not closed");
            };
            match b {
                b'"' => {
                    self.at += 1;
                    return Ok(());
                }
                b'\\' => {
                    let Some(&e) = self.bytes().get(self.at + 1) else {
                        self.at += 1;
                        return self.fail("a string is not closed");
                    };
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            self.at += 2;
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => {
                            self.at += 1;
                            return self.fail("an unknown escape in a string");
                        }
                    };
                    out.push(c);
                    self.at += 2;
                }
                0..=0x1f => {
                    return self.fail("a control character in a string (write it as an escape)");
                }
                _ => {
                    // Copy up to the next quote or backslash; the text is UTF-8 already.
                    let rest = self.bytes().get(self.at..).unwrap_or_default();
                    let n = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                    let run = self.text.get(self.at..self.at + n).unwrap_or_default();
                    if let Some(c) = run.bytes().position(|b| b < 0x20) {
                        self.at += c;
                        return self
                            .fail("a control character in a string (write it as an escape)");
                    }
                    out.push_str(run);
                    self.at += n;
                }
            }
        }
    }

    /// The character of a `\u` escape, just after the `u`; a surrogate pair is two escapes.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes().get(self.at..self.at + 2) != Some(b"\\u") {
                    return self.fail("a lone surrogate in a `\\u` escape");
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return self.fail("a lone surrogate in a `\\u` escape");
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return self.fail("a lone surrogate in a `\\u` escape"),
            c => c,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.fail("a lone surrogate in a `\\u` escape"),
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let digit = self
                .bytes()
                .get(self.at)
                .and_then(|b| (*b as char).to_digit(16));
            match digit {
                Some(d) => v = v * 16 + d,
                None => return self.fail("a `\\u` escape needs four hex digits"),
            }
            self.at += 1;
        }
        Ok(v)
    }

    /// A number's text, at its first character (after white space), checked against the
    /// grammar.
    pub(crate) fn number(&mut self) -> Result<&'t str> {
        self.peek();
        let start = self.at;
        let digits = |r: &mut Reader<'_>| {
            let from = r.at;
            while r.bytes().get(r.at).is_some_and(u8::is_ascii_digit) {
                r.at += 1;
            }
            r.at - from
        };
        self.eat_byte(b'-');
        match self.bytes().get(self.at) {
            Some(b'0') => {
                self.at += 1;
                if self.bytes().get(self.at).is_some_and(u8::is_ascii_digit) {
                    return self.fail("a number has a leading zero");
                }
            }
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return self.fail("a number is not valid"),
        }
        if self.eat_byte(b'.') && digits(self) == 0 {
            return self.fail("a number is not valid");
        }
        if self.eat_byte(b'e') || self.eat_byte(b'E') {
            if !self.eat_byte(b'+') {
                self.eat_byte(b'-');
            }
            if digits(self) == 0 {
                return self.fail("a number is not valid");
            }
        }
        Ok(self.text.get(start..self.at).unwrap_or_default())
    }

    /// Takes the byte at the reader if it is `b` (no white space skipped).
    fn eat_byte(&mut self, b: u8) -> bool {
        if self.bytes().get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// `true`, `false` or `null`, at its first letter.
    pub(crate) fn literal(&mut self) -> Result<Literal> {
        self.peek();
        let rest = self.bytes().get(self.at..).unwrap_or_default();
        let (lit, len) = match rest {
            [b't', b'r', b'u', b'e', ..] => (Literal::True, 4),
            [b'f', b'a', b'l', b's', b'e', ..] => (Literal::False, 5),
            [b'n', b'u', b'l', b'l', ..] => (Literal::Null, 4),
            _ => return self.fail("expected a value"),
        };
        self.at += len;
        Ok(lit)
    }

    /// Takes a key and its colon if the key is `name` written plainly (no escapes), as a
    /// line of a batch usually has it where the last line had it; otherwise takes nothing.
    pub(crate) fn key_is(&mut self, name: &str) -> bool {
        self.peek();
        let rest = self.bytes().get(self.at..).unwrap_or_default();
        let n = name.len();
        let written = rest.get(1..=n);
        if rest.first() == Some(&b'"')
            && rest.get(n + 1) == Some(&b'"')
            && written.is_some_and(|w| same(w, name.as_bytes()))
        {
            self.at += n + 2;
            if self.eat(b':') {
                return true;
            }
            self.at -= n + 2;
        }
        false
    }

    /// Any value, checked and skipped: its text (for serde_json to read when it is needed).
    /// Nesting is followed with a stack of its own, so no input can overflow the call stack.
    pub(crate) fn value(&mut self) -> Result<&'t str> {
        self.peek();
        let start = self.at;
        // For each list or object open: whether it is an object.
        let mut open: Vec<bool> = Vec::new();
        loop {
            // A value.
            match self.peek() {
                Some(b'{') | Some(b'[') => {
                    let object = self.peek() == Some(b'{');
                    if open.len() == DEPTH {
                        return self.fail("lists and objects nested too deep");
                    }
                    self.at += 1;
                    open.push(object);
                    let close = if object { b'}' } else { b']' };
                    if self.eat(close) {
                        open.pop();
                    } else {
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                Some(_) => {
                    self.literal()?;
                }
                None => return self.fail("the text ends where a value was expected"),
            }
            // After a value: the next item, or the close of what holds it.
            loop {
                let Some(&object) = open.last() else {
                    return Ok(self.text.get(start..self.at).unwrap_or_default());
                };
                if self.eat(b',') {
                    if object {
                        self.key()?;
                    }
                    break;
                }
                let (close, what) = if object {
                    (b'}', "expected `,` or `}`")
                } else {
                    (b']', "expected `,` or `]`")
                };
                self.expect(close, what)?;
                open.pop();
            }
        }
    }

    /// A key of an object and its colon.
    pub(crate) fn key(&mut self) -> Result<Cow<'t, str>> {
        if self.peek() != Some(b'"') {
            return self.fail("expected a key in double quotes");
        }
        let key = self.string()?;
        self.expect(b':', "expected `:` after a key")?;
        Ok(key)
    }
}

/// Whether two short byte strings are equal, compared in line: names and codes are a few bytes
/// long, and a call to `memcmp` for each costs more than the comparison.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Literal {
    True,
    False,
    Null,
}

/// The line and column (both from 1, the column in characters) of a byte offset.
pub(crate) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = 1 + memchr::memchr_iter(b'\n', before.as_bytes()).count();
    let column = 1 + before.get(line_start..).map_or(0, |l| l.chars().count());
    (line, column)
}

/// A place in the text for a message: `column C` in a one-line text (a line of a batch),
/// `line L, column C` otherwise.
pub(crate) fn place(text: &str, at: usize) -> String {
    let (line, column) = line_column(text, at);
    if text.trim_end().contains('\n') {
        format!("line {line}, column {column}")
    } else {
        format!("column {column}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn skip(text: &str) -> Result<&str> {
        let mut r = Reader::new(text);
        let v = r.value()?;
        r.end()?;
        Ok(v)
    }

    #[test]
    fn values_are_skipped_whole_and_checked() {
        let text = r#" {"a": [1, {"b": null}], "c": "d\n"} "#;
        assert_eq!(skip(text).unwrap(), text.trim());
        assert_eq!(skip("[]").unwrap(), "[]");
        assert_eq!(skip("-0.5e+3").unwrap(), "-0.5e+3");
        for bad in [
            "[1,]",
            "{\"a\" 1}",
            "01",
            "1.",
            "-",
            "[",
            "\"a",
            "tru",
            "{,}",
            "[1 2]",
            "\"\t\"",
        ] {
            assert!(skip(bad).is_err(), "{bad} should be refused");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(
            skip(&deep).unwrap_err().what,
            "lists and objects nested too deep"
        );
    }

    #[test]
    fn the_word_search_finds_the_first_special_byte() {
        for text in [
            "",
            "abc",
            "abcdefgh",
            "abcdefghi\"",
            "a\u{1}\"",
            "M80.08XA\"",
            "é\\",
            "\u{7f}\u{80}ÿ\"",
        ] {
            let plain = text.bytes().position(special);
            assert_eq!(first_special(text.as_bytes()), plain, "{text:?}");
        }
        for at in 0..20 {
            for b in [b'"', b'\\', 0u8, 0x1f] {
                let mut bytes = vec![b' '; 20];
                bytes[at] = b;
                bytes[(at + 3).min(19)] = b'"';
                assert_eq!(first_special(&bytes), Some(at));
            }
        }
    }

    #[test]
    fn escapes_are_decoded() {
        let mut r = Reader::new(r#""a\"b\u00e9\ud83d\ude00\n""#);
        assert_eq!(r.string().unwrap(), "a\"bé😀\n");
        let mut r = Reader::new(r#""\ud83d x""#);
        assert!(r.string().is_err());
    }

    #[test]
    fn places_are_lines_and_columns() {
        assert_eq!(place("{\"a\": 1, \"a\": 2}", 9), "column 10");
        assert_eq!(
            place("{\n  \"é\": 1,\n  \"a\": 2\n}\n", 15),
            "line 3, column 3"
        );
    }
}
