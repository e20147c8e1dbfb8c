//! Random token sequences and mutated policies through parse, check and all three renderers.
//!
//! Library code answers any text with diagnostics, never a panic; these properties also hold
//! the diagnostics to pointing inside the text they are about, since an editor or a renderer
//! that trusts a bad span is the next thing to break.

use medpol::ast::{Decl, File};
use medpol::check::{Checked, ImportMap, check};
use medpol::diagnostic::{Diagnostic, Severity};
use medpol::render::{human, json, short};
use medpol::source::{FileId, SourceFile, Sources, Span};
use medpol::syntax::{RESERVED, parse, scan::MAX_NESTING};
use proptest::prelude::*;
use proptest::sample::Index;

const VALID_POLICY: &str = include_str!("cases/check/ok-complete-policy.medpol");

/// Words that are keywords only where they appear (the reserved ones come from
/// `syntax::RESERVED`).
const CONTEXT_KEYWORDS: &[&str] = &[
    "outcomes", "inputs", "given", "expect", "at", "least", "most", "exactly", "of", "any", "all",
    "none", "from", "enum", "at least", "at most",
];

/// Names the checker knows (types, units, code systems, hit policies, metadata keys), so that
/// random text sometimes gets past name resolution.
const KNOWN_NAMES: &[&str] = &[
    "bool",
    "int",
    "decimal",
    "percent",
    "duration",
    "code",
    "set",
    "icd10cm",
    "icd10pcs",
    "cpt",
    "hcpcs",
    "days",
    "weeks",
    "months",
    "years",
    "first",
    "unique",
    "title",
    "version",
    "effective",
    "description",
    "age",
    "flag",
    "yes",
    "no",
];

/// Non-ASCII names, and names that look like ASCII ones but are not.
const ODD_NAMES: &[&str] = &[
    "âge",
    "аge",
    "agе",
    "ａｇｅ",
    "ǅx",
    "x\u{301}",
    "𝓍",
    "日本語",
    "Il1",
    "O0",
    "ß",
    "ﬁle",
    "_",
    "x\u{200d}y",
    "ℌ",
    "Ⅸ",
];

const CODES: &[&str] = &[
    "M80.08XA",
    "M80.08X-",
    "M80.88X*",
    "M48.50XA..M48.58XS",
    "22510",
    "0200T",
    "0QU03JZ",
    "WI40.50XA",
    "S32.02-",
    "A0",
    "..",
    "M80..",
    "*",
    "-",
];

const PUNCTUATION: &[&str] = &[
    "{", "}", "(", ")", "<", ">", ":", "=", ",", "..", "+", "-", "==", "!=", "<=", ">=", ";", "[",
    "]", "*", "/", "%", "!", "&&", "||", "=>", "\"", "\\",
];

const COMMENTS: &[&str] = &[
    "// a comment",
    "//",
    "/* block */",
    "/**/",
    "/* two\nlines */",
    "/* unterminated",
    "*/",
    "/* /* */ */",
    "// fact hidden: bool",
];

const ODD_CHARS: &[&str] = &[
    "\0", "\u{7f}", "\u{1b}", "\u{fffd}", "\u{feff}", "\u{200b}", "\u{2028}", "\u{a0}",
];

const UNITS: &[&str] = &[
    "days", "day", "weeks", "week", "months", "month", "years", "year", "%", "percent", "weekz",
];

const SEPARATORS: &[&str] = &[
    " ", " ", " ", "\n", "\t", "\r\n", "\r", "", "  \n    ", "\n\n",
];

fn pick(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(words).prop_map(str::to_string)
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-1000i32..1000, 0u32..100_000).prop_map(|(a, b)| format!("{a}.{b}")),
        pick(&[
            "0",
            "-0",
            "007",
            "1.",
            ".5",
            "1e5",
            "99999999999999999999999999999",
            "0.00000000000000000000000000001",
            "18446744073709551616",
            "-2.95",
            "78.5",
        ]),
    ]
}

