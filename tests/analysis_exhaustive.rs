//! The analysis against brute force (issue 19). Random small policies over ints, decimals,
//! durations, percentages, dates, booleans, an enum and a set of ICD-10-CM codes, with `at least k
//! of`, constraints, every hit policy, with and without `otherwise`, are analysed; every rule
//! and constraint is also evaluated with the reference interpreter (`medpol::evaluate`) on
//! every patient of a grid that is complete for the policy (each threshold, a value each side
//! of it, so a value between any two; each enum value; every subset of the codes the sets name
//! and one code outside them). The findings that grid implies (overlaps, gaps, boundary gaps,
//! shadowed, partly shadowed, impossible and always-true rules, an unreachable `otherwise`)
//! must be exactly those the analysis reports, with the same codes, and every example patient
//! it prints must reproduce its claim when evaluated with every fact it needs.
//!
//! Two dates compared in calendar months (`y1 - y0 >= 2 months`) are reasoned over as values
//! of their own, which the analysis says (W0420): for those policies the comparison is one of
//! soundness (see `sound`): every overlap and gap a real patient of the grid shows is reported,
//! no grid patient refutes a claim about all patients, and only findings with the W0420 note
//! may have examples no patient reaches.
//!
//! `cargo test --test analysis_exhaustive` runs 200 policies from a fixed seed; the
//! ignored `long_run` runs many more (`MEDPOL_EXHAUSTIVE_COUNT`, `MEDPOL_EXHAUSTIVE_SEED`).

use std::collections::{BTreeMap, BTreeSet};

use medpol::analyse::{self, Options};
use medpol::check::{ImportMap, check};
use medpol::diagnostic::{Code, Diagnostic};
use medpol::evaluate::{Assignment, By, Evaluation, evaluate};
use medpol::ir::{DecisionId, FactId, Program, ValidProgram, Value};
use medpol::source::FileId;
use medpol::tables::TableSet;
use medpol::types::{Date, Num, Unit};

#[path = "support/random.rs"]
mod random;
use random::{Rng, witness_pairs};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    /// A number: its thresholds to choose from, the step to a value beside a threshold (no
    /// two thresholds closer than two steps), the suffix the language writes, and its range.
    Number {
        thresholds: &'static [f64],
        step: f64,
        suffix: &'static str,
        min: Option<f64>,
        max: Option<f64>,
    },
    Enum,
    Codes,
    /// A date: the dates to compare it with. A number of days on the grid (a step of one
    /// day), written as a date.
    Date {
        thresholds: &'static [&'static str],
    },
}

impl Kind {
    /// For a number or a date: the step to a value beside a threshold, and the range.
    fn line(self) -> Option<(f64, Option<f64>, Option<f64>)> {
        match self {
            Kind::Number { step, min, max, .. } => Some((step, min, max)),
            Kind::Date { .. } => Some((1.0, None, None)),
            _ => None,
        }
    }
}

/// A date's day number.
fn day(date: &str) -> i64 {
    Date::parse(date).expect("a date").days()
}

struct FactDef {
    name: &'static str,
    ty: &'static str,
    kind: Kind,
}

const FACTS: &[FactDef] = &[
    FactDef {
        name: "b0",
        ty: "bool",
        kind: Kind::Bool,
    },
    FactDef {
        name: "b1",
        ty: "bool",
        kind: Kind::Bool,
    },
    FactDef {
        name: "n0",
        ty: "int",
        kind: Kind::Number {
            thresholds: &[-1.0, 0.0, 2.0, 3.0, 5.0],
            step: 1.0,
            suffix: "",
            min: None,
            max: None,
        },
    },
    FactDef {
        name: "d0",
        ty: "decimal",
        kind: Kind::Number {
            thresholds: &[-1.5, 0.0, 2.0, 2.5, 5.0],
            step: 0.25,
            suffix: "",
            min: None,
            max: None,
        },
    },
    FactDef {
        name: "w0",
        ty: "duration<weeks>",
        kind: Kind::Number {
            thresholds: &[0.0, 2.0, 6.0],
            step: 1.0,
            suffix: " weeks",
            min: Some(0.0),
            max: None,
        },
    },
    FactDef {
        name: "p0",
        ty: "percent",
        kind: Kind::Number {
            thresholds: &[0.0, 12.5, 50.0, 100.0],
            step: 1.0,
            suffix: "%",
            min: Some(0.0),
            max: Some(100.0),
        },
    },
    // Measurements: a mass (never negative) and an angle (either sign).
    FactDef {
        name: "m0",
        ty: "quantity<kg>",
        kind: Kind::Number {
            thresholds: &[0.0, 2.0, 70.0],
            step: 1.0,
            suffix: " kg",
            min: Some(0.0),
            max: None,
        },
    },
    FactDef {
        name: "a0",
        ty: "quantity<deg>",
        kind: Kind::Number {
            thresholds: &[-5.0, 0.0, 20.0],
            step: 1.0,
            suffix: " deg",
            min: None,
            max: None,
        },
    },
    // A declared range: thresholds past its ends make conditions no patient (or every
    // patient) meets.
    FactDef {
        name: "r0",
        ty: "int in 0..10",
        kind: Kind::Number {
            thresholds: &[-1.0, 0.0, 5.0, 10.0, 12.0],
            step: 1.0,
            suffix: "",
            min: Some(0.0),
            max: Some(10.0),
        },
    },
    FactDef {
        name: "y0",
        ty: "date",
        kind: Kind::Date {
            thresholds: &["2009-02-12", "2009-02-14", "2012-06-27", "2024-02-29"],
        },
    },
    FactDef {
        name: "y1",
        ty: "date",
        kind: Kind::Date {
            thresholds: &["2009-02-12", "2012-06-27"],
        },
    },
    FactDef {
        name: "e0",
        ty: "enum { a, b, c }",
        kind: Kind::Enum,
    },
    FactDef {
        name: "s0",
        ty: "set<code<icd10cm>>",
        kind: Kind::Codes,
    },
];

