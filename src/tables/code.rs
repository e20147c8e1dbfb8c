//! A code held inline: codes are at most eight bytes (`M80.08XA`), so entries that derive
//! their code (7th-character expansions) or copy it out of the table need no allocation.

use std::cmp::Ordering;
use std::fmt;

/// The longest code of any system, in normal form: ICD-10-CM `M80.08XA`.
pub const MAX_CODE: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CodeBuf {
    bytes: [u8; MAX_CODE],
    len: u8,
}

impl CodeBuf {
    pub(crate) const EMPTY: CodeBuf = CodeBuf {
        bytes: [0; MAX_CODE],
        len: 0,
    };

    /// `None` when the text is longer than any code.
    pub(crate) fn new(text: &[u8]) -> Option<CodeBuf> {
        let mut buf = CodeBuf::EMPTY;
        for &b in text {
            buf.push(b)?;
        }
        Some(buf)
    }

    pub(crate) fn push(&mut self, b: u8) -> Option<()> {
        let slot = self.bytes.get_mut(usize::from(self.len))?;
        *slot = b;
        self.len += 1;
        Some(())
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        let len = len.min(usize::from(self.len));
        for b in self.bytes.iter_mut().skip(len) {
            *b = 0;
        }
        self.len = len as u8;
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len()).unwrap_or(&[])
    }

    /// Codes are ASCII by construction (the importers check every code against its system's
    /// format), so the fallback to "" is never taken on a table the importer wrote.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The code as a number whose order is the codes' byte order: codes have no NUL byte and
    /// are padded with them, so a shorter code sorts before the codes it begins.
    fn key(&self) -> u64 {
        u64::from_be_bytes(self.bytes)
    }

    /// Whether this code starts with another, without a byte-by-byte comparison: walking a
    /// table makes a few of these per code.
    pub(crate) fn under(&self, prefix: &CodeBuf) -> bool {
        let keep = (8 * prefix.len()) as u32;
        let mask = u64::MAX.checked_shl(64 - keep).unwrap_or(0);
        prefix.len <= self.len && (self.key() ^ prefix.key()) & mask == 0
    }

    /// The ICD-10-CM code made of this code padded with placeholder `X` to six characters and
    /// a 7th character, with the dot after the third: `M48.50` and `A` give `M48.50XA`.
    pub(crate) fn with_seventh(&self, seventh: u8) -> Option<CodeBuf> {
        let plain = self.as_bytes().iter().copied().filter(|&b| b != b'.');
        let len = plain.clone().count();
        if !(3..=6).contains(&len) {
            return None;
        }
        let mut out = CodeBuf::EMPTY;
        for (i, b) in plain
            .chain(std::iter::repeat(b'X'))
            .take(6)
            .chain(std::iter::once(seventh))
            .enumerate()
        {
            if i == 3 {
                out.push(b'.')?;
            }
            out.push(b)?;
        }
        Some(out)
    }

    /// How many placeholder `X` [`CodeBuf::with_seventh`] adds.
    pub(crate) fn placeholders(&self) -> usize {
        let plain = self.as_bytes().iter().filter(|&&b| b != b'.').count();
        6usize.saturating_sub(plain)
    }

    /// The proper prefixes that could be codes of ancestors, longest first; a prefix ending in
    /// the dot is skipped (`M48.5` gives `M48`, not `M48.`).
    pub(crate) fn ancestors(&self) -> impl Iterator<Item = CodeBuf> + '_ {
        (1..self.len()).rev().filter_map(move |len| {
            let prefix = self.as_bytes().get(..len)?;
            if prefix.last() == Some(&b'.') {
                return None;
            }
            CodeBuf::new(prefix)
        })
    }
}

/// Whether text has the shape of an ICD-10-CM tabular code: a letter, two letters or digits,
/// and optionally a dot and one to four more (`M48.50XA`, `C4A.0`, `QA0.0101`).
pub(crate) fn tabular_icd10cm(text: &str) -> bool {
    let b = text.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    let head = b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter().skip(1).take(2).filter(|c| alnum(c)).count() == 2;
    let tail = match b.get(3) {
        None => true,
        Some(b'.') => (5..=8).contains(&b.len()) && b.iter().skip(4).all(alnum),
        Some(_) => false,
    };
    head && b.len() >= 3 && tail
}

impl PartialOrd for CodeBuf {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CodeBuf {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Debug for CodeBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> CodeBuf {
        CodeBuf::new(text.as_bytes()).unwrap()
    }

    #[test]
    fn seventh_characters_pad_with_placeholders() {
        assert_eq!(
            code("M48.50").with_seventh(b'A').unwrap().as_str(),
            "M48.50XA"
        );
        assert_eq!(code("T07").with_seventh(b'S').unwrap().as_str(), "T07.XXXS");
        assert_eq!(
            code("T36.0X1").with_seventh(b'D').unwrap().as_str(),
            "T36.0X1D"
        );
        assert_eq!(code("M48.50").placeholders(), 1);
        assert_eq!(code("T07").placeholders(), 3);
        assert!(code("M48.50XA").with_seventh(b'A').is_none());
    }

    #[test]
    fn order_and_prefixes_are_byte_order() {
        let codes = [
            "", "M", "M48", "M48.5", "M48.50", "M48.50XA", "M48.51", "M49", "T07.XXXA",
        ];
        for (i, a) in codes.iter().enumerate() {
            for (j, b) in codes.iter().enumerate() {
                assert_eq!(code(a).cmp(&code(b)), i.cmp(&j), "{a} {b}");
                assert_eq!(code(a).under(&code(b)), a.starts_with(b), "{a} {b}");
            }
        }
    }

    #[test]
    fn tabular_shape() {
        for ok in ["M48.50XA", "C4A.0", "QA0.0101", "g35", "A00"] {
            assert!(tabular_icd10cm(ok), "{ok}");
        }
        for bad in ["M48.", "M4850XA", "M48.50XAB", "4M8.5", "M-0.00XD", "M4"] {
            assert!(!tabular_icd10cm(bad), "{bad}");
        }
    }

    #[test]
    fn ancestors_skip_the_dot() {
        let all: Vec<String> = code("M48.50")
            .ancestors()
            .map(|c| c.as_str().to_string())
            .collect();
        assert_eq!(all, ["M48.5", "M48", "M4", "M"]);
        assert!(CodeBuf::new(b"M48.50XAB").is_none());
    }
}
