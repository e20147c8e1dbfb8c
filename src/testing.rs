//! Stage: test. Runs the `test` blocks of a checked program with the reference interpreter
//! ([`crate::evaluate`]).
//!
//! [`run`] is the stage's one public function. A test passes when every decision it expects
//! is decided, by the given facts alone, with the expected outcome: a result that still
//! depends on a fact the test leaves out fails and names the facts.

use crate::evaluate::{self, Assignment, Evaluation};
use crate::ir::{DecisionId, Program, TestId};

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
    /// The expected outcome, an index into the decision's outcomes.
    pub expected: u32,
    pub actual: Evaluation,
    pub passed: bool,
}

/// Runs the given tests, in the order given.
pub fn run(program: &Program, tests: &[TestId]) -> Vec<TestResult> {
    tests
        .iter()
        .filter_map(|id| program.tests.get(id.index()).map(|t| (*id, t)))
        .map(|(id, test)| {
            let facts: Assignment = test
                .given
                .iter()
                .map(|g| (g.fact, g.value.clone()))
                .collect();
            let expects = test
                .expects
                .iter()
                .map(|e| {
                    let actual = evaluate::evaluate(program, e.decision, &facts);
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
