//! Code references in ICD-10-CM instructional notes: "pathological fracture of vertebra due to
//! osteoporosis (M80.-)" names `M80` and everything under it.

use std::fmt;

use super::code::tabular_icd10cm;

/// Codes a note names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CodeRef {
    /// `(M48.4)`: the code and, when it is a header, the codes under it (the tabular names a
    /// subcategory without a dash as often as with one).
    Code(String),
    /// `(M80.-)`, `(M84.4-)`: every code starting with it.
    Prefix(String),
    /// `(S12.0-S12.3-)`, `(O00-O07)`: every code from `first` to `last` and the codes under
    /// `last`.
    Range { first: String, last: String },
}

impl CodeRef {
    /// Whether a code in normal form is one the reference names.
    pub fn covers(&self, code: &str) -> bool {
        match self {
            CodeRef::Code(c) | CodeRef::Prefix(c) => code.starts_with(c.as_str()),
            CodeRef::Range { first, last } => {
                first.as_str() <= code && (code <= last.as_str() || code.starts_with(last.as_str()))
            }
        }
    }
}

impl fmt::Display for CodeRef {
    /// As the tabular writes it: `M48.4`, `M80.-`, `M84.4-`, `S12.0-S12.3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeRef::Code(c) => f.write_str(c),
            CodeRef::Prefix(p) if p.len() == 3 => write!(f, "{p}.-"),
            CodeRef::Prefix(p) => write!(f, "{p}-"),
            CodeRef::Range { first, last } => write!(f, "{first}-{last}"),
        }
    }
}

/// The codes an Excludes1 note names. When the note has parenthesised codes, only those count
/// ("any type in A15 (J65)" names J65); else any code in it does ("classified to Q87.-").
/// References qualified by "with" ("E08-E13 with .44", "S02.- with 7th character B") name codes
/// this model cannot state, so the group that has one gives nothing.
pub fn parse_refs(note: &str) -> Vec<CodeRef> {
    let groups = paren_groups(note);
    let scanned: Vec<(bool, Vec<CodeRef>)> = groups.iter().map(|g| refs_in(g)).collect();
    if scanned.iter().any(|(found, _)| *found) {
        scanned.into_iter().flat_map(|(_, refs)| refs).collect()
    } else {
        refs_in(note.as_bytes()).1
    }
}

/// The insides of innermost parentheses; an unclosed one runs to the end of the note.
fn paren_groups(note: &str) -> Vec<&[u8]> {
    let bytes = note.as_bytes();
    let mut out = Vec::new();
    let mut open = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' => open = Some(i + 1),
            b')' => {
                if let Some(start) = open.take() {
                    out.extend(bytes.get(start..i));
                }
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        out.extend(bytes.get(start..));
    }
    out
}

/// Whether the text has any code, and its references (none when one is qualified).
fn refs_in(text: &[u8]) -> (bool, Vec<CodeRef>) {
    let mut refs = Vec::new();
    let mut found = false;
    let mut qualified = false;
    let mut i = 0;
    while i < text.len() {
        let Some((first, dash, end)) = token(text, i) else {
            i += 1;
            continue;
        };
        found = true;
        let mut at = end;
        let connector = connector(text, &mut at) || dash;
        let (item, after) = match token(text, at).filter(|_| connector) {
            Some((last, _, after)) => (
                CodeRef::Range {
                    first: first.clone(),
                    last,
                },
                after,
            ),
            None if dash => (CodeRef::Prefix(first), end),
            None => (CodeRef::Code(first), end),
        };
        qualified |= followed_by_with(text, after);
        refs.push(item);
        i = after;
    }
    (found, if qualified { Vec::new() } else { refs })
}

/// A code at `i`: its normal form, whether a dash ends it (`M80.-`), and where it ends.
fn token(text: &[u8], i: usize) -> Option<(String, bool, usize)> {
    let at = |k: usize| text.get(k).copied().unwrap_or(0);
    if i > 0 && at(i - 1).is_ascii_alphanumeric() {
        return None;
    }
    let upper_or_digit = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    if !(at(i).is_ascii_uppercase() && upper_or_digit(at(i + 1)) && upper_or_digit(at(i + 2))) {
        return None;
    }
    let mut end = i + 3;
    if at(end) == b'.' && upper_or_digit(at(end + 1)) {
        end += 1;
        while upper_or_digit(at(end)) && end - i < 8 {
            end += 1;
        }
    }
    let body = String::from_utf8(text.get(i..end)?.to_vec()).ok()?;
    let mut next = end;
    if at(next) == b'.' {
        next += 1;
    }
    let dash = at(next) == b'-';
    if dash {
        next += 1;
    } else if at(next).is_ascii_alphanumeric() {
        return None;
    }
    // A code needs a digit among its first three characters; that keeps words such as "NOS"
    // and "HIV" out.
    let digit = text.get(i..i + 3)?.iter().any(u8::is_ascii_digit);
    (digit && tabular_icd10cm(&body)).then_some((body, dash, next))
}

