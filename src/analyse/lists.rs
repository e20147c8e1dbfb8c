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
use crate::codeset::CodeSets;
use crate::ir::*;
use crate::types::Num;

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
        // Every region when there are few counts; else the items in one count's condition
        // only, which give lists for examples where the counts are free of each other.
        let every = filters.len() <= MAX_TERMS;
        let masks: Vec<u64> = if every {
            (1..1u64 << filters.len()).collect()
        } else {
            (0..filters.len()).map(|i| 1 << i).collect()
        };
        if let Some(regions) = regions(program, &filters, &masks, code_sets, budget) {
            items.regions = regions;
            items.complete = every;
        }
    }
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
            Var::ClassCount { .. } | Var::Count(..) => return None,
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
        let class = values.get(v).copied().flatten().unwrap_or(0);
        let sample = d.samples.get(class as usize)?;
        wanted.push(u64::try_from(sample.to_i64()?).ok()?);
    }
    let regions: Vec<Vec<bool>> = items.regions.iter().map(|(r, _)| r.clone()).collect();
    let high: Vec<Option<u64>> = wanted.iter().map(|w| Some(*w)).collect();
    let Solved::Found(counts) = solve(&regions, &wanted, &high) else {
        return None;
    };
    let mut out = Vec::new();
    for ((_, item), n) in items.regions.iter().zip(counts) {
        for _ in 0..n {
            out.push(item.clone());
        }
    }
    Some(out)
}