const ENUM_VALUES: &[&str] = &["a", "b", "c"];
const CODES: &[&str] = &["M80.08XA", "M84.48XA", "C90.00"];
/// A billable code no generated set names.
const OUTSIDE: &str = "M80.08XS";

/// One generated policy: its text, and what the test needs to know of it.
struct Generated {
    text: String,
    /// Indices into [`FACTS`] of the facts it declares, in declaration order.
    facts: Vec<usize>,
    /// Each rule's condition, name, outcome and the facts it reads.
    rules: Vec<(String, String, String, BTreeSet<usize>)>,
    /// For each rule, the codes of each set it lists for its outcome (`has any` where the
    /// rule needs it true, `has none` where it needs it false): what W0413 is about.
    listed: Vec<Vec<Vec<&'static str>>>,
    constraints: Vec<String>,
    hit: &'static str,
    otherwise: bool,
    /// Thresholds compared, per fact.
    thresholds: BTreeMap<usize, BTreeSet<i64>>,
    codes: BTreeSet<&'static str>,
    /// The differences `y1 - y0` compared, in days.
    relations: BTreeSet<i64>,
    /// The differences `y1 - y0` compared in calendar months: the analysis reasons over them
    /// as values of their own (W0420), so the comparison is one of soundness (see [`run`]).
    months: BTreeSet<i64>,
}

/// Numbers are kept as quarters, exact in both `f64` and text.
fn quarters(x: f64) -> i64 {
    (x * 4.0).round() as i64
}

fn number_text(q: i64) -> String {
    format!("{}", q as f64 / 4.0)
}

struct Gen<'a> {
    rng: &'a mut Rng,
    facts: Vec<usize>,
    thresholds: BTreeMap<usize, BTreeSet<i64>>,
    codes: BTreeSet<&'static str>,
    reads: BTreeSet<usize>,
    relations: BTreeSet<i64>,
    months: BTreeSet<i64>,
    /// The sets the rule being generated lists for its outcome.
    listed: Vec<Vec<&'static str>>,
}

impl Gen<'_> {
    /// An atom where the condition needs it true (`positive`) or false.
    fn atom(&mut self, positive: bool) -> String {
        let f = *self.rng.pick(&self.facts);
        self.reads.insert(f);
        let def = &FACTS[f];
        match def.kind {
            Kind::Bool => {
                if self.rng.chance(30) {
                    format!("not {}", def.name)
                } else {
                    def.name.to_string()
                }
            }
            Kind::Number {
                thresholds, suffix, ..
            } => {
                let t = *self.rng.pick(thresholds);
                self.thresholds.entry(f).or_default().insert(quarters(t));
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                format!("{} {op} {}{suffix}", def.name, number_text(quarters(t)))
            }
            Kind::Date { .. } if self.related() && self.rng.chance(50) => {
                let (y0, y1) = (date_fact("y0"), date_fact("y1"));
                self.reads.extend([y0, y1]);
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                if self.rng.chance(30) {
                    self.relations.insert(0);
                    format!("y0 {op} y1")
                } else if self.rng.chance(30) {
                    let months = *self.rng.pick(&[-2i64, 0, 2, 13]);
                    self.months.insert(months);
                    format!("y1 - y0 {op} {months} months")
                } else {
                    let days = *self.rng.pick(&[-3i64, 0, 42, 1234]);
                    self.relations.insert(days);
                    format!("y1 - y0 {op} {days} days")
                }
            }
            Kind::Date { thresholds } => {
                let t = *self.rng.pick(thresholds);
                self.thresholds
                    .entry(f)
                    .or_default()
                    .insert(quarters(day(t) as f64));
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                format!("{} {op} {t}", def.name)
            }
            Kind::Enum => match self.rng.below(3) {
                0 => format!("e0 == {}", self.rng.pick(ENUM_VALUES)),
                1 => format!("e0 != {}", self.rng.pick(ENUM_VALUES)),
                _ => {
                    let mut vs: Vec<&str> = (0..2).map(|_| *self.rng.pick(ENUM_VALUES)).collect();
                    vs.sort();
                    vs.dedup();
                    format!("e0 in {{ {} }}", vs.join(", "))
                }
            },
            Kind::Codes => {
                let mut cs: Vec<&'static str> = (0..1 + self.rng.below(2))
                    .map(|_| *self.rng.pick(CODES))
                    .collect();
                cs.sort();
                cs.dedup();
                self.codes.extend(cs.iter().copied());
                let q = *self.rng.pick(&["any", "all", "none"]);
                if (q == "any" && positive) || (q == "none" && !positive) {
                    self.listed.push(cs.clone());
                }
                format!("s0 has {q} {{ {} }}", cs.join(", "))
            }
        }
    }

    /// Whether the policy declares both dates, which can then be related.
    fn related(&self) -> bool {
        self.facts.contains(&date_fact("y0")) && self.facts.contains(&date_fact("y1"))
    }

    fn condition(&mut self, depth: usize, positive: bool) -> String {
        if depth == 0 || self.rng.chance(45) {
            return self.atom(positive);
        }
        match self.rng.below(5) {
            0 => format!("not ({})", self.condition(depth - 1, !positive)),
            1 | 2 => {
                let op = if self.rng.chance(50) { "and" } else { "or" };
                let (a, b) = (
                    self.condition(depth - 1, positive),
                    self.condition(depth - 1, positive),
                );
                format!("({a} {op} {b})")
            }
            _ => {
                let n = 2 + self.rng.below(2);
                let items: Vec<String> = (0..n)
                    .map(|_| self.condition(depth - 1, positive))
                    .collect();
                let k = 1 + self.rng.below(n);
                format!("at least {k} of ({})", items.join(", "))
            }
        }
    }
}

