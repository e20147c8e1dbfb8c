//! What changed between two versions of a policy: for each decision, every region of patients
//! whose result changes (from → to), described as the analysis describes a decision and with
//! an example patient that both versions' interpreters are asked about; rules, outcomes and
//! facts added or removed; code sets code by code; and what a change of code-table release
//! does to each set.
//!
//! The two versions become one program (`merge`): one space of patients, both decisions'
//! results as diagrams over it, and their difference decided exactly.

pub mod merge;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::analyse::describe::{self, Described, View};
use crate::analyse::lists;
use crate::analyse::mdd::{Exhausted, FALSE, Node};
use crate::analyse::space;
use crate::codes::System;
use crate::codeset::{CodeCache, CodeSets};
use crate::evaluate::{Evaluation, evaluate};
use crate::ir::*;
use crate::tables::TableSet;

/// At most this many groups describe one region, and this many codes are listed per change.
pub const MAX_GROUPS: usize = 20;
pub const MAX_CODES: usize = 50;

/// One version: its checked program and the code tables it was checked against.
pub struct Version<'a> {
    pub program: &'a ValidProgram,
    pub tables: &'a TableSet,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub node_budget: usize,
    /// The outcomes that approve (the author's ranking): a change into one of them loosens
    /// the policy, a change out of one tightens it.
    pub approvals: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            node_budget: crate::analyse::Options::default().node_budget,
            approvals: Vec::new(),
        }
    }
}

/// Which way a region's change goes, by [`Options::approvals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From an outcome that does not approve to one that does.
    Loosened,
    /// From an outcome that approves to one that does not.
    Tightened,
    /// Between two outcomes that approve, or two that do not.
    Changed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyDiff {
    pub policy: String,
    pub change: Change,
    /// Version and effective date of each side, as the policy block gives them.
    pub old: Option<Meta>,
    pub new: Option<Meta>,
    pub facts: Vec<FactChange>,
    pub code_sets: Vec<SetChange>,
    pub releases: Vec<ReleaseChange>,
    pub decisions: Vec<DecisionDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub version: String,
    pub effective: Option<String>,
}

/// A fact the policy's decisions read, added, removed or changed.
#[derive(Debug, Clone, Serialize)]
pub struct FactChange {
    pub fact: String,
    pub change: Change,
    /// What changed, in words (`type bool → duration<weeks>`, `value other_bariatric_surgery
    /// added`).
    pub detail: String,
}

/// A code set the policy's decisions read, code by code.
#[derive(Debug, Clone, Serialize)]
pub struct SetChange {
    pub set: String,
    pub change: Change,
    /// Items as written (codes, patterns, ranges) added and removed.
    pub items_added: Vec<String>,
    pub items_removed: Vec<String>,
    /// The codes the set holds, added and removed (the first [`MAX_CODES`] of each).
    pub codes_added: Vec<String>,
    pub codes_removed: Vec<String>,
    pub codes_added_count: usize,
    pub codes_removed_count: usize,
}

