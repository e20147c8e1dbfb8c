//! Unit tests of the interpreter: three-valued logic, exact pending results, hit policies.

use super::*;
use crate::check::{ImportMap, check};
use crate::source::FileId;
use crate::types::Num;

const HEAD: &str = "policy \"p\" { title \"t\" version \"1\" effective 2025-01-01 }\n";

fn program(body: &str) -> ValidProgram {
    let text = format!("{HEAD}{body}");
    let parsed = crate::syntax::parse(FileId(0), &text);
    let checked = check(
        &[parsed.file],
        &ImportMap::new(),
        crate::tables::TableSet::shipped(),
        &[],
    );
    let errors: Vec<_> = parsed
        .diagnostics
        .iter()
        .chain(&checked.diagnostics)
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    checked.into_valid().unwrap()
}

fn fact(p: &Program, name: &str) -> FactId {
    FactId(p.facts.iter().position(|f| f.name == name).unwrap() as u32)
}

/// Evaluates decision `d` with facts written `name=value`: `true`, `false`, a number, an enum
/// value, a code, or codes separated by `|` in braces.
fn eval(p: &ValidProgram, facts: &[(&str, &str)]) -> Evaluation {
    let d = DecisionId(p.decisions.iter().position(|d| d.name == "d").unwrap() as u32);
    let mut a = Assignment::new();
    for (name, v) in facts {
        let id = fact(p, name);
        let value = match (p.fact(id).unwrap().ty, *v) {
            (_, "true") => Value::Bool(true),
            (_, "false") => Value::Bool(false),
            (crate::types::Type::Enum(e), v) => Value::Enum(
                p.enum_type(e)
                    .unwrap()
                    .values
                    .iter()
                    .position(|(n, _)| n == v)
                    .unwrap() as u32,
            ),
            (crate::types::Type::Code(_), v) => Value::Code(v.to_string()),
            (crate::types::Type::CodeSet(_), v) => Value::Codes(
                v.trim_matches(['{', '}'])
                    .split('|')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            (_, v) => Value::Num(Num::parse(v).unwrap()),
        };
        a.insert(id, value);
    }
    // Reading the table in force is the slow part: one cache for every test.
    static CODES: std::sync::Mutex<Option<crate::codeset::CodeCache>> = std::sync::Mutex::new(None);
    let code_sets = CODES.lock().unwrap().get_or_insert_default().code_sets(
        p,
        Some(crate::tables::TableSet::shipped()),
        p.policies[0].meta.effective,
    );
    evaluate(p, &code_sets, d, &a)
}

fn rule(p: &Program, name: &str) -> Evaluation {
    let d = &p.decisions[0];
    let i = d.rules.iter().position(|r| r.name == name).unwrap();
    Evaluation::Decided {
        outcome: d.rules[i].outcome.unwrap(),
        by: vec![By::Rule(RuleId(i as u32))],
    }
}

fn otherwise(p: &Program) -> Evaluation {
    Evaluation::Decided {
        outcome: p.decisions[0].otherwise.as_ref().unwrap().outcome.unwrap(),
        by: vec![By::Otherwise],
    }
}

fn pending(p: &Program, names: &[&str]) -> Evaluation {
    let mut needed: Vec<FactId> = names.iter().map(|n| fact(p, n)).collect();
    needed.sort();
    Evaluation::Pending { needed }
}

const AB: &str = "fact a: bool\nfact b: bool\n";

#[test]
fn a_missing_fact_that_cannot_matter_is_not_needed() {
    let p = program(&format!(
        "{AB}decision d (first) {{ outcomes {{ yes, no }}\n rule r when a or b then yes\n otherwise no }}\n"
    ));
    assert_eq!(eval(&p, &[("a", "true")]), rule(&p, "r"));
    assert_eq!(eval(&p, &[("a", "false")]), pending(&p, &["b"]));
    assert_eq!(eval(&p, &[("a", "false"), ("b", "false")]), otherwise(&p));
    assert_eq!(eval(&p, &[]), pending(&p, &["a", "b"]));
}

#[test]
fn a_condition_that_holds_either_way_is_decided_beyond_kleene() {
    // Kleene logic leaves `a or not a` unknown; every completion agrees, so it is decided.
    let p = program(&format!(
        "{AB}decision d (first) {{ outcomes {{ yes, no }}\n rule r when (a or not a) and b then yes\n otherwise no }}\n"
    ));
    assert_eq!(eval(&p, &[("b", "true")]), rule(&p, "r"));
    assert_eq!(eval(&p, &[("b", "false")]), otherwise(&p));
    assert_eq!(eval(&p, &[]), pending(&p, &["b"]), "`a` never matters");
}

#[test]
fn thresholds_split_a_missing_number_exactly() {
    // `age > 78.5` or `age <= 78.5`: every age gives `yes`, by one rule or the other, so the
    // outcome is decided without the age and the rule is left open.
    let p = program(
        "fact age: duration<years>\nfact b: bool\n\
         decision d (first) { outcomes { yes, no }\n rule old when age > 78.5 years then yes\n\
         rule young when age <= 78.5 years and (b or not b) then yes\n otherwise no }\n",
    );
    assert_eq!(eval(&p, &[("age", "78.5")]), rule(&p, "young"));
    assert_eq!(eval(&p, &[("age", "78.6")]), rule(&p, "old"));
    assert_eq!(
        eval(&p, &[]),
        Evaluation::Decided {
            outcome: OutcomeId(0),
            by: vec![By::Rule(RuleId(0)), By::Rule(RuleId(1))]
        }
    );
    assert_eq!(eval(&p, &[("b", "false")]), eval(&p, &[]));
    // A duration is never negative: `care >= 0 weeks` always holds.
    let p = program(
        "fact care: duration<weeks>\n\
         decision d (first) { outcomes { yes, no }\n rule r when care >= 0 weeks then yes\n otherwise no }\n",
    );
    assert_eq!(eval(&p, &[]), rule(&p, "r"));
}

#[test]
fn integer_facts_have_no_values_between_whole_numbers() {
    let p = program(
        "fact visits: int\n\
         decision d (first) { outcomes { yes, no }\n rule r when visits <= 5 or visits >= 6 then yes\n otherwise no }\n",
    );
    assert_eq!(eval(&p, &[]), rule(&p, "r"));
    let p = program(
        "fact score: decimal\n\
         decision d (first) { outcomes { yes, no }\n rule r when score <= 5 or score >= 6 then yes\n otherwise no }\n",
    );
    assert_eq!(eval(&p, &[]), pending(&p, &["score"]));
    assert_eq!(eval(&p, &[("score", "5.5")]), otherwise(&p));
}

#[test]
fn counts_are_three_valued() {
    let p = program(
        "fact a: bool\nfact b: bool\nfact c: bool\n\
         decision d (first) { outcomes { yes, no }\n rule r when at least 2 of (a, b, c) then yes\n otherwise no }\n",
    );
    assert_eq!(eval(&p, &[("a", "true"), ("b", "true")]), rule(&p, "r"));
    assert_eq!(eval(&p, &[("a", "false"), ("b", "false")]), otherwise(&p));
    assert_eq!(
        eval(&p, &[("a", "true"), ("b", "false")]),
        pending(&p, &["c"])
    );
    let p = program(
        "fact a: bool\nfact b: bool\n\
         decision d (first) { outcomes { yes, no }\n rule r when exactly 1 of (a, b) then yes\n otherwise no }\n",
    );
    assert_eq!(eval(&p, &[("a", "true")]), pending(&p, &["b"]));
    assert_eq!(eval(&p, &[("a", "true"), ("b", "false")]), rule(&p, "r"));
    assert_eq!(eval(&p, &[("a", "true"), ("b", "true")]), otherwise(&p));
}

#[test]
fn one_outcome_by_a_rule_or_otherwise_is_decided() {
    let p = program(&format!(
        "{AB}decision d (first) {{ outcomes {{ yes, no }}\n rule r1 when a then no\n rule r2 when b then yes\n otherwise no }}\n"
    ));
    assert_eq!(
        eval(&p, &[("b", "false")]),
        Evaluation::Decided {
            outcome: OutcomeId(1),
            by: vec![By::Rule(RuleId(0)), By::Otherwise]
        }
    );
}

#[test]
fn first_takes_the_first_rule_that_holds_and_waits_for_earlier_unknown_rules() {
    let p = program(&format!(
        "{AB}decision d (first) {{ outcomes {{ yes, no }}\n rule r1 when a then no\n rule r2 when b then yes\n otherwise no }}\n"
    ));
    assert_eq!(eval(&p, &[("a", "true"), ("b", "true")]), rule(&p, "r1"));
    assert_eq!(eval(&p, &[("b", "true")]), pending(&p, &["a"]));
    assert_eq!(eval(&p, &[("a", "false"), ("b", "true")]), rule(&p, "r2"));
}

#[test]
fn unique_and_any_report_conflicts_and_no_rule() {
    let p = program(&format!(
        "{AB}decision d (any) {{ outcomes {{ yes, no }}\n rule r1 when a then yes\n rule r2 when b then no\n rule r3 when a and b then yes }}\n"
    ));
    assert_eq!(
        eval(&p, &[("a", "true"), ("b", "true")]),
        Evaluation::Conflict {
            rules: vec![RuleId(0), RuleId(1), RuleId(2)]
        }
    );
    assert_eq!(
        eval(&p, &[("a", "false"), ("b", "false")]),
        Evaluation::NoRule
    );
    assert_eq!(eval(&p, &[("a", "true"), ("b", "false")]), rule(&p, "r1"));
    // `b` is missing and decides between `r1` alone and a conflict.
    assert_eq!(eval(&p, &[("a", "true")]), pending(&p, &["b"]));
    let p = program(&format!(
        "{AB}decision d (unique) {{ outcomes {{ yes, no }}\n rule r1 when a then yes\n rule r2 when a and b then yes\n otherwise no }}\n"
    ));
    // Under `unique` even rules with one outcome must not both hold.
    assert_eq!(
        eval(&p, &[("a", "true"), ("b", "true")]),
        Evaluation::Conflict {
            rules: vec![RuleId(0), RuleId(1)]
        }
    );
    assert_eq!(eval(&p, &[("a", "true"), ("b", "false")]), rule(&p, "r1"));
    // Under `any` they agree, and the first decides.
    let p = program(&format!(
        "{AB}decision d (any) {{ outcomes {{ yes, no }}\n rule r1 when a then yes\n rule r2 when a and b then yes\n otherwise no }}\n"
    ));
    assert_eq!(eval(&p, &[("a", "true"), ("b", "true")]), rule(&p, "r1"));
    // Whatever `b` is, `a` gives `yes` by `r1`.
    assert_eq!(eval(&p, &[("a", "true")]), rule(&p, "r1"));
}

#[test]
fn enums_codes_and_sets_of_codes() {
    let p = program(
        "fact setting: enum { inpatient, outpatient, home }\n\
         fact procedure: code<cpt>\n\
         fact diagnoses: set<code<icd10cm>>\n\
         codes fractures = icd10cm { M80.08X-, M80.88X- }\n\
         codes myeloma = icd10cm { C90.00, M84.58XA }\n\
         decision d (first) { outcomes { yes, no }\n\
         rule r1 when setting in { inpatient, outpatient } and procedure in { 22510, 22511 } then yes\n\
         rule r2 when diagnoses has all myeloma then yes\n\
         rule r3 when diagnoses has none fractures then no\n\
         otherwise yes }\n",
    );
    let base = [("setting", "home"), ("procedure", "22510")];
    assert_eq!(
        eval(&p, &[("setting", "inpatient"), ("procedure", "22511")]),
        rule(&p, "r1")
    );
    let with = |d: &'static str| {
        let mut v = base.to_vec();
        v.push(("diagnoses", d));
        v
    };
    assert_eq!(eval(&p, &with("{C90.00|M84.58XA}")), rule(&p, "r2"));
    assert_eq!(eval(&p, &with("{C90.00}")), rule(&p, "r3"));
    assert_eq!(eval(&p, &with("{C90.00|M80.08XA}")), otherwise(&p));
    assert_eq!(eval(&p, &with("{}")), rule(&p, "r3"));
    // A missing procedure does not matter for a home setting.
    assert_eq!(
        eval(&p, &[("setting", "home"), ("diagnoses", "{}")]),
        rule(&p, "r3")
    );
    assert_eq!(
        eval(&p, &[("setting", "home")]),
        pending(&p, &["diagnoses"])
    );
    assert_eq!(
        eval(&p, &[("procedure", "99213"), ("diagnoses", "{}")]),
        rule(&p, "r3"),
        "a procedure outside the list decides r1 without the setting"
    );
}