fn generate(rng: &mut Rng) -> Generated {
    let mut facts: Vec<usize> = Vec::new();
    for _ in 0..2 + rng.below(2) {
        let f = rng.below(FACTS.len());
        if !facts.contains(&f) {
            facts.push(f);
        }
    }
    // Both dates, now and then, so that relations between them (days and calendar months)
    // come up often enough.
    if rng.chance(10) {
        for f in [date_fact("y0"), date_fact("y1")] {
            if !facts.contains(&f) {
                facts.push(f);
            }
        }
    }
    facts.sort();
    let hit = *rng.pick(&["unique", "any", "first"]);
    let otherwise = rng.chance(30);
    let mut g = Gen {
        rng,
        facts: facts.clone(),
        thresholds: BTreeMap::new(),
        codes: BTreeSet::new(),
        reads: BTreeSet::new(),
        relations: BTreeSet::new(),
        months: BTreeSet::new(),
        listed: Vec::new(),
    };
    let mut rules = Vec::new();
    let mut listed = Vec::new();
    for i in 0..1 + g.rng.below(4) {
        g.reads.clear();
        g.listed.clear();
        let cond = g.condition(2, true);
        let outcome = format!("o{}", g.rng.below(3));
        rules.push((cond, format!("r{i}"), outcome, g.reads.clone()));
        listed.push(std::mem::take(&mut g.listed));
    }
    let mut constraints = Vec::new();
    if g.rng.chance(30) {
        constraints.push(g.condition(1, true));
    }
    let (thresholds, codes, relations, months) = (g.thresholds, g.codes, g.relations, g.months);
    let mut text = String::from(
        "policy \"generated\" {\n  title \"g\"\n  version \"1\"\n  effective 2025-06-01\n}\n",
    );
    for &f in &facts {
        text.push_str(&format!("fact {}: {}\n", FACTS[f].name, FACTS[f].ty));
    }
    for (i, c) in constraints.iter().enumerate() {
        text.push_str(&format!("constraint c{i} = {c}\n"));
    }
    text.push_str(&format!(
        "decision d ({hit}) {{\n  outcomes {{ o0, o1, o2 }}\n"
    ));
    for (cond, name, outcome, _) in &rules {
        text.push_str(&format!("  rule {name} when {cond} then {outcome}\n"));
    }
    if otherwise {
        text.push_str("  otherwise o0\n");
    }
    text.push_str("}\n");
    Generated {
        text,
        facts,
        rules,
        listed,
        constraints,
        hit,
        otherwise,
        thresholds,
        codes,
        relations,
        months,
    }
}

/// The index of a date fact in [`FACTS`].
fn date_fact(name: &str) -> usize {
    FACTS
        .iter()
        .position(|f| f.name == name)
        .expect("a date fact")
}

/// The policy's text with one more decision per rule and per constraint, each `yes` exactly
/// when its condition holds: the interpreter then says which rules a patient meets.
fn oracle_text(g: &Generated) -> String {
    let mut text = g.text.clone();
    let conditions = g.rules.iter().map(|r| &r.0).chain(&g.constraints);
    for (i, c) in conditions.enumerate() {
        text.push_str(&format!(
            "decision q{i} (first) {{\n  outcomes {{ yes, no }}\n  rule x when {c} then yes\n  otherwise no\n}}\n"
        ));
    }
    text
}