/// Another release of a code table in force: what it does to the old version's sets as they
/// are written.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseChange {
    pub system: String,
    pub old_release: String,
    pub new_release: String,
    pub sets: Vec<ReleaseEffect>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseEffect {
    pub set: String,
    /// Codes the new release adds to the set's items.
    pub added: Vec<String>,
    /// Codes of the set the new release deletes (and does not split).
    pub deleted: Vec<String>,
    /// Codes of the set the new release deletes and replaces with longer codes.
    pub split: Vec<Split>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Split {
    pub code: String,
    pub into: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionDiff {
    pub decision: String,
    pub change: Change,
    /// The hit policy, when it changed: `first → unique`.
    pub hit: Option<String>,
    pub outcomes_added: Vec<String>,
    pub outcomes_removed: Vec<String>,
    pub rules_added: Vec<String>,
    pub rules_removed: Vec<String>,
    /// Rules of both versions whose condition or outcome differs.
    pub rules_changed: Vec<String>,
    /// Facts the new version reads and the old does not, and the other way round.
    pub facts_needed: Vec<String>,
    pub facts_no_longer_needed: Vec<String>,
    /// Every region of patients whose result changes.
    pub regions: Vec<Region>,
    /// Why the regions could not be decided, when they could not.
    pub incomplete: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Region {
    /// An outcome, `no outcome` or `conflict`.
    pub from: String,
    pub to: String,
    pub direction: Direction,
    /// The patients of the region: each group a list of conditions they all meet.
    pub groups: Vec<Vec<String>>,
    /// Groups past [`MAX_GROUPS`], not listed.
    pub more: usize,
    /// A patient of the region, as facts (the facts either version reads; others are free).
    pub example: BTreeMap<String, serde_json::Value>,
    /// Whether each version's interpreter gives the example the region's result.
    pub example_checked: bool,
}

/// The results of a decision in a diff: outcomes by name (the new version's, then the old's
/// others), then no outcome and conflict.
struct Results {
    names: Vec<String>,
}

impl Results {
    fn name(&self, k: usize) -> String {
        match self.names.get(k) {
            Some(n) => n.clone(),
            None if k == self.names.len() => "no outcome".to_string(),
            None => "conflict".to_string(),
        }
    }
}

/// One policy in both versions, with what every decision of it reads: each version's code
/// sets (expanded once, against its own releases) and the merged program.
struct Pair<'p> {
    old: &'p Version<'p>,
    new: &'p Version<'p>,
    op: &'p Policy,
    np: &'p Policy,
    old_sets: CodeSets,
    new_sets: CodeSets,
    merged: merge::Merged,
    /// The definitions both versions name with different meanings, in merged ids.
    changed: BTreeSet<DefineId>,
    options: &'p Options,
}

/// Compares every policy of the old program with the policy of the same id in the new one
/// (a policy alone on each side is compared with the other whatever its id).
pub fn diff(old: &Version<'_>, new: &Version<'_>, options: &Options) -> Vec<PolicyDiff> {
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    for (i, p) in old.program.policies.iter().enumerate() {
        let j = new.program.policies.iter().position(|q| q.id == p.id);
        pairs.push((Some(i), j));
    }
    for (j, q) in new.program.policies.iter().enumerate() {
        if !old.program.policies.iter().any(|p| p.id == q.id) {
            pairs.push((None, Some(j)));
        }
    }
    let lone_old: Vec<usize> = pairs
        .iter()
        .filter_map(|p| match p {
            (Some(i), None) => Some(*i),
            _ => None,
        })
        .collect();
    let lone_new: Vec<usize> = pairs
        .iter()
        .filter_map(|p| match p {
            (None, Some(j)) => Some(*j),
            _ => None,
        })
        .collect();
    if let ([i], [j]) = (lone_old.as_slice(), lone_new.as_slice()) {
        pairs.retain(|p| p.0.is_some() && p.1.is_some());
        pairs.push((Some(*i), Some(*j)));
    }
    let mut cache = CodeCache::default();
    pairs
        .into_iter()
        .map(|pair| policy(old, new, pair, options, &mut cache))
        .collect()
}

fn meta(p: &Policy) -> Meta {
    Meta {
        version: p.meta.version.clone(),
        effective: p.meta.effective.map(|d| d.to_string()),
    }
}

fn policy(
    old: &Version<'_>,
    new: &Version<'_>,
    (i, j): (Option<usize>, Option<usize>),
    options: &Options,
    cache: &mut CodeCache,
) -> PolicyDiff {
    let (op, np) = (
        i.and_then(|i| old.program.policies.get(i)),
        j.and_then(|j| new.program.policies.get(j)),
    );
    let name = np.or(op).map(|p| p.id.clone()).unwrap_or_default();
    let mut out = PolicyDiff {
        policy: name,
        change: Change::Unchanged,
        old: op.map(meta),
        new: np.map(meta),
        facts: Vec::new(),
        code_sets: Vec::new(),
        releases: Vec::new(),
        decisions: Vec::new(),
    };
    let (op, np) = match (op, np) {
        (Some(a), Some(b)) => (a, b),
        (None, _) => {
            out.change = Change::Added;
            return out;
        }
        (_, None) => {
            out.change = Change::Removed;
            return out;
        }
    };
    let (oprog, nprog): (&Program, &Program) = (old.program, new.program);
    let old_sets = cache.code_sets(oprog, Some(old.tables), op.meta.effective);
    let new_sets = cache.code_sets(nprog, Some(new.tables), np.meta.effective);
    let (old_read, new_read) = (sets_read(oprog, op), sets_read(nprog, np));
    out.facts = facts(oprog, op, nprog, np);
    out.code_sets = sets((oprog, &old_read, &old_sets), (nprog, &new_read, &new_sets));
    out.releases = releases(old, op, &old_read, new, np, &old_sets, cache);
    let conditions = |p: &'_ Program, policy: &Policy| -> Vec<Expr> {
        let mut out: Vec<Expr> = policy
            .decisions
            .iter()
            .filter_map(|d| p.decision(*d))
            .flat_map(|d| d.rules.iter().map(|r| r.condition.clone()))
            .collect();
        out.extend(
            policy
                .constraints
                .iter()
                .filter_map(|c| p.constraints.get(c.index()))
                .map(|c| c.condition.clone()),
        );
        out
    };
    let (oc, nc) = (conditions(oprog, op), conditions(nprog, np));
    let old_scope = merge::Scope::of(oprog, &oc.iter().collect::<Vec<_>>());
    let new_scope = merge::Scope::of(nprog, &nc.iter().collect::<Vec<_>>());
    let mut merged = merge::merge(oprog, &old_sets, nprog, &new_sets, (&old_scope, &new_scope));
    same_defines(&mut merged, &old_scope, &new_scope, nprog, options);
    let changed = merged.changed_defines(&old_scope, &new_scope, nprog);
    let pair = Pair {
        old,
        new,
        op,
        np,
        old_sets,
        new_sets,
        merged,
        changed,
        options,
    };
    for &nd in &np.decisions {
        let Some(d) = nprog.decision(nd) else {
            continue;
        };
        let od = op
            .decisions
            .iter()
            .copied()
            .find(|x| oprog.decision(*x).is_some_and(|o| o.name == d.name));
        out.decisions.push(decision(&pair, od, nd));
    }
    for &od in &op.decisions {
        let Some(d) = oprog.decision(od) else {
            continue;
        };
        if !np
            .decisions
            .iter()
            .any(|x| nprog.decision(*x).is_some_and(|n| n.name == d.name))
        {
            out.decisions.push(DecisionDiff {
                change: Change::Removed,
                ..empty_decision(&d.name)
            });
        }
    }
    let changed = !out.facts.is_empty()
        || !out.code_sets.is_empty()
        || !out.releases.is_empty()
        || out.decisions.iter().any(|d| d.change != Change::Unchanged);
    if changed {
        out.change = Change::Changed;
    }
    out
}

fn empty_decision(name: &str) -> DecisionDiff {
    DecisionDiff {
        decision: name.to_string(),
        change: Change::Unchanged,
        hit: None,
        outcomes_added: Vec::new(),
        outcomes_removed: Vec::new(),
        rules_added: Vec::new(),
        rules_removed: Vec::new(),
        rules_changed: Vec::new(),
        facts_needed: Vec::new(),
        facts_no_longer_needed: Vec::new(),
        regions: Vec::new(),
        incomplete: None,
    }
}

/// Old definitions that mean what the new one of the same name means keep their name.
fn same_defines(
    merged: &mut merge::Merged,
    old: &merge::Scope,
    new_scope: &merge::Scope,
    new: &Program,
    options: &Options,
) {
    let pairs = merged.define_pairs(old, new_scope);
    let exprs: Vec<(Expr, Expr)> = pairs
        .iter()
        .map(|(o, n)| {
            let e = |d: DefineId| Expr {
                kind: ExprKind::Define(d),
                span: crate::source::Span::default(),
            };
            (e(*o), e(*n))
        })
        .collect();
    let mut same = Vec::new();
    {
        let conditions: Vec<&Expr> = exprs.iter().flat_map(|(a, b)| [a, b]).collect();
        let Ok(mut space) = space::build(
            &merged.program,
            &conditions,
            &merged.code_sets,
            options.node_budget,
        ) else {
            return;
        };
        for ((a, b), (o, n)) in exprs.iter().zip(&pairs) {
            if let (Ok(x), Ok(y)) = (space.condition(a), space.condition(b))
                && x == y
            {
                same.push((*o, *n));
            }
        }
    }
    for (o, n) in same {
        if let Some(name) = new.define(n).map(|d| d.name.clone()) {
            merged.same_define(o, &name);
        }
    }
}

/// The facts a policy's decisions read (through definitions), by name.
fn facts_read(program: &Program, policy: &Policy) -> BTreeMap<String, FactId> {
    let mut out = BTreeMap::new();
    for &d in &policy.decisions {
        let Some(d) = program.decision(d) else {
            continue;
        };
        for r in &d.rules {
            for f in program.facts_read(&r.condition) {
                out.insert(program.fact_name(f).to_string(), f);
            }
        }
    }
    out
}

fn facts(old: &Program, op: &Policy, new: &Program, np: &Policy) -> Vec<FactChange> {
    let (a, b) = (facts_read(old, op), facts_read(new, np));
    let mut out = Vec::new();
    let ty = |p: &Program, f: FactId| p.fact(f).map(|x| x.ty);
    for (name, &f) in &b {
        match a.get(name) {
            None => out.push(FactChange {
                fact: name.clone(),
                change: Change::Added,
                detail: ty(new, f).map(|t| t.syntax()).unwrap_or_default(),
            }),
            Some(&g) => {
                let (ot, nt) = (ty(old, g), ty(new, f));
                if let (Some(crate::types::Type::Enum(x)), Some(crate::types::Type::Enum(y))) =
                    (ot, nt)
                {
                    let values = |p: &Program, e| -> Vec<String> {
                        p.enum_type(e)
                            .map(|t| t.values.iter().map(|(v, _)| v.clone()).collect())
                            .unwrap_or_default()
                    };
                    let (ov, nv) = (values(old, x), values(new, y));
                    let added: Vec<&String> = nv.iter().filter(|v| !ov.contains(v)).collect();
                    let removed: Vec<&String> = ov.iter().filter(|v| !nv.contains(v)).collect();
                    let mut words = Vec::new();
                    if !added.is_empty() {
                        words.push(format!("values added: {}", join(&added)));
                    }
                    if !removed.is_empty() {
                        words.push(format!("values removed: {}", join(&removed)));
                    }
                    if !words.is_empty() {
                        out.push(FactChange {
                            fact: name.clone(),
                            change: Change::Changed,
                            detail: words.join("; "),
                        });
                    }
                } else if ot.map(|t| t.syntax()) != nt.map(|t| t.syntax()) {
                    out.push(FactChange {
                        fact: name.clone(),
                        change: Change::Changed,
                        detail: format!(
                            "type {} → {}",
                            ot.map(|t| t.syntax()).unwrap_or_default(),
                            nt.map(|t| t.syntax()).unwrap_or_default()
                        ),
                    });
                }
                let range = |p: &Program, f: FactId| {
                    p.fact(f).and_then(|x| {
                        let (lo, hi) = x.range?;
                        Some(format!(
                            "{}..{}",
                            crate::types::quantity_text(lo, None),
                            crate::types::quantity_text(hi, None)
                        ))
                    })
                };
                let (or, nr) = (range(old, g), range(new, f));
                if or != nr {
                    let text = |r: Option<String>| r.unwrap_or_else(|| "none".to_string());
                    out.push(FactChange {
                        fact: name.clone(),
                        change: Change::Changed,
                        detail: format!("range {} → {}", text(or), text(nr)),
                    });
                }
            }
        }
    }
    for (name, &g) in &a {
        if !b.contains_key(name) {
            out.push(FactChange {
                fact: name.clone(),
                change: Change::Removed,
                detail: ty(old, g).map(|t| t.syntax()).unwrap_or_default(),
            });
        }
    }
    out
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The named code sets a policy's decisions read (through definitions and other sets).
fn sets_read(program: &Program, policy: &Policy) -> BTreeMap<String, CodeSetId> {
    let mut ids = Vec::new();
    for &d in &policy.decisions {
        let Some(d) = program.decision(d) else {
            continue;
        };
        let conditions: Vec<&Expr> = d.rules.iter().map(|r| &r.condition).collect();
        for e in program.walk(&conditions) {
            if let ExprKind::Has { set, .. } | ExprKind::CodeIn { set, .. } = &e.kind {
                ids.push(*set);
            }
        }
    }
    let mut out = BTreeMap::new();
    let mut seen = BTreeSet::new();
    while let Some(id) = ids.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(set) = program.code_set(id) else {
            continue;
        };
        if let Some(name) = &set.name {
            out.insert(name.clone(), id);
        }
        let mut stack = vec![&set.expr];
        while let Some(e) = stack.pop() {
            match e {
                SetExpr::Ref(r) => ids.push(*r),
                SetExpr::Chain { first, rest } => {
                    stack.push(first);
                    stack.extend(rest.iter().map(|(_, x)| x));
                }
                SetExpr::Items(_) => {}
            }
        }
    }
    out
}

/// The items a set writes itself (not those of the sets it names).
fn items(program: &Program, id: CodeSetId) -> Vec<String> {
    let mut out = Vec::new();
    let Some(set) = program.code_set(id) else {
        return out;
    };
    let mut stack = vec![&set.expr];
    while let Some(e) = stack.pop() {
        match e {
            SetExpr::Items(items) => out.extend(items.iter().map(|i| i.item.to_string())),
            SetExpr::Chain { first, rest } => {
                stack.push(first);
                stack.extend(rest.iter().map(|(_, x)| x));
            }
            SetExpr::Ref(_) => {}
        }
    }
    out.sort();
    out
}

fn minus(a: &[String], b: &[String]) -> Vec<String> {
    a.iter()
        .filter(|x| b.binary_search(x).is_err())
        .cloned()
        .collect()
}

/// The named sets each side reads (see [`sets_read`]), item by item and code by code.
fn sets(
    (old, a, old_sets): (&Program, &BTreeMap<String, CodeSetId>, &CodeSets),
    (new, b, new_sets): (&Program, &BTreeMap<String, CodeSetId>, &CodeSets),
) -> Vec<SetChange> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let (o, n) = (a.get(name), b.get(name));
        let members = |s: Option<&CodeSetId>, sets: &CodeSets| {
            s.map(|s| sets.members(*s).to_vec()).unwrap_or_default()
        };
        let (om, nm) = (members(o, old_sets), members(n, new_sets));
        let (oi, ni) = (
            o.map(|s| items(old, *s)).unwrap_or_default(),
            n.map(|s| items(new, *s)).unwrap_or_default(),
        );
        let (added, removed) = (minus(&nm, &om), minus(&om, &nm));
        let (items_added, items_removed) = (minus(&ni, &oi), minus(&oi, &ni));
        let change = match (o, n) {
            (None, _) => Change::Added,
            (_, None) => Change::Removed,
            _ if added.is_empty()
                && removed.is_empty()
                && items_added.is_empty()
                && items_removed.is_empty() =>
            {
                continue;
            }
            _ => Change::Changed,
        };
        out.push(SetChange {
            set: name.clone(),
            change,
            items_added,
            items_removed,
            codes_added_count: added.len(),
            codes_removed_count: removed.len(),
            codes_added: added.into_iter().take(MAX_CODES).collect(),
            codes_removed: removed.into_iter().take(MAX_CODES).collect(),
        });
    }
    out
}

