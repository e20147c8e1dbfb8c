//! Reduced, ordered multi-valued decision diagrams.
//!
//! A diagram is a function from an assignment of variables (each with a small finite domain,
//! in a fixed order) to a terminal value. Nodes are hash-consed, so equal functions are the
//! same node and "is this condition impossible" is a comparison with the `FALSE` terminal.
//! Boolean diagrams end in the terminals [`Terminal::False`] and [`Terminal::True`]; decision
//! diagrams end in one terminal per result ([`Terminal`] says what each stands for).
//!
//! Every operation counts the nodes it makes against a budget, so a pathological input stops
//! with [`Exhausted`] instead of running for ever.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

use crate::ir::RuleId;

/// A node or a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node(pub u32);

pub const FALSE: Node = Node(0);
pub const TRUE: Node = Node(1);

/// The budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted;

/// What a terminal stands for. The store keeps one node per terminal and reads it back as
/// this type: a rule's number cannot be taken for another number on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Terminal {
    /// The condition does not hold (node [`FALSE`]).
    False,
    /// The condition holds (node [`TRUE`]).
    True,
    /// This rule of the decision decides.
    Rule(RuleId),
    /// The decision's `otherwise` decides.
    Otherwise,
    /// One of the results a caller numbers in a table of its own (the compiler's results,
    /// which name several rules under `unique` and `any`).
    Result(u32),
}

/// The `var` of a terminal's slot.
const TERMINAL: u32 = u32::MAX;

/// One node: a terminal (`var == TERMINAL`, `start` its place in `Mdd::terminal_values`) or a test of variable `var`
/// whose children, one per value of its domain, are `arena[start..start + len]`. Children
/// live in one arena rather than a box per node: a large analysis makes hundreds of thousands
/// of nodes, and an allocation each was a fifth of its time.
#[derive(Debug, Clone, Copy)]
struct Slot {
    var: u32,
    start: u32,
    len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    And,
    Or,
    /// `a and not b`
    Diff,
}

/// The diagram store: every diagram lives here.
pub struct Mdd {
    domains: Vec<u32>,
    slots: Vec<Slot>,
    arena: Vec<Node>,
    /// Hash-consing: the hash of a test (variable and children) to its node; tests with the
    /// same hash but different contents (rare) go to `collisions`.
    unique: FxHashMap<u64, Node>,
    collisions: FxHashMap<u64, Vec<Node>>,
    terminals: FxHashMap<Terminal, Node>,
    /// What each terminal stands for, in the order they were made.
    terminal_values: Vec<Terminal>,
    memo: FxHashMap<(Op, Node, Node), Node>,
    not_memo: FxHashMap<Node, Node>,
    /// Children being built by `apply`, which recurses: each call works above the mark it
    /// started at, so one buffer serves every level.
    scratch: Vec<Node>,
    /// Nodes that may still be made.
    budget: usize,
}

impl Mdd {
    /// A store for variables with these domain sizes, in this order, allowed to make at most
    /// `budget` nodes.
    pub fn new(domains: Vec<u32>, budget: usize) -> Mdd {
        let mut mdd = Mdd {
            domains,
            slots: Vec::new(),
            arena: Vec::new(),
            unique: FxHashMap::default(),
            collisions: FxHashMap::default(),
            terminals: FxHashMap::default(),
            terminal_values: Vec::new(),
            memo: FxHashMap::default(),
            not_memo: FxHashMap::default(),
            scratch: Vec::new(),
            budget,
        };
        // The two boolean terminals are always nodes 0 and 1.
        mdd.terminal(Terminal::False);
        mdd.terminal(Terminal::True);
        mdd
    }

    pub fn var_count(&self) -> usize {
        self.domains.len()
    }

    pub fn domain(&self, var: u32) -> u32 {
        self.domains.get(var as usize).copied().unwrap_or(0)
    }

    pub fn node_count(&self) -> usize {
        self.slots.len()
    }

    /// The node of a terminal.
    pub fn terminal(&mut self, value: Terminal) -> Node {
        if let Some(&n) = self.terminals.get(&value) {
            return n;
        }
        let n = Node(self.slots.len() as u32);
        self.slots.push(Slot {
            var: TERMINAL,
            start: self.terminal_values.len() as u32,
            len: 0,
        });
        self.terminal_values.push(value);
        self.terminals.insert(value, n);
        n
    }

