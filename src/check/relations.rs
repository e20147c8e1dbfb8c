//! Relations between facts: two facts of one kind compared (`vertebral_collapse <=
//! height_loss`, `fracture_date < service_date`), and the difference of two facts compared
//! with a value (`service_date - fracture_date <= 6 weeks`). Each becomes one
//! [`Relation`]: `left - right OP value` in the base unit of the facts' kind.

use super::Checker;
use super::expr::Typed;
use crate::ast::{self, CmpOp};
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::{Expr, ExprKind, FactId, Relation, base_scale};
use crate::source::{FileId, Span};
use crate::types::{Family, Num, Type};

/// The kind two facts must share to be compared or subtracted: dates with dates, whole
/// numbers with whole numbers, numbers with numbers, percentages with percentages, durations
/// of one family (days and weeks; months and years) with each other.
fn kind(ty: Type) -> Option<(u8, Option<Family>)> {
    Some(match ty {
        Type::Date => (0, None),
        Type::Int => (1, None),
        Type::Decimal => (2, None),
        Type::Quantity(u) => (3, Some(u.family())),
        _ => return None,
    })
}

/// One side of a relation: a fact as declared.
pub(super) struct Side {
    pub fact: FactId,
    pub ty: Type,
    pub name: String,
    pub span: Span,
}

