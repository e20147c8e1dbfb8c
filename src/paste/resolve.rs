//! What a code candidate is, by the tables in force: a code, a printed pattern, a heading, a
//! code a table of selected codes does not list, or damage; and for damage, which codes it may
//! be and whether the evidence singles one out.

use std::collections::HashSet;

use crate::codes::{CodeForm, System, parse_code};
use crate::codeset::table_in_force;
use crate::tables::{Slip, SlipKind, Table, TableSet};
use crate::types::Date;

use super::text::{nearest, normal};

/// The characters an ICD-10-PCS code can start with: its sections.
const PCS_SECTIONS: &str = "0123456789BCDFGHX";
/// A repair without a description to confirm it has only slips a reader makes, costing at
/// most this much (a look-alike slip 25, a letter read as its strokes 35, a smudge 55).
const SLIP_LIMIT: u32 = 100;
/// ... and is at least this much cheaper than any other candidate (one look-alike slip: `2`
/// read for `Z` is a look-alike, `7` for `Z` only a similar shape), unless the other needs
/// every slip it does and more (`M4850XA` is `M48.50XA`, not `M48.58XA`).
const MARGIN: i64 = 25;

/// The tables in force on the date, one per system, and the system the user named, if any.
pub struct InForce<'t> {
    tables: Vec<(System, &'t Table)>,
    forced: Option<System>,
}

impl<'t> InForce<'t> {
    pub fn new(set: &'t TableSet, date: Date, forced: Option<System>) -> InForce<'t> {
        let tables = System::ALL
            .iter()
            .filter_map(|s| table_in_force(set, *s, Some(date)).map(|t| (*s, t)))
            .collect();
        InForce { tables, forced }
    }

    pub fn table(&self, system: System) -> Option<&'t Table> {
        self.tables
            .iter()
            .find(|(s, _)| *s == system)
            .map(|(_, t)| *t)
    }

    /// The systems a code may be of: the one named, or all.
    pub fn systems(&self) -> Vec<System> {
        match self.forced {
            Some(s) => vec![s],
            None => System::ALL.to_vec(),
        }
    }

    pub fn forced(&self) -> Option<System> {
        self.forced
    }

    /// The table's description of a code, when the table lists every code of its kind (so
    /// that its descriptions are the release's own, not a local table's labels).
    pub fn description(&self, system: System, code: &str) -> Option<String> {
        let table = self.table(system)?;
        if !table.covers(code) {
            return None;
        }
        table.lookup(code).map(|e| e.long())
    }

    pub fn release(&self, system: System) -> Option<&'t str> {
        self.table(system).map(Table::release)
    }
}

/// What a code candidate is, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// A billable code of the table in force.
    Code { system: System, code: String },
    /// A printed pattern (`M80.08X-`): the codes of the table below it.
    Pattern {
        system: System,
        prefix: String,
        codes: Vec<String>,
    },
    /// A heading of the table: not valid on a claim.
    Heading { system: System, code: String },
    /// A well-formed code that the table does not list because it lists only some codes of
    /// its system (or there is no table): taken as written.
    Unlisted { system: System, code: String },
    /// Not a code of any table: damage, to be repaired from evidence or reported. `systems`
    /// are those whose form the text has (`D47.29` is a well-formed ICD-10-CM code that does
    /// not exist); empty when it has none (`WI40.50XA`).
    Damaged { systems: Vec<System> },
}

impl Reading {
    pub fn system(&self) -> Option<System> {
        match self {
            Reading::Code { system, .. }
            | Reading::Pattern { system, .. }
            | Reading::Heading { system, .. }
            | Reading::Unlisted { system, .. } => Some(*system),
            Reading::Damaged { .. } => None,
        }
    }
}

fn pcs_section(text: &str) -> bool {
    text.starts_with(|c: char| PCS_SECTIONS.contains(c.to_ascii_uppercase()))
}