/// Parses and checks one text; `None` when the check finds an error (a random `has all` may
/// ask for codes that exclude each other).
fn checked(text: &str) -> Option<(ValidProgram, Vec<Diagnostic>)> {
    let parsed = medpol::syntax::parse(FileId(0), text);
    let checked = check(&[parsed.file], &ImportMap::new(), TableSet::shipped(), &[]);
    let mut diagnostics = parsed.diagnostics;
    diagnostics.extend(checked.diagnostics.iter().cloned());
    if diagnostics.iter().any(|d| d.is_error()) {
        return None;
    }
    let valid = checked.valid().ok()?.clone();
    Some((valid, diagnostics))
}

/// The days the grid gives a date: a few days around each threshold, and, for two related
/// dates, around the other's thresholds shifted by each difference compared: every class of
/// the two dates and their difference then meets on the grid (the cells of the lines `y0 = a`,
/// `y1 = b`, `y1 - y0 = c` all touch a point where two of them cross).
fn date_days(g: &Generated, f: usize) -> BTreeSet<i64> {
    let own = |f: usize| -> BTreeSet<i64> {
        let mut t: BTreeSet<i64> = g
            .thresholds
            .get(&f)
            .into_iter()
            .flatten()
            .map(|q| q / 4)
            .collect();
        if t.is_empty() {
            t.insert(day("2012-06-27"));
        }
        t
    };
    let near = |at: i64| (-2..=2).map(move |k| at + k);
    let mut days: BTreeSet<i64> = own(f).into_iter().flat_map(near).collect();
    if !g.relations.is_empty() || !g.months.is_empty() {
        let (y0, y1) = (date_fact("y0"), date_fact("y1"));
        let sign = if f == y1 { 1 } else { -1 };
        let other = if f == y1 { y0 } else { y1 };
        for t in own(other) {
            for c in &g.relations {
                days.extend(near(t + sign * c));
            }
            // The day that many calendar months away, and its neighbours: where the months
            // completed between the two dates change.
            // A month either side too, so that `!= m months` has patients on the grid.
            for m in &g.months {
                for k in [m - 1, *m, m + 1] {
                    let date = Date::from_days(t).and_then(|d| d.add_months(sign * k));
                    days.extend(date.into_iter().flat_map(|d| near(d.days())));
                }
            }
        }
    }
    days
}

/// Every value of one fact the grid takes.
fn grid_values(g: &Generated, f: usize) -> Vec<Value> {
    match FACTS[f].kind {
        Kind::Date { .. } => date_days(g, f)
            .into_iter()
            .map(|d| Value::Num(Num::from_int(d.into())))
            .collect(),
        Kind::Bool => vec![Value::Bool(false), Value::Bool(true)],
        Kind::Enum => (0..ENUM_VALUES.len() as u32).map(Value::Enum).collect(),
        Kind::Number { .. } => {
            let (step, min, max) = FACTS[f].kind.line().expect("a number line");
            let step = quarters(step);
            let mut qs = BTreeSet::new();
            for &t in g.thresholds.get(&f).into_iter().flatten() {
                qs.extend([t - step, t, t + step]);
            }
            if qs.is_empty() {
                qs.insert(0);
            }
            // The ends of a declared range are values of their own: thresholds all past it
            // leave the range whole, one class the grid must still hold.
            qs.extend(min.into_iter().chain(max).map(quarters));
            qs.into_iter()
                .filter(|&q| min.is_none_or(|m| q >= quarters(m)))
                .filter(|&q| max.is_none_or(|m| q <= quarters(m)))
                .map(|q| Value::Num(Num::parse(&number_text(q)).expect("a number")))
                .collect()
        }
        Kind::Codes => {
            let codes: Vec<&str> = g.codes.iter().copied().chain([OUTSIDE]).collect();
            (0..1u32 << codes.len())
                .map(|bits| {
                    let mut set: Vec<String> = codes
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| bits & (1 << i) != 0)
                        .map(|(_, c)| c.to_string())
                        .collect();
                    set.sort();
                    Value::Codes(set)
                })
                .collect()
        }
    }
}

/// Every complete patient of the grid, each fact by its position in the declarations.
fn grid(g: &Generated) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for &f in &g.facts {
        let values = grid_values(g, f);
        out = out
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut p = p.clone();
                    p.push(v.clone());
                    p
                })
            })
            .collect();
    }
    out
}

fn assignment(p: &[Value]) -> Assignment {
    p.iter()
        .enumerate()
        .map(|(i, v)| (FactId(i as u32), v.clone()))
        .collect()
}

/// What the grid says of one patient: which rules and constraints hold.
struct Patient {
    values: Vec<Value>,
    matches: Vec<bool>,
    allowed: bool,
}

/// The findings, as (code, the names they are about) sorted.
type Findings = BTreeSet<(Code, Vec<String>)>;

