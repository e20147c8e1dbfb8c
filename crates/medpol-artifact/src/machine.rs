//! A decision as a machine that reads its variables one after another, each either a class of
//! values or unknown, and ends in a state that is the decision's whole answer: the outcome and
//! rule, or pending with the variables whose facts are needed.
//!
//! The evaluator splits missing facts at run time ([`Decision::evaluate`]); the machine does
//! the same work once, when it is built, for every combination of known and unknown
//! variables. A back end that cannot follow a diagram with a missing fact on both branches
//! (SQL, where a row is one pass of expressions) runs the machine instead: one table lookup
//! per variable. The states after each variable are the distinct functions of what is still
//! to be read and of the unknown variables already read (a reduced diagram over them, ending
//! in the decision's own nodes), so the answer is exactly the evaluator's; states that give
//! the same answers for everything still to be read are then merged, from the last variable
//! back.

use std::collections::HashMap;

use crate::eval::{Diagram, LEAF, Ref2};
use crate::facts::Slot;
use crate::{Decision, Facts};

/// The decision's variables in reading order and, as diagrams over them that read an unknown
/// value as one more symbol: what the decision gives, and for each variable whether a pending
/// result needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The variables, in the order every path of the decision reads them.
    pub vars: Vec<Variable>,
    /// What the decision gives the patient.
    pub result: Levelled<Answer>,
    /// For each variable: when it is unknown and the result is pending, whether the result
    /// depends on it (so its facts are needed). It never reads the variable itself.
    pub needed: Vec<Levelled<bool>>,
}

/// What the machine reads at one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The fact the variable's tests name (for a difference, the first fact; for a class of
    /// codes, the set-of-codes fact; for a count, the list).
    pub fact: u32,
    /// The decision's nodes that test it, one per distinct test: together they tell its
    /// symbols apart.
    pub tests: Vec<u32>,
    /// The classes of values the decision's tests tell apart, each as whether each of `tests`
    /// holds in it. A patient's value is the symbol whose tests all agree with it.
    pub symbols: Vec<Vec<bool>>,
    /// The facts a result that waits for this variable names, each with when: for a
    /// difference, whichever of its two facts are missing; for a count, the missing facts its
    /// condition reads, and its list when that is missing too or nothing else is; for a
    /// derived value, its missing inputs (as [`Decision::evaluate`] says).
    pub needs: Vec<(u32, When)>,
}

/// A condition on which facts are missing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum When {
    Always,
    Missing(u32),
    /// None of these facts is missing.
    NoneMissing(Vec<u32>),
    Any(Vec<When>),
    All(Vec<When>),
}

/// A diagram as a chain of table lookups: a state before each step, starting at 0, and the
/// answer of each state after the last. Steps read only the variables the diagram tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levelled<T> {
    pub steps: Vec<Transitions>,
    pub answers: Vec<T>,
}

/// One step: `next[state * (symbols + 1) + symbol]` is the state after it, where the symbol
/// `symbols` (one past the last) stands for an unknown value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transitions {
    /// The variable read (an index into [`Machine::vars`]).
    pub var: u32,
    /// How many states there are before the step.
    pub states: u32,
    pub symbols: u32,
    pub next: Vec<u32>,
}

/// What the decision gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    /// One leaf: its rule and outcome, `otherwise`, no rule or a conflict.
    Leaf(u32),
    /// Several leaves with one result (the same outcome by rules the facts leave open): the
    /// first of the decision's leaves with that result.
    Same(u32),
    /// The result depends on missing facts.
    Pending,
}

/// Why a machine was not built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// What it had reached: variables or diagram nodes.
    pub size: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the decision's answers for missing facts need more than {} variables or nodes",
            self.size
        )
    }
}

/// At most this many diagram nodes are made while building.
const BUDGET: usize = 2_000_000;
/// At most this many variables: the diagram operations recurse once per variable.
const MAX_VARS: usize = 1024;

/// The evaluator's reduced diagrams, here over the steps (variables in reading order): an
/// end (`Result`) is a value of its own meaning per diagram (a leaf, a result, a bool).
type Store = Diagram;
type R = Ref2;

