//! Differential property tests: for random patients, some facts missing, every decision of the
//! shipped policies gives the same result by the reference interpreter (`evaluate`) and by
//! the compiled artifact's evaluator: the same outcome by the same rules, the same conflict or
//! no rule, or pending on the same facts. Numbers are drawn at and next to every threshold the
//! policies compare with, codes from inside and outside their code sets.

use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use medpol::artifact::{Artifact, Facts, LeafDoc};
use medpol::compile::{self, Compiled};
use medpol::driver::{self, CheckedProject};
use medpol::evaluate::{self, Assignment, By, Evaluation};
use medpol::ir::{DecisionId, ExprKind, FactId, OutcomeId, Program, RuleId, Value};
use medpol::types::{Num, Type, Unit};

/// A project (or one file of it) checked and its policies compiled, those of the files asked
/// about only.
fn load(path: &str) -> (CheckedProject, Vec<Compiled>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    let mut checked = driver::check_and_keep(&[path], &driver::Options::default()).unwrap();
    assert!(!checked.report.diagnostics.iter().any(|d| d.is_error()));
    let project = checked.projects.remove(0);
    let options = compile::Options {
        root: project.root.clone(),
        ..compile::Options::default()
    };
    let compiled = compile::compile(
        &project.program,
        &project.tables,
        &checked.report.sources,
        &options,
    )
    .unwrap()
    .into_iter()
    .filter(|c| {
        let file = project.program.policies[c.policy.index()].file;
        project.requested.contains(&file)
    })
    .collect();
    (project, compiled)
}

fn shipped() -> (CheckedProject, Vec<Compiled>) {
    load("policies")
}

/// Every value a condition compares a fact with, anywhere in the program.
fn thresholds(program: &Program, fact: FactId) -> Vec<Num> {
    let mut out = Vec::new();
    let mut stack: Vec<&medpol::ir::Expr> = program
        .decisions
        .iter()
        .flat_map(|d| d.rules.iter().map(|r| &r.condition))
        .chain(program.defines.iter().filter_map(|d| match &d.body {
            medpol::ir::DefineBody::Condition(e) => Some(e),
            _ => None,
        }))
        .collect();
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Compare { fact: f, value, .. } if *f == fact => out.push(*value),
            ExprKind::Not(inner) => stack.push(inner),
            ExprKind::And(es) | ExprKind::Or(es) | ExprKind::Count { items: es, .. } => {
                stack.extend(es)
            }
            _ => {}
        }
    }
    out
}

fn add(a: Num, numer: i128, denom: i128) -> Num {
    let b = Num::ratio(numer, denom).unwrap();
    Num::ratio(
        a.numer() * b.denom() + b.numer() * a.denom(),
        a.denom() * b.denom(),
    )
    .unwrap()
}

/// The values to draw for one fact.
fn candidates(program: &Program, artifact: &Artifact, fact: FactId) -> Vec<Value> {
    let f = program.fact(fact).unwrap();
    match f.ty {
        Type::Bool => vec![Value::Bool(false), Value::Bool(true)],
        Type::Enum(e) => (0..program.enum_type(e).unwrap().values.len() as u32)
            .map(Value::Enum)
            .collect(),
        Type::Int | Type::Decimal | Type::Quantity(_) => {
            let mut nums = vec![Num::from_int(0)];
            for t in thresholds(program, fact) {
                nums.push(t);
                nums.extend([add(t, 1, 1), add(t, -1, 1)]);
                if f.ty != Type::Int {
                    nums.extend([add(t, 1, 100), add(t, -1, 100)]);
                }
            }
            let (low, high) = match f.ty {
                Type::Quantity(Unit::Percent) => (Some(0), Some(100)),
                Type::Quantity(_) => (Some(0), None),
                _ => (None, None),
            };
            nums.retain(|n| {
                low.is_none_or(|l| *n >= Num::from_int(l))
                    && high.is_none_or(|h| *n <= Num::from_int(h))
                    && (f.ty != Type::Int || n.is_integer())
            });
            nums.sort();
            nums.dedup();
            nums.into_iter().map(Value::Num).collect()
        }
        Type::Code(system) | Type::CodeSet(system) => {
            let mut codes: BTreeSet<String> = artifact
                .document()
                .code_sets
                .iter()
                .filter(|s| s.system == system.name())
                .flat_map(|s| s.codes.iter().take(6).cloned())
                .collect();
            codes.extend(
                match system.name() {
                    "cpt" => vec!["22551", "99213"],
                    "icd10cm" => vec!["S32.020A", "Z00.00", "M80.08XS", "M48.50XA"],
                    "icd10pcs" => vec!["0016070", "0PU43JZ"],
                    _ => vec![],
                }
                .into_iter()
                .map(str::to_string),
            );
            let codes: Vec<String> = codes.into_iter().collect();
            if matches!(f.ty, Type::Code(_)) {
                return codes.into_iter().map(Value::Code).collect();
            }
            // Sets of up to three codes; drawn below as index triples.
            let mut sets = vec![Value::Codes(vec![])];
            for (i, a) in codes.iter().enumerate() {
                sets.push(Value::Codes(vec![a.clone()]));
                for b in codes.iter().skip(i + 1).step_by(3) {
                    sets.push(Value::Codes(vec![a.clone(), b.clone()]));
                }
            }
            sets
        }
        Type::Error => vec![],
    }
}