impl Checker<'_> {
    /// A fact's side of a relation, or why it cannot be one (reported).
    fn side(&mut self, t: Typed, span: Span) -> Option<Side> {
        match t {
            Typed::Error => None,
            Typed::Fact {
                fact,
                scale,
                ty,
                name,
                span,
            } if scale == Num::from_int(1) => {
                if kind(ty).is_none() {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            format!(
                                "`{}` is {}, which has no order to compare",
                                shown(&name),
                                ty.describe()
                            ),
                        )
                        .primary(span, ty.describe())
                        .help("facts compared with each other or subtracted are dates, numbers, percentages or durations"),
                    );
                    return None;
                }
                Some(Side {
                    fact,
                    ty,
                    name,
                    span,
                })
            }
            Typed::Fact { name, span, .. } => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!("`{}` is converted with `as` in a relation of two facts", shown(&name)),
                    )
                    .primary(span, "converted")
                    .help("compare or subtract the facts as declared: their units convert exactly or not at all"),
                );
                None
            }
            _ => {
                self.report(
                    Diagnostic::new(Code::TypeMismatch, "a difference is of two facts")
                        .primary(span, "not a fact")
                        .help("subtract one fact from another, such as `service_date - fracture_date`"),
                );
                None
            }
        }
    }

    /// Two facts of one kind, or E0121.
    fn same_kind(&mut self, a: &Side, b: &Side, at: Span) -> bool {
        if kind(a.ty) == kind(b.ty) {
            if a.fact == b.fact {
                self.report(
                    Diagnostic::new(
                        Code::ComparisonWithoutFact,
                        format!("`{}` is related to itself", shown(&a.name)),
                    )
                    .primary(at, "the same fact on both sides")
                    .help("relate two different facts, or compare the fact with a value"),
                );
                return false;
            }
            return true;
        }
        self.report(
            Diagnostic::new(
                Code::IncomparableFacts,
                format!(
                    "`{}` is {} but `{}` is {}, which do not compare",
                    shown(&a.name),
                    a.ty.describe(),
                    shown(&b.name),
                    b.ty.describe()
                ),
            )
            .primary(at, "different kinds")
            .secondary(a.span, a.ty.describe())
            .secondary(b.span, b.ty.describe())
            .help("relate facts of one kind: dates, whole numbers, numbers, percentages, or durations of one family (days and weeks, months and years)"),
        );
        false
    }

    /// `a - b`: a difference of two facts of one kind.
    pub(super) fn difference(
        &mut self,
        file: FileId,
        left: &ast::Operand,
        right: &ast::Operand,
        op_span: Span,
        span: Span,
    ) -> Typed {
        let l = self.operand(file, left);
        let r = self.operand(file, right);
        if matches!(l, Typed::Error) || matches!(r, Typed::Error) || self.in_item(span) {
            return Typed::Error;
        }
        let (Some(l), Some(r)) = (self.side(l, left.span), self.side(r, right.span)) else {
            return Typed::Error;
        };
        if !self.same_kind(&l, &r, op_span) {
            return Typed::Error;
        }
        Typed::Difference {
            left: l.fact,
            right: r.fact,
            ty: l.ty,
            span,
            written: format!("{} - {}", l.name, r.name),
        }
    }

    /// Inside a count's condition, which tests one item at a time, a relation is refused
    /// (reported here): an item's field compares with values, a window, or one fact.
    fn in_item(&mut self, span: Span) -> bool {
        if self.item.is_none() {
            return false;
        }
        self.report(
            Diagnostic::new(
                Code::IncomparableFacts,
                "a relation of two values inside the condition of a count",
            )
            .primary(span, "relates two values for each item")
            .help("inside `count(... where ...)` compare a field with a value (`relief >= 80%`), a window (`performed within 12 months before service_date`) or one fact (`region == requested_region`)"),
        );
        true
    }

    /// `a OP b` for two facts.
    pub(super) fn facts_compared(
        &mut self,
        op: CmpOp,
        op_span: Span,
        left: Typed,
        right: Typed,
        span: Span,
    ) -> Expr {
        let (lspan, rspan) = (typed_span(&left), typed_span(&right));
        if self.in_item(span) {
            return error(span);
        }
        let (Some(l), Some(r)) = (self.side(left, lspan), self.side(right, rspan)) else {
            return error(span);
        };
        if !self.same_kind(&l, &r, op_span) {
            return error(span);
        }
        relation((l.fact, r.fact, false), op, Num::from_int(0), span)
    }

    /// `a - b OP value`: the value in the base unit of the facts' kind.
    pub(super) fn difference_compared(
        &mut self,
        op: CmpOp,
        (left, right, ty, written): (FactId, FactId, Type, &str),
        (value, vty, value_span, value_text): (Num, Type, Span, &str),
        span: Span,
    ) -> Expr {
        let mut calendar = false;
        let in_base = match (ty, vty) {
            (Type::Int | Type::Decimal, Type::Int | Type::Decimal) => Some(value),
            // Months and years between dates: calendar months completed, a whole number.
            (Type::Date, Type::Quantity(u)) if u.family() == Family::MonthBased => {
                let months = value.checked_mul(base_scale(vty));
                if months.is_some_and(|m| !m.is_integer()) {
                    self.report(
                        Diagnostic::new(
                            Code::MonthsNotWhole,
                            format!(
                                "`{}` counts whole calendar months, but `{}` is not a whole number of months",
                                shown(written),
                                shown(value_text)
                            ),
                        )
                        .primary(value_span, "not whole months")
                        .help("write a whole number of months, such as `942 months` for 78.5 years, or compare the time in days or weeks"),
                    );
                    return error(span);
                }
                calendar = true;
                months
            }
            (Type::Date, Type::Quantity(u)) if u.family() == Family::DayBased => {
                value.checked_mul(base_scale(vty))
            }
            (Type::Quantity(u), Type::Quantity(w)) if u.family() == w.family() => {
                value.checked_mul(base_scale(vty))
            }
            _ => {
                let expected = match ty {
                    Type::Date => {
                        "days, weeks, months or years (a date minus a date is the time between them)".to_string()
                    }
                    Type::Quantity(u) if u.family() == Family::Percent => {
                        "a percentage".to_string()
                    }
                    Type::Quantity(u) => format!("a duration in {}", u.name()),
                    _ => "a plain number".to_string(),
                };
                self.report(
                    Diagnostic::new(
                        Code::UnitMismatch,
                        format!(
                            "`{}` is compared with {}, but it is measured in {expected}",
                            shown(written),
                            vty.describe()
                        ),
                    )
                    .primary(value_span, vty.describe())
                    .help(match ty {
                        Type::Date => {
                            "write the time between the dates, such as `6 weeks` or `6 months`"
                        }
                        _ => "write the value in the facts' own kind",
                    }),
                );
                return error(span);
            }
        };
        match in_base {
            Some(v) => relation((left, right, calendar), op, v, span),
            None => self.out_of_range(value_span, span),
        }
    }
}

/// The relation with the fact of the smaller id on the left: `b - a OP v` is `a - b OP' -v`
/// (values have at most `MAX_DIGITS` digits, so the negation is always in range). The
/// calendar months from one date to another are antisymmetric too.
fn relation(
    (left, right, calendar): (FactId, FactId, bool),
    op: CmpOp,
    value: Num,
    span: Span,
) -> Expr {
    let r = if left <= right {
        Some(Relation {
            left,
            right,
            op,
            value,
            calendar,
        })
    } else {
        Num::from_int(0).checked_sub(value).map(|negated| Relation {
            left: right,
            right: left,
            op: op.flipped(),
            value: negated,
            calendar,
        })
    };
    match r {
        Some(r) => Expr {
            kind: ExprKind::Relation(r),
            span,
        },
        None => error(span),
    }
}

fn typed_span(t: &Typed) -> Span {
    match t {
        Typed::Fact { span, .. }
        | Typed::Value { span, .. }
        | Typed::Difference { span, .. }
        | Typed::Count { span, .. } => *span,
        Typed::Cond(e) => e.span,
        Typed::Error => Span::default(),
    }
}

fn error(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Error,
        span,
    }
}
