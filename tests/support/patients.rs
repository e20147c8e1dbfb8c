//! Generated patients for an artifact, written two ways: as facts for `medpol eval --batch`
//! (durations with their unit, percentages with `%`) and as rows of the SQL facts table
//! (`docs/sql.md`: durations in days or months, numbers in the fact's unit). Values are drawn
//! at and next to every threshold the decisions test, dates around one anchor (the end of a
//! month, where calendar months are subtle) shifted by every difference and window the
//! decisions test, codes from inside and outside the code sets; any fact, and any field of a
//! list's item, may be missing.
// The test and the benchmark use different parts.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use medpol::artifact::date::Date;
use medpol::artifact::num::{Num, Unit};
use medpol::artifact::{Cond, Document, FactSchema, FactType, Test, parse_num};

#[path = "random.rs"]
mod random;
pub use random::Rng;

/// A value as `eval` reads it and as the facts table holds it.
#[derive(Clone, Debug)]
pub struct Value {
    pub eval: serde_json::Value,
    pub sql: serde_json::Value,
}

/// What to draw for each fact (and each field of each record).
pub struct Generator {
    facts: Vec<(String, Pool)>,
}

enum Pool {
    Values(Vec<Value>),
    Codes(Vec<String>, Vec<Vec<String>>),
    List(Vec<(String, Vec<Value>)>),
    None,
}

/// The anchor of generated dates: the last day of a month after a leap February.
const ANCHOR: &str = "2024-03-31";

/// Codes outside the policies' sets that every shipped release has (a code a release does not
/// have would make the facts bad).
fn outside_codes(system: &str) -> &'static [&'static str] {
    match system {
        "cpt" => &["22551", "99213"],
        "icd10cm" => &["S32.020A", "Z00.00", "I10"],
        "icd10pcs" => &["0016070"],
        _ => &[],
    }
}

