//! Which patients get which outcome, in a few readable conditions per group.
//!
//! The decision is compiled to one diagram whose terminals are its rules (the rule that
//! decides, by the decision's hit policy) and "no outcome". For each outcome, the paths to its
//! rules' terminals are listed, each edge labelled with every value leading the same way, so a
//! path reads as one condition per fact: `conservative_care >= 6 weeks`, `product in { hmo,
//! pos }`.

use serde::Serialize;

use super::domain::Region;
use super::mdd::{Exhausted, FALSE, Node, TRUE, Terminal};
use super::space::{Space, Var, quantity_text};
use crate::ir::*;
use crate::types::Type;

/// At most this many groups of patients are listed per outcome.
pub const MAX_GROUPS: usize = 50;

/// At most this many paths of a diagram are read per rule before groups are merged.
const MAX_PATHS: usize = 400;

/// The patients of one decision, by outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub decision: String,
    pub hit: &'static str,
    pub outcomes: Vec<OutcomeGroups>,
    /// Patients no rule decides (when there is no `otherwise`).
    pub undecided: Option<OutcomeGroups>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutcomeGroups {
    pub outcome: String,
    /// Each group: the conditions its patients meet, one per fact it depends on.
    pub groups: Vec<Group>,
    /// Groups not listed beyond [`MAX_GROUPS`].
    pub more: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The rule that decides these patients, or `otherwise`.
    pub rule: String,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub fact: String,
    /// The condition as a policy would write it: `conservative_care >= 6 weeks`.
    pub text: String,
}

/// Builds the summary of a decision whose rules are compiled (constrained to `allowed`).
pub(super) fn summarise(
    space: &mut Space<'_>,
    decision: &Decision,
    rules: &[Node],
    allowed: Node,
) -> Result<Summary, Exhausted> {
    // One terminal per rule and one for otherwise; "no outcome" is FALSE.
    let mut result = match decision.otherwise {
        Some(_) => space.mdd.terminal(Terminal::Otherwise),
        None => FALSE,
    };
    for (i, &r) in rules.iter().enumerate().rev() {
        let t = space.mdd.terminal(Terminal::Rule(RuleId(i as u32)));
        result = space.mdd.select(r, t, result)?;
    }
    // Outside the constraints nothing is described.
    result = space.mdd.select(allowed, result, FALSE)?;
    let undecided = if decision.otherwise.is_none() {
        let decided = rules
            .iter()
            .try_fold(FALSE, |acc, &r| space.mdd.or(acc, r))?;
        Some(space.mdd.diff(allowed, decided)?)
    } else {
        None
    };
    let mut outcomes = Vec::new();
    for (o, outcome) in decision.outcomes.iter().enumerate() {
        let mut groups = Vec::new();
        let mut more = 0;
        let mut targets: Vec<(Node, String)> = Vec::new();
        for (i, r) in decision.rules.iter().enumerate() {
            if r.outcome == Some(OutcomeId(o as u32)) {
                targets.push((
                    space.mdd.terminal(Terminal::Rule(RuleId(i as u32))),
                    r.name.clone(),
                ));
            }
        }
        if decision
            .otherwise
            .as_ref()
            .is_some_and(|ow| ow.outcome == Some(OutcomeId(o as u32)))
        {
            targets.push((
                space.mdd.terminal(Terminal::Otherwise),
                "otherwise".to_string(),
            ));
        }
        for (target, rule) in targets {
            let paths = merge(space, paths_to(space, result, target, MAX_PATHS));
            let mut region = std::collections::HashMap::new();
            for t in space.mdd.terminals_of(result) {
                region.insert(t, if t == target { TRUE } else { FALSE });
            }
            let region = space.mdd.map_terminals(result, &region)?;
            for path in widen(space, paths, region, allowed)? {
                if groups.len() == MAX_GROUPS {
                    more += 1;
                    continue;
                }
                groups.push(Group {
                    rule: rule.clone(),
                    conditions: describe_path(space, &path),
                });
            }
        }
        outcomes.push(OutcomeGroups {
            outcome: outcome.name.clone(),
            groups,
            more,
        });
    }
    let undecided = match undecided {
        Some(source) if source != FALSE => {
            let paths = merge(space, paths_to(space, source, TRUE, MAX_PATHS));
            let paths = widen(space, paths, source, allowed)?;
            let more = paths.len().saturating_sub(MAX_GROUPS);
            Some(OutcomeGroups {
                outcome: "no outcome".to_string(),
                groups: paths
                    .iter()
                    .take(MAX_GROUPS)
                    .map(|p| Group {
                        rule: String::new(),
                        conditions: describe_path(space, p),
                    })
                    .collect(),
                more,
            })
        }
        _ => None,
    };
    Ok(Summary {
        decision: decision.name.clone(),
        hit: decision.hit.name(),
        outcomes,
        undecided,
    })
}

