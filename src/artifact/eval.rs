//! Evaluation of a loaded artifact: each node is prepared once (thresholds parsed, enum values
//! and code sets resolved to indices), so deciding a patient reads pre-resolved fact slots and
//! allocates nothing.

use super::facts::{Facts, Slot};
use super::{
    Artifact, Decision, DecisionDoc, Document, FactType, LeafDoc, LoadError, Quantifier, Ref, Test,
    parse_num,
};
use std::collections::HashMap;

use crate::types::Num;

/// A reference to a leaf has this bit set; otherwise it is a node index.
const LEAF: u32 = 1 << 31;

/// A node of a diagram reduced for the facts known: a result (an index into the distinct
/// results met) or a test still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reduced {
    Result(u32),
    Test(u32),
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    fact: u32,
    test: Prepared,
    then: u32,
    otherwise: u32,
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
}

/// A class of codes a `has` test names: the codes in every set of `inside` and in none of
/// `not_in`.
#[derive(Debug, Clone)]
pub(crate) struct Class {
    pub(crate) fact: u32,
    pub(crate) inside: Vec<u32>,
    pub(crate) not_in: Vec<u32>,
    /// How many codes the class has.
    pub(crate) size: u32,
}

/// What counts as the same result when facts are missing: the same outcome, or no rule, or
/// the same conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
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
            Err(LoadError(format!(
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
pub(super) fn prepare(mut doc: Document) -> Result<Artifact, LoadError> {
    if doc.format != super::FORMAT {
        return Err(LoadError(format!(
            "not a `{}` artifact (format `{}`)",
            super::FORMAT,
            doc.format.escape_debug()
        )));
    }
    for f in &doc.facts {
        let ok = match f.ty {
            FactType::Duration => f
                .unit
                .as_deref()
                .and_then(crate::types::Unit::parse)
                .is_some_and(|u| u != crate::types::Unit::Percent),
            FactType::Enum => !f.values.is_empty(),
            FactType::Code | FactType::Codes => f
                .system
                .as_deref()
                .and_then(crate::codes::System::parse)
                .is_some(),
            _ => true,
        };
        if !ok {
            return Err(LoadError(format!(
                "fact `{}`: its type lacks its unit, values or code system",
                f.name
            )));
        }
    }
    let mut sets = Vec::with_capacity(doc.code_sets.len());
    for s in &mut doc.code_sets {
        if crate::codes::System::parse(&s.system).is_none() {
            return Err(LoadError(format!("unknown code system `{}`", s.system)));
        }
        let mut codes = s.codes.clone();
        codes.sort();
        codes.dedup();
        sets.push(codes);
    }
    let mut classes: Vec<Class> = Vec::new();
    let mut decisions = Vec::with_capacity(doc.decisions.len());
    for (index, d) in doc.decisions.iter().enumerate() {
        let node_count = d.nodes.len() as u32;
        let leaf_count = d.leaves.len() as u32;
        let err = |what: String| LoadError(format!("decision `{}`: {what}", d.name));
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
                    FactType::Int | FactType::Decimal | FactType::Duration | FactType::Percent,
                ) => {
                    let v = parse_num(value).ok_or_else(mismatch)?;
                    match op.as_str() {
                        ">=" => Prepared::Ge(v),
                        ">" => Prepared::Gt(v),
                        _ => return Err(mismatch()),
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
                _ => return Err(mismatch()),
            };
            nodes.push(Node {
                fact: n.fact,
                test,
                then: reference(n.then, Some(i))?,
                otherwise: reference(n.otherwise, Some(i))?,
            });
        }
        let root = reference(d.root, None)?;
        let keys = d
            .leaves
            .iter()
            .enumerate()
            .map(|(i, l)| leaf_key(d, i as u32, l))
            .collect::<Result<Vec<_>, _>>()?;
        decisions.push(Decision {
            index,
            doc: d.clone(),
            nodes,
            root,
            keys,
        });
    }
    let mut by_name: Vec<(String, u32)> = doc
        .facts
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.clone(), i as u32))
        .collect();
    by_name.sort();
    Ok(Artifact {
        doc,
        decisions,
        sets,
        classes,
        by_name,
        known_codes: Default::default(),
    })
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
    fn holds(&self, node: &Node, facts: &Facts) -> Option<bool> {
        let slot = facts.slots.get(node.fact as usize)?;
        Some(match (&node.test, slot) {
            (_, Slot::Missing) => return None,
            (Prepared::IsTrue, Slot::Bool(b)) => *b,
            (Prepared::Ge(t), Slot::Num(v)) => v >= t,
            (Prepared::Gt(t), Slot::Num(v)) => v > t,
            (Prepared::EnumIn(mask), Slot::Enum(v)) => {
                mask.get(*v as usize).copied().unwrap_or(false)
            }
            (Prepared::CodeIn(set), Slot::Code(bits)) => {
                bits.get(*set as usize).copied().unwrap_or(false)
            }
            (Prepared::HasAny(class), Slot::Codes) => {
                facts
                    .class_counts
                    .get(*class as usize)
                    .copied()
                    .unwrap_or(0)
                    > 0
            }
            (Prepared::HasAll(class, size), Slot::Codes) => {
                facts
                    .class_counts
                    .get(*class as usize)
                    .copied()
                    .unwrap_or(0)
                    >= *size
            }
            // Facts are bound against the same artifact, so a mismatch means facts of another
            // artifact: treat the fact as missing rather than guess.
            _ => return None,
        })
    }

    /// The leaf the facts lead to, when no missing fact lies on the way: the fast path, with
    /// no allocation. `None` when a test on the path needs a missing fact (then
    /// [`Decision::evaluate`] says whether the result still follows).
    #[inline]
    pub fn decide(&self, facts: &Facts) -> Option<u32> {
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
        let mut path = Vec::new();
        let mut at = self.root;
        while at & LEAF == 0 {
            let Some(node) = self.nodes.get(at as usize) else {
                break;
            };
            match self.holds(node, facts) {
                Some(holds) => {
                    path.push(Step {
                        node: at,
                        fact: node.fact,
                        holds,
                    });
                    at = if holds { node.then } else { node.otherwise };
                }
                None => return self.explore(at, facts, path),
            }
        }
        Evaluation {
            leaves: vec![at & !LEAF],
            needed: Vec::new(),
            path,
        }
    }

    /// Every leaf reachable from `start` given the known facts, following both branches of a
    /// test whose fact is missing, and the missing facts the result depends on.
    fn explore(&self, start: u32, facts: &Facts, path: Vec<Step>) -> Evaluation {
        let mut leaves = Vec::new();
        // The diagram below `start` with the known facts fixed, reduced at the level of
        // results: a test whose two branches give the same results is dropped. The facts its
        // remaining tests read are exactly those the result depends on; a fact merely met on
        // the way (both branches end in the same outcome) is not needed.
        let mut keys: Vec<&Key> = Vec::new();
        let mut tests: Vec<(u32, Reduced, Reduced)> = Vec::new();
        let mut made: HashMap<(u32, Reduced, Reduced), Reduced> = HashMap::new();
        let mut done: HashMap<u32, Reduced> = HashMap::new();
        // Post-order without recursion: a hostile artifact may chain a million tests.
        let mut stack = vec![(start, false)];
        while let Some((at, expanded)) = stack.pop() {
            if done.contains_key(&at) {
                continue;
            }
            if at & LEAF != 0 {
                let leaf = at & !LEAF;
                leaves.push(leaf);
                let key = self.keys.get(leaf as usize);
                let id = match key.and_then(|k| keys.iter().position(|x| *x == k)) {
                    Some(i) => i,
                    None => {
                        keys.extend(key);
                        keys.len().saturating_sub(1)
                    }
                };
                done.insert(at, Reduced::Result(id as u32));
                continue;
            }
            let Some(node) = self.nodes.get(at as usize) else {
                done.insert(at, Reduced::Result(u32::MAX));
                continue;
            };
            let known = self.holds(node, facts);
            let children: &[u32] = match known {
                Some(true) => std::slice::from_ref(&node.then),
                Some(false) => std::slice::from_ref(&node.otherwise),
                None => &[node.then, node.otherwise],
            };
            if !expanded {
                stack.push((at, true));
                stack.extend(children.iter().map(|&c| (c, false)));
                continue;
            }
            let get = |c: u32| done.get(&c).copied().unwrap_or(Reduced::Result(u32::MAX));
            let value = match children {
                [one] => get(*one),
                [t, e] if get(*t) == get(*e) => get(*t),
                [t, e] => {
                    let test = (node.fact, get(*t), get(*e));
                    *made.entry(test).or_insert_with(|| {
                        tests.push(test);
                        Reduced::Test(tests.len() as u32 - 1)
                    })
                }
                _ => Reduced::Result(u32::MAX),
            };
            done.insert(at, value);
        }
        let mut needed = Vec::new();
        let mut todo = vec![
            done.get(&start)
                .copied()
                .unwrap_or(Reduced::Result(u32::MAX)),
        ];
        let mut visited = vec![false; tests.len()];
        while let Some(r) = todo.pop() {
            let Reduced::Test(i) = r else { continue };
            match visited.get_mut(i as usize) {
                Some(v) if !*v => *v = true,
                _ => continue,
            }
            if let Some(&(fact, t, e)) = tests.get(i as usize) {
                needed.push(fact);
                todo.push(t);
                todo.push(e);
            }
        }
        leaves.sort_unstable();
        leaves.dedup();
        needed.sort_unstable();
        needed.dedup();
        Evaluation {
            leaves,
            needed,
            path,
        }
    }

    /// The test of a node as policy text (`conservative_care >= 6 weeks`), from the source
    /// map's point of view: the node's fact and test.
    pub fn describe_test(&self, artifact: &Artifact, node: u32) -> String {
        let Some(n) = self.doc.nodes.get(node as usize) else {
            return String::new();
        };
        let doc = artifact.document();
        let fact = doc
            .facts
            .get(n.fact as usize)
            .map_or("?", |f| f.name.as_str());
        let unit = doc
            .facts
            .get(n.fact as usize)
            .and_then(|f| match f.ty {
                FactType::Duration => f.unit.clone().map(|u| format!(" {u}")),
                FactType::Percent => Some("%".to_string()),
                _ => None,
            })
            .unwrap_or_default();
        let set_name = |s: &u32| {
            doc.code_sets
                .get(*s as usize)
                .map(|c| c.name.clone().unwrap_or_else(|| c.source.text.clone()))
                .unwrap_or_else(|| format!("set {s}"))
        };
        match &n.test {
            Test::IsTrue => fact.to_string(),
            Test::Compare { op, value } => format!("{fact} {op} {value}{unit}"),
            Test::EnumIn { values } => format!("{fact} in {{ {} }}", values.join(", ")),
            Test::CodeIn { set } => format!("{fact} in {}", set_name(set)),
            Test::Has {
                quantifier,
                inside,
                not_in,
            } => {
                let q = match quantifier {
                    Quantifier::Any => "any",
                    Quantifier::All => "all",
                };
                let mut class = inside
                    .iter()
                    .map(set_name)
                    .collect::<Vec<_>>()
                    .join(" and ");
                if !not_in.is_empty() {
                    class.push_str(" but not ");
                    class.push_str(&not_in.iter().map(set_name).collect::<Vec<_>>().join(" or "));
                }
                format!("{fact} has {q} code in {class}")
            }
        }
    }
}
