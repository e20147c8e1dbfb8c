//! Differential property tests: for random patients, some facts missing, every decision gives
//! the same result by the reference interpreter (`evaluate`) and by the compiled artifact's
//! evaluator: the same outcome by the same rules, the same conflict or no rule, or pending on
//! the same facts. The decisions are those of the shipped policies, of every case under
//! `tests/cases` that checks without errors, and of random generated programs. Numbers are
//! drawn at and next to every threshold the policies compare with, codes from inside and
//! outside their code sets, and sets of codes up to every code of a set.

use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use medpol::artifact::machine::{Answer, Machine};
use medpol::artifact::{Artifact, Facts, LeafDoc};
use medpol::codeset::{CodeCache, CodeSets};
use medpol::compile::{self, Compiled};
use medpol::driver::CheckedProject;
use medpol::evaluate::{self, Assignment, By, Evaluation};
use medpol::ir::{DecisionId, ExprKind, FactId, OutcomeId, Program, RuleId, ValidProgram, Value};
use medpol::tables::TableSet;
use medpol::types::{Num, Type, Unit};

#[path = "support/compiled.rs"]
mod compiled;
use compiled::{medpol_files, try_load};

fn load(path: &str) -> (CheckedProject, Vec<Compiled>) {
    try_load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn shipped() -> (CheckedProject, Vec<Compiled>) {
    load("policies")
}

/// Every value a condition compares a fact with, anywhere in the program (for a fact related
/// to another, the other's values shifted by the difference compared).
fn thresholds(program: &Program, fact: FactId) -> Vec<Num> {
    let mut out = direct(program, fact);
    out.extend(related(program, fact));
    out
}

/// The values a condition compares a fact itself with.
fn direct(program: &Program, fact: FactId) -> Vec<Num> {
    let mut out = Vec::new();
    let mut stack = conditions(program);
    while let Some(e) = stack.pop() {
        stack.extend(e.children());
        match &e.kind {
            ExprKind::Compare { fact: f, value, .. } if *f == fact => out.push(*value),
            ExprKind::ListCount {
                filter: Some(f), ..
            } => stack.push(f),
            // A window's ends, for each date its reference may take: a day inside and one
            // outside at each end.
            ExprKind::Window {
                field,
                reference,
                amount,
                months,
            } if *field == fact => {
                let mut ends = vec![Num::from_int(0)];
                ends.extend(thresholds(program, *reference));
                for end in ends {
                    if let Some(start) = medpol::artifact::window_start(end, *amount, *months) {
                        out.extend([start, add(start, -1, 1), end, add(end, 1, 1)]);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn conditions(program: &Program) -> Vec<&medpol::ir::Expr> {
    program
        .decisions
        .iter()
        .flat_map(|d| d.rules.iter().map(|r| &r.condition))
        .chain(program.defines.iter().filter_map(|d| match &d.body {
            medpol::ir::DefineBody::Condition(e) => Some(e),
            _ => None,
        }))
        .collect()
}

/// The values a fact meets through its relations with others: the other fact's values (and
/// zero) shifted by the difference compared, in this fact's own unit.
fn related(program: &Program, fact: FactId) -> Vec<Num> {
    let scale = |f: FactId| medpol::ir::base_scale(program.fact(f).unwrap().ty);
    let mut out = Vec::new();
    for e in conditions(program).iter().flat_map(|e| e.walk()) {
        let ExprKind::Relation(r) = &e.kind else {
            continue;
        };
        let (other, by) = if r.left == fact {
            (r.right, r.value)
        } else if r.right == fact {
            (r.left, Num::from_int(0).checked_sub(r.value).unwrap())
        } else {
            continue;
        };
        for t in direct(program, other).into_iter().chain([Num::from_int(0)]) {
            let base = t
                .checked_mul(scale(other))
                .unwrap()
                .checked_add(by)
                .unwrap();
            out.push(base.checked_div(scale(fact)).unwrap());
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
    let sets_of = |system: medpol::codes::System| {
        artifact
            .document()
            .code_sets
            .iter()
            .filter(move |s| s.system == system.name())
    };
    let f = program.fact(fact).unwrap();
    match f.ty {
        Type::Bool => vec![Value::Bool(false), Value::Bool(true)],
        Type::Enum(e) => (0..program.enum_type(e).unwrap().values.len() as u32)
            .map(Value::Enum)
            .collect(),
        Type::Int | Type::Decimal | Type::Quantity(_) | Type::Date => {
            let mut nums = vec![Num::from_int(0)];
            // A fact a derived value is computed from: values that put a body-mass index
            // from weight and height at its threshold (113.4 kg at 180 cm is 35 kg/m2), and
            // others.
            let input = program.facts.iter().any(|x| {
                x.derived
                    .as_ref()
                    .is_some_and(|d| d.formula.facts().contains(&&fact))
            });
            if input {
                nums.extend(["1", "2", "60", "113.4", "180"].map(|n| Num::parse(n).unwrap()));
            }
            for t in thresholds(program, fact) {
                nums.push(t);
                nums.extend([add(t, 1, 1), add(t, -1, 1)]);
                if !matches!(f.ty, Type::Int | Type::Date) {
                    nums.extend([add(t, 1, 100), add(t, -1, 100)]);
                }
            }
            let (low, high) = match f.ty {
                Type::Quantity(Unit::Percent) => (Some(0), Some(100)),
                Type::Quantity(u) if !u.nonnegative() => (None, None),
                Type::Quantity(_) => (Some(0), None),
                _ => (None, None),
            };
            nums.retain(|n| {
                low.is_none_or(|l| *n >= Num::from_int(l))
                    && high.is_none_or(|h| *n <= Num::from_int(h))
                    && f.range.is_none_or(|(l, h)| l <= *n && *n <= h)
                    && (!matches!(f.ty, Type::Int | Type::Date) || n.is_integer())
            });
            nums.sort();
            nums.dedup();
            nums.into_iter().map(Value::Num).collect()
        }
        Type::Code(system) | Type::CodeSet(system) => {
            let mut codes: BTreeSet<String> = sets_of(system)
                .flat_map(|s| s.codes.iter().take(6).cloned())
                .collect();
            codes.extend(
                match system.name() {
                    // 22519 fits the pattern `2251*` but is not in the (partial) CPT table.
                    "cpt" => vec!["22551", "99213", "22519"],
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
            // Sets of up to two codes, and every code of a small set (what `has all` needs).
            let mut sets = vec![Value::Codes(vec![])];
            sets.extend(
                sets_of(system)
                    .filter(|s| s.codes.len() > 1 && s.codes.len() <= 40)
                    .map(|s| Value::Codes(s.codes.clone())),
            );
            for (i, a) in codes.iter().enumerate() {
                sets.push(Value::Codes(vec![a.clone()]));
                for b in codes.iter().skip(i + 1).step_by(3) {
                    sets.push(Value::Codes(vec![a.clone(), b.clone()]));
                }
            }
            sets
        }
        // Lists of up to five items whose fields take each field's values in turn, some left
        // out (an item missing a field its count reads leaves the count unknown).
        Type::List(r) => {
            let fields: Vec<(FactId, Vec<Value>)> = program
                .record(r)
                .unwrap()
                .fields
                .iter()
                .map(|f| (*f, candidates(program, artifact, *f)))
                .collect();
            let mut lists = vec![Value::List(vec![])];
            for n in 1..=5usize {
                for offset in 0..4usize {
                    let items = (0..n)
                        .map(|i| {
                            let mut item = medpol::ir::Item::new();
                            for (j, (f, values)) in fields.iter().enumerate() {
                                if values.is_empty() || (i + j + offset) % 7 == 6 {
                                    continue;
                                }
                                let v = &values[(i * (j + 1) + offset * (j + 2)) % values.len()];
                                item.insert(*f, v.clone());
                            }
                            item
                        })
                        .collect();
                    lists.push(Value::List(items));
                }
            }
            lists
        }
        Type::Error => vec![],
    }
}

/// The decision's machine (what the SQL back end runs) gives the patient what the artifact's
/// evaluator gives: the same leaf, or several leaves with one result, or pending on the same
/// facts.
fn machine_agrees(
    d: &medpol::artifact::Decision,
    machine: &Machine,
    facts: &Facts,
    e: &medpol::artifact::Evaluation,
) {
    let run = machine.run(d, facts).expect("the machine runs");
    assert_eq!(
        run.needed,
        e.needed,
        "decision `{}`: needed facts",
        d.name()
    );
    let result = |leaf: u32| match d.leaf(leaf) {
        Some(LeafDoc::Rule { outcome, .. } | LeafDoc::Otherwise { outcome }) => {
            Some(outcome.clone())
        }
        _ => None,
    };
    match (run.answer, e.leaves.as_slice()) {
        (Answer::Pending, _) => {
            assert!(!e.is_decided(), "decision `{}`: machine pending", d.name())
        }
        (Answer::Leaf(l), [only]) => assert_eq!(l, *only, "decision `{}`", d.name()),
        (Answer::Same(l), [first, _, ..]) => {
            assert!(e.is_decided() && l <= *first, "decision `{}`", d.name());
            assert_eq!(result(l), result(*first), "decision `{}`", d.name());
            assert!(result(l).is_some() || d.leaf(l) == d.leaf(*first));
        }
        (answer, leaves) => panic!(
            "decision `{}`: machine {answer:?}, evaluator {leaves:?} ({})",
            d.name(),
            if e.is_decided() { "decided" } else { "pending" }
        ),
    }
}

/// The artifact's result in the interpreter's terms.
fn compiled_result(
    program: &Program,
    id: DecisionId,
    d: &medpol::artifact::Decision,
    machine: &Machine,
    facts: &Facts,
) -> Evaluation {
    let e = d.evaluate(facts);
    machine_agrees(d, machine, facts, &e);
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
        agree(&project.program, &project.tables, &compiled, 1024),
        17,
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
        let d = agree(&project.program, &project.tables, &compiled, 1024);
        decisions += d;
    }
    assert_eq!(decisions, 6);
}

/// Checks `cases` random patients on every compiled decision; returns how many decisions.
fn agree(program: &ValidProgram, tables: &TableSet, compiled: &[Compiled], cases: u32) -> usize {
    let mut checked = 0usize;
    let mut codes = CodeCache::default();
    for c in compiled {
        let code_sets = code_sets(&mut codes, program, tables, c);
        let artifact = &c.artifact;
        let by_index = fact_ids(program, c);
        for (d, &id) in artifact.decisions().iter().zip(&c.decisions) {
            let machine = d.machine().unwrap();
            let decision = program.decision(id).unwrap();
            let facts: Vec<FactId> = decision
                .rules
                .iter()
                .flat_map(|r| program.facts_read(&r.condition))
                .collect();
            // A derived value is given as the facts it is computed from (a value given for it
            // is no value: both evaluators compute it).
            let mut facts = with_inputs(program, facts);
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
                    cases,
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
                    let ours = evaluate::evaluate(program, &code_sets, id, &assignment);
                    // A derived value without a value (a zero divisor) is an error for the
                    // patient in both: the interpreter's evaluation, the artifact's facts.
                    let bound = match Facts::from_value(artifact, &serde_json::Value::Object(json))
                    {
                        Ok(bound) => bound,
                        Err(e) => {
                            // The artifact refuses the facts when any decision reads the
                            // derived value; the interpreter when this one does.
                            let refused = e.fact.clone().unwrap_or_default();
                            let read_here =
                                facts.iter().any(|f| program.fact(*f).unwrap().name == refused);
                            prop_assert!(
                                matches!(ours, Evaluation::Undefined { .. }) || !read_here,
                                "decision `{}`: the artifact refuses the facts ({e}), the interpreter gives {:?}",
                                decision.name,
                                ours
                            );
                            return Ok(());
                        }
                    };
                    let mut theirs = compiled_result(program, id, d, &machine, &bound);
                    if let Evaluation::Pending { needed } = &mut theirs {
                        for f in needed.iter_mut() {
                            *f = by_index[f.index()];
                        }
                        needed.sort();
                    }
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

/// The facts and the facts the derived values among them are computed from (through derived
/// values they read): those a patient gives.
fn with_inputs(program: &Program, mut facts: Vec<FactId>) -> Vec<FactId> {
    let mut i = 0;
    while let Some(&f) = facts.get(i) {
        if let Some(d) = &program.fact(f).unwrap().derived {
            facts.extend(
                d.formula
                    .facts()
                    .into_iter()
                    .filter(|x| !facts.contains(x))
                    .copied()
                    .collect::<Vec<_>>(),
            );
        }
        i += 1;
    }
    facts
}

/// The program's code sets against the releases in force for a compiled policy.
fn code_sets(
    codes: &mut CodeCache,
    program: &Program,
    tables: &TableSet,
    c: &Compiled,
) -> CodeSets {
    let date = program.policies[c.policy.index()].meta.effective;
    codes.code_sets(program, Some(tables), date)
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
    let read = with_inputs(program, read);
    c.artifact
        .document()
        .facts
        .iter()
        .map(|f| {
            let named = |id: &FactId| program.fact(*id).unwrap().name == f.name;
            // A fact no decision reads is in the schema too, marked unread.
            read.iter()
                .copied()
                .find(named)
                .or_else(|| {
                    (0..program.facts.len() as u32)
                        .map(FactId)
                        .find(|id| !f.read && named(id))
                })
                .unwrap()
        })
        .collect()
}

#[test]
fn every_witness_patient_gets_its_leaf_from_the_interpreter() {
    let (project, compiled) = shipped();
    assert_eq!(
        witnesses_agree(&project.program, &project.tables, &compiled),
        173
    );
}

/// Evaluates every leaf's witness patient by both evaluators; returns how many leaves.
fn witnesses_agree(program: &ValidProgram, tables: &TableSet, compiled: &[Compiled]) -> usize {
    let mut leaves = 0;
    let mut codes = CodeCache::default();
    for c in compiled {
        let code_sets = code_sets(&mut codes, program, tables, c);
        for (i, (d, &id)) in c.artifact.decisions().iter().zip(&c.decisions).enumerate() {
            let machine = d.machine().unwrap();
            for leaf in 0..d.document().leaves.len() as u32 {
                // A leaf only an evaluation with related facts missing reaches, or only counts
                // no list can have, has no witness.
                let Some(witness) = c.witness(i, leaf) else {
                    continue;
                };
                let expected = {
                    let mut json = serde_json::Map::new();
                    for (f, v) in witness {
                        let fact = program.fact(*f).unwrap();
                        json.insert(fact.name.clone(), text(program, fact.ty, v));
                    }
                    let bound =
                        Facts::from_value(&c.artifact, &serde_json::Value::Object(json)).unwrap();
                    assert_eq!(d.evaluate(&bound).leaves, vec![leaf]);
                    compiled_result(program, id, d, &machine, &bound)
                };
                assert_eq!(
                    evaluate::evaluate(program, &code_sets, id, witness),
                    expected,
                    "decision `{}`, witness {witness:?}",
                    program.decision(id).unwrap().name
                );
                leaves += 1;
            }
        }
    }
    leaves
}

/// Every `.medpol` file under `tests/cases`, sorted.
fn case_files() -> Vec<PathBuf> {
    medpol_files(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases"))
}

/// Every case that checks without errors (in its project, when it has a `medpol.yaml`):
/// random patients and every witness agree.
#[test]
fn the_interpreter_and_the_compiled_artifacts_agree_on_every_case() {
    let (mut files, mut policies, mut decisions, mut leaves) = (0, 0, 0, 0);
    for path in case_files() {
        let Some((project, compiled)) = try_load(&path) else {
            continue;
        };
        files += 1;
        policies += compiled.len();
        decisions += agree(&project.program, &project.tables, &compiled, 256);
        leaves += witnesses_agree(&project.program, &project.tables, &compiled);
    }
    assert_eq!((files, policies, decisions, leaves), (95, 93, 114, 376));
}

#[path = "support/ir_json.rs"]
mod ir_json;
/// Random programs: small decisions over every kind of fact, with code sets of exact codes,
/// patterns and ranges, `has any`/`all`/`none`, counts, `not`, definitions, every hit
/// policy, with and without `otherwise`. Each is built from a seed, so a failure names the
/// seed and shows the program.
#[path = "support/random.rs"]
mod random;
use ir_json::fact_json as text;

mod generate {
    pub use crate::random::Rng;

    /// Items of ICD-10-CM sets: codes, patterns of a few codes and of many, ranges.
    const ICD_ITEMS: &[&str] = &[
        "M80.08XA",
        "M80.08XS",
        "C90.00",
        "M84.48XA",
        "M80.08X*",
        "M84.48X-",
        "M48.5-",
        "M80.0*",
        "M48.50XA..M48.52XS",
        "M80.08XA..M80.08XD",
    ];
    /// Items of CPT sets: the shipped CPT table is partial.
    const CPT_ITEMS: &[&str] = &["22510", "22511", "0200T", "2251*", "22510..22512", "020*"];

    /// The facts every program declares: (name, type).
    pub const FACTS: &[(&str, &str)] = &[
        ("b0", "bool"),
        ("b1", "bool"),
        ("n0", "int"),
        ("d0", "decimal"),
        ("w0", "duration<weeks>"),
        ("p0", "percent"),
        ("m0", "quantity<kg>"),
        ("a0", "quantity<deg>"),
        ("r0", "int in 0..10"),
        ("e0", "enum { a, b, c }"),
        ("c0", "code<icd10cm>"),
        ("s0", "set<code<icd10cm>>"),
        ("k0", "code<cpt>"),
        ("t0", "set<code<cpt>>"),
        ("y0", "date"),
        ("q0", "duration<days>"),
    ];

    /// The derived values every program declares: a measurement, and a number whose divisor
    /// is zero for `r0 = 5` (an error for the patient in both evaluators).
    const DERIVED: &str = "define v0 = m0 * r0 / 10 + 500 g\ndefine v1 = n0 / (r0 - 5) + d0\n";

    struct Gen<'r> {
        rng: &'r mut Rng,
        icd_sets: Vec<String>,
        cpt_sets: Vec<String>,
        defines: Vec<String>,
        /// Whether dates are apart by calendar months rather than days.
        months: bool,
    }

    fn set_literal(rng: &mut Rng, items: &[&str]) -> String {
        let n = 1 + rng.below(3);
        let mut chosen: Vec<&str> = (0..n).map(|_| *rng.pick(items)).collect();
        chosen.sort();
        chosen.dedup();
        format!("{{ {} }}", chosen.join(", "))
    }

    impl Gen<'_> {
        fn set(&mut self, icd: bool) -> String {
            let (named, items) = if icd {
                (&self.icd_sets, ICD_ITEMS)
            } else {
                (&self.cpt_sets, CPT_ITEMS)
            };
            if !named.is_empty() && self.rng.chance(75) {
                self.rng.pick(named).clone()
            } else {
                set_literal(self.rng, items)
            }
        }

        fn atom(&mut self) -> String {
            let ops = ["<", "<=", ">", ">=", "==", "!="];
            let op = *self.rng.pick(&ops);
            let date = *self.rng.pick(&["2009-02-12", "2012-06-27", "2024-02-29"]);
            let days = *self.rng.pick(&["6 weeks", "42 days", "0 days", "1 day"]);
            match self.rng.below(22) {
                // Derived values (declared by every program, see `DERIVED`).
                20 => format!(
                    "v0 {op} {}",
                    self.rng.pick(&["70 kg", "154 [lb_av]", "0 kg"])
                ),
                21 => format!("v1 {op} {}", self.rng.pick(&["0", "1.5", "-2"])),
                17 => format!("r0 {op} {}", self.rng.pick(&["0", "5", "10", "11"])),
                18 => format!(
                    "m0 {op} {}",
                    self.rng.pick(&["70 kg", "154 [lb_av]", "500 g", "0 kg"])
                ),
                19 => format!("a0 {op} {}", self.rng.pick(&["-5 deg", "20 deg", "0 deg"])),
                0 => "b0".to_string(),
                1 => "b1".to_string(),
                2 => format!("n0 {op} {}", self.rng.below(4) as i64 - 1),
                3 => format!("d0 {op} {}", self.rng.pick(&["1.5", "-2.5", "0"])),
                4 => format!(
                    "w0 {op} {}",
                    self.rng.pick(&["6 weeks", "42 days", "12 weeks"])
                ),
                5 => format!("p0 {op} {}", self.rng.pick(&["12.5%", "50%", "0%"])),
                6 => self
                    .rng
                    .pick(&["e0 == a", "e0 != c", "e0 in { a, b }", "e0 not in { b }"])
                    .to_string(),
                7 | 8 => {
                    let not = if self.rng.chance(30) { "not " } else { "" };
                    let set = self.set(true);
                    format!("c0 {not}in {set}")
                }
                9 | 10 => {
                    let q = self.rng.pick(&["any", "all", "none"]).to_string();
                    let set = self.set(true);
                    format!("s0 has {q} {set}")
                }
                11 => format!("k0 in {}", self.set(false)),
                13 => format!("y0 {op} {date}"),
                14 => format!("service_date {op} {date}"),
                // Relations: two facts compared, a difference compared with a value (few
                // facts: the interpreter splits every missing one, and each difference).
                15 => self
                    .rng
                    .pick(&[
                        format!("y0 {op} service_date"),
                        // Days or calendar months, one of the two per program: each is a
                        // value the interpreter splits on its own.
                        match self.months {
                            true => format!(
                                "service_date - y0 {op} {}",
                                ["6 months", "942 months"][usize::from(days.len() > 6)]
                            ),
                            false => format!("service_date - y0 {op} {days}"),
                        },
                    ])
                    .clone(),
                16 => self
                    .rng
                    .pick(&[format!("w0 {op} q0"), format!("w0 - q0 {op} {days}")])
                    .clone(),
                _ => {
                    let q = self.rng.pick(&["any", "all", "none"]).to_string();
                    let set = self.set(false);
                    format!("t0 has {q} {set}")
                }
            }
        }

        fn condition(&mut self, depth: usize) -> String {
            if depth == 0 || self.rng.chance(40) {
                if !self.defines.is_empty() && self.rng.chance(20) {
                    return self.rng.pick(&self.defines).clone();
                }
                return self.atom();
            }
            match self.rng.below(5) {
                0 => format!("not ({})", self.condition(depth - 1)),
                1 | 2 => {
                    let op = if self.rng.chance(50) { "and" } else { "or" };
                    let (a, b) = (self.condition(depth - 1), self.condition(depth - 1));
                    format!("({a} {op} {b})")
                }
                _ => {
                    let n = 2 + self.rng.below(2);
                    let items: Vec<String> = (0..n).map(|_| self.condition(depth - 1)).collect();
                    let kind = self
                        .rng
                        .pick(&["at least", "at most", "exactly"])
                        .to_string();
                    let k = 1 + self.rng.below(n - 1);
                    format!("{kind} {k} of ({})", items.join(", "))
                }
            }
        }
    }

    /// The text of one random policy with one or two decisions.
    pub fn program(rng: &mut Rng) -> String {
        let mut out = String::from(
            "policy \"generated\" { title \"g\" version \"1\" effective 2025-06-01 }\n",
        );
        for (name, ty) in FACTS {
            out.push_str(&format!("fact {name}: {ty}\n"));
        }
        out.push_str(DERIVED);
        let months = rng.chance(30);
        let mut g = Gen {
            rng,
            icd_sets: Vec::new(),
            cpt_sets: Vec::new(),
            defines: Vec::new(),
            months,
        };
        for i in 0..1 + g.rng.below(3) {
            let name = format!("icd{i}");
            let body = match g.icd_sets.last() {
                Some(prev) if g.rng.chance(35) => {
                    let op = if g.rng.chance(50) { "+" } else { "-" };
                    format!("{prev} {op} icd10cm {}", set_literal(g.rng, ICD_ITEMS))
                }
                _ => format!("icd10cm {}", set_literal(g.rng, ICD_ITEMS)),
            };
            out.push_str(&format!("codes {name} = {body}\n"));
            g.icd_sets.push(name);
        }
        for i in 0..g.rng.below(3) {
            let name = format!("cpt{i}");
            out.push_str(&format!(
                "codes {name} = cpt {}\n",
                set_literal(g.rng, CPT_ITEMS)
            ));
            g.cpt_sets.push(name);
        }
        for i in 0..g.rng.below(3) {
            let body = g.condition(2);
            out.push_str(&format!("define def{i} = {body}\n"));
            g.defines.push(format!("def{i}"));
        }
        for d in 0..1 + g.rng.below(2) {
            let hit = *g.rng.pick(&["unique", "first", "any"]);
            out.push_str(&format!(
                "decision decision{d} ({hit}) {{\n  outcomes {{ o0, o1, o2 }}\n"
            ));
            for r in 0..1 + g.rng.below(4) {
                let condition = g.condition(2);
                let outcome = g.rng.below(3);
                out.push_str(&format!("  rule r{r} when {condition} then o{outcome}\n"));
            }
            if g.rng.chance(50) {
                out.push_str(&format!("  otherwise o{}\n", g.rng.below(3)));
            }
            out.push_str("}\n");
        }
        out
    }
}

/// Checks and compiles a program given as text, with the shipped code tables; `None` when the
/// check reports an error (a random `has all` may require codes an Excludes1 note forbids
/// together, `E0312`).
fn from_text(text: &str) -> Option<(ValidProgram, Vec<Compiled>)> {
    use medpol::source::{FileId, SourceFile, Sources};
    let mut sources = Sources::new();
    sources.add(SourceFile::new("generated.medpol", None, text.to_string()));
    let parsed = medpol::syntax::parse(FileId(0), text);
    let tables = medpol::tables::TableSet::shipped();
    let checked = medpol::check::check(&[parsed.file], &Default::default(), tables, &[]);
    if checked.diagnostics.iter().any(|d| d.is_error()) {
        return None;
    }
    let program = checked.into_valid().unwrap();
    let compiled =
        compile::compile(&program, tables, &sources, &compile::Options::default()).unwrap();
    Some((program, compiled))
}

/// Random programs, random patients with missing facts: both evaluators agree, and every
/// witness patient reaches its leaf by the interpreter too.
#[test]
fn the_interpreter_and_the_compiled_artifacts_agree_on_generated_programs() {
    let (mut programs, mut decisions, mut leaves) = (0, 0, 0);
    for seed in 0..PROGRAMS {
        let text = generate::program(&mut generate::Rng::new(seed));
        let Some((program, compiled)) = from_text(&text) else {
            continue;
        };
        programs += 1;
        let (d, l) = agree_generated(seed, &text, &program, &compiled);
        decisions += d;
        leaves += l;
    }
    assert_eq!((programs, decisions, leaves), (198, 299, 1330));
}

/// Random patients and every witness of one generated program agree (see [`agree`] and
/// [`witnesses_agree`]): (decisions, leaves); a failure names the seed and shows the program.
fn agree_generated(
    seed: u64,
    text: &str,
    program: &ValidProgram,
    compiled: &[Compiled],
) -> (usize, usize) {
    let tables = medpol::tables::TableSet::shipped();
    let result = std::panic::catch_unwind(|| {
        (
            agree(program, tables, compiled, PATIENTS),
            witnesses_agree(program, tables, compiled),
        )
    });
    result.unwrap_or_else(|e| panic!("seed {seed}, program:\n{text}\n{e:?}"))
}

/// How many programs to generate, and patients per decision.
const PROGRAMS: u64 = 200;
const PATIENTS: u32 = 128;

/// Random programs over histories: lists of a record with a number, an enum, a bool and a
/// code, counted with and without conditions (several counts of one list, two lists), beside
/// plain facts. Lists are drawn with missing fields too.
mod generate_histories {
    pub use crate::random::Rng;

    const FILTERS: &[&str] = &[
        "x > 1",
        "x <= 0",
        "x == 2",
        "y == a",
        "y != b",
        "z",
        "not z",
        "c in { M80.08XA, M84.48X* }",
        "c not in { M80.08XA }",
        "w within 2 months before service_date",
        "w within 10 days before service_date",
        "y == e0",
        "y != e0",
    ];

    fn filter(rng: &mut Rng) -> String {
        let a = *rng.pick(FILTERS);
        match rng.below(4) {
            0 => format!("{a} and {}", rng.pick(FILTERS)),
            1 => format!("{a} or {}", rng.pick(FILTERS)),
            _ => a.to_string(),
        }
    }

    fn atom(rng: &mut Rng) -> String {
        let op = *rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
        let k = rng.below(4);
        match rng.below(8) {
            0 => format!("count(h0) {op} {k}"),
            1 | 2 => format!("count(h0 where {}) {op} {k}", filter(rng)),
            3 => format!("count(h1 where {}) {op} {k}", filter(rng)),
            4 => "b0".to_string(),
            5 => "service_date >= 2026-03-31".to_string(),
            6 => "e0 == a".to_string(),
            _ => format!("n0 {op} {}", k as i64 - 1),
        }
    }

    fn condition(rng: &mut Rng, depth: usize) -> String {
        if depth == 0 || rng.chance(45) {
            return atom(rng);
        }
        match rng.below(4) {
            0 => format!("not ({})", condition(rng, depth - 1)),
            _ => {
                let op = if rng.chance(50) { "and" } else { "or" };
                let (a, b) = (condition(rng, depth - 1), condition(rng, depth - 1));
                format!("({a} {op} {b})")
            }
        }
    }

    pub fn program(rng: &mut Rng) -> String {
        let mut out = String::from(
            "policy \"histories\" { title \"h\" version \"1\" effective 2025-06-01 }\n\
             record item {\n  x: int\n  y: enum { a, b }\n  z: bool\n  c: code<icd10cm>\n  w: date\n}\n\
             fact h0: list<item>\nfact h1: list<item>\nfact b0: bool\nfact n0: int\n\
             fact e0: enum { a, b }\n",
        );
        let hit = *rng.pick(&["unique", "first", "any"]);
        out.push_str(&format!(
            "decision d ({hit}) {{\n  outcomes {{ o0, o1, o2 }}\n"
        ));
        for r in 0..1 + rng.below(4) {
            let c = condition(rng, 2);
            out.push_str(&format!("  rule r{r} when {c} then o{}\n", rng.below(3)));
        }
        if rng.chance(50) {
            out.push_str(&format!("  otherwise o{}\n", rng.below(3)));
        }
        out.push_str("}\n");
        out
    }
}

#[test]
fn the_interpreter_and_the_compiled_artifacts_agree_on_generated_histories() {
    let (mut programs, mut decisions, mut leaves) = (0, 0, 0);
    for seed in 0..HISTORY_PROGRAMS {
        let text = generate_histories::program(&mut generate_histories::Rng::new(seed));
        let (program, compiled) =
            from_text(&text).unwrap_or_else(|| panic!("seed {seed} does not check:\n{text}"));
        programs += 1;
        let (d, l) = agree_generated(seed, &text, &program, &compiled);
        decisions += d;
        leaves += l;
    }
    let n = HISTORY_PROGRAMS as usize;
    assert_eq!((programs, decisions), (n, n));
    assert!(leaves > n, "{leaves} leaves");
}

/// How many history programs to generate.
const HISTORY_PROGRAMS: u64 = 80;
