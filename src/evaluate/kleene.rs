//! Three-valued evaluation of one decision: `None` is unknown, and `and`, `or`, `not` and the
//! counts follow Kleene's tables, so a known result never depends on a missing fact.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Assignment, Hit, select};
use crate::ast::{CmpOp, CountKind};
use crate::codeset::CodeSets;
use crate::ir::{Decision, DefineBody, DefineId, Expr, ExprKind, FactId, Program, Term, Value};
use crate::types::{Num, Type};

/// The differences of related facts split on their own (`left - right` in the facts' base
/// unit, see [`crate::ir::Relation`]): those of a relation one of whose facts is missing.
/// Evaluation splits such a difference over its classes as a value of its own, never working
/// it out from values its facts are split over; `None` until it is given a value.
pub type Terms = BTreeMap<Term, Option<Num>>;

/// A decision ready to evaluate: its definitions in dependency order and the facts it reads.
pub struct Plan<'p> {
    program: &'p Program,
    code_sets: &'p CodeSets,
    decision: &'p Decision,
    /// Every definition the rules reach, each after the ones it uses.
    defines: Vec<DefineId>,
    facts: Vec<FactId>,
}

impl<'p> Plan<'p> {
    pub fn new(program: &'p Program, code_sets: &'p CodeSets, decision: &'p Decision) -> Plan<'p> {
        let conditions: Vec<&Expr> = decision.rules.iter().map(|r| &r.condition).collect();
        Plan {
            program,
            code_sets,
            decision,
            defines: program.define_order(&conditions),
            facts: reading_order(program, &conditions),
        }
    }

    /// The facts the decision reads, through definitions too, in the order its rules read
    /// them.
    pub fn facts(&self) -> &[FactId] {
        &self.facts
    }

    /// The result, when the known facts (and differences) decide it.
    pub fn run(&self, facts: &Assignment, terms: &Terms) -> Option<Hit> {
        let mut values: HashMap<DefineId, Option<bool>> = HashMap::new();
        for d in &self.defines {
            let v = match self.program.define(*d).map(|x| &x.body) {
                Some(DefineBody::Condition(e)) => self.eval(e, facts, terms, &values),
                _ => None,
            };
            values.insert(*d, v);
        }
        let outcomes: Vec<_> = self.decision.rules.iter().map(|r| r.outcome).collect();
        select(
            self.decision.hit,
            &outcomes,
            self.decision.otherwise.as_ref().map(|o| o.outcome),
            self.decision
                .rules
                .iter()
                .map(|r| self.eval(&r.condition, facts, terms, &values)),
        )
    }

    /// Recursion follows the nesting of the source, which the parser bounds; chains of `not`
    /// (unbounded in the grammar) are peeled in a loop.
    fn eval(
        &self,
        e: &Expr,
        facts: &Assignment,
        terms: &Terms,
        defines: &HashMap<DefineId, Option<bool>>,
    ) -> Option<bool> {
        let mut e = e;
        let mut negated = false;
        while let ExprKind::Not(inner) = &e.kind {
            negated = !negated;
            e = inner;
        }
        let v = match &e.kind {
            // Not in a `ValidProgram`, which `evaluate` takes; a condition with errors would
            // decide nothing.
            ExprKind::Error => None,
            ExprKind::Const(b) => Some(*b),
            ExprKind::Not(_) => None,
            ExprKind::Fact(f) => match facts.get(f) {
                Some(Value::Bool(b)) => Some(*b),
                _ => None,
            },
            ExprKind::Define(d) => defines.get(d).copied().flatten(),
            ExprKind::Compare { fact, op, value } => match facts.get(fact) {
                Some(Value::Num(n)) => Some(compare(*n, *op, *value)),
                _ => None,
            },
            ExprKind::EnumIn { fact, values } => match facts.get(fact) {
                Some(Value::Enum(v)) => Some(values.contains(v)),
                _ => None,
            },
            ExprKind::CodeIn { fact, set } => match facts.get(fact) {
                Some(Value::Code(c)) => Some(self.code_sets.contains(*set, c)),
                _ => None,
            },
            ExprKind::Has {
                fact,
                quantifier,
                set,
            } => match facts.get(fact) {
                Some(Value::Codes(codes)) => Some(self.code_sets.has(codes, *quantifier, *set)),
                _ => None,
            },
            ExprKind::And(es) => {
                let mut acc = Some(true);
                for x in es {
                    match self.eval(x, facts, terms, defines) {
                        Some(false) => {
                            acc = Some(false);
                            break;
                        }
                        None => acc = None,
                        Some(true) => {}
                    }
                }
                acc
            }
            ExprKind::Or(es) => {
                let mut acc = Some(false);
                for x in es {
                    match self.eval(x, facts, terms, defines) {
                        Some(true) => {
                            acc = Some(true);
                            break;
                        }
                        None => acc = None,
                        Some(false) => {}
                    }
                }
                acc
            }
            // A difference split on its own counts as given, even where its facts have values
            // of their own split: the two are split independently (as the artifact does).
            ExprKind::Relation(r) => match terms.get(&r.term()) {
                Some(d) => d.map(|d| compare(d, r.op, r.value)),
                None => match (facts.get(&r.left), facts.get(&r.right)) {
                    (Some(Value::Num(a)), Some(Value::Num(b))) => {
                        let ty = |f| self.program.fact(f).map_or(Type::Error, |x| x.ty);
                        r.holds((*a, ty(r.left)), (*b, ty(r.right)))
                    }
                    _ => None,
                },
            },
            ExprKind::Count { kind, k, items } => {
                let (mut yes, mut unknown) = (0usize, 0usize);
                for x in items {
                    match self.eval(x, facts, terms, defines) {
                        Some(true) => yes += 1,
                        None => unknown += 1,
                        Some(false) => {}
                    }
                }
                count(*kind, *k as usize, yes, yes + unknown)
            }
        };
        v.map(|b| b != negated)
    }
}

/// A count of conditions of which at least `low` and at most `high` hold.
fn count(kind: CountKind, k: usize, low: usize, high: usize) -> Option<bool> {
    let (always, never) = match kind {
        CountKind::AtLeast => (low >= k, high < k),
        CountKind::AtMost => (high <= k, low > k),
        CountKind::Exactly => (low == k && high == k, low > k || high < k),
    };
    if always {
        Some(true)
    } else if never {
        Some(false)
    } else {
        None
    }
}

pub fn compare(n: Num, op: CmpOp, value: Num) -> bool {
    match op {
        CmpOp::Eq => n == value,
        CmpOp::Ne => n != value,
        CmpOp::Lt => n < value,
        CmpOp::Le => n <= value,
        CmpOp::Gt => n > value,
        CmpOp::Ge => n >= value,
    }
}

/// The facts the rules read, each at its first use, rules in order and definitions read where
/// they are named. Splitting missing facts in this order lets the first rules decide early:
/// under `first`, the facts of a rule that holds make every later fact irrelevant.
fn reading_order(program: &Program, conditions: &[&Expr]) -> Vec<FactId> {
    let mut seen: HashSet<FactId> = HashSet::new();
    program
        .walk(conditions)
        .flat_map(Expr::facts_tested)
        .filter(|f| seen.insert(*f))
        .collect()
}
