//! Related facts: facts compared with each other or subtracted (`collapse <= height_loss`,
//! `service_date - fracture_date <= 6 weeks`). Each fact and each difference of two facts is a
//! diagram variable cut at its own thresholds (see `space`); the variables of facts joined by
//! differences are not independent, so for each connected group of them this module builds the
//! diagram of the combinations of classes some patient has, which the analysis ANDs into the
//! patients it considers, as it does a constraint. Whether a combination has a patient is a
//! system of difference bounds (`x - y <= c`, `x - y < c`, over the facts in their base unit,
//! whole numbers for dates and `int`), decided exactly: the system has a solution unless its
//! graph has a negative cycle (Floyd–Warshall on the bounds with their strictness). The same
//! system gives an example patient: one fact at a time is fixed to a readable value within
//! what the others leave it.
//!
//! A group with too many combinations to enumerate within [`MAX_STEPS`] keeps its variables
//! independent: the analysis then also considers combinations no patient has, so what it
//! proves absent stays absent, but a finding may be about such impossible patients; it says so
//! (`W0420`).

use std::collections::{BTreeMap, BTreeSet};

use super::domain::Region;
use super::mdd::{Exhausted, FALSE, Mdd, Node, TRUE};
use super::space::Var;
use crate::ir::{FactId, Program, base_scale};
use crate::types::{Num, Type, Unit};

/// How many partial combinations one group may try before it is left approximate.
pub const MAX_STEPS: usize = 20_000;

/// A bound on `x_i - x_j`: at most `c`, or below `c` when strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bound {
    c: Num,
    strict: bool,
}

impl Bound {
    fn add(self, o: Bound) -> Option<Bound> {
        Some(Bound {
            c: self.c.checked_add(o.c)?,
            strict: self.strict || o.strict,
        })
    }

    /// Whether `self` allows less than `o`.
    fn tighter(self, o: Bound) -> bool {
        self.c < o.c || (self.c == o.c && self.strict && !o.strict)
    }
}

/// A system of difference bounds over the facts of a group and a zero (node 0), closed under
/// Floyd–Warshall: `m[i][j]` is the tightest bound on `x_i - x_j` the bounds imply.
#[derive(Debug, Clone)]
struct System {
    n: usize,
    m: Vec<Option<Bound>>,
    /// All values are whole numbers: strict bounds become non-strict ones a unit tighter.
    integer: bool,
}

impl System {
    fn new(facts: usize, integer: bool) -> System {
        let n = facts + 1;
        let mut m = vec![None; n * n];
        for i in 0..n {
            if let Some(d) = m.get_mut(i * n + i) {
                *d = Some(Bound {
                    c: Num::from_int(0),
                    strict: false,
                });
            }
        }
        System { n, m, integer }
    }

    fn get(&self, i: usize, j: usize) -> Option<Bound> {
        self.m.get(i * self.n + j).copied().flatten()
    }

    /// `x_i - x_j <= c` (`<` when strict); `false` when that makes the system infeasible.
    fn bound(&mut self, i: usize, j: usize, c: Num, strict: bool) -> bool {
        let b = if self.integer {
            // A whole difference below `c` is at most `ceil(c) - 1`; at most `c`, `floor(c)`.
            let c = if strict {
                c.ceil().checked_sub(Num::from_int(1))
            } else {
                Some(c.floor())
            };
            match c {
                Some(c) => Bound { c, strict: false },
                None => return false,
            }
        } else {
            Bound { c, strict }
        };
        if self.get(i, j).is_some_and(|old| !b.tighter(old)) {
            return true;
        }
        // Incremental closure: every path may now go through the new edge.
        let n = self.n;
        let mut next = self.m.clone();
        for a in 0..n {
            for z in 0..n {
                let via = (|| self.get(a, i)?.add(b)?.add(self.get(j, z)?))();
                if let Some(via) = via {
                    let slot = next.get_mut(a * n + z);
                    if let Some(slot) = slot
                        && slot.is_none_or(|old| via.tighter(old))
                    {
                        *slot = Some(via);
                    }
                }
            }
        }
        self.m = next;
        (0..n).all(|k| {
            self.get(k, k)
                .is_some_and(|d| d.c > Num::from_int(0) || (d.c == Num::from_int(0) && !d.strict))
        })
    }

    /// The bounds on `x_i` (node `i`): on `x_i` itself (its highest value) and on `-x_i`
    /// (minus its lowest).
    fn range(&self, i: usize) -> (Option<Bound>, Option<Bound>) {
        (self.get(i, 0), self.get(0, i))
    }
}

/// One connected group of related facts.
#[derive(Debug, Clone)]
pub struct Group {
    pub facts: Vec<FactId>,
    /// The variables of its facts and of its differences.
    pub vars: Vec<u32>,
    integer: bool,
    /// The diagram of the combinations some patient has; `None` when there were too many to
    /// enumerate (the group is then approximate).
    pub feasible: Option<Node>,
}

/// What each variable says of a group's system.
enum Meaning {
    /// Node of a fact, its scale to the base unit.
    Fact(usize, Num),
    /// Nodes of `left - right`.
    Term(usize, usize),
}

