//! Each fact's domain cut into finitely many classes that no condition can tell apart.
//!
//! A number line is cut at every threshold a condition compares the fact with: the thresholds
//! themselves are classes of their own, and so is every open interval between two of them.
//! Integer facts drop the intervals that hold no integer (`> 5` and `< 6` leave nothing). The
//! physical range of a quantity bounds it: durations are never negative, and a percentage is
//! between 0 and 100.

use crate::ast::CmpOp;
use crate::types::{Num, Type, Unit};

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

/// Cuts a numeric fact's domain at the given thresholds.
pub fn numeric(ty: Type, thresholds: &[Num]) -> NumericDomain {
    let kind = match ty {
        Type::Int => NumberKind::Int,
        Type::Quantity(Unit::Percent) => NumberKind::Percent,
        Type::Quantity(_) => NumberKind::Duration,
        _ => NumberKind::Decimal,
    };
    medpol_artifact::num::numeric(kind, thresholds)
}