/// The findings the grid implies.
fn expected(g: &Generated, patients: &[Patient]) -> Findings {
    let mut out = Findings::new();
    let allowed: Vec<&Patient> = patients.iter().filter(|p| p.allowed).collect();
    if allowed.is_empty() {
        if !g.constraints.is_empty() {
            out.insert((Code::ImpossibleCondition, vec!["constraints".into()]));
        }
        return out;
    }
    let n = g.rules.len();
    let holds = |i: usize| allowed.iter().filter(move |p| p.matches[i]);
    for (i, r) in g.rules.iter().enumerate() {
        let count = holds(i).count();
        if count == 0 {
            out.insert((Code::ImpossibleCondition, vec![r.1.clone()]));
        } else if count == allowed.len() {
            out.insert((Code::AlwaysTrue, vec![r.1.clone()]));
        }
    }
    let live = |i: usize| holds(i).next().is_some();
    match g.hit {
        "first" => {
            for i in (0..n).filter(|&i| live(i)) {
                let fires = holds(i).any(|p| !p.matches[..i].contains(&true));
                if !fires {
                    out.insert((Code::ShadowedRule, vec![g.rules[i].1.clone()]));
                    continue;
                }
                let mut takers = Vec::new();
                for j in 0..i {
                    let (ri, rj) = (&g.rules[i], &g.rules[j]);
                    if ri.2 == rj.2 || ri.3.is_disjoint(&rj.3) {
                        continue;
                    }
                    if holds(i).any(|p| p.matches[j] && !p.matches[..j].contains(&true)) {
                        takers.push(rj.1.clone());
                    }
                }
                if !takers.is_empty() {
                    takers.insert(0, g.rules[i].1.clone());
                    out.insert((Code::PartlyShadowed, takers));
                }
            }
        }
        hit => {
            for j in 0..n {
                for i in 0..j {
                    let same = g.rules[i].2 == g.rules[j].2;
                    if same && hit == "any" {
                        continue;
                    }
                    if holds(i).any(|p| p.matches[j]) {
                        let code = if same {
                            Code::RedundantOverlap
                        } else {
                            Code::OverlappingRules
                        };
                        out.insert((code, vec![g.rules[i].1.clone(), g.rules[j].1.clone()]));
                    }
                }
            }
        }
    }
    listed_codes(g, &allowed, &mut out);
    let decided = |p: &Patient| p.allowed && p.matches.contains(&true);
    let gap: Vec<&Patient> = allowed.iter().copied().filter(|p| !decided(p)).collect();
    if g.otherwise {
        if gap.is_empty() {
            out.insert((Code::UnreachableOtherwise, vec![]));
        }
        return out;
    }
    // Boundary gaps: a threshold value whose neighbours either side are decided, or are such
    // boundary patients themselves; grown to the least fixed point.
    let key = |values: &[Value]| format!("{values:?}");
    let index: BTreeMap<String, &Patient> = patients.iter().map(|p| (key(&p.values), p)).collect();
    let mut explained: BTreeSet<String> = BTreeSet::new();
    let mut points: BTreeSet<(usize, i64)>;
    loop {
        let mut next = BTreeSet::new();
        points = BTreeSet::new();
        for p in &gap {
            for (pos, &f) in g.facts.iter().enumerate() {
                // A related date has no boundary of its own (see `analyse`).
                if (!g.relations.is_empty() || !g.months.is_empty())
                    && matches!(FACTS[f].kind, Kind::Date { .. })
                {
                    continue;
                }
                let Some((step, min, max)) = FACTS[f].kind.line() else {
                    continue;
                };
                let Value::Num(x) = &p.values[pos] else {
                    continue;
                };
                let q = quarters(x.to_string().parse::<f64>().expect("a number"));
                if !g.thresholds.get(&f).is_some_and(|t| t.contains(&q)) {
                    continue;
                }
                let step = quarters(step);
                let mut ruled = false;
                let settled = [q - step, q + step].iter().all(|&side| {
                    let inside = min.is_none_or(|m| side >= quarters(m))
                        && max.is_none_or(|m| side <= quarters(m));
                    let mut moved = p.values.clone();
                    moved[pos] = Value::Num(Num::parse(&number_text(side)).expect("a number"));
                    let moved = key(&moved);
                    let neighbour = index.get(&moved).filter(|_| inside);
                    ruled |= neighbour.is_some_and(|m| decided(m));
                    neighbour.is_some_and(|m| decided(m) || explained.contains(&moved))
                });
                if settled && ruled {
                    next.insert(key(&p.values));
                    points.insert((f, q));
                }
            }
        }
        if next == explained {
            break;
        }
        explained = next;
    }
    for (f, q) in points {
        out.insert((
            Code::BoundaryGap,
            vec![FACTS[f].name.to_string(), number_text(q)],
        ));
    }
    if gap.iter().any(|p| !explained.contains(&key(&p.values))) {
        out.insert((Code::DecisionGap, vec![]));
    }
    out
}

