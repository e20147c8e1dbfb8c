//! The patients a decision can see: one variable per fact (or per code class of a set of codes),
//! each with the finite domain that tells its conditions apart, and every condition compiled to
//! a diagram over them.

use std::collections::{HashMap, HashSet};

use super::domain::{self, NumericDomain};
use super::mdd::{Exhausted, FALSE, Mdd, Node, TRUE};
use super::relations;
use crate::ast::{CmpOp, CountKind, Quantifier};
use crate::codes::System;
use crate::codeset::CodeSets;
use crate::ir::*;
use crate::types::{EnumId, Num, Type};

/// What an example shows for a list no numbers of items give the counts of (the analysis
/// left its counts free of each other).
pub const NO_LIST: &str = "(no list found with these counts)";

/// At most this many variables per decision: diagram operations recurse once per variable.
pub const MAX_VARIABLES: usize = 1_000;

/// What one diagram variable stands for.
#[derive(Debug, Clone)]
pub enum Var {
    Bool(FactId),
    Enum(FactId, EnumId),
    Numeric(FactId, NumericDomain),
    /// A single-code fact; the domain is its code classes.
    Code(FactId, usize),
    /// One code class of a set-of-codes fact: how many of its codes the patient has.
    /// Two states (none, some) or, when a condition needs all of a class, three (none, some
    /// but not all, all).
    ClassCount {
        fact: FactId,
        classes: usize,
        class: usize,
        states: u32,
    },
    /// The difference of two related facts, `left - right` in their base unit (see
    /// [`Relation`]), cut at the values it is compared with.
    /// With `calendar`, the calendar months between two dates (see [`Relation`]).
    Term {
        left: FactId,
        right: FactId,
        calendar: bool,
        domain: NumericDomain,
    },
    /// How many items of a list meet a condition: a count term (index into
    /// [`Space::terms`]), a whole number from 0 cut at the thresholds it is compared with.
    Count(usize, NumericDomain),
}

/// The codes of one code fact, cut into classes by which of the fact's sets hold them.
#[derive(Debug, Clone, Default)]
pub struct CodeClasses {
    pub system: Option<System>,
    /// The sets conditions test this fact against.
    pub sets: Vec<CodeSetId>,
    pub classes: Vec<CodeClass>,
}

#[derive(Debug, Clone)]
pub struct CodeClass {
    /// For each of the fact's sets, whether the class lies in it.
    pub inside: Vec<bool>,
    /// Some codes of the class, to show (the first is the example).
    pub examples: Vec<String>,
    /// How many codes the class has (in the universe used).
    pub size: usize,
}

/// What the conditions of a decision do with each fact, gathered before any diagram is built.
#[derive(Default)]
struct Uses {
    order: Vec<FactId>,
    seen: HashSet<FactId>,
    thresholds: HashMap<FactId, Vec<Num>>,
    sets: HashMap<FactId, Vec<CodeSetId>>,
    /// Sets a `has all` needs whole.
    all_of: HashMap<FactId, HashSet<CodeSetId>>,
    /// The differences of related facts, in reading order, with their thresholds.
    relations: Vec<(Term, Vec<Num>)>,
    /// The counts of lists, in reading order, with the thresholds they are compared with.
    terms: Vec<(super::lists::CountTerm, Vec<Num>)>,
}

impl Uses {
    fn fact(&mut self, f: FactId) {
        if self.seen.insert(f) {
            self.order.push(f);
        }
    }
}

