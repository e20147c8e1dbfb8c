//! Lists of items: the `where` of a count test prepared for evaluation, and a patient's items
//! counted.
//!
//! A count is known when its condition is known (true or false) for every item: an item
//! missing a field the condition needs makes the count unknown, and so does a missing list.
//! The evaluator then splits the count over its classes like any missing value, and the list
//! is the fact the result waits for.

use super::eval::CodeIndex;
use super::facts::Slot;
use super::{CodeSetDoc, Cond, Document, FactType, RecordSchema, parse_num};
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
pub(crate) fn prepare(cond: &Cond, record: &RecordSchema, sets: &[CodeSetDoc]) -> Option<Prepared> {
    let field = |i: u32| record.fields.get(i as usize).map(|f| (i as usize, f));
    Some(match cond {
        Cond::Const { value } => Prepared::Const(*value),
        Cond::And { all } => Prepared::And(
            all.iter()
                .map(|c| prepare(c, record, sets))
                .collect::<Option<_>>()?,
        ),
        Cond::Or { any } => Prepared::Or(
            any.iter()
                .map(|c| prepare(c, record, sets))
                .collect::<Option<_>>()?,
        ),
        Cond::Not { not } => Prepared::Not(Box::new(prepare(not, record, sets)?)),
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
                    FactType::Int | FactType::Decimal | FactType::Duration | FactType::Percent
                ) =>
            {
                Prepared::Compare(i, Op::parse(op)?, parse_num(value)?)
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
    })
}

impl Prepared {
    /// Whether an item meets the condition; `None` when a field it needs is missing and the
    /// others do not settle it (Kleene's tables).
    pub(crate) fn holds(&self, item: &[Slot], codes: &CodeIndex) -> Option<bool> {
        let slot = |i: &usize| item.get(*i).filter(|s| **s != Slot::Missing);
        match self {
            Prepared::Const(b) => Some(*b),
            Prepared::And(all) => kleene(all, false, item, codes),
            Prepared::Or(any) => kleene(any, true, item, codes),
            Prepared::Not(c) => c.holds(item, codes).map(|b| !b),
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
        }
    }
}

/// `and` (`decisive` false) or `or` (`decisive` true) of conditions by Kleene's tables: the
/// decisive value wins, else an unknown part leaves it unknown.
fn kleene(parts: &[Prepared], decisive: bool, item: &[Slot], codes: &CodeIndex) -> Option<bool> {
    let mut unknown = false;
    for c in parts {
        match c.holds(item, codes) {
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
    codes: &CodeIndex,
) -> Option<u64> {
    let Some(filter) = filter else {
        return Some(items.len() as u64);
    };
    let mut n = 0u64;
    for item in items {
        if filter.holds(item, codes)? {
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
    })
}