impl Diagram {
    fn node(&self, r: R) -> Option<(u32, &[R])> {
        match r {
            R::Node(i) => self.nodes.get(i as usize).map(|(s, c)| (*s, c.as_slice())),
            R::Result(_) => None,
        }
    }

    /// The diagram with each end replaced by `end` of it.
    fn map_ends(&mut self, root: R, end: &dyn Fn(u32) -> u32, memo: &mut HashMap<R, R>) -> R {
        if let Some(r) = memo.get(&root) {
            return *r;
        }
        let r = match self.node(root) {
            None => match root {
                R::Result(t) => R::Result(end(t)),
                n => n,
            },
            Some((step, children)) => {
                let children = children.to_vec();
                let mapped = children
                    .iter()
                    .map(|c| self.map_ends(*c, end, memo))
                    .collect();
                self.make(step, mapped)
            }
        };
        memo.insert(root, r);
        r
    }

    /// The diagram with the variable of `step` fixed to `symbol`.
    fn restrict(&mut self, root: R, step: u32, symbol: usize, memo: &mut HashMap<R, R>) -> R {
        if let Some(r) = memo.get(&root) {
            return *r;
        }
        let r = match self.node(root) {
            None => root,
            Some((s, children)) if s > step => {
                let _ = children;
                root
            }
            Some((s, children)) if s == step => children.get(symbol).copied().unwrap_or(root),
            Some((s, children)) => {
                let children = children.to_vec();
                let mapped = children
                    .iter()
                    .map(|c| self.restrict(*c, step, symbol, memo))
                    .collect();
                self.make(s, mapped)
            }
        };
        memo.insert(root, r);
        r
    }

    /// Two diagrams combined end by end.
    fn apply(
        &mut self,
        a: R,
        b: R,
        op: &dyn Fn(u32, u32) -> u32,
        memo: &mut HashMap<(R, R), R>,
    ) -> R {
        if let (R::Result(x), R::Result(y)) = (a, b) {
            return R::Result(op(x, y));
        }
        if let Some(r) = memo.get(&(a, b)) {
            return *r;
        }
        let step_a = self.node(a).map(|(s, _)| s);
        let step_b = self.node(b).map(|(s, _)| s);
        let step = match (step_a, step_b) {
            (Some(x), Some(y)) => x.min(y),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => return a,
        };
        let children = |store: &Store, r: R, s: Option<u32>| -> Option<Vec<R>> {
            match s {
                Some(x) if x == step => store.node(r).map(|(_, c)| c.to_vec()),
                _ => None,
            }
        };
        let ca = children(self, a, step_a);
        let cb = children(self, b, step_b);
        let width = ca.as_ref().or(cb.as_ref()).map_or(0, Vec::len);
        let mut out = Vec::with_capacity(width);
        for i in 0..width {
            let x = ca.as_ref().and_then(|c| c.get(i).copied()).unwrap_or(a);
            let y = cb.as_ref().and_then(|c| c.get(i).copied()).unwrap_or(b);
            out.push(self.apply(x, y, op, memo));
        }
        let r = self.make(step, out);
        memo.insert((a, b), r);
        r
    }

    /// The diagram extended with an unknown value at every node: its child there is every
    /// child joined by `join`.
    fn extend(
        &mut self,
        root: R,
        end: &dyn Fn(u32) -> u32,
        join: &dyn Fn(u32, u32) -> u32,
        ext: &mut Store,
        memo: &mut HashMap<R, R>,
        joined: &mut HashMap<(R, R), R>,
    ) -> R {
        if let Some(r) = memo.get(&root) {
            return *r;
        }
        let r = match self.node(root) {
            None => match root {
                R::Result(t) => R::Result(end(t)),
                n => n,
            },
            Some((step, children)) => {
                let children = children.to_vec();
                let mut mapped: Vec<R> = children
                    .iter()
                    .map(|c| self.extend(*c, end, join, ext, memo, joined))
                    .collect();
                let mut any = mapped.first().copied().unwrap_or(R::Result(0));
                for c in mapped.iter().skip(1) {
                    any = ext.apply(any, *c, join, joined);
                }
                mapped.push(any);
                ext.make(step, mapped)
            }
        };
        memo.insert(root, r);
        r
    }

