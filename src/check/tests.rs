//! Unit tests of the checker: each checks a diagnostic's code and where it points.

use super::*;
use crate::source::FileId;

/// Parses and checks one file; returns (code, the text under the primary label).
fn check_text(text: &str) -> Vec<(Code, String)> {
    let parsed = crate::syntax::parse(FileId(0), text);
    let checked = check(
        &[parsed.file],
        &ImportMap::new(),
        crate::tables::TableSet::shipped(),
        &[],
    );
    let mut out: Vec<(Code, String)> = parsed
        .diagnostics
        .iter()
        .chain(checked.diagnostics.iter())
        .map(|d| {
            let s = d.primary_span().unwrap_or_default();
            (d.code, text.get(s.range()).unwrap_or("").to_string())
        })
        .collect();
    out.sort();
    out
}

const HEAD: &str = "policy \"p\" {\n title \"t\"\n version \"1\"\n effective 2025-01-01\n}\n";

fn policy(body: &str) -> String {
    format!("{HEAD}{body}")
}

#[test]
fn a_clean_policy_has_no_diagnostics() {
    let text = policy(
        "fact age: duration<years>\n\
         fact setting: enum { inpatient, outpatient }\n\
         define old = age > 78.5 years\n\
         decision d (first) {\n outcomes { yes, no }\n rule r when old and setting == inpatient then yes\n otherwise no\n}\n\
         test \"t\" { given { age = 80 years, setting = inpatient } expect d = yes }\n",
    );
    assert_eq!(check_text(&text), vec![]);
}

#[test]
fn unknown_names_point_at_the_name() {
    let text = policy(
        "fact symptomatic: bool\n\
         decision d (first) {\n outcomes { yes }\n rule r when symptomatc then yes\n}\n",
    );
    assert_eq!(
        check_text(&text),
        vec![
            (Code::UnknownName, "symptomatc".into()),
            (Code::UnusedFact, "symptomatic".into())
        ]
    );
}

#[test]
fn duplicates_point_at_both_declarations() {
    let parsed = crate::syntax::parse(FileId(0), "fact a: bool\nfact a: int\n");
    let checked = check(
        &[parsed.file],
        &ImportMap::new(),
        crate::tables::TableSet::shipped(),
        &[],
    );
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == Code::DuplicateDefinition)
        .expect("a duplicate");
    let spans: Vec<(u32, u32, bool)> = d
        .labels
        .iter()
        .map(|l| (l.span.start, l.span.end, l.primary))
        .collect();
    assert_eq!(spans, vec![(18, 19, true), (5, 6, false)]);
}

#[test]
fn units_convert_exactly_or_not_at_all() {
    let ok = policy(
        "fact care: duration<days>\n\
         decision d (first) {\n outcomes { yes }\n rule r when care >= 6 weeks then yes\n}\n",
    );
    assert_eq!(check_text(&ok), vec![]);
    let bad = policy(
        "fact care: duration<days>\n\
         decision d (first) {\n outcomes { yes }\n rule r when care >= 2 months then yes\n}\n",
    );
    assert_eq!(
        check_text(&bad),
        vec![(Code::UnitMismatch, "2 months".into())]
    );
    let no_unit = policy(
        "fact care: duration<days>\n\
         decision d (first) {\n outcomes { yes }\n rule r when care >= 6 then yes\n}\n",
    );
    assert_eq!(check_text(&no_unit), vec![(Code::UnitMismatch, "6".into())]);
    let converted = policy(
        "fact care: duration<days>\n\
         decision d (first) {\n outcomes { yes }\n rule r when care as months >= 2 months then yes\n}\n",
    );
    assert_eq!(check_text(&converted), vec![]);
}

