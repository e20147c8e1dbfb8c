//! Code systems and the format of their codes.
//!
//! This module knows what a code of each system looks like; it does not know which codes exist
//! (that is the code tables' job). Codes are kept in one normal form: upper case, with the dot
//! where the system prints one.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum System {
    Icd10Cm,
    Icd10Pcs,
    Cpt,
    Hcpcs,
}

impl System {
    pub const ALL: &'static [System] = &[
        System::Icd10Cm,
        System::Icd10Pcs,
        System::Cpt,
        System::Hcpcs,
    ];

    pub fn parse(name: &str) -> Option<System> {
        Some(match name {
            "icd10cm" => System::Icd10Cm,
            "icd10pcs" => System::Icd10Pcs,
            "cpt" => System::Cpt,
            "hcpcs" => System::Hcpcs,
            _ => return None,
        })
    }

    /// The name used in policies: `icd10cm`.
    pub fn name(self) -> &'static str {
        match self {
            System::Icd10Cm => "icd10cm",
            System::Icd10Pcs => "icd10pcs",
            System::Cpt => "cpt",
            System::Hcpcs => "hcpcs",
        }
    }

    /// The printed name: `ICD-10-CM`.
    pub fn display(self) -> &'static str {
        match self {
            System::Icd10Cm => "ICD-10-CM",
            System::Icd10Pcs => "ICD-10-PCS",
            System::Cpt => "CPT",
            System::Hcpcs => "HCPCS",
        }
    }

    fn example(self) -> &'static str {
        match self {
            System::Icd10Cm => "`M80.08XA`",
            System::Icd10Pcs => "`0QU03JZ`",
            System::Cpt => "`22510` or `0200T`",
            System::Hcpcs => "`C1062`",
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A code or a prefix pattern, in normal form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodeForm {
    Exact(String),
    /// Every code starting with this text (`M80.08X*`, `M80.08X-`, `M80.-`).
    Prefix(String),
}

/// Why a written code does not have its system's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// Completes "`X` is not a valid ICD-10-CM code: ..."
    pub reason: String,
    pub help: Option<String>,
}

impl FormatError {
    fn new(reason: impl Into<String>) -> FormatError {
        FormatError {
            reason: reason.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> FormatError {
        self.help = Some(help.into());
        self
    }
}

/// Reads a code or pattern of `system` as written in a policy.
pub fn parse_code(system: System, written: &str) -> Result<CodeForm, FormatError> {
    let upper = written.to_ascii_uppercase();
    let (body, pattern) = if let Some(b) = upper.strip_suffix('*') {
        (b.to_string(), true)
    } else if upper.ends_with('-') {
        (upper.trim_end_matches('-').to_string(), true)
    } else {
        (upper.clone(), false)
    };
    if system == System::Icd10Cm && !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(FormatError::new("ICD-10-CM codes start with a letter")
            .help("the first character is a letter, such as the `M` of `M80.08XA`"));
    }
    if let Some(c) = body
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && *c != '.')
    {
        let reason = match c {
            '-' => format!(
                "`-` can only end a pattern such as {}",
                pattern_example(system)
            ),
            '*' => format!(
                "`*` can only end a pattern such as {}",
                pattern_example(system)
            ),
            c => format!("`{c}` is not a letter or digit"),
        };
        return Err(FormatError::new(reason));
    }
    match system {
        System::Icd10Cm => icd10cm(&body, pattern),
        System::Icd10Pcs => fixed(system, &body, pattern, 7, pcs_char),
        System::Cpt => cpt(&body, pattern),
        System::Hcpcs => hcpcs(&body, pattern),
    }
    .map(|code| {
        if pattern {
            CodeForm::Prefix(code)
        } else {
            CodeForm::Exact(code)
        }
    })
}

fn pattern_example(system: System) -> &'static str {
    match system {
        System::Icd10Cm => "`M80.08X-`",
        System::Icd10Pcs => "`0QU0*`",
        System::Cpt => "`2251*`",
        System::Hcpcs => "`C10*`",
    }
}

