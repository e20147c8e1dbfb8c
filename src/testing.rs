//! Stage: test. Runs the `test` blocks of a checked program with the reference interpreter
//! ([`crate::evaluate`]).
//!
//! [`run`] is the stage's one public function. A test passes when every decision it expects
//! is decided, by the given facts alone, with the expected outcome: a result that still
//! depends on a fact the test leaves out fails and names the facts.
//!
//! Given the compiled policies, it also measures coverage: each test's facts are evaluated on
//! the compiled diagram of every decision it expects, and a rule or a leaf is covered when a
//! test reaches it with nothing left open. Each uncovered leaf comes with the compiler's
//! witness patient.

use crate::artifact::{Facts, LeafDoc};
use crate::codeset::{CodeCache, CodeSets};
use crate::compile::Compiled;
use crate::evaluate::{self, Assignment, Evaluation};
use crate::ir::{DecisionId, FactId, OutcomeId, Program, TestId, ValidProgram, Value};
use crate::tables::TableSet;
use crate::types::Type;

/// The result of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub test: TestId,
    /// One per `expect`, in order.
    pub expects: Vec<ExpectResult>,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.expects.iter().all(|e| e.passed)
    }
}

/// One `expect` of a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectResult {
    pub decision: DecisionId,
    pub expected: OutcomeId,
    pub actual: Evaluation,
    pub passed: bool,
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub results: Vec<TestResult>,
    /// With the compiled policies: one entry per decision of theirs, in artifact order.
    pub coverage: Vec<DecisionCoverage>,
}

/// The coverage of one compiled decision.
#[derive(Debug, Clone)]
pub struct DecisionCoverage {
    pub decision: DecisionId,
    /// For each rule of the decision, in order: whether a test reaches it.
    pub rules: Vec<bool>,
    pub leaves: Vec<LeafCoverage>,
}

#[derive(Debug, Clone)]
pub struct LeafCoverage {
    pub leaf: LeafDoc,
    pub covered: bool,
    /// A patient who reaches the leaf: the facts tested on the way, each with its value as
    /// a policy writes it in a test.
    pub witness: Vec<(FactId, String)>,
}

/// Runs the given tests, in the order given; with the compiled policies, measures how much
/// of their decisions the tests cover.
/// `tables` are the project's code tables: code sets hold the codes of the release in force.
pub fn run(
    program: &ValidProgram,
    tables: &TableSet,
    tests: &[TestId],
    compiled: Option<&[Compiled]>,
) -> Run {
    let results = results(program, tables, tests);
    let coverage = compiled
        .map(|c| coverage(program, tests, c))
        .unwrap_or_default();
    Run { results, coverage }
}

fn results(program: &ValidProgram, tables: &TableSet, tests: &[TestId]) -> Vec<TestResult> {
    let mut codes = CodeCache::default();
    // A policy's code sets, expanded once.
    let mut by_policy: std::collections::HashMap<Option<crate::ir::PolicyId>, CodeSets> =
        std::collections::HashMap::new();
    tests
        .iter()
        .filter_map(|id| program.tests.get(id.index()).map(|t| (*id, t)))
        .map(|(id, test)| {
            let code_sets = by_policy.entry(test.policy).or_insert_with(|| {
                let date = test
                    .policy
                    .and_then(|p| program.policies.get(p.index()))
                    .and_then(|p| p.meta.effective);
                codes.code_sets(program, Some(tables), date)
            });
            let facts: Assignment = test
                .given
                .iter()
                .map(|g| (g.fact, g.value.clone()))
                .collect();
            let expects = test
                .expects
                .iter()
                .map(|e| {
                    let actual = evaluate::evaluate(program, code_sets, e.decision, &facts);
                    let passed = matches!(&actual, Evaluation::Decided { outcome, .. } if *outcome == e.outcome);
                    ExpectResult {
                        decision: e.decision,
                        expected: e.outcome,
                        actual,
                        passed,
                    }
                })
                .collect();
            TestResult { test: id, expects }
        })
        .collect()
}

fn coverage(program: &Program, tests: &[TestId], compiled: &[Compiled]) -> Vec<DecisionCoverage> {
    let mut out = Vec::new();
    for c in compiled {
        let artifact = &c.artifact;
        // Each test's facts bound once to this artifact; a test whose facts do not bind
        // (a fact this policy does not read) reaches nothing here.
        let bound: Vec<(TestId, Option<Facts>)> = tests
            .iter()
            .filter_map(|id| program.tests.get(id.index()).map(|t| (*id, t)))
            .map(|(id, t)| {
                let mut facts = serde_json::Map::new();
                for g in &t.given {
                    if let Some(f) = program.fact(g.fact)
                        && artifact.fact_index(&f.name).is_some()
                    {
                        facts.insert(f.name.clone(), value_json(program, f.ty, &g.value));
                    }
                }
                let value = serde_json::Value::Object(facts);
                let mut bound = Facts::new(artifact);
                (id, bound.read_value(&value).ok().map(|()| bound))
            })
            .collect();
        for (index, (d, &id)) in artifact.decisions().iter().zip(&c.decisions).enumerate() {
            let Some(decision) = program.decision(id) else {
                continue;
            };
            let leaf_count = d.document().leaves.len();
            let mut reached = vec![false; leaf_count];
            for (test, facts) in &bound {
                let expects = program
                    .tests
                    .get(test.index())
                    .is_some_and(|t| t.expects.iter().any(|e| e.decision == id));
                let Some(facts) = facts.as_ref().filter(|_| expects) else {
                    continue;
                };
                let e = d.evaluate(facts);
                // A leaf is reached when nothing is left open: one leaf, decided.
                if let ([leaf], true) = (e.leaves.as_slice(), e.is_decided())
                    && let Some(slot) = reached.get_mut(*leaf as usize)
                {
                    *slot = true;
                }
            }
            let mut rules = vec![false; decision.rules.len()];
            let leaves = d
                .document()
                .leaves
                .iter()
                .enumerate()
                .map(|(i, leaf)| {
                    let covered = reached.get(i).copied().unwrap_or(false);
                    if let (true, LeafDoc::Rule { rule, .. }) = (covered, leaf)
                        && let Some(r) = decision.rules.iter().position(|x| x.name == *rule)
                        && let Some(slot) = rules.get_mut(r)
                    {
                        *slot = true;
                    }
                    LeafCoverage {
                        leaf: leaf.clone(),
                        covered,
                        witness: c
                            .witness(index, i as u32)
                            .into_iter()
                            .flatten()
                            .filter_map(|(f, v)| {
                                let ty = program.fact(*f)?.ty;
                                Some((*f, program.value_text(ty, v)))
                            })
                            .collect(),
                    }
                })
                .collect();
            out.push(DecisionCoverage {
                decision: id,
                rules,
                leaves,
            });
        }
    }
    out
}

/// A test's value in the artifact's facts syntax.
pub fn value_json(program: &Program, ty: Type, v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Codes(codes) => serde_json::Value::Array(
            codes
                .iter()
                .map(|c| serde_json::Value::String(c.clone()))
                .collect(),
        ),
        Value::List(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|item| {
                    serde_json::Value::Object(
                        item.iter()
                            .filter_map(|(f, v)| {
                                let field = program.fact(*f)?;
                                Some((field.name.clone(), value_json(program, field.ty, v)))
                            })
                            .collect(),
                    )
                })
                .collect(),
        ),
        _ => serde_json::Value::String(program.value_text(ty, v)),
    }
}
