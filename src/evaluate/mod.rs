//! Stage: evaluate. The reference semantics of a decision: a direct interpreter of the typed
//! model, with no diagram in between, so that the compiled artifact can be checked against it.
//!
//! [`evaluate`] is the stage's one public function. Facts may be missing. The result is
//! decided exactly when every completion of the missing facts gives the same result (the same
//! outcome by the same rule, or the same conflict, or no rule): evaluation never guesses. It
//! first evaluates in three-valued (Kleene) logic, which is cheap and decides most cases; when
//! that leaves the result open it splits the missing facts, one at a time in the order the rules read them,
//! into the classes of values the decision's conditions can tell apart (`classes`), and builds
//! the reduced diagram of the result over them. The facts still needed are exactly the missing
//! facts that diagram tests: those whose value can change the result.

mod classes;
mod kleene;

use kleene::Terms;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::codeset::CodeSets;
use crate::ir::{DecisionId, FactId, HitPolicy, OutcomeId, Program, RuleId, ValidProgram, Value};

/// Known facts; a fact that is not in the map is missing.
pub type Assignment = BTreeMap<FactId, Value>;

/// What a decision gives for a patient.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Evaluation {
    /// The outcome and what gives it: one rule (or
    /// `otherwise`) when the facts decide that too; with missing facts that leave the outcome
    /// but not the rule open, every rule (and `otherwise`) that gives it for some completion.
    Decided { outcome: OutcomeId, by: Vec<By> },
    /// Under `unique` several rules hold, or under `any` rules with different outcomes
    /// (every rule that holds, in order). The analysis reports such overlaps
    /// (`E0401`, `W0402`); a patient outside the policy's constraints can still meet them.
    Conflict { rules: Vec<RuleId> },
    /// No rule holds and the decision has no `otherwise`.
    NoRule,
    /// The result depends on missing facts: these, sorted.
    Pending { needed: Vec<FactId> },
    /// A derived value the decision reads has no value for the facts given: its formula
    /// divides by zero or overflows (the derived fact, and why).
    Undefined {
        derived: FactId,
        error: medpol_artifact::formula::FormulaError,
    },
}

/// What decided an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum By {
    /// A rule. Under `any`, when several rules with the same outcome hold, the first of
    /// them.
    Rule(RuleId),
    Otherwise,
}

/// The result for one complete enough assignment, before missing facts are considered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Hit {
    Decided(OutcomeId, By),
    Conflict(Vec<RuleId>),
    NoRule,
}

impl Hit {
    /// Two results are the same when they give the same outcome, whichever rule gives it.
    fn key(&self) -> Hit {
        match self {
            Hit::Decided(outcome, _) => Hit::Decided(*outcome, By::Otherwise),
            other => other.clone(),
        }
    }
}

/// How many three-valued evaluations one call may spend splitting missing facts. Beyond it
/// the result is pending on every missing fact the decision reads: never a guess, at worst
/// a longer list of facts to supply.
const BUDGET: usize = 200_000;