/// The code that a deleted one is replaced by, when a release splits it: codes that start
/// with it, or for a code with a 7th character, share its first six and its 7th.
fn children(code: &str, added: &[String]) -> Vec<String> {
    let chars: Vec<char> = code.chars().filter(|c| *c != '.').collect();
    added
        .iter()
        .filter(|a| {
            let ac: Vec<char> = a.chars().filter(|c| *c != '.').collect();
            if chars.len() == 7 {
                let stem: Vec<char> = chars
                    .iter()
                    .take(6)
                    .copied()
                    .collect::<String>()
                    .trim_end_matches('X')
                    .chars()
                    .collect();
                ac.len() == 7 && ac.starts_with(&stem) && ac.last() == chars.last()
            } else {
                ac.len() > chars.len() && ac.starts_with(&chars)
            }
        })
        .cloned()
        .collect()
}

fn releases(
    old: &Version<'_>,
    op: &Policy,
    read: &BTreeMap<String, CodeSetId>,
    new: &Version<'_>,
    np: &Policy,
    old_sets: &CodeSets,
    cache: &mut CodeCache,
) -> Vec<ReleaseChange> {
    let oprog: &Program = old.program;
    let mut out = Vec::new();
    // The old sets as written, against the new releases.
    let universe = cache.universe(Some(new.tables), np.meta.effective);
    let moved = CodeSets::new(oprog, &universe);
    for &system in System::ALL.iter() {
        let before = crate::codeset::table_in_force(old.tables, system, op.meta.effective);
        let after = crate::codeset::table_in_force(new.tables, system, np.meta.effective);
        let (Some(before), Some(after)) = (before, after) else {
            continue;
        };
        if before.release() == after.release() {
            continue;
        }
        let (bu, au) = (old_sets.universe(system), moved.universe(system));
        let gained = minus(au, bu);
        let mut effects = Vec::new();
        for (name, &id) in read {
            if oprog.code_set(id).map(|s| s.system) != Some(system) {
                continue;
            }
            let (was, is) = (old_sets.members(id), moved.members(id));
            let added = minus(is, was);
            let mut deleted = Vec::new();
            let mut split = Vec::new();
            for code in minus(was, is) {
                let into = children(&code, &gained);
                if into.is_empty() {
                    deleted.push(code);
                } else {
                    split.push(Split { code, into });
                }
            }
            if !(added.is_empty() && deleted.is_empty() && split.is_empty()) {
                effects.push(ReleaseEffect {
                    set: name.clone(),
                    added,
                    deleted,
                    split,
                });
            }
        }
        out.push(ReleaseChange {
            system: system.name().to_string(),
            old_release: before.release().to_string(),
            new_release: after.release().to_string(),
            sets: effects,
        });
    }
    out
}

