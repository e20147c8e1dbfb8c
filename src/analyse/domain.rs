//! Each fact's domain cut into finitely many classes that no condition can tell apart.
//!
//! A number line is cut at every threshold a condition compares the fact with: the thresholds
//! themselves are classes of their own, and so is every open interval between two of them.
//! Integer facts drop the intervals that hold no integer (`> 5` and `< 6` leave nothing). The
//! physical range of a quantity bounds it: durations and measured amounts (but angles) are
//! never negative, and a percentage is between 0 and 100.

use crate::ast::CmpOp;
use crate::types::{Num, Type, Unit, finer_unit, quantity_written};

// The cutting itself is shared with the artifact evaluator, which splits a missing fact the
// same way.
pub use medpol_artifact::num::{NumberKind, NumericDomain, Region};

/// Whether `sample op value` holds. A region lies wholly inside or wholly outside every
/// threshold it was cut at, so its sample stands for all of it.
pub fn holds(sample: Num, op: CmpOp, value: Num) -> bool {
    match op {
        CmpOp::Eq => sample == value,
        CmpOp::Ne => sample != value,
        CmpOp::Lt => sample < value,
        CmpOp::Le => sample <= value,
        CmpOp::Gt => sample > value,
        CmpOp::Ge => sample >= value,
    }
}

/// Cuts a numeric fact's domain at the given thresholds, within its declared range. The
/// value shown for each class is one
/// the language writes (see [`readable_inside`]), so an example patient can be pasted into a
/// test.
pub fn numeric(ty: Type, range: Option<(Num, Num)>, thresholds: &[Num]) -> NumericDomain {
    let kind = match ty {
        // A date is its day number.
        Type::Int | Type::Date => NumberKind::Int,
        Type::Quantity(Unit::Percent) => NumberKind::Percent,
        Type::Quantity(Unit::Ucum(u)) if u.nonnegative() => NumberKind::Amount,
        Type::Quantity(Unit::Ucum(_)) => NumberKind::Decimal,
        Type::Quantity(_) => NumberKind::Duration,
        _ => NumberKind::Decimal,
    };
    let mut domain = medpol_artifact::num::numeric_within(kind, range, thresholds);
    if let Type::Quantity(unit) = ty {
        for (region, sample) in domain.regions.iter().zip(domain.samples.iter_mut()) {
            if let Region::Between(Some(a), Some(b)) = region
                && quantity_written(*sample, unit).is_none()
                && let Some(v) = readable_inside(*a, *b, *sample, unit)
            {
                *sample = v;
            }
        }
    }
    domain
}

/// Cuts the difference of two related facts (`left - right`, in their base unit) at the
/// given thresholds: whole numbers when both facts are (dates, `int`), else any number. The
/// artifact evaluator cuts a difference the same way.
pub fn difference(
    program: &crate::ir::Program,
    left: crate::ir::FactId,
    right: crate::ir::FactId,
    thresholds: &[Num],
) -> NumericDomain {
    let whole = |f| {
        program
            .fact(f)
            .is_some_and(|x| matches!(x.ty, Type::Int | Type::Date))
    };
    let kind = if whole(left) && whole(right) {
        NumberKind::Int
    } else {
        NumberKind::Decimal
    };
    medpol_artifact::num::numeric(kind, thresholds)
}

/// Cuts a count of items at the given thresholds: whole numbers from 0.
pub fn count(thresholds: &[Num]) -> NumericDomain {
    medpol_artifact::num::numeric(NumberKind::Count, thresholds)
}

/// The most places after the point [`readable_inside`] tries.
const MAX_PLACES: u32 = 12;

/// A value strictly between `a` and `b`, near `near`, that the language writes in `unit` or
/// its smaller unit: the middle of 6 weeks and 43 days is 85/14 weeks, which no decimal of
/// weeks writes, so `42.5 days`. Whole amounts first, then decimals of more and more places,
/// each in the smaller unit first. Thresholds are decimals in some unit of the family, so
/// such a value exists; `None` only past [`MAX_PLACES`] or the numbers' range.
fn readable_inside(a: Num, b: Num, near: Num, unit: Unit) -> Option<Num> {
    let units: Vec<Unit> = finer_unit(unit).into_iter().chain([unit]).collect();
    for places in 0..=MAX_PLACES {
        let step = Num::from_int(10i128.checked_pow(places)?);
        for &u in &units {
            // `near` counted in steps of a tenth, hundredth... of `u`.
            let scale = unit.exact_factor(u)?.checked_mul(step)?;
            let x = near.checked_mul(scale)?;
            for whole in [x.floor(), x.ceil()] {
                let v = whole.checked_div(scale)?;
                if a < v && v < b {
                    return Some(v);
                }
            }
        }
    }
    None
}