#[test]
fn comparisons_normalise_to_the_facts_unit() {
    let text = policy(
        "fact care: duration<days>\n\
         decision d (first) {\n outcomes { yes }\n rule r when 6 weeks <= care then yes\n}\n",
    );
    let parsed = crate::syntax::parse(FileId(0), &text);
    let checked = check(
        &[parsed.file],
        &ImportMap::new(),
        crate::tables::TableSet::shipped(),
        &[],
    );
    let rule = &checked.program().decisions[0].rules[0];
    match &rule.condition.kind {
        ExprKind::Compare { op, value, .. } => {
            assert_eq!(*op, crate::ast::CmpOp::Ge);
            assert_eq!(value.to_string(), "42");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn enum_values_are_checked_with_suggestions() {
    let text = policy(
        "fact setting: enum { inpatient, outpatient }\n\
         decision d (first) {\n outcomes { yes }\n rule r when setting == inpatinet then yes\n}\n",
    );
    assert_eq!(
        check_text(&text),
        vec![(Code::UnknownEnumValue, "inpatinet".into())]
    );
}

#[test]
fn codes_of_the_wrong_system_and_format() {
    let text = policy(
        "fact procedure: code<cpt>\n\
         codes spine = icd10cm { M80.08XA, WI40.50XA }\n\
         decision d (first) {\n outcomes { yes }\n rule r when procedure in spine then yes\n}\n",
    );
    assert_eq!(
        check_text(&text),
        vec![
            (Code::MalformedCode, "WI40.50XA".into()),
            (Code::WrongCodeSystem, "spine".into())
        ]
    );
}

/// A count beyond `u32` is still a count: more than any list holds, not a silent stand-in.
#[test]
fn count_bounds() {
    let text = policy(
        "fact a: bool\nfact b: bool\n\
         decision d (first) {\n outcomes { yes }\n rule r when at least 3 of (a, b) then yes\n rule s when at least 0 of (a, b) then yes\n\
         rule t when at least 4294967301 of (a, b) then yes\n rule u when at most 4294967302 of (a, b) then yes\n}\n",
    );
    assert_eq!(
        check_text(&text),
        vec![
            (Code::CountOutOfBounds, "3".into()),
            (Code::CountOutOfBounds, "4294967301".into()),
            (Code::TrivialCount, "0".into()),
            (Code::TrivialCount, "4294967302".into())
        ]
    );
    let clean = policy(
        "fact a: bool\nfact b: bool\n\
         decision d (first) {\n outcomes { yes, no }\n rule s when at most 4294967301 of (a, b) then yes\n otherwise no\n}\n",
    );
    let parsed = crate::syntax::parse(FileId(0), &clean);
    let checked = check(
        &[parsed.file],
        &ImportMap::new(),
        crate::tables::TableSet::shipped(),
        &[],
    );
    assert!(checked.valid().is_ok(), "{:?}", checked.valid().err());
}

#[test]
fn undeclared_outcomes_and_unused_ones() {
    let text = policy(
        "fact a: bool\n\
         decision d (first) {\n outcomes { yes, no }\n rule r when a then yse\n}\n",
    );
    assert_eq!(
        check_text(&text),
        vec![(Code::UndeclaredOutcome, "yse".into())]
    );
}

#[test]
fn cycles_show_the_path() {
    let parsed = crate::syntax::parse(
        FileId(0),
        "fact x: bool\ndefine a = b and x\ndefine b = c\ndefine c = a\n",
    );
    let checked = check(
        &[parsed.file],
        &ImportMap::new(),
        crate::tables::TableSet::shipped(),
        &[],
    );
    let cycles: Vec<&Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::DefinitionCycle)
        .collect();
    assert_eq!(cycles.len(), 1);
    assert_eq!(
        cycles[0].message,
        "`a` is defined in terms of itself: `a` → `b` → `c` → `a`"
    );
    assert_eq!(cycles[0].labels.len(), 3);
}

#[test]
fn two_facts_of_one_kind_compare_and_of_two_kinds_do_not() {
    let text = policy(
        "fact a: int\nfact b: int\n\
         decision d (first) {\n outcomes { yes }\n rule r when a < b then yes\n}\n",
    );
    assert_eq!(check_text(&text), vec![]);
    let text = policy(
        "fact a: int\nfact b: decimal\n\
         decision d (first) {\n outcomes { yes }\n rule r when a < b then yes\n}\n",
    );
    assert_eq!(
        check_text(&text),
        vec![(Code::IncomparableFacts, "<".into())]
    );
}

#[test]
fn test_values_are_typed() {
    let text = policy(
        "fact care: duration<weeks>\nfact setting: enum { inpatient, outpatient }\nfact procedure: code<cpt>\n\
         decision d (first) {\n outcomes { yes }\n rule r when care > 6 weeks and setting == inpatient and procedure in { 22510 } then yes\n}\n\
         test \"t\" { given { care = 2 months, setting = home, procedure = 0200T, nothing = true } expect d = maybe }\n",
    );
    assert_eq!(
        check_text(&text),
        vec![
            (Code::UnknownName, "nothing".into()),
            (Code::UnitMismatch, "2 months".into()),
            (Code::UnknownEnumValue, "home".into()),
            (Code::UndeclaredOutcome, "maybe".into()),
        ]
    );
}

#[test]
fn look_alike_letters_warn() {
    let text = policy(
        "fact symptomatic: bool\nfact s\u{0443}mptomatic: bool\n\
         decision d (first) {\n outcomes { yes }\n rule r when symptomatic and s\u{0443}mptomatic then yes\n}\n",
    );
    assert_eq!(
        check_text(&text),
        vec![(Code::ConfusableName, "s\u{0443}mptomatic".into())]
    );
}

#[test]
fn names_of_broken_declarations_are_not_unknown() {
    let text = policy(
        "fact a: bool\nfact b bool\n\
         decision d (first) {\n outcomes { yes }\n rule r when a and b then yes\n}\n",
    );
    assert_eq!(check_text(&text), vec![(Code::SyntaxError, "bool".into())]);
}

/// The fixes of a text's diagnostics: (code, the text the fix replaces, its replacement).
fn fixes(text: &str) -> Vec<(Code, String, String)> {
    let parsed = crate::syntax::parse(FileId(0), text);
    let checked = check(
        &[parsed.file],
        &ImportMap::new(),
        crate::tables::TableSet::shipped(),
        &[],
    );
    checked
        .diagnostics
        .iter()
        .flat_map(|d| {
            d.fixes.iter().map(|f| {
                let old = text.get(f.span.range()).unwrap_or("").trim_end();
                (d.code, old.to_string(), f.replacement.clone())
            })
        })
        .collect()
}

#[test]
fn did_you_mean_suggestions_carry_fixes() {
    let text = policy(
        "fact symptomatic: bool\n\
         fact diagnoses: set<code<icd10cm>>\n\
         codes c = icd10cm {\n M80.08A\n D47.29\n}\n\
         decision d (first) {\n outcomes { yes, no }\n rule r when symptomatc and diagnoses has any c then yes\n otherwise no\n}\n",
    );
    let found = fixes(&text);
    let expected = [
        (Code::UnknownName, "symptomatc", "symptomatic"),
        (Code::MissingPlaceholder, "M80.08A", "M80.08XA"),
        (Code::UnknownCode, "D47.29", "D47.Z9"),
    ];
    for (code, old, new) in expected {
        assert!(
            found.contains(&(code, old.to_string(), new.to_string())),
            "{code} {old} -> {new} missing from {found:?}"
        );
    }
}

/// Items found clean are not looked up again; items with a finding are, wherever they recur.
#[test]
fn a_code_problem_is_reported_at_every_set_that_repeats_it() {
    let text = policy(
        "fact dx: set<code<icd10cm>>\n\
         codes a = icd10cm { M48.50XA, M48.50XZ, M80.08X- }\n\
         codes b = icd10cm { M48.50XA, M48.50XZ, M80.08X- }\n\
         decision d (first) {\n outcomes { yes }\n rule r when dx has any a and dx has any b then yes\n}\n",
    );
    assert_eq!(
        check_text(&text),
        vec![
            (Code::InvalidSeventh, "M48.50XZ".into()),
            (Code::InvalidSeventh, "M48.50XZ".into()),
        ]
    );
}

/// The neighbours a suggestion prefers: nearest first, the lower of two as near first, and
/// never the code itself or an item that is not a code.
#[test]
fn near_codes_come_nearest_first() {
    use super::codes::Near;
    let list = [Some("A"), None, Some("C"), Some("B"), Some("D")];
    assert_eq!(Near::new(&list, 2).codes(), vec!["B", "A", "D"]);
    let list = [Some("Z"), Some("X"), Some("Y")];
    assert_eq!(Near::new(&list, 1).codes(), vec!["Y", "Z"]);
    assert!(Near::NONE.codes().is_empty());
}

/// A lint pass whose codes are all allowed is not run; a pass with a code still in force is,
/// and the driver drops what it reports under an allowed code. The code-table warnings are
/// passes like the others.
#[test]
fn allowed_lint_passes_are_not_run() {
    let parsed = crate::syntax::parse(
        FileId(0),
        &policy(
            "fact never_read: bool\n\
             codes wide = icd10cm { M48.50XA..M48.58XS }\n\
             fact diagnoses: set<code<icd10cm>>\n\
             decision d (first) {\n outcomes { yes, no }\n rule r when diagnoses has any wide then yes\n otherwise no\n}\n",
        ),
    );
    let files = [parsed.file];
    let imports = ImportMap::new();
    let c = resolve(&files, &imports, crate::tables::TableSet::shipped());
    let cx = lints::Context {
        program: &c.program,
        uses: &c.uses,
        codes: &c.codes,
    };
    let all = lints::PASSES.len();
    let mut out = Vec::new();
    assert_eq!(lints::run(&cx, &[], &mut out), all);
    assert!(out.iter().any(|d| d.code == Code::UnusedFact));

    let unused = [Code::UnusedFact, Code::UnusedDefine, Code::UnusedCodeSet];
    let mut out = Vec::new();
    assert_eq!(lints::run(&cx, &unused, &mut out), all - 1);
    assert!(out.iter().all(|d| d.code != Code::UnusedFact));

    let mut out = Vec::new();
    assert_eq!(lints::run(&cx, &[Code::UnusedFact], &mut out), all);

    let mut out = Vec::new();
    assert_eq!(lints::run(&cx, &[], &mut out), all);
    assert!(out.iter().any(|d| d.code == Code::WideRange));
    let mut out = Vec::new();
    assert_eq!(lints::run(&cx, &[Code::WideRange], &mut out), all - 1);
    assert!(out.iter().all(|d| d.code != Code::WideRange));

    let allowed = check(
        &files,
        &imports,
        crate::tables::TableSet::shipped(),
        &unused,
    );
    assert!(
        allowed
            .diagnostics
            .iter()
            .all(|d| d.code != Code::UnusedFact)
    );
}

/// W0313's help names the add-on's own primary codes, from the table, and the fact the rule
/// reads.
#[test]
fn addon_help_names_the_addons_own_primaries() {
    use crate::tables::{Table, TableSet, import};
    let release = import::Release {
        system: crate::codes::System::Cpt,
        id: "cpt-test".to_string(),
        title: "t".to_string(),
        effective: crate::types::Date::parse("2020-01-01").expect("a date"),
        covers: String::new(),
    };
    let yaml = "system: cpt\ncodes:\n  - code: \"22612\"\n    short: a\n  - code: \"22630\"\n    short: b\n  - code: \"22614\"\n    short: c\n    addon: true\n    primaries: [\"22612\", \"22630\"]\n";
    let data = import::local(yaml, "t.yaml", &release).expect("a table");
    let mut tables = TableSet::new();
    tables
        .add(Table::from_data(&data).expect("a table"))
        .expect("added");
    let text = policy(
        "fact codes_billed: set<code<cpt>>\n\
         codes fusion = cpt { 22614 }\n\
         decision d (first) {\n outcomes { yes, no }\n rule r when codes_billed has any fusion then yes\n otherwise no\n}\n",
    );
    let parsed = crate::syntax::parse(FileId(0), &text);
    let checked = check(&[parsed.file], &ImportMap::new(), &tables, &[]);
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == Code::AddonWithoutPrimary)
        .expect("W0313");
    assert_eq!(
        d.help.as_deref(),
        Some("require a primary code too, such as `codes_billed has any { 22612, 22630 }`")
    );
}