fn icd10cm(body: &str, pattern: bool) -> Result<String, FormatError> {
    let dot = body.find('.');
    if body.matches('.').count() > 1 {
        return Err(FormatError::new("a code has at most one `.`"));
    }
    let plain: String = body.chars().filter(|c| *c != '.').collect();
    if plain.is_empty() {
        return Err(FormatError::new("the code is empty"));
    }
    // The second character is a digit, or since April 2026 a letter (category `QA0`).
    match dot {
        Some(3) => {}
        Some(at) => {
            let fixed = format!(
                "{}.{}",
                plain.get(..3).unwrap_or(""),
                plain.get(3..).unwrap_or("")
            );
            let err = FormatError::new(format!(
                "the `.` must follow the third character, not the {}",
                // `at` characters come before the dot: it follows the at-th.
                ordinal(at.saturating_sub(1))
            ));
            // A code too long for the system is not mended by a dot: no help echoes it.
            return Err(if plain.len() > 7 || (plain.len() > 3 && at > 3) {
                err
            } else {
                err.help(format!("did you mean `{fixed}`?"))
            });
        }
        None if plain.len() > 3 && plain.len() <= 7 => {
            let fixed = format!(
                "{}.{}",
                plain.get(..3).unwrap_or(""),
                plain.get(3..).unwrap_or("")
            );
            return Err(
                FormatError::new("the `.` after the third character is missing")
                    .help(format!("write `{fixed}`")),
            );
        }
        None => {}
    }
    if plain.len() > 7 {
        return Err(FormatError::new(format!(
            "ICD-10-CM codes have at most 7 characters, not {}",
            plain.len()
        )));
    }
    if !pattern && plain.len() < 3 {
        return Err(FormatError::new(
            "ICD-10-CM codes have at least 3 characters",
        ));
    }
    if !pattern && body.ends_with('.') {
        return Err(FormatError::new("a code does not end in `.`").help(format!(
            "write `{}`, or `{body}-` for every code below it",
            body.trim_end_matches('.')
        )));
    }
    if pattern && plain.len() >= 7 {
        return Err(FormatError::new(
            "a pattern is shorter than a full code: it stands for the codes that start with it",
        )
        .help(format!("write the code `{body}` itself")));
    }
    // A pattern may end in its dot (`M80.-`); the normal form drops it.
    Ok(body.trim_end_matches('.').to_string())
}

fn ordinal(zero_based: usize) -> String {
    match zero_based + 1 {
        1 => "first".into(),
        2 => "second".into(),
        3 => "third".into(),
        4 => "fourth".into(),
        5 => "fifth".into(),
        6 => "sixth".into(),
        n => format!("{n}th"),
    }
}

fn pcs_char(c: u8) -> Result<(), FormatError> {
    match c {
        b'O' => Err(FormatError::new("ICD-10-PCS codes never contain the letter `O`")
            .help("the letter `O` is not used, to avoid confusion with `0`: did you mean the digit `0`?")),
        b'I' => Err(FormatError::new("ICD-10-PCS codes never contain the letter `I`")
            .help("the letter `I` is not used, to avoid confusion with `1`: did you mean the digit `1`?")),
        c if c.is_ascii_alphanumeric() => Ok(()),
        _ => Err(FormatError::new("ICD-10-PCS codes have only letters and digits")),
    }
}

fn fixed(
    system: System,
    body: &str,
    pattern: bool,
    len: usize,
    check: fn(u8) -> Result<(), FormatError>,
) -> Result<String, FormatError> {
    if body.contains('.') {
        return Err(FormatError::new(format!(
            "{} codes have no `.`",
            system.display()
        )));
    }
    for b in body.bytes() {
        check(b)?;
    }
    let ok = if pattern {
        body.len() < len
    } else {
        body.len() == len
    };
    if !ok {
        return Err(FormatError::new(if pattern {
            format!(
                "a pattern of {} codes has fewer than {len} characters before its `*`",
                system.display()
            )
        } else {
            format!(
                "{} codes have {len} characters, not {}; for example {}",
                system.display(),
                body.len(),
                system.example()
            )
        }));
    }
    Ok(body.to_string())
}

fn cpt(body: &str, pattern: bool) -> Result<String, FormatError> {
    let code = fixed(System::Cpt, body, pattern, 5, |c| {
        if c.is_ascii_alphanumeric() {
            Ok(())
        } else {
            Err(FormatError::new(
                "CPT codes have only digits and a final letter",
            ))
        }
    })?;
    let b = code.as_bytes();
    let digits_ok = b.iter().take(4).all(u8::is_ascii_digit);
    let last_ok = b
        .get(4)
        .is_none_or(|c| c.is_ascii_digit() || matches!(c, b'F' | b'T' | b'U'));
    if !digits_ok || !last_ok {
        return Err(FormatError::new(
            "CPT codes are four digits and a fifth digit or `F`, `T` or `U` (`22510`, `0200T`)",
        ));
    }
    Ok(code)
}

