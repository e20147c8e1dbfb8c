//! Evaluation of a loaded artifact: each node is prepared once (thresholds parsed, enum values
//! and code sets resolved to indices, every code of every set indexed with the sets and classes
//! that hold it), so deciding a patient reads pre-resolved fact slots and allocates nothing.

use super::facts::{FactKind, Facts, Slot};
use super::{
    Artifact, Decided, Decision, DecisionDoc, Document, FactType, Inner, LeafDoc, LoadError,
    Quantifier, Ref, Test, parse_num,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::codes::{CodeForm, System, parse_code};
use crate::date::Date;
use crate::formula::Formula;
use crate::num::{Num, NumberKind, Unit};

/// A reference to a leaf has this bit set; otherwise it is a node index.
pub(crate) const LEAF: u32 = 1 << 31;

/// Gives each loaded artifact its own id, so facts bound to one are told from another's.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A node of a diagram over the classes of the missing variables: a result (a leaf, or an
/// index into the distinct results met) or a node of the diagram. The decision machines
/// (`machine.rs`) build on the same diagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ref2 {
    Result(u32),
    Node(u32),
}

/// A reduced diagram over the classes of variables: no node has all its children equal, and
/// no two nodes are the same. Nodes are made children first.
#[derive(Default)]
pub(crate) struct Diagram {
    /// Each node's variable and its child for each class.
    pub(crate) nodes: Vec<(u32, Vec<Ref2>)>,
    made: HashMap<(u32, Vec<Ref2>), u32>,
}

impl Diagram {
    pub(crate) fn make(&mut self, var: u32, children: Vec<Ref2>) -> Ref2 {
        match children.first() {
            Some(first) if children.iter().all(|c| c == first) => *first,
            _ => {
                if let Some(&i) = self.made.get(&(var, children.clone())) {
                    return Ref2::Node(i);
                }
                let i = self.nodes.len() as u32;
                self.nodes.push((var, children.clone()));
                self.made.insert((var, children), i);
                Ref2::Node(i)
            }
        }
    }

    /// The nodes reachable from `root`.
    fn reachable(&self, root: Ref2) -> Vec<u32> {
        let mut seen = vec![false; self.nodes.len()];
        let mut found = Vec::new();
        let mut todo = vec![root];
        while let Some(r) = todo.pop() {
            let Ref2::Node(i) = r else { continue };
            match seen.get_mut(i as usize) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            found.push(i);
            if let Some((_, children)) = self.nodes.get(i as usize) {
                todo.extend(children.iter().copied());
            }
        }
        found
    }

    /// The results reachable from `root`, each once.
    fn results(&self, root: Ref2) -> Vec<u32> {
        let mut results: Vec<u32> = self
            .reachable(root)
            .iter()
            .filter_map(|i| self.nodes.get(*i as usize))
            .flat_map(|(_, children)| children.iter())
            .chain(std::iter::once(&root))
            .filter_map(|c| match c {
                Ref2::Result(r) => Some(*r),
                Ref2::Node(_) => None,
            })
            .collect();
        results.sort_unstable();
        results.dedup();
        results
    }

    /// The variables the nodes reachable from `root` test.
    fn vars(&self, root: Ref2) -> Vec<u32> {
        self.reachable(root)
            .iter()
            .filter_map(|i| self.nodes.get(*i as usize).map(|(v, _)| *v))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) fact: u32,
    test: Prepared,
    pub(crate) then: u32,
    pub(crate) otherwise: u32,
    /// The variable the test reads (see [`Decision::vars`]).
    pub(crate) var: u32,
    /// For each class of values of the variable, whether the test holds.
    pub(crate) split: Vec<bool>,
}

/// What a test reads: a fact, or one class of codes of a set-of-codes fact (the classes of
/// one fact are disjoint, so a patient's codes in each are independent of the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct VarKey {
    fact: u32,
    class: Option<u32>,
    /// The second fact of a difference.
    other: Option<u32>,
    /// Whether the difference counts calendar months: days and calendar months between the
    /// same two dates are two number lines, not one.
    calendar: bool,
    /// For a count of a list: which count (each `where` of a list is a variable of its own).
    term: Option<u32>,
}

#[derive(Debug, Clone)]
enum Prepared {
    IsTrue,
    Ge(Num),
    Gt(Num),
    /// For each value of the enum, whether it is in the set.
    EnumIn(Vec<bool>),
    CodeIn(u32),
    HasAny(u32),
    /// A class and its size.
    HasAll(u32, u32),
    /// `fact * scale - other * other_scale` is at least (above, when strict) `value`; with
    /// `calendar`, the calendar months completed from the date `other` to the date `fact`.
    Difference {
        other: u32,
        scale: Num,
        other_scale: Num,
        calendar: bool,
        strict: bool,
        value: Num,
    },
    /// How many items of a list meet the condition (a count of the decision's `terms`),
    /// compared with a whole number: `>` when strict, else `>=`.
    Count {
        term: u32,
        strict: bool,
        value: Num,
        filter: Option<crate::lists::Prepared>,
    },
}

/// A class of codes a `has` test names: the codes in every set of `inside` and in none of
/// `not_in`.
#[derive(Debug, Clone)]
pub(crate) struct Class {
    pub(crate) fact: u32,
    inside: Vec<u32>,
    not_in: Vec<u32>,
    /// How many codes the class has.
    size: u32,
}

/// Every code of the artifact's sets, indexed: binding a patient's code is one hash lookup,
/// and what a test asks of it is a bit or a short list.
#[derive(Debug, Default)]
pub(crate) struct CodeIndex {
    /// Per code system (in [`System::ALL`] order): code in normal form to its index.
    by_system: [rustc_hash::FxHashMap<Box<str>, u32>; 4],
    /// For each code, one bit per set: whether the set holds it (`words` words per code).
    bits: Vec<u64>,
    words: usize,
    /// For each code, the classes it lies in: a range of `class_list`.
    class_ranges: Vec<(u32, u32)>,
    class_list: Vec<u32>,
}

impl CodeIndex {
    /// The index of a code of the artifact's sets, in normal form.
    #[inline]
    pub(crate) fn get(&self, system: System, code: &str) -> Option<u32> {
        self.by_system
            .get(system_slot(system))
            .and_then(|m| m.get(code))
            .copied()
    }

