//! Declared ranges of numeric facts (`fact pain: int in 0..10`): the range must hold values
//! of the fact's type, and a test may not give a value outside it. The analysis cuts the
//! fact's domain to the range, and the facts reader refuses values outside it.

use super::Checker;
use crate::ast;
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::Value;
use crate::source::Span;
use crate::types::{Num, Type, Unit};

/// A number of a fact's type as policy text: `10`, `35 kg/m2`, `6 weeks`, `50%`.
fn value_text(n: Num, ty: Type) -> String {
    crate::analyse::space::quantity_text(n, Some(ty))
}

/// The values a type allows whatever the range: durations and measurements (but angles) are
/// never negative, percentages are from 0 to 100.
fn type_bounds(ty: Type) -> (Option<Num>, Option<Num>) {
    match ty {
        Type::Quantity(Unit::Percent) => (Some(Num::from_int(0)), Some(Num::from_int(100))),
        Type::Quantity(u) if u.nonnegative() => (Some(Num::from_int(0)), None),
        _ => (None, None),
    }
}

impl Checker<'_> {
    /// Reads a fact's declared range, reporting one that no value of the type can fill
    /// (E0142).
    pub(super) fn fact_range(&mut self, ty: Type, r: &ast::FactRange) -> Option<(Num, Num)> {
        if ty == Type::Error {
            return None;
        }
        let written = format!("{}..{}", r.low.text, r.high.text);
        let invalid = |c: &mut Self, message: String, help: String| {
            c.report(
                Diagnostic::new(Code::InvalidRange, message)
                    .primary(r.span, "this range")
                    .help(help),
            );
            None
        };
        if !ty.is_numeric() {
            return invalid(
                self,
                format!(
                    "only numbers have ranges, but this fact is {}",
                    ty.describe()
                ),
                "remove the range".to_string(),
            );
        }
        let low = self.number(&r.low)?;
        let high = self.number(&r.high)?;
        if ty == Type::Int && !(low.is_integer() && high.is_integer()) {
            return invalid(
                self,
                format!(
                    "the range `{}` of a whole number has an end that is not one",
                    shown(&written)
                ),
                format!(
                    "write whole numbers, such as `{}..{}`",
                    low.ceil(),
                    high.floor()
                ),
            );
        }
        if low > high {
            return invalid(
                self,
                format!("the range `{}` is empty", shown(&written)),
                format!(
                    "write the smaller end first: `{}..{}`",
                    r.high.text, r.low.text
                ),
            );
        }
        let (min, max) = type_bounds(ty);
        if min.is_some_and(|m| low < m) || max.is_some_and(|m| high > m) {
            let bounds = match (min, max) {
                (Some(a), Some(b)) => {
                    format!("from {} to {}", value_text(a, ty), value_text(b, ty))
                }
                (Some(a), None) => format!("never below {}", value_text(a, ty)),
                _ => String::new(),
            };
            return invalid(
                self,
                format!(
                    "the range `{}` goes past the values of {}, {bounds}",
                    shown(&written),
                    ty.describe()
                ),
                "keep the range within the values the type can take".to_string(),
            );
        }
        Some((low, high))
    }

    /// Whether a test value lies in its fact's declared range and its type's bounds (a
    /// duration or a mass is never negative, a percentage at most 100%), as the facts reader
    /// requires of a patient's facts; one outside is reported (E0143).
    pub(super) fn in_range(
        &mut self,
        fact: &str,
        ty: Type,
        range: Option<(Num, Num)>,
        value: &Value,
        span: Span,
    ) -> bool {
        let Value::Num(n) = value else {
            return true;
        };
        let n = *n;
        let message = match (range, type_bounds(ty)) {
            (Some((low, high)), _) if n < low || n > high => format!(
                "`{}` is declared from {} to {}, so it cannot be {}",
                shown(fact),
                value_text(low, ty),
                value_text(high, ty),
                value_text(n, ty)
            ),
            (_, (Some(min), _)) if n < min => format!(
                "`{}` is {}, never below {}, so it cannot be {}",
                shown(fact),
                ty.describe(),
                value_text(min, ty),
                value_text(n, ty)
            ),
            (_, (_, Some(max))) if n > max => format!(
                "`{}` is {}, at most {}, so it cannot be {}",
                shown(fact),
                ty.describe(),
                value_text(max, ty),
                value_text(n, ty)
            ),
            _ => return true,
        };
        self.report(
            Diagnostic::new(Code::ValueOutOfRange, message)
                .primary(span, "outside the range")
                .help("give a value the fact can have, or widen its range if the policy allows it"),
        );
        false
    }
}