fn token() -> impl Strategy<Value = String> {
    let quantity = (number(), pick(&["", " ", "\t", "\n"]), pick(UNITS))
        .prop_map(|(n, gap, unit)| format!("{n}{gap}{unit}"));
    // `\n` is among the escapes: a title holding a line break must not split a message.
    let string = prop_oneof![
        r#""([a-zA-Z0-9 {}(),.é]|\\["\\tnq0])*""#,
        r#""[a-z ]{0,8}\\?"#,
    ];
    let date = prop_oneof![
        pick(&[
            "2024-01-01",
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "0000-00-00",
            "2024-1-1"
        ]),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
    ];
    prop_oneof![
        3 => pick(RESERVED),
        1 => pick(CONTEXT_KEYWORDS),
        2 => pick(KNOWN_NAMES),
        2 => "[a-z_][a-z0-9_]{0,6}",
        1 => pick(ODD_NAMES),
        2 => number(),
        2 => quantity,
        2 => pick(CODES),
        1 => "[A-Z][0-9]{2}(\\.[0-9A-Z]{1,4})?[-*]?",
        2 => string,
        1 => pick(COMMENTS),
        4 => pick(PUNCTUATION),
        1 => date,
        1 => pick(ODD_CHARS),
    ]
}

/// Pieces of real declarations: declarations start only at a line's first word, and with
/// single tokens alone almost no line would start one, so nothing would reach the checker.
const SNIPPETS: &[&str] = &[
    "fact a: bool",
    "fact n: int",
    "fact age: duration<years>",
    "fact s: enum { x, y }",
    "fact dx: set<code<icd10cm>>",
    "fact p: code<cpt>",
    "define d = a",
    "define q = age > 6 weeks",
    "codes c = icd10cm { M80.08XA }",
    "codes k = cpt { 22510 }",
    "decision d (first) {",
    "outcomes { yes, no }",
    "inputs { a, n }",
    "rule r when a then yes",
    "otherwise no",
    "}",
    "test \"t\" {",
    "given { a = true, n = 3 }",
    "expect d = yes",
    "policy \"p\" {",
    "title \"t\"",
    "version \"1\"",
    "effective 2025-01-01",
    "import { a } from \"x.medpol\"",
];

fn token_soup() -> impl Strategy<Value = String> {
    let line_start = prop_oneof![
        2 => pick(SNIPPETS),
        1 => pick(&["policy", "import", "fact", "codes", "define", "decision", "test"]),
        1 => token(),
    ];
    let rest = prop_oneof![
        Just(Vec::new()),
        prop::collection::vec((pick(SEPARATORS), token()), 1..10),
    ];
    let line = (line_start, rest);
    prop::collection::vec((line, pick(&["\n", "\r\n", "\r", "\n\n"])), 0..12).prop_map(|lines| {
        let mut text = String::new();
        for ((start, rest), end) in lines {
            text.push_str(&start);
            for (sep, t) in rest {
                text.push_str(&sep);
                text.push_str(&t);
            }
            text.push_str(&end);
        }
        text
    })
}

/// Cuts text into tokens such that joining them gives the text back: runs of blanks, line
/// comments, strings, words and single punctuation marks.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let len = if c.is_whitespace() {
            rest.find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len())
        } else if rest.starts_with("//") {
            rest.find('\n').unwrap_or(rest.len())
        } else if c == '"' {
            rest[1..].find('"').map_or(rest.len(), |i| i + 2)
        } else if c.is_alphanumeric() || "_.-*%".contains(c) {
            rest.find(|c: char| !(c.is_alphanumeric() || "_.-*%".contains(c)))
                .unwrap_or(rest.len())
        } else {
            c.len_utf8()
        };
        let (head, tail) = rest.split_at(len);
        tokens.push(head.to_string());
        rest = tail;
    }
    tokens
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(Index),
    Duplicate(Index),
    Swap(Index, Index),
    Insert(Index, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<Index>().prop_map(Edit::Delete),
        any::<Index>().prop_map(Edit::Duplicate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        (any::<Index>(), token()).prop_map(|(at, t)| Edit::Insert(at, t)),
    ]
}