/// Evaluates one decision for the given facts; `code_sets` are the program's code sets
/// expanded against the releases in force on the decision's policy's effective date
/// ([`crate::codeset::CodeCache::code_sets`]).
pub fn evaluate(
    program: &ValidProgram,
    code_sets: &CodeSets,
    decision: DecisionId,
    facts: &Assignment,
) -> Evaluation {
    let program: &Program = program;
    let Some(d) = program.decision(decision) else {
        return Evaluation::NoRule;
    };
    let plan = kleene::Plan::new(program, code_sets, d);
    let mut facts = facts.clone();
    // A value of the wrong type is no value: the checker and the artifact loader rule it out,
    // and treating it as missing keeps evaluation from guessing.
    facts.retain(|f, v| program.fact(*f).is_some_and(|fact| fits(fact.ty, v)));
    if let Err((derived, error)) = derive(program, &plan, &mut facts) {
        return Evaluation::Undefined { derived, error };
    }
    let mut counts = kleene::Counts::new();
    let mut terms = Terms::new();
    if let Some(known) = plan.run(&facts, &counts, &terms) {
        return finish(known, vec![]);
    }
    // What is split: each missing fact but a list over its classes of values, and each count
    // the facts leave unknown (its list missing, or an item lacking a field its condition
    // reads) over its classes, in the place its list is first read; then the difference of
    // two related facts one of which is missing, over its own classes (see `kleene::Terms`).
    // The artifact's evaluator splits the same way.
    let mut levels: Vec<(Vec<FactId>, Option<Vec<Level>>)> = Vec::new();
    for &f in plan.facts() {
        let is_list = matches!(
            program.fact(f).map(|x| x.ty),
            Some(crate::types::Type::List(_))
        );
        if is_list {
            for (t, term) in plan.terms().iter().enumerate() {
                if term.list == f && plan.count(t, &facts).is_none() {
                    counts.insert(t, None);
                    let values = crate::analyse::domain::count(&term.thresholds)
                        .samples
                        .iter()
                        .filter_map(|n| u64::try_from(n.to_i64()?).ok())
                        .map(|n| Level::Count(t, n))
                        .collect();
                    levels.push((plan.count_needs(t, &facts), Some(values)));
                }
            }
        } else if !facts.contains_key(&f) {
            let values = classes::representatives(program, code_sets, d, f)
                .map(|vs| vs.into_iter().map(|v| Level::Fact(f, v)).collect());
            // A derived value is split as a value of its own, and waits for its missing inputs.
            levels.push((inputs(program, f, &facts), values));
        }
    }
    for (term, samples) in classes::terms(program, d) {
        let needs: Vec<FactId> = [term.left, term.right]
            .into_iter()
            .filter(|f| !facts.contains_key(f))
            .collect();
        if !needs.is_empty() {
            terms.insert(term, None);
            let values = samples.into_iter().map(|n| Level::Term(term, n)).collect();
            levels.push((needs, Some(values)));
        }
    }
    let mut search = Search {
        plan: &plan,
        levels: &levels,
        nodes: HashMap::new(),
        shared: HashMap::new(),
        leaves: Vec::new(),
        by: BTreeSet::new(),
        budget: BUDGET,
    };
    match search.expand(&mut facts, &mut counts, &mut terms, 0) {
        Some(Node::Leaf(i)) => match search.leaves.get(i) {
            Some(hit) => finish(hit.clone(), search.by.into_iter().collect()),
            None => Evaluation::NoRule,
        },
        Some(Node::Test(_)) => {
            // Every interned node is reachable from the root: a node is made only as a child
            // of its parent, which keeps it either in its own node or, when reduced, as its
            // one result.
            // A difference tested needs its missing facts.
            let mut needed: Vec<FactId> = search
                .nodes
                .keys()
                .filter_map(|(level, _)| levels.get(*level))
                .flat_map(|(f, _)| f.iter().copied())
                .collect();
            needed.sort();
            needed.dedup();
            Evaluation::Pending { needed }
        }
        None => {
            let mut needed: Vec<FactId> =
                levels.iter().flat_map(|(f, _)| f.iter().copied()).collect();
            needed.sort();
            needed.dedup();
            Evaluation::Pending { needed }
        }
    }
}