    #[inline]
    pub(crate) fn in_set(&self, code: u32, set: u32) -> bool {
        let word = code as usize * self.words + set as usize / 64;
        self.bits
            .get(word)
            .is_some_and(|w| w >> (set % 64) & 1 == 1)
    }

    /// The classes a code lies in (of every fact).
    #[inline]
    pub(crate) fn classes(&self, code: u32) -> &[u32] {
        self.class_ranges
            .get(code as usize)
            .and_then(|&(a, b)| self.class_list.get(a as usize..b as usize))
            .unwrap_or(&[])
    }
}

fn system_slot(system: System) -> usize {
    System::ALL.iter().position(|s| *s == system).unwrap_or(0)
}

/// What counts as the same result when facts are missing: the same outcome, or no rule, or
/// the same conflict.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Outcome(String),
    NoRule,
    Conflict(u32),
}

/// The result of evaluating a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The leaves the facts can reach, sorted: one when the facts decide the leaf; several
    /// when facts are missing (a decided evaluation may still leave the rule open when all of
    /// them give the same outcome).
    pub leaves: Vec<u32>,
    /// The missing facts the result depends on (indices into the artifact's facts), sorted;
    /// empty when the result is decided.
    pub needed: Vec<u32>,
    /// The tests taken from the root, in order, up to the leaf or the first missing fact.
    pub path: Vec<Step>,
    /// Past the first missing fact: the facts of the tests the given facts answer on every
    /// path the missing ones leave open, sorted (empty when no fact is missing). With `path`
    /// and `needed`, every fact the result rests on: the documentation a decided result still
    /// needs when a missing fact could not change it.
    pub tested: Vec<u32>,
}

/// One test taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub node: u32,
    pub fact: u32,
    /// Whether the test held.
    pub holds: bool,
}

impl Evaluation {
    /// Whether the facts decide the result (no missing fact changes it).
    pub fn is_decided(&self) -> bool {
        self.needed.is_empty() && !self.leaves.is_empty()
    }
}

fn leaf_key(doc: &DecisionDoc, leaf: u32, l: &LeafDoc) -> Result<Key, LoadError> {
    let outcome = |o: &String| {
        if doc.outcomes.contains(o) {
            Ok(Key::Outcome(o.clone()))
        } else {
            Err(LoadError::invalid(format!(
                "decision `{}`: leaf {leaf} gives `{o}`, which is not one of its outcomes",
                doc.name
            )))
        }
    };
    match l {
        LeafDoc::Rule { outcome: o, .. } | LeafDoc::Otherwise { outcome: o } => outcome(o),
        LeafDoc::NoRule => Ok(Key::NoRule),
        LeafDoc::Conflict { outcomes, .. } => {
            for o in outcomes {
                outcome(o)?;
            }
            Ok(Key::Conflict(leaf))
        }
    }
}

