//! Three-valued evaluation of one decision: `None` is unknown, and `and`, `or`, `not` and the
//! counts follow Kleene's tables, so a known result never depends on a missing fact.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Assignment, Hit, select};
use crate::ast::{CmpOp, CountKind};
use crate::codeset::CodeSets;
use crate::ir::{
    Decision, DefineBody, DefineId, Expr, ExprKind, FactId, Item, Program, Value, count_key,
};
use crate::types::{Num, Type};

/// The differences of related facts split on their own (`left - right` in the facts' base
/// unit, see [`crate::ir::Relation`]): those of a relation one of whose facts is missing.
/// Evaluation splits such a difference over its classes as a value of its own, never working
/// it out from values its facts are split over; `None` until it is given a value.
pub type Terms = BTreeMap<crate::ir::Term, Option<Num>>;

/// A decision ready to evaluate: its definitions in dependency order and the facts it reads.
pub struct Plan<'p> {
    program: &'p Program,
    code_sets: &'p CodeSets,
    decision: &'p Decision,
    /// Every definition the rules reach, each after the ones it uses.
    defines: Vec<DefineId>,
    facts: Vec<FactId>,
    /// The counts of lists the rules compare, each once.
    terms: Vec<Term<'p>>,
    /// The count each `count(...)` comparison reads, by the comparison's address.
    term_of: HashMap<usize, usize>,
}

/// One count of a list (see [`crate::ir::count_key`]) and the thresholds it is compared with.
pub struct Term<'p> {
    pub list: FactId,
    filter: Option<&'p Expr>,
    pub thresholds: Vec<Num>,
}

/// The counts the patient's own facts leave unknown, by index into the plan's terms: each has
/// no value (`None`) until the split of missing values gives it one. Such a count is never
/// worked out from facts the split gives: its split stands for every value it may take, as
/// the artifact's evaluator splits it.
pub type Counts = HashMap<usize, Option<u64>>;

/// Where a condition reads facts: the patient's, and inside a count the item's fields.
#[derive(Clone, Copy)]
struct Env<'a> {
    facts: &'a Assignment,
    item: Option<&'a Item>,
    counts: &'a Counts,
    terms: &'a Terms,
}

impl<'a> Env<'a> {
    fn get(&self, f: &FactId) -> Option<&'a Value> {
        self.item
            .and_then(|i| i.get(f))
            .or_else(|| self.facts.get(f))
    }
}