/// One path: for each variable tested on it, the values that lead along it.
type Path = Vec<(u32, Vec<u32>)>;

/// Paths from `root` to `target`, grouping the values of each test by the child they lead to;
/// at most `limit`. Depth-first with an explicit stack (a path is at most one test per
/// variable long).
fn paths_to(space: &Space<'_>, root: Node, target: Node, limit: usize) -> Vec<Path> {
    let reach = reaching(space, root, target);
    let mut out = Vec::new();
    let mut stack: Vec<(Node, Path)> = vec![(root, Vec::new())];
    while let Some((node, path)) = stack.pop() {
        if out.len() >= limit {
            break;
        }
        if node == target {
            out.push(path);
            continue;
        }
        let Some((var, children)) = space.mdd.test(node) else {
            continue;
        };
        // Edges grouped by child, in the order of their first value.
        let mut edges: Vec<(Node, Vec<u32>)> = Vec::new();
        for (v, &child) in children.iter().enumerate() {
            if child == FALSE && target != FALSE {
                continue;
            }
            match edges.iter_mut().find(|(c, _)| *c == child) {
                Some((_, vs)) => vs.push(v as u32),
                None => edges.push((child, vec![v as u32])),
            }
        }
        for (child, values) in edges.into_iter().rev() {
            if !reach.contains(&child) {
                continue;
            }
            let mut p = path.clone();
            p.push((var, values));
            stack.push((child, p));
        }
    }
    out
}

/// Groups that differ in one fact only become one: their values of that fact are joined, and
/// a fact that then takes every value is no condition at all. A diagram tests facts in a fixed
/// order, so a rule often reaches its terminal by paths that differ only in a fact tested
/// before it (`diagnoses has any spinal_malignancy` and `has none`); listed apart they read as
/// many groups where the policy has one. Paths are disjoint, so joining them is exact.
fn merge(space: &Space<'_>, paths: Vec<Path>) -> Vec<Path> {
    let mut cubes: Vec<Path> = paths;
    // Every value of a variable: a cube without the variable.
    let all = |var: u32| -> Vec<u32> { (0..space.mdd.domain(var)).collect() };
    let values_of = |cube: &Path, var: u32| -> Vec<u32> {
        cube.iter()
            .find(|(v, _)| *v == var)
            .map_or_else(|| all(var), |(_, vs)| vs.clone())
    };
    loop {
        let mut joined = None;
        'search: for (i, a) in cubes.iter().enumerate() {
            for (j, b) in cubes.iter().enumerate().skip(i + 1) {
                let mut vars: Vec<u32> = a.iter().chain(b.iter()).map(|(v, _)| *v).collect();
                vars.sort_unstable();
                vars.dedup();
                let mut differing = vars.iter().filter(|&&v| values_of(a, v) != values_of(b, v));
                if let (Some(&var), None) = (differing.next(), differing.next()) {
                    joined = Some((i, j, var));
                    break 'search;
                }
            }
        }
        let Some((i, j, var)) = joined else { break };
        let b = cubes.remove(j);
        let Some(a) = cubes.get_mut(i) else { break };
        let mut values = values_of(a, var);
        values.extend(values_of(&b, var));
        values.sort_unstable();
        values.dedup();
        a.retain(|(v, _)| *v != var);
        if values.len() < space.mdd.domain(var) as usize {
            let at = a.partition_point(|(v, _)| *v < var);
            a.insert(at, (var, values));
        }
    }
    cubes
}