fn decision(pair: &Pair<'_>, od: Option<DecisionId>, nd: DecisionId) -> DecisionDiff {
    let (old, new): (&Program, &Program) = (pair.old.program, pair.new.program);
    let Some(n) = new.decision(nd) else {
        return empty_decision("");
    };
    let mut out = empty_decision(&n.name);
    let Some((od, o)) = od.and_then(|id| Some((id, old.decision(id)?))) else {
        out.change = Change::Added;
        return out;
    };
    if o.hit != n.hit {
        out.hit = Some(format!("{} → {}", o.hit.name(), n.hit.name()));
    }
    let names =
        |d: &Decision| -> Vec<String> { d.outcomes.iter().map(|x| x.name.clone()).collect() };
    let (on, nn) = (names(o), names(n));
    out.outcomes_added = nn.iter().filter(|x| !on.contains(x)).cloned().collect();
    out.outcomes_removed = on.iter().filter(|x| !nn.contains(x)).cloned().collect();
    let outcome_of =
        |d: &Decision, r: &Rule| r.outcome.and_then(|x| d.outcome(x)).map(|x| x.name.clone());
    for r in &n.rules {
        match o.rules.iter().find(|x| x.name == r.name) {
            None => out.rules_added.push(r.name.clone()),
            Some(x) => {
                let same = old.expr_text(&x.condition) == new.expr_text(&r.condition)
                    && outcome_of(o, x) == outcome_of(n, r);
                if !same {
                    out.rules_changed.push(r.name.clone());
                }
            }
        }
    }
    out.rules_removed = o
        .rules
        .iter()
        .filter(|x| !n.rules.iter().any(|r| r.name == x.name))
        .map(|x| x.name.clone())
        .collect();
    let read = |p: &Program, d: &Decision| -> BTreeSet<String> {
        d.rules
            .iter()
            .flat_map(|r| p.facts_read(&r.condition))
            .map(|f| p.fact_name(f).to_string())
            .collect()
    };
    let (or, nr) = (read(old, o), read(new, n));
    out.facts_needed = nr.difference(&or).cloned().collect();
    out.facts_no_longer_needed = or.difference(&nr).cloned().collect();
    match regions(pair, (od, o), (nd, n)) {
        Ok(r) => out.regions = r,
        Err(why) => out.incomplete = Some(why),
    }
    let structural = out.hit.is_some()
        || !out.outcomes_added.is_empty()
        || !out.outcomes_removed.is_empty()
        || !out.rules_added.is_empty()
        || !out.rules_removed.is_empty()
        || !out.rules_changed.is_empty()
        || !out.facts_needed.is_empty()
        || !out.facts_no_longer_needed.is_empty();
    if structural || !out.regions.is_empty() || out.incomplete.is_some() {
        out.change = Change::Changed;
    }
    out
}

