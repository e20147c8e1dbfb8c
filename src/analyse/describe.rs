//! Which patients get which result of a decision, in the policy's own terms.
//!
//! A group is a rule's condition as written (its definitions and `at least k of` named whole)
//! with the rules that would take its patients first left out (`not (...)`), each part
//! simplified by what the others already say: a part the rest implies is dropped, and a part
//! of a condition the rest decides becomes `true` or `false` and folds away. Rules with the
//! same outcome never exclude each other, so alternatives that lead to one outcome stay
//! alternatives and need no negation. Every simplification is decided exactly on the
//! decision's diagrams, and the groups of each result are checked to hold exactly its patients
//! (among those the constraints allow) before they are given.

use serde::Serialize;

use super::mdd::{Exhausted, FALSE, Node, TRUE, Terminal};
use super::space::Space;
use crate::ast::{CmpOp, Quantifier};
use crate::ir::*;
use crate::types::Type;

/// At most this many groups of patients are listed per result.
pub const MAX_GROUPS: usize = 50;

/// The patients of one decision, by outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub decision: String,
    pub hit: &'static str,
    pub outcomes: Vec<OutcomeGroups>,
    /// Patients no rule decides (when there is no `otherwise`).
    pub undecided: Option<OutcomeGroups>,
    /// Patients rules that disagree both match (under `unique` and `any`).
    pub conflicts: Option<OutcomeGroups>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutcomeGroups {
    pub outcome: String,
    /// Each group: the conditions its patients meet, all of them.
    pub groups: Vec<Group>,
    /// Groups not listed beyond [`MAX_GROUPS`].
    pub more: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The rule that decides these patients, `otherwise`, or (for a conflict) the rules that
    /// disagree; empty for patients no rule decides.
    pub rule: String,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    /// The condition as a policy would write it: `conservative_care >= 6 weeks`,
    /// `not (diagnoses has any spinal_malignancy and severe_pain)`.
    pub text: String,
}

/// A decision as the describer reads it: rules whose conditions are over the space's program
/// (which, for `medpol diff`, holds two versions of a policy side by side).
pub struct View<'a> {
    pub hit: HitPolicy,
    /// Each rule: its name, condition and outcome (an index into the caller's outcomes).
    pub rules: Vec<(&'a str, &'a Expr, usize)>,
    pub otherwise: Option<usize>,
    /// How many outcomes there are: results `0..outcomes` are outcomes, then
    /// [`View::no_outcome`] and [`View::conflict`].
    pub outcomes: usize,
}

impl View<'_> {
    pub fn no_outcome(&self) -> usize {
        self.outcomes
    }

    pub fn conflict(&self) -> usize {
        self.outcomes + 1
    }

    /// The view of a decision of the program.
    pub fn of(decision: &Decision) -> View<'_> {
        View {
            hit: decision.hit,
            rules: decision
                .rules
                .iter()
                .filter_map(|r| Some((r.name.as_str(), &r.condition, r.outcome?.index())))
                .collect(),
            otherwise: decision
                .otherwise
                .as_ref()
                .and_then(|o| o.outcome)
                .map(|o| o.index()),
            outcomes: decision.outcomes.len(),
        }
    }
}

/// A group as conditions of the model: the patients who meet all of `items`.
#[derive(Debug, Clone)]
pub struct Described {
    pub rule: String,
    pub items: Vec<Expr>,
}