    /// The diagram as a chain of lookups, one step per variable it tests.
    fn levelled<T: Clone>(&self, root: R, answer: &dyn Fn(u32) -> T) -> Levelled<T> {
        // The nodes reachable, by step.
        let mut by_step: std::collections::BTreeMap<u32, Vec<R>> = Default::default();
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec![root];
        while let Some(r) = todo.pop() {
            if !seen.insert(r) {
                continue;
            }
            if let Some((step, children)) = self.node(r) {
                by_step.entry(step).or_default().push(r);
                todo.extend(children.iter().copied());
            }
        }
        let mut alive: Vec<R> = vec![root];
        let mut steps = Vec::with_capacity(by_step.len());
        for (step, _) in by_step {
            let mut next: Vec<R> = Vec::new();
            let mut index: HashMap<R, u32> = HashMap::new();
            let mut id = |r: R, next: &mut Vec<R>| {
                *index.entry(r).or_insert_with(|| {
                    next.push(r);
                    (next.len() - 1) as u32
                })
            };
            let symbols = alive
                .iter()
                .find_map(|r| self.node(*r).filter(|(s, _)| *s == step))
                .map_or(1, |(_, c)| c.len());
            let mut table = Vec::with_capacity(alive.len() * symbols);
            for r in &alive {
                match self.node(*r) {
                    Some((s, children)) if s == step => {
                        for c in children {
                            table.push(id(*c, &mut next));
                        }
                    }
                    _ => {
                        let same = id(*r, &mut next);
                        table.extend(std::iter::repeat_n(same, symbols));
                    }
                }
            }
            steps.push(Transitions {
                var: step,
                states: alive.len() as u32,
                symbols: (symbols - 1) as u32,
                next: table,
            });
            alive = next;
        }
        let answers = alive
            .iter()
            .map(|r| match r {
                R::Result(t) => answer(*t),
                R::Node(_) => answer(u32::MAX),
            })
            .collect();
        Levelled { steps, answers }
    }
}

impl Decision {
    /// The decision as a [`Machine`]. Err when building it would take more than a bound of
    /// variables or diagram nodes.
    pub fn machine(&self) -> Result<Machine, TooLarge> {
        let order = self.reading_order();
        if order.len() > MAX_VARS {
            return Err(TooLarge { size: order.len() });
        }
        let mut vars = Vec::with_capacity(order.len());
        // For each step: for each symbol, a class of the variable that has it.
        let mut representatives: Vec<Vec<usize>> = Vec::with_capacity(order.len());
        for &var in &order {
            let (variable, reps) = self.variable(var);
            vars.push(variable);
            representatives.push(reps);
        }
        let step_of: HashMap<u32, u32> = order
            .iter()
            .enumerate()
            .map(|(i, v)| (*v, i as u32))
            .collect();
        let over = |store: &Store| {
            (store.nodes.len() > BUDGET).then_some(TooLarge {
                size: store.nodes.len(),
            })
        };

        // The decision over the steps, ending in its leaves.
        let mut plain = Store::default();
        let mut built: HashMap<u32, R> = HashMap::new();
        let leaves = self.over_steps(
            self.root,
            &step_of,
            &representatives,
            &mut plain,
            &mut built,
        );
        if let Some(e) = over(&plain) {
            return Err(e);
        }

        // What the patient gets: the leaves some completion reaches, joined as one leaf,
        // several with one result, or several results (pending).
        let leaf_count = self.keys.len() as u32;
        let pending = u32::MAX;
        let key_of = |t: u32| self.keys.get(t as usize);
        let first_with = |t: u32| {
            let key = key_of(t);
            self.keys
                .iter()
                .position(|k| Some(k) == key)
                .map_or(t, |i| i as u32)
        };
        // Ends of the extended diagram: a leaf (below `leaf_count`), several leaves with the
        // result of a leaf (`leaf_count` + that result's first leaf), or pending.
        let join = |a: u32, b: u32| -> u32 {
            let leaf = |x: u32| if x < leaf_count { x } else { x - leaf_count };
            if a == pending || b == pending {
                pending
            } else if a == b && a < leaf_count {
                a
            } else if first_with(leaf(a)) == first_with(leaf(b)) {
                leaf_count + first_with(leaf(a))
            } else {
                pending
            }
        };
        let mut ext = Store::default();
        let result_root = plain.extend(
            leaves,
            &|t| t,
            &join,
            &mut ext,
            &mut HashMap::new(),
            &mut HashMap::new(),
        );
        if let Some(e) = over(&ext) {
            return Err(e);
        }
        let result = ext.levelled(result_root, &|t| match t {
            t if t < leaf_count => Answer::Leaf(t),
            t if t != pending && t != u32::MAX => Answer::Same(t - leaf_count),
            _ => Answer::Pending,
        });

        // For each variable: whether some completion of the other unknown variables makes
        // the result differ between two of its values.
        let keys = {
            let key_index = |t: u32| first_with(t);
            plain.map_ends(leaves, &key_index, &mut HashMap::new())
        };
        let mut needed = Vec::with_capacity(order.len());
        for (step, reps) in representatives.iter().enumerate() {
            let step = step as u32;
            let cofactors: Vec<R> = (0..reps.len())
                .map(|symbol| plain.restrict(keys, step, symbol, &mut HashMap::new()))
                .collect();
            let mut differs = R::Result(0);
            let mut ne = HashMap::new();
            let mut or = HashMap::new();
            for (i, a) in cofactors.iter().enumerate() {
                for b in cofactors.iter().skip(i + 1) {
                    let d = plain.apply(*a, *b, &|x, y| u32::from(x != y), &mut ne);
                    differs = plain.apply(differs, d, &|x, y| x | y, &mut or);
                }
            }
            let extended = plain.extend(
                differs,
                &|t| t,
                &|x, y| x | y,
                &mut ext,
                &mut HashMap::new(),
                &mut HashMap::new(),
            );
            let unknown = reps.len();
            let when_unknown = ext.restrict(extended, step, unknown, &mut HashMap::new());
            if let Some(e) = over(&plain).or_else(|| over(&ext)) {
                return Err(e);
            }
            needed.push(ext.levelled(when_unknown, &|t| t == 1));
        }
        Ok(Machine {
            vars,
            result,
            needed,
        })
    }