fn text(program: &Program, ty: Type, v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::json!(b),
        Value::Num(n) => match ty {
            Type::Quantity(Unit::Percent) => serde_json::json!(format!("{n}%")),
            Type::Quantity(u) => serde_json::json!(format!("{n} {}", u.name())),
            _ => serde_json::json!(n.to_string()),
        },
        Value::Enum(i) => match ty {
            Type::Enum(e) => serde_json::json!(program.enum_value(e, *i)),
            _ => serde_json::Value::Null,
        },
        Value::Code(c) => serde_json::json!(c),
        Value::Codes(cs) => serde_json::json!(cs),
    }
}

/// The artifact's result in the interpreter's terms.
fn compiled_result(
    program: &Program,
    id: DecisionId,
    d: &medpol::artifact::Decision,
    facts: &Facts,
) -> Evaluation {
    let e = d.evaluate(facts);
    let decision = program.decision(id).unwrap();
    if !e.is_decided() {
        // Artifact fact indices, mapped to the program's by the caller.
        let needed = e.needed.iter().map(|i| FactId(*i)).collect();
        return Evaluation::Pending { needed };
    }
    let leaves: Vec<&LeafDoc> = e.leaves.iter().map(|l| d.leaf(*l).unwrap()).collect();
    let outcome_index = |name: &str| {
        OutcomeId(
            decision
                .outcomes
                .iter()
                .position(|o| o.name == name)
                .unwrap() as u32,
        )
    };
    let rule_index =
        |name: &str| RuleId(decision.rules.iter().position(|r| r.name == name).unwrap() as u32);
    match leaves.as_slice() {
        [LeafDoc::NoRule] => Evaluation::NoRule,
        [LeafDoc::Conflict { rules, .. }] => Evaluation::Conflict {
            rules: rules.iter().map(|r| rule_index(r)).collect(),
        },
        _ => {
            let mut outcome = None;
            let mut by = Vec::new();
            for l in leaves {
                match l {
                    LeafDoc::Rule { outcome: o, rule } => {
                        outcome = Some(outcome_index(o));
                        by.push(By::Rule(rule_index(rule)));
                    }
                    LeafDoc::Otherwise { outcome: o } => {
                        outcome = Some(outcome_index(o));
                        by.push(By::Otherwise);
                    }
                    other => panic!("a decided result mixes {other:?} with outcomes"),
                }
            }
            by.sort();
            Evaluation::Decided {
                outcome: outcome.unwrap(),
                by,
            }
        }
    }
}

#[test]
fn the_interpreter_and_the_compiled_artifacts_agree_on_the_shipped_policies() {
    let (project, compiled) = shipped();
    assert_eq!(
        agree(&project, &compiled),
        5,
        "every decision of the shipped policies"
    );
}

/// Small policies with what the shipped ones lack: a `unique` decision whose rules conflict
/// outside the policy's constraint, decisions without `otherwise`, decimals, single codes.
#[test]
fn the_interpreter_and_the_compiled_artifacts_agree_on_small_policies() {
    let mut decisions = 0;
    for case in ["passing", "failing", "coverage-gaps", "min-coverage-fail"] {
        let (project, compiled) = load(&format!("tests/cases/test/{case}.medpol"));
        decisions += agree(&project, &compiled);
    }
    assert_eq!(decisions, 6);
}