    /// What a node stands for, if it is a terminal.
    pub fn terminal_value(&self, n: Node) -> Option<Terminal> {
        match self.slots.get(n.0 as usize) {
            Some(slot) if slot.var == TERMINAL => {
                self.terminal_values.get(slot.start as usize).copied()
            }
            _ => None,
        }
    }

    /// The variable a node tests and its children.
    pub fn test(&self, n: Node) -> Option<(u32, &[Node])> {
        let slot = self.slots.get(n.0 as usize)?;
        if slot.var == TERMINAL {
            return None;
        }
        let start = slot.start as usize;
        let children = self.arena.get(start..start + slot.len as usize)?;
        Some((slot.var, children))
    }

    fn var_of(&self, n: Node) -> u32 {
        self.slots.get(n.0 as usize).map_or(TERMINAL, |s| s.var)
    }

    fn child(&self, n: Node, value: u32) -> Node {
        match self.test(n) {
            Some((_, children)) => children.get(value as usize).copied().unwrap_or(FALSE),
            None => n,
        }
    }

    /// The node testing `var` with these children, reduced: a test whose children are all the
    /// same is that child.
    pub fn make(&mut self, var: u32, children: Vec<Node>) -> Result<Node, Exhausted> {
        self.make_from(var, &children)
    }