/// Checks every index and value of a document and prepares it for evaluation.
pub(super) fn prepare(mut doc: Document) -> Result<Inner, LoadError> {
    if doc.format != super::FORMAT && doc.format != super::FORMAT_1 {
        return Err(LoadError::invalid(format!(
            "not a `{}` artifact (format `{}`)",
            super::FORMAT,
            doc.format.escape_debug()
        )));
    }
    // Every type carries what it needs: a unit, values, a code system, a record whose fields
    // each hold one value.
    let complete = |f: &super::FactSchema| match f.ty {
        FactType::Duration => f
            .unit
            .as_deref()
            .and_then(Unit::parse)
            .is_some_and(|u| !matches!(u, Unit::Percent | Unit::Ucum(_))),
        FactType::Quantity => f
            .unit
            .as_deref()
            .and_then(Unit::parse)
            .is_some_and(|u| matches!(u, Unit::Ucum(_))),
        FactType::Enum => !f.values.is_empty(),
        FactType::Code | FactType::Codes => f.system.as_deref().and_then(System::parse).is_some(),
        _ => true,
    };
    // The first format is the second without what came with it.
    if doc.format == super::FORMAT_1 {
        format_1_holds(&doc)?;
    }
    for f in &doc.facts {
        let ok = match f.ty {
            FactType::List => f
                .record
                .and_then(|r| doc.records.get(r as usize))
                .is_some_and(|r| {
                    r.fields
                        .iter()
                        .all(|x| complete(x) && !matches!(x.ty, FactType::Codes | FactType::List))
                }),
            _ => complete(f),
        };
        if !ok {
            return Err(LoadError::invalid(format!(
                "fact `{}`: its type lacks its unit, values or code system",
                f.name
            )));
        }
        let numeric = matches!(
            f.ty,
            FactType::Int
                | FactType::Decimal
                | FactType::Duration
                | FactType::Percent
                | FactType::Quantity
        );
        if f.range
            .as_ref()
            .is_some_and(|r| !numeric || r.bounds().is_none())
        {
            return Err(LoadError::invalid(format!(
                "fact `{}`: its range is not two numbers in order, or it is not a number",
                f.name
            )));
        }
    }
    let mut sets = Vec::with_capacity(doc.code_sets.len());
    let mut systems = Vec::with_capacity(doc.code_sets.len());
    for s in &mut doc.code_sets {
        let Some(system) = System::parse(&s.system) else {
            return Err(LoadError::invalid(format!(
                "unknown code system `{}`",
                s.system
            )));
        };
        // A patient's code is found in the index as written when it is in normal form, so
        // every code of a set must be one.
        if let Some(bad) = s
            .codes
            .iter()
            .find(|c| !matches!(parse_code(system, c), Ok(CodeForm::Exact(n)) if n == **c))
        {
            return Err(LoadError::invalid(format!(
                "code set `{}`: `{}` is not in the normal form of {} codes",
                s.name.as_deref().unwrap_or(&s.source.text),
                bad.escape_debug(),
                system.display()
            )));
        }
        let mut codes = s.codes.clone();
        codes.sort();
        codes.dedup();
        sets.push(codes);
        systems.push(system);
    }
    let (derived, inputs) = derived_values(&doc)?;
    let inputs = std::sync::Arc::new(inputs);
    let mut classes: Vec<Class> = Vec::new();
    let mut decisions = Vec::with_capacity(doc.decisions.len());
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    for (index, d) in doc.decisions.iter().enumerate() {
        let node_count = d.nodes.len() as u32;
        let leaf_count = d.leaves.len() as u32;
        let err = |what: String| LoadError::invalid(format!("decision `{}`: {what}", d.name));
        let reference = |r: Ref, from: Option<u32>| -> Result<u32, LoadError> {
            match r {
                Ref::Leaf(l) if l < leaf_count => Ok(l | LEAF),
                Ref::Node(n) if n < node_count && from.is_none_or(|f| n > f) => Ok(n),
                _ => Err(err(format!(
                    "reference {r:?} is out of range or points backwards"
                ))),
            }
        };
        if d.source_map.nodes.len() != d.nodes.len() || d.source_map.leaves.len() != d.leaves.len()
        {
            return Err(err(
                "its source map does not match its nodes and leaves".into()
            ));
        }
        let mut nodes = Vec::with_capacity(d.nodes.len());
        // The counts of lists the decision tests, each once: (list, condition).
        let mut terms: Vec<(u32, Option<&super::Cond>)> = Vec::new();
        for (i, n) in d.nodes.iter().enumerate() {
            let i = i as u32;
            let fact = doc
                .facts
                .get(n.fact as usize)
                .ok_or_else(|| err(format!("node {i} names fact {} of none", n.fact)))?;
            let mismatch = || err(format!("node {i} tests fact `{}` wrongly", fact.name));
            let test = match (&n.test, fact.ty) {
                (Test::IsTrue, FactType::Bool) => Prepared::IsTrue,
                (
                    Test::Compare { op, value },
                    FactType::Int
                    | FactType::Decimal
                    | FactType::Duration
                    | FactType::Percent
                    | FactType::Date
                    | FactType::Quantity,
                ) => {
                    // A date's threshold is a date, kept as its day number as the fact is.
                    let v = if fact.ty == FactType::Date {
                        Date::parse(value).map(Date::num)
                    } else {
                        parse_num(value)
                    }
                    .ok_or_else(mismatch)?;
                    match op.as_str() {
                        ">=" => Prepared::Ge(v),
                        ">" => Prepared::Gt(v),
                        _ => return Err(mismatch()),
                    }
                }
                (
                    Test::Difference {
                        other,
                        op,
                        value,
                        unit,
                    },
                    _,
                ) => {
                    let second = doc.facts.get(*other as usize).ok_or_else(mismatch)?;
                    let unit = match unit {
                        Some(u) => Some(Unit::parse(u).ok_or_else(mismatch)?),
                        None => None,
                    };
                    // Months between two dates are calendar months.
                    let calendar = fact.ty == FactType::Date && unit == Some(Unit::Month);
                    let (scale, other_scale) = match calendar {
                        true if second.ty == FactType::Date => (Num::from_int(1), Num::from_int(1)),
                        _ => difference_scales(fact, second, unit).ok_or_else(mismatch)?,
                    };
                    let strict = match op.as_str() {
                        ">=" => false,
                        ">" => true,
                        _ => return Err(mismatch()),
                    };
                    Prepared::Difference {
                        other: *other,
                        scale,
                        other_scale,
                        calendar,
                        strict,
                        value: parse_num(value).ok_or_else(mismatch)?,
                    }
                }
                (Test::EnumIn { values }, FactType::Enum) => {
                    let mut mask = vec![false; fact.values.len()];
                    for v in values {
                        let at = fact
                            .values
                            .iter()
                            .position(|x| x == v)
                            .ok_or_else(mismatch)?;
                        if let Some(slot) = mask.get_mut(at) {
                            *slot = true;
                        }
                    }
                    Prepared::EnumIn(mask)
                }
                (Test::CodeIn { set }, FactType::Code) => {
                    let s = doc.code_sets.get(*set as usize).ok_or_else(mismatch)?;
                    if Some(&s.system) != fact.system.as_ref() {
                        return Err(mismatch());
                    }
                    Prepared::CodeIn(*set)
                }
                (
                    Test::Has {
                        quantifier,
                        inside,
                        not_in,
                    },
                    FactType::Codes,
                ) => {
                    if inside.is_empty()
                        || inside
                            .iter()
                            .chain(not_in)
                            .any(|s| doc.code_sets.get(*s as usize).is_none())
                    {
                        return Err(mismatch());
                    }
                    let class = class_index(&mut classes, &sets, n.fact, inside, not_in);
                    match quantifier {
                        Quantifier::Any => Prepared::HasAny(class),
                        Quantifier::All => Prepared::HasAll(
                            class,
                            classes.get(class as usize).map_or(0, |c| c.size),
                        ),
                    }
                }
                (Test::Count { op, value, filter }, FactType::List) => {
                    let record = fact
                        .record
                        .and_then(|r| doc.records.get(r as usize))
                        .ok_or_else(mismatch)?;
                    let v = parse_num(value)
                        .filter(|v| v.is_integer())
                        .ok_or_else(mismatch)?;
                    let strict = match op.as_str() {
                        ">=" => false,
                        ">" => true,
                        _ => return Err(mismatch()),
                    };
                    let prepared = match filter {
                        Some(c) => {
                            Some(crate::lists::prepare(c, record, &doc).ok_or_else(mismatch)?)
                        }
                        None => None,
                    };
                    let key = (n.fact, filter.as_ref());
                    let term = match terms.iter().position(|t| *t == key) {
                        Some(t) => t,
                        None => {
                            terms.push(key);
                            terms.len() - 1
                        }
                    };
                    Prepared::Count {
                        term: term as u32,
                        strict,
                        value: v,
                        filter: prepared,
                    }
                }
                _ => return Err(mismatch()),
            };
            nodes.push(Node {
                fact: n.fact,
                test,
                then: reference(n.then, Some(i))?,
                otherwise: reference(n.otherwise, Some(i))?,
                var: 0,
                split: Vec::new(),
            });
        }
        let (vars, var_outer) = split(&mut nodes, &doc.facts, &sets, &classes)
            .ok_or_else(|| err("its tests do not follow one order of facts".into()))?;
        let root = reference(d.root, None)?;
        let keys = d
            .leaves
            .iter()
            .enumerate()
            .map(|(i, l)| leaf_key(d, i as u32, l))
            .collect::<Result<Vec<_>, _>>()?;
        decisions.push(Decision {
            artifact: id,
            index,
            doc: d.clone(),
            nodes,
            vars,
            var_outer,
            inputs: std::sync::Arc::clone(&inputs),
            root,
            keys,
        });
    }
    let by_name: rustc_hash::FxHashMap<Box<str>, u32> = doc
        .facts
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str().into(), i as u32))
        .collect();
    if by_name.len() != doc.facts.len() {
        return Err(LoadError::invalid(
            "two facts of the input schema have one name".into(),
        ));
    }
    let codes = index_codes(&sets, &systems, &classes);
    let kinds = doc.facts.iter().map(FactKind::of).collect();
    Ok(Inner {
        id,
        kinds,
        derived,
        doc,
        decisions,
        codes,
        classes,
        by_name,
        known_codes: Default::default(),
    })
}

