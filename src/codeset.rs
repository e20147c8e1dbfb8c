//! Code-set membership: the one definition the interpreter (`evaluate`), the analysis
//! (`analyse::space`) and the compiler share, so that they cannot disagree on which codes a
//! set holds.
//!
//! A set holds the codes *of the release in force* that its items match: a code, a pattern
//! (`M80.08X*`: every code that starts so), a range (`FIRST..LAST`, in alphabetical order),
//! combined with `+` and `-`. The codes of a system are the billable codes of the table in
//! force on the policy's effective date; when that table does not list its whole system
//! (a local CPT table) or there is none, the codes the program's sets of that system name are
//! added (exact codes, range ends, and pattern stems that are codes themselves), and one code
//! that no set of the system holds. So a pattern holds no code a partial table lacks, and `has all` of a pattern means
//! every code of the release that fits it, as the compiled artifact counts it.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::ast::{Quantifier, SetOp};
use crate::codes::{CodeItem, System};
use crate::ir::{CodeSetId, Program, SetExpr};
use crate::tables::{Table, TableSet};
use crate::types::Date;

/// For each system with a table: the billable codes of the table in force, sorted, and
/// whether that table lists every code of its system.
pub type Universe = HashMap<System, (Arc<Vec<String>>, bool)>;

/// The table of a system in force on a date: the earliest release for an older date, the
/// newest without a date.
pub fn table_in_force(tables: &TableSet, system: System, date: Option<Date>) -> Option<&Table> {
    match date {
        Some(d) => tables
            .in_force(system, d)
            .or_else(|| tables.releases(system).next()),
        None => tables.latest(system),
    }
}

/// The billable codes of each release, read once per run.
#[derive(Default)]
pub struct CodeCache {
    releases: HashMap<String, Arc<Vec<String>>>,
}

impl CodeCache {
    /// For each system with a table: the billable codes of the release in force on the date
    /// (the earliest for an older date, the newest without one).
    pub fn universe(&mut self, tables: Option<&TableSet>, date: Option<Date>) -> Universe {
        let mut out = Universe::new();
        let Some(tables) = tables else { return out };
        let in_force: Vec<(System, &Table)> = System::ALL
            .iter()
            .filter_map(|&system| table_in_force(tables, system, date).map(|t| (system, t)))
            .collect();
        // Reading a release's billable codes decodes the whole table (seventy thousand codes
        // for ICD-10-CM, as many for PCS): the releases not read yet are read side by side.
        let missing: Vec<&Table> = in_force
            .iter()
            .map(|(_, t)| *t)
            .filter(|t| !self.releases.contains_key(t.release()))
            .collect();
        let read: Vec<(String, Vec<String>)> = missing
            .par_iter()
            .map(|table| {
                let codes = table
                    .iter()
                    .filter(|e| e.is_billable())
                    .map(|e| e.code().to_string())
                    .collect();
                (table.release().to_string(), codes)
            })
            .collect();
        for (release, codes) in read {
            self.releases.insert(release, Arc::new(codes));
        }
        for (system, table) in in_force {
            if let Some(codes) = self.releases.get(table.release()) {
                out.insert(system, (codes.clone(), table.coverage() == "*"));
            }
        }
        out
    }

    /// Every code set of the program expanded against the releases in force on the date.
    pub fn code_sets(
        &mut self,
        program: &Program,
        tables: Option<&TableSet>,
        date: Option<Date>,
    ) -> CodeSets {
        CodeSets::new(program, &self.universe(tables, date))
    }
}

/// Every code set of a program expanded into its codes, against one universe.
#[derive(Debug, Clone, Default)]
pub struct CodeSets {
    /// For each system a set of the program uses (and each system of the universe): the
    /// codes a code fact of it can take, sorted.
    codes: HashMap<System, Arc<Vec<String>>>,
    /// For each code set of the program, by id: its codes, sorted.
    members: Vec<Vec<String>>,
}

/// Codes that stand for "a code none of the sets holds" in a system without a whole table,
/// the first one no set holds.
fn outside_candidates(system: System) -> [&'static str; 3] {
    match system {
        System::Icd10Cm => ["Z00.00", "R69", "A00.0"],
        System::Icd10Pcs => ["0016070", "0W9G30Z", "BW00ZZZ"],
        System::Cpt => ["99213", "99999", "00100"],
        System::Hcpcs => ["A0021", "G0008", "V2020"],
    }
}