/// Skips the spaces after a code and a range connector (`-`, `to`) with its spaces; whether
/// there was a connector.
fn connector(text: &[u8], at: &mut usize) -> bool {
    let skip_spaces = |at: &mut usize| {
        while text.get(*at) == Some(&b' ') {
            *at += 1;
        }
    };
    skip_spaces(at);
    if text.get(*at) == Some(&b'-') {
        *at += 1;
        skip_spaces(at);
        return true;
    }
    if text.get(*at..*at + 3) == Some(b"to ".as_slice()) {
        *at += 3;
        skip_spaces(at);
        return true;
    }
    // Spaces alone connect only after a dash ("I69.81- I69.91-"), which the caller knows.
    false
}

fn followed_by_with(text: &[u8], mut at: usize) -> bool {
    while matches!(text.get(at), Some(b' ' | b'-')) {
        at += 1;
    }
    text.get(at..at + 4) == Some(b"with".as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(note: &str) -> Vec<String> {
        parse_refs(note).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn tabular_notes() {
        assert_eq!(
            refs("pathological fracture of vertebra due to osteoporosis (M80.-)"),
            ["M80.-"]
        );
        assert_eq!(
            refs("traumatic fracture of vertebra (S12.-, S22.-, S32.-)"),
            ["S12.-", "S22.-", "S32.-"]
        );
        assert_eq!(refs("fatigue fracture of vertebra (M48.4)"), ["M48.4"]);
        assert_eq!(refs("pathological fracture NOS (M84.4-)"), ["M84.4-"]);
        assert_eq!(
            refs("traumatic fracture of vertebrae (S12.0-S12.3-, S22.0-, S32.0-)"),
            ["S12.0-S12.3", "S22.0-", "S32.0-"]
        );
        assert_eq!(
            refs("specified adverse effects (A00-R94 and T80-T88.6, T88.8)"),
            ["A00-R94", "T80-T88.6", "T88.8"]
        );
        assert_eq!(refs("rheumatic fever (I01.0 -I01.9)"), ["I01.0-I01.9"]);
        assert_eq!(refs("apnea of newborn (P28.3- - P28.4-)"), ["P28.3-P28.4"]);
        assert_eq!(
            refs("nerve root compression (M50.1.-, M51.1.-)"),
            ["M50.1-", "M51.1-"]
        );
        assert_eq!(
            refs("coalworker pneumoconiosis, any type in A15 (J65)"),
            ["J65"]
        );
        assert_eq!(
            refs("neonatal obstructions classifiable to P76.-"),
            ["P76.-"]
        );
        assert_eq!(
            refs("concussion classified in subcategories S06.1- to S06.6-, and S06.81- to S06.89-"),
            ["S06.1-S06.6", "S06.81-S06.89"]
        );
        assert_eq!(refs("G6PD deficiency with anemia (D55.0)"), ["D55.0"]);
        assert_eq!(
            refs("Crohn's disease (K50.014, K50.114,)"),
            ["K50.014", "K50.114"]
        );
        assert_eq!(refs("prosthesis (Z89.52-"), ["Z89.52-"]);
        assert!(refs("current injury - see Injury of spine, by body region").is_empty());
    }

    #[test]
    fn qualified_references_name_nothing() {
        assert!(refs("neuralgic amyotrophy in diabetes mellitus (E08-E13 with .44)").is_empty());
        assert!(refs("open skull fracture (S02.- with 7th character B)").is_empty());
        assert!(refs("stuttering (I69. with final characters -23)").is_empty());
        assert!(
            refs("diabetic acidosis - see categories E08-E10, E11, E13 with ketoacidosis")
                .is_empty()
        );
    }

    #[test]
    fn coverage() {
        let prefix = CodeRef::Prefix("M80".into());
        assert!(prefix.covers("M80.08XA"));
        assert!(!prefix.covers("M81.0"));
        let range = CodeRef::Range {
            first: "S12.0".into(),
            last: "S12.3".into(),
        };
        assert!(range.covers("S12.000A"));
        assert!(range.covers("S12.391S"));
        assert!(!range.covers("S12.400A"));
        assert!(CodeRef::Code("M48.4".into()).covers("M48.40XA"));
    }
}
