//! Counts of lists in the analysis: which combinations of counts a list can have, and a
//! concrete list for each one the analysis shows.
//!
//! Each count of a list (`count(sessions where kind == therapeutic)`) is a variable of its own,
//! a whole number from 0 cut at its thresholds (`space::Var::Count`). Items are free, so the
//! counts of one list are related only through the items themselves: an item lies inside or
//! outside each count's condition, and the combinations of "inside" that some item can have
//! (its kind, here a *region*) are found exactly on a small diagram over the record's fields.
//! A list is then so many items of each region, and a combination of counts is possible
//! exactly when such numbers exist: [`solve`] finds them. [`feasible`] builds the diagram of
//! the possible combinations, which the analysis takes as a constraint, so that its findings
//! about counts stay exact; lists with too many counts to enumerate are left free (an
//! over-approximation) and their findings say so.

use std::collections::HashMap;

use super::domain::Region;
use super::mdd::{Exhausted, FALSE, Node, TRUE};
use super::space::{self, Space, Var};
use crate::ast::CmpOp;
use crate::codeset::CodeSets;
use crate::ir::*;
use crate::types::{Num, Type};

/// At most this many counts of one list are related exactly (regions grow as powers of two).
const MAX_TERMS: usize = 6;

/// At most this many combinations of one list's count classes are enumerated.
const MAX_COMBINATIONS: usize = 4096;

/// At most this many steps of [`solve`]'s search per combination.
const SOLVE_STEPS: usize = 20_000;

/// One count of a list the conditions compare.
#[derive(Debug, Clone)]
pub struct CountTerm {
    pub list: FactId,
    /// The condition on each item; `None` counts every item.
    pub filter: Option<Expr>,
    /// See [`count_key`].
    pub key: String,
}

/// The kinds of items a list's counts tell apart.
#[derive(Debug, Clone, Default)]
pub struct ListItems {
    /// The list's counts (indices into [`Space::terms`]), in variable order.
    pub terms: Vec<usize>,
    /// Each region some item can be in (whether it meets each count's condition, in the
    /// order of `terms`; never all false) with an example item.
    pub regions: Vec<(Vec<bool>, Item)>,
    /// Whether `regions` is every region: `false` when the list has too many counts, or a
    /// condition the item diagram could not build.
    pub complete: bool,
}

/// The regions of each list of the counts.
pub fn items_of(
    program: &Program,
    terms: &[CountTerm],
    code_sets: &CodeSets,
    budget: usize,
) -> HashMap<FactId, ListItems> {
    let mut out: HashMap<FactId, ListItems> = HashMap::new();
    for (t, term) in terms.iter().enumerate() {
        out.entry(term.list).or_default().terms.push(t);
    }
    for items in out.values_mut() {
        let filters: Vec<Expr> = items
            .terms
            .iter()
            .filter_map(|t| terms.get(*t))
            .map(|t| {
                t.filter.clone().unwrap_or(Expr {
                    kind: ExprKind::Const(true),
                    span: crate::source::Span::default(),
                })
            })
            .collect();
        let every = filters.len() <= MAX_TERMS;
        let unfiltered: Vec<bool> = items
            .terms
            .iter()
            .map(|t| terms.get(*t).is_some_and(|x| x.filter.is_none()))
            .collect();
        let masks = masks(&unfiltered);
        if let Some(regions) = regions(program, &filters, &masks, code_sets, budget) {
            items.regions = regions;
            items.complete = every;
        }
    }
    out
}

/// The regions to look for among the counts of one list (bit `i`: inside count `i`'s
/// condition; `unfiltered[i]`: count `i` has none, every item is in it): every region when
/// there are few counts; else the items inside one or two counts' conditions (and the
/// unfiltered ones), which give lists for the examples of counts left free of each other.
fn masks(unfiltered: &[bool]) -> Vec<u64> {
    let n = unfiltered.len();
    if n <= MAX_TERMS {
        return (1..1u64 << n).collect();
    }
    let always: u64 = unfiltered
        .iter()
        .enumerate()
        .filter(|(_, u)| **u)
        .map(|(i, _)| 1u64 << i)
        .sum();
    let mut out = vec![always];
    for i in 0..n.min(63) {
        for j in i..n.min(63) {
            out.push(always | 1 << i | 1 << j);
        }
    }
    out.sort_unstable();
    out.dedup();
    out.retain(|m| *m != 0);
    out
}

