//! Derived values: a `define` whose body is arithmetic over numbers, measurements and numeric
//! facts (`define bmi = weight / (height * height)`). The value is named so that the analysis,
//! which reasons over it as a value of its own, can name it in its findings: arithmetic is
//! refused anywhere else. It becomes a fact of the model marked with its formula
//! ([`crate::ir::Derived`]), which no patient gives: the interpreter and the artifact's
//! evaluator compute it from its inputs.

use super::Checker;
use super::expr::Typed;
use crate::ast::{self, Op};
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::{DefineBody, DefineId, Derived, Fact, FactId};
use crate::source::{FileId, Span};
use crate::types::{Num, Type, Unit};
use medpol_artifact::formula::Formula;
use medpol_artifact::ucum::{Dim, Ucum};

/// A formula over facts each in its own unit, the factor that takes its value to the base
/// unit of its dimension (`g`, `m`: each unit's factor is 1), and that dimension (all
/// exponents 0 for a plain number). Factors are kept apart and multiplied together, so the
/// formula has one factor in all (`weight / (height * height) * 10000` for kg and cm).
type Part = (Formula<FactId>, Num, Dim);

const NUMBER: Dim = Dim([0; 4]);

/// Whether a define's body is a derived value's formula rather than a condition, an alias, a
/// value or a difference of two facts: arithmetic other than `-`, or a `-` with anything but
/// a name on a side (`weight - 2 kg`). A difference of two named facts stays a relation,
/// which the analysis decides exactly.
pub(super) fn is_formula(e: &ast::Expr) -> Option<&ast::Operand> {
    let ast::ExprKind::Operand(o) = &e.kind else {
        return None;
    };
    let named = |o: &ast::Operand| matches!(o.kind, ast::OperandKind::Name(_));
    match &o.kind {
        ast::OperandKind::Arith { .. } => Some(o),
        ast::OperandKind::Difference { left, right, .. } if !named(left) || !named(right) => {
            Some(o)
        }
        ast::OperandKind::Paren(inner) if o.conversion.is_none() => is_formula(inner),
        _ => None,
    }
}