    /// The decision from `at` as a diagram over the steps, ending in its leaves.
    fn over_steps(
        &self,
        at: u32,
        step_of: &HashMap<u32, u32>,
        representatives: &[Vec<usize>],
        store: &mut Store,
        built: &mut HashMap<u32, R>,
    ) -> R {
        if let Some(r) = built.get(&at) {
            return *r;
        }
        let node = self.nodes.get(at as usize).filter(|_| at & LEAF == 0);
        let r = match node.and_then(|n| Some((n, *step_of.get(&n.var)?))) {
            None => R::Result(at & !LEAF),
            Some((node, step)) => {
                let reps = representatives
                    .get(step as usize)
                    .map_or(&[][..], Vec::as_slice);
                let children = reps
                    .iter()
                    .map(|c| match self.chain_end(node, *c) {
                        Some(next) => self.over_steps(next, step_of, representatives, store, built),
                        None => R::Result(at & !LEAF),
                    })
                    .collect();
                store.make(step, children)
            }
        };
        built.insert(at, r);
        r
    }

    /// The decision's variables in an order every path reads them in (the loader checked
    /// that one exists).
    fn reading_order(&self) -> Vec<u32> {
        let count = self.vars.len();
        let mut after: Vec<Vec<u32>> = vec![Vec::new(); count];
        let mut before = vec![0u32; count];
        for n in &self.nodes {
            for child in [n.then, n.otherwise] {
                let Some(c) = self.nodes.get(child as usize).filter(|_| child & LEAF == 0) else {
                    continue;
                };
                if c.var != n.var
                    && let Some(list) = after.get_mut(n.var as usize)
                    && !list.contains(&c.var)
                {
                    list.push(c.var);
                    if let Some(b) = before.get_mut(c.var as usize) {
                        *b += 1;
                    }
                }
            }
        }
        // Kahn's algorithm, smallest variable first so the order is stable.
        let mut free: std::collections::BTreeSet<u32> = (0..count as u32)
            .filter(|v| before.get(*v as usize) == Some(&0))
            .collect();
        let mut order = Vec::with_capacity(count);
        while let Some(v) = free.pop_first() {
            order.push(v);
            for w in after.get(v as usize).cloned().unwrap_or_default() {
                if let Some(b) = before.get_mut(w as usize) {
                    *b -= 1;
                    if *b == 0 {
                        free.insert(w);
                    }
                }
            }
        }
        order
    }