impl Generator {
    pub fn new(doc: &Document) -> Generator {
        let mut numbers: BTreeMap<u32, BTreeSet<Num>> = BTreeMap::new();
        let mut days: BTreeSet<i64> = BTreeSet::new();
        let mut months: BTreeSet<i64> = BTreeSet::new();
        let mut dates: BTreeSet<i64> = BTreeSet::new();
        let mut sets: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        let mut conds: BTreeMap<u32, Vec<Cond>> = BTreeMap::new();
        for d in &doc.decisions {
            for n in &d.nodes {
                match &n.test {
                    Test::Compare { value, .. } => match Date::parse(value) {
                        Some(date) => {
                            dates.insert(date.days());
                        }
                        None => {
                            numbers.entry(n.fact).or_default().extend(parse_num(value));
                        }
                    },
                    Test::Difference {
                        other, value, unit, ..
                    } => {
                        let v = parse_num(value).unwrap();
                        match unit.as_deref() {
                            Some("months") => {
                                months.insert(v.floor().to_i64().unwrap());
                            }
                            Some("days") => {
                                days.insert(v.floor().to_i64().unwrap());
                            }
                            _ => {}
                        }
                        // Numbers: the first fact at the second's values plus the threshold.
                        let second: Vec<Num> =
                            numbers.get(other).into_iter().flatten().copied().collect();
                        let first = numbers.entry(n.fact).or_default();
                        first.insert(v);
                        for s in second {
                            first.extend(s.checked_add(v));
                        }
                    }
                    Test::CodeIn { set } => {
                        sets.entry(n.fact).or_default().insert(*set);
                    }
                    Test::Has { inside, not_in, .. } => {
                        sets.entry(n.fact)
                            .or_default()
                            .extend(inside.iter().chain(not_in));
                    }
                    Test::Count { filter, .. } => {
                        conds.entry(n.fact).or_default().extend(filter.clone());
                    }
                    _ => {}
                }
            }
        }
        // Item fields: their values, sets and windows.
        let mut field_numbers: BTreeMap<(u32, u32), BTreeSet<Num>> = BTreeMap::new();
        let mut field_values: BTreeMap<(u32, u32), BTreeSet<String>> = BTreeMap::new();
        let mut field_sets: BTreeMap<(u32, u32), BTreeSet<u32>> = BTreeMap::new();
        for (list, cs) in &conds {
            let mut todo: Vec<&Cond> = cs.iter().collect();
            while let Some(c) = todo.pop() {
                match c {
                    Cond::And { all } => todo.extend(all),
                    Cond::Or { any } => todo.extend(any),
                    Cond::Not { not } => todo.push(not),
                    Cond::Compare { field, value, .. } => match Date::parse(value) {
                        Some(date) => {
                            dates.insert(date.days());
                        }
                        None => {
                            field_numbers
                                .entry((*list, *field))
                                .or_default()
                                .extend(parse_num(value));
                        }
                    },
                    Cond::EnumIn { field, values } => {
                        field_values
                            .entry((*list, *field))
                            .or_default()
                            .extend(values.iter().cloned());
                    }
                    Cond::CodeIn { field, set } => {
                        field_sets.entry((*list, *field)).or_default().insert(*set);
                    }
                    Cond::Window { amount, unit, .. } => {
                        if unit == "months" {
                            months.insert(i64::from(*amount));
                        } else {
                            days.insert(i64::from(*amount));
                        }
                    }
                    _ => {}
                }
            }
        }
        // Dates: the anchor and the dates before and after it by each difference, each by a
        // day more and less; the thresholds of dates and next to them.
        let anchor = Date::parse(ANCHOR).unwrap();
        let mut pool: BTreeSet<i64> = BTreeSet::new();
        pool.insert(anchor.days());
        for d in &days {
            for delta in -1..=1 {
                pool.insert(anchor.days() - d + delta);
                pool.insert(anchor.days() + d + delta);
            }
        }
        for m in &months {
            for sign in [-1i64, 1] {
                let shifted = shift_months(anchor, sign * m);
                for delta in -1..=1 {
                    pool.insert(shifted.days() + delta);
                }
            }
        }
        for d in &dates {
            for delta in -1..=1 {
                pool.insert(d + delta);
            }
        }
        let date_values: Vec<Value> = pool
            .iter()
            .filter_map(|d| Date::from_days(*d))
            .map(|d| {
                let text = serde_json::json!(d.to_string());
                Value {
                    eval: text.clone(),
                    sql: text,
                }
            })
            .collect();

        let codes_of = |sets: Option<&BTreeSet<u32>>, system: &str| -> Vec<String> {
            let mut codes: BTreeSet<String> = BTreeSet::new();
            for s in sets.into_iter().flatten() {
                if let Some(set) = doc.code_sets.get(*s as usize) {
                    codes.extend(set.codes.iter().take(8).cloned());
                    codes.extend(set.codes.last().cloned());
                }
            }
            codes.extend(outside_codes(system).iter().map(|c| c.to_string()));
            codes.into_iter().collect()
        };
        let scalar = |f: &FactSchema,
                      nums: Option<&BTreeSet<Num>>,
                      values: Option<&BTreeSet<String>>,
                      sets: Option<&BTreeSet<u32>>|
         -> Pool {
            match f.ty {
                FactType::Bool => Pool::Values(
                    [true, false]
                        .map(|b| Value {
                            eval: serde_json::json!(b),
                            sql: serde_json::json!(b),
                        })
                        .to_vec(),
                ),
                FactType::Enum => Pool::Values(
                    f.values
                        .iter()
                        .chain(values.into_iter().flatten())
                        .filter(|v| f.values.contains(v))
                        .map(|v| Value {
                            eval: serde_json::json!(v),
                            sql: serde_json::json!(v),
                        })
                        .collect(),
                ),
                FactType::Date => Pool::Values(date_values.clone()),
                FactType::Code => Pool::Values(
                    codes_of(sets, f.system.as_deref().unwrap_or(""))
                        .into_iter()
                        .map(|c| Value {
                            eval: serde_json::json!(c),
                            sql: serde_json::json!(c),
                        })
                        .collect(),
                ),
                FactType::Codes => {
                    let codes = codes_of(sets, f.system.as_deref().unwrap_or(""));
                    // Whole sets (small ones), for `has all`.
                    let whole = sets
                        .into_iter()
                        .flatten()
                        .filter_map(|s| doc.code_sets.get(*s as usize))
                        .filter(|s| s.codes.len() <= 40)
                        .map(|s| s.codes.clone())
                        .collect();
                    Pool::Codes(codes, whole)
                }
                FactType::Int
                | FactType::Decimal
                | FactType::Duration
                | FactType::Percent
                | FactType::Quantity => Pool::Values(numbers_of(f, nums)),
                FactType::List => Pool::None,
            }
        };
        let facts = doc
            .facts
            .iter()
            .enumerate()
            .filter(|(_, f)| f.formula.is_none() && f.read)
            .map(|(i, f)| {
                let i = i as u32;
                let pool = match f.ty {
                    FactType::List => {
                        let record = f.record.and_then(|r| doc.records.get(r as usize));
                        Pool::List(
                            record
                                .map(|r| {
                                    r.fields
                                        .iter()
                                        .enumerate()
                                        .map(|(j, field)| {
                                            let key = (i, j as u32);
                                            let pool = scalar(
                                                field,
                                                field_numbers.get(&key),
                                                field_values.get(&key),
                                                field_sets.get(&key),
                                            );
                                            let values = match pool {
                                                Pool::Values(v) => v,
                                                _ => Vec::new(),
                                            };
                                            (field.name.clone(), values)
                                        })
                                        .collect()
                                })
                                .unwrap_or_default(),
                        )
                    }
                    _ => scalar(f, numbers.get(&i), None, sets.get(&i)),
                };
                (f.name.clone(), pool)
            })
            .collect();
        Generator { facts }
    }

