//! Listed codes that can never count (`W0413`): a code set named in the rules of an outcome
//! lists codes for that outcome, so each of its codes should, on its own, let some patient
//! reach it. A code with which no patient can (every rule naming the set also needs another
//! code of it, or earlier rules take every such patient) is listed in vain; policy tables list
//! codes that way when the criteria were written for other codes.
//!
//! "On its own" is exact: the patient's codes of the set are that one code (any other codes,
//! and every other fact, are free). A code of a class of codes no condition tells apart stands
//! for its class, so a class is asked once, and its codes are reported by the items of the set
//! that list them.

use std::collections::HashMap;

use super::mdd::{FALSE, Node};
use super::space::{Space, Var};
use super::{Run, Stop};
use crate::ast::{CountKind, Quantifier};
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;

/// At most this many items are labelled in one finding; the message counts the rest.
const MAX_ITEMS: usize = 12;

/// A fact's codes tested against a set where a match leads towards the rule's outcome.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Use {
    fact: FactId,
    set: CodeSetId,
}

impl Run<'_> {
    /// One `W0413` for each outcome, fact and set where some listed codes can never give the
    /// outcome; `rules` are the rules' diagrams (within the constraints).
    pub(super) fn listed_codes(
        &mut self,
        space: &mut Space<'_>,
        rules: &[Node],
    ) -> Result<(), Stop> {
        let d = self.decision;
        // Each (outcome, fact, set) once, with the rules that name it, in order.
        let mut groups: Vec<(Option<OutcomeId>, Use, Vec<usize>)> = Vec::new();
        for (i, r) in d.rules.iter().enumerate() {
            let mut uses = Vec::new();
            positive_uses(self.program, &r.condition, true, &mut uses, 0);
            for u in uses {
                match groups
                    .iter_mut()
                    .find(|(o, g, _)| *o == r.outcome && *g == u)
                {
                    Some((_, _, which)) if !which.contains(&i) => which.push(i),
                    Some(_) => {}
                    None => groups.push((r.outcome, u, vec![i])),
                }
            }
        }
        // Nothing listed (most decision tables): no diagram work at all.
        if groups.is_empty() {
            return Ok(());
        }
        let decides = self.decides(space, rules)?;
        for (outcome, u, which) in groups {
            self.in_time()?;
            let mut reach = FALSE;
            for &i in &which {
                if let Some(&n) = decides.get(i) {
                    reach = space.mdd.or(reach, n)?;
                }
            }
            // A rule that never decides is reported as such (W0405, W0407): every code of
            // its sets would be listed in vain, which says nothing more.
            if reach == FALSE {
                continue;
            }
            let Some(classes) = self.classes_of(space, u) else {
                continue;
            };
            let mut dead = Vec::new();
            let mut alone_dead = FALSE;
            for &k in &classes {
                let alone = only_class(space, u.fact, &classes, k)?;
                if space.mdd.and(reach, alone)? == FALSE {
                    dead.push(k);
                    alone_dead = space.mdd.or(alone_dead, alone)?;
                }
            }
            if dead.is_empty() {
                continue;
            }
            let diag = self.listed_finding(space, outcome, u, &which, &dead, alone_dead, rules)?;
            self.diagnostics.push(diag);
        }
        Ok(())
    }

    /// The patients each rule decides, whose outcome is then the rule's: under `first`, those
    /// no earlier rule matches; under `unique`, those no other rule matches; under `any`,
    /// those no rule with another outcome matches. Linear in the rules: the other rules are
    /// unions of prefixes and suffixes, or of the other outcomes' rules.
    fn decides(&self, space: &mut Space<'_>, rules: &[Node]) -> Result<Vec<Node>, Stop> {
        let d = self.decision;
        // before[i]: the rules before rule i; after[i]: the rules after it.
        let mut before = Vec::with_capacity(rules.len());
        let mut acc = FALSE;
        for &r in rules {
            before.push(acc);
            acc = space.mdd.or(acc, r)?;
        }
        let mut after = Vec::with_capacity(rules.len());
        let mut acc = FALSE;
        for &r in rules.iter().rev() {
            after.push(acc);
            acc = space.mdd.or(acc, r)?;
        }
        after.reverse();
        let outcome = |i: usize| d.rules.get(i).and_then(|r| r.outcome);
        let mut by_outcome: Vec<(Option<OutcomeId>, Node)> = Vec::new();
        if d.hit == HitPolicy::Any {
            for (i, &r) in rules.iter().enumerate() {
                match by_outcome.iter_mut().find(|(o, _)| *o == outcome(i)) {
                    Some((_, acc)) => *acc = space.mdd.or(*acc, r)?,
                    None => by_outcome.push((outcome(i), r)),
                }
            }
        }
        let mut out = Vec::with_capacity(rules.len());
        for (i, &r) in rules.iter().enumerate() {
            let (earlier, later) = (
                before.get(i).copied().unwrap_or(FALSE),
                after.get(i).copied().unwrap_or(FALSE),
            );
            let taken = match d.hit {
                HitPolicy::First => earlier,
                HitPolicy::Unique => space.mdd.or(earlier, later)?,
                HitPolicy::Any => {
                    let mut others = FALSE;
                    for (o, acc) in &by_outcome {
                        if *o != outcome(i) {
                            others = space.mdd.or(others, *acc)?;
                        }
                    }
                    others
                }
            };
            out.push(space.mdd.diff(r, taken)?);
        }
        Ok(out)
    }

    /// The classes of the fact's codes that lie in the set (none when the analysis did not
    /// cut the fact into classes).
    fn classes_of(&self, space: &Space<'_>, u: Use) -> Option<Vec<usize>> {
        let classes = space.codes.get(&u.fact)?;
        let at = classes.sets.iter().position(|s| *s == u.set)?;
        Some(
            classes
                .classes
                .iter()
                .enumerate()
                .filter(|(_, c)| c.inside.get(at).copied().unwrap_or(false))
                .map(|(k, _)| k)
                .collect(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn listed_finding(
        &mut self,
        space: &mut Space<'_>,
        outcome: Option<OutcomeId>,
        u: Use,
        which: &[usize],
        dead: &[usize],
        alone: Node,
        rules: &[Node],
    ) -> Result<Diagnostic, Stop> {
        let d = self.decision;
        let program = self.program;
        let set_shown = match program.code_set(u.set).and_then(|s| s.name.as_deref()) {
            Some(name) => format!("`{}`", shown(name)),
            None => "the set written in place".to_string(),
        };
        let outcome_name = d.outcome_name(outcome).to_string();
        let fact_name = program.fact_name(u.fact).to_string();
        // The dead codes, by the items that list them.
        let dead_codes = self.codes_of_classes(space, u, dead);
        let mut items = Vec::new();
        listed_items(program, u.set, &mut items, 0);
        let universe = program
            .code_set(u.set)
            .map(|s| self.code_sets.universe(s.system))
            .unwrap_or_default();
        let members = self.code_sets.members(u.set);
        let mut reported: Vec<(&SetItem, usize, usize, &str)> = Vec::new();
        for item in items {
            let codes: Vec<&String> = crate::codeset::item_codes(&item.item, universe)
                .iter()
                .filter(|c| members.binary_search(c).is_ok())
                .collect();
            let gone: Vec<&&String> = codes
                .iter()
                .filter(|c| dead_codes.binary_search(c).is_ok())
                .collect();
            if let Some(first) = gone.first() {
                reported.push((item, gone.len(), codes.len(), first.as_str()));
            }
        }
        let total = dead_codes.len();
        let shown_items: Vec<String> = reported
            .iter()
            .take(3)
            .map(|(i, ..)| format!("`{}`", shown(&i.written)))
            .collect();
        let more = reported.len().saturating_sub(3);
        let mut message = format!(
            "{total} code{} of {set_shown} can never give `{}`: {}",
            if total == 1 { "" } else { "s" },
            shown(&outcome_name),
            shown_items.join(", ")
        );
        if more > 0 {
            message.push_str(&format!(" and {more} more"));
        }
        let mut diag = Diagnostic::new(Code::ListedCodeNeverCounts, message);
        for (n, (item, gone, of, first)) in reported.iter().enumerate().take(MAX_ITEMS) {
            let label = if gone == of && *of == 1 {
                format!(
                    "no patient whose only code of {set_shown} is this one gets `{}`",
                    shown(&outcome_name)
                )
            } else if gone == of {
                format!(
                    "none of its {of} codes gets `{}` as the only code of {set_shown}",
                    shown(&outcome_name)
                )
            } else {
                format!(
                    "{gone} of its {of} codes (`{}`...) never get `{}` as the only code of {set_shown}",
                    shown(first),
                    shown(&outcome_name)
                )
            };
            diag = if n == 0 {
                diag.primary(item.span, label)
            } else {
                diag.secondary(item.span, label)
            };
        }
        // What stops each rule that names the set.
        for &i in which {
            let (Some(r), Some(&n)) = (d.rules.get(i), rules.get(i)) else {
                continue;
            };
            let matched = space.mdd.and(n, alone)?;
            if matched == FALSE {
                diag = self.needs_more(space, r, alone, diag, &set_shown)?;
                continue;
            }
            // It matches such patients, and other rules decide them.
            let mut takers = Vec::new();
            for (j, rj) in d.rules.iter().enumerate() {
                let decides_first = match d.hit {
                    HitPolicy::First => j < i,
                    HitPolicy::Unique => j != i,
                    HitPolicy::Any => j != i && rj.outcome != r.outcome,
                };
                if decides_first
                    && let Some(&m) = rules.get(j)
                    && space.mdd.and(matched, m)? != FALSE
                {
                    takers.push(format!("`{}`", shown(&rj.name)));
                }
            }
            let how = match d.hit {
                HitPolicy::First => "earlier rules decide them",
                HitPolicy::Unique | HitPolicy::Any => "they also match",
            };
            diag = diag.secondary(
                r.name_span,
                format!(
                    "matches patients with one of these codes, but {how}: {}",
                    takers.join(", ")
                ),
            );
        }
        if let Some(example) = self.example(space, alone, &[u.fact]) {
            diag = diag.note(format!(
                "a patient with {example}, for one, gets `{}` from no rule that names {set_shown}",
                shown(&outcome_name)
            ));
        }
        Ok(diag
            .note(format!(
                "`{}` reads the codes of `{}`; a code counts when, as the patient's only code of {set_shown}, some patient with it gets `{}`",
                shown(&d.name),
                shown(&fact_name),
                shown(&outcome_name)
            ))
            .help("give these codes the rule the policy meant for them, move them to a set the rules do not require, or remove them from the set"))
    }

    /// Labels the part of a rule that no patient with only one of the dead codes meets (when
    /// one part alone excludes them), else the rule.
    fn needs_more(
        &mut self,
        space: &mut Space<'_>,
        r: &Rule,
        alone: Node,
        diag: Diagnostic,
        set_shown: &str,
    ) -> Result<Diagnostic, Stop> {
        let parts: Vec<&Expr> = match &r.condition.kind {
            ExprKind::And(parts) => parts.iter().collect(),
            _ => vec![&r.condition],
        };
        for p in parts {
            let n = space.condition(p)?;
            let n = space.mdd.and(n, self.allowed)?;
            if space.mdd.and(n, alone)? == FALSE {
                return Ok(diag.secondary(
                    p.span,
                    format!(
                        "never true when the patient has only one of these codes of {set_shown}"
                    ),
                ));
            }
        }
        Ok(diag.secondary(
            r.name_span,
            format!("never matches a patient with only one of these codes of {set_shown}"),
        ))
    }

    /// The set's codes that lie in the given classes of the fact, sorted.
    fn codes_of_classes(&self, space: &Space<'_>, u: Use, which: &[usize]) -> Vec<String> {
        let Some(classes) = space.codes.get(&u.fact) else {
            return Vec::new();
        };
        let index: HashMap<&[bool], usize> = classes
            .classes
            .iter()
            .enumerate()
            .map(|(k, c)| (c.inside.as_slice(), k))
            .collect();
        let members: Vec<&[String]> = classes
            .sets
            .iter()
            .map(|s| self.code_sets.members(*s))
            .collect();
        self.code_sets
            .members(u.set)
            .iter()
            .filter(|code| {
                let inside: Vec<bool> = members
                    .iter()
                    .map(|m| m.binary_search(code).is_ok())
                    .collect();
                index
                    .get(inside.as_slice())
                    .is_some_and(|k| which.contains(k))
            })
            .cloned()
            .collect()
    }
}

/// The patients whose codes of the set (its classes `inside`) are of class `k` only: one code
/// of it, and none of the others.
fn only_class(
    space: &mut Space<'_>,
    fact: FactId,
    inside: &[usize],
    k: usize,
) -> Result<Node, Stop> {
    let Some(&first) = space.var_of.get(&fact) else {
        return Ok(FALSE);
    };
    match space.vars.get(first as usize) {
        Some(Var::Code(..)) => Ok(space.mdd.literal(first, |s| s as usize == k)?),
        Some(Var::ClassCount { .. }) => {
            // State 1 is one code of the class: "some" of two states, "some but not all" of
            // three (a one-code class has two).
            let mut acc = space.mdd.literal(first + k as u32, |s| s == 1)?;
            for &other in inside.iter().filter(|o| **o != k) {
                let none = space.mdd.literal(first + other as u32, |s| s == 0)?;
                acc = space.mdd.and(acc, none)?;
            }
            Ok(acc)
        }
        _ => Ok(FALSE),
    }
}

/// The code sets a condition tests so that a match leads towards its rule's outcome: `has any`
/// and `in` where the condition needs them true (definitions followed), `has none` where it
/// needs them false. `has all` lists codes that count together, never alone; `exactly k of`
/// reads its parts both ways.
fn positive_uses(program: &Program, e: &Expr, positive: bool, out: &mut Vec<Use>, depth: u32) {
    // Definitions nest no deeper than the checker allows; the guard is for safety only.
    if depth > 256 {
        return;
    }
    let mut push = |u: Use| {
        if !out.contains(&u) {
            out.push(u);
        }
    };
    match &e.kind {
        ExprKind::Has {
            fact,
            quantifier,
            set,
        } => {
            let listed = match quantifier {
                Quantifier::Any => positive,
                Quantifier::None => !positive,
                Quantifier::All => false,
            };
            if listed {
                push(Use {
                    fact: *fact,
                    set: *set,
                });
            }
        }
        ExprKind::CodeIn { fact, set } if positive => push(Use {
            fact: *fact,
            set: *set,
        }),
        ExprKind::Not(inner) => positive_uses(program, inner, !positive, out, depth + 1),
        ExprKind::And(parts) | ExprKind::Or(parts) => {
            for p in parts {
                positive_uses(program, p, positive, out, depth + 1);
            }
        }
        ExprKind::Count { kind, items, .. } => {
            let polarity = match kind {
                CountKind::AtLeast => Some(positive),
                CountKind::AtMost => Some(!positive),
                CountKind::Exactly => None,
            };
            if let Some(p) = polarity {
                for i in items {
                    positive_uses(program, i, p, out, depth + 1);
                }
            }
        }
        ExprKind::Define(id) => {
            if let Some(DefineBody::Condition(body)) = program.define(*id).map(|d| &d.body) {
                positive_uses(program, body, positive, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// The items a set lists, through the sets it adds (`a + b`); items a difference takes away
/// list nothing.
fn listed_items<'p>(program: &'p Program, set: CodeSetId, out: &mut Vec<&'p SetItem>, depth: u32) {
    if depth > 256 {
        return;
    }
    if let Some(s) = program.code_set(set) {
        listed_in(program, &s.expr, out, depth);
    }
}

fn listed_in<'p>(program: &'p Program, e: &'p SetExpr, out: &mut Vec<&'p SetItem>, depth: u32) {
    match e {
        SetExpr::Items(items) => out.extend(items.iter()),
        SetExpr::Ref(id) => listed_items(program, *id, out, depth + 1),
        SetExpr::Chain { first, rest } => {
            listed_in(program, first, out, depth + 1);
            for (op, e) in rest {
                if *op == crate::ast::SetOp::Union {
                    listed_in(program, e, out, depth + 1);
                }
            }
        }
    }
}