    /// A variable's tests and symbols, and for each symbol a class of values that has it.
    fn variable(&self, var: u32) -> (Variable, Vec<usize>) {
        let mut tests: Vec<u32> = Vec::new();
        let mut splits: Vec<&[bool]> = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.var == var && !splits.contains(&n.split.as_slice()) {
                tests.push(i as u32);
                splits.push(&n.split);
            }
        }
        let classes = splits.first().map_or(0, |s| s.len());
        let mut symbols: Vec<Vec<bool>> = Vec::new();
        let mut reps = Vec::new();
        for class in 0..classes {
            let symbol: Vec<bool> = splits
                .iter()
                .map(|s| s.get(class).copied().unwrap_or(false))
                .collect();
            if !symbols.contains(&symbol) {
                symbols.push(symbol);
                reps.push(class);
            }
        }
        let (fact, other) = self.vars.get(var as usize).copied().unwrap_or((0, None));
        // As `var_needs`: the other facts first, then the variable's own fact when none of
        // them is missing or it is missing too.
        let others: Vec<u32> = self
            .var_outer
            .get(var as usize)
            .into_iter()
            .flatten()
            .copied()
            .chain(other)
            .collect();
        let inputs = self
            .inputs
            .get(fact as usize)
            .filter(|raw| !raw.is_empty())
            .cloned();
        let missing = |f: u32| match self.inputs.get(f as usize).filter(|r| !r.is_empty()) {
            Some(raw) => When::Any(raw.iter().map(|i| When::Missing(*i)).collect()),
            None => When::Missing(f),
        };
        let mut needs: Vec<(u32, When)> = others.iter().map(|o| (*o, missing(*o))).collect();
        let own = if others.is_empty() {
            When::Always
        } else {
            When::Any(vec![
                When::NoneMissing(
                    others
                        .iter()
                        .flat_map(|o| match self.inputs.get(*o as usize) {
                            Some(raw) if !raw.is_empty() => raw.clone(),
                            _ => vec![*o],
                        })
                        .collect(),
                ),
                missing(fact),
            ])
        };
        match inputs {
            Some(raw) => needs.extend(
                raw.iter()
                    .map(|i| (*i, When::All(vec![own.clone(), When::Missing(*i)]))),
            ),
            None => needs.push((fact, own)),
        }
        (
            Variable {
                fact,
                tests,
                symbols,
                needs,
            },
            reps,
        )
    }
}

/// What [`Machine::run`] gives: the answer, and the facts needed when pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub answer: Answer,
    /// The facts needed (indices into the artifact's facts), sorted; empty unless pending.
    pub needed: Vec<u32>,
}

impl<T: Clone> Levelled<T> {
    /// The answer for the symbols read (`symbols[var]`, the unknown symbol included).
    pub fn run(&self, symbols: &[u32]) -> Option<T> {
        let mut state = 0u32;
        for step in &self.steps {
            let symbol = *symbols.get(step.var as usize)?;
            state = *step
                .next
                .get((state * (step.symbols + 1) + symbol) as usize)?;
        }
        self.answers.get(state as usize).cloned()
    }
}