impl Checker<'_> {
    /// A define whose body is a formula: a fact of its own, derived from its inputs, that the
    /// define names; or a value when it reads no fact.
    pub(super) fn derived(
        &mut self,
        id: DefineId,
        file: FileId,
        body: &ast::Operand,
    ) -> (Type, DefineBody) {
        let Some(decl) = self.define_decls.get(id.index()).copied() else {
            return (Type::Error, DefineBody::Invalid);
        };
        let Some((formula, scale, dim)) = self.part(file, body) else {
            return (Type::Error, DefineBody::Invalid);
        };
        // The value is in the dimension's first unit of the table (`kg/m2`, the unit written
        // first for its dimension), so findings show it as a policy writes it.
        let (ty, factor) = if dim == NUMBER {
            (Type::Decimal, Num::from_int(1))
        } else {
            match Ucum::codes()
                .filter_map(Ucum::parse)
                .find(|u| u.dim() == dim)
            {
                Some(u) => (Type::Quantity(Unit::Ucum(u)), u.factor()),
                None => {
                    self.report(
                        Diagnostic::new(
                            Code::WrongDimension,
                            format!(
                                "`{}` is {}, which no unit measures",
                                shown(&decl.name.name),
                                dim.describe()
                            ),
                        )
                        .primary(body.span, dim.describe())
                        .help("a derived value is compared in a unit of its dimension: check the formula's units"),
                    );
                    return (Type::Error, DefineBody::Invalid);
                }
            }
        };
        // A measurement other than an angle is never negative, and the analysis and both
        // evaluators count on it: a formula that could be (a difference) is refused.
        if matches!(ty, Type::Quantity(u) if u.nonnegative()) && !self.nonnegative(&formula) {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    format!(
                        "`{}` may be negative, which {} is not",
                        shown(&decl.name.name),
                        dim.describe()
                    ),
                )
                .primary(body.span, "a difference of measurements")
                .help("compare the two values instead, such as `weight >= 70 kg`; a derived measurement adds, multiplies and divides values that are never negative"),
            );
            return (Type::Error, DefineBody::Invalid);
        }
        let Some(factor) = scale.checked_div(factor) else {
            self.units_out_of_range(body.span);
            return (Type::Error, DefineBody::Invalid);
        };
        let formula = scaled(formula, factor);
        if formula.facts().is_empty() {
            return match formula.value(&|_| None) {
                Ok(Some(value)) => (ty, DefineBody::Value(value)),
                Ok(None) | Err(_) => {
                    self.report(
                        Diagnostic::new(
                            Code::NumberOutOfRange,
                            format!("`{}` has no exact value", shown(&decl.name.name)),
                        )
                        .primary(body.span, "divides by zero or is out of range"),
                    );
                    (Type::Error, DefineBody::Invalid)
                }
            };
        }
        let written = written(body);
        let fact = FactId(self.program.facts.len() as u32);
        self.program.facts.push(Fact {
            name: decl.name.name.clone(),
            ty,
            description: decl.description.as_ref().map(|d| d.value.clone()),
            file,
            span: decl.span,
            name_span: decl.name.span,
            range: None,
            documented: false,
            record: None,
            derived: Some(Derived { formula, written }),
        });
        (
            ty,
            DefineBody::Alias {
                fact,
                scale: Num::from_int(1),
            },
        )
    }

    /// Whether a formula is never negative, by the signs of its parts: facts and numbers that
    /// are not, combined without `-`.
    fn nonnegative(&self, f: &Formula<FactId>) -> bool {
        match f {
            Formula::Number(n) => !n.is_negative(),
            Formula::Fact(x) => self.program.fact(*x).is_some_and(|fact| match fact.ty {
                Type::Quantity(u) if u.nonnegative() => true,
                _ => fact.range.is_some_and(|(low, _)| !low.is_negative()),
            }),
            Formula::Op(Op::Sub, ..) => false,
            Formula::Op(_, a, b) => self.nonnegative(a) && self.nonnegative(b),
        }
    }

    /// One operand of a formula, in base units.
    fn part(&mut self, file: FileId, o: &ast::Operand) -> Option<Part> {
        if let Some(unit) = &o.conversion {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    "`as` inside a formula changes nothing",
                )
                .primary(unit.span, "a conversion in a formula")
                .help("a formula computes in exact units of its own; compare the derived value in the unit you want, such as `bmi >= 35 kg/m2`"),
            );
            return None;
        }
        let (op, left, right, op_span) = match &o.kind {
            ast::OperandKind::Arith {
                op,
                left,
                right,
                op_span,
            } => (*op, left, right, *op_span),
            ast::OperandKind::Difference {
                left,
                right,
                op_span,
            } => (Op::Sub, left, right, *op_span),
            ast::OperandKind::Paren(inner) => {
                if let ast::ExprKind::Operand(o) = &inner.kind {
                    return self.part(file, o);
                }
                let typed = self.term(file, inner);
                return self.leaf(typed, o);
            }
            _ => {
                let typed = self.operand(file, o);
                return self.leaf(typed, o);
            }
        };
        let l = self.part(file, left);
        let r = self.part(file, right);
        let ((l, lscale, ldim), (r, rscale, rdim)) = (l?, r?);
        let dim = match op {
            Op::Add | Op::Sub if ldim != rdim => {
                self.report(
                    Diagnostic::new(
                        Code::WrongDimension,
                        format!(
                            "`{}` {} `{}` joins {} and {}",
                            shown(&written(left)),
                            op.as_str(),
                            shown(&written(right)),
                            ldim.describe_or_number(),
                            rdim.describe_or_number()
                        ),
                    )
                    .primary(right.span, rdim.describe_or_number())
                    .secondary(left.span, ldim.describe_or_number())
                    .help("values are added or subtracted only within one dimension"),
                );
                return None;
            }
            Op::Add | Op::Sub => ldim,
            Op::Mul | Op::Div => {
                let mut exps = [0i8; 4];
                for (i, e) in exps.iter_mut().enumerate() {
                    let (a, b) = (ldim.0.get(i).copied()?, rdim.0.get(i).copied()?);
                    let combined = if op == Op::Mul {
                        a.checked_add(b)
                    } else {
                        a.checked_sub(b)
                    };
                    let Some(c) = combined else {
                        self.units_out_of_range(op_span);
                        return None;
                    };
                    *e = c;
                }
                Dim(exps)
            }
        };
        let (l, r, scale) = match op {
            Op::Mul => (l, r, lscale.checked_mul(rscale)),
            Op::Div => (l, r, lscale.checked_div(rscale)),
            // The right side counted in the left side's factor.
            Op::Add | Op::Sub => match rscale.checked_div(lscale) {
                Some(k) => (l, scaled(r, k), Some(lscale)),
                None => (l, r, None),
            },
        };
        let Some(scale) = scale else {
            self.units_out_of_range(op_span);
            return None;
        };
        Some((Formula::Op(op, Box::new(l), Box::new(r)), scale, dim))
    }

    fn units_out_of_range(&mut self, span: Span) {
        self.report(
            Diagnostic::new(
                Code::NumberOutOfRange,
                "the formula's units are out of range",
            )
            .primary(span, "too many units combined"),
        );
    }

    /// A name, a number or a quantity in a formula, in base units.
    fn leaf(&mut self, typed: Typed, o: &ast::Operand) -> Option<Part> {
        let (formula, ty, scale) = match typed {
            Typed::Error => return None,
            Typed::Fact {
                fact, scale, ty, ..
            } => (Formula::Fact(fact), ty, scale),
            Typed::Value { value, ty, .. } => (Formula::Number(value), ty, Num::from_int(1)),
            Typed::Cond(_) => return self.not_arithmetic(o, "a condition"),
            Typed::Difference { .. } => return self.not_arithmetic(o, "a difference of two facts"),
            Typed::Count { .. } => return self.not_arithmetic(o, "a count"),
        };
        let (dim, factor) = match ty {
            Type::Int | Type::Decimal => (NUMBER, Num::from_int(1)),
            Type::Quantity(Unit::Ucum(u)) => (u.dim(), u.factor()),
            Type::Error => return None,
            ty => return self.not_arithmetic(o, &ty.describe()),
        };
        let Some(factor) = factor.checked_mul(scale) else {
            self.units_out_of_range(o.span);
            return None;
        };
        Some((formula, factor, dim))
    }

    fn not_arithmetic(&mut self, o: &ast::Operand, what: &str) -> Option<Part> {
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                format!("`{}` in a formula is not a number or a measurement", shown(&written(o))),
            )
            .primary(o.span, what)
            .help("a derived value is computed from numbers (`int`, `decimal`), measurements (`quantity<UNIT>`) and values written with their units, such as `weight / (height * height)`"),
        );
        None
    }

    /// Arithmetic outside a define: refused, so that every non-linear value has a name the
    /// analysis's findings can give.
    pub(super) fn arithmetic_outside_define(
        &mut self,
        file: FileId,
        o: &ast::Operand,
        op_span: Span,
    ) -> Typed {
        // Its names are read all the same, so that no fact is reported unused besides.
        if let ast::OperandKind::Arith { left, right, .. } = &o.kind {
            self.operand(file, left);
            self.operand(file, right);
        }
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                format!("arithmetic `{}` outside a definition", shown(&written(o))),
            )
            .primary(op_span, "computed here")
            .help("name the value with `define`, such as `define bmi = weight / (height * height)`, then compare it: `bmi >= 35 kg/m2`"),
        );
        Typed::Error
    }
}