/// W0413: for each set a rule lists for its outcome, the codes with which, as the patient's
/// only code of the set, no patient gets the outcome from that rule (when the rule decides
/// anyone at all), as (outcome, the codes).
fn listed_codes(g: &Generated, allowed: &[&Patient], out: &mut Findings) {
    let Some(pos) = g
        .facts
        .iter()
        .position(|&f| matches!(FACTS[f].kind, Kind::Codes))
    else {
        return;
    };
    let decides = |i: usize, p: &Patient| {
        p.matches[i]
            && match g.hit {
                "first" => !p.matches[..i].contains(&true),
                "unique" => (0..g.rules.len()).all(|j| j == i || !p.matches[j]),
                _ => (0..g.rules.len()).all(|j| g.rules[j].2 == g.rules[i].2 || !p.matches[j]),
            }
    };
    for (i, sets) in g.listed.iter().enumerate() {
        if !allowed.iter().any(|p| decides(i, p)) {
            continue;
        }
        for set in sets {
            let dead: Vec<String> = set
                .iter()
                .filter(|&&c| {
                    !allowed.iter().any(|p| {
                        let Value::Codes(has) = &p.values[pos] else {
                            return false;
                        };
                        let of_set: Vec<&String> =
                            has.iter().filter(|h| set.contains(&h.as_str())).collect();
                        of_set == [c] && decides(i, p)
                    })
                })
                .map(|c| c.to_string())
                .collect();
            if !dead.is_empty() {
                let names = std::iter::once(g.rules[i].2.clone()).chain(dead).collect();
                out.insert((Code::ListedCodeNeverCounts, names));
            }
        }
    }
}