/// For each result (outcomes, then no outcome, then conflict): the patients among `allowed`
/// who get it. `rules` are the rules' diagrams, in the view's order.
pub fn regions(
    space: &mut Space<'_>,
    view: &View<'_>,
    rules: &[Node],
    allowed: Node,
) -> Result<Vec<Node>, Exhausted> {
    let results = view.outcomes + 2;
    let (none, conflict) = (view.no_outcome() as u32, view.conflict() as u32);
    let term = |space: &mut Space<'_>, k: u32| space.mdd.terminal(Terminal::Result(k));
    let mut root = term(space, none);
    match view.hit {
        HitPolicy::First => {
            for (&(_, _, o), &r) in view.rules.iter().zip(rules).rev() {
                let t = term(space, o as u32);
                root = space.mdd.select(r, t, root)?;
            }
        }
        // The state of a patient so far: no rule, one outcome, or a conflict. Under `unique`
        // a second rule conflicts whatever its outcome; under `any` only another outcome.
        HitPolicy::Unique | HitPolicy::Any => {
            for (&(_, _, o), &r) in view.rules.iter().zip(rules) {
                let mut map = std::collections::HashMap::new();
                for t in space.mdd.terminals_of(root) {
                    let after = match space.mdd.terminal_value(t) {
                        Some(Terminal::Result(k)) if k == none => o as u32,
                        Some(Terminal::Result(k))
                            if k == o as u32 && view.hit == HitPolicy::Any =>
                        {
                            k
                        }
                        _ => conflict,
                    };
                    let image = term(space, after);
                    map.insert(t, image);
                }
                let matched = space.mdd.map_terminals(root, &map)?;
                root = space.mdd.select(r, matched, root)?;
            }
        }
    }
    if let Some(o) = view.otherwise {
        let mut map = std::collections::HashMap::new();
        let from = term(space, none);
        let to = term(space, o as u32);
        map.insert(from, to);
        root = space.mdd.map_terminals(root, &map)?;
    }
    let terminals = space.mdd.terminals_of(root);
    let mut out = Vec::with_capacity(results);
    for k in 0..results as u32 {
        let mut map = std::collections::HashMap::new();
        for &t in &terminals {
            let hit = space.mdd.terminal_value(t) == Some(Terminal::Result(k));
            map.insert(t, if hit { TRUE } else { FALSE });
        }
        let region = space.mdd.map_terminals(root, &map)?;
        out.push(space.mdd.and(region, allowed)?);
    }
    Ok(out)
}

/// The groups of each result (see [`regions`]), checked against the regions: `Err` when the
/// budget runs out, or when a description would not hold exactly its result's patients (a bug
/// in medpol, which debug builds stop at).
pub fn describe(
    space: &mut Space<'_>,
    view: &View<'_>,
    allowed: Node,
) -> Result<Vec<Vec<Described>>, Exhausted> {
    let mut rules = Vec::with_capacity(view.rules.len());
    for (_, e, _) in &view.rules {
        let n = space.condition(e)?;
        rules.push(space.mdd.and(n, allowed)?);
    }
    let regions = regions(space, view, &rules, allowed)?;
    let mut out: Vec<Vec<Described>> = vec![Vec::new(); view.outcomes + 2];
    let overlaps = |space: &mut Space<'_>, a: Node, b: Node| -> Result<bool, Exhausted> {
        Ok(space.mdd.and(a, b)? != FALSE)
    };
    for (i, &(name, cond, o)) in view.rules.iter().enumerate() {
        let mut items = conjuncts(cond);
        for (j, &(_, other, p)) in view.rules.iter().enumerate() {
            let takes = match view.hit {
                HitPolicy::First => j < i && p != o,
                HitPolicy::Unique => j != i,
                HitPolicy::Any => p != o,
            };
            let (a, b) = (rules.get(i).copied(), rules.get(j).copied());
            if takes && overlaps(space, a.unwrap_or(FALSE), b.unwrap_or(FALSE))? {
                items.extend(conjuncts(&not(other.clone())));
            }
        }
        if let (Some(items), Some(groups)) = (simplify_all(space, items, allowed)?, out.get_mut(o))
        {
            groups.push(Described {
                rule: name.to_string(),
                items,
            });
        }
    }
    // The patients no rule takes: those of `otherwise` (rules with its outcome need not be
    // left out, except under `unique`, where two of them conflict), or of no outcome.
    let rest = view.otherwise.unwrap_or(view.no_outcome());
    let mut items = Vec::new();
    for &(_, other, p) in &view.rules {
        if view.otherwise != Some(p) || view.hit == HitPolicy::Unique {
            items.extend(conjuncts(&not(other.clone())));
        }
    }
    if let (Some(items), Some(groups)) = (simplify_all(space, items, allowed)?, out.get_mut(rest)) {
        groups.push(Described {
            rule: if view.otherwise.is_some() {
                "otherwise".to_string()
            } else {
                String::new()
            },
            items,
        });
    }
    if view.hit != HitPolicy::First {
        for (i, &(a, ca, o)) in view.rules.iter().enumerate() {
            for (j, &(b, cb, p)) in view.rules.iter().enumerate().skip(i + 1) {
                if view.hit == HitPolicy::Any && p == o {
                    continue;
                }
                let (na, nb) = (rules.get(i).copied(), rules.get(j).copied());
                if !overlaps(space, na.unwrap_or(FALSE), nb.unwrap_or(FALSE))? {
                    continue;
                }
                let mut items = conjuncts(ca);
                items.extend(conjuncts(cb));
                let found = simplify_all(space, items, allowed)?;
                if let (Some(items), Some(groups)) = (found, out.get_mut(view.conflict())) {
                    groups.push(Described {
                        rule: format!("{a}` and `{b}"),
                        items,
                    });
                }
            }
        }
    }
    // Exact, or nothing: each result's groups hold its patients and no others.
    for (groups, &region) in out.iter().zip(&regions) {
        let mut union = FALSE;
        for g in groups {
            let n = conjunction(space, &g.items)?;
            union = space.mdd.or(union, n)?;
        }
        if space.mdd.and(union, allowed)? != region {
            debug_assert!(false, "internal error: a description is not exact");
            return Err(Exhausted);
        }
    }
    Ok(out)
}

