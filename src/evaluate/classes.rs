//! One value for each class of a fact's values that a decision's conditions can tell apart:
//! splitting a missing fact over these values covers every completion of it.
//!
//! - a `bool`: both values; an enum: every value;
//! - a number: each threshold it is compared with and a value strictly between (and beyond)
//!   them, within the physical range of its type (durations are never negative, percentages
//!   lie between 0 and 100) and whole for an `int`;
//! - a code: one code per combination of the decision's sets that hold it, among the codes
//!   of the release in force the sets hold and one code of it none of them holds;
//! - a set of codes: every combination of those classes, none or one code of each, and all
//!   of a class's codes when a `has all` needs them.

use std::collections::BTreeMap;

use crate::ast::Quantifier;
use crate::codes::System;
use crate::codeset::CodeSets;
use crate::ir::{CodeSetId, Decision, Expr, ExprKind, FactId, Program, Term, Value};
use crate::types::{Num, Type};

/// How many values of a set-of-codes fact to try at most: combinations grow as powers of
/// the number of classes.
const MAX_SUBSETS: usize = 4096;

/// The values to split a fact over; `None` when there are too many to try.
pub fn representatives(
    program: &Program,
    code_sets: &CodeSets,
    decision: &Decision,
    fact: FactId,
) -> Option<Vec<Value>> {
    let f = program.fact(fact)?;
    let uses = gather(program, decision, fact);
    Some(match f.ty {
        Type::Bool => vec![Value::Bool(false), Value::Bool(true)],
        Type::Enum(e) => {
            let n = program.enum_type(e).map_or(0, |t| t.values.len());
            (0..n as u32).map(Value::Enum).collect()
        }
        // The analysis's classes of a number line: each threshold, a value between each two,
        // one beyond each end, within the type's range.
        Type::Int | Type::Decimal | Type::Quantity(_) | Type::Date => {
            crate::analyse::domain::numeric(f.ty, f.range, &uses.thresholds)
                .samples
                .into_iter()
                .map(Value::Num)
                .collect()
        }
        Type::Code(system) => code_classes(code_sets, system, &uses.sets)
            .into_iter()
            .filter_map(|class| class.into_iter().next())
            .map(Value::Code)
            .collect(),
        Type::CodeSet(system) => {
            let classes = code_classes(code_sets, system, &uses.sets);
            subsets(&classes, uses.all)?
        }
        Type::Error => Vec::new(),
        // A list is split by its counts, not by its values (see `evaluate`).
        Type::List(_) => return None,
    })
}

/// The differences of related facts the decision's conditions compare (through
/// definitions), each with a value of each class of it: its thresholds and the values between
/// them (see [`crate::analyse::domain::difference`]).
pub fn terms(program: &Program, decision: &Decision) -> Vec<(Term, Vec<Num>)> {
    let conditions: Vec<&Expr> = decision.rules.iter().map(|r| &r.condition).collect();
    let mut found: BTreeMap<Term, Vec<Num>> = BTreeMap::new();
    for e in program.walk(&conditions) {
        if let ExprKind::Relation(r) = &e.kind {
            found.entry(r.term()).or_default().push(r.value);
        }
    }
    found
        .into_iter()
        .map(|(term, mut thresholds)| {
            thresholds.sort();
            thresholds.dedup();
            let d = crate::analyse::domain::difference(program, term.left, term.right, &thresholds);
            (term, d.samples)
        })
        .collect()
}

#[derive(Default)]
struct Uses {
    thresholds: Vec<Num>,
    sets: Vec<CodeSetId>,
    all: bool,
}

/// What the decision's conditions do with one fact, through definitions.
fn gather(program: &Program, decision: &Decision, fact: FactId) -> Uses {
    let mut uses = Uses::default();
    let conditions: Vec<&Expr> = decision.rules.iter().map(|r| &r.condition).collect();
    for e in program.walk(&conditions) {
        match &e.kind {
            ExprKind::Compare { fact: f, value, .. } if *f == fact => {
                uses.thresholds.push(*value);
            }
            ExprKind::CodeIn { fact: f, set } if *f == fact => uses.sets.push(*set),
            ExprKind::Has {
                fact: f,
                quantifier,
                set,
            } if *f == fact => {
                uses.sets.push(*set);
                uses.all |= *quantifier == Quantifier::All;
            }
            _ => {}
        }
    }
    uses.thresholds.sort();
    uses.thresholds.dedup();
    uses.sets.sort();
    uses.sets.dedup();
    uses
}

/// The codes of a code fact grouped by which of the sets hold them, in a stable order, each
/// group's codes sorted: the codes some set holds, and one code of the release none holds.
fn code_classes(code_sets: &CodeSets, system: System, sets: &[CodeSetId]) -> Vec<Vec<String>> {
    let mut codes: Vec<&String> = sets
        .iter()
        .flat_map(|s| code_sets.members(*s).iter())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let outside = code_sets
        .universe(system)
        .iter()
        .find(|c| codes.binary_search(c).is_err());
    let mut classes: BTreeMap<Vec<bool>, Vec<String>> = BTreeMap::new();
    for code in codes.into_iter().chain(outside) {
        let signature: Vec<bool> = sets.iter().map(|s| code_sets.contains(*s, code)).collect();
        classes.entry(signature).or_default().push(code.clone());
    }
    classes.into_values().collect()
}

/// Every value of a set-of-codes fact up to what its conditions can see: for each class, no
/// code, its first code, or (for `has all`) all of its codes.
fn subsets(classes: &[Vec<String>], all: bool) -> Option<Vec<Value>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for class in classes {
        let mut choices: Vec<&[String]> = vec![&[]];
        choices.extend(class.get(..1));
        if all && class.len() > 1 {
            choices.push(class);
        }
        let mut next = Vec::with_capacity(out.len() * choices.len());
        for base in &out {
            for choice in &choices {
                let mut v = base.clone();
                v.extend(choice.iter().cloned());
                next.push(v);
            }
        }
        if next.len() > MAX_SUBSETS {
            return None;
        }
        out = next;
    }
    Some(out.into_iter().map(Value::Codes).collect())
}