/// The regions of `masks` (bit `i`: inside filter `i`) that some item is in, with an example
/// item; `None` when the diagram of the fields cannot be built, or there are more filters than
/// bits.
fn regions(
    program: &Program,
    filters: &[Expr],
    masks: &[u64],
    code_sets: &CodeSets,
    budget: usize,
) -> Option<Vec<(Vec<bool>, Item)>> {
    if filters.len() >= 64 {
        return None;
    }
    let refs: Vec<&Expr> = filters.iter().collect();
    let mut fields = space::build(program, &refs, code_sets, budget).ok()?;
    let mut nodes = Vec::with_capacity(filters.len());
    for f in filters {
        let n = fields.condition(f).ok()?;
        let not = fields.mdd.not(n).ok()?;
        nodes.push((n, not));
    }
    let mut out = Vec::new();
    for &mask in masks {
        let mut node = TRUE;
        for (i, &(n, not)) in nodes.iter().enumerate() {
            let lit = if mask >> i & 1 == 1 { n } else { not };
            node = fields.mdd.and(node, lit).ok()?;
            if node == FALSE {
                break;
            }
        }
        if node == FALSE {
            continue;
        }
        let values = fields.mdd.witness(node)?;
        let inside = (0..filters.len()).map(|i| mask >> i & 1 == 1).collect();
        out.push((inside, item(&fields, &values)?));
    }
    Some(out)
}

/// The item of an assignment of a field diagram's variables: a value for every field its
/// conditions read (free ones take their first class). `None` when a condition reads
/// something that is not a field of one value.
fn item(fields: &Space<'_>, values: &[Option<u32>]) -> Option<Item> {
    let mut out = Item::new();
    let value = |v: u32| values.get(v as usize).copied().flatten().unwrap_or(0);
    for (v, var) in fields.vars.iter().enumerate() {
        let v = v as u32;
        let (fact, x) = match var {
            Var::Bool(f) => (*f, Value::Bool(value(v) == 1)),
            Var::Enum(f, _) => (*f, Value::Enum(value(v))),
            Var::Numeric(f, d) => (*f, Value::Num(*d.samples.get(value(v) as usize)?)),
            Var::Code(f, _) => {
                let code = fields
                    .codes
                    .get(f)?
                    .classes
                    .get(value(v) as usize)?
                    .examples
                    .first()?
                    .clone();
                (*f, Value::Code(code))
            }
            Var::ClassCount { .. } | Var::Count(..) | Var::Term { .. } => return None,
        };
        if !fields.program.is_field(fact) {
            return None;
        }
        out.insert(fact, x);
    }
    Some(out)
}

/// What [`solve`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Solved {
    /// How many items of each region.
    Found(Vec<u64>),
    /// No numbers of items give counts within the bounds.
    Impossible,
    /// The search ran out of steps.
    Undecided,
}

/// How many items of each region (`regions[r][i]`: whether an item of region `r` counts in
/// count `i`) give every count `i` a value within `low[i] ..= high[i]` (`None`: no upper
/// bound). Each region needs at most `max(low)` items: fewer still meets every lower bound a
/// region reaches alone, and only lowers the others. A depth-first search, bounded in steps.
pub fn solve(regions: &[Vec<bool>], low: &[u64], high: &[Option<u64>]) -> Solved {
    let cap = low.iter().copied().max().unwrap_or(0);
    let mut counts = vec![0u64; regions.len()];
    let mut sums = vec![0u64; low.len()];
    let mut steps = SOLVE_STEPS;
    match search(
        regions,
        low,
        high,
        cap,
        0,
        &mut counts,
        &mut sums,
        &mut steps,
    ) {
        Some(true) => Solved::Found(counts),
        Some(false) => Solved::Impossible,
        None => Solved::Undecided,
    }
}