/// An artifact of the first format holds nothing the second brought: no date, measurement or
/// list fact, no declared range or documentation requirement, no test of a difference or a
/// count. A first-format artifact with one of them was not written by a compiler of that format.
fn format_1_holds(doc: &Document) -> Result<(), LoadError> {
    let refuse = |what: String| {
        Err(LoadError::invalid(format!(
            "{what}, which a `{}` artifact cannot hold",
            super::FORMAT_1
        )))
    };
    if !doc.records.is_empty() {
        return refuse("a record of list items".into());
    }
    for f in &doc.facts {
        let brought = match f.ty {
            FactType::Date => Some("a date"),
            FactType::Quantity => Some("a measurement"),
            FactType::List => Some("a list"),
            _ if f.range.is_some() => Some("a declared range"),
            _ if f.documentation => Some("a documentation requirement"),
            _ if f.formula.is_some() => Some("a derived value"),
            _ => None,
        };
        if let Some(what) = brought {
            return refuse(format!("fact `{}`: {what}", f.name));
        }
    }
    for d in &doc.decisions {
        for n in &d.nodes {
            let brought = match n.test {
                Test::Difference { .. } => "a test of a difference of two facts",
                Test::Count { .. } => "a count of a list",
                _ => continue,
            };
            return refuse(format!("decision `{}`: {brought}", d.name));
        }
    }
    Ok(())
}

/// The derived values of the input schema with their formulas, and for each fact the facts
/// given by patients a derived value is computed from. A formula reads facts listed before
/// its own, numbers or measurements, and its value is a number or a measurement.
#[allow(clippy::type_complexity)]
fn derived_values(doc: &Document) -> Result<(Vec<(u32, Formula<u32>)>, Vec<Vec<u32>>), LoadError> {
    let mut derived = Vec::new();
    let mut inputs: Vec<Vec<u32>> = vec![Vec::new(); doc.facts.len()];
    let numeric = |t: FactType| matches!(t, FactType::Int | FactType::Decimal | FactType::Quantity);
    for (i, f) in doc.facts.iter().enumerate() {
        let Some(formula) = &f.formula else {
            continue;
        };
        let err = |what: &str| LoadError::invalid(format!("fact `{}`: its formula {what}", f.name));
        let formula = formula.formula().map_err(|n| {
            err(&format!(
                "has `{}`, which is not a number",
                n.escape_debug()
            ))
        })?;
        if !numeric(f.ty) {
            return Err(err("gives a number, but the fact is not one"));
        }
        let mut raw = Vec::new();
        for &x in formula.facts() {
            let ok = (x as usize) < i && doc.facts.get(x as usize).is_some_and(|g| numeric(g.ty));
            if !ok {
                return Err(err("reads a fact that is not a number listed before it"));
            }
            match inputs.get(x as usize) {
                Some(r) if !r.is_empty() => raw.extend(r.iter().copied()),
                _ => raw.push(x),
            }
        }
        raw.sort_unstable();
        raw.dedup();
        if let Some(slot) = inputs.get_mut(i) {
            *slot = raw;
        }
        derived.push((i as u32, formula));
    }
    Ok((derived, inputs))
}

impl Prepared {
    /// A test against a threshold: whether it is strict (`>`), and the threshold.
    fn threshold(&self) -> Option<(bool, Num)> {
        match self {
            Prepared::Ge(v) => Some((false, *v)),
            Prepared::Gt(v) => Some((true, *v)),
            Prepared::Difference { strict, value, .. } | Prepared::Count { strict, value, .. } => {
                Some((*strict, *value))
            }
            _ => None,
        }
    }
}

/// For tests against thresholds of one number line, whether each holds in each class of it.
fn threshold_splits(
    kind: NumberKind,
    range: Option<(Num, Num)>,
    tests: &[Prepared],
) -> Vec<Vec<bool>> {
    let thresholds: Vec<Num> = tests
        .iter()
        .filter_map(|t| t.threshold().map(|(_, v)| v))
        .collect();
    let samples = crate::num::numeric_within(kind, range, &thresholds).samples;
    tests
        .iter()
        .map(|t| {
            samples
                .iter()
                .map(|x| match t.threshold() {
                    Some((true, v)) => *x > v,
                    Some((false, v)) => *x >= v,
                    None => false,
                })
                .collect()
        })
        .collect()
}

/// What each of two facts of one kind is counted in for their difference: for dates, days;
/// for durations and measurements, the difference's `unit` (of their family or dimension);
/// for numbers and percentages,
/// themselves. `None` when the facts are not of one kind or the unit does not fit them.
fn difference_scales(
    a: &super::FactSchema,
    b: &super::FactSchema,
    unit: Option<Unit>,
) -> Option<(Num, Num)> {
    let one = Num::from_int(1);
    let duration = |f: &super::FactSchema| f.unit.as_deref().and_then(Unit::parse);
    match (a.ty, b.ty, unit) {
        (FactType::Date, FactType::Date, Some(Unit::Day)) => Some((one, one)),
        (FactType::Int, FactType::Int, None)
        | (FactType::Decimal, FactType::Decimal, None)
        | (FactType::Percent, FactType::Percent, None) => Some((one, one)),
        (FactType::Duration, FactType::Duration, Some(u))
        | (FactType::Quantity, FactType::Quantity, Some(u)) => {
            Some((duration(a)?.exact_factor(u)?, duration(b)?.exact_factor(u)?))
        }
        _ => None,
    }
}