/// Computes the derived values (in the order of their ids: a formula reads only derived
/// values declared before it): a derived value is never taken from the facts given, and one
/// with a missing input stays missing. A formula without a value for known inputs is an
/// error when the decision reads it, directly or through another derived value.
fn derive(
    program: &Program,
    plan: &kleene::Plan<'_>,
    facts: &mut Assignment,
) -> Result<(), (FactId, medpol_artifact::formula::FormulaError)> {
    let mut undefined: Vec<(FactId, medpol_artifact::formula::FormulaError)> = Vec::new();
    for (i, fact) in program.facts.iter().enumerate() {
        let Some(derived) = &fact.derived else {
            continue;
        };
        let id = FactId(i as u32);
        facts.remove(&id);
        let inputs = derived.formula.facts();
        if let Some(&(_, error)) = undefined.iter().find(|(u, _)| inputs.contains(&u)) {
            undefined.push((id, error));
            continue;
        }
        let number = |f: &FactId| match facts.get(f) {
            Some(Value::Num(n)) => Some(*n),
            _ => None,
        };
        match derived.formula.value(&number) {
            Ok(Some(n)) => {
                facts.insert(id, Value::Num(n));
            }
            Ok(None) => {}
            Err(error) => undefined.push((id, error)),
        }
    }
    match undefined
        .into_iter()
        .find(|(f, _)| plan.facts().contains(f))
    {
        Some(found) => Err(found),
        None => Ok(()),
    }
}