/// The diagram of a group.
pub fn conjunction(space: &mut Space<'_>, items: &[Expr]) -> Result<Node, Exhausted> {
    let mut acc = TRUE;
    for e in items {
        let n = space.condition(e)?;
        acc = space.mdd.and(acc, n)?;
    }
    Ok(acc)
}

/// Builds the summary of a decision (its rules compiled, constrained to `allowed`).
pub(super) fn summarise(
    space: &mut Space<'_>,
    decision: &Decision,
    allowed: Node,
) -> Result<Summary, Exhausted> {
    let view = View::of(decision);
    let described = describe(space, &view, allowed)?;
    let program = space.program;
    let listed = |name: String, groups: &[Described]| OutcomeGroups {
        outcome: name,
        groups: groups
            .iter()
            .take(MAX_GROUPS)
            .map(|g| Group {
                rule: g.rule.clone(),
                conditions: g
                    .items
                    .iter()
                    .map(|e| Condition {
                        text: text(program, e),
                    })
                    .collect(),
            })
            .collect(),
        more: groups.len().saturating_sub(MAX_GROUPS),
    };
    let empty = Vec::new();
    let at = |k: usize| described.get(k).unwrap_or(&empty);
    let outcomes = decision
        .outcomes
        .iter()
        .enumerate()
        .map(|(o, outcome)| listed(outcome.name.clone(), at(o)))
        .collect();
    let some = |name: &str, k: usize| {
        let groups = at(k);
        (!groups.is_empty()).then(|| listed(name.to_string(), groups))
    };
    Ok(Summary {
        decision: decision.name.clone(),
        hit: decision.hit.name(),
        outcomes,
        undecided: some("no outcome", view.no_outcome()),
        conflicts: some("conflict", view.conflict()),
    })
}

fn not(e: Expr) -> Expr {
    let span = e.span;
    Expr {
        kind: ExprKind::Not(Box::new(e)),
        span,
    }
}

/// The parts of a condition that must all hold: an `and`'s, a negated `or`'s negated, and
/// double negations removed; definitions stay whole.
pub fn conjuncts(e: &Expr) -> Vec<Expr> {
    let mut out = Vec::new();
    let mut stack: Vec<(Expr, bool)> = vec![(e.clone(), false)];
    while let Some((e, negated)) = stack.pop() {
        match (e.kind, negated) {
            (ExprKind::And(es), false) | (ExprKind::Or(es), true) => {
                stack.extend(es.into_iter().rev().map(|x| (x, negated)));
            }
            (ExprKind::Not(inner), n) => stack.push((*inner, !n)),
            (ExprKind::Const(true), false) | (ExprKind::Const(false), true) => {}
            (kind, false) => out.push(Expr { kind, span: e.span }),
            (kind, true) => out.push(not(Expr { kind, span: e.span })),
        }
    }
    out
}

/// The parts, each simplified by what the others say (one after another, twice, so each
/// step keeps the patients of the whole); `None` when no patient meets them.
pub fn simplify_all(
    space: &mut Space<'_>,
    items: Vec<Expr>,
    context: Node,
) -> Result<Option<Vec<Expr>>, Exhausted> {
    let mut items = items;
    let mut nodes = Vec::with_capacity(items.len());
    for e in &items {
        nodes.push(space.condition(e)?);
    }
    for _ in 0..2 {
        let mut i = 0;
        while i < items.len() {
            let mut ctx = context;
            for (j, &n) in nodes.iter().enumerate() {
                if j != i {
                    ctx = space.mdd.and(ctx, n)?;
                }
            }
            if ctx == FALSE {
                return Ok(None);
            }
            let Some(e) = items.get(i) else { break };
            let e = simplify(space, e, ctx)?;
            match e.kind {
                ExprKind::Const(true) => {
                    items.remove(i);
                    nodes.remove(i);
                    continue;
                }
                ExprKind::Const(false) => return Ok(None),
                _ => {}
            }
            // A part that became an `and` gives its parts to the group.
            let parts = conjuncts(&e);
            let mut part_nodes = Vec::with_capacity(parts.len());
            for p in &parts {
                part_nodes.push(space.condition(p)?);
            }
            let n = parts.len();
            items.splice(i..=i, parts);
            nodes.splice(i..=i, part_nodes);
            i += n.max(1);
        }
    }
    // A group of no parts is every patient the context allows.
    if items.is_empty() && context == FALSE {
        return Ok(None);
    }
    let (items, nodes) = join_enums(space, items, nodes)?;
    // Repeated parts (the same definition negated for two rules) are said once.
    let mut seen = std::collections::HashSet::new();
    let mut kept = Vec::with_capacity(items.len());
    for (e, n) in items.into_iter().zip(nodes) {
        if seen.insert(n) {
            kept.push(e);
        }
    }
    Ok(Some(kept))
}