/// The groups of related facts among the variables: facts joined by a difference variable.
pub fn groups(
    program: &Program,
    vars: &[Var],
    var_of: &std::collections::HashMap<FactId, u32>,
) -> Vec<Group> {
    // Union-find over facts.
    let mut parent: BTreeMap<FactId, FactId> = BTreeMap::new();
    fn find(parent: &mut BTreeMap<FactId, FactId>, f: FactId) -> FactId {
        let mut root = f;
        while let Some(&p) = parent.get(&root) {
            if p == root {
                break;
            }
            root = p;
        }
        parent.insert(f, root);
        root
    }
    let mut terms = Vec::new();
    for (v, var) in vars.iter().enumerate() {
        // Calendar months are no difference bound: such a difference is a value of its own.
        if let Var::Term {
            left,
            right,
            calendar: false,
            ..
        } = var
        {
            let (a, b) = (find(&mut parent, *left), find(&mut parent, *right));
            if a != b {
                parent.insert(a, b);
            }
            terms.push((v as u32, *left));
        }
    }
    let mut by_root: BTreeMap<FactId, BTreeSet<FactId>> = BTreeMap::new();
    let members: Vec<FactId> = parent.keys().copied().collect();
    for f in members {
        let root = find(&mut parent, f);
        by_root.entry(root).or_default().insert(f);
    }
    by_root
        .into_values()
        .map(|facts| {
            let facts: Vec<FactId> = facts.into_iter().collect();
            let mut group_vars: Vec<u32> = facts
                .iter()
                .filter_map(|f| var_of.get(f).copied())
                .chain(
                    terms
                        .iter()
                        .filter(|(_, f)| facts.contains(f))
                        .map(|(v, _)| *v),
                )
                .collect();
            group_vars.sort_unstable();
            let integer = facts.iter().all(|f| {
                program
                    .fact(*f)
                    .is_some_and(|x| matches!(x.ty, Type::Int | Type::Date))
            });
            Group {
                facts,
                vars: group_vars,
                integer,
                feasible: None,
            }
        })
        .collect()
}

impl Group {
    fn node(&self, f: FactId) -> Option<usize> {
        self.facts.iter().position(|x| *x == f).map(|i| i + 1)
    }

    fn meaning(&self, program: &Program, var: &Var) -> Option<Meaning> {
        match var {
            Var::Numeric(f, _) => {
                let ty = program.fact(*f)?.ty;
                Some(Meaning::Fact(self.node(*f)?, base_scale(ty)))
            }
            Var::Term { left, right, .. } => {
                Some(Meaning::Term(self.node(*left)?, self.node(*right)?))
            }
            _ => None,
        }
    }

    /// The empty system of the group, with the bounds every value of each fact's type has.
    fn system(&self, program: &Program) -> Option<System> {
        let mut s = System::new(self.facts.len(), self.integer);
        for f in &self.facts {
            let fact = program.fact(*f)?;
            let node = self.node(*f)?;
            let scale = base_scale(fact.ty);
            let (low, high) = match fact.ty {
                Type::Quantity(Unit::Percent) => (Some(0), Some(100)),
                Type::Quantity(_) => (Some(0), None),
                _ => (None, None),
            };
            if let Some(l) = low {
                s.bound(0, node, Num::from_int(-l), false);
            }
            if let Some(h) = high {
                s.bound(node, 0, Num::from_int(h).checked_mul(scale)?, false);
            }
        }
        Some(s)
    }

    /// Adds what `var` taking class `value` says; `false` when no patient has it with the rest.
    fn assign(&self, program: &Program, s: &mut System, var: &Var, value: u32) -> bool {
        let (Some(meaning), Some(region)) = (self.meaning(program, var), region(var, value)) else {
            return true;
        };
        let (i, j, scale) = match meaning {
            Meaning::Fact(i, scale) => (i, 0, scale),
            Meaning::Term(i, j) => (i, j, Num::from_int(1)),
        };
        let scaled = |v: Num| v.checked_mul(scale);
        let neg = |v: Num| Num::from_int(0).checked_sub(v);
        match region {
            Region::Point(v) => {
                let Some(v) = scaled(v) else { return false };
                s.bound(i, j, v, false) && neg(v).is_some_and(|n| s.bound(j, i, n, false))
            }
            Region::Between(a, b) => {
                let low = a
                    .and_then(scaled)
                    .and_then(neg)
                    .is_none_or(|n| s.bound(j, i, n, true));
                let high = b.and_then(scaled).is_none_or(|h| s.bound(i, j, h, true));
                low && high
            }
        }
    }