#[expect(clippy::too_many_arguments, reason = "the state of one search")]
fn search(
    regions: &[Vec<bool>],
    low: &[u64],
    high: &[Option<u64>],
    cap: u64,
    at: usize,
    counts: &mut [u64],
    sums: &mut [u64],
    steps: &mut usize,
) -> Option<bool> {
    *steps = steps.checked_sub(1)?;
    let Some(region) = regions.get(at) else {
        return Some(sums.iter().zip(low).all(|(s, l)| s >= l));
    };
    // A count still below its bound that no region from here reaches cannot get there.
    let reachable = |i: usize| regions.iter().skip(at).any(|r| r.get(i) == Some(&true));
    if sums
        .iter()
        .zip(low)
        .enumerate()
        .any(|(i, (s, l))| s < l && !reachable(i))
    {
        return Some(false);
    }
    for n in 0..=cap {
        let fits = region
            .iter()
            .zip(sums.iter())
            .zip(high)
            .all(|((inside, s), h)| !inside || h.is_none_or(|h| s + n <= h));
        if !fits {
            break;
        }
        for (s, inside) in sums.iter_mut().zip(region) {
            if *inside {
                *s += n;
            }
        }
        if let Some(c) = counts.get_mut(at) {
            *c = n;
        }
        let found = search(regions, low, high, cap, at + 1, counts, sums, steps);
        if found == Some(true) {
            return found;
        }
        for (s, inside) in sums.iter_mut().zip(region) {
            if *inside {
                *s -= n;
            }
        }
        found?;
    }
    if let Some(c) = counts.get_mut(at) {
        *c = 0;
    }
    Some(false)
}

/// The bounds of one class of a count: its whole numbers from `low` to `high`.
fn bounds(region: &Region) -> Option<Bounds> {
    let whole = |n: Num| u64::try_from(n.to_i64()?).ok();
    Some(match region {
        Region::Point(v) => (whole(*v)?, Some(whole(*v)?)),
        Region::Between(a, b) => (
            a.map_or(Some(0), |a| whole(a.floor()).map(|x| x + 1))?,
            match b {
                Some(b) => Some(whole(b.ceil())?.checked_sub(1)?),
                None => None,
            },
        ),
    })
}

/// The combinations of count classes some list has, as a diagram, and the lists whose counts
/// were left free (too many to relate exactly): findings about those lists' counts may
/// describe lists that cannot exist.
pub fn feasible(space: &mut Space<'_>) -> Result<(Node, Vec<FactId>), Exhausted> {
    let mut all = TRUE;
    let mut free = Vec::new();
    let mut lists: Vec<(FactId, ListItems)> =
        space.items.iter().map(|(f, i)| (*f, i.clone())).collect();
    lists.sort_by_key(|(f, _)| *f);
    for (list, items) in lists {
        let vars: Vec<(u32, Vec<Bounds>)> = items
            .terms
            .iter()
            .filter_map(|t| {
                space
                    .vars
                    .iter()
                    .enumerate()
                    .find_map(|(v, var)| match var {
                        Var::Count(term, d) if term == t => {
                            let b: Option<Vec<_>> = d.regions.iter().map(bounds).collect();
                            Some((v as u32, b?))
                        }
                        _ => None,
                    })
            })
            .collect();
        let size = vars
            .iter()
            .try_fold(1usize, |acc, (_, b)| acc.checked_mul(b.len()));
        if !items.complete
            || vars.len() != items.terms.len()
            || size.is_none_or(|s| s > MAX_COMBINATIONS)
        {
            free.push(list);
            continue;
        }
        let regions: Vec<Vec<bool>> = items.regions.iter().map(|(r, _)| r.clone()).collect();
        let mut possible = FALSE;
        let mut every = true;
        let mut undecided = false;
        for combo in combinations(&vars) {
            let low: Vec<u64> = combo.iter().map(|(_, (l, _))| *l).collect();
            let high: Vec<Option<u64>> = combo.iter().map(|(_, (_, h))| *h).collect();
            match solve(&regions, &low, &high) {
                Solved::Found(_) => {
                    let mut cube = TRUE;
                    for (v, class) in combo.iter().map(|(vc, _)| *vc) {
                        let lit = space.mdd.literal(v, |x| x == class)?;
                        cube = space.mdd.and(cube, lit)?;
                    }
                    possible = space.mdd.or(possible, cube)?;
                }
                Solved::Impossible => every = false,
                Solved::Undecided => undecided = true,
            }
        }
        if undecided {
            free.push(list);
        } else if !every {
            all = space.mdd.and(all, possible)?;
        }
    }
    Ok((all, free))
}