pub struct Space<'p> {
    pub program: &'p Program,
    pub mdd: Mdd,
    pub vars: Vec<Var>,
    /// The first variable of each fact.
    pub var_of: HashMap<FactId, u32>,
    pub codes: HashMap<FactId, CodeClasses>,
    defines: HashMap<DefineId, Node>,
    /// The facts in the order their variables come.
    pub facts: Vec<FactId>,
    /// The variable of each difference of related facts.
    pub term_of: HashMap<Term, u32>,
    /// The groups of related facts (see `relations`).
    pub groups: Vec<relations::Group>,
    /// The counts of lists the conditions compare (each a [`Var::Count`]).
    pub terms: Vec<super::lists::CountTerm>,
    /// Each count's variable, by its key ([`count_key`]).
    term_var: HashMap<String, u32>,
    /// For each list with counts, the kinds of items its counts tell apart, with an example
    /// item of each (see [`super::lists::ListItems`]).
    pub items: HashMap<FactId, super::lists::ListItems>,
    /// The code sets, for the items of lists whose conditions read facts of the patient (their
    /// regions depend on those facts' values, see `lists::witness_list`).
    pub code_sets: &'p CodeSets,
    budget: usize,
}

/// The space of a set of conditions (a decision's rules and the constraints on them).
pub fn build<'p>(
    program: &'p Program,
    conditions: &[&Expr],
    code_sets: &'p CodeSets,
    budget: usize,
) -> Result<Space<'p>, TooLarge> {
    let order = program.define_order(conditions);
    let mut uses = Uses::default();
    // Facts in the order the policy reads them, definitions read where they are named: that
    // order keeps the diagrams small and the descriptions in the policy's own order.
    gather_in_order(program, conditions, &mut uses);
    let mut vars = Vec::new();
    let mut var_of = HashMap::new();
    let mut codes = HashMap::new();
    let mut term_var = HashMap::new();
    for &f in &uses.order {
        let Some(fact) = program.fact(f) else {
            continue;
        };
        var_of.insert(f, vars.len() as u32);
        match fact.ty {
            Type::Bool => vars.push(Var::Bool(f)),
            Type::Enum(e) => vars.push(Var::Enum(f, e)),
            Type::Int | Type::Decimal | Type::Quantity(_) | Type::Date => {
                let mut t = uses.thresholds.get(&f).cloned().unwrap_or_default();
                t.sort();
                t.dedup();
                vars.push(Var::Numeric(f, domain::numeric(fact.ty, fact.range, &t)));
            }
            Type::Code(system) => {
                let classes = classify(code_sets, system, uses.sets.get(&f));
                vars.push(Var::Code(f, classes.classes.len()));
                codes.insert(f, classes);
            }
            Type::CodeSet(system) => {
                let classes = classify(code_sets, system, uses.sets.get(&f));
                let all_of = uses.all_of.get(&f);
                let n = classes.classes.len();
                for (i, class) in classes.classes.iter().enumerate() {
                    let whole =
                        class.size > 1
                            && classes.sets.iter().zip(&class.inside).any(|(s, inside)| {
                                *inside && all_of.is_some_and(|a| a.contains(s))
                            });
                    vars.push(Var::ClassCount {
                        fact: f,
                        classes: n,
                        class: i,
                        states: if whole { 3 } else { 2 },
                    });
                }
                codes.insert(f, classes);
            }
            // One variable per count of the list, in reading order.
            Type::List(_) => {
                for (t, (term, thresholds)) in uses.terms.iter_mut().enumerate() {
                    if term.list == f {
                        thresholds.sort();
                        thresholds.dedup();
                        term_var.insert(term.key.clone(), vars.len() as u32);
                        vars.push(Var::Count(t, domain::count(thresholds)));
                    }
                }
            }
            Type::Error => {}
        }
        if vars.len() > MAX_VARIABLES {
            return Err(TooLarge(vars.len()));
        }
    }
    let mut term_of = HashMap::new();
    for (term, mut t) in uses.relations {
        t.sort();
        t.dedup();
        term_of.insert(term, vars.len() as u32);
        vars.push(Var::Term {
            left: term.left,
            right: term.right,
            calendar: term.calendar,
            domain: domain::difference(program, term.left, term.right, &t),
        });
        if vars.len() > MAX_VARIABLES {
            return Err(TooLarge(vars.len()));
        }
    }
    let domains = vars.iter().map(|v| domain_size(program, v)).collect();
    let groups = relations::groups(program, &vars, &var_of);
    let terms: Vec<super::lists::CountTerm> = uses.terms.into_iter().map(|(t, _)| t).collect();
    let items = super::lists::items_of(program, &terms, code_sets, budget);
    let mut space = Space {
        program,
        mdd: Mdd::new(domains, budget),
        vars,
        var_of,
        codes,
        defines: HashMap::new(),
        facts: uses.order,
        term_of,
        groups,
        terms,
        term_var,
        items,
        code_sets,
        budget,
    };
    // A group too large to enumerate stays without its diagram; the budget is the only
    // error.
    let mut groups = std::mem::take(&mut space.groups);
    for g in &mut groups {
        g.enumerate(program, &space.vars, &mut space.mdd)
            .map_err(|_| TooLarge(space.vars.len()))?;
    }
    space.groups = groups;
    for d in order {
        if let Some(DefineBody::Condition(e)) = program.define(d).map(|d| &d.body) {
            // A define the budget cannot build stays unknown; conditions using it then fail
            // with the same exhaustion.
            if let Ok(n) = space.condition(e) {
                space.defines.insert(d, n);
            }
        }
    }
    Ok(space)
}