    fn make_from(&mut self, var: u32, children: &[Node]) -> Result<Node, Exhausted> {
        if let Some(&first) = children.first()
            && children.iter().all(|&c| c == first)
        {
            return Ok(first);
        }
        let mut h = FxHasher::default();
        var.hash(&mut h);
        children.hash(&mut h);
        let key = h.finish();
        let same = |n: &Node| self.test(*n) == Some((var, children));
        match self.unique.get(&key) {
            Some(n) if same(n) => return Ok(*n),
            Some(_) => {
                if let Some(n) = self
                    .collisions
                    .get(&key)
                    .and_then(|c| c.iter().find(|n| same(n)))
                {
                    return Ok(*n);
                }
            }
            None => {}
        }
        if self.budget == 0 {
            return Err(Exhausted);
        }
        self.budget -= 1;
        let n = Node(self.slots.len() as u32);
        self.slots.push(Slot {
            var,
            start: self.arena.len() as u32,
            len: children.len() as u32,
        });
        self.arena.extend_from_slice(children);
        match self.unique.entry(key) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(n);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collisions.entry(key).or_default().push(n);
            }
        }
        Ok(n)
    }

    /// The condition "`var` takes one of the values for which `allowed` is true".
    pub fn literal(&mut self, var: u32, allowed: impl Fn(u32) -> bool) -> Result<Node, Exhausted> {
        let children = (0..self.domain(var))
            .map(|v| if allowed(v) { TRUE } else { FALSE })
            .collect();
        self.make(var, children)
    }

    pub fn and(&mut self, a: Node, b: Node) -> Result<Node, Exhausted> {
        self.apply(Op::And, a, b)
    }

    pub fn or(&mut self, a: Node, b: Node) -> Result<Node, Exhausted> {
        self.apply(Op::Or, a, b)
    }

    /// `a and not b`.
    pub fn diff(&mut self, a: Node, b: Node) -> Result<Node, Exhausted> {
        self.apply(Op::Diff, a, b)
    }

    pub fn not(&mut self, a: Node) -> Result<Node, Exhausted> {
        self.diff(TRUE, a)
    }

    fn apply(&mut self, op: Op, a: Node, b: Node) -> Result<Node, Exhausted> {
        // Terminal cases first: they need no memo.
        match op {
            Op::And => {
                if a == FALSE || b == FALSE {
                    return Ok(FALSE);
                }
                if a == TRUE || a == b {
                    return Ok(b);
                }
                if b == TRUE {
                    return Ok(a);
                }
            }
            Op::Or => {
                if a == TRUE || b == TRUE {
                    return Ok(TRUE);
                }
                if a == FALSE || a == b {
                    return Ok(b);
                }
                if b == FALSE {
                    return Ok(a);
                }
            }
            Op::Diff => {
                if a == FALSE || b == TRUE || a == b {
                    return Ok(FALSE);
                }
                if b == FALSE {
                    return Ok(a);
                }
                if a == TRUE
                    && let Some(&n) = self.not_memo.get(&b)
                {
                    return Ok(n);
                }
            }
        }
        let (x, y) = if matches!(op, Op::And | Op::Or) && a > b {
            (b, a)
        } else {
            (a, b)
        };
        if let Some(&n) = self.memo.get(&(op, x, y)) {
            return Ok(n);
        }
        let var = self.var_of(x).min(self.var_of(y));
        let mark = self.scratch.len();
        let built = self.apply_children(op, var, x, y);
        let n = built.and_then(|()| {
            let children = std::mem::take(&mut self.scratch);
            let n = self.make_from(var, children.get(mark..).unwrap_or_default());
            self.scratch = children;
            n
        });
        self.scratch.truncate(mark);
        let n = n?;
        self.memo.insert((op, x, y), n);
        if op == Op::Diff && x == TRUE {
            self.not_memo.insert(y, n);
        }
        Ok(n)
    }

    /// Pushes onto `scratch` the result of `op` on the children of `x` and `y` for each value
    /// of `var`, the lower of the variables they test.
    fn apply_children(&mut self, op: Op, var: u32, x: Node, y: Node) -> Result<(), Exhausted> {
        for v in 0..self.domain(var) {
            let cx = if self.var_of(x) == var {
                self.child(x, v)
            } else {
                x
            };
            let cy = if self.var_of(y) == var {
                self.child(y, v)
            } else {
                y
            };
            let c = self.apply(op, cx, cy)?;
            self.scratch.push(c);
        }
        Ok(())
    }

    /// The union of many diagrams, joined in pairs and then pairs of pairs: folding them in
    /// one at a time grows one diagram that every later join walks again, and for a table of
    /// a thousand rules over many columns that is most of the analysis.
    pub fn or_all(&mut self, items: &[Node]) -> Result<Node, Exhausted> {
        let mut level: Vec<Node> = items.to_vec();
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            for pair in level.chunks(2) {
                next.push(match *pair {
                    [a, b] => self.or(a, b)?,
                    [a] => a,
                    _ => FALSE,
                });
            }
            level = next;
        }
        Ok(level.first().copied().unwrap_or(FALSE))
    }

    /// "At least `k` of these conditions hold", built by counting down the list.
    pub fn at_least(&mut self, k: usize, items: &[Node]) -> Result<Node, Exhausted> {
        // row[c] = "at least c of the items from here on"; built from the end backwards.
        let mut row: Vec<Node> = (0..=k).map(|c| if c == 0 { TRUE } else { FALSE }).collect();
        for &item in items.iter().rev() {
            let mut next = Vec::with_capacity(row.len());
            for c in 0..=k {
                let here = if c == 0 {
                    TRUE
                } else {
                    let with = row.get(c - 1).copied().unwrap_or(FALSE);
                    let without = row.get(c).copied().unwrap_or(FALSE);
                    self.ite(item, with, without)?
                };
                next.push(here);
            }
            row = next;
        }
        Ok(row.get(k).copied().unwrap_or(FALSE))
    }

    /// `if c then t else e`.
    pub fn ite(&mut self, c: Node, t: Node, e: Node) -> Result<Node, Exhausted> {
        let then = self.and(c, t)?;
        let otherwise = self.diff(e, c)?;
        self.or(then, otherwise)
    }

    /// Replaces the TRUE terminal of a boolean diagram by `value` and FALSE by `default`.
    pub fn relabel(&mut self, a: Node, value: Node, default: Node) -> Result<Node, Exhausted> {
        let mut memo = HashMap::new();
        self.relabel_rec(a, value, default, &mut memo)
    }

    fn relabel_rec(
        &mut self,
        a: Node,
        value: Node,
        default: Node,
        memo: &mut HashMap<Node, Node>,
    ) -> Result<Node, Exhausted> {
        if a == TRUE {
            return Ok(value);
        }
        if a == FALSE {
            return Ok(default);
        }
        if let Some(&n) = memo.get(&a) {
            return Ok(n);
        }
        let Some((var, children)) = self.test(a).map(|(v, c)| (v, c.to_vec())) else {
            return Ok(a);
        };
        let mut out = Vec::with_capacity(children.len());
        for c in children {
            out.push(self.relabel_rec(c, value, default, memo)?);
        }
        let n = self.make(var, out)?;
        memo.insert(a, n);
        Ok(n)
    }

    /// The diagram with `var` fixed to `value`: what it says of the other variables when
    /// `var` takes that value (the result does not test `var`).
    pub fn restrict(&mut self, a: Node, var: u32, value: u32) -> Result<Node, Exhausted> {
        let mut memo = HashMap::new();
        self.restrict_rec(a, var, value, &mut memo)
    }

    fn restrict_rec(
        &mut self,
        a: Node,
        var: u32,
        value: u32,
        memo: &mut HashMap<Node, Node>,
    ) -> Result<Node, Exhausted> {
        if let Some(&n) = memo.get(&a) {
            return Ok(n);
        }
        let Some((v, children)) = self.test(a).map(|(v, c)| (v, c.to_vec())) else {
            return Ok(a);
        };
        // Variables are ordered: below `var` nothing tests it any more.
        let n = if v > var {
            a
        } else if v == var {
            children.get(value as usize).copied().unwrap_or(FALSE)
        } else {
            let mut out = Vec::with_capacity(children.len());
            for c in children {
                out.push(self.restrict_rec(c, var, value, memo)?);
            }
            self.make(v, out)?
        };
        memo.insert(a, n);
        Ok(n)
    }

    /// The diagram with each terminal replaced by its image in `map` (terminals not in it
    /// stay), reduced.
    pub fn map_terminals(&mut self, a: Node, map: &HashMap<Node, Node>) -> Result<Node, Exhausted> {
        let mut done: HashMap<Node, Node> = HashMap::new();
        // Children before parents, so each node is rebuilt from rebuilt children.
        for n in self.nodes_of(a) {
            let image = match self.test(n).map(|(v, c)| (v, c.to_vec())) {
                Some((var, children)) => {
                    let children = children
                        .iter()
                        .map(|c| done.get(c).copied().unwrap_or(*c))
                        .collect();
                    self.make(var, children)?
                }
                None => map.get(&n).copied().unwrap_or(n),
            };
            done.insert(n, image);
        }
        Ok(done.get(&a).copied().unwrap_or(a))
    }

    /// Where `cond` holds, the result of `then`; elsewhere that of `otherwise` (for
    /// multi-terminal diagrams).
    pub fn select(&mut self, cond: Node, then: Node, otherwise: Node) -> Result<Node, Exhausted> {
        let mut memo = HashMap::new();
        self.select_rec(cond, then, otherwise, &mut memo)
    }

    fn select_rec(
        &mut self,
        c: Node,
        t: Node,
        e: Node,
        memo: &mut HashMap<(Node, Node, Node), Node>,
    ) -> Result<Node, Exhausted> {
        if c == TRUE || t == e {
            return Ok(t);
        }
        if c == FALSE {
            return Ok(e);
        }
        if let Some(&n) = memo.get(&(c, t, e)) {
            return Ok(n);
        }
        let var = self.var_of(c).min(self.var_of(t)).min(self.var_of(e));
        let mut children = Vec::with_capacity(self.domain(var) as usize);
        for v in 0..self.domain(var) {
            let pick = |m: &Self, n: Node| if m.var_of(n) == var { m.child(n, v) } else { n };
            let (cc, tc, ec) = (pick(self, c), pick(self, t), pick(self, e));
            children.push(self.select_rec(cc, tc, ec, memo)?);
        }
        let n = self.make(var, children)?;
        memo.insert((c, t, e), n);
        Ok(n)
    }

    /// One assignment that leads to a node other than FALSE, as the value of each variable
    /// tested on the way (variables not on the path are free: `None`).
    pub fn witness(&self, a: Node) -> Option<Vec<Option<u32>>> {
        self.witness_to(a, |n| n != FALSE)
    }

    /// One assignment that leads to a terminal accepted by `accept`.
    pub fn witness_to(&self, a: Node, accept: impl Fn(Node) -> bool) -> Option<Vec<Option<u32>>> {
        let mut values = vec![None; self.domains.len()];
        // Depth-first with an explicit stack of (node, next value to try).
        let mut stack: Vec<(Node, u32)> = vec![(a, 0)];
        let mut dead: std::collections::HashSet<Node> = std::collections::HashSet::new();
        while let Some(&mut (n, ref mut next)) = stack.last_mut() {
            if self.terminal_value(n).is_some() {
                if accept(n) {
                    return Some(values);
                }
                stack.pop();
                continue;
            }
            let Some((var, children)) = self.test(n) else {
                stack.pop();
                continue;
            };
            let v = *next;
            *next += 1;
            match children.get(v as usize) {
                Some(&child) if !dead.contains(&child) => {
                    if let Some(slot) = values.get_mut(var as usize) {
                        *slot = Some(v);
                    }
                    stack.push((child, 0));
                }
                Some(_) => {}
                None => {
                    dead.insert(n);
                    if let Some(slot) = values.get_mut(var as usize) {
                        *slot = None;
                    }
                    stack.pop();
                }
            }
        }
        None
    }

    /// The terminals a diagram can reach.
    pub fn terminals_of(&self, a: Node) -> Vec<Node> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut stack = vec![a];
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            match self.test(n) {
                Some((_, children)) => stack.extend(children.iter().copied()),
                None => out.push(n),
            }
        }
        out.sort();
        out
    }

    /// A box around a diagram's patients: for each variable that every path to a non-FALSE
    /// terminal tests, the values such a path can take there. Two diagrams whose boxes are
    /// disjoint in one variable have no patient in common, which a few word operations tell
    /// where `and` would walk both diagrams; pairwise questions over hundreds of rules ask it
    /// first.
    pub fn bounds(&self, a: Node) -> Bounds {
        if a == FALSE {
            return Bounds::default();
        }
        let nodes = self.nodes_of(a);
        // tested[n]: the variables every path from n to a non-FALSE terminal tests, sorted.
        let mut tested: HashMap<Node, Vec<u32>> = HashMap::with_capacity(nodes.len());
        let mut values: HashMap<u32, Vec<u64>> = HashMap::new();
        for &n in &nodes {
            let Some((var, children)) = self.test(n) else {
                tested.insert(n, Vec::new());
                continue;
            };
            let mut common: Option<Vec<u32>> = None;
            let words = values
                .entry(var)
                .or_insert_with(|| vec![0; children.len().div_ceil(64)]);
            for (v, &c) in children.iter().enumerate() {
                if c == FALSE {
                    continue;
                }
                if let Some(word) = words.get_mut(v / 64) {
                    *word |= 1 << (v % 64);
                }
                let below = tested.get(&c).map(Vec::as_slice).unwrap_or_default();
                common = Some(match common {
                    None => below.to_vec(),
                    Some(mut acc) => {
                        acc.retain(|x| below.binary_search(x).is_ok());
                        acc
                    }
                });
            }
            let mut mine = common.unwrap_or_default();
            if let Err(at) = mine.binary_search(&var) {
                mine.insert(at, var);
            }
            tested.insert(n, mine);
        }
        let vars = tested
            .remove(&a)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|var| values.remove(&var).map(|words| (var, words)))
            .collect();
        Bounds { live: true, vars }
    }

    /// The nodes of a diagram, each once, children before parents.
    pub fn nodes_of(&self, a: Node) -> Vec<Node> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut stack: Vec<(Node, bool)> = vec![(a, false)];
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                out.push(n);
                continue;
            }
            if !seen.insert(n) {
                continue;
            }
            stack.push((n, true));
            if let Some((_, children)) = self.test(n) {
                for &c in children.iter().rev() {
                    if !seen.contains(&c) {
                        stack.push((c, false));
                    }
                }
            }
        }
        out
    }
}

