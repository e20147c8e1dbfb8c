//! Between medpol's byte spans and the protocol's positions (zero-based lines, UTF-16 code
//! units), and between file paths and `file:` URIs. Every span the server sends goes through
//! [`range`]; every position it receives through [`offset`].

use std::path::{Path, PathBuf};

use lsp_types::{Position, Range};

use crate::source::{SourceFile, Span};

/// The protocol position of a byte offset. An offset inside a character counts from the
/// character's start.
pub fn position(file: &SourceFile, offset: usize) -> Position {
    let mut offset = offset.min(file.text.len());
    while !file.text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = file.line_index(offset);
    let start = file.line_start(line);
    let character = file
        .text
        .get(start..offset)
        .map_or(0, |prefix| prefix.encode_utf16().count());
    Position::new(to_u32(line), to_u32(character))
}

pub fn range(file: &SourceFile, span: Span) -> Range {
    Range::new(
        position(file, span.start as usize),
        position(file, span.end as usize),
    )
}

/// The byte offset of a protocol position; a position past the end of its line or of the text
/// is the end of the line or of the text.
pub fn offset(file: &SourceFile, position: Position) -> usize {
    let line = position.line as usize;
    if line >= file.line_count() {
        return file.text.len();
    }
    let start = file.line_start(line);
    let text = file.text.get(file.line_range(line)).unwrap_or("");
    let mut units = 0;
    for (at, c) in text.char_indices() {
        if units >= position.character as usize || c == '\n' || c == '\r' {
            return start + at;
        }
        units += c.len_utf16();
    }
    start + text.len()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The path of a `file:` URI, percent-decoded; `None` for other schemes.
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // `file:///path` on Unix; a host part other than `localhost` is not a local file.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(PathBuf::from)
}

/// The `file:` URI of an absolute path, percent-encoding everything but unreserved characters
/// and `/`.
pub fn path_to_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    #[test]
    fn positions_count_utf16_units() {
        // `𝔸` is 4 bytes and 2 UTF-16 units; `é` 2 bytes and 1 unit.
        let f = SourceFile::new("t", None, "é𝔸x\r\nab".to_string());
        assert_eq!(position(&f, 6), Position::new(0, 3));
        assert_eq!(position(&f, 9), Position::new(1, 0));
        assert_eq!(offset(&f, Position::new(0, 3)), 6);
        assert_eq!(offset(&f, Position::new(0, 99)), 7);
        assert_eq!(offset(&f, Position::new(9, 0)), f.text.len());
        // Inside a character: its start.
        assert_eq!(position(&f, 3), Position::new(0, 1));
        let span = Span::new(FileId(0), 2, 6);
        assert_eq!(
            range(&f, span),
            Range::new(Position::new(0, 1), Position::new(0, 3))
        );
    }

    #[test]
    fn file_uris_round_trip() {
        let path = Path::new("/tmp/a b/ü.medpol");
        let uri = path_to_uri(path);
        assert_eq!(uri, "file:///tmp/a%20b/%C3%BC.medpol");
        assert_eq!(uri_to_path(&uri).as_deref(), Some(path));
        assert_eq!(uri_to_path("untitled:1"), None);
    }
}