/// Reads a code candidate against the tables in force.
pub fn read(tables: &InForce<'_>, token: &str) -> Reading {
    let pattern_written = token.ends_with(['-', '*']);
    let mut found: Vec<Reading> = Vec::new();
    let mut damaged = Vec::new();
    for system in tables.systems() {
        if system == System::Icd10Pcs && tables.forced().is_none() && !pcs_section(token) {
            continue;
        }
        let table = tables.table(system);
        match parse_code(system, token) {
            Ok(CodeForm::Exact(code)) => match table {
                Some(t) => match t.lookup(&code) {
                    Some(e) if e.is_billable() => return Reading::Code { system, code },
                    Some(_) => found.push(Reading::Heading { system, code }),
                    None if !t.covers(&code) => found.push(Reading::Unlisted { system, code }),
                    None => damaged.push(system),
                },
                None => found.push(Reading::Unlisted { system, code }),
            },
            Ok(CodeForm::Prefix(prefix)) if pattern_written => {
                let codes: Vec<String> = table
                    .filter(|t| t.covers(&prefix))
                    .map(|t| {
                        t.billable_under(&prefix)
                            .map(|e| e.code().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                if codes.is_empty() {
                    damaged.push(system);
                } else {
                    found.push(Reading::Pattern {
                        system,
                        prefix,
                        codes,
                    });
                }
            }
            _ => {}
        }
    }
    // A pattern or heading of one system before a code another table cannot judge.
    found.sort_by_key(|r| match r {
        Reading::Pattern { .. } => 0,
        Reading::Heading { .. } => 1,
        _ => 2,
    });
    found
        .into_iter()
        .next()
        .unwrap_or(Reading::Damaged { systems: damaged })
}

/// A code a damaged candidate may be.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub system: System,
    pub code: String,
    /// The cost of the slips less the bonus for being a sibling of a code read near it (the
    /// scale of `tables::Suggestion`: 100 is one plain edit, a factor of a hundred); lower is
    /// likelier.
    pub cost: i64,
    /// The cost of the slips alone.
    pub slips_cost: u32,
    pub slips: Vec<Slip>,
    /// The table's description in normal form, when the table lists every code of its kind.
    pub description: Option<String>,
}

impl Candidate {
    pub fn slips_text(&self) -> String {
        let slips: Vec<String> = self.slips.iter().map(ToString::to_string).collect();
        slips.join(", ")
    }

    /// Only slips a reader or OCR makes (look-alike characters, strokes, smudges, dots and
    /// placeholders), no typist's edit.
    pub fn only_reading_slips(&self) -> bool {
        self.slips.iter().all(|s| {
            matches!(
                s.kind,
                SlipKind::LookAlike | SlipKind::Smudge | SlipKind::Dot | SlipKind::Placeholder
            )
        })
    }
}

/// A code that is a sibling of a code read near it (same parent) is likelier than another
/// as near: a damaged code in a list is most often a neighbour's sibling. The bonus is one
/// look-alike slip, so it singles out a sibling only among readings otherwise as near. A
/// code read elsewhere in the paste gets none: printed again, it would be a duplicate (a
/// continuation line is found by its description instead).
const SIBLING_OF_NEAR: i64 = 25;
/// Siblings of one code read near it considered at most.
const MAX_SIBLINGS: usize = 64;

/// The billable codes of the tables of `systems` that the written candidate may be, likeliest
/// first: the table's nearest codes and the siblings of the codes read near it (`near`), but
/// not codes farther than about one plain edit per two characters.
pub fn candidates(
    tables: &InForce<'_>,
    systems: &[System],
    written: &str,
    near: &[&str],
    taken: &HashSet<String>,
) -> Vec<Candidate> {
    let cap = 100 + 50 * written.chars().count() as u32;
    let mut out: Vec<Candidate> = Vec::new();
    for &system in systems {
        let Some(table) = tables.table(system) else {
            continue;
        };
        let parent = |code: &str| {
            table
                .lookup(code)
                .and_then(|e| e.parent())
                .map(|p| p.code().to_string())
        };
        let parents: Vec<String> = near.iter().filter_map(|c| parent(c)).collect();
        let mut codes: Vec<String> = table
            .suggest(written)
            .into_iter()
            .filter(|s| s.billable)
            .map(|s| s.code)
            .collect();
        for p in &parents {
            codes.extend(
                table
                    .children(p)
                    .iter()
                    .filter(|e| e.is_billable())
                    .take(MAX_SIBLINGS)
                    .map(|e| e.code().to_string()),
            );
        }
        for code in codes {
            if out.iter().any(|c| c.code == code) {
                continue;
            }
            let Some(cmp) = table.compare(written, &code).filter(|c| c.cost <= cap) else {
                continue;
            };
            let sibling = parent(&code).is_some_and(|p| parents.contains(&p));
            let bonus = if sibling && !taken.contains(&code) {
                SIBLING_OF_NEAR
            } else {
                0
            };
            out.push(Candidate {
                system,
                description: tables.description(system, &code).map(|d| normal(&d)),
                cost: i64::from(cmp.cost) - bonus,
                slips_cost: cmp.cost,
                slips: cmp.slips,
                code,
            });
        }
    }
    out.sort_by(|a, b| (a.cost, &a.code).cmp(&(b.cost, &b.code)));
    out
}

/// Whether `a`'s slips are some of `b`'s and fewer: `b` needs every slip `a` does, and more.
fn fewer_slips(a: &Candidate, b: &Candidate) -> bool {
    let mut rest: Vec<&Slip> = b.slips.iter().collect();
    for slip in &a.slips {
        match rest.iter().position(|s| *s == slip) {
            Some(at) => {
                rest.remove(at);
            }
            None => return false,
        }
    }
    !rest.is_empty()
}

/// Why a repair was proposed.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// The printed description is the table's description of this code, and of no other
    /// candidate.
    Description,
    /// No description to compare: the slips are few and no other code comes close.
    Slips,
}

/// What the evidence says of a damaged candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Repair(Candidate, Evidence),
    /// Not recognised: why, in words that complete "not recognised: ...", and the codes that
    /// came closest.
    Unrecognised(String, Vec<Candidate>),
}