fn mutated_policy() -> impl Strategy<Value = String> {
    prop::collection::vec(edit(), 1..8).prop_map(|edits| {
        let mut tokens = tokenize(VALID_POLICY);
        for e in edits {
            if tokens.is_empty() {
                break;
            }
            match e {
                Edit::Delete(i) => {
                    tokens.remove(i.index(tokens.len()));
                }
                Edit::Duplicate(i) => {
                    let i = i.index(tokens.len());
                    tokens.insert(i, tokens[i].clone());
                }
                Edit::Swap(a, b) => {
                    let (a, b) = (a.index(tokens.len()), b.index(tokens.len()));
                    tokens.swap(a, b);
                }
                Edit::Insert(i, t) => {
                    let i = i.index(tokens.len() + 1);
                    tokens.insert(i, t);
                }
            }
        }
        tokens.concat()
    })
}

struct Run {
    sources: Sources,
    id: FileId,
    file: File,
    checked: Checked,
    diagnostics: Vec<Diagnostic>,
}

fn run(text: &str) -> Run {
    let mut sources = Sources::new();
    // The file under test is not the first one, so a span that lost its file (and so points
    // at file 0) is caught.
    sources.add(SourceFile::new(
        "other.medpol",
        None,
        "fact other: bool\n".to_string(),
    ));
    let id = sources.add(SourceFile::new("input.medpol", None, text.to_string()));
    let parsed = parse(id, text);
    let checked = check(
        std::slice::from_ref(&parsed.file),
        &ImportMap::new(),
        medpol::tables::TableSet::shipped(),
        &[],
    );
    let mut diagnostics = parsed.diagnostics;
    diagnostics.extend(checked.diagnostics.iter().cloned());
    Run {
        sources,
        id,
        file: parsed.file,
        checked,
        diagnostics,
    }
}

fn span_fits(span: Span, id: FileId, text: &str) -> Result<(), String> {
    let (start, end) = (span.start as usize, span.end as usize);
    if span.file != id {
        return Err(format!("span {span:?} is in another file"));
    }
    if start > end || end > text.len() {
        return Err(format!(
            "span {start}..{end} is outside the text of {} bytes",
            text.len()
        ));
    }
    if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return Err(format!("span {start}..{end} cuts a character"));
    }
    Ok(())
}

fn check_properties(text: &str) -> Result<(), TestCaseError> {
    let r = run(text);
    for d in &r.diagnostics {
        prop_assert!(
            d.labels.iter().any(|l| l.primary),
            "{} `{}` has no primary label",
            d.code,
            d.message
        );
        for l in &d.labels {
            if let Err(why) = span_fits(l.span, r.id, text) {
                return Err(TestCaseError::fail(format!(
                    "{} `{}`: {why}",
                    d.code, d.message
                )));
            }
        }
    }
    for reference in &r.checked.references {
        if let Err(why) = span_fits(reference.span, r.id, text) {
            return Err(TestCaseError::fail(format!(
                "reference {reference:?}: {why}"
            )));
        }
    }

    let shown = short::render(&r.sources, &r.diagnostics);
    prop_assert_eq!(
        shown.lines().count(),
        r.diagnostics.len(),
        "one line each:\n{}",
        shown
    );
    for (line, d) in shown.lines().zip(&r.diagnostics) {
        prop_assert!(
            line.starts_with("input.medpol:") && line.contains(&format!("[{}]", d.code)),
            "short line `{}` for {}",
            line,
            d.code
        );
    }

    let report: serde_json::Value =
        serde_json::from_str(&json::render(&r.sources, &r.diagnostics, 1))
            .map_err(|e| TestCaseError::fail(format!("the JSON form does not parse: {e}")))?;
    let errors = r
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    prop_assert_eq!(report["summary"]["errors"].as_u64(), Some(errors as u64));
    prop_assert_eq!(
        report["diagnostics"].as_array().map(Vec::len),
        Some(r.diagnostics.len())
    );

    let drawn = human::render(&r.sources, &r.diagnostics, human::Color::Never);
    for d in &r.diagnostics {
        prop_assert!(
            drawn.contains(d.code.as_str()),
            "{} missing from the report:\n{}",
            d.code,
            drawn
        );
    }

    let again = run(text);
    prop_assert_eq!(
        &again.diagnostics,
        &r.diagnostics,
        "a second run reports differently"
    );

    let program = r.checked.program();
    let declared = |f: fn(&Decl) -> bool| r.file.decls.iter().filter(|d| f(d)).count();
    let named_sets = program
        .code_sets
        .iter()
        .filter(|s| s.name.is_some())
        .count();
    let in_program = program.facts.len()
        + named_sets
        + program.defines.len()
        + program.decisions.len()
        + program.policies.len()
        + program.tests.len();
    prop_assert!(
        in_program == 0 || !r.file.decls.is_empty(),
        "a program from a file that declares nothing"
    );
    prop_assert!(
        program.policies.len() <= 1,
        "a file holds at most one policy"
    );
    // An import is resolved by the project loader, which reports a file it cannot read; this
    // test checks a file alone, so a file with an import has that error unseen here.
    let unresolved = r.file.imports().next().is_some();
    if errors == 0 && !unresolved {
        prop_assert!(
            r.file.broken.is_empty(),
            "a declaration did not parse, yet no error"
        );
        prop_assert!(!r.file.decls.is_empty(), "no declarations, yet no error");
        if let Err(why) = r.checked.valid() {
            return Err(TestCaseError::fail(format!(
                "no error, yet the model is not valid: {why}"
            )));
        }
        prop_assert_eq!(
            program.facts.len(),
            declared(|d| matches!(d, Decl::Fact(_)))
        );
        prop_assert_eq!(named_sets, declared(|d| matches!(d, Decl::Codes(_))));
        prop_assert_eq!(
            program.defines.len(),
            declared(|d| matches!(d, Decl::Define(_)))
        );
        prop_assert_eq!(
            program.decisions.len(),
            declared(|d| matches!(d, Decl::Decision(_)))
        );
        prop_assert_eq!(
            program.policies.len(),
            declared(|d| matches!(d, Decl::Policy(_)))
        );
        prop_assert_eq!(
            program.tests.len(),
            declared(|d| matches!(d, Decl::Test(_)))
        );
    }
    Ok(())
}