/// What [`Mdd::bounds`] computes: per tested variable, a bit per value.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    /// False for the empty diagram, which shares no patient with anything.
    live: bool,
    /// Sorted by variable.
    vars: Vec<(u32, Vec<u64>)>,
}

impl Bounds {
    /// True when no patient can be in both: the boxes miss each other in some variable.
    pub fn disjoint(&self, other: &Bounds) -> bool {
        if !self.live || !other.live {
            return true;
        }
        let (mut i, mut j) = (self.vars.iter().peekable(), other.vars.iter().peekable());
        while let (Some((va, a)), Some((vb, b))) = (i.peek(), j.peek()) {
            match va.cmp(vb) {
                std::cmp::Ordering::Less => {
                    i.next();
                }
                std::cmp::Ordering::Greater => {
                    j.next();
                }
                std::cmp::Ordering::Equal => {
                    if a.iter().zip(b).all(|(x, y)| x & y == 0) {
                        return true;
                    }
                    i.next();
                    j.next();
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_functions_are_the_same_node() {
        let mut m = Mdd::new(vec![3, 2], 1000);
        let a = m.literal(0, |v| v == 1).unwrap();
        let b = m.literal(1, |v| v == 1).unwrap();
        let ab = m.and(a, b).unwrap();
        let ba = m.and(b, a).unwrap();
        assert_eq!(ab, ba);
        let na = m.not(a).unwrap();
        let x = m.or(a, na).unwrap();
        assert_eq!(x, TRUE);
        let y = m.and(a, na).unwrap();
        assert_eq!(y, FALSE);
    }

    #[test]
    fn witnesses_satisfy() {
        let mut m = Mdd::new(vec![3, 3], 1000);
        let a = m.literal(0, |v| v == 2).unwrap();
        let b = m.literal(1, |v| v == 0).unwrap();
        let ab = m.and(a, b).unwrap();
        assert_eq!(m.witness(ab), Some(vec![Some(2), Some(0)]));
        assert_eq!(m.witness(FALSE), None);
    }

    #[test]
    fn counting() {
        let mut m = Mdd::new(vec![2, 2, 2], 1000);
        let items: Vec<Node> = (0..3).map(|v| m.literal(v, |x| x == 1).unwrap()).collect();
        let two = m.at_least(2, &items).unwrap();
        let w = m.witness(two).unwrap();
        assert_eq!(w.iter().filter(|v| **v == Some(1)).count(), 2);
        let four = m.at_least(4, &items).unwrap();
        assert_eq!(four, FALSE);
        let zero = m.at_least(0, &items).unwrap();
        assert_eq!(zero, TRUE);
    }

    #[test]
    fn the_budget_stops_work() {
        let mut m = Mdd::new(vec![2; 40], 10);
        let mut acc = TRUE;
        let mut stopped = false;
        for v in 0..40 {
            match m.literal(v, |x| x == 1).and_then(|l| m.and(acc, l)) {
                Ok(n) => acc = n,
                Err(Exhausted) => {
                    stopped = true;
                    break;
                }
            }
        }
        assert!(stopped);
    }

    #[test]
    fn bounds_tell_disjoint_diagrams_apart() {
        let mut m = Mdd::new(vec![100, 3], 1000);
        let low = m.literal(0, |v| v < 40).unwrap();
        let high = m.literal(0, |v| v >= 70).unwrap();
        let mid = m.literal(0, |v| (30..80).contains(&v)).unwrap();
        let other = m.literal(1, |v| v == 2).unwrap();
        // `low or other` does not test variable 0 on every path: no bound on it.
        let either = m.or(low, other).unwrap();
        let b = |m: &Mdd, n| m.bounds(n);
        assert!(b(&m, low).disjoint(&b(&m, high)));
        assert!(!b(&m, low).disjoint(&b(&m, mid)));
        assert!(!b(&m, high).disjoint(&b(&m, mid)));
        assert!(!b(&m, either).disjoint(&b(&m, high)));
        assert!(b(&m, FALSE).disjoint(&b(&m, TRUE)));
        assert!(!b(&m, TRUE).disjoint(&b(&m, low)));
        // Never disjoint where `and` finds a patient.
        let all = [low, high, mid, other, either];
        for x in all {
            for y in all {
                let both = m.and(x, y).unwrap();
                assert!(both == FALSE || !b(&m, x).disjoint(&b(&m, y)));
            }
        }
    }

    #[test]
    fn restrict_fixes_one_variable() {
        let mut m = Mdd::new(vec![3, 2], 100);
        let low = m.literal(0, |v| v == 0).unwrap();
        let on = m.literal(1, |v| v == 1).unwrap();
        let either = m.or(low, on).unwrap();
        assert_eq!(m.restrict(either, 0, 0).unwrap(), TRUE);
        assert_eq!(m.restrict(either, 0, 2).unwrap(), on);
        assert_eq!(m.restrict(either, 1, 0).unwrap(), low);
    }

    #[test]
    fn select_builds_multi_terminal_diagrams() {
        let mut m = Mdd::new(vec![2], 100);
        let a = m.literal(0, |v| v == 1).unwrap();
        let r1 = m.terminal(Terminal::Result(10));
        let r2 = m.terminal(Terminal::Rule(RuleId(20)));
        let d = m.select(a, r1, r2).unwrap();
        assert_eq!(m.terminals_of(d), vec![r1, r2]);
        assert_eq!(m.witness_to(d, |n| n == r2), Some(vec![Some(0)]));
    }
}