    /// One patient: its facts for `eval` and its row (with the key `id`), as JSON objects.
    pub fn patient(&self, rng: &mut Rng, id: &str) -> (serde_json::Value, serde_json::Value) {
        let mut eval = serde_json::Map::new();
        let mut sql = serde_json::Map::new();
        sql.insert("id".into(), serde_json::json!(id));
        // Each patient its own share of missing facts and of true flags: criteria that need
        // many flags true (or all known) are met only by some patients.
        let missing = *rng.pick(&[0, 3, 10, 30]);
        let truth = *rng.pick(&[10, 50, 90]);
        for (name, pool) in &self.facts {
            if rng.chance(missing) {
                continue;
            }
            let value = match pool {
                Pool::Values(values) if values.len() == 2 && values[0].sql.is_boolean() => {
                    let b = rng.chance(truth);
                    Value {
                        eval: serde_json::json!(b),
                        sql: serde_json::json!(b),
                    }
                }
                Pool::Values(values) if !values.is_empty() => rng.pick(values).clone(),
                Pool::Codes(codes, whole) => {
                    let list: Vec<String> = if !whole.is_empty() && rng.chance(10) {
                        rng.pick(whole).clone()
                    } else {
                        let n = rng.below(4);
                        (0..n).map(|_| rng.pick(codes).clone()).collect()
                    };
                    Value {
                        eval: serde_json::json!(list),
                        sql: serde_json::json!(list),
                    }
                }
                Pool::List(fields) => {
                    let n = rng.below(6);
                    let mut eval_items = Vec::new();
                    let mut sql_items = Vec::new();
                    for _ in 0..n {
                        let mut e = serde_json::Map::new();
                        let mut s = serde_json::Map::new();
                        for (field, values) in fields {
                            if values.is_empty() || rng.chance(12) {
                                continue;
                            }
                            let v = rng.pick(values);
                            e.insert(field.clone(), v.eval.clone());
                            s.insert(field.clone(), v.sql.clone());
                        }
                        eval_items.push(serde_json::Value::Object(e));
                        sql_items.push(serde_json::Value::Object(s));
                    }
                    Value {
                        eval: serde_json::Value::Array(eval_items),
                        sql: serde_json::Value::Array(sql_items),
                    }
                }
                _ => continue,
            };
            eval.insert(name.clone(), value.eval);
            sql.insert(name.clone(), value.sql);
        }
        (
            serde_json::Value::Object(eval),
            serde_json::Value::Object(sql),
        )
    }
}

/// The date `months` calendar months from `date`, on the month's last day when it has no such
/// day.
fn shift_months(date: Date, months: i64) -> Date {
    let index = i64::from(date.year) * 12 + i64::from(date.month) - 1 + months;
    let (year, month) = (
        index.div_euclid(12) as u16,
        (index.rem_euclid(12) + 1) as u8,
    );
    (1..=date.day)
        .rev()
        .find_map(|day| Date::parse(&format!("{year:04}-{month:02}-{day:02}")))
        .unwrap()
}