/// Drops the conditions a group does not need: those that only keep out patients the
/// constraints already exclude (`fracture_age >= 6 weeks` beside `conservative_care >= 6
/// weeks` when care starts after the fracture). A condition is dropped when the group without
/// it still holds, among the patients the constraints allow, only patients of `region`; then
/// groups inside another are left out. Widened groups may share patients; every patient of the
/// region is still in one of them.
fn widen(
    space: &mut Space<'_>,
    cubes: Vec<Path>,
    region: Node,
    allowed: Node,
) -> Result<Vec<Path>, Exhausted> {
    let mut out: Vec<Path> = Vec::with_capacity(cubes.len());
    for mut cube in cubes {
        let mut k = 0;
        while k < cube.len() {
            let mut without = cube.clone();
            without.remove(k);
            let mut node = allowed;
            for (var, values) in &without {
                let lit = space.mdd.literal(*var, |x| values.contains(&x))?;
                node = space.mdd.and(node, lit)?;
            }
            if space.mdd.diff(node, region)? == FALSE {
                cube = without;
            } else {
                k += 1;
            }
        }
        out.push(cube);
    }
    // A group whose every condition is as narrow as another's or narrower is inside it.
    let inside = |a: &Path, b: &Path| {
        b.iter().all(|(var, bv)| {
            a.iter()
                .find(|(v, _)| v == var)
                .is_some_and(|(_, av)| av.iter().all(|x| bv.contains(x)))
        })
    };
    let mut kept: Vec<Path> = Vec::with_capacity(out.len());
    for (i, a) in out.iter().enumerate() {
        let covered = out
            .iter()
            .enumerate()
            .any(|(j, b)| j != i && inside(a, b) && (!inside(b, a) || j < i));
        if !covered {
            kept.push(a.clone());
        }
    }
    Ok(kept)
}

/// The nodes under `root` from which `target` can be reached: one pass, children first.
fn reaching(space: &Space<'_>, root: Node, target: Node) -> std::collections::HashSet<Node> {
    let mut reach = std::collections::HashSet::new();
    for n in space.mdd.nodes_of(root) {
        let hit = n == target
            || space
                .mdd
                .test(n)
                .is_some_and(|(_, children)| children.iter().any(|c| reach.contains(c)));
        if hit {
            reach.insert(n);
        }
    }
    reach
}

