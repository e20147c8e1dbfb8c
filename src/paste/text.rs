//! Comparing printed descriptions with the tables' descriptions.
//!
//! Both are compared in a normal form (lower case, words of letters and digits separated by
//! single spaces), so that punctuation, case and line breaks do not count, and what remains
//! is compared by normalised Levenshtein similarity (`strsim`): 1 for the same words, less for
//! each character OCR or an abbreviation changed.

/// A printed description matches a table's when their similarity reaches this: a few
/// characters in a hundred may differ (OCR damage in the text, a hyphen or a word
/// the print splits).
pub const MATCH: f64 = 0.9;
/// Texts longer than this (in normal form) are not compared: no code's description is near
/// it, and comparing costs the product of the lengths.
const MAX_COMPARED: usize = 1024;

/// The normal form of a description: lower-case words of letters and digits.
pub fn normal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        } else {
            space = true;
        }
    }
    out
}

/// How alike two texts in normal form are, from 0 to 1.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (la, lb) = (a.chars().count(), b.chars().count());
    if la == 0 || lb == 0 {
        return if la == lb { 1.0 } else { 0.0 };
    }
    // Far apart in length, or too long to compare: not alike (and not worth the work).
    if la > MAX_COMPARED || lb > MAX_COMPARED || la > 2 * lb || lb > 2 * la {
        return 0.0;
    }
    strsim::normalized_levenshtein(a, b)
}

/// Which of several descriptions (normal form) a printed text is: the one nearest it in
/// characters, when it matches ([`MATCH`]) and every other is farther. Descriptions of
/// siblings differ in a word or two (`cervical` and `cervicothoracic region`), which a
/// similarity threshold alone does not tell apart; OCR damage that leaves the text as near to
/// two of them singles out neither. `Err` holds the indices of those as near as the nearest.
pub fn nearest(text: &str, descriptions: &[&str]) -> Result<usize, Vec<usize>> {
    let scored: Vec<(usize, usize)> = descriptions
        .iter()
        .enumerate()
        .filter(|(_, d)| similarity(text, d) >= MATCH)
        .map(|(i, d)| (i, strsim::levenshtein(text, d)))
        .collect();
    let Some(best) = scored.iter().map(|(_, d)| *d).min() else {
        return Err(Vec::new());
    };
    let at: Vec<usize> = scored
        .iter()
        .filter(|(_, d)| *d == best)
        .map(|(i, _)| *i)
        .collect();
    match at.as_slice() {
        [one] => Ok(*one),
        _ => Err(at),
    }
}

/// How alike a text is to the beginning of a description of its length: a wrapped row's
/// first line (`..., initial encounter for`) is the beginning of its description.
pub fn beginning(text: &str, description: &str) -> f64 {
    let n = text.chars().count();
    let head: String = description.chars().take(n).collect();
    similarity(text, &head)
}