/// The view of a decision with its outcomes numbered in the diff's results.
fn view<'a>(d: &'a Decision, results: &Results) -> View<'a> {
    let index = |o: Option<OutcomeId>| {
        o.and_then(|o| d.outcome(o))
            .and_then(|x| results.names.iter().position(|n| *n == x.name))
    };
    View {
        hit: d.hit,
        rules: d
            .rules
            .iter()
            .filter_map(|r| Some((r.name.as_str(), &r.condition, index(r.outcome)?)))
            .collect(),
        otherwise: d.otherwise.as_ref().and_then(|w| index(w.outcome)),
        outcomes: results.names.len(),
    }
}

fn regions(
    pair: &Pair<'_>,
    (od, o): (DecisionId, &Decision),
    (nd, n): (DecisionId, &Decision),
) -> Result<Vec<Region>, String> {
    let (merged, changed) = (&pair.merged, &pair.changed);
    let program = &merged.program;
    let new_count = pair.new.program.decisions.len();
    // The old decision as the merge added it (its rules in merged ids).
    let Some(mo) = program.decisions.get(new_count + od.index()) else {
        return Err("internal error: the old decision is not in the merged program".into());
    };
    let mut names: Vec<String> = n.outcomes.iter().map(|x| x.name.clone()).collect();
    for x in &o.outcomes {
        if !names.contains(&x.name) {
            names.push(x.name.clone());
        }
    }
    let results = Results { names };
    let (ov, nv) = (view(mo, &results), view(n, &results));
    let new_constraints: Vec<&Expr> = pair
        .np
        .constraints
        .iter()
        .filter_map(|c| program.constraints.get(c.index()))
        .map(|c| &c.condition)
        .collect();
    let base = pair.new.program.constraints.len();
    let old_constraints: Vec<&Expr> = pair
        .op
        .constraints
        .iter()
        .filter_map(|c| program.constraints.get(base + c.index()))
        .map(|c| &c.condition)
        .collect();
    let mut conditions: Vec<&Expr> = nv.rules.iter().map(|r| r.1).collect();
    conditions.extend(ov.rules.iter().map(|r| r.1));
    conditions.extend(new_constraints.iter().chain(&old_constraints));
    let budget_words = |_: Exhausted| {
        "the two versions together are larger than the analysis's budget".to_string()
    };
    let mut space = space::build(
        program,
        &conditions,
        &merged.code_sets,
        pair.options.node_budget,
    )
    .map_err(|t| {
        format!(
            "the two versions together read {} facts and code classes (at most {} are analysed)",
            t.0,
            space::MAX_VARIABLES
        )
    })?;
    let related = space.feasible().map_err(budget_words)?;
    let (lists, _) = lists::feasible(&mut space).map_err(budget_words)?;
    let mut allowed = space.mdd.and(related, lists).map_err(budget_words)?;
    for c in new_constraints.iter().chain(&old_constraints) {
        let node = space.condition(c).map_err(budget_words)?;
        allowed = space.mdd.and(allowed, node).map_err(budget_words)?;
    }
    let rule_nodes = |space: &mut space::Space<'_>, v: &View<'_>| -> Result<Vec<Node>, Exhausted> {
        let mut out = Vec::with_capacity(v.rules.len());
        for r in &v.rules {
            let node = space.condition(r.1)?;
            out.push(space.mdd.and(node, allowed)?);
        }
        Ok(out)
    };
    let onodes = rule_nodes(&mut space, &ov).map_err(budget_words)?;
    let nnodes = rule_nodes(&mut space, &nv).map_err(budget_words)?;
    let oregions = describe::regions(&mut space, &ov, &onodes, allowed).map_err(budget_words)?;
    let nregions = describe::regions(&mut space, &nv, &nnodes, allowed).map_err(budget_words)?;
    let mut ogroups: Option<Vec<Vec<Described>>> = None;
    let mut ngroups: Option<Vec<Vec<Described>>> = None;
    let mut out = Vec::new();
    for (x, &from) in oregions.iter().enumerate() {
        for (y, &to) in nregions.iter().enumerate() {
            if x == y {
                continue;
            }
            let region = space.mdd.and(from, to).map_err(budget_words)?;
            if region == FALSE {
                continue;
            }
            // Described only when some region changes: the groups of both versions.
            if ogroups.is_none() {
                ogroups = Some(describe::describe(&mut space, &ov, allowed).map_err(budget_words)?);
            }
            if ngroups.is_none() {
                ngroups = Some(describe::describe(&mut space, &nv, allowed).map_err(budget_words)?);
            }
            let empty = Vec::new();
            let gs = ogroups.as_ref().and_then(|g| g.get(x)).unwrap_or(&empty);
            let hs = ngroups.as_ref().and_then(|g| g.get(y)).unwrap_or(&empty);
            let mut groups: Vec<Vec<String>> = Vec::new();
            let mut seen = BTreeSet::new();
            for h in hs {
                for g in gs {
                    let mut items = h.items.clone();
                    items.extend(g.items.iter().cloned());
                    let Some(mut items) =
                        describe::simplify_all(&mut space, items, allowed).map_err(budget_words)?
                    else {
                        continue;
                    };
                    // A definition the revision changed reads best as what it says in each
                    // version, where both versions' meet: `type_2_diabetes, not comorbidity`
                    // rather than `obesity_comorbidity, not obesity_comorbidity (old)`.
                    if items.iter().any(|e| names_any(e, changed)) {
                        let inlined: Vec<Expr> = items
                            .iter()
                            .flat_map(|e| describe::conjuncts(&inline(program, e, changed)))
                            .collect();
                        match describe::simplify_all(&mut space, inlined, allowed)
                            .map_err(budget_words)?
                        {
                            Some(shorter) => items = shorter,
                            None => continue,
                        }
                    }
                    let node = describe::conjunction(&mut space, &items).map_err(budget_words)?;
                    if seen.insert(node) {
                        groups.push(items.iter().map(|e| describe::text(program, e)).collect());
                    }
                }
            }
            let more = groups.len().saturating_sub(MAX_GROUPS);
            groups.truncate(MAX_GROUPS);
            let (example, example_checked) =
                example(&mut space, pair, region, (od, x), (nd, y), &results);
            let approves = |k: usize| pair.options.approvals.contains(&results.name(k));
            let direction = match (approves(x), approves(y)) {
                (false, true) => Direction::Loosened,
                (true, false) => Direction::Tightened,
                _ => Direction::Changed,
            };
            out.push(Region {
                from: results.name(x),
                to: results.name(y),
                direction,
                groups,
                more,
                example,
                example_checked,
            });
        }
    }
    Ok(out)
}