#[test]
fn has_all_of_a_pattern_is_every_code_of_the_release_that_fits_it() {
    let p = program(
        "fact diagnoses: set<code<icd10cm>>\n\
         decision d (first) { outcomes { yes, no }\n\
         rule r when diagnoses has all icd10cm { M80.08X* } then yes\n\
         otherwise no }\n",
    );
    let all = "{M80.08XA|M80.08XD|M80.08XG|M80.08XK|M80.08XP|M80.08XS}";
    assert_eq!(eval(&p, &[("diagnoses", all)]), rule(&p, "r"));
    assert_eq!(
        eval(&p, &[("diagnoses", "{M80.08XA|M80.08XD}")]),
        otherwise(&p)
    );
    // The pattern's stem is no code of the release.
    assert_eq!(eval(&p, &[("diagnoses", "{M80.08X}")]), otherwise(&p));
}

#[test]
fn definitions_chain_without_recursion_limits() {
    let mut body = String::from("fact a: bool\ndefine d0 = a\n");
    for i in 1..3000 {
        body.push_str(&format!("define d{i} = not d{}\n", i - 1));
    }
    body.push_str(
        "decision d (first) { outcomes { yes, no }\n rule r when d2999 then yes\n otherwise no }\n",
    );
    let p = program(&body);
    // 2999 negations of `a`: true exactly when `a` is false.
    assert_eq!(eval(&p, &[("a", "false")]), rule(&p, "r"));
    assert_eq!(eval(&p, &[("a", "true")]), otherwise(&p));
}