/// The decision reads more facts than the analysis takes on.
#[derive(Debug, Clone, Copy)]
pub struct TooLarge(pub usize);

fn domain_size(program: &Program, v: &Var) -> u32 {
    match v {
        Var::Bool(_) => 2,
        Var::Enum(_, e) => program
            .enum_type(*e)
            .map_or(1, |t| t.values.len().max(1) as u32),
        Var::Numeric(_, d) => d.regions.len() as u32,
        Var::Code(_, n) => *n as u32,
        Var::ClassCount { states, .. } => *states,
        Var::Term { domain, .. } => domain.regions.len() as u32,
        Var::Count(_, d) => d.regions.len() as u32,
    }
}

/// Records each fact, threshold and code set the conditions test, in reading order.
fn gather_in_order(program: &Program, conditions: &[&Expr], uses: &mut Uses) {
    for e in program.walk(conditions) {
        match &e.kind {
            ExprKind::Fact(f) | ExprKind::EnumIn { fact: f, .. } => uses.fact(*f),
            ExprKind::Compare { fact, value, .. } => {
                uses.fact(*fact);
                uses.thresholds.entry(*fact).or_default().push(*value);
            }
            ExprKind::Relation(r) => {
                uses.fact(r.left);
                uses.fact(r.right);
                let key = r.term();
                match uses.relations.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, t)) => t.push(r.value),
                    None => uses.relations.push((key, vec![r.value])),
                }
            }
            ExprKind::CodeIn { fact, set } => {
                uses.fact(*fact);
                push_set(uses, *fact, *set);
            }
            ExprKind::Has {
                fact,
                quantifier,
                set,
            } => {
                uses.fact(*fact);
                push_set(uses, *fact, *set);
                if *quantifier == Quantifier::All {
                    uses.all_of.entry(*fact).or_default().insert(*set);
                }
            }
            ExprKind::ListCount {
                list,
                filter,
                value,
                ..
            } => {
                uses.fact(*list);
                // The facts of the patient the condition reads: an example shows them, and
                // the list's items are made for their values.
                if let Some(f) = filter {
                    for outer in program.outer_facts(f) {
                        uses.fact(outer);
                    }
                }
                let key = count_key(*list, filter.as_deref());
                match uses.terms.iter_mut().find(|(t, _)| t.key == key) {
                    Some((_, thresholds)) => thresholds.push(*value),
                    None => uses.terms.push((
                        super::lists::CountTerm {
                            list: *list,
                            filter: filter.as_deref().cloned(),
                            key,
                        },
                        vec![*value],
                    )),
                }
            }
            _ => {}
        }
    }
}

fn push_set(uses: &mut Uses, fact: FactId, set: CodeSetId) {
    let sets = uses.sets.entry(fact).or_default();
    if !sets.contains(&set) {
        sets.push(set);
    }
}