/// A patient of the region, and whether both interpreters give it the region's results.
fn example(
    space: &mut space::Space<'_>,
    pair: &Pair<'_>,
    region: Node,
    (od, x): (DecisionId, usize),
    (nd, y): (DecisionId, usize),
    results: &Results,
) -> (BTreeMap<String, serde_json::Value>, bool) {
    let (merged, old, new) = (&pair.merged, pair.old, pair.new);
    let mut shown = BTreeMap::new();
    let Some(values) = space.mdd.witness(region) else {
        return (shown, false);
    };
    let Some(patient) = crate::compile::witness(space, &merged.code_sets, &values) else {
        return (shown, false);
    };
    let program = &merged.program;
    for (f, v) in &patient {
        if let Some(fact) = program.fact(*f) {
            shown.insert(
                fact.name.clone(),
                crate::testing::value_json(program, fact.ty, v),
            );
        }
    }
    // The new program's facts keep their ids in the merge; the old one's are mapped back.
    let new_count = new.program.facts.len();
    let new_facts: crate::evaluate::Assignment = patient
        .iter()
        .filter(|(f, _)| f.index() < new_count)
        .map(|(f, v)| (*f, v.clone()))
        .collect();
    let mut old_facts = crate::evaluate::Assignment::new();
    for (f, v) in &patient {
        let Some(of) = merged.old_fact(*f) else {
            continue;
        };
        let v = match v {
            // Back to the old enum's index (a value only the new version has is no value of
            // the old one: the old version is asked without it).
            Value::Enum(e) => match merged.old_value(of, *e) {
                Some(i) => Value::Enum(i),
                None => continue,
            },
            Value::List(items) => Value::List(
                items
                    .iter()
                    .map(|item| {
                        item.iter()
                            .filter_map(|(g, v)| Some((merged.old_fact(*g)?, v.clone())))
                            .collect()
                    })
                    .collect(),
            ),
            v => v.clone(),
        };
        old_facts.insert(of, v);
    }
    let result = |program: &ValidProgram, d: DecisionId, e: Evaluation| -> Option<String> {
        let decision = program.decision(d)?;
        match e {
            Evaluation::Decided { outcome, .. } => Some(decision.outcome(outcome)?.name.clone()),
            Evaluation::NoRule => Some("no outcome".to_string()),
            Evaluation::Conflict { .. } => Some("conflict".to_string()),
            _ => None,
        }
    };
    let before = result(
        old.program,
        od,
        evaluate(old.program, &pair.old_sets, od, &old_facts),
    );
    let after = result(
        new.program,
        nd,
        evaluate(new.program, &pair.new_sets, nd, &new_facts),
    );
    let checked = before == Some(results.name(x)) && after == Some(results.name(y));
    (shown, checked)
}