impl CodeSets {
    pub fn new(program: &Program, universe: &Universe) -> CodeSets {
        let mut systems: Vec<System> = program.code_sets.iter().map(|s| s.system).collect();
        systems.extend(universe.keys().copied());
        systems.sort();
        systems.dedup();
        let codes: HashMap<System, Arc<Vec<String>>> = systems
            .into_iter()
            .map(|system| (system, system_codes(program, system, universe)))
            .collect();
        let empty = Vec::new();
        let mut memo: HashMap<CodeSetId, Vec<String>> = HashMap::new();
        let members = (0..program.code_sets.len())
            .map(|i| {
                let id = CodeSetId(i as u32);
                let universe = program
                    .code_set(id)
                    .and_then(|s| codes.get(&s.system))
                    .map_or(&empty, |c| c.as_ref());
                expand(program, id, universe, &mut memo, 0)
            })
            .collect();
        CodeSets { codes, members }
    }

    /// These sets followed by the given sets of `other` (another program's, expanded against
    /// its own releases), over the union of both universes: `medpol diff` reads two versions
    /// of a policy as one program, each set with the codes of its own version.
    pub fn joined(&self, other: &CodeSets, sets: &[CodeSetId]) -> CodeSets {
        let mut codes = self.codes.clone();
        for (system, theirs) in &other.codes {
            let mine = codes.entry(*system).or_default();
            if mine.as_slice() != theirs.as_slice() {
                let mut all: Vec<String> = mine.iter().chain(theirs.iter()).cloned().collect();
                all.sort();
                all.dedup();
                *mine = Arc::new(all);
            }
        }
        let mut members = self.members.clone();
        members.extend(sets.iter().map(|s| other.members(*s).to_vec()));
        CodeSets { codes, members }
    }

    /// The codes a code fact of the system can take, sorted.
    pub fn universe(&self, system: System) -> &[String] {
        self.codes.get(&system).map_or(&[], |c| c.as_slice())
    }

    /// The codes the set holds, sorted.
    pub fn members(&self, set: CodeSetId) -> &[String] {
        self.members.get(set.index()).map_or(&[], |m| m.as_slice())
    }

    /// Whether the set holds the code.
    pub fn contains(&self, set: CodeSetId, code: &str) -> bool {
        self.members(set)
            .binary_search_by(|m| m.as_str().cmp(code))
            .is_ok()
    }

    /// Whether a patient with these codes has any, all or none of the set's codes.
    pub fn has(&self, codes: &[String], quantifier: Quantifier, set: CodeSetId) -> bool {
        match quantifier {
            Quantifier::Any => codes.iter().any(|c| self.contains(set, c)),
            Quantifier::None => !codes.iter().any(|c| self.contains(set, c)),
            Quantifier::All => self.members(set).iter().all(|m| codes.contains(m)),
        }
    }
}

/// The sorted codes of one system: the table's, or, when the table does not list its whole
/// system, those with the codes the program's sets of the system name and one none holds.
fn system_codes(program: &Program, system: System, universe: &Universe) -> Arc<Vec<String>> {
    if let Some((codes, true)) = universe.get(&system) {
        return codes.clone();
    }
    let sets: Vec<CodeSetId> = (0..program.code_sets.len() as u32)
        .map(CodeSetId)
        .filter(|s| program.code_set(*s).is_some_and(|c| c.system == system))
        .collect();
    // A pattern's stem stands for a code only when it is one (`M80.0`, not `2251`): a set
    // holds codes a patient can have, and an artifact lists them.
    let mut extra = named(program, &sets);
    extra.retain(|c| {
        matches!(crate::codes::parse_code(system, c), Ok(crate::codes::CodeForm::Exact(e)) if e == *c)
    });
    let candidates = outside_candidates(system);
    let outside = candidates
        .iter()
        .find(|c| !sets.iter().any(|s| program.set_contains(*s, c)));
    // A system is never without a code: when the sets' patterns hold every candidate and
    // name no code of their own, the first candidate (which they hold) is the one.
    let any = outside.or_else(|| candidates.first().filter(|_| extra.is_empty()));
    extra.extend(any.map(|c| (*c).to_string()));
    match universe.get(&system) {
        Some((codes, _)) => {
            // The table's codes are sorted; the few the program names are merged in, and the
            // table's list is shared as it is when it already has them all.
            extra.retain(|c| codes.binary_search(c).is_err());
            if extra.is_empty() {
                return codes.clone();
            }
            extra.extend(codes.iter().cloned());
            extra.sort();
            Arc::new(extra)
        }
        None => {
            extra.sort();
            extra.dedup();
            Arc::new(extra)
        }
    }
}