fn assert_properties(text: &str) {
    if let Err(e) = check_properties(text) {
        panic!("{e}");
    }
}

proptest! {
    #[test]
    fn token_soup_gets_diagnostics_that_fit(text in token_soup()) {
        check_properties(&text)?;
    }

    #[test]
    fn mutated_policy_gets_diagnostics_that_fit(text in mutated_policy()) {
        check_properties(&text)?;
    }
}

#[test]
fn the_valid_policy_is_clean_and_round_trips_through_the_tokenizer() {
    // Both strategies lean on this: mutations start from a clean file, and a tokenizer that
    // lost text would mutate something else.
    assert_eq!(tokenize(VALID_POLICY).concat(), VALID_POLICY);
    assert_eq!(run(VALID_POLICY).diagnostics, Vec::new());
    assert_properties(VALID_POLICY);
}

#[test]
fn set_and_operator_nesting_at_the_limit_parses_and_one_more_is_refused() {
    // tests/bad_input.rs covers plain parentheses and counts at the limit; sets and brackets
    // after an operator take other paths through the grammar and the checker, and the deepest
    // accepted input must be as safe on a test thread's small stack.
    let cases: &[(&str, &str, &str, &str)] = &[
        ("define d = ", "not (", "flag", ")"),
        ("define d = ", "(flag or ", "flag", ")"),
        ("codes c = ", "(", "icd10cm { M80.08XA }", ")"),
        ("define d = dx has any ", "(", "icd10cm { M80.08XA }", ")"),
        ("define d = dx has all ", "(c + ", "c", ")"),
    ];
    for (prefix, open, core, close) in cases {
        let core_depth = core.matches('{').count();
        for depth in [MAX_NESTING, MAX_NESTING + 1] {
            let n = depth - core_depth;
            let text = format!(
                "fact flag: bool\nfact dx: set<code<icd10cm>>\ncodes c = icd10cm {{ M80.08XA }}\n\
                 {prefix}{}{core}{}\n",
                open.repeat(n),
                close.repeat(n)
            );
            let r = run(&text);
            let too_deep = r.diagnostics.iter().any(|d| d.code.as_str() == "E0006");
            assert_eq!(
                too_deep,
                depth > MAX_NESTING,
                "{prefix}{open}…{close} at depth {depth}"
            );
            assert_properties(&text);
        }
    }
}