fn describe_path(space: &Space<'_>, path: &Path) -> Vec<Condition> {
    let mut out: Vec<Condition> = Vec::new();
    for (var, values) in path {
        let Some(v) = space.vars.get(*var as usize) else {
            continue;
        };
        let name = match v {
            Var::Bool(f) | Var::Enum(f, _) | Var::Numeric(f, _) | Var::Code(f, _) => {
                space.program.fact_name(*f).to_string()
            }
            Var::ClassCount { fact, .. } => space.program.fact_name(*fact).to_string(),
            Var::Term { left, right, .. } => format!(
                "{} - {}",
                space.program.fact_name(*left),
                space.program.fact_name(*right)
            ),
            Var::Count(t, _) => space.terms.get(*t).map_or_else(
                || lost_name("a count").to_string(),
                |t| space.program.count_text(t.list, t.filter.as_ref()),
            ),
        };
        let text = match v {
            Var::Bool(_) => {
                if values == &[1] {
                    name.clone()
                } else {
                    format!("not {name}")
                }
            }
            Var::Enum(_, e) => {
                let names: Vec<&str> = values
                    .iter()
                    .map(|x| space.program.enum_value(*e, *x))
                    .collect();
                match names.as_slice() {
                    [one] => format!("{name} == {one}"),
                    _ => format!("{name} in {{ {} }}", names.join(", ")),
                }
            }
            Var::Numeric(f, d) => {
                numeric_text(&name, space.program.fact(*f).map(|x| x.ty), d, values)
            }
            Var::Code(f, _) => code_text(space, *f, &name, values),
            Var::ClassCount {
                fact,
                class,
                states,
                ..
            } => class_text(space, *fact, &name, *class, *states, values),
            Var::Term {
                left,
                right,
                calendar,
                domain,
            } => {
                let ty = match calendar {
                    true => Some(Type::Quantity(crate::types::Unit::Month)),
                    false => space
                        .program
                        .fact(*left)
                        .map(|x| crate::ir::difference_type(x.ty)),
                };
                // The model keeps the fact declared first on the left; a difference compared
                // only with values at most zero reads the other way round, as it was written:
                // `service_date - onset >= 84 days`, not `onset - service_date <= -84 days`.
                // Calendar months are counted from the right fact, so they keep their side.
                match negated(domain).filter(|_| !calendar) {
                    Some(flipped) => {
                        let last = domain.regions.len().saturating_sub(1) as u32;
                        let mut reversed: Vec<u32> =
                            values.iter().map(|v| last.saturating_sub(*v)).collect();
                        reversed.sort_unstable();
                        let name = format!(
                            "{} - {}",
                            space.program.fact_name(*right),
                            space.program.fact_name(*left)
                        );
                        numeric_text(&name, ty, &flipped, &reversed)
                    }
                    None => numeric_text(&name, ty, domain, values),
                }
            }
            Var::Count(_, d) => numeric_text(&name, Some(Type::Int), d, values),
        };
        out.push(Condition { fact: name, text });
    }
    out
}