/// The facts of a variable: its fact, and a difference's second fact.
type VarFacts = (u32, Option<u32>);

/// Gives each test its variable and, for each class of the variable's values, whether the
/// test holds, and returns the facts of the variables. The classes are those the decision's
/// tests tell apart: a bool's two values, an enum's values, a number line cut at the tests'
/// thresholds (as the compiler's analysis cuts it), a code's memberships of the sets tested,
/// and for a class of codes none, some (of two or more) or all of it. `None` when a path
/// leaves a variable and comes back to it, or the variables are met in different orders on
/// different paths: then splitting a missing fact once per path would not be exact.
fn split(
    nodes: &mut [Node],
    facts: &[super::FactSchema],
    sets: &[Vec<String>],
    classes: &[Class],
) -> Option<(Vec<VarFacts>, Vec<Vec<u32>>)> {
    let key_of = |n: &Node| VarKey {
        fact: n.fact,
        class: match n.test {
            Prepared::HasAny(c) | Prepared::HasAll(c, _) => Some(c),
            _ => None,
        },
        other: match n.test {
            Prepared::Difference { other, .. } => Some(other),
            _ => None,
        },
        calendar: matches!(n.test, Prepared::Difference { calendar: true, .. }),
        term: match n.test {
            Prepared::Count { term, .. } => Some(term),
            _ => None,
        },
    };
    let mut keys: Vec<VarKey> = nodes.iter().map(key_of).collect();
    keys.sort();
    keys.dedup();
    for (key_index, key) in keys.iter().enumerate() {
        let members: Vec<usize> = (0..nodes.len())
            .filter(|i| nodes.get(*i).map(key_of) == Some(*key))
            .collect();
        let tests: Vec<Prepared> = members
            .iter()
            .filter_map(|i| nodes.get(*i).map(|n| n.test.clone()))
            .collect();
        let fact = facts.get(key.fact as usize)?;
        let splits: Vec<Vec<bool>> = match (key.other, fact.ty) {
            // A difference: its own number line, of whole numbers when both facts are (as the
            // compiler's analysis cuts it).
            (Some(other), _) => {
                let whole = |t: FactType| matches!(t, FactType::Int | FactType::Date);
                let kind = match facts.get(other as usize) {
                    Some(o) if whole(o.ty) && whole(fact.ty) => NumberKind::Int,
                    _ => NumberKind::Decimal,
                };
                threshold_splits(kind, None, &tests)
            }
            (None, ty) => match ty {
                FactType::Bool => tests.iter().map(|_| vec![false, true]).collect(),
                FactType::Int
                | FactType::Decimal
                | FactType::Duration
                | FactType::Percent
                | FactType::Date
                | FactType::Quantity
                | FactType::List => {
                    let kind = match fact.ty {
                        FactType::Int | FactType::Date => NumberKind::Int,
                        FactType::List => NumberKind::Count,
                        FactType::Duration => NumberKind::Duration,
                        FactType::Percent => NumberKind::Percent,
                        FactType::Quantity
                            if fact
                                .unit
                                .as_deref()
                                .and_then(Unit::parse)
                                .is_some_and(Unit::nonnegative) =>
                        {
                            NumberKind::Amount
                        }
                        _ => NumberKind::Decimal,
                    };
                    let range = fact.range.as_ref().and_then(crate::Range::bounds);
                    threshold_splits(kind, range, &tests)
                }
                FactType::Enum => tests
                    .iter()
                    .map(|t| match t {
                        Prepared::EnumIn(mask) => mask.clone(),
                        _ => Vec::new(),
                    })
                    .collect(),
                FactType::Code => {
                    let tested: Vec<u32> = {
                        let mut t: Vec<u32> = tests
                            .iter()
                            .filter_map(|t| match t {
                                Prepared::CodeIn(s) => Some(*s),
                                _ => None,
                            })
                            .collect();
                        t.sort_unstable();
                        t.dedup();
                        t
                    };
                    // A code's memberships of the tested sets; a code in none of them is one more.
                    let member = |s: u32, code: &String| {
                        sets.get(s as usize)
                            .is_some_and(|c| c.binary_search(code).is_ok())
                    };
                    let mut signatures: Vec<Vec<bool>> = vec![vec![false; tested.len()]];
                    for s in &tested {
                        for code in sets.get(*s as usize).into_iter().flatten() {
                            let signature: Vec<bool> =
                                tested.iter().map(|t| member(*t, code)).collect();
                            if !signatures.contains(&signature) {
                                signatures.push(signature);
                            }
                        }
                    }
                    tests
                        .iter()
                        .map(|t| {
                            let at = match t {
                                Prepared::CodeIn(s) => tested.binary_search(s).ok(),
                                _ => None,
                            };
                            signatures
                                .iter()
                                .map(|sig| at.and_then(|a| sig.get(a)).copied().unwrap_or(false))
                                .collect()
                        })
                        .collect()
                }
                FactType::Codes => {
                    let size = key
                        .class
                        .and_then(|c| classes.get(c as usize))
                        .map_or(0, |c| c.size);
                    // How many of the class's codes the patient has: none, some, all.
                    let counts: Vec<u32> = match size {
                        0 => vec![0],
                        1 => vec![0, 1],
                        _ => vec![0, 1, size],
                    };
                    tests
                        .iter()
                        .map(|t| {
                            counts
                                .iter()
                                .map(|n| match t {
                                    Prepared::HasAny(_) => *n > 0,
                                    Prepared::HasAll(_, all) => n >= all,
                                    _ => false,
                                })
                                .collect()
                        })
                        .collect()
                }
            },
        };
        for (i, split) in members.iter().zip(splits) {
            if let Some(n) = nodes.get_mut(*i) {
                n.var = key_index as u32;
                n.split = split;
            }
        }
    }
    // The variables in one order on every path: the graph of "read right after" between
    // different variables has no cycle (Kahn's algorithm removes every variable).
    let mut after: Vec<Vec<u32>> = vec![Vec::new(); keys.len()];
    let mut before = vec![0u32; keys.len()];
    for n in nodes.iter() {
        for child in [n.then, n.otherwise] {
            if child & LEAF != 0 {
                continue;
            }
            let c = nodes.get(child as usize)?;
            if c.var != n.var && !after.get(n.var as usize)?.contains(&c.var) {
                after.get_mut(n.var as usize)?.push(c.var);
                *before.get_mut(c.var as usize)? += 1;
            }
        }
    }
    let mut free: Vec<u32> = (0..keys.len() as u32)
        .filter(|v| before.get(*v as usize) == Some(&0))
        .collect();
    let mut removed = 0;
    while let Some(v) = free.pop() {
        removed += 1;
        for w in after.get(v as usize)?.clone() {
            let b = before.get_mut(w as usize)?;
            *b -= 1;
            if *b == 0 {
                free.push(w);
            }
        }
    }
    // For each count, the facts of the patient its condition reads.
    let mut outer: Vec<Vec<u32>> = vec![Vec::new(); keys.len()];
    for n in nodes.iter() {
        if let (
            Prepared::Count {
                filter: Some(f), ..
            },
            Some(o),
        ) = (&n.test, outer.get_mut(n.var as usize))
        {
            f.outer(o);
        }
    }
    (removed == keys.len()).then(|| (keys.iter().map(|k| (k.fact, k.other)).collect(), outer))
}