/// Parts that each name values of one enum fact (`product in { hmo, ppo }`, `product !=
/// pos`) become one: the values all of them allow, said once where the first stood.
fn join_enums(
    space: &mut Space<'_>,
    items: Vec<Expr>,
    nodes: Vec<Node>,
) -> Result<(Vec<Expr>, Vec<Node>), Exhausted> {
    let program = space.program;
    let allowed = |e: &Expr| -> Option<(FactId, Vec<u32>)> {
        let (inner, negated) = match &e.kind {
            ExprKind::Not(x) => (x.as_ref(), true),
            _ => (e, false),
        };
        let ExprKind::EnumIn { fact, values } = &inner.kind else {
            return None;
        };
        if !negated {
            return Some((*fact, values.clone()));
        }
        let all = match program.fact(*fact).map(|f| f.ty) {
            Some(Type::Enum(en)) => program.enum_type(en)?.values.len() as u32,
            _ => return None,
        };
        Some((*fact, (0..all).filter(|v| !values.contains(v)).collect()))
    };
    let mut joined: Vec<(FactId, Vec<u32>, usize)> = Vec::new();
    for (i, e) in items.iter().enumerate() {
        if let Some((fact, values)) = allowed(e) {
            match joined.iter_mut().find(|(f, _, _)| *f == fact) {
                Some((_, vs, _)) => vs.retain(|v| values.contains(v)),
                None => joined.push((fact, values, i)),
            }
        }
    }
    let mut out_items = Vec::with_capacity(items.len());
    let mut out_nodes = Vec::with_capacity(nodes.len());
    for (i, (e, n)) in items.into_iter().zip(nodes).enumerate() {
        let Some((fact, _)) = allowed(&e) else {
            out_items.push(e);
            out_nodes.push(n);
            continue;
        };
        let Some((_, values, first)) = joined.iter().find(|(f, _, _)| *f == fact) else {
            continue;
        };
        if *first != i {
            continue;
        }
        let part = Expr {
            kind: ExprKind::EnumIn {
                fact,
                values: values.clone(),
            },
            span: e.span,
        };
        out_nodes.push(space.condition(&part)?);
        out_items.push(part);
    }
    Ok((out_items, out_nodes))
}

/// A condition with what `context` decides of it taken out: `true` where the context implies
/// it, `false` where it excludes it; else its parts simplified the same way.
fn simplify(space: &mut Space<'_>, e: &Expr, context: Node) -> Result<Expr, Exhausted> {
    let n = space.condition(e)?;
    let constant = |b: bool| Expr {
        kind: ExprKind::Const(b),
        span: e.span,
    };
    if space.mdd.and(context, n)? == FALSE {
        return Ok(constant(false));
    }
    if space.mdd.diff(context, n)? == FALSE {
        return Ok(constant(true));
    }
    Ok(match &e.kind {
        ExprKind::And(es) => match simplify_all(space, es.clone(), context)? {
            None => constant(false),
            Some(mut parts) if parts.len() == 1 => parts.remove(0),
            Some(parts) => Expr {
                kind: ExprKind::And(parts),
                span: e.span,
            },
        },
        ExprKind::Or(es) => {
            let mut parts = es.clone();
            let mut i = 0;
            while i < parts.len() {
                let mut others = FALSE;
                for (j, p) in parts.iter().enumerate() {
                    if j != i {
                        let pn = space.condition(p)?;
                        others = space.mdd.or(others, pn)?;
                    }
                }
                let not_others = space.mdd.not(others)?;
                let ctx = space.mdd.and(context, not_others)?;
                let Some(p) = parts.get(i) else { break };
                let p = simplify(space, p, ctx)?;
                match p.kind {
                    ExprKind::Const(false) => {
                        parts.remove(i);
                        continue;
                    }
                    ExprKind::Const(true) => return Ok(constant(true)),
                    _ => {}
                }
                if let Some(slot) = parts.get_mut(i) {
                    *slot = p;
                }
                i += 1;
            }
            match parts.len() {
                0 => constant(false),
                1 => parts.remove(0),
                _ => Expr {
                    kind: ExprKind::Or(parts),
                    span: e.span,
                },
            }
        }
        ExprKind::Not(inner) => {
            let inner = simplify(space, inner, context)?;
            match inner.kind {
                ExprKind::Const(b) => constant(!b),
                ExprKind::Not(x) => *x,
                _ => not(inner),
            }
        }
        _ => e.clone(),
    })
}