/// Cuts a code fact's universe into classes by set membership.
fn classify(codes: &CodeSets, system: System, sets: Option<&Vec<CodeSetId>>) -> CodeClasses {
    let sets = sets.cloned().unwrap_or_default();
    let universe = codes.universe(system);
    let members: Vec<&[String]> = sets.iter().map(|s| codes.members(*s)).collect();
    // Only the codes some set holds are looked at one by one: the rest (most of a table of
    // seventy thousand codes) make one class, whose size is what is left and whose examples
    // are its first codes. Classes keep the order of their first code.
    let mut covered: Vec<&String> = members.iter().flat_map(|m| m.iter()).collect();
    covered.sort_unstable();
    covered.dedup();
    let outside: Vec<&String> = universe
        .iter()
        .filter(|c| covered.binary_search(c).is_err())
        .take(12)
        .collect();
    let outside_size = universe.len().saturating_sub(covered.len());
    let mut classes: Vec<CodeClass> = Vec::new();
    // A code's signature: one bit per set.
    let mut index: HashMap<Vec<u64>, usize> = HashMap::new();
    let words = members.len().div_ceil(64).max(1);
    let mut key = vec![0u64; words];
    let mut outside_placed = outside.is_empty();
    let outside_class = CodeClass {
        inside: vec![false; members.len()],
        examples: outside.iter().map(|c| (*c).clone()).collect(),
        size: outside_size,
    };
    for code in covered {
        if !outside_placed && outside.first().is_some_and(|o| *o < code) {
            outside_placed = true;
            classes.push(outside_class.clone());
        }
        key.iter_mut().for_each(|w| *w = 0);
        let inside: Vec<bool> = members
            .iter()
            .map(|m| m.binary_search(code).is_ok())
            .collect();
        for (s, _) in inside.iter().enumerate().filter(|(_, i)| **i) {
            if let Some(w) = key.get_mut(s / 64) {
                *w |= 1 << (s % 64);
            }
        }
        match index.get(&key) {
            Some(&c) => {
                if let Some(c) = classes.get_mut(c) {
                    c.size += 1;
                    if c.examples.len() < 12 {
                        c.examples.push(code.clone());
                    }
                }
            }
            None => {
                index.insert(key.clone(), classes.len());
                classes.push(CodeClass {
                    inside,
                    examples: vec![code.clone()],
                    size: 1,
                });
            }
        }
    }
    if !outside_placed {
        classes.push(outside_class);
    }
    if classes.is_empty() {
        // The code sets give every system they test at least one code: a bug in medpol. One
        // class keeps the domain non-empty, its example says what went wrong.
        classes.push(CodeClass {
            inside: vec![false; sets.len()],
            examples: vec![lost_name("a code of a system a condition tests").to_string()],
            size: 0,
        });
    }
    CodeClasses {
        system: Some(system),
        sets,
        classes,
    }
}