impl<'p> Plan<'p> {
    pub fn new(program: &'p Program, code_sets: &'p CodeSets, decision: &'p Decision) -> Plan<'p> {
        let conditions: Vec<&Expr> = decision.rules.iter().map(|r| &r.condition).collect();
        let mut terms: Vec<Term<'p>> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        let mut term_of = HashMap::new();
        for e in program.walk(&conditions) {
            if let ExprKind::ListCount {
                list,
                filter,
                value,
                ..
            } = &e.kind
            {
                let key = count_key(*list, filter.as_deref());
                let t = match keys.iter().position(|k| *k == key) {
                    Some(t) => t,
                    None => {
                        keys.push(key);
                        terms.push(Term {
                            list: *list,
                            filter: filter.as_deref(),
                            thresholds: Vec::new(),
                        });
                        terms.len() - 1
                    }
                };
                if let Some(term) = terms.get_mut(t) {
                    term.thresholds.push(*value);
                }
                term_of.insert(std::ptr::from_ref(e) as usize, t);
            }
        }
        for t in &mut terms {
            t.thresholds.sort();
            t.thresholds.dedup();
        }
        Plan {
            program,
            code_sets,
            decision,
            defines: program.define_order(&conditions),
            facts: reading_order(program, &conditions),
            terms,
            term_of,
        }
    }

    /// The counts of lists the rules compare.
    pub fn terms(&self) -> &[Term<'p>] {
        &self.terms
    }

    /// How many items of the list meet the count's condition; `None` when the list is
    /// missing or the condition is unknown for some item.
    pub fn count(&self, t: usize, facts: &Assignment) -> Option<u64> {
        let term = self.terms.get(t)?;
        let Some(Value::List(items)) = facts.get(&term.list) else {
            return None;
        };
        let Some(filter) = term.filter else {
            return Some(items.len() as u64);
        };
        let (counts, terms) = (Counts::new(), Terms::new());
        let mut n = 0;
        for item in items {
            let env = Env {
                facts,
                item: Some(item),
                counts: &counts,
                terms: &terms,
            };
            if self.eval(filter, env, &HashMap::new())? {
                n += 1;
            }
        }
        Some(n)
    }

    /// What an unknown count waits for: the facts of the patient its condition reads that
    /// are missing, and its list when that is missing too or nothing else is (an item lacks a
    /// field the condition needs). The artifact's evaluator names the same.
    pub fn count_needs(&self, t: usize, facts: &Assignment) -> Vec<FactId> {
        let Some(term) = self.terms.get(t) else {
            return Vec::new();
        };
        let mut needs: Vec<FactId> = term
            .filter
            .map(|f| self.program.outer_facts(f))
            .unwrap_or_default()
            .into_iter()
            .filter(|f| !facts.contains_key(f))
            .collect();
        if needs.is_empty() || !facts.contains_key(&term.list) {
            needs.push(term.list);
        }
        needs
    }

    /// The facts the decision reads, through definitions too, in the order its rules read
    /// them.
    pub fn facts(&self) -> &[FactId] {
        &self.facts
    }

    /// The result, when the known facts (and the counts and differences given) decide it.
    pub fn run(&self, facts: &Assignment, counts: &Counts, terms: &Terms) -> Option<Hit> {
        let env = Env {
            facts,
            item: None,
            counts,
            terms,
        };
        let mut values: HashMap<DefineId, Option<bool>> = HashMap::new();
        for d in &self.defines {
            let v = match self.program.define(*d).map(|x| &x.body) {
                Some(DefineBody::Condition(e)) => self.eval(e, env, &values),
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
                .map(|r| self.eval(&r.condition, env, &values)),
        )
    }

    /// What is left of the decision once the known facts, counts and differences are read:
    /// the definitions and rule conditions the values leave open, cut down to their open parts
    /// (a conjunct known true or a disjunct known false can no longer change anything, so it
    /// is left out, and a `k of` keeps how many of its items are known true instead of them).
    /// Two assignments of the same levels
    /// with the same residue give the same result for every completion of the levels still
    /// open, which lets the search (`super::Search`) share their sub-results. Each open atom
    /// is named by its address: outside a count's condition an atom reads one fact, a count
    /// or a difference split on its own, all among the levels still open, so its value is
    /// the same function of them on both sides.
    pub fn residue(&self, facts: &Assignment, counts: &Counts, terms: &Terms) -> Vec<usize> {
        let env = Env {
            facts,
            item: None,
            counts,
            terms,
        };
        let mut out = Vec::new();
        let mut values: HashMap<DefineId, Option<bool>> = HashMap::new();
        for d in &self.defines {
            let v = match self.program.define(*d).map(|x| &x.body) {
                Some(DefineBody::Condition(e)) => {
                    let v = self.eval(e, env, &values);
                    if v.is_none() {
                        out.extend([DEFINE, d.index()]);
                        self.open(e, env, &values, &mut out);
                    }
                    v
                }
                _ => None,
            };
            values.insert(*d, v);
        }
        // The open definitions end here, so that no rule's part reads as one of them.
        out.push(END);
        for r in &self.decision.rules {
            match self.eval(&r.condition, env, &values) {
                Some(true) => {
                    out.push(TRUE);
                    // Under `first` no later rule can change the result.
                    if self.decision.hit == crate::ir::HitPolicy::First {
                        break;
                    }
                }
                Some(false) => out.push(FALSE),
                None => self.open(&r.condition, env, &values, &mut out),
            }
        }
        out
    }

    /// The open part of a condition whose value is unknown, in prefix form (see
    /// [`Plan::residue`]).
    fn open(
        &self,
        e: &Expr,
        facts: Env<'_>,
        defines: &HashMap<DefineId, Option<bool>>,
        out: &mut Vec<usize>,
    ) {
        let mut e = e;
        while let ExprKind::Not(inner) = &e.kind {
            out.push(NOT);
            e = inner;
        }
        let open_items = |head: &[usize], es: &[Expr], out: &mut Vec<usize>| {
            out.extend(head);
            for x in es {
                if self.eval(x, facts, defines).is_none() {
                    self.open(x, facts, defines, out);
                }
            }
            out.push(END);
        };
        match &e.kind {
            ExprKind::And(es) => open_items(&[AND], es, out),
            ExprKind::Or(es) => open_items(&[OR], es, out),
            ExprKind::Count { kind, k, items } => {
                let yes = items
                    .iter()
                    .filter(|x| self.eval(x, facts, defines) == Some(true))
                    .count();
                open_items(&[COUNT, *kind as usize, *k as usize, yes], items, out);
            }
            ExprKind::Define(d) => out.extend([DEFINE, d.index()]),
            _ => out.push(std::ptr::from_ref(e) as usize),
        }
    }

    /// Recursion follows the nesting of the source, which the parser bounds; chains of `not`
    /// (unbounded in the grammar) are peeled in a loop.
    fn eval(
        &self,
        e: &Expr,
        facts: Env<'_>,
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
                    match self.eval(x, facts, defines) {
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
                    match self.eval(x, facts, defines) {
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
            ExprKind::Relation(r) => match facts.terms.get(&r.term()) {
                Some(d) => d.map(|d| compare(d, r.op, r.value)),
                None => match (facts.get(&r.left), facts.get(&r.right)) {
                    (Some(Value::Num(a)), Some(Value::Num(b))) => {
                        let ty = |f| self.program.fact(f).map_or(Type::Error, |x| x.ty);
                        r.holds((*a, ty(r.left)), (*b, ty(r.right)))
                    }
                    _ => None,
                },
            },
            ExprKind::Window {
                field,
                reference,
                amount,
                months,
            } => match (facts.get(field), facts.get(reference)) {
                (Some(Value::Num(day)), Some(Value::Num(end))) => {
                    let start = medpol_artifact::window_start(*end, *amount, *months)?;
                    Some(start <= *day && day <= end)
                }
                _ => None,
            },
            ExprKind::FieldIs { field, op, fact } => match (facts.get(field), facts.get(fact)) {
                (Some(Value::Num(a)), Some(Value::Num(b))) => Some(compare(*a, *op, *b)),
                // Enum values by name: the field's enum and the fact's are declared apart.
                (Some(Value::Enum(a)), Some(Value::Enum(b))) => {
                    let name = |f: &FactId, v: u32| match self.program.fact(*f).map(|x| x.ty) {
                        Some(crate::types::Type::Enum(en)) => self.program.enum_value(en, v),
                        _ => "",
                    };
                    let same = name(field, *a) == name(fact, *b);
                    Some(if *op == CmpOp::Ne { !same } else { same })
                }
                _ => None,
            },
            ExprKind::ListCount { op, value, .. } => {
                let t = self.term_of.get(&(std::ptr::from_ref(e) as usize))?;
                let n = match facts.counts.get(t) {
                    Some(n) => *n,
                    None => self.count(*t, facts.facts),
                };
                n.map(|n| compare(Num::from_int(i128::from(n)), *op, *value))
            }
            ExprKind::Count { kind, k, items } => {
                let (mut yes, mut unknown) = (0usize, 0usize);
                for x in items {
                    match self.eval(x, facts, defines) {
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

/// The markers of a residue (see [`Plan::residue`]); an atom is named by its address, which
/// is never this small.
const AND: usize = 0;
const OR: usize = 1;
const COUNT: usize = 2;
const END: usize = 3;
const NOT: usize = 4;
const TRUE: usize = 5;
const FALSE: usize = 6;
const DEFINE: usize = 7;

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