/// A condition as a policy would write it, with a negation put into the comparison it negates
/// where the language can say so (`conservative_care < 6 weeks`, `diagnoses has none x`).
pub fn text(program: &Program, e: &Expr) -> String {
    match &e.kind {
        ExprKind::Not(inner) => negated_text(program, inner),
        ExprKind::And(es) => joined(program, es, " and "),
        ExprKind::Or(es) => joined(program, es, " or "),
        ExprKind::Relation(r) => relation_text(program, r),
        _ => program.expr_text(e),
    }
}

fn joined(program: &Program, es: &[Expr], word: &str) -> String {
    es.iter()
        .map(|x| match x.kind {
            ExprKind::And(_) | ExprKind::Or(_) => format!("({})", text(program, x)),
            _ => text(program, x),
        })
        .collect::<Vec<_>>()
        .join(word)
}

fn negated_text(program: &Program, e: &Expr) -> String {
    let flip = |op: CmpOp| match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
    };
    let kind = match &e.kind {
        ExprKind::Not(inner) => return text(program, inner),
        ExprKind::Fact(_) | ExprKind::Define(_) => {
            return format!("not {}", program.expr_text(e));
        }
        ExprKind::Compare { fact, op, value } => ExprKind::Compare {
            fact: *fact,
            op: flip(*op),
            value: *value,
        },
        ExprKind::Relation(r) => ExprKind::Relation(Relation {
            op: flip(r.op),
            ..*r
        }),
        ExprKind::ListCount {
            list,
            filter,
            op,
            value,
        } => ExprKind::ListCount {
            list: *list,
            filter: filter.clone(),
            op: flip(*op),
            value: *value,
        },
        ExprKind::Has {
            fact,
            quantifier: q @ (Quantifier::Any | Quantifier::None),
            set,
        } => ExprKind::Has {
            fact: *fact,
            quantifier: if *q == Quantifier::Any {
                Quantifier::None
            } else {
                Quantifier::Any
            },
            set: *set,
        },
        // The other values of an enum, when there are no more of them than of the named.
        ExprKind::EnumIn { fact, values } => {
            let all = match program.fact(*fact).map(|f| f.ty) {
                Some(Type::Enum(en)) => program.enum_type(en).map_or(0, |t| t.values.len()),
                _ => 0,
            };
            let rest: Vec<u32> = (0..all as u32).filter(|v| !values.contains(v)).collect();
            if rest.is_empty() || rest.len() > values.len() {
                return format!("not ({})", text(program, e));
            }
            ExprKind::EnumIn {
                fact: *fact,
                values: rest,
            }
        }
        _ => return format!("not ({})", text(program, e)),
    };
    text(program, &Expr { kind, span: e.span })
}

/// A difference of two facts the way round it is written: the model keeps the fact declared
/// first on the left, so one compared only with a value below zero reads the other way round
/// (`service_date - onset >= 84 days`, not `onset - service_date <= -84 days`), and one
/// compared with zero as the two facts (`a <= b`). Calendar months are counted from the right
/// fact, so they keep their side.
fn relation_text(program: &Program, r: &Relation) -> String {
    let zero = crate::types::Num::from_int(0);
    if r.calendar {
        return program.expr_text(&Expr {
            kind: ExprKind::Relation(*r),
            span: crate::source::Span::default(),
        });
    }
    let (l, rt) = (program.fact_name(r.left), program.fact_name(r.right));
    if r.value == zero {
        return format!("{l} {} {rt}", r.op.as_str());
    }
    match zero.checked_sub(r.value).filter(|_| r.value < zero) {
        Some(flipped) => {
            let ty = program
                .fact(r.left)
                .map(|x| crate::ir::difference_type(x.ty));
            format!(
                "{rt} - {l} {} {}",
                r.op.flipped().as_str(),
                crate::types::quantity_text(flipped, ty)
            )
        }
        None => program.expr_text(&Expr {
            kind: ExprKind::Relation(*r),
            span: crate::source::Span::default(),
        }),
    }
}