    /// Enumerates the combinations of the group's classes some patient has and builds their
    /// diagram; leaves `feasible` at `None` past [`MAX_STEPS`].
    pub fn enumerate(
        &mut self,
        program: &Program,
        vars: &[Var],
        mdd: &mut Mdd,
    ) -> Result<(), Exhausted> {
        let Some(start) = self.system(program) else {
            return Ok(());
        };
        let mut combos: Vec<Vec<u32>> = Vec::new();
        let mut steps = 0usize;
        // Depth first, pruning a prefix no patient has.
        let mut stack: Vec<(Vec<u32>, System)> = vec![(Vec::new(), start)];
        while let Some((prefix, system)) = stack.pop() {
            let Some(&v) = self.vars.get(prefix.len()) else {
                combos.push(prefix);
                continue;
            };
            let Some(var) = vars.get(v as usize) else {
                return Ok(());
            };
            for value in (0..mdd.domain(v)).rev() {
                steps += 1;
                if steps > MAX_STEPS {
                    return Ok(());
                }
                let mut next = system.clone();
                if self.assign(program, &mut next, var, value) {
                    let mut p = prefix.clone();
                    p.push(value);
                    stack.push((p, next));
                }
            }
        }
        let mut all = FALSE;
        for combo in combos {
            let mut cube = TRUE;
            for (&v, &value) in self.vars.iter().zip(&combo).rev() {
                let lit = mdd.literal(v, |x| x == value)?;
                cube = mdd.and(lit, cube)?;
            }
            all = mdd.or(all, cube)?;
        }
        self.feasible = Some(all);
        Ok(())
    }

    /// Values of the group's facts (in their own units) for an assignment of the variables
    /// (free ones unconstrained): each fact in turn the sample of its class when the others
    /// allow it, else the nearest readable value they allow. `None` when no patient has the
    /// assignment (only in a group left approximate).
    pub fn solve(
        &self,
        program: &Program,
        vars: &[Var],
        values: &[Option<u32>],
    ) -> Option<BTreeMap<FactId, Num>> {
        let mut s = self.system(program)?;
        for &v in &self.vars {
            if let (Some(var), Some(Some(value))) = (vars.get(v as usize), values.get(v as usize))
                && !self.assign(program, &mut s, var, *value)
            {
                return None;
            }
        }
        let mut out = BTreeMap::new();
        for (k, &f) in self.facts.iter().enumerate() {
            let node = k + 1;
            let ty = program.fact(f)?.ty;
            let scale = base_scale(ty);
            let sample = vars.iter().enumerate().find_map(|(v, var)| match var {
                Var::Numeric(x, d) if *x == f => values
                    .get(v)
                    .copied()
                    .flatten()
                    .and_then(|c| d.samples.get(c as usize))
                    .and_then(|x| x.checked_mul(scale)),
                _ => None,
            });
            let (hi, lo) = s.range(node);
            let within = |x: Num| {
                hi.is_none_or(|h| x < h.c || (x == h.c && !h.strict))
                    && lo.is_none_or(|l| {
                        let low = Num::from_int(0).checked_sub(l.c);
                        low.is_some_and(|low| x > low || (x == low && !l.strict))
                    })
            };
            let low = lo.and_then(|l| Some((Num::from_int(0).checked_sub(l.c)?, l.strict)));
            let high = hi.map(|h| (h.c, h.strict));
            let value = match sample {
                Some(x) if within(x) => x,
                _ => pick(low, high, self.integer, within)?,
            };
            if !(s.bound(node, 0, value, false)
                && s.bound(0, node, Num::from_int(0).checked_sub(value)?, false))
            {
                return None;
            }
            out.insert(f, value.checked_div(scale)?);
        }
        Some(out)
    }
}

/// A readable value within the bounds: the bound itself when it is allowed, else one past it
/// (a day, a unit), else the middle of the two.
fn pick(
    low: Option<(Num, bool)>,
    high: Option<(Num, bool)>,
    integer: bool,
    within: impl Fn(Num) -> bool,
) -> Option<Num> {
    let one = Num::from_int(1);
    let mut candidates = Vec::new();
    if let Some((l, _)) = low {
        candidates.extend([l, l.floor().checked_add(one)?]);
    }
    if let Some((h, _)) = high {
        candidates.extend([h, h.ceil().checked_sub(one)?]);
    }
    if let (Some((l, _)), Some((h, _))) = (low, high) {
        let mid = l.checked_add(h)?.checked_div(Num::from_int(2))?;
        candidates.extend([mid.floor(), mid.ceil(), mid]);
    }
    candidates.push(Num::from_int(0));
    candidates
        .into_iter()
        .find(|x| within(*x) && (!integer || x.is_integer()))
}

/// The region of class `value` of a numeric or difference variable.
fn region(var: &Var, value: u32) -> Option<Region> {
    match var {
        Var::Numeric(_, d) | Var::Term { domain: d, .. } => d.regions.get(value as usize).cloned(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_cycles_are_infeasible_and_whole_numbers_round() {
        // x - y < 0 and y - x <= 0: no rational solution.
        let mut s = System::new(2, false);
        assert!(s.bound(1, 2, Num::from_int(0), true));
        assert!(!s.bound(2, 1, Num::from_int(0), false));
        // Whole numbers: 0 < x < 1 has none, though rationals do.
        let mut r = System::new(1, false);
        assert!(r.bound(0, 1, Num::from_int(0), true) && r.bound(1, 0, Num::from_int(1), true));
        let mut w = System::new(1, true);
        assert!(w.bound(0, 1, Num::from_int(0), true));
        assert!(!w.bound(1, 0, Num::from_int(1), true));
    }
}