/// Indexes every code of the sets with the sets and the classes that hold it.
fn index_codes(sets: &[Vec<String>], systems: &[System], classes: &[Class]) -> CodeIndex {
    let mut index = CodeIndex {
        words: sets.len().div_ceil(64).max(1),
        ..CodeIndex::default()
    };
    let mut count = 0u32;
    for ((s, codes), system) in sets.iter().enumerate().zip(systems) {
        let Some(map) = index.by_system.get_mut(system_slot(*system)) else {
            continue;
        };
        for code in codes {
            let at = *map.entry(code.as_str().into()).or_insert_with(|| {
                count += 1;
                count - 1
            });
            let word = at as usize * index.words + s / 64;
            if index.bits.len() <= word {
                index.bits.resize((at as usize + 1) * index.words, 0);
            }
            if let Some(w) = index.bits.get_mut(word) {
                *w |= 1 << (s % 64);
            }
        }
    }
    index.bits.resize(count as usize * index.words, 0);
    let mut per_code: Vec<Vec<u32>> = vec![Vec::new(); count as usize];
    for (c, class) in classes.iter().enumerate() {
        let Some(first) = class.inside.first().and_then(|s| sets.get(*s as usize)) else {
            continue;
        };
        let system = systems
            .get(class.inside.first().copied().unwrap_or(0) as usize)
            .copied()
            .unwrap_or(System::Icd10Cm);
        for code in first {
            let Some(at) = index.get(system, code) else {
                continue;
            };
            let holds = class.inside.iter().all(|s| index.in_set(at, *s))
                && !class.not_in.iter().any(|s| index.in_set(at, *s));
            if holds && let Some(list) = per_code.get_mut(at as usize) {
                list.push(c as u32);
            }
        }
    }
    for list in per_code {
        let start = index.class_list.len() as u32;
        index.class_list.extend(list);
        index
            .class_ranges
            .push((start, index.class_list.len() as u32));
    }
    index
}

fn class_index(
    classes: &mut Vec<Class>,
    sets: &[Vec<String>],
    fact: u32,
    inside: &[u32],
    not_in: &[u32],
) -> u32 {
    if let Some(i) = classes
        .iter()
        .position(|c| c.fact == fact && c.inside == inside && c.not_in == not_in)
    {
        return i as u32;
    }
    let member = |s: &u32, code: &String| {
        sets.get(*s as usize)
            .is_some_and(|codes| codes.binary_search(code).is_ok())
    };
    let size = inside
        .first()
        .and_then(|s| sets.get(*s as usize))
        .map_or(0, |first| {
            first
                .iter()
                .filter(|c| {
                    inside.iter().all(|s| member(s, c)) && !not_in.iter().any(|s| member(s, c))
                })
                .count()
        });
    classes.push(Class {
        fact,
        inside: inside.to_vec(),
        not_in: not_in.to_vec(),
        size: size as u32,
    });
    (classes.len() - 1) as u32
}

impl Decision {
    /// Whether a node's test holds; `None` when its fact is missing.
    #[inline]
    pub(crate) fn holds(&self, node: &Node, facts: &Facts) -> Option<bool> {
        let slot = facts.slots.get(node.fact as usize)?;
        Some(match (&node.test, slot) {
            (_, Slot::Missing) => return None,
            (Prepared::IsTrue, Slot::Bool(b)) => *b,
            (Prepared::Ge(t), Slot::Num(v)) => v >= t,
            (Prepared::Gt(t), Slot::Num(v)) => v > t,
            (Prepared::EnumIn(mask), Slot::Enum(v)) => {
                mask.get(*v as usize).copied().unwrap_or(false)
            }
            (Prepared::CodeIn(set), Slot::Code(code)) => {
                code.is_some_and(|c| facts.inner.codes.in_set(c, *set))
            }
            (Prepared::HasAny(class), Slot::Codes) => facts.class_count(*class) > 0,
            (Prepared::HasAll(class, size), Slot::Codes) => facts.class_count(*class) >= *size,
            (
                Prepared::Difference {
                    other,
                    scale,
                    other_scale,
                    calendar,
                    strict,
                    value,
                },
                Slot::Num(v),
            ) => {
                let Some(Slot::Num(w)) = facts.slots.get(*other as usize) else {
                    return None;
                };
                let d = if *calendar {
                    let (later, earlier) = (Date::from_num(*v)?, Date::from_num(*w)?);
                    Num::from(earlier.months_until(later))
                } else {
                    v.checked_mul(*scale)?
                        .checked_sub(w.checked_mul(*other_scale)?)?
                };
                if *strict { d > *value } else { d >= *value }
            }
            (
                Prepared::Count {
                    strict,
                    value,
                    filter,
                    ..
                },
                Slot::List(items),
            ) => {
                let n = Num::from_int(i128::from(crate::lists::count(
                    items,
                    filter.as_ref(),
                    &facts.slots,
                    &facts.inner.codes,
                )?));
                if *strict { n > *value } else { n >= *value }
            }
            // Facts are bound against the artifact's own schema, so a slot of another type
            // cannot be met (facts of another artifact are refused before any test).
            _ => {
                debug_assert!(false, "a slot does not fit its test");
                return None;
            }
        })
    }