/// Whether a condition names one of the definitions.
fn names_any(e: &Expr, defines: &BTreeSet<DefineId>) -> bool {
    e.walk()
        .any(|x| matches!(x.kind, ExprKind::Define(d) if defines.contains(&d)))
}

/// The condition with the definitions replaced by what they say (once: a definition's body
/// keeps the definitions it names).
fn inline(program: &Program, e: &Expr, defines: &BTreeSet<DefineId>) -> Expr {
    let kind = match &e.kind {
        ExprKind::Define(d) if defines.contains(d) => match program.define(*d).map(|x| &x.body) {
            Some(DefineBody::Condition(body)) => return body.clone(),
            _ => e.kind.clone(),
        },
        ExprKind::Not(x) => ExprKind::Not(Box::new(inline(program, x, defines))),
        ExprKind::And(es) => {
            ExprKind::And(es.iter().map(|x| inline(program, x, defines)).collect())
        }
        ExprKind::Or(es) => ExprKind::Or(es.iter().map(|x| inline(program, x, defines)).collect()),
        ExprKind::Count { kind, k, items } => ExprKind::Count {
            kind: *kind,
            k: *k,
            items: items.iter().map(|x| inline(program, x, defines)).collect(),
        },
        other => other.clone(),
    };
    Expr { kind, span: e.span }
}

#[cfg(test)]
mod tests {
    use super::children;

    #[test]
    fn a_split_code_is_replaced_by_longer_codes_of_its_family() {
        let added: Vec<String> = ["M80.081A", "M80.082A", "M80.081D", "D47.Z91", "D47.Z1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(children("M80.08XA", &added), vec!["M80.081A", "M80.082A"]);
        assert_eq!(children("D47.Z9", &added), vec!["D47.Z91"]);
        assert!(children("C41.2", &added).is_empty());
    }
}