impl Machine {
    /// Runs the machine on a patient: each variable's symbol read with the decision's own
    /// tests. It gives what [`Decision::evaluate`] gives; back ends that run the machine are
    /// held to it through this function's tests.
    pub fn run(&self, decision: &Decision, facts: &Facts) -> Option<Run> {
        let own = decision.owns(facts);
        let mut symbols = Vec::with_capacity(self.vars.len());
        for var in &self.vars {
            let mut values = Vec::with_capacity(var.tests.len());
            for t in &var.tests {
                let node = decision.nodes.get(*t as usize)?;
                match own.then(|| decision.holds(node, facts)).flatten() {
                    Some(b) => values.push(b),
                    None => break,
                }
            }
            symbols.push(match values.len() == var.tests.len() {
                true => var.symbols.iter().position(|s| *s == values)? as u32,
                false => var.symbols.len() as u32,
            });
        }
        let answer = self.result.run(&symbols)?;
        let slots = own.then_some(facts.slots.as_slice());
        let missing =
            |f: u32| slots.is_none_or(|s| s.get(f as usize).is_none_or(|x| *x == Slot::Missing));
        let mut needed = Vec::new();
        if answer == Answer::Pending {
            for ((var, symbol), diagram) in self.vars.iter().zip(&symbols).zip(&self.needed) {
                if *symbol as usize == var.symbols.len() && diagram.run(&symbols)? {
                    needed.extend(
                        var.needs
                            .iter()
                            .filter(|(_, when)| when.holds(&missing))
                            .map(|(f, _)| *f),
                    );
                }
            }
        }
        needed.sort_unstable();
        needed.dedup();
        Some(Run { answer, needed })
    }
}

impl When {
    /// Whether the condition holds, given which facts are missing.
    pub fn holds(&self, missing: &dyn Fn(u32) -> bool) -> bool {
        match self {
            When::Always => true,
            When::Missing(f) => missing(*f),
            When::NoneMissing(fs) => !fs.iter().any(|f| missing(*f)),
            When::Any(ws) => ws.iter().any(|w| w.holds(missing)),
            When::All(ws) => ws.iter().all(|w| w.holds(missing)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Answer, MAX_VARS};
    use crate::{Artifact, Document, Facts, NodeDoc, Ref, Test};

    /// The build case `tiny` with its decision replaced by a chain of `n` flags: the first flag
    /// that is true decides, `covered` by a rule (leaf 0) for an even flag and `not_covered`
    /// (the `otherwise` leaf 2) for an odd one; none true gives `otherwise`.
    fn chain(n: usize) -> Artifact {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/cases/build/tiny.json"
        );
        let mut doc: Document = Artifact::from_json(&std::fs::read_to_string(path).unwrap())
            .unwrap()
            .document()
            .clone();
        let flag = doc.facts[1].clone();
        doc.facts = (0..n)
            .map(|i| {
                let mut f = flag.clone();
                f.name = format!("flag_{i}");
                f
            })
            .collect();
        let d = &mut doc.decisions[0];
        let loc = d.source_map.nodes[1].clone();
        d.nodes = (0..n as u32)
            .map(|i| NodeDoc {
                fact: i,
                test: Test::IsTrue,
                then: Ref::Leaf(if i % 2 == 0 { 0 } else { 2 }),
                otherwise: if i + 1 < n as u32 {
                    Ref::Node(i + 1)
                } else {
                    Ref::Leaf(2)
                },
            })
            .collect();
        d.source_map.nodes = vec![loc; n];
        doc.hash.clear();
        Artifact::new(doc).unwrap()
    }

    #[test]
    fn a_chain_of_flags_waits_for_the_flags_before_the_first_true_one() {
        let a = chain(MAX_VARS);
        let d = a.decision("coverage").unwrap();
        let m = d.machine().unwrap();
        let mut facts = Facts::new(&a);
        facts
            .read_json(r#"{"flag_0": false, "flag_2": true}"#)
            .unwrap();
        let run = m.run(d, &facts).unwrap();
        assert_eq!(run.answer, Answer::Pending);
        assert_eq!(a.fact_names(&run.needed), ["flag_1"]);
        assert_eq!(run.needed, d.evaluate(&facts).needed);
        // With flag 1 false as well, flag 2 decides.
        facts
            .read_json(r#"{"flag_0": false, "flag_1": false, "flag_2": true}"#)
            .unwrap();
        assert_eq!(m.run(d, &facts).unwrap().answer, Answer::Leaf(0));
    }

    #[test]
    fn a_decision_past_the_bound_of_variables_is_refused() {
        let a = chain(MAX_VARS + 1);
        let err = a.decision("coverage").unwrap().machine().unwrap_err();
        assert_eq!(err.size, MAX_VARS + 1);
        assert_eq!(
            err.to_string(),
            "the decision's answers for missing facts need more than 1025 variables or nodes"
        );
    }
}