/// The names in backticks in a message.
fn quoted(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The findings the analysis reports, as [`expected`] writes them.
fn reported(diagnostics: &[Diagnostic]) -> Findings {
    let mut out = Findings::new();
    for d in diagnostics {
        let names = quoted(&d.message);
        let key = match d.code {
            Code::OverlappingRules | Code::RedundantOverlap => names[..2].to_vec(),
            Code::ShadowedRule | Code::PartlyShadowed => names,
            Code::ImpossibleCondition if d.message.starts_with("the constraints") => {
                vec!["constraints".into()]
            }
            Code::ImpossibleCondition | Code::AlwaysTrue if d.message.contains("rule `") => {
                vec![names[0].clone()]
            }
            Code::BoundaryGap => {
                let value = d.message.rsplit("exactly ").next().unwrap_or_default();
                // The number before its unit (`6 weeks`, `70 kg`, `12.5%`), or a date.
                let number = value.split(' ').next().unwrap_or_default();
                let number = number.trim_end_matches('%');
                let q = match Date::parse(number) {
                    Some(date) => quarters(date.days() as f64),
                    None => quarters(number.parse::<f64>().expect("a number")),
                };
                vec![names[1].clone(), number_text(q)]
            }
            Code::DecisionGap | Code::UnreachableOtherwise => vec![],
            // The outcome and the items (each one code here), the set being written in place.
            Code::ListedCodeNeverCounts => names,
            // Conditions inside rules, redundant parts, unread facts: not what this checks.
            _ => continue,
        };
        out.insert((d.code, key));
    }
    out
}

/// The facts of an example patient as the analysis prints it: `a = 1, s = {x, y}`.
fn parse_example(program: &Program, example: &str) -> Assignment {
    let mut out = Assignment::new();
    for (name, value) in witness_pairs(example) {
        let (name, value) = (name.as_str(), value.as_str());
        let position = program
            .facts
            .iter()
            .position(|f| f.name == name)
            .expect("a fact");
        let def = FACTS
            .iter()
            .find(|f| f.name == name)
            .expect("a generated fact");
        let v = match def.kind {
            Kind::Bool => Value::Bool(value == "true"),
            Kind::Enum => Value::Enum(
                ENUM_VALUES
                    .iter()
                    .position(|v| *v == value)
                    .expect("an enum value") as u32,
            ),
            Kind::Codes => {
                let inner = value.trim_start_matches('{').trim_end_matches('}');
                let mut codes: Vec<String> = inner
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
                codes.sort();
                Value::Codes(codes)
            }
            Kind::Date { .. } => Value::Num(Num::from_int(day(value).into())),
            Kind::Number { .. } => {
                let value = value.trim_end_matches('%');
                let n = match value.split_once(' ') {
                    Some((amount, unit)) => {
                        let unit = Unit::parse(unit).expect("a unit");
                        let Kind::Number { suffix, .. } = def.kind else {
                            unreachable!("a number")
                        };
                        let own = Unit::parse(suffix.trim()).expect("the fact's unit");
                        Num::parse(amount)
                            .expect("a number")
                            .checked_mul(unit.exact_factor(own).expect("one dimension"))
                            .expect("in range")
                    }
                    None => Num::parse(value).expect("a number"),
                };
                Value::Num(n)
            }
        };
        out.insert(FactId(position as u32), v);
    }
    out
}

/// Every example the analysis prints reproduces its claim with the interpreter.
fn check_examples(
    g: &Generated,
    program: &ValidProgram,
    code_sets: &medpol::codeset::CodeSets,
    diagnostics: &[Diagnostic],
) -> Result<(), String> {
    let rule_id = |name: &str| {
        program.decisions[0]
            .rules
            .iter()
            .position(|r| r.name == name)
            .expect("a rule")
    };
    let q = |i: usize, a: &Assignment| evaluate(program, code_sets, DecisionId(1 + i as u32), a);
    for d in diagnostics {
        // A finding the analysis says may concern values no patient has (W0420's note).
        if d.notes.iter().any(|n| n.contains(APPROXIMATE)) {
            continue;
        }
        for note in &d.notes {
            let example = if let Some(e) = note.strip_prefix("for example: ") {
                e
            } else if let Some(e) = note.strip_prefix("for example, ") {
                e.split_once(" to: ").map(|x| x.1).unwrap_or_default()
            } else {
                continue;
            };
            let facts = parse_example(program, example);
            let result = evaluate(program, code_sets, DecisionId(0), &facts);
            let names = quoted(&d.message);
            let ok = match d.code {
                Code::OverlappingRules | Code::RedundantOverlap => match &result {
                    Evaluation::Conflict { rules } => {
                        let ids: Vec<usize> = rules.iter().map(|r| r.0 as usize).collect();
                        ids.contains(&rule_id(&names[0])) && ids.contains(&rule_id(&names[1]))
                    }
                    _ => false,
                },
                Code::PartlyShadowed => {
                    let taker = quoted(note)[0].clone();
                    let shadowed = rule_id(&names[0]);
                    let by = rule_id(&taker);
                    matches!(&result, Evaluation::Decided { by: b, .. } if b == &vec![By::Rule(medpol::ir::RuleId(by as u32))])
                        && q(shadowed, &facts)
                            == Evaluation::Decided {
                                outcome: medpol::ir::OutcomeId(0),
                                by: vec![By::Rule(medpol::ir::RuleId(0))],
                            }
                }
                Code::DecisionGap => result == Evaluation::NoRule,
                Code::BoundaryGap => {
                    let position = program
                        .facts
                        .iter()
                        .position(|f| f.name == names[1])
                        .expect("a fact");
                    let at = d.message.rsplit("exactly ").next().unwrap_or_default();
                    let expected = parse_example(program, &format!("{} = {at}", names[1]));
                    result == Evaluation::NoRule
                        && facts.get(&FactId(position as u32))
                            == expected.get(&FactId(position as u32))
                }
                _ => true,
            };
            if !ok {
                return Err(format!(
                    "{:?} `{}`: example `{example}` gives {result:?}\n{}",
                    d.code, d.message, g.text
                ));
            }
        }
    }
    Ok(())
}

/// The words of W0420's note on a finding that may concern values no patient has together.
const APPROXIMATE: &str = "reasoned over as independent values";

/// With calendar months, which the analysis reasons over as values of their own (an
/// over-approximation, said by W0420), and a grid that cannot be complete for them: every
/// overlap and gap the grid's real patients show is reported (a gap as a gap or a boundary
/// gap), and no grid patient refutes a claim about all patients (impossible, always true,
/// shadowed, an unreachable `otherwise`) that the analysis makes. Findings it reports beyond
/// the grid's must say that they may concern no patient, unless their example, checked by
/// [`check_examples`], is a real one.
fn sound(
    g: &Generated,
    patients: &[Patient],
    want: &Findings,
    got: &Findings,
    found: &[Diagnostic],
) -> Result<(), String> {
    let gap = |f: &Findings| {
        f.iter()
            .any(|(c, _)| matches!(c, Code::DecisionGap | Code::BoundaryGap))
    };
    for (code, names) in want {
        let missed = match code {
            Code::OverlappingRules | Code::RedundantOverlap => {
                !got.contains(&(*code, names.clone()))
            }
            // Patients beyond the real ones may be taken by more rules: the rules the grid
            // shows taking some of the shadowed rule's patients are among those reported.
            Code::PartlyShadowed => !got.iter().any(|(c, n)| {
                *c == Code::PartlyShadowed
                    && n.first() == names.first()
                    && names.iter().skip(1).all(|x| n.contains(x))
            }),
            Code::DecisionGap | Code::BoundaryGap => !gap(got),
            _ => false,
        };
        if missed {
            return Err(format!(
                "the grid shows {code:?} {names:?}, not reported: {got:?}"
            ));
        }
    }
    let allowed: Vec<&Patient> = patients.iter().filter(|p| p.allowed).collect();
    let rule = |name: &str| g.rules.iter().position(|r| r.1 == name);
    for (code, names) in got {
        let name = names.first().map(String::as_str).unwrap_or_default();
        let refuted = match (code, rule(name)) {
            (Code::ImpossibleCondition, _) if name == "constraints" => !allowed.is_empty(),
            (Code::ImpossibleCondition, Some(i)) => allowed.iter().any(|p| p.matches[i]),
            (Code::AlwaysTrue, Some(i)) => allowed.iter().any(|p| !p.matches[i]),
            (Code::ShadowedRule, Some(i)) => allowed
                .iter()
                .any(|p| p.matches[i] && !p.matches[..i].contains(&true)),
            (Code::UnreachableOtherwise, _) => allowed.iter().any(|p| !p.matches.contains(&true)),
            _ => false,
        };
        if refuted {
            return Err(format!(
                "reported {code:?} {names:?}, which the grid refutes: {want:?}"
            ));
        }
    }
    // Constraints that exclude every patient end the analysis before any relation is read.
    let excluded = got.contains(&(Code::ImpossibleCondition, vec!["constraints".into()]));
    if !excluded && !found.iter().any(|d| d.code == Code::RelationsApproximated) {
        return Err("calendar months without W0420".to_string());
    }
    Ok(())
}

/// Generates, analyses and compares `count` policies from `seed`; returns how many were
/// compared, or the first disagreement.
fn run(seed: u64, count: usize) -> Result<usize, String> {
    let mut rng = Rng::new(seed);
    let tables = TableSet::shipped().clone();
    // Describing each decision checks, in debug builds, that every outcome's groups hold
    // exactly its patients (`analyse::describe`): on every random policy too.
    let options = Options {
        tables: Some(tables.clone()),
        describe: true,
        ..Options::default()
    };
    let mut compared = 0;
    let mut seen = BTreeMap::new();
    for n in 0..count {
        let g = generate(&mut rng);
        let Some((analysed, _)) = checked(&g.text) else {
            continue;
        };
        // A constraint may ask for codes an Excludes1 note forbids together in a rule (E0312):
        // such a policy has no oracle.
        let Some((oracle, _)) = checked(&oracle_text(&g)) else {
            continue;
        };
        let date = oracle.policies[0].meta.effective;
        let code_sets =
            medpol::codeset::CodeCache::default().code_sets(&oracle, Some(&tables), date);
        let yes = |i: usize, a: &Assignment| match evaluate(
            &oracle,
            &code_sets,
            DecisionId(1 + i as u32),
            a,
        ) {
            Evaluation::Decided { outcome, .. } => outcome.0 == 0,
            other => panic!("a complete patient is decided: {other:?}\n{}", g.text),
        };
        let patients: Vec<Patient> = grid(&g)
            .into_iter()
            .map(|values| {
                let a = assignment(&values);
                let matches = (0..g.rules.len()).map(|i| yes(i, &a)).collect();
                let allowed = (0..g.constraints.len()).all(|c| yes(g.rules.len() + c, &a));
                Patient {
                    values,
                    matches,
                    allowed,
                }
            })
            .collect();
        let want = expected(&g, &patients);
        let analysis = analyse::analyse(&analysed, &options);
        // A description that would not hold exactly its outcome's patients is not given, and
        // leaves its decision incomplete: every decision must be complete.
        if analysis.complete.len() != analysed.decisions.len() {
            return Err(format!(
                "policy {n} of seed {seed}: {} of {} decisions analysed and described\n{}",
                analysis.complete.len(),
                analysed.decisions.len(),
                g.text
            ));
        }
        let found = analysis.diagnostics;
        let got = reported(&found);
        if !g.months.is_empty() {
            sound(&g, &patients, &want, &got, &found)
                .map_err(|e| format!("policy {n} of seed {seed}:\n{}\n{e}", g.text))?;
            check_examples(&g, &oracle, &code_sets, &found)?;
            *seen.entry("calendar months (sound)").or_insert(0usize) += 1;
            compared += 1;
            continue;
        }
        if want != got {
            return Err(format!(
                "policy {n} of seed {seed}:\n{}\nexpected {want:?}\nreported {got:?}",
                g.text
            ));
        }
        check_examples(&g, &oracle, &code_sets, &found)?;
        for (code, _) in &want {
            *seen.entry(code.as_str()).or_insert(0usize) += 1;
        }
        compared += 1;
    }
    eprintln!("findings compared, by code: {seen:?}");
    Ok(compared)
}

#[test]
fn the_analysis_agrees_with_brute_force() {
    let compared = run(19, 200).unwrap_or_else(|e| panic!("{e}"));
    assert!(compared > 150, "only {compared} policies checked");
}

/// The long run: `cargo test --release --test analysis_exhaustive -- --ignored`, with
/// `MEDPOL_EXHAUSTIVE_COUNT` policies (default 20,000) from `MEDPOL_EXHAUSTIVE_SEED`.
#[test]
#[ignore]
fn long_run() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seed = env("MEDPOL_EXHAUSTIVE_SEED", 2026);
    let count = env("MEDPOL_EXHAUSTIVE_COUNT", 20_000) as usize;
    let compared = run(seed, count).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{compared} of {count} policies compared");
}