/// Decides a damaged candidate from its candidates and the printed description (normal form;
/// empty when none).
pub fn decide(candidates: &[Candidate], description: &str) -> Decision {
    let closest = |n: usize| candidates.iter().take(n).cloned().collect::<Vec<_>>();
    if candidates.is_empty() {
        return Decision::Unrecognised("no code of the tables is near it".into(), Vec::new());
    }
    let described: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.description.is_some())
        .collect();
    if !description.is_empty() && !described.is_empty() {
        let texts: Vec<&str> = described
            .iter()
            .filter_map(|c| c.description.as_deref())
            .collect();
        return match nearest(description, &texts) {
            Ok(i) => match described.get(i) {
                Some(one) => Decision::Repair((*one).clone(), Evidence::Description),
                None => Decision::Unrecognised(
                    "no code near it has the printed description".into(),
                    closest(3),
                ),
            },
            Err(tied) if tied.is_empty() => Decision::Unrecognised(
                "no code near it has the printed description".into(),
                closest(3),
            ),
            Err(tied) => Decision::Unrecognised(
                format!(
                    "the printed description is as near the descriptions of {} codes",
                    tied.len()
                ),
                tied.iter()
                    .filter_map(|i| described.get(*i))
                    .map(|c| (*c).clone())
                    .collect(),
            ),
        };
    }
    let Some(best) = candidates.first() else {
        return Decision::Unrecognised("no code of the tables is near it".into(), Vec::new());
    };
    // Every other candidate is far less likely, or needs every slip the best does and more.
    let rivals: Vec<&Candidate> = candidates
        .iter()
        .skip(1)
        .filter(|c| (c.cost < best.cost + MARGIN && !fewer_slips(best, c)) || fewer_slips(c, best))
        .collect();
    let clear = rivals.is_empty();
    // Without a description, only slips a reader makes are taken: a typist's edit (`R` for
    // `8`) can make a code of almost anything.
    let reading = best.only_reading_slips();
    if best.slips_cost <= SLIP_LIMIT && clear && reading {
        return Decision::Repair(best.clone(), Evidence::Slips);
    }
    if !clear {
        let close: Vec<Candidate> = std::iter::once(best)
            .chain(rivals)
            .take(4)
            .cloned()
            .collect();
        return Decision::Unrecognised(
            format!(
                "{} codes are about as near and nothing printed tells them apart",
                close.len()
            ),
            close,
        );
    }
    if !reading {
        return Decision::Unrecognised(
            format!(
                "its nearest code needs a typist's slip ({}), which is not taken without a printed description",
                best.slips_text()
            ),
            closest(1),
        );
    }
    Decision::Unrecognised(
        "no code is near enough to take without a printed description".into(),
        closest(3),
    )
}