impl Space<'_> {
    /// The node budget a diagram of this space's kind gets.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Compiles a condition (its defines must be compiled already, which `build` does).
    pub fn condition(&mut self, e: &Expr) -> Result<Node, Exhausted> {
        match &e.kind {
            ExprKind::Error => {
                debug_assert!(
                    false,
                    "internal error: a condition with errors reached the analysis"
                );
                // Unreachable: the analysis and the compiler take a `ValidProgram`, which has
                // no erroneous condition; giving up is the answer that claims nothing.
                Err(Exhausted)
            }
            ExprKind::Const(true) => Ok(TRUE),
            ExprKind::Const(false) => Ok(FALSE),
            ExprKind::Fact(f) => {
                let v = self.var(*f)?;
                self.mdd.literal(v, |x| x == 1)
            }
            ExprKind::Define(d) => self.defines.get(d).copied().ok_or(Exhausted),
            ExprKind::ListCount {
                list,
                filter,
                op,
                value,
            } => {
                let key = count_key(*list, filter.as_deref());
                let v = self.term_var.get(&key).copied().ok_or(Exhausted)?;
                self.compare(v, *op, *value)
            }
            ExprKind::Compare { fact, op, value } => {
                let v = self.var(*fact)?;
                self.compare(v, *op, *value)
            }
            ExprKind::Relation(r) => {
                let v = self.term_of.get(&r.term()).copied().ok_or(Exhausted)?;
                self.compare(v, r.op, r.value)
            }
            // A field against a fact of the patient: only in a count's condition, whose items
            // are analysed with the facts' values put in (`lists::witness_list`); without them
            // the list's counts are left free.
            ExprKind::Window { .. } | ExprKind::FieldIs { .. } => Err(Exhausted),
            ExprKind::EnumIn { fact, values } => {
                let v = self.var(*fact)?;
                let values = values.clone();
                self.mdd.literal(v, |x| values.contains(&x))
            }
            ExprKind::CodeIn { fact, set } => {
                let v = self.var(*fact)?;
                let inside = self.class_membership(*fact, *set);
                self.mdd
                    .literal(v, |c| inside.get(c as usize).copied().unwrap_or(false))
            }
            ExprKind::Has {
                fact,
                quantifier,
                set,
            } => self.has(*fact, *quantifier, *set),
            ExprKind::Not(inner) => {
                let n = self.condition(inner)?;
                self.mdd.not(n)
            }
            ExprKind::And(es) => {
                let mut acc = TRUE;
                for e in es {
                    let n = self.condition(e)?;
                    acc = self.mdd.and(acc, n)?;
                }
                Ok(acc)
            }
            ExprKind::Or(es) => {
                let mut acc = FALSE;
                for e in es {
                    let n = self.condition(e)?;
                    acc = self.mdd.or(acc, n)?;
                }
                Ok(acc)
            }
            ExprKind::Count { kind, k, items } => {
                let mut nodes = Vec::with_capacity(items.len());
                for e in items {
                    nodes.push(self.condition(e)?);
                }
                let k = *k as usize;
                match kind {
                    CountKind::AtLeast => self.mdd.at_least(k, &nodes),
                    CountKind::AtMost => {
                        let more = self.mdd.at_least(k + 1, &nodes)?;
                        self.mdd.not(more)
                    }
                    CountKind::Exactly => {
                        let least = self.mdd.at_least(k, &nodes)?;
                        let more = self.mdd.at_least(k + 1, &nodes)?;
                        self.mdd.diff(least, more)
                    }
                }
            }
        }
    }

    /// A number variable (a fact's or a count's) compared with a value: the classes whose
    /// sample meets it.
    fn compare(&mut self, v: u32, op: CmpOp, value: Num) -> Result<Node, Exhausted> {
        let samples = match self.vars.get(v as usize) {
            Some(Var::Numeric(_, d) | Var::Count(_, d) | Var::Term { domain: d, .. }) => {
                d.samples.clone()
            }
            _ => return Ok(FALSE),
        };
        self.mdd.literal(v, |r| {
            samples
                .get(r as usize)
                .is_some_and(|s| domain::holds(*s, op, value))
        })
    }

    /// Whether two values of a numeric fact lie in one class of its variable (so a rounded
    /// example value tells the same story as the exact one).
    pub fn same_class(&self, f: FactId, a: Num, b: Num) -> bool {
        let Some(Var::Numeric(_, d)) = self.var_of.get(&f).and_then(|v| self.vars.get(*v as usize))
        else {
            return a == b;
        };
        let class = |x: Num| {
            d.regions.iter().position(|r| match r {
                domain::Region::Point(p) => x == *p,
                domain::Region::Between(lo, hi) => {
                    lo.is_none_or(|lo| x > lo) && hi.is_none_or(|hi| x < hi)
                }
            })
        };
        class(a).is_some() && class(a) == class(b)
    }

    fn var(&self, f: FactId) -> Result<u32, Exhausted> {
        self.var_of.get(&f).copied().ok_or(Exhausted)
    }

    /// For each class of a code fact, whether it lies in `set`.
    pub fn class_membership(&self, fact: FactId, set: CodeSetId) -> Vec<bool> {
        let Some(classes) = self.codes.get(&fact) else {
            return Vec::new();
        };
        let Some(i) = classes.sets.iter().position(|s| *s == set) else {
            return vec![false; classes.classes.len()];
        };
        classes
            .classes
            .iter()
            .map(|c| c.inside.get(i).copied().unwrap_or(false))
            .collect()
    }

    fn has(
        &mut self,
        fact: FactId,
        quantifier: Quantifier,
        set: CodeSetId,
    ) -> Result<Node, Exhausted> {
        let inside = self.class_membership(fact, set);
        let first = self.var(fact)?;
        let mut acc = match quantifier {
            Quantifier::Any => FALSE,
            Quantifier::All | Quantifier::None => TRUE,
        };
        for (class, _) in inside.iter().enumerate().filter(|(_, i)| **i) {
            let v = first + class as u32;
            let states = self.mdd.domain(v);
            let lit = match quantifier {
                // Some or all of the class's codes.
                Quantifier::Any => self.mdd.literal(v, |s| s >= 1)?,
                // All of them: the top state (for a one-code class, "some" is "all").
                Quantifier::All => self.mdd.literal(v, |s| s + 1 == states)?,
                Quantifier::None => self.mdd.literal(v, |s| s == 0)?,
            };
            acc = match quantifier {
                Quantifier::Any => self.mdd.or(acc, lit)?,
                Quantifier::All | Quantifier::None => self.mdd.and(acc, lit)?,
            };
        }
        Ok(acc)
    }

    /// The combinations of classes of related facts some patient has: the diagrams of the
    /// groups enumerated (a group left approximate allows every combination).
    pub fn feasible(&mut self) -> Result<Node, Exhausted> {
        let mut acc = TRUE;
        for g in &self.groups {
            if let Some(n) = g.feasible {
                acc = self.mdd.and(acc, n)?;
            }
        }
        Ok(acc)
    }

    /// The facts whose relations the analysis does not decide exactly: those of groups too
    /// large to enumerate, and those of calendar months between dates (see `relations`).
    pub fn approximate(&self) -> Vec<FactId> {
        let mut facts: Vec<FactId> = self
            .groups
            .iter()
            .filter(|g| g.feasible.is_none())
            .flat_map(|g| g.facts.iter().copied())
            .chain(
                self.term_of
                    .keys()
                    .filter(|t| t.calendar)
                    .flat_map(|t| [t.left, t.right]),
            )
            .collect();
        facts.sort();
        facts.dedup();
        facts
    }

    /// A number for a numeric fact in an assignment: for a related fact, the value solved with
    /// the others of its group; else its class's sample. `None` for a related fact of an
    /// assignment no patient has (only in a group left approximate).
    pub fn number(&self, fact: FactId, values: &[Option<u32>]) -> Option<Num> {
        if let Some(n) = self.calendar_number(fact, values) {
            return n;
        }
        self.linear_number(fact, values)
    }

    /// [`Space::number`] without calendar months: the group's solution, or the sample.
    fn linear_number(&self, fact: FactId, values: &[Option<u32>]) -> Option<Num> {
        if let Some(g) = self.groups.iter().find(|g| g.facts.contains(&fact)) {
            return g
                .solve(self.program, &self.vars, values)?
                .get(&fact)
                .copied();
        }
        let first = *self.var_of.get(&fact)?;
        let value = values.get(first as usize).copied().flatten().unwrap_or(0);
        match self.vars.get(first as usize) {
            Some(Var::Numeric(_, d)) => d.samples.get(value as usize).copied(),
            _ => None,
        }
    }

    /// For the earlier-declared date of calendar months between two dates whose class the
    /// assignment gives: a date that many months from the other (solved first), in its own
    /// class when it has one; `Some(None)` when none is found near. `None` when the fact is
    /// no such date (the other date has a larger id, so this ends).
    fn calendar_number(&self, fact: FactId, values: &[Option<u32>]) -> Option<Option<Num>> {
        let value = |v: u32| values.get(v as usize).copied().flatten();
        let (term, class, var) = self
            .term_of
            .iter()
            .filter(|(t, _)| t.calendar && t.left == fact)
            .find_map(|(t, v)| Some((*t, value(*v)?, *v)))?;
        let Some(Var::Term { domain, .. }) = self.vars.get(var as usize) else {
            return Some(None);
        };
        let region = domain.regions.get(class as usize).cloned();
        let months = domain.samples.get(class as usize).and_then(|m| m.to_i64());
        let own = self
            .var_of
            .get(&fact)
            .and_then(|v| match self.vars.get(*v as usize) {
                Some(Var::Numeric(_, d)) => d.regions.get(value(*v)? as usize).cloned(),
                _ => None,
            });
        let inside = |r: &Option<domain::Region>, x: Num| match r {
            Some(domain::Region::Point(p)) => x == *p,
            Some(domain::Region::Between(a, b)) => {
                a.is_none_or(|a| x > a) && b.is_none_or(|b| x < b)
            }
            None => true,
        };
        let found = (|| {
            let other = crate::types::Date::from_num(self.number(term.right, values)?)?;
            // The value the fact has without the months, when the months agree with it.
            if let Some(date) = self
                .linear_number(fact, values)
                .and_then(crate::types::Date::from_num)
                && inside(&region, Num::from(other.months_until(date)))
                && inside(&own, date.num())
            {
                return Some(date.num());
            }
            let start = other.add_months(months?)?;
            // The dates that many months away lie within a month of it.
            for delta in (0..=31i64).flat_map(|d| [d, -d]) {
                let date = crate::types::Date::from_days(start.days() + delta)?;
                let counted = Num::from(other.months_until(date));
                if inside(&region, counted) && inside(&own, date.num()) {
                    return Some(date.num());
                }
            }
            None
        })();
        Some(found)
    }

    /// The value of one fact in an assignment of the variables (free variables take their
    /// first value), as a policy would write it.
    pub fn value_text(&self, fact: FactId, values: &[Option<u32>]) -> String {
        let Some(&first) = self.var_of.get(&fact) else {
            return lost_name("the variable of a fact a condition reads").to_string();
        };
        let value = |v: u32| values.get(v as usize).copied().flatten().unwrap_or(0);
        match self.vars.get(first as usize) {
            Some(Var::Bool(_)) => (value(first) == 1).to_string(),
            Some(Var::Enum(_, e)) => self.program.enum_value(*e, value(first)).to_string(),
            Some(Var::Numeric(f, _)) => match self.number(*f, values) {
                Some(n) => quantity_text(n, self.program.fact(*f).map(|f| f.ty)),
                None => "(a value no patient has with the others)".to_string(),
            },
            Some(Var::Code(f, _)) => self
                .codes
                .get(f)
                .and_then(|c| c.classes.get(value(first) as usize))
                .and_then(|c| c.examples.first())
                .map_or_else(|| lost_name("a code of a class").to_string(), Clone::clone),
            Some(Var::ClassCount { classes, .. }) => {
                let Some(cc) = self.codes.get(&fact) else {
                    return "{}".to_string();
                };
                let mut shown: Vec<String> = Vec::new();
                let mut more = 0usize;
                for class in 0..*classes {
                    let v = first + class as u32;
                    let state = value(v);
                    let states = self.mdd.domain(v);
                    let Some(c) = cc.classes.get(class) else {
                        continue;
                    };
                    if state == 0 {
                        continue;
                    }
                    if state + 1 == states && states == 3 {
                        // All codes of the class.
                        shown.extend(c.examples.iter().take(10).cloned());
                        more += c.size.saturating_sub(10);
                    } else {
                        shown.extend(c.examples.first().cloned());
                    }
                }
                let tail = if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                };
                format!("{{{}{tail}}}", shown.join(", "))
            }
            Some(Var::Count(..)) => {
                let ty = self.program.fact(fact).map_or(Type::Error, |f| f.ty);
                match super::lists::witness_list(self, fact, values) {
                    Some(items) => self.program.value_text(ty, &Value::List(items)),
                    None => NO_LIST.to_string(),
                }
            }
            Some(Var::Term { .. }) | None => {
                lost_name("the variable of a fact a condition reads").to_string()
            }
        }
    }
}

// Shown in findings as in tests: the one writing of values lives with the types.
pub use crate::types::quantity_text;
