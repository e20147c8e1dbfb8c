//! Expressions: names, comparisons with units, memberships, set predicates and counts.

use super::{Checker, Symbol, names};
use crate::ast::{self, CmpOp, CountKind};
use crate::codes::System;
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;
use crate::source::{FileId, Span};
use crate::types::{Num, NumError, Type, Unit};

/// What an expression or operand turned out to be.
#[derive(Debug, Clone)]
pub(super) enum Typed {
    /// A condition.
    Cond(Expr),
    /// A fact's value, times `scale` when it was converted with `as` (its type is then the
    /// converted one).
    Fact {
        fact: FactId,
        scale: Num,
        ty: Type,
        name: String,
        span: Span,
    },
    /// A constant number or quantity, and how it was written.
    Value {
        value: Num,
        ty: Type,
        span: Span,
        written: String,
    },
    /// Already reported.
    Error,
    /// The difference of two facts of one kind (`service_date - fracture_date`), of the
    /// facts' type.
    Difference {
        left: FactId,
        right: FactId,
        ty: Type,
        span: Span,
        written: String,
    },
    /// `count(list where filter)`: a whole number, to compare.
    Count {
        list: FactId,
        filter: Option<Box<Expr>>,
        span: Span,
    },
}

fn one() -> Num {
    Num::from_int(1)
}

