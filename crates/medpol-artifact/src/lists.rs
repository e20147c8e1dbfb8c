//! Lists of items: the `where` of a count test prepared for evaluation, and a patient's items
//! counted.
//!
//! A count is known when its condition is known (true or false) for every item: an item
//! missing a field the condition needs makes the count unknown, and so does a missing list.
//! The evaluator then splits the count over its classes like any missing value, and the list
//! is the fact the result waits for.

use super::eval::CodeIndex;
use super::facts::Slot;
use super::{Cond, Document, FactType, RecordSchema, parse_num};
use crate::date::Date;
use crate::num::Num;

/// A [`Cond`] with its fields, values and sets resolved.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    Const(bool),
    And(Vec<Prepared>),
    Or(Vec<Prepared>),
    Not(Box<Prepared>),
    IsTrue(usize),
    Compare(usize, Op, Num),
    /// For each value of the enum, whether it is in the set.
    EnumIn(usize, Vec<bool>),
    CodeIn(usize, u32),
    /// A date field within a window before a date fact: (field, fact, amount, months).
    Window(usize, u32, u32, bool),
    /// A number or date field compared with a fact.
    FieldNum(usize, Op, u32),
    /// An enum field equal (or not, when `true`) to an enum fact: for each of the field's
    /// values, the fact's value of the same name.
    FieldEnum(usize, bool, u32, Vec<Option<u32>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub(crate) fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    fn holds(self, a: Num, b: Num) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// Checks a condition against its record and the artifact's sets; `None` when it names a
/// field, value or set that is not there, or tests a field of another type. Recursion follows
/// the condition's nesting, which the JSON reader bounds.
pub(crate) fn prepare(cond: &Cond, record: &RecordSchema, doc: &Document) -> Option<Prepared> {
    let sets = &doc.code_sets;
    let field = |i: u32| record.fields.get(i as usize).map(|f| (i as usize, f));
    Some(match cond {
        Cond::Const { value } => Prepared::Const(*value),
        Cond::And { all } => Prepared::And(
            all.iter()
                .map(|c| prepare(c, record, doc))
                .collect::<Option<_>>()?,
        ),
        Cond::Or { any } => Prepared::Or(
            any.iter()
                .map(|c| prepare(c, record, doc))
                .collect::<Option<_>>()?,
        ),
        Cond::Not { not } => Prepared::Not(Box::new(prepare(not, record, doc)?)),
        Cond::IsTrue { field: f } => match field(*f)? {
            (i, schema) if schema.ty == FactType::Bool => Prepared::IsTrue(i),
            _ => return None,
        },
        Cond::Compare {
            field: f,
            op,
            value,
        } => match field(*f)? {
            (i, schema)
                if matches!(
                    schema.ty,
                    FactType::Int
                        | FactType::Decimal
                        | FactType::Duration
                        | FactType::Percent
                        | FactType::Quantity
                ) =>
            {
                Prepared::Compare(i, Op::parse(op)?, parse_num(value)?)
            }
            // A date field's value is a date, kept as its day number as the field is.
            (i, schema) if schema.ty == FactType::Date => {
                Prepared::Compare(i, Op::parse(op)?, Date::parse(value)?.num())
            }
            _ => return None,
        },
        Cond::EnumIn { field: f, values } => match field(*f)? {
            (i, schema) if schema.ty == FactType::Enum => {
                let mut mask = vec![false; schema.values.len()];
                for v in values {
                    let at = schema.values.iter().position(|x| x == v)?;
                    *mask.get_mut(at)? = true;
                }
                Prepared::EnumIn(i, mask)
            }
            _ => return None,
        },
        Cond::CodeIn { field: f, set } => match field(*f)? {
            (i, schema)
                if schema.ty == FactType::Code
                    && sets.get(*set as usize).map(|s| &s.system) == schema.system.as_ref() =>
            {
                Prepared::CodeIn(i, *set)
            }
            _ => return None,
        },
        Cond::Window {
            field: f,
            before,
            amount,
            unit,
        } => {
            let (i, schema) = field(*f)?;
            let fact = doc.facts.get(*before as usize)?;
            if schema.ty != FactType::Date || fact.ty != FactType::Date {
                return None;
            }
            let months = match unit.as_str() {
                "days" => false,
                "months" => true,
                _ => return None,
            };
            Prepared::Window(i, *before, *amount, months)
        }
        Cond::FieldIs {
            field: f,
            op,
            fact: x,
        } => {
            let (i, schema) = field(*f)?;
            let fact = doc.facts.get(*x as usize)?;
            let op = Op::parse(op)?;
            match (schema.ty, fact.ty) {
                (FactType::Enum, FactType::Enum) if matches!(op, Op::Eq | Op::Ne) => {
                    let map = schema
                        .values
                        .iter()
                        .map(|v| fact.values.iter().position(|w| w == v).map(|p| p as u32))
                        .collect();
                    Prepared::FieldEnum(i, op == Op::Ne, *x, map)
                }
                (a, b)
                    if a == b
                        && matches!(
                            a,
                            FactType::Int
                                | FactType::Decimal
                                | FactType::Percent
                                | FactType::Duration
                                | FactType::Date
                        )
                        && schema.unit == fact.unit =>
                {
                    Prepared::FieldNum(i, op, *x)
                }
                _ => return None,
            }
        }
    })
}

impl Prepared {
    /// Whether an item meets the condition; `None` when a field it needs is missing and the
    /// others do not settle it (Kleene's tables).
    pub(crate) fn holds(&self, item: &[Slot], outer: &[Slot], codes: &CodeIndex) -> Option<bool> {
        let slot = |i: &usize| item.get(*i).filter(|s| **s != Slot::Missing);
        let fact = |i: &u32| outer.get(*i as usize).filter(|s| **s != Slot::Missing);
        match self {
            Prepared::Const(b) => Some(*b),
            Prepared::And(all) => kleene(all, false, item, outer, codes),
            Prepared::Or(any) => kleene(any, true, item, outer, codes),
            Prepared::Not(c) => c.holds(item, outer, codes).map(|b| !b),
            Prepared::IsTrue(i) => match slot(i)? {
                Slot::Bool(b) => Some(*b),
                _ => None,
            },
            Prepared::Compare(i, op, value) => match slot(i)? {
                Slot::Num(n) => Some(op.holds(*n, *value)),
                _ => None,
            },
            Prepared::EnumIn(i, mask) => match slot(i)? {
                Slot::Enum(v) => Some(mask.get(*v as usize).copied().unwrap_or(false)),
                _ => None,
            },
            Prepared::CodeIn(i, set) => match slot(i)? {
                Slot::Code(code) => Some(code.is_some_and(|c| codes.in_set(c, *set))),
                _ => None,
            },
            Prepared::Window(i, x, amount, months) => match (slot(i)?, fact(x)?) {
                (Slot::Num(day), Slot::Num(end)) => {
                    let start = window_start(*end, *amount, *months)?;
                    Some(start <= *day && day <= end)
                }
                _ => None,
            },
            Prepared::FieldNum(i, op, x) => match (slot(i)?, fact(x)?) {
                (Slot::Num(a), Slot::Num(b)) => Some(op.holds(*a, *b)),
                _ => None,
            },
            Prepared::FieldEnum(i, negated, x, map) => match (slot(i)?, fact(x)?) {
                (Slot::Enum(a), Slot::Enum(b)) => {
                    let same = map.get(*a as usize).copied().flatten() == Some(*b);
                    Some(same != *negated)
                }
                _ => None,
            },
        }
    }

    /// The facts of the patient the condition reads (indices into the artifact's facts).
    pub(crate) fn outer(&self, out: &mut Vec<u32>) {
        match self {
            Prepared::And(cs) | Prepared::Or(cs) => cs.iter().for_each(|c| c.outer(out)),
            Prepared::Not(c) => c.outer(out),
            Prepared::Window(_, x, ..)
            | Prepared::FieldNum(_, _, x)
            | Prepared::FieldEnum(_, _, x, _)
                if !out.contains(x) =>
            {
                out.push(*x);
            }
            _ => {}
        }
    }
}

/// `and` (`decisive` false) or `or` (`decisive` true) of conditions by Kleene's tables: the
/// decisive value wins, else an unknown part leaves it unknown.
fn kleene(
    parts: &[Prepared],
    decisive: bool,
    item: &[Slot],
    outer: &[Slot],
    codes: &CodeIndex,
) -> Option<bool> {
    let mut unknown = false;
    for c in parts {
        match c.holds(item, outer, codes) {
            Some(b) if b == decisive => return Some(decisive),
            None => unknown = true,
            Some(_) => {}
        }
    }
    (!unknown).then_some(!decisive)
}

/// How many items meet the condition (every item without one); `None` when it is unknown
/// for some item.
pub(crate) fn count(
    items: &[Vec<Slot>],
    filter: Option<&Prepared>,
    outer: &[Slot],
    codes: &CodeIndex,
) -> Option<u64> {
    let Some(filter) = filter else {
        return Some(items.len() as u64);
    };
    let mut n = 0u64;
    for item in items {
        if filter.holds(item, outer, codes)? {
            n += 1;
        }
    }
    Some(n)
}

/// A condition as policy text, for explanations: `kind in { therapeutic } and relief >= 80%`.
/// `None` when it names a field or set the artifact does not have.
pub(crate) fn cond_text(cond: &Cond, record: &RecordSchema, doc: &Document) -> Option<String> {
    let field = |i: &u32| record.fields.get(*i as usize);
    let join = |cs: &[Cond], word: &str| -> Option<String> {
        let parts = cs
            .iter()
            .map(|c| {
                let t = cond_text(c, record, doc)?;
                Some(match c {
                    Cond::And { .. } | Cond::Or { .. } => format!("({t})"),
                    _ => t,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(parts.join(word))
    };
    Some(match cond {
        Cond::Const { value } => value.to_string(),
        Cond::And { all } => join(all, " and ")?,
        Cond::Or { any } => join(any, " or ")?,
        Cond::Not { not } => format!("not ({})", cond_text(not, record, doc)?),
        Cond::IsTrue { field: f } => field(f)?.name.clone(),
        Cond::Compare {
            field: f,
            op,
            value,
        } => {
            let f = field(f)?;
            let unit = match f.ty {
                FactType::Duration => format!(" {}", f.unit.as_deref().unwrap_or_default()),
                FactType::Percent => "%".to_string(),
                _ => String::new(),
            };
            format!("{} {op} {value}{unit}", f.name)
        }
        Cond::EnumIn { field: f, values } => {
            format!("{} in {{ {} }}", field(f)?.name, values.join(", "))
        }
        Cond::CodeIn { field: f, set } => {
            let s = doc.code_sets.get(*set as usize)?;
            let set_name = s.name.clone().unwrap_or_else(|| s.source.text.clone());
            format!("{} in {set_name}", field(f)?.name)
        }
        Cond::Window {
            field: f,
            before,
            amount,
            unit,
        } => format!(
            "{} within {amount} {unit} before {}",
            field(f)?.name,
            doc.facts.get(*before as usize)?.name
        ),
        Cond::FieldIs { field: f, op, fact } => format!(
            "{} {op} {}",
            field(f)?.name,
            doc.facts.get(*fact as usize)?.name
        ),
    })
}

/// The first day of a window of `amount` days (or calendar months) that ends on the day
/// `reference` (day numbers): `within 12 months before 2026-03-31` starts on 2025-03-31, and a
/// month back from the 31st lands on the last day of a shorter month (2026-02-28). `None`
/// outside the years a date is written in.
pub fn window_start(reference: Num, amount: u32, months: bool) -> Option<Num> {
    let end = Date::from_num(reference)?;
    if !months {
        return Date::from_days(end.days() - i64::from(amount)).map(Date::num);
    }
    let index = i64::from(end.year) * 12 + i64::from(end.month) - 1 - i64::from(amount);
    let year = u16::try_from(index.div_euclid(12)).ok()?;
    let month = u8::try_from(index.rem_euclid(12) + 1).ok()?;
    let first = Date {
        year,
        month,
        day: 1,
    };
    let next = Date::from_days(first.days() + 31)?;
    let next_first = Date {
        year: next.year,
        month: next.month,
        day: 1,
    };
    let last_day = u8::try_from(next_first.days() - first.days()).ok()?;
    Some(
        Date {
            year,
            month,
            day: end.day.min(last_day),
        }
        .num(),
    )
}

#[cfg(test)]
mod tests {
    use super::window_start;
    use crate::date::Date;

    fn start(reference: &str, amount: u32, months: bool) -> String {
        let r = Date::parse(reference).unwrap().num();
        Date::from_num(window_start(r, amount, months).unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn windows_count_back_by_days_or_calendar_months() {
        assert_eq!(start("2026-03-31", 12, true), "2025-03-31");
        assert_eq!(start("2026-03-31", 1, true), "2026-02-28");
        assert_eq!(start("2024-03-31", 1, true), "2024-02-29");
        assert_eq!(start("2026-01-15", 1, true), "2025-12-15");
        assert_eq!(start("2026-01-15", 42, false), "2025-12-04");
    }
}