    /// Whether the facts were bound to this decision's artifact: facts of another artifact
    /// (even of an equal document loaded twice) count as entirely unknown, since their slots
    /// follow another schema.
    pub(crate) fn owns(&self, facts: &Facts) -> bool {
        facts.inner.id == self.artifact
    }

    /// What the decision gives the patient: the rule and outcome, `otherwise`, no rule, a
    /// conflict, or pending when facts the patient lacks could change it. Allocates nothing
    /// unless a fact on the patient's path is missing.
    pub fn decide(&self, facts: &Facts) -> Decided<'_> {
        match self.decide_leaf(facts) {
            Some(leaf) => self.decided_leaf(leaf),
            None => self.decided(&self.evaluate(facts)),
        }
    }

    /// The leaf the facts lead to, when no missing fact lies on the way: the fast path, with
    /// no allocation. `None` when a test on the path needs a missing fact (then
    /// [`Decision::evaluate`] says whether the result still follows).
    #[inline]
    pub fn decide_leaf(&self, facts: &Facts) -> Option<u32> {
        if !self.owns(facts) {
            return None;
        }
        let mut at = self.root;
        // Children come after their parents, so this ends within `nodes.len()` steps.
        while at & LEAF == 0 {
            let node = self.nodes.get(at as usize)?;
            at = if self.holds(node, facts)? {
                node.then
            } else {
                node.otherwise
            };
        }
        Some(at & !LEAF)
    }

    /// Evaluates the decision for a patient: the leaf with the path of tests taken, or, when
    /// the result depends on missing facts, those facts. A missing fact whose every branch
    /// leads to the same outcome does not hold the result up.
    pub fn evaluate(&self, facts: &Facts) -> Evaluation {
        let own = self.owns(facts);
        let known = |node: &Node| if own { self.holds(node, facts) } else { None };
        let mut path = Vec::new();
        let mut at = self.root;
        while at & LEAF == 0 {
            let Some(node) = self.nodes.get(at as usize) else {
                break;
            };
            match known(node) {
                Some(holds) => {
                    path.push(Step {
                        node: at,
                        fact: node.fact,
                        holds,
                    });
                    at = if holds { node.then } else { node.otherwise };
                }
                None => {
                    let slots = own.then_some(facts.slots.as_slice());
                    return self.explore(at, slots, &known, path).unwrap_or_else(|| {
                        debug_assert!(false, "a loaded diagram is out of range");
                        Evaluation {
                            leaves: Vec::new(),
                            needed: Vec::new(),
                            path: Vec::new(),
                            tested: Vec::new(),
                        }
                    });
                }
            }
        }
        Evaluation {
            leaves: vec![at & !LEAF],
            needed: Vec::new(),
            path,
            tested: Vec::new(),
        }
    }

    /// Every leaf the patient can reach from `start`, and the missing facts the result
    /// depends on. `None` only for a diagram [`prepare`] would have refused.
    ///
    /// Each missing variable is split over its classes of values: from a test of it, the
    /// chain of its tests is followed once per class. That gives a reduced, ordered diagram
    /// over the missing variables (ordered because [`split`] checked that every path reads
    /// the variables in one order) whose results are leaves: the leaves it reaches are exactly
    /// those some completion of the facts reaches. Merged by result (the same outcome, no
    /// rule, or the same conflict) and reduced again, the variables it still tests are exactly
    /// those whose value can change the result: their facts are the ones needed.
    fn explore(
        &self,
        start: u32,
        slots: Option<&[Slot]>,
        known: &dyn Fn(&Node) -> Option<bool>,
        path: Vec<Step>,
    ) -> Option<Evaluation> {
        let mut by_leaf = Diagram::default();
        let mut done: HashMap<u32, Ref2> = HashMap::new();
        let mut tested: Vec<u32> = Vec::new();
        // Post-order without recursion: a hostile artifact may chain a million tests.
        let mut stack = vec![(start, false)];
        while let Some((at, expanded)) = stack.pop() {
            if done.contains_key(&at) {
                continue;
            }
            if at & LEAF != 0 {
                done.insert(at, Ref2::Result(at & !LEAF));
                continue;
            }
            let node = self.nodes.get(at as usize)?;
            let targets: Vec<u32> = match known(node) {
                Some(true) => vec![node.then],
                Some(false) => vec![node.otherwise],
                None => (0..node.split.len())
                    .map(|class| self.chain_end(node, class))
                    .collect::<Option<_>>()?,
            };
            if !expanded {
                stack.push((at, true));
                stack.extend(targets.iter().map(|&t| (t, false)));
                continue;
            }
            let children = targets
                .iter()
                .map(|t| done.get(t).copied())
                .collect::<Option<Vec<_>>>()?;
            let value = match known(node) {
                Some(_) => {
                    tested.push(node.fact);
                    *children.first()?
                }
                None => by_leaf.make(node.var, children),
            };
            done.insert(at, value);
        }
        let root = *done.get(&start)?;
        let mut leaves = by_leaf.results(root);
        leaves.sort_unstable();

        // The same diagram with each leaf replaced by its result; its nodes were made
        // children first, so one pass in order rebuilds it.
        let mut keys: Vec<&Key> = Vec::new();
        let mut key_of = |leaf: u32| -> Option<Ref2> {
            let key = self.keys.get(leaf as usize)?;
            let id = match keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            Some(Ref2::Result(id as u32))
        };
        let mut by_result = Diagram::default();
        let mut mapped: Vec<Ref2> = Vec::with_capacity(by_leaf.nodes.len());
        let map = |r: Ref2, mapped: &[Ref2], key_of: &mut dyn FnMut(u32) -> Option<Ref2>| match r {
            Ref2::Result(leaf) => key_of(leaf),
            Ref2::Node(i) => mapped.get(i as usize).copied(),
        };
        for (var, children) in &by_leaf.nodes {
            let children = children
                .iter()
                .map(|c| map(*c, &mapped, &mut key_of))
                .collect::<Option<Vec<_>>>()?;
            let made = by_result.make(*var, children);
            mapped.push(made);
        }
        let root = map(root, &mapped, &mut key_of)?;
        // A difference tested needs whichever of its facts are missing.
        let mut needed: Vec<u32> = by_result
            .vars(root)
            .iter()
            .flat_map(|v| self.var_needs(*v, slots))
            .collect();
        needed.sort_unstable();
        needed.dedup();
        tested.sort_unstable();
        tested.dedup();
        Some(Evaluation {
            leaves,
            needed,
            path,
            tested,
        })
    }

    /// The facts an unknown variable stands for: its fact; for a difference, whichever of its
    /// two facts are missing; for a count, the facts of the
    /// patient its condition reads that are missing, and its list when that is missing too or
    /// nothing else is (an item lacks a field the condition needs), as the interpreter says.
    fn var_needs(&self, var: u32, slots: Option<&[Slot]>) -> Vec<u32> {
        let Some(&(fact, other)) = self.vars.get(var as usize) else {
            return Vec::new();
        };
        let missing =
            |f: u32| slots.is_none_or(|s| s.get(f as usize).is_none_or(|x| *x == Slot::Missing));
        let mut needs: Vec<u32> = self
            .var_outer
            .get(var as usize)
            .into_iter()
            .flatten()
            .copied()
            .chain(other)
            .filter(|f| missing(*f))
            .collect();
        if needs.is_empty() || missing(fact) {
            // A derived value waits for the facts it is computed from that are missing.
            match self.inputs.get(fact as usize) {
                Some(raw) if !raw.is_empty() => {
                    needs.extend(raw.iter().copied().filter(|f| missing(*f)));
                }
                _ => needs.push(fact),
            }
        }
        needs
    }

    /// Where the chain of tests of a node's variable leads for one class of its values: the
    /// first node of another variable, or a leaf.
    pub(crate) fn chain_end(&self, node: &Node, class: usize) -> Option<u32> {
        let mut at = node;
        loop {
            let next = if *at.split.get(class)? {
                at.then
            } else {
                at.otherwise
            };
            match self.nodes.get(next as usize) {
                Some(n) if next & LEAF == 0 && n.var == node.var => at = n,
                _ => return Some(next),
            }
        }
    }

    /// The test of a node as policy text (`conservative_care >= 6 weeks`), from the source
    /// map's point of view: the node's fact and test. `None` for a node the decision does not
    /// have.
    pub fn describe_test(&self, artifact: &Artifact, node: u32) -> Option<String> {
        let n = self.doc.nodes.get(node as usize)?;
        let doc = artifact.document();
        let fact = doc.facts.get(n.fact as usize)?;
        let name = fact.name.as_str();
        let unit = match fact.ty {
            FactType::Duration | FactType::Quantity => fact
                .unit
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default(),
            FactType::Percent => "%".to_string(),
            _ => String::new(),
        };
        let set_name = |s: &u32| {
            doc.code_sets
                .get(*s as usize)
                .map(|c| c.name.clone().unwrap_or_else(|| c.source.text.clone()))
        };
        let set_names = |sets: &[u32], join: &str| {
            sets.iter()
                .map(set_name)
                .collect::<Option<Vec<_>>>()
                .map(|names| names.join(join))
        };
        Some(match &n.test {
            Test::IsTrue => name.to_string(),
            Test::Compare { op, value } => format!("{name} {op} {value}{unit}"),
            Test::EnumIn { values } => format!("{name} in {{ {} }}", values.join(", ")),
            Test::CodeIn { set } => format!("{name} in {}", set_name(set)?),
            Test::Has {
                quantifier,
                inside,
                not_in,
            } => {
                let q = match quantifier {
                    Quantifier::Any => "any",
                    Quantifier::All => "all",
                };
                let mut class = set_names(inside, " and ")?;
                if !not_in.is_empty() {
                    class.push_str(" but not ");
                    class.push_str(&set_names(not_in, " or ")?);
                }
                format!("{name} has {q} code in {class}")
            }
            Test::Difference {
                other,
                op,
                value,
                unit,
            } => {
                let other = doc.facts.get(*other as usize)?;
                let unit = unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
                format!("{name} - {} {op} {value}{unit}", other.name)
            }
            Test::Count { op, value, filter } => {
                let record = fact.record.and_then(|r| doc.records.get(r as usize))?;
                match filter {
                    Some(c) => format!(
                        "count({name} where {}) {op} {value}",
                        crate::lists::cond_text(c, record, doc)?
                    ),
                    None => format!("count({name}) {op} {value}"),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Artifact, Decided, Document, Facts, LoadError};

    fn tiny() -> Document {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/cases/build/tiny.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        Artifact::from_json(&text).unwrap().document().clone()
    }

    #[test]
    fn facts_of_another_artifact_are_unknown() {
        let a = Artifact::new(tiny()).unwrap();
        let b = Artifact::new(tiny()).unwrap();
        let mut facts = Facts::new(&b);
        facts.read_json(r#"{"care": "8 weeks"}"#).unwrap();
        let coverage = a.decision("coverage").unwrap();
        assert_eq!(coverage.decide(&facts), Decided::Pending);
        let e = coverage.evaluate(&facts);
        assert_eq!(a.fact_names(&e.needed), ["care", "hospitalized"]);
        let own = b.decision("coverage").unwrap();
        assert_eq!(own.decide(&facts).rule(), Some("failed_care"));
    }

    #[test]
    fn set_codes_must_be_in_normal_form() {
        let mut doc = tiny();
        doc.code_sets.push(crate::CodeSetDoc {
            name: Some("lower".into()),
            system: "icd10cm".into(),
            description: None,
            codes: vec!["m80.08xa".into()],
            source: doc.policy.source.clone(),
        });
        let err = Artifact::new(doc).unwrap_err();
        assert_eq!(
            err,
            LoadError::invalid(
                "code set `lower`: `m80.08xa` is not in the normal form of ICD-10-CM codes".into()
            )
        );
    }
}