/// The whole numbers of one class of a count: from the first to the second (`None`: no end).
type Bounds = (u64, Option<u64>);

/// One class per variable: ((variable, class), the class's bounds).
type Combination = Vec<((u32, u32), Bounds)>;

fn combinations(vars: &[(u32, Vec<Bounds>)]) -> Vec<Combination> {
    let mut out: Vec<Combination> = vec![Vec::new()];
    for (v, classes) in vars {
        let mut next = Vec::with_capacity(out.len() * classes.len());
        for base in &out {
            for (c, b) in classes.iter().enumerate() {
                let mut x = base.clone();
                x.push(((*v, c as u32), *b));
                next.push(x);
            }
        }
        out = next;
    }
    out
}

/// The list of an assignment of the variables: items of the list's regions in numbers that
/// give each count its value. `None` when no list has these counts (or none was found).
pub fn witness_list(space: &Space<'_>, list: FactId, values: &[Option<u32>]) -> Option<Vec<Item>> {
    let items = space.items.get(&list)?;
    let mut wanted = Vec::with_capacity(items.terms.len());
    for t in &items.terms {
        let (v, d) = space
            .vars
            .iter()
            .enumerate()
            .find_map(|(v, var)| match var {
                Var::Count(term, d) if term == t => Some((v, d)),
                _ => None,
            })?;
        // A count the example leaves free takes what the list gives it.
        let Some(class) = values.get(v).copied().flatten() else {
            wanted.push((0, None));
            continue;
        };
        let sample = u64::try_from(d.samples.get(class as usize)?.to_i64()?).ok()?;
        wanted.push((sample, Some(sample)));
    }
    // Conditions that read facts of the patient have the regions of this patient's values.
    let filters: Vec<&Expr> = items
        .terms
        .iter()
        .filter_map(|t| space.terms.get(*t)?.filter.as_ref())
        .collect();
    let reads_outer = filters
        .iter()
        .any(|f| !space.program.outer_facts(f).is_empty());
    let own;
    let found: &[(Vec<bool>, Item)] = if reads_outer {
        // Only the counts the assignment fixes constrain the list, the others take what it
        // gives: regions over those alone are every region when they are few, where regions
        // over all of a list's many counts are only those inside one or two conditions (see
        // `masks`), and an item inside three (an ablation of the region within 12 months
        // is within 2 years too) would be missed.
        let fixed: Vec<usize> = (0..items.terms.len())
            .filter(|i| wanted.get(*i).is_some_and(|w| w.1.is_some()))
            .collect();
        let used: Vec<usize> = if fixed.len() <= MAX_TERMS && fixed.len() < items.terms.len() {
            fixed
        } else {
            (0..items.terms.len()).collect()
        };
        wanted = used
            .iter()
            .filter_map(|i| wanted.get(*i).copied())
            .collect();
        let terms: Vec<usize> = used
            .iter()
            .filter_map(|i| items.terms.get(*i).copied())
            .collect();
        let outer = outer_values(space, values);
        let filters: Vec<Expr> = terms
            .iter()
            .map(|t| match space.terms.get(*t)?.filter.as_ref() {
                Some(f) => substitute(space.program, f, &outer),
                None => Some(Expr {
                    kind: ExprKind::Const(true),
                    span: crate::source::Span::default(),
                }),
            })
            .collect::<Option<_>>()?;
        let unfiltered: Vec<bool> = terms
            .iter()
            .map(|t| space.terms.get(*t).is_some_and(|x| x.filter.is_none()))
            .collect();
        own = regions(
            space.program,
            &filters,
            &masks(&unfiltered),
            space.code_sets,
            space.budget(),
        )?;
        &own
    } else {
        &items.regions
    };
    let regions: Vec<Vec<bool>> = found.iter().map(|(r, _)| r.clone()).collect();
    let low: Vec<u64> = wanted.iter().map(|w| w.0).collect();
    let high: Vec<Option<u64>> = wanted.iter().map(|w| w.1).collect();
    let Solved::Found(counts) = solve(&regions, &low, &high) else {
        return None;
    };
    let mut out = Vec::new();
    for ((_, item), n) in found.iter().zip(counts) {
        for _ in 0..n {
            out.push(item.clone());
        }
    }
    Some(out)
}

