//! Values and types of the language: exact numbers, units, dates and fact types.

use crate::codes::System;

// Numbers and units are shared with decision artifacts, so they live in the artifact crate.
pub use medpol_artifact::num::{Family, MAX_DIGITS, Num, NumError, Unit};

// Dates too, for the same reason.
pub use medpol_artifact::date::Date;

/// The smaller unit an amount goes down to when no decimal of its own unit writes it (10/7
/// weeks are 10 days, 5/12 years 5 months).
pub fn finer_unit(unit: Unit) -> Option<Unit> {
    match unit {
        Unit::Week => Some(Unit::Day),
        Unit::Year => Some(Unit::Month),
        Unit::Day | Unit::Month | Unit::Percent | Unit::Ucum(_) => None,
    }
}

/// An amount in a unit as policy text, so it can be pasted into a test: `6 weeks`, `1 day`,
/// `28.5%`; an amount no decimal of its unit writes goes down to the smaller unit of its
/// family (10/7 weeks are `10 days`). `None` when neither writes it (1/3 day): only a
/// fraction would, which the language does not read.
pub fn quantity_written(n: Num, unit: Unit) -> Option<String> {
    // A decimal writes exactly the numbers whose `Display` is not a fraction.
    let decimal = |n: Num| !n.to_string().contains('/');
    let (n, unit) = if decimal(n) {
        (n, unit)
    } else {
        let finer = finer_unit(unit)?;
        let n = n.checked_mul(unit.exact_factor(finer)?)?;
        (n, finer)
    };
    if !decimal(n) {
        return None;
    }
    if unit == Unit::Percent {
        return Some(format!("{n}%"));
    }
    // UCUM codes have no plural: `1 kg`, `35 kg/m2`.
    let name = if n == Num::from_int(1) && !matches!(unit, Unit::Ucum(_)) {
        unit.name().trim_end_matches('s')
    } else {
        unit.name()
    };
    Some(format!("{n} {name}"))
}

/// A number with its fact's unit as policy text: `6 weeks`, `10 days` for 10/7 weeks, `28.5%`,
/// `-2.95`, a date as `2009-02-12`. The analysis's values always have such a text (`domain::numeric` chooses them
/// so); a threshold only `as` writes is shown as the fraction it is, `96/73 months`.
pub fn quantity_text(n: Num, ty: Option<Type>) -> String {
    match ty {
        Some(Type::Quantity(u)) => {
            quantity_written(n, u).unwrap_or_else(|| format!("{n} {}", u.name()))
        }
        // A day number outside the years a date is written in stays a number; the analysis
        // meets one only a day beyond a threshold on the calendar's first or last day.
        Some(Type::Date) => Date::from_num(n).map_or_else(|| n.to_string(), |d| d.to_string()),
        _ => n.to_string(),
    }
}

/// Index of an enum type in the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnumId(pub u32);

/// Index of a record type (`record session { ... }`) in the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub u32);

/// The type of a fact or an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Int,
    Decimal,
    Quantity(Unit),
    Enum(EnumId),
    Code(System),
    CodeSet(System),
    /// A type that could not be determined; never reported again.
    Error,
    /// A calendar date, kept as its day number (see [`Date::days`]).
    Date,
    /// A list of items of a record type (`list<session>`): a history.
    List(RecordId),
}

impl Type {
    /// How the type is written in a policy.
    pub fn syntax(self) -> String {
        match self {
            Type::Bool => "bool".into(),
            Type::Int => "int".into(),
            Type::Decimal => "decimal".into(),
            Type::Quantity(Unit::Percent) => "percent".into(),
            Type::Quantity(Unit::Ucum(u)) => format!("quantity<{}>", u.code()),
            Type::Quantity(u) => format!("duration<{}>", u.name()),
            Type::Enum(_) => "enum".into(),
            Type::Code(s) => format!("code<{}>", s.name()),
            Type::CodeSet(s) => format!("set<code<{}>>", s.name()),
            Type::Error => "unknown".into(),
            Type::Date => "date".into(),
            Type::List(_) => "list".into(),
        }
    }

    /// The type in words, for messages: "a duration in weeks".
    pub fn describe(self) -> String {
        match self {
            Type::Bool => "`true` or `false`".into(),
            Type::Int => "a whole number".into(),
            Type::Decimal => "a number".into(),
            Type::Quantity(u) => u.describe(),
            Type::Enum(_) => "an enum value".into(),
            Type::Code(s) => format!("one {} code", s.display()),
            Type::CodeSet(s) => format!("a set of {} codes", s.display()),
            Type::Error => "a value".into(),
            Type::Date => "a date".into(),
            Type::List(_) => "a list of items".into(),
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Decimal | Type::Quantity(_))
    }
}