/// The missing facts a missing fact stands for: itself, or for a derived value the missing
/// facts it is computed from (through derived values it reads).
fn inputs(program: &Program, fact: FactId, facts: &Assignment) -> Vec<FactId> {
    let mut out = Vec::new();
    let mut todo = vec![fact];
    while let Some(f) = todo.pop() {
        match program.fact(f).and_then(|x| x.derived.as_ref()) {
            Some(d) => todo.extend(
                d.formula
                    .facts()
                    .into_iter()
                    .filter(|x| !facts.contains_key(x)),
            ),
            None => out.push(f),
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// One value a split gives: a missing fact's, an unknown count's, or that of the difference
/// of two related facts one of which is missing.
#[derive(Debug, Clone)]
enum Level {
    Fact(FactId, Value),
    Count(usize, u64),
    Term(crate::ir::Term, crate::types::Num),
}

/// The evaluation of a result; `by` lists what gives a decided outcome when it is more
/// than the result's own rule.
fn finish(hit: Hit, by: Vec<By>) -> Evaluation {
    match hit {
        Hit::Decided(outcome, one) => Evaluation::Decided {
            outcome,
            by: if by.is_empty() { vec![one] } else { by },
        },
        Hit::Conflict(rules) => Evaluation::Conflict { rules },
        Hit::NoRule => Evaluation::NoRule,
    }
}

/// Whether a value has the shape of a fact's type.
fn fits(ty: crate::types::Type, value: &Value) -> bool {
    use crate::types::Type;
    matches!(
        (ty, value),
        (Type::Bool, Value::Bool(_))
            | (
                Type::Int | Type::Decimal | Type::Quantity(_) | Type::Date,
                Value::Num(_)
            )
            | (Type::Enum(_), Value::Enum(_))
            | (Type::Code(_), Value::Code(_))
            | (Type::CodeSet(_), Value::Codes(_))
            | (Type::List(_), Value::List(_))
    )
}

/// A node of the reduced diagram of the result over the missing facts' classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Node {
    Leaf(usize),
    Test(usize),
}

struct Search<'a, 'p> {
    plan: &'a kleene::Plan<'p>,
    /// What is split, in order: the facts each level stands for (a count stands for what it
    /// waits for, see `kleene::Plan::count_needs`) and its values; `None` when it has too
    /// many.
    levels: &'a [(Vec<FactId>, Option<Vec<Level>>)],
    /// Interned test nodes by (level, children): equal sub-results share one node, so a node
    /// whose children are all the same is never made and the diagram is reduced.
    nodes: HashMap<(usize, Vec<Node>), usize>,
    /// The sub-result of each residue met (see [`kleene::Plan::residue`]) with the levels
    /// from its level on open: without it the search would redo the same sub-result for
    /// every way of reaching it, exponentially many in the number of facts missing.
    shared: HashMap<(usize, Vec<usize>), Node>,
    /// The results, one per key (see [`Hit::key`]).
    leaves: Vec<Hit>,
    /// Every rule or `otherwise` that gives a decided outcome for some completion.
    by: BTreeSet<By>,
    budget: usize,
}

impl Search<'_, '_> {
    /// The diagram of the result with the levels from `level` on still open. The levels are
    /// split in a fixed order and each sub-result is interned, which makes the diagram
    /// canonical: a level is tested in it exactly when the result depends on it. Recursion
    /// depth is at most the number of levels.
    fn expand(
        &mut self,
        facts: &mut Assignment,
        counts: &mut kleene::Counts,
        terms: &mut Terms,
        level: usize,
    ) -> Option<Node> {
        self.budget = self.budget.checked_sub(1)?;
        if let Some(result) = self.plan.run(facts, counts, terms) {
            return Some(self.leaf(result));
        }
        let key = (level, self.plan.residue(facts, counts, terms));
        if let Some(node) = self.shared.get(&key) {
            return Some(*node);
        }
        let Some((_, values)) = self.levels.get(level) else {
            // Every level has a value, so three-valued evaluation decides; kept total anyway.
            return Some(self.leaf(Hit::NoRule));
        };
        let values = values.as_ref()?;
        let mut children = Vec::with_capacity(values.len());
        for v in values {
            match v {
                Level::Fact(f, x) => {
                    facts.insert(*f, x.clone());
                }
                Level::Count(t, n) => {
                    counts.insert(*t, Some(*n));
                }
                Level::Term(t, d) => {
                    terms.insert(*t, Some(*d));
                }
            }
            let child = self.expand(facts, counts, terms, level + 1);
            match v {
                Level::Fact(f, _) => {
                    facts.remove(f);
                }
                Level::Count(t, _) => {
                    counts.insert(*t, None);
                }
                Level::Term(t, _) => {
                    terms.insert(*t, None);
                }
            }
            children.push(child?);
        }
        let first = *children.first()?;
        let node = if children.iter().all(|c| *c == first) {
            first
        } else {
            let next = self.nodes.len();
            Node::Test(*self.nodes.entry((level, children)).or_insert(next))
        };
        self.shared.insert(key, node);
        Some(node)
    }

    fn leaf(&mut self, result: Hit) -> Node {
        if let Hit::Decided(_, by) = result {
            self.by.insert(by);
        }
        let key = result.key();
        match self.leaves.iter().position(|l| *l == key) {
            Some(i) => Node::Leaf(i),
            None => {
                self.leaves.push(key);
                Node::Leaf(self.leaves.len() - 1)
            }
        }
    }
}

/// The rule or `otherwise` that the rules' truth values select, under the decision's hit
/// policy; `None` when a truth value that matters is unknown.
fn select(
    hit: HitPolicy,
    outcomes: &[Option<OutcomeId>],
    otherwise: Option<Option<OutcomeId>>,
    holds: impl Iterator<Item = Option<bool>>,
) -> Option<Hit> {
    let fallback = || match otherwise {
        Some(outcome) => outcome.map(|o| Hit::Decided(o, By::Otherwise)),
        None => Some(Hit::NoRule),
    };
    let mut hits = Vec::new();
    for (i, h) in holds.enumerate() {
        match h {
            Some(true) if hit == HitPolicy::First => {
                let rule = RuleId(i as u32);
                return Some(Hit::Decided(outcomes.get(i).copied()??, By::Rule(rule)));
            }
            Some(true) => hits.push(RuleId(i as u32)),
            Some(false) => {}
            None => return None,
        }
    }
    let Some(&first) = hits.first() else {
        return fallback();
    };
    let outcome = outcomes.get(first.index()).copied()??;
    let agree = hits
        .iter()
        .all(|r| outcomes.get(r.index()) == Some(&Some(outcome)));
    if hits.len() == 1 || (hit == HitPolicy::Any && agree) {
        Some(Hit::Decided(outcome, By::Rule(first)))
    } else {
        Some(Hit::Conflict(hits))
    }
}

#[cfg(test)]
mod tests;