fn hcpcs(body: &str, pattern: bool) -> Result<String, FormatError> {
    let code = fixed(System::Hcpcs, body, pattern, 5, |c| {
        if c.is_ascii_alphanumeric() {
            Ok(())
        } else {
            Err(FormatError::new(
                "HCPCS codes have only a letter and digits",
            ))
        }
    })?;
    let b = code.as_bytes();
    let first_ok = b.first().is_none_or(|c| (b'A'..=b'V').contains(c));
    if !first_ok || !b.iter().skip(1).all(u8::is_ascii_digit) {
        return Err(FormatError::new(
            "HCPCS Level II codes are a letter `A` to `V` and four digits (`C1062`)",
        ));
    }
    Ok(code)
}

/// An item of a code set: a code, a pattern, or an inclusive range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CodeItem {
    Exact(String),
    Prefix(String),
    /// All codes from the first to the last, in the order of their normal forms.
    Range(String, String),
}

impl CodeItem {
    /// Whether a code (in normal form) is covered by this item.
    pub fn matches(&self, code: &str) -> bool {
        match self {
            CodeItem::Exact(c) => c == code,
            CodeItem::Prefix(p) => code.starts_with(p.as_str()),
            CodeItem::Range(lo, hi) => lo.as_str() <= code && code <= hi.as_str(),
        }
    }
}

impl fmt::Display for CodeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeItem::Exact(c) => f.write_str(c),
            CodeItem::Prefix(p) => write!(f, "{p}*"),
            CodeItem::Range(lo, hi) => write!(f, "{lo}..{hi}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(system: System, text: &str) -> CodeForm {
        parse_code(system, text).unwrap()
    }

    fn err(system: System, text: &str) -> String {
        parse_code(system, text).unwrap_err().reason
    }

    #[test]
    fn icd10cm_codes_and_patterns() {
        assert_eq!(
            ok(System::Icd10Cm, "M80.08XA"),
            CodeForm::Exact("M80.08XA".into())
        );
        assert_eq!(
            ok(System::Icd10Cm, "m48.50xa"),
            CodeForm::Exact("M48.50XA".into())
        );
        assert_eq!(
            ok(System::Icd10Cm, "M80.08X-"),
            CodeForm::Prefix("M80.08X".into())
        );
        assert_eq!(
            ok(System::Icd10Cm, "M80.08X*"),
            CodeForm::Prefix("M80.08X".into())
        );
        assert_eq!(ok(System::Icd10Cm, "M80.-"), CodeForm::Prefix("M80".into()));
        assert_eq!(
            ok(System::Icd10Cm, "C4A.0"),
            CodeForm::Exact("C4A.0".into())
        );
        assert_eq!(ok(System::Icd10Cm, "G35"), CodeForm::Exact("G35".into()));
    }

    #[test]
    fn garbled_seed_codes_are_rejected_precisely() {
        assert!(err(System::Icd10Cm, "WI40.50XA").contains("third character, not the fourth"));
        assert_eq!(
            ok(System::Icd10Cm, "QA0.0"),
            CodeForm::Exact("QA0.0".into())
        );
        assert!(err(System::Icd10Cm, "M-0.00XD").contains("`-` can only end a pattern"));
        assert!(err(System::Icd10Cm, "101-0.0070").contains("start with a letter"));
        assert!(err(System::Icd10Cm, "M4850XA").contains("missing"));
        assert!(err(System::Icd10Cm, "M485.0XA").contains("third character"));
        assert!(err(System::Icd10Cm, "M80.").contains("does not end in `.`"));
        assert!(err(System::Icd10Cm, "M80.08XA*").contains("shorter than a full code"));
    }

    #[test]
    fn pcs_cpt_hcpcs_formats() {
        assert_eq!(
            ok(System::Icd10Pcs, "0QU03JZ"),
            CodeForm::Exact("0QU03JZ".into())
        );
        assert!(err(System::Icd10Pcs, "OQU03JZ").contains("`O`"));
        assert!(err(System::Icd10Pcs, "0QU03J").contains("7 characters"));
        assert_eq!(ok(System::Cpt, "0200t"), CodeForm::Exact("0200T".into()));
        assert!(parse_code(System::Cpt, "2251").is_err());
        assert!(parse_code(System::Cpt, "A2251").is_err());
        assert_eq!(ok(System::Cpt, "2251*"), CodeForm::Prefix("2251".into()));
        assert_eq!(ok(System::Hcpcs, "C1062"), CodeForm::Exact("C1062".into()));
        assert!(parse_code(System::Hcpcs, "Z1062").is_err());
    }

    #[test]
    fn items_match_codes() {
        let range = CodeItem::Range("M48.50XA".into(), "M48.58XS".into());
        assert!(range.matches("M48.54XD"));
        assert!(!range.matches("M48.59XA"));
        assert!(CodeItem::Prefix("M80.08X".into()).matches("M80.08XA"));
    }
}