/// The values an assignment gives the facts of the patient that counts' conditions read. A
/// number is the one the witness patient gets ([`Space::number`]): a fact related to others
/// (the date of service, with a pain's onset `4 weeks` before it) is solved with its group,
/// not its class's sample, so a window ends where the patient's date of service is.
fn outer_values(space: &Space<'_>, values: &[Option<u32>]) -> Item {
    let mut out = Item::new();
    for (v, var) in space.vars.iter().enumerate() {
        let class = values.get(v).copied().flatten().unwrap_or(0);
        let (fact, value) = match var {
            Var::Numeric(f, d) => match space
                .number(*f, values)
                .or_else(|| d.samples.get(class as usize).copied())
            {
                Some(n) => (*f, Value::Num(n)),
                None => continue,
            },
            Var::Enum(f, _) => (*f, Value::Enum(class)),
            Var::Bool(f) => (*f, Value::Bool(class == 1)),
            _ => continue,
        };
        out.insert(fact, value);
    }
    out
}

/// A count's condition with the values of the patient's facts it reads put in: a condition on
/// the item's fields alone (`performed within 12 months before service_date` becomes two
/// comparisons of `performed`). `None` when a fact it reads has no value. Recursion follows the
/// source's nesting, which the parser bounds.
fn substitute(program: &Program, e: &Expr, outer: &Item) -> Option<Expr> {
    let span = e.span;
    let at = |kind| Expr { kind, span };
    let all = |es: &[Expr]| {
        es.iter()
            .map(|x| substitute(program, x, outer))
            .collect::<Option<Vec<_>>>()
    };
    Some(match &e.kind {
        ExprKind::Not(inner) => at(ExprKind::Not(Box::new(substitute(program, inner, outer)?))),
        ExprKind::And(es) => at(ExprKind::And(all(es)?)),
        ExprKind::Or(es) => at(ExprKind::Or(all(es)?)),
        ExprKind::Window {
            field,
            reference,
            amount,
            months,
        } => {
            let Some(Value::Num(end)) = outer.get(reference) else {
                return None;
            };
            let start = medpol_artifact::window_start(*end, *amount, *months)?;
            let compare = |op, value| {
                at(ExprKind::Compare {
                    fact: *field,
                    op,
                    value,
                })
            };
            at(ExprKind::And(vec![
                compare(CmpOp::Ge, start),
                compare(CmpOp::Le, *end),
            ]))
        }
        ExprKind::FieldIs { field, op, fact } => match outer.get(fact)? {
            Value::Num(n) => at(ExprKind::Compare {
                fact: *field,
                op: *op,
                value: *n,
            }),
            Value::Enum(v) => {
                let name = |f: &FactId, x: u32| match program.fact(*f).map(|y| y.ty) {
                    Some(Type::Enum(en)) => Some((en, program.enum_value(en, x).to_string())),
                    _ => None,
                };
                let (_, wanted) = name(fact, *v)?;
                let Type::Enum(en) = program.fact(*field)?.ty else {
                    return None;
                };
                let same = program
                    .enum_type(en)?
                    .values
                    .iter()
                    .position(|(n, _)| *n == wanted);
                let inside = match same {
                    Some(i) => at(ExprKind::EnumIn {
                        fact: *field,
                        values: vec![i as u32],
                    }),
                    None => at(ExprKind::Const(false)),
                };
                match op {
                    CmpOp::Ne => at(ExprKind::Not(Box::new(inside))),
                    _ => inside,
                }
            }
            _ => return None,
        },
        _ => e.clone(),
    })
}