/// Numbers for a fact: each threshold, one and a hundredth more and less, and zero, within
/// the fact's range and its type's bounds; as `eval` reads them (with the fact's unit) and as
/// the column holds them (durations in days or months).
fn numbers_of(f: &FactSchema, thresholds: Option<&BTreeSet<Num>>) -> Vec<Value> {
    let unit = f.unit.as_deref().and_then(Unit::parse);
    let whole = f.ty == FactType::Int;
    let mut nums: BTreeSet<Num> = BTreeSet::new();
    nums.insert(Num::from_int(0));
    nums.insert(Num::from_int(3));
    let step = |n: i128, d: i128| Num::ratio(n, d).unwrap();
    for t in thresholds.into_iter().flatten() {
        // A fraction is drawn at its nearest hundredths.
        let t = if t.to_string().contains('/') {
            step((t.numer() * 100) / t.denom(), 100)
        } else {
            *t
        };
        nums.insert(t);
        for d in [step(1, 1), step(1, 100)] {
            if whole && d != step(1, 1) {
                continue;
            }
            nums.extend(t.checked_add(d));
            nums.extend(t.checked_sub(d));
        }
    }
    let nonnegative = match f.ty {
        FactType::Duration | FactType::Percent => true,
        FactType::Quantity => unit.is_some_and(Unit::nonnegative),
        _ => false,
    };
    let range = f.range.as_ref().and_then(|r| r.bounds());
    nums.retain(|n| {
        (!nonnegative || !n.is_negative())
            && (f.ty != FactType::Percent || *n <= Num::from_int(100))
            && range.is_none_or(|(lo, hi)| lo <= *n && *n <= hi)
            && (!whole || n.is_integer())
    });
    let factor = match (f.ty, unit) {
        (FactType::Duration, Some(Unit::Week)) => Num::from_int(7),
        (FactType::Duration, Some(Unit::Year)) => Num::from_int(12),
        _ => Num::from_int(1),
    };
    nums.into_iter()
        .map(|n| {
            let stored = n.checked_mul(factor).unwrap();
            let eval = match (f.ty, unit) {
                (FactType::Percent, _) => serde_json::json!(format!("{n}%")),
                (FactType::Duration, Some(u)) | (FactType::Quantity, Some(u)) => {
                    serde_json::json!(format!("{n} {}", u.name()))
                }
                _ => serde_json::json!(n.to_string()),
            };
            let sql: serde_json::Value = serde_json::from_str(&stored.to_string()).unwrap();
            Value { eval, sql }
        })
        .collect()
}

/// A patient's facts as `eval` reads them (the forms [`Generator`] and the witness patients
/// write) as a row of the facts table.
pub fn to_row(
    doc: &Document,
    facts: &serde_json::Map<String, serde_json::Value>,
    id: &str,
) -> serde_json::Value {
    let mut row = serde_json::Map::new();
    row.insert("id".into(), serde_json::json!(id));
    for (name, value) in facts {
        let Some(f) = doc.facts.iter().find(|f| f.name == *name) else {
            continue;
        };
        let v = match f.ty {
            FactType::List => {
                let record = f.record.and_then(|r| doc.records.get(r as usize)).unwrap();
                let items = value.as_array().unwrap().iter().map(|item| {
                    let mut out = serde_json::Map::new();
                    for (k, x) in item.as_object().unwrap() {
                        let field = record.fields.iter().find(|x| x.name == *k).unwrap();
                        out.insert(k.clone(), scalar_to_sql(field, x));
                    }
                    serde_json::Value::Object(out)
                });
                serde_json::Value::Array(items.collect())
            }
            _ => scalar_to_sql(f, value),
        };
        row.insert(name.clone(), v);
    }
    serde_json::Value::Object(row)
}

fn scalar_to_sql(f: &FactSchema, value: &serde_json::Value) -> serde_json::Value {
    let number = |n: Num| -> serde_json::Value { serde_json::from_str(&n.to_string()).unwrap() };
    let Some(text) = value.as_str() else {
        return value.clone();
    };
    match f.ty {
        FactType::Int | FactType::Decimal => number(Num::parse(text).unwrap()),
        FactType::Percent => number(Num::parse(text.trim_end_matches('%')).unwrap()),
        FactType::Duration | FactType::Quantity => {
            let (n, unit) = text.split_once(' ').unwrap();
            let given = Unit::parse(unit).unwrap();
            let column = match (f.ty, f.unit.as_deref().and_then(Unit::parse).unwrap()) {
                (FactType::Duration, Unit::Week) => Unit::Day,
                (FactType::Duration, Unit::Year) => Unit::Month,
                (_, u) => u,
            };
            let factor = given.exact_factor(column).unwrap();
            number(Num::parse(n).unwrap().checked_mul(factor).unwrap())
        }
        _ => value.clone(),
    }
}