/// The domain of `-x`, when every bound of `x`'s is at most zero and one is below: the
/// regions in reverse order, each bound negated.
fn negated(d: &super::domain::NumericDomain) -> Option<super::domain::NumericDomain> {
    let zero = crate::types::Num::from_int(0);
    let bounds: Vec<crate::types::Num> = d
        .regions
        .iter()
        .flat_map(|r| match r {
            Region::Point(p) => vec![*p],
            Region::Between(a, b) => a.iter().chain(b).copied().collect(),
        })
        .collect();
    if !(bounds.iter().all(|x| *x <= zero) && bounds.iter().any(|x| *x < zero)) {
        return None;
    }
    let neg = |x: crate::types::Num| zero.checked_sub(x);
    let regions = d
        .regions
        .iter()
        .rev()
        .map(|r| {
            Some(match r {
                Region::Point(p) => Region::Point(neg(*p)?),
                Region::Between(a, b) => Region::Between(
                    match b {
                        Some(x) => Some(neg(*x)?),
                        None => None,
                    },
                    match a {
                        Some(x) => Some(neg(*x)?),
                        None => None,
                    },
                ),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let samples = d
        .samples
        .iter()
        .rev()
        .map(|x| neg(*x))
        .collect::<Option<Vec<_>>>()?;
    Some(super::domain::NumericDomain { regions, samples })
}

/// A set of regions as comparisons: contiguous runs become one interval each.
fn numeric_text(
    name: &str,
    ty: Option<Type>,
    d: &super::domain::NumericDomain,
    values: &[u32],
) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &v in values {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == v => *end = v,
            _ => runs.push((v, v)),
        }
    }
    let last = d.regions.len().saturating_sub(1) as u32;
    let q = |n| quantity_text(n, ty);
    let parts: Vec<String> = runs
        .iter()
        .map(|&(from, to)| {
            let lower = match d.regions.get(from as usize) {
                _ if from == 0 => None,
                Some(Region::Point(v)) => Some(format!("{name} >= {}", q(*v))),
                Some(Region::Between(Some(v), _)) => Some(format!("{name} > {}", q(*v))),
                _ => None,
            };
            let upper = match d.regions.get(to as usize) {
                _ if to == last => None,
                Some(Region::Point(v)) => Some(format!("{name} <= {}", q(*v))),
                Some(Region::Between(_, Some(v))) => Some(format!("{name} < {}", q(*v))),
                _ => None,
            };
            match (lower, upper, d.regions.get(from as usize)) {
                (_, _, Some(Region::Point(v))) if from == to => format!("{name} == {}", q(*v)),
                (Some(l), Some(u), _) => format!("{l} and {u}"),
                (Some(l), None, _) => l,
                (None, Some(u), _) => u,
                (None, None, _) => format!("any {name}"),
            }
        })
        .collect();
    parts.join(" or ")
}

/// A set of code classes: by the sets they make up, else by example codes.
fn code_text(space: &Space<'_>, fact: FactId, name: &str, values: &[u32]) -> String {
    let Some(cc) = space.codes.get(&fact) else {
        return format!("any {name}");
    };
    for (s, set) in cc.sets.iter().enumerate() {
        let inside: Vec<u32> = (0..cc.classes.len() as u32)
            .filter(|c| {
                cc.classes
                    .get(*c as usize)
                    .and_then(|x| x.inside.get(s))
                    .copied()
                    .unwrap_or(false)
            })
            .collect();
        let set_name = set_name(space, *set);
        if inside.as_slice() == values {
            return format!("{name} in {set_name}");
        }
        let outside: Vec<u32> = (0..cc.classes.len() as u32)
            .filter(|c| !inside.contains(c))
            .collect();
        if outside.as_slice() == values {
            return format!("{name} not in {set_name}");
        }
    }
    let codes: Vec<String> = values
        .iter()
        .filter_map(|c| cc.classes.get(*c as usize))
        .flat_map(|c| c.examples.iter().take(3).cloned())
        .collect();
    format!("{name} in {{ {} }}", codes.join(", "))
}

/// One class of a set-of-codes fact: whether the patient has none, some or all of its codes.
fn class_text(
    space: &Space<'_>,
    fact: FactId,
    name: &str,
    class: usize,
    states: u32,
    values: &[u32],
) -> String {
    let what = space
        .codes
        .get(&fact)
        .and_then(|cc| {
            let c = cc.classes.get(class)?;
            let sets: Vec<String> = cc
                .sets
                .iter()
                .zip(&c.inside)
                .filter(|(_, inside)| **inside)
                .map(|(s, _)| set_name(space, *s))
                .collect();
            Some(if sets.is_empty() {
                "codes outside its sets".to_string()
            } else {
                sets.join(" and ")
            })
        })
        .unwrap_or_default();
    match (values, states) {
        ([0], _) => format!("{name} has none of {what}"),
        ([2], 3) => format!("{name} has all of {what}"),
        ([1, 2], 3) | ([1], 2) => format!("{name} has any of {what}"),
        ([1], 3) => format!("{name} has some but not all of {what}"),
        ([0, 1], 3) => format!("{name} has not all of {what}"),
        _ => format!("any {name}"),
    }
}

fn set_name(space: &Space<'_>, set: CodeSetId) -> String {
    match space.program.code_set(set) {
        Some(CodeSet { name: Some(n), .. }) => format!("`{n}`"),
        Some(s) => expr_text(space, &s.expr),
        None => crate::ir::lost_name("a code set").to_string(),
    }
}

/// A set written in place: `{ 22510, 22511 }`, `` `a` + `b` ``.
fn expr_text(space: &Space<'_>, e: &SetExpr) -> String {
    match e {
        SetExpr::Items(items) => {
            let shown: Vec<String> = items.iter().take(4).map(|i| i.item.to_string()).collect();
            let more = if items.len() > 4 { ", ..." } else { "" };
            format!("{{ {}{more} }}", shown.join(", "))
        }
        SetExpr::Ref(id) => set_name(space, *id),
        SetExpr::Chain { first, rest } => {
            let mut text = expr_text(space, first);
            for (op, e) in rest {
                let op = match op {
                    crate::ast::SetOp::Union => "+",
                    crate::ast::SetOp::Difference => "-",
                };
                text.push_str(&format!(" {op} {}", expr_text(space, e)));
            }
            text
        }
    }
}