/// A formula as the policy writes it, in the canonical spacing: for hovers and notes.
pub(crate) fn written(o: &ast::Operand) -> String {
    let mut text = match &o.kind {
        ast::OperandKind::Name(n) => n.name.clone(),
        ast::OperandKind::Number(n) => n.text.clone(),
        ast::OperandKind::Quantity(q) if q.unit.name == "%" => format!("{}%", q.number.text),
        ast::OperandKind::Quantity(q) => format!("{} {}", q.number.text, q.unit.name),
        ast::OperandKind::Date(d) => d.text.clone(),
        ast::OperandKind::Bool(b) => b.to_string(),
        ast::OperandKind::Paren(e) => match &e.kind {
            ast::ExprKind::Operand(inner) => format!("({})", written(inner)),
            _ => "(...)".to_string(),
        },
        ast::OperandKind::Difference { left, right, .. } => {
            format!("{} - {}", written(left), written(right))
        }
        ast::OperandKind::Arith {
            op, left, right, ..
        } => format!("{} {} {}", written(left), op.as_str(), written(right)),
        ast::OperandKind::ListCount { list, .. } => format!("count({})", list.name),
    };
    if let Some(unit) = &o.conversion {
        text.push_str(" as ");
        text.push_str(&unit.name);
    }
    text
}

/// `formula * factor`, or the formula itself for a factor of 1.
fn scaled(formula: Formula<FactId>, factor: Num) -> Formula<FactId> {
    if factor == Num::from_int(1) {
        formula
    } else {
        Formula::Op(
            Op::Mul,
            Box::new(formula),
            Box::new(Formula::Number(factor)),
        )
    }
}

/// A dimension in words, a plain number included.
trait Described {
    fn describe_or_number(self) -> String;
}

impl Described for Dim {
    fn describe_or_number(self) -> String {
        if self == NUMBER {
            "a plain number".to_string()
        } else {
            self.describe()
        }
    }
}