/// Every code the sets' items name (exact codes, range ends, pattern stems), sorted, without
/// duplicates.
fn named(program: &Program, sets: &[CodeSetId]) -> Vec<String> {
    let mut out = Vec::new();
    for s in sets {
        let mut stack: Vec<&SetExpr> = program.code_set(*s).map(|x| &x.expr).into_iter().collect();
        while let Some(e) = stack.pop() {
            match e {
                SetExpr::Items(items) => {
                    for i in items {
                        match &i.item {
                            CodeItem::Exact(c) | CodeItem::Prefix(c) => out.push(c.clone()),
                            CodeItem::Range(a, b) => {
                                out.push(a.clone());
                                out.push(b.clone());
                            }
                        }
                    }
                }
                // A referenced set of the same system is one of `sets` itself.
                SetExpr::Ref(_) => {}
                SetExpr::Chain { first, rest } => {
                    stack.push(first);
                    stack.extend(rest.iter().map(|(_, e)| e));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The codes of `universe` (sorted) a set holds, sorted. References are followed (the checker
/// has ruled out cycles; the depth guard is for safety only).
fn expand(
    program: &Program,
    set: CodeSetId,
    universe: &[String],
    memo: &mut HashMap<CodeSetId, Vec<String>>,
    depth: usize,
) -> Vec<String> {
    if let Some(m) = memo.get(&set) {
        return m.clone();
    }
    let codes = match program.code_set(set) {
        Some(s) if depth < 256 => expand_expr(program, &s.expr, universe, memo, depth),
        _ => Vec::new(),
    };
    memo.insert(set, codes.clone());
    codes
}

/// The codes of `universe` (sorted) one item names: a run of it, found by binary search.
pub fn item_codes<'u>(item: &CodeItem, universe: &'u [String]) -> &'u [String] {
    let (from, to) = match item {
        CodeItem::Exact(c) => {
            let at = universe.partition_point(|x| x < c);
            (
                at,
                if universe.get(at) == Some(c) {
                    at + 1
                } else {
                    at
                },
            )
        }
        CodeItem::Prefix(p) => {
            let from = universe.partition_point(|x| x.as_str() < p.as_str());
            let len = universe.get(from..).map_or(0, |rest| {
                rest.partition_point(|x| x.starts_with(p.as_str()))
            });
            (from, from + len)
        }
        CodeItem::Range(lo, hi) => (
            universe.partition_point(|x| x < lo),
            universe.partition_point(|x| x <= hi),
        ),
    };
    universe.get(from..to).unwrap_or(&[])
}

fn expand_expr(
    program: &Program,
    e: &SetExpr,
    universe: &[String],
    memo: &mut HashMap<CodeSetId, Vec<String>>,
    depth: usize,
) -> Vec<String> {
    match e {
        SetExpr::Items(items) => {
            // Each item is a run of the sorted universe, found by binary search.
            let mut out: Vec<String> = Vec::new();
            for item in items {
                out.extend(item_codes(&item.item, universe).iter().cloned());
            }
            out.sort();
            out.dedup();
            out
        }
        SetExpr::Ref(id) => expand(program, *id, universe, memo, depth + 1),
        SetExpr::Chain { first, rest } => {
            let mut acc = expand_expr(program, first, universe, memo, depth + 1);
            for (op, e) in rest {
                let other = expand_expr(program, e, universe, memo, depth + 1);
                match op {
                    SetOp::Union => {
                        acc.extend(other);
                        acc.sort();
                        acc.dedup();
                    }
                    SetOp::Difference => acc.retain(|c| other.binary_search(c).is_err()),
                }
            }
            acc
        }
    }
}