/// Checks random patients on every compiled decision; returns how many decisions.
fn agree(project: &CheckedProject, compiled: &[Compiled]) -> usize {
    let program = &project.program;
    let mut checked = 0usize;
    for c in compiled {
        let artifact = &c.artifact;
        let by_index = fact_ids(program, c);
        for (d, &id) in artifact.decisions().iter().zip(&c.decisions) {
            let decision = program.decision(id).unwrap();
            let mut facts: Vec<FactId> = decision
                .rules
                .iter()
                .flat_map(|r| program.facts_read(&r.condition))
                .collect();
            facts.sort();
            facts.dedup();
            // Per fact: missing, or one of its candidates.
            let strategies: Vec<BoxedStrategy<Option<Value>>> = facts
                .iter()
                .map(|f| {
                    let values = candidates(program, artifact, *f);
                    prop_oneof![
                        1 => Just(None),
                        3 => proptest::sample::select(values).prop_map(Some),
                    ]
                    .boxed()
                })
                .collect();
            // A fixed seed keeps the suite reproducible; raise `cases` to search further.
            let mut runner = TestRunner::new_with_rng(
                Config {
                    cases: 1024,
                    failure_persistence: None,
                    ..Config::default()
                },
                TestRng::deterministic_rng(RngAlgorithm::ChaCha),
            );
            runner
                .run(&strategies, |values| {
                    let mut assignment = Assignment::new();
                    let mut json = serde_json::Map::new();
                    for (f, v) in facts.iter().zip(values) {
                        if let Some(v) = v {
                            let fact = program.fact(*f).unwrap();
                            json.insert(fact.name.clone(), text(program, fact.ty, &v));
                            assignment.insert(*f, v);
                        }
                    }
                    let bound = Facts::from_value(artifact, &serde_json::Value::Object(json), None)
                        .unwrap();
                    let mut theirs = compiled_result(program, id, d, &bound);
                    if let Evaluation::Pending { needed } = &mut theirs {
                        for f in needed.iter_mut() {
                            *f = by_index[f.index()];
                        }
                        needed.sort();
                    }
                    let ours = evaluate::evaluate(program, id, &assignment);
                    let names = |e: &Evaluation| match e {
                        Evaluation::Pending { needed } => needed
                            .iter()
                            .map(|f| program.fact(*f).unwrap().name.clone())
                            .collect(),
                        _ => vec![],
                    };
                    let given: Vec<(String, &Value)> = assignment
                        .iter()
                        .map(|(f, v)| (program.fact(*f).unwrap().name.clone(), v))
                        .collect();
                    // Pending results name exactly the missing facts that can change the
                    // outcome, in both.
                    prop_assert_eq!(
                        &ours,
                        &theirs,
                        "decision `{}`, facts {:?}: interpreter needs {:?}, artifact {:?}",
                        decision.name,
                        given,
                        names(&ours),
                        names(&theirs)
                    );
                    Ok(())
                })
                .unwrap();
            checked += 1;
        }
    }
    checked
}

/// The program's fact for each fact of an artifact, by name among the facts its policy's
/// decisions read (two policies of a project may each declare a fact of the same name).
fn fact_ids(program: &Program, c: &Compiled) -> Vec<FactId> {
    let read: Vec<FactId> = c
        .decisions
        .iter()
        .flat_map(|d| program.decision(*d).unwrap().rules.iter())
        .flat_map(|r| program.facts_read(&r.condition))
        .collect();
    c.artifact
        .document()
        .facts
        .iter()
        .map(|f| {
            *read
                .iter()
                .find(|id| program.fact(**id).unwrap().name == f.name)
                .unwrap()
        })
        .collect()
}

#[test]
fn every_witness_patient_gets_its_leaf_from_the_interpreter() {
    let (project, compiled) = shipped();
    let program = &project.program;
    let mut leaves = 0;
    for c in &compiled {
        for (i, (d, &id)) in c.artifact.decisions().iter().zip(&c.decisions).enumerate() {
            for leaf in 0..d.document().leaves.len() as u32 {
                let witness = c.witness(i, leaf).unwrap();
                let expected = {
                    let mut json = serde_json::Map::new();
                    for (f, v) in witness {
                        let fact = program.fact(*f).unwrap();
                        json.insert(fact.name.clone(), text(program, fact.ty, v));
                    }
                    let bound =
                        Facts::from_value(&c.artifact, &serde_json::Value::Object(json), None)
                            .unwrap();
                    assert_eq!(d.evaluate(&bound).leaves, vec![leaf]);
                    compiled_result(program, id, d, &bound)
                };
                assert_eq!(evaluate::evaluate(program, id, witness), expected);
                leaves += 1;
            }
        }
    }
    assert_eq!(leaves, 21);
}
