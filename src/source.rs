//! Source files, byte spans and line/column mapping.
//!
//! Every stage refers to text by [`Span`] (file id plus byte range). The line index here is the
//! single place that turns byte offsets into lines and columns; the renderers and the JSON output
//! all go through it (codespan-reporting reads it through its `Files` trait).

use std::ops::Range;
use std::path::PathBuf;

/// Index of a file in a [`Sources`] database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: clamp_u32(start),
            end: clamp_u32(end.max(start)),
        }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both (same file assumed; the first file wins).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// An empty span at the start of this one.
    pub fn at_start(self) -> Span {
        Span {
            end: self.start,
            ..self
        }
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One loaded file: its display name, where it came from and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown in diagnostics (a path relative to the working folder where possible).
    pub name: String,
    /// The path on disk, when the file came from disk.
    pub path: Option<PathBuf>,
    pub text: String,
    line_starts: Vec<u32>,
    /// `char_marks[k]`: how many characters start before byte `k * MARK_EVERY`. A column is
    /// then counted from the nearest mark, not from the start of its line: one long line with
    /// thousands of diagnostics would otherwise be read once per diagnostic.
    char_marks: Vec<u32>,
}

/// Bytes between two entries of [`SourceFile::char_marks`].
const MARK_EVERY: usize = 1024;

/// Characters starting in these bytes: every byte but UTF-8 continuation bytes.
fn chars_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

impl SourceFile {
    pub fn new(name: impl Into<String>, path: Option<PathBuf>, text: String) -> SourceFile {
        let line_starts = line_starts(&text);
        let mut char_marks = Vec::with_capacity(text.len() / MARK_EVERY + 1);
        let mut seen = 0;
        char_marks.push(0);
        for block in text.as_bytes().chunks(MARK_EVERY) {
            seen += chars_in(block);
            char_marks.push(clamp_u32(seen));
        }
        SourceFile {
            name: name.into(),
            path,
            text,
            line_starts,
            char_marks,
        }
    }

    /// Zero-based line index of a byte offset. Lines end at `\n`, `\r\n` or a lone `\r`, as
    /// editors and the Language Server Protocol count them.
    pub fn line_index(&self, offset: usize) -> usize {
        let offset = clamp_u32(offset);
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next.saturating_sub(1),
        }
    }

    /// Byte offset where a zero-based line starts.
    pub fn line_start(&self, line: usize) -> usize {
        match self.line_starts.get(line) {
            Some(&start) => start as usize,
            None => self.text.len(),
        }
    }

    /// Byte range of a zero-based line, including its line terminator.
    pub fn line_range(&self, line: usize) -> Range<usize> {
        self.line_start(line)..self.line_start(line + 1)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// One-based line and column of a byte offset; the column counts Unicode scalar values.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_index(offset);
        (line + 1, self.column(self.line_start(line), offset))
    }

    /// One-based column of a byte offset in the line starting at `line_start`, counting
    /// Unicode scalar values.
    pub fn column(&self, line_start: usize, offset: usize) -> usize {
        // Near the line's start, count there: the marks would read up to a block twice, which
        // for millions of diagnostics on short lines was most of the JSON report's time.
        if let Some(head) = self.text.as_bytes().get(line_start..offset)
            && head.len() <= MARK_EVERY
        {
            return chars_in(head) + 1;
        }
        self.chars_before(offset)
            .saturating_sub(self.chars_before(line_start))
            + 1
    }

    fn chars_before(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        let block = offset / MARK_EVERY;
        let marked = self.char_marks.get(block).copied().unwrap_or(0) as usize;
        let rest = self
            .text
            .as_bytes()
            .get(block * MARK_EVERY..offset)
            .map_or(0, chars_in);
        marked + rest
    }

    /// The text of a span, or an empty string when the span does not fit this file.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }
}

fn line_starts(text: &str) -> Vec<u32> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            b'\n' => starts.push(clamp_u32(i)),
            b'\r' => {
                if bytes.get(i) == Some(&b'\n') {
                    i += 1;
                }
                starts.push(clamp_u32(i));
            }
            _ => {}
        }
    }
    starts
}

/// All files of one run.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(clamp_u32(self.files.len() - 1))
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn name(&self, id: FileId) -> &str {
        self.get(id).map_or("<unknown>", |f| f.name.as_str())
    }

    pub fn text(&self, id: FileId) -> &str {
        self.get(id).map_or("", |f| f.text.as_str())
    }

    pub fn slice(&self, span: Span) -> &str {
        self.get(span.file).map_or("", |f| f.slice(span))
    }

    /// One-based line and column of a span's start.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        self.get(id).map_or((1, 1), |f| f.line_col(offset))
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(clamp_u32(i)), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl<'a> codespan_reporting::files::Files<'a> for Sources {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, codespan_reporting::files::Error> {
        self.get(id)
            .map(|f| f.name.as_str())
            .ok_or(codespan_reporting::files::Error::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, codespan_reporting::files::Error> {
        self.get(id)
            .map(|f| f.text.as_str())
            .ok_or(codespan_reporting::files::Error::FileMissing)
    }

    fn line_index(
        &'a self,
        id: FileId,
        byte_index: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        self.get(id)
            .map(|f| f.line_index(byte_index))
            .ok_or(codespan_reporting::files::Error::FileMissing)
    }

    fn line_range(
        &'a self,
        id: FileId,
        line_index: usize,
    ) -> Result<Range<usize>, codespan_reporting::files::Error> {
        let file = self
            .get(id)
            .ok_or(codespan_reporting::files::Error::FileMissing)?;
        if line_index >= file.line_count() {
            return Err(codespan_reporting::files::Error::LineTooLarge {
                given: line_index,
                max: file.line_count().saturating_sub(1),
            });
        }
        Ok(file.line_range(line_index))
    }

    fn column_number(
        &'a self,
        id: FileId,
        line_index: usize,
        byte_index: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        let file = self
            .get(id)
            .ok_or(codespan_reporting::files::Error::FileMissing)?;
        Ok(file.column(file.line_start(line_index), byte_index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_lf_crlf_and_lone_cr() {
        let f = SourceFile::new("t", None, "a\nb\r\nc\rd".to_string());
        assert_eq!(f.line_count(), 4);
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(2), (2, 1));
        assert_eq!(f.line_col(5), (3, 1));
        assert_eq!(f.line_col(7), (4, 1));
    }

    #[test]
    fn columns_on_long_lines_count_from_the_marks() {
        let text = format!("x\n{}ab", "é".repeat(3000));
        let f = SourceFile::new("t", None, text.clone());
        let end = text.len();
        assert_eq!(f.line_col(end), (2, 3003));
        assert_eq!(f.line_col(end - 1), (2, 3002));
        assert_eq!(f.line_col(2 + 2 * 1500), (2, 1501));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let f = SourceFile::new("t", None, "é x".to_string());
        assert_eq!(f.line_col(3), (1, 3));
    }
}