impl Checker<'_> {
    /// Checks an expression that must be a condition.
    pub(super) fn condition(&mut self, file: FileId, e: &ast::Expr) -> Expr {
        let typed = self.term(file, e);
        self.as_condition(typed, e.span)
    }

    fn as_condition(&mut self, typed: Typed, span: Span) -> Expr {
        match typed {
            Typed::Cond(e) => e,
            Typed::Fact {
                fact,
                ty: Type::Bool,
                ..
            } => Expr {
                kind: ExprKind::Fact(fact),
                span,
            },
            Typed::Fact {
                ty: Type::Error, ..
            }
            | Typed::Error => error_expr(span),
            Typed::Fact { ty, name, .. } => {
                let example = match ty {
                    Type::Quantity(Unit::Percent) => format!("`{name} > 28.5%`"),
                    Type::Quantity(u) => format!("`{name} >= 6 {}`", u.name()),
                    Type::Int | Type::Decimal => format!("`{name} > 2`"),
                    Type::Enum(_) => format!("`{name} == VALUE`"),
                    Type::Code(_) => format!("`{name} in SET`"),
                    Type::CodeSet(_) => format!("`{name} has any SET`"),
                    Type::Date => format!("`{name} >= 2009-02-12`"),
                    Type::List(_) => format!("`count({name}) >= 1`"),
                    Type::Bool | Type::Error => String::new(),
                };
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "expected a condition, found `{}`, {}",
                            shown(&name),
                            ty.describe()
                        ),
                    )
                    .primary(span, "not a condition")
                    .help(format!("test it, for example {example}")),
                );
                error_expr(span)
            }
            Typed::Difference {
                written, span: at, ..
            } => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!("expected a condition, found the difference `{}`", shown(&written)),
                    )
                    .primary(at, "a difference, not a condition")
                    .help("compare it with a value, such as `service_date - fracture_date <= 6 weeks`"),
                );
                error_expr(span)
            }
            Typed::Count { span, .. } => self.count_as_condition(span),
            Typed::Value { ty, span: at, .. } => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!("expected a condition, found {}", ty.describe()),
                    )
                    .primary(at, "a value, not a condition")
                    .help("compare a fact with it, such as `age > 78.5 years`"),
                );
                error_expr(span)
            }
        }
    }

    pub(super) fn term(&mut self, file: FileId, e: &ast::Expr) -> Typed {
        let span = e.span;
        let cond = |kind| Typed::Cond(Expr { kind, span });
        match &e.kind {
            ast::ExprKind::Or(items) => {
                let items = items.iter().map(|i| self.condition(file, i)).collect();
                cond(ExprKind::Or(items))
            }
            ast::ExprKind::And(items) => {
                let items = items.iter().map(|i| self.condition(file, i)).collect();
                cond(ExprKind::And(items))
            }
            ast::ExprKind::Not(inner) => {
                let inner = self.condition(file, inner);
                cond(ExprKind::Not(Box::new(inner)))
            }
            ast::ExprKind::Compare {
                op,
                op_span,
                left,
                right,
            } => Typed::Cond(self.compare(file, *op, *op_span, left, right, span)),
            ast::ExprKind::In {
                negated,
                value,
                set,
            } => Typed::Cond(self.membership(file, *negated, value, set, span)),
            ast::ExprKind::Has {
                quantifier,
                value,
                set,
            } => Typed::Cond(self.has(file, *quantifier, value, set, span)),
            ast::ExprKind::Operand(o) => self.operand(file, o),
            ast::ExprKind::Count { kind, k, items } => {
                Typed::Cond(self.count(file, *kind, k, items, span))
            }
            ast::ExprKind::Within {
                value,
                amount,
                reference,
            } => Typed::Cond(self.within(file, value, amount, reference.as_ref(), span)),
        }
    }

    pub(super) fn number(&mut self, lit: &ast::NumberLit) -> Option<Num> {
        match Num::parse(&lit.text) {
            Ok(n) => Some(n),
            Err(NumError::TooLarge) => {
                self.report(
                    Diagnostic::new(
                        Code::NumberOutOfRange,
                        format!("number `{}` is too large or too precise", shown(&lit.text)),
                    )
                    .primary(lit.span, "out of range")
                    .help(format!(
                        "numbers are exact and have at most {} significant digits",
                        crate::types::MAX_DIGITS
                    )),
                );
                None
            }
            Err(NumError::Malformed) => {
                self.report(
                    Diagnostic::new(
                        Code::SyntaxError,
                        format!("`{}` is not a number", shown(&lit.text)),
                    )
                    .primary(lit.span, "not a number"),
                );
                None
            }
        }
    }

    pub(super) fn operand(&mut self, file: FileId, o: &ast::Operand) -> Typed {
        let base = match &o.kind {
            ast::OperandKind::Name(n) => self.name_term(file, n),
            ast::OperandKind::Number(n) => match self.number(n) {
                Some(value) => Typed::Value {
                    value,
                    ty: if value.is_integer() && !n.text.contains('.') {
                        Type::Int
                    } else {
                        Type::Decimal
                    },
                    span: n.span,
                    written: n.text.clone(),
                },
                None => Typed::Error,
            },
            ast::OperandKind::Quantity(q) => self.quantity(q),
            ast::OperandKind::Bool(b) => Typed::Cond(Expr {
                kind: ExprKind::Const(*b),
                span: o.span,
            }),
            ast::OperandKind::Paren(e) => self.term(file, e),
            ast::OperandKind::Date(d) => match self.date(&d.text, d.span) {
                Some(date) => Typed::Value {
                    value: date.num(),
                    ty: Type::Date,
                    span: d.span,
                    written: d.text.clone(),
                },
                None => Typed::Error,
            },
            ast::OperandKind::Difference {
                left,
                right,
                op_span,
            } => self.difference(file, left, right, *op_span, o.span),
            ast::OperandKind::ListCount { list, filter } => {
                self.list_count(file, list, filter.as_deref(), o.span)
            }
            ast::OperandKind::Arith { op_span, .. } => {
                self.arithmetic_outside_define(file, o, *op_span)
            }
        };
        match &o.conversion {
            Some(unit) => self.convert(base, unit, o.span),
            None => base,
        }
    }

    pub(super) fn quantity(&mut self, q: &ast::Quantity) -> Typed {
        let (Some(value), Some(unit)) = (self.number(&q.number), self.unit(&q.unit)) else {
            return Typed::Error;
        };
        Typed::Value {
            value,
            ty: Type::Quantity(unit),
            span: q.span,
            written: if q.unit.name == "%" {
                format!("{}%", q.number.text)
            } else {
                format!("{} {}", q.number.text, q.unit.name)
            },
        }
    }

    /// `x as UNIT`: exact within a unit family, by convention across days and months.
    fn convert(&mut self, base: Typed, unit: &ast::Ident, span: Span) -> Typed {
        let Some(to) = self.unit(unit) else {
            return Typed::Error;
        };
        let from = match &base {
            Typed::Fact {
                ty: Type::Quantity(u),
                ..
            }
            | Typed::Value {
                ty: Type::Quantity(u),
                ..
            } => *u,
            Typed::Error
            | Typed::Fact {
                ty: Type::Error, ..
            } => return Typed::Error,
            _ => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        "only durations, percentages and measurements convert with `as`",
                    )
                    .primary(span, "this has no unit to convert")
                    .help("`as` changes the unit of a duration, such as `fracture_age as weeks`"),
                );
                return Typed::Error;
            }
        };
        if super::units::different_dimensions(from, to) {
            let written = match &base {
                Typed::Fact { name, .. } => name.clone(),
                Typed::Value { written, .. } => written.clone(),
                _ => String::new(),
            };
            self.wrong_dimension((&written, from, None), (to.name(), to, unit.span));
            return Typed::Error;
        }
        let Some(factor) = from.conventional_factor(to) else {
            self.report(
                Diagnostic::new(
                    Code::UnitMismatch,
                    format!("{} cannot be converted to {}", from.name(), to.name()),
                )
                .primary(unit.span, "incompatible unit")
                .help("durations convert between days, weeks, months and years; percentages do not convert"),
            );
            return Typed::Error;
        };
        let overflow = |c: &mut Self| {
            c.report(
                Diagnostic::new(
                    Code::NumberOutOfRange,
                    "the converted number is out of range",
                )
                .primary(span, "out of range"),
            );
            Typed::Error
        };
        match base {
            Typed::Fact {
                fact,
                scale,
                name,
                span: s,
                ..
            } => match scale.checked_mul(factor) {
                Some(scale) => Typed::Fact {
                    fact,
                    scale,
                    ty: Type::Quantity(to),
                    name,
                    span: s,
                },
                None => overflow(self),
            },
            Typed::Value {
                value,
                span: s,
                written,
                ..
            } => match value.checked_mul(factor) {
                Some(value) => Typed::Value {
                    value,
                    ty: Type::Quantity(to),
                    span: s,
                    written: format!("{written} as {}", to.name()),
                },
                None => overflow(self),
            },
            other => other,
        }
    }

    fn name_term(&mut self, file: FileId, n: &ast::Ident) -> Typed {
        let symbol = self.lookup(file, n);
        if let Some(s) = symbol
            && self.outside_item(s, n)
        {
            return Typed::Error;
        }
        match symbol {
            Some(Symbol::Fact(id)) => {
                let ty = self.program.fact(id).map_or(Type::Error, |f| f.ty);
                Typed::Fact {
                    fact: id,
                    scale: one(),
                    ty,
                    name: n.name.clone(),
                    span: n.span,
                }
            }
            Some(Symbol::Define(id)) => {
                let Some(def) = self.program.define(id) else {
                    return Typed::Error;
                };
                match &def.body {
                    DefineBody::Condition(_) => Typed::Cond(Expr {
                        kind: ExprKind::Define(id),
                        span: n.span,
                    }),
                    DefineBody::Value(v) => Typed::Value {
                        value: *v,
                        ty: def.ty,
                        span: n.span,
                        written: n.name.clone(),
                    },
                    DefineBody::Alias { fact, scale } => Typed::Fact {
                        fact: *fact,
                        scale: *scale,
                        ty: def.ty,
                        name: n.name.clone(),
                        span: n.span,
                    },
                    DefineBody::Difference { left, right } => Typed::Difference {
                        left: *left,
                        right: *right,
                        ty: def.ty,
                        span: n.span,
                        written: n.name.clone(),
                    },
                    DefineBody::Invalid => Typed::Error,
                }
            }
            Some(symbol) => {
                let help = match symbol {
                    Symbol::CodeSet(_) => {
                        "use a code set after `in` or `has any`, such as `procedure in vertebroplasty`"
                    }
                    Symbol::Decision(_) => {
                        "a rule cannot read a decision's outcome; name the condition with `define`"
                    }
                    _ => "only facts and definitions can be used in a condition",
                };
                let mut d = Diagnostic::new(
                    Code::TypeMismatch,
                    format!("`{}` is a {}, not a value", shown(&n.name), symbol.kind()),
                )
                .primary(n.span, format!("a {}", symbol.kind()))
                .help(help);
                if let Some(at) = self.declared_at(symbol) {
                    d = d.secondary(at, "declared here");
                }
                self.report(d);
                Typed::Error
            }
            None => {
                if !self.misplaced_field(n) {
                    self.unknown_name(file, n, "name", |s| {
                        matches!(s, Symbol::Fact(_) | Symbol::Define(_))
                    });
                }
                Typed::Error
            }
        }
    }

    /// An enum fact named by a bare operand, without recording the use.
    fn enum_fact(&self, file: FileId, o: &ast::Operand) -> Option<(FactId, crate::types::EnumId)> {
        let ast::OperandKind::Name(n) = &o.kind else {
            return None;
        };
        if o.conversion.is_some() {
            return None;
        }
        let fact = match self.field(&n.name) {
            Some(field) => field,
            None => match self.scope(file)?.names.get(&n.name)?.symbol {
                Symbol::Fact(id) => id,
                // Another name for the fact.
                Symbol::Define(d) => match self.program.define(d)?.body {
                    DefineBody::Alias { fact, .. } => fact,
                    _ => return None,
                },
                _ => return None,
            },
        };
        match self.program.fact(fact)?.ty {
            Type::Enum(e) => Some((fact, e)),
            _ => None,
        }
    }

    pub(super) fn bare_name(o: &ast::Operand) -> Option<&ast::Ident> {
        match (&o.kind, &o.conversion) {
            (ast::OperandKind::Name(n), None) => Some(n),
            _ => None,
        }
    }

    fn compare(
        &mut self,
        file: FileId,
        op: CmpOp,
        op_span: Span,
        left: &ast::Operand,
        right: &ast::Operand,
        span: Span,
    ) -> Expr {
        // Inside a count, a field compared with a fact: `region == requested_region`.
        if let Some(e) = self.field_fact(file, op, op_span, left, right, span) {
            return e;
        }
        // `setting == inpatient`: the value is read in the enum's terms, before any scope.
        if let (Some((fact, e)), Some(value)) = (self.enum_fact(file, left), Self::bare_name(right))
        {
            self.operand(file, left);
            return self.enum_compare(file, fact, e, op, op_span, value, left, span);
        }
        if let (Some(value), Some((fact, e))) = (Self::bare_name(left), self.enum_fact(file, right))
        {
            self.operand(file, right);
            return self.enum_compare(file, fact, e, op, op_span, value, right, span);
        }
        // A field read where it does not belong (`level == lumbar` outside a count of its
        // record's items): said once, without the value beside it reported as unknown.
        for side in [left, right] {
            if let Some(n) = Self::bare_name(side)
                && self.field(&n.name).is_none()
                && self
                    .scope(file)
                    .is_none_or(|s| !s.names.contains_key(&n.name))
                && self.misplaced_field(n)
            {
                return error_expr(span);
            }
        }
        let l = self.operand(file, left);
        let r = self.operand(file, right);
        self.compare_typed(op, op_span, l, r, span)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one comparison's parts, used together once"
    )]
    fn enum_compare(
        &mut self,
        file: FileId,
        fact: FactId,
        e: crate::types::EnumId,
        op: CmpOp,
        op_span: Span,
        value: &ast::Ident,
        fact_operand: &ast::Operand,
        span: Span,
    ) -> Expr {
        let Some(index) = self.enum_value(file, fact, e, value, fact_operand.span) else {
            return error_expr(span);
        };
        let is_in = Expr {
            kind: ExprKind::EnumIn {
                fact,
                values: vec![index],
            },
            span,
        };
        match op {
            CmpOp::Eq => is_in,
            CmpOp::Ne => Expr {
                kind: ExprKind::Not(Box::new(is_in)),
                span,
            },
            _ => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "enum values have no order, so `{}` cannot compare them",
                            op.as_str()
                        ),
                    )
                    .primary(op_span, "ordering comparison")
                    .help("compare with `==`, `!=` or `in { ... }`"),
                );
                error_expr(span)
            }
        }
    }

    /// Reads a word as a value of a fact's enum, reporting an unknown one.
    fn enum_value(
        &mut self,
        file: FileId,
        fact: FactId,
        e: crate::types::EnumId,
        value: &ast::Ident,
        fact_span: Span,
    ) -> Option<u32> {
        let values: Vec<String> = self
            .program
            .enum_type(e)
            .map(|t| t.values.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        if let Some(i) = values.iter().position(|v| *v == value.name) {
            let i = i as u32;
            self.reference(value.span, Symbol::EnumValue(e, i));
            return Some(i);
        }
        let fact_name = self
            .program
            .fact(fact)
            .map(|f| f.name.clone())
            .unwrap_or_default();
        // A fact on the other side is a comparison of two facts.
        if let Some(Symbol::Fact(other)) = self
            .scope(file)
            .and_then(|s| s.names.get(&value.name))
            .map(|e| e.symbol)
        {
            self.lookup(file, value);
            self.two_facts(fact_span, value.span, &fact_name, &value.name, other);
            return None;
        }
        let list = values
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut d = Diagnostic::new(
            Code::UnknownEnumValue,
            format!(
                "`{}` is not a value of `{}`",
                shown(&value.name),
                shown(&fact_name)
            ),
        )
        .primary(value.span, "unknown value");
        if let Some(at) = self.program.fact(fact).map(|f| f.name_span) {
            d = d.secondary(at, format!("`{fact_name}` is declared here"));
        }
        d = match names::suggest(&value.name, values.iter().map(String::as_str)) {
            Some(s) => d.help(format!("did you mean `{s}`? the values are {list}")),
            None => d.help(format!("the values are {list}")),
        };
        self.report(d);
        None
    }

    /// Two enum facts compared: enum values have no order, and facts of two enums nothing in
    /// common.
    fn two_facts(&mut self, left: Span, right: Span, a: &str, b: &str, _other: FactId) {
        self.report(
            Diagnostic::new(
                Code::ComparisonWithoutFact,
                format!("comparison of two facts, `{}` and `{}`", shown(a), shown(b)),
            )
            .primary(right, "a second fact")
            .secondary(left, "the first fact")
            .help(
                "an enum fact is compared with one of its values, such as `setting == inpatient`",
            ),
        );
    }

    fn compare_typed(&mut self, op: CmpOp, op_span: Span, l: Typed, r: Typed, span: Span) -> Expr {
        let is_const_bool = |t: &Typed| match t {
            Typed::Cond(Expr {
                kind: ExprKind::Const(b),
                ..
            }) => Some(*b),
            _ => None,
        };
        match (l, r) {
            (
                Typed::Count {
                    list,
                    filter,
                    span: cs,
                },
                other,
            ) => self.count_compare(op, op_span, (list, filter, cs), other, span),
            (
                other,
                Typed::Count {
                    list,
                    filter,
                    span: cs,
                },
            ) => self.count_compare(op.flipped(), op_span, (list, filter, cs), other, span),
            (Typed::Error, _) | (_, Typed::Error) => error_expr(span),
            (l @ Typed::Fact { .. }, r @ Typed::Fact { .. }) => {
                self.facts_compared(op, op_span, l, r, span)
            }
            (
                Typed::Difference {
                    left,
                    right,
                    ty,
                    written,
                    ..
                },
                Typed::Value {
                    value,
                    ty: vty,
                    span: vs,
                    written: vw,
                },
            ) => self.difference_compared(
                op,
                (left, right, ty, &written),
                (value, vty, vs, &vw),
                span,
            ),
            (
                Typed::Value {
                    value,
                    ty: vty,
                    span: vs,
                    written: vw,
                },
                Typed::Difference {
                    left,
                    right,
                    ty,
                    written,
                    ..
                },
            ) => self.difference_compared(
                op.flipped(),
                (left, right, ty, &written),
                (value, vty, vs, &vw),
                span,
            ),
            (l, r) if is_const_bool(&l).is_some() || is_const_bool(&r).is_some() => {
                let (flag, other) = match is_const_bool(&l) {
                    Some(b) => (b, r),
                    None => (is_const_bool(&r).unwrap_or(true), l),
                };
                self.bool_compare(op, op_span, flag, other, span)
            }
            (Typed::Value { span: sa, .. }, Typed::Value { .. }) => {
                self.report(
                    Diagnostic::new(Code::ComparisonWithoutFact, "comparison of two values")
                        .primary(span, "no fact here")
                        .secondary(sa, "a value")
                        .help("a comparison tests one fact against a value, such as `age > 78.5 years`"),
                );
                error_expr(span)
            }
            (
                Typed::Fact {
                    fact,
                    scale,
                    ty,
                    name,
                    span: fs,
                },
                Typed::Value {
                    value,
                    ty: vty,
                    span: vs,
                    written,
                },
            ) => self.fact_compare(
                op,
                op_span,
                (fact, scale, ty, &name, fs),
                (value, vty, vs, &written),
                span,
            ),
            (
                Typed::Value {
                    value,
                    ty: vty,
                    span: vs,
                    written,
                },
                Typed::Fact {
                    fact,
                    scale,
                    ty,
                    name,
                    span: fs,
                },
            ) => self.fact_compare(
                op.flipped(),
                op_span,
                (fact, scale, ty, &name, fs),
                (value, vty, vs, &written),
                span,
            ),
            (l, r) => {
                let what = |t: &Typed| match t {
                    Typed::Cond(_) => "a condition".to_string(),
                    Typed::Difference { written, .. } => {
                        format!("the difference `{}`", shown(written))
                    }
                    Typed::Count { .. } => "a count".to_string(),
                    Typed::Fact { ty, .. } | Typed::Value { ty, .. } => ty.describe(),
                    Typed::Error => "a value".to_string(),
                };
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!("cannot compare {} with {}", what(&l), what(&r)),
                    )
                    .primary(op_span, "these sides do not compare")
                    .help("compare a fact with a value of its type"),
                );
                error_expr(span)
            }
        }
    }

    /// `x == true`, `(a and b) != false`.
    fn bool_compare(
        &mut self,
        op: CmpOp,
        op_span: Span,
        flag: bool,
        other: Typed,
        span: Span,
    ) -> Expr {
        let negate = match op {
            CmpOp::Eq => !flag,
            CmpOp::Ne => flag,
            _ => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "`true` and `false` have no order, so `{}` cannot compare them",
                            op.as_str()
                        ),
                    )
                    .primary(op_span, "ordering comparison")
                    .help("test the condition itself, or use `not`"),
                );
                return error_expr(span);
            }
        };
        if matches!(
            &other,
            Typed::Cond(Expr {
                kind: ExprKind::Const(_) | ExprKind::Error,
                ..
            })
        ) {
            self.report(
                Diagnostic::new(Code::ComparisonWithoutFact, "comparison of two values")
                    .primary(span, "no fact here")
                    .help("a comparison tests one fact against a value"),
            );
            return error_expr(span);
        }
        let inner = self.as_condition(other, span);
        if negate {
            Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span,
            }
        } else {
            inner
        }
    }

    /// `fact OP value`, with the fact's side as (id, scale, type, name, span) and the value's
    /// as (value, type, span, written).
    fn fact_compare(
        &mut self,
        op: CmpOp,
        op_span: Span,
        (fact, scale, ty, name, fact_span): (FactId, Num, Type, &str, Span),
        (value, vty, value_span, written): (Num, Type, Span, &str),
        span: Span,
    ) -> Expr {
        let written = |_: &Self| shown(written).into_owned();
        let in_fact_unit = match (ty, vty) {
            (Type::Error, _) | (_, Type::Error) => return error_expr(span),
            (Type::Int | Type::Decimal, Type::Int | Type::Decimal) | (Type::Date, Type::Date) => {
                Some(value)
            }
            (Type::Quantity(u), Type::Quantity(w)) => match w.exact_factor(u) {
                Some(f) => value.checked_mul(f),
                None if super::units::different_dimensions(u, w) => {
                    let name = name.to_string();
                    let written = written(self);
                    self.wrong_dimension((&name, u, Some(fact_span)), (&written, w, value_span));
                    return error_expr(span);
                }
                None => {
                    let (help, note) = if u.family() == crate::types::Family::Percent
                        || w.family() == crate::types::Family::Percent
                    {
                        (
                            "a percentage compares only with a percentage, such as `28.5%`"
                                .to_string(),
                            None,
                        )
                    } else {
                        (
                            format!(
                                "convert explicitly: `{} as {} {} {}`",
                                shown(name),
                                w.name(),
                                op.as_str(),
                                written(self)
                            ),
                            Some(
                                "`as` counts a year as 365 days and a month as a twelfth of a year",
                            ),
                        )
                    };
                    let mut d = Diagnostic::new(
                        Code::UnitMismatch,
                        format!(
                            "`{}` is in {} but `{}` is in {}, which do not convert exactly",
                            shown(name),
                            u.name(),
                            written(self),
                            w.name()
                        ),
                    )
                    .primary(value_span, format!("in {}", w.name()))
                    .secondary(fact_span, format!("in {}", u.name()))
                    .help(help);
                    if let Some(n) = note {
                        d = d.note(n);
                    }
                    self.report(d);
                    return error_expr(span);
                }
            },
            (Type::Quantity(u), Type::Int | Type::Decimal) => {
                let example = if u == Unit::Percent {
                    format!("`{}%`", written(self))
                } else {
                    format!("`{} {}`", written(self), u.name())
                };
                self.report(
                    Diagnostic::new(
                        Code::UnitMismatch,
                        format!(
                            "`{}` has no unit, but `{}` is {}",
                            written(self),
                            shown(name),
                            ty.describe()
                        ),
                    )
                    .primary(value_span, "no unit")
                    .secondary(fact_span, ty.describe())
                    .help(format!("write the unit, such as {example}")),
                );
                return error_expr(span);
            }
            (Type::Int | Type::Decimal, Type::Quantity(w)) => {
                self.report(
                    Diagnostic::new(
                        Code::UnitMismatch,
                        format!(
                            "`{}` is a plain number, but `{}` is in {}",
                            shown(name),
                            written(self),
                            w.name()
                        ),
                    )
                    .primary(value_span, format!("in {}", w.name()))
                    .secondary(fact_span, "no unit")
                    .help(format!(
                        "compare with a plain number, or declare `{}` as `{}`",
                        shown(name),
                        Type::Quantity(w).syntax()
                    )),
                );
                return error_expr(span);
            }
            (ty, _) => {
                let help = match ty {
                    Type::Code(_) => "test a code with `in`, such as `procedure in { 22510 }`",
                    Type::CodeSet(_) => {
                        "test a set of codes with `has any`, `has all` or `has none`"
                    }
                    Type::Enum(_) => {
                        "compare an enum fact with one of its values, such as `setting == inpatient`"
                    }
                    _ => "compare a fact with a value of its type",
                };
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "cannot compare `{}`, {}, with {}",
                            shown(name),
                            ty.describe(),
                            vty.describe()
                        ),
                    )
                    .primary(op_span, "these sides do not compare")
                    .secondary(fact_span, ty.describe())
                    .help(help),
                );
                return error_expr(span);
            }
        };
        // `fact * scale OP value` is `fact OP value / scale`: scales are positive.
        match in_fact_unit.and_then(|v| v.checked_div(scale)) {
            Some(value) => Expr {
                kind: ExprKind::Compare { fact, op, value },
                span,
            },
            None => self.out_of_range(value_span, span),
        }
    }

    /// A value out of range after its conversion, reported; the condition's stand-in.
    pub(super) fn out_of_range(&mut self, value_span: Span, span: Span) -> Expr {
        self.report(
            Diagnostic::new(
                Code::NumberOutOfRange,
                "the converted number is out of range",
            )
            .primary(value_span, "out of range"),
        );
        error_expr(span)
    }

    /// The code system a fact holds, for `in` and `has`.
    fn membership(
        &mut self,
        file: FileId,
        negated: bool,
        value: &ast::Operand,
        set: &ast::SetExpr,
        span: Span,
    ) -> Expr {
        let typed = self.operand(file, value);
        let inner = match typed {
            Typed::Error
            | Typed::Fact {
                ty: Type::Error, ..
            } => return error_expr(span),
            Typed::Fact {
                fact,
                ty: Type::Code(system),
                ..
            } => match self.set_operand(file, set, system) {
                Some(set) => ExprKind::CodeIn { fact, set },
                None => return error_expr(span),
            },
            Typed::Fact {
                fact,
                ty: Type::Enum(e),
                span: fs,
                ..
            } => match self.enum_set(file, fact, e, set, fs) {
                Some(values) => ExprKind::EnumIn { fact, values },
                None => return error_expr(span),
            },
            Typed::Fact {
                ty: Type::CodeSet(_),
                name,
                span: fs,
                ..
            } => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "`{}` is a set of codes, so `in` does not apply",
                            shown(&name)
                        ),
                    )
                    .primary(fs, "a set of codes")
                    .help(format!("write `{} has any SET`", shown(&name))),
                );
                return error_expr(span);
            }
            other => {
                let what = match &other {
                    Typed::Fact { ty, name, .. } => format!("`{}`, {}", shown(name), ty.describe()),
                    Typed::Value { ty, .. } => ty.describe(),
                    _ => "a condition".to_string(),
                };
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!("`in` tests a code or enum fact, not {what}"),
                    )
                    .primary(value.span, "not a code or enum fact")
                    .help("for numbers use comparisons, such as `age >= 65 years`"),
                );
                return error_expr(span);
            }
        };
        let e = Expr { kind: inner, span };
        if negated {
            Expr {
                kind: ExprKind::Not(Box::new(e)),
                span,
            }
        } else {
            e
        }
    }

    fn has(
        &mut self,
        file: FileId,
        quantifier: ast::Quantifier,
        value: &ast::Operand,
        set: &ast::SetExpr,
        span: Span,
    ) -> Expr {
        match self.operand(file, value) {
            Typed::Fact {
                fact,
                ty: Type::CodeSet(system),
                ..
            } => match self.set_operand(file, set, system) {
                Some(set) => Expr {
                    kind: ExprKind::Has {
                        fact,
                        quantifier,
                        set,
                    },
                    span,
                },
                None => error_expr(span),
            },
            Typed::Error
            | Typed::Fact {
                ty: Type::Error, ..
            } => error_expr(span),
            Typed::Fact {
                ty: Type::Code(_),
                name,
                span: fs,
                ..
            } => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "`{}` is one code, so `has {}` does not apply",
                            shown(&name),
                            quantifier.as_str()
                        ),
                    )
                    .primary(fs, "a single code")
                    .help(format!("write `{} in SET`", shown(&name))),
                );
                error_expr(span)
            }
            other => {
                let what = match &other {
                    Typed::Fact { ty, name, .. } => format!("`{}`, {}", shown(name), ty.describe()),
                    Typed::Value { ty, .. } => ty.describe(),
                    _ => "a condition".to_string(),
                };
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "`has {}` tests a set of codes, not {what}",
                            quantifier.as_str()
                        ),
                    )
                    .primary(value.span, "not a set of codes")
                    .help("declare the fact as `set<code<SYSTEM>>`"),
                );
                error_expr(span)
            }
        }
    }

    /// A set used in a condition: a named set is used as is; anything else becomes a set of
    /// its own, without a name.
    fn set_operand(
        &mut self,
        file: FileId,
        set: &ast::SetExpr,
        system: System,
    ) -> Option<CodeSetId> {
        let errors_before = self.diagnostics.len();
        let expr = self.set_expr(file, set, system);
        if let SetExpr::Ref(id) = expr {
            return Some(id);
        }
        if self
            .diagnostics
            .iter()
            .skip(errors_before)
            .any(|d| d.is_error())
        {
            return None;
        }
        let id = CodeSetId(self.program.code_sets.len() as u32);
        self.program.code_sets.push(CodeSet {
            name: None,
            system,
            description: None,
            expr,
            span: set.span(),
            name_span: set.span(),
        });
        Some(id)
    }

    fn enum_set(
        &mut self,
        file: FileId,
        fact: FactId,
        e: crate::types::EnumId,
        set: &ast::SetExpr,
        fact_span: Span,
    ) -> Option<Vec<u32>> {
        let ast::SetExpr::Literal(lit) = set else {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    "an enum fact is tested against a list of its values",
                )
                .primary(set.span(), "not a list of values")
                .help("write the values in braces, such as `product in { hmo, pos }`"),
            );
            return None;
        };
        let mut values = Vec::new();
        let mut ok = true;
        for item in &lit.items {
            if item.last.is_some() {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        "enum values have no order, so they have no ranges",
                    )
                    .primary(item.span, "a range")
                    .help("list the values one by one"),
                );
                ok = false;
                continue;
            }
            let ident = ast::Ident {
                name: item.first.text.clone(),
                span: item.first.span,
            };
            match self.enum_value(file, fact, e, &ident, fact_span) {
                Some(v) => values.push(v),
                None => ok = false,
            }
        }
        values.sort_unstable();
        values.dedup();
        ok.then_some(values)
    }

    fn count(
        &mut self,
        file: FileId,
        kind: CountKind,
        k: &ast::NumberLit,
        items: &[ast::Expr],
        span: Span,
    ) -> Expr {
        let conds: Vec<Expr> = items.iter().map(|i| self.condition(file, i)).collect();
        let n = conds.len();
        let Some(k_number) = self.number(k) else {
            return error_expr(span);
        };
        // The grammar makes the count a whole number; one beyond `u32` counts as `u32::MAX`,
        // more than any list holds, and is shown as written.
        let (k_value, k_shown) = match k_number.to_i64().and_then(|v| u32::try_from(v).ok()) {
            Some(v) => (v, v.to_string()),
            None => (u32::MAX, k.text.clone()),
        };
        let k_usize = k_value as usize;
        let phrase = format!("{} {k_shown} of", kind.as_str());
        let impossible = match kind {
            CountKind::AtLeast | CountKind::Exactly => k_usize > n,
            CountKind::AtMost => false,
        };
        if impossible {
            self.report(
                Diagnostic::new(
                    Code::CountOutOfBounds,
                    format!("`{phrase}` a list of {n} can never hold"),
                )
                .primary(
                    k.span,
                    format!("{k_shown} is more than the {n} conditions listed"),
                )
                .help(format!("the count can be at most {n}")),
            );
            return error_expr(span);
        }
        let always = match kind {
            CountKind::AtLeast => k_usize == 0,
            CountKind::AtMost => k_usize >= n,
            CountKind::Exactly => false,
        };
        if always {
            self.report(
                Diagnostic::new(
                    Code::TrivialCount,
                    format!("`{phrase}` a list of {n} always holds"),
                )
                .primary(k.span, "always true")
                .help("remove the condition, or correct the count"),
            );
        }
        Expr {
            kind: ExprKind::Count {
                kind,
                k: k_value,
                items: conds,
            },
            span,
        }
    }

    /// Checks a define's body.
    pub(super) fn check_define(&mut self, id: DefineId) {
        let Some(decl) = self.define_decls.get(id.index()).copied() else {
            return;
        };
        let file = decl.span.file;
        if let Some(formula) = super::derived::is_formula(&decl.expr) {
            let (ty, body) = self.derived(id, file, formula);
            self.set_define(id, ty, body);
            return;
        }
        let typed = self.term(file, &decl.expr);
        let (ty, body) = match typed {
            Typed::Cond(e) => (Type::Bool, DefineBody::Condition(e)),
            Typed::Fact {
                fact,
                ty: Type::Bool,
                scale,
                ..
            } if scale == one() => (
                Type::Bool,
                DefineBody::Condition(Expr {
                    kind: ExprKind::Fact(fact),
                    span: decl.expr.span,
                }),
            ),
            Typed::Fact {
                fact, scale, ty, ..
            } => (ty, DefineBody::Alias { fact, scale }),
            Typed::Value { value, ty, .. } => (ty, DefineBody::Value(value)),
            Typed::Difference {
                left, right, ty, ..
            } => (ty, DefineBody::Difference { left, right }),
            Typed::Count { span, .. } => {
                self.count_as_condition(span);
                (Type::Error, DefineBody::Invalid)
            }
            Typed::Error => (Type::Error, DefineBody::Invalid),
        };
        self.set_define(id, ty, body);
    }

    fn set_define(&mut self, id: DefineId, ty: Type, body: DefineBody) {
        if let Some(def) = self.program.defines.get_mut(id.index()) {
            def.ty = ty;
            def.body = body;
        } else {
            self.lost("definition", id.index());
        }
    }

    /// Every fact an expression reads, through defines too (each define visited once, without
    /// recursion: a chain of definitions can be as long as the input). A derived value counts
    /// as the facts it is computed from, which are the inputs a patient gives.
    pub(super) fn reads_of(&self, e: &Expr, out: &mut Vec<FactId>) {
        let mut todo = self.program.facts_read(e);
        while let Some(f) = todo.pop() {
            match self.program.fact(f).and_then(|x| x.derived.as_ref()) {
                Some(d) => todo.extend(d.formula.facts().into_iter().copied()),
                None => out.push(f),
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// The stand-in for a condition that had errors.
pub(super) fn error_expr(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Error,
        span,
    }
}
