//! Histories: record types, list facts, `count(LIST where CONDITION)` and list values in tests.
//!
//! A record's fields are facts of their own in the model ([`Fact::record`]): inside the
//! `where` of a count they resolve before the file's names, and the condition is checked like
//! any other, over them. They are never in a file's scope, so a field cannot be read outside a
//! count.

use super::expr::{Typed, error_expr};
use super::{Checker, Symbol, names};
use crate::ast::{self, CmpOp};
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;
use crate::source::{FileId, Span};
use crate::types::{Family, Num, RecordId, Type, Unit};

impl Checker<'_> {
    /// `list<RECORD>`.
    pub(super) fn list_type(
        &mut self,
        file: FileId,
        arg: Option<&ast::TypeExpr>,
        span: Span,
    ) -> Type {
        let name = match arg {
            Some(ast::TypeExpr::Named {
                name, arg: None, ..
            }) => name,
            _ => {
                self.report(
                    Diagnostic::new(Code::UnknownRecord, "a list needs the record of its items")
                        .primary(span, "no record named")
                        .help("declare `record NAME { FIELD: TYPE ... }` and write `list<NAME>`"),
                );
                return Type::Error;
            }
        };
        const TYPES: &[&str] = &[
            "bool", "int", "decimal", "percent", "duration", "code", "set", "enum", "list",
        ];
        if TYPES.contains(&name.name.as_str()) {
            self.report(
                Diagnostic::new(
                    Code::UnknownRecord,
                    format!(
                        "a list holds items of a record, not `{}` values",
                        shown(&name.name)
                    ),
                )
                .primary(name.span, "a type, not a record")
                .help("declare `record NAME { FIELD: TYPE ... }` with the values of each item as fields, and write `list<NAME>`"),
            );
            return Type::Error;
        }
        match self.lookup(file, name) {
            Some(Symbol::Record(id)) => Type::List(id),
            Some(other) => {
                let mut d = Diagnostic::new(
                    Code::UnknownRecord,
                    format!(
                        "`{}` is a {}, not a record",
                        shown(&name.name),
                        other.kind()
                    ),
                )
                .primary(name.span, "not a record")
                .help("a list holds items of a record: declare `record NAME { FIELD: TYPE ... }`");
                if let Some(at) = self.declared_at(other) {
                    d = d.secondary(at, "declared here");
                }
                self.report(d);
                Type::Error
            }
            None => {
                self.unknown_name(file, name, "record", |s| matches!(s, Symbol::Record(_)));
                Type::Error
            }
        }
    }

    /// Makes each record's fields, once the facts' types are known (a field may be of an enum
    /// type of its own, and a list fact names its record).
    pub(super) fn resolve_records(&mut self) {
        let decls = self.record_decls.clone();
        for (i, decl) in decls.iter().enumerate() {
            let record = RecordId(i as u32);
            let file = decl.span.file;
            let mut fields: Vec<(FactId, Span)> = Vec::new();
            for f in &decl.fields {
                let first = fields.iter().find(|(id, _)| {
                    self.program
                        .fact(*id)
                        .is_some_and(|x| x.name == f.name.name)
                });
                if let Some(&(_, first)) = first {
                    self.duplicate("field", &f.name.name, f.name.span, first);
                    continue;
                }
                let ty = match self.resolve_type(file, &f.ty) {
                    Type::List(_) | Type::CodeSet(_) => {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidField,
                                format!(
                                    "field `{}` of record `{}` holds several values",
                                    shown(&f.name.name),
                                    shown(&decl.name.name)
                                ),
                            )
                            .primary(f.ty.span(), "not a single value")
                            .help("a field holds one value: `bool`, `int`, `decimal`, `percent`, `duration<UNIT>`, `enum { ... }` or `code<SYSTEM>`"),
                        );
                        Type::Error
                    }
                    ty => ty,
                };
                let id = FactId(self.program.facts.len() as u32);
                self.program.facts.push(Fact {
                    name: f.name.name.clone(),
                    ty,
                    description: f.description.as_ref().map(|d| d.value.clone()),
                    file,
                    span: f.span,
                    name_span: f.name.span,
                    // A field has no range of its own: the grammar gives ranges to facts.
                    range: None,
                    documented: false,
                    record: Some(record),
                    derived: None,
                });
                self.declaration(f.name.span, Symbol::Fact(id));
                fields.push((id, f.name.span));
            }
            match self.program.records.get_mut(i) {
                Some(r) => r.fields = fields.into_iter().map(|(id, _)| id).collect(),
                None => self.lost("record", i),
            }
        }
    }

    /// A field of the record whose items the enclosing `where` reads.
    pub(super) fn field(&self, name: &str) -> Option<FactId> {
        let record = self.program.record(self.item?)?;
        record
            .fields
            .iter()
            .copied()
            .find(|f| self.program.fact(*f).is_some_and(|x| x.name == name))
    }

    /// A name no scope knows that is a field of a record: reported as such (read outside a
    /// count, or in a count of another record's list). `false` when no record has it.
    pub(super) fn misplaced_field(&mut self, name: &ast::Ident) -> bool {
        let owner = self.program.records.iter().find(|r| {
            r.fields
                .iter()
                .any(|f| self.program.fact(*f).is_some_and(|x| x.name == name.name))
        });
        let Some(owner) = owner else {
            return false;
        };
        let (owner_name, owner_span) = (owner.name.clone(), owner.name_span);
        let here = self
            .item
            .and_then(|r| self.program.record(r))
            .map(|r| r.name.clone());
        let (message, help) = match here {
            Some(here) => (
                format!(
                    "`{}` is a field of record `{}`, but the items counted here are `{}`",
                    shown(&name.name),
                    shown(&owner_name),
                    shown(&here)
                ),
                format!(
                    "count a list of `{}` to read its fields, or use a field of `{}`",
                    shown(&owner_name),
                    shown(&here)
                ),
            ),
            None => (
                format!(
                    "`{}` is a field of record `{}`, read only inside a count",
                    shown(&name.name),
                    shown(&owner_name)
                ),
                "read it in a count over a list of them, such as `count(LIST where CONDITION) >= 1`"
                    .to_string(),
            ),
        };
        self.report(
            Diagnostic::new(Code::WrongRecord, message)
                .primary(name.span, "a field of another record")
                .secondary(owner_span, "the record that has it")
                .help(help),
        );
        true
    }

    /// Inside a count's condition, a name that is not a field of the items: reported (the
    /// condition is about each item). `false` outside a count, or for a field.
    pub(super) fn outside_item(&mut self, symbol: Symbol, name: &ast::Ident) -> bool {
        let Some(record) = self.item.and_then(|r| self.program.record(r)) else {
            return false;
        };
        if let Symbol::Fact(f) = symbol
            && record.fields.contains(&f)
        {
            return false;
        }
        let record_name = record.name.clone();
        self.report(
            Diagnostic::new(
                Code::WrongRecord,
                format!(
                    "`{}` is not a field of `{}`: the condition of a count reads its items' fields",
                    shown(&name.name),
                    shown(&record_name)
                ),
            )
            .primary(name.span, format!("a {}, not a field", symbol.kind()))
            .help("test the item's fields inside `where`, and other facts outside the count"),
        );
        true
    }

    /// `count(LIST)` or `count(LIST where CONDITION)`: the list must be a list fact; the
    /// condition reads its record's fields first.
    pub(super) fn list_count(
        &mut self,
        file: FileId,
        list: &ast::Ident,
        filter: Option<&ast::Expr>,
        span: Span,
    ) -> Typed {
        if self.item.is_some() {
            self.report(
                Diagnostic::new(
                    Code::CountComparison,
                    "a count inside the condition of another count",
                )
                .primary(span, "a count of a list in an item's condition")
                .help(
                    "the condition of a count tests one item's fields; compare counts outside it",
                ),
            );
            return Typed::Error;
        }
        // The list is a name of the file.
        let outer = self.item.take();
        let symbol = self.lookup(file, list);
        self.item = outer;
        let found = match symbol {
            Some(Symbol::Fact(id)) => match self.program.fact(id).map(|f| f.ty) {
                Some(Type::List(record)) => Some((id, record)),
                Some(Type::Error) | None => None,
                Some(ty) => {
                    let d = Diagnostic::new(
                        Code::NotAList,
                        format!("`{}` is {}, not a list", shown(&list.name), ty.describe()),
                    )
                    .primary(list.span, "not a list")
                    .help("`count` counts the items of a fact declared as `list<RECORD>`");
                    let d = match self.declared_at(Symbol::Fact(id)) {
                        Some(at) => d.secondary(at, "declared here"),
                        None => d,
                    };
                    self.report(d);
                    None
                }
            },
            Some(other) => {
                self.report(
                    Diagnostic::new(
                        Code::NotAList,
                        format!("`{}` is a {}, not a list", shown(&list.name), other.kind()),
                    )
                    .primary(list.span, "not a list")
                    .help("`count` counts the items of a fact declared as `list<RECORD>`"),
                );
                None
            }
            None => {
                if !self.misplaced_field(list) {
                    self.unknown_name(file, list, "list", |s| matches!(s, Symbol::Fact(_)));
                }
                None
            }
        };
        // Without its list the condition's field names mean nothing: it is not checked.
        let Some((list, record)) = found else {
            return Typed::Error;
        };
        let filter = filter.map(|e| {
            let outer = self.item.replace(record);
            let c = self.condition(file, e);
            self.item = outer;
            Box::new(c)
        });
        Typed::Count { list, filter, span }
    }

    /// `count(...) OP VALUE`: a count compares with a whole number, never negative.
    pub(super) fn count_compare(
        &mut self,
        op: CmpOp,
        op_span: Span,
        (list, filter, count_span): (FactId, Option<Box<Expr>>, Span),
        other: Typed,
        span: Span,
    ) -> Expr {
        let problem = match &other {
            Typed::Error => return error_expr(span),
            Typed::Value {
                value,
                ty: Type::Int,
                ..
            } if *value >= crate::types::Num::from_int(0) => {
                return Expr {
                    kind: ExprKind::ListCount {
                        list,
                        filter,
                        op,
                        value: *value,
                    },
                    span,
                };
            }
            Typed::Value {
                ty: Type::Int,
                span,
                written,
                ..
            } => (
                *span,
                format!("a count is never negative, as `{}` is", shown(written)),
            ),
            Typed::Value {
                span, written, ty, ..
            } => (
                *span,
                format!(
                    "a count compares with a whole number, not {} such as `{}`",
                    ty.describe(),
                    shown(written)
                ),
            ),
            Typed::Fact { span, name, .. } => (
                *span,
                format!(
                    "a count compares with a whole number, not with the fact `{}`",
                    shown(name)
                ),
            ),
            Typed::Cond(e) => (
                e.span,
                "a count compares with a whole number, not with a condition".to_string(),
            ),
            Typed::Count { span, .. } => (
                *span,
                "a count compares with a whole number, not with another count".to_string(),
            ),
            Typed::Difference { span, written, .. } => (
                *span,
                format!(
                    "a count compares with a whole number, not with the difference `{}`",
                    shown(written)
                ),
            ),
        };
        self.report(
            Diagnostic::new(Code::CountComparison, problem.1)
                .primary(problem.0, "not a whole number")
                .secondary(count_span, "a count")
                .secondary(op_span, "compared here")
                .help("compare the count with a whole number, such as `count(sessions) >= 2`"),
        );
        error_expr(span)
    }

    /// A count where a condition is expected.
    pub(super) fn count_as_condition(&mut self, span: Span) -> Expr {
        self.report(
            Diagnostic::new(
                Code::CountComparison,
                "expected a condition, found a count of items",
            )
            .primary(span, "a number, not a condition")
            .help("compare it with a whole number, such as `count(sessions) >= 2`"),
        );
        error_expr(span)
    }

    /// A test's value for a list fact: `[ { FIELD = VALUE, ... }, ... ]`.
    pub(super) fn list_value(
        &mut self,
        record: RecordId,
        fact: &str,
        items: &[ast::Item],
    ) -> Option<Value> {
        let fields = self
            .program
            .record(record)
            .map(|r| r.fields.clone())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            let mut values = Item::new();
            let mut given: Vec<(FactId, Span)> = Vec::new();
            for a in &item.fields {
                let field = fields
                    .iter()
                    .copied()
                    .find(|f| self.program.fact(*f).is_some_and(|x| x.name == a.fact.name));
                let Some(field) = field else {
                    let record_name = self
                        .program
                        .record(record)
                        .map(|r| r.name.clone())
                        .unwrap_or_default();
                    let field_names: Vec<String> = fields
                        .iter()
                        .filter_map(|f| self.program.fact(*f).map(|x| x.name.clone()))
                        .collect();
                    let mut d = Diagnostic::new(
                        Code::UnknownName,
                        format!(
                            "record `{}` has no field `{}`",
                            shown(&record_name),
                            shown(&a.fact.name)
                        ),
                    )
                    .primary(a.fact.span, "not a field");
                    d = match names::suggest(&a.fact.name, field_names.iter().map(String::as_str)) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(format!(
                            "the items of `{}` have the fields {}",
                            shown(fact),
                            field_names
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    };
                    self.report(d);
                    ok = false;
                    continue;
                };
                self.reference(a.fact.span, Symbol::Fact(field));
                if let Some(&(_, first)) = given.iter().find(|(f, _)| *f == field) {
                    self.duplicate("value for", &a.fact.name, a.span, first);
                    ok = false;
                    continue;
                }
                given.push((field, a.span));
                let Some(f) = self.program.fact(field) else {
                    continue;
                };
                let (ty, name) = (f.ty, f.name.clone());
                match self.value(ty, &name, &a.value) {
                    Some(v) => {
                        values.insert(field, v);
                    }
                    None => ok = false,
                }
            }
            out.push(values);
        }
        ok.then_some(Value::List(out))
    }
}

impl Checker<'_> {
    /// `VALUE within AMOUNT before REFERENCE`: the reference minus the amount up to the
    /// reference, both included, in whole days (a week is 7) or calendar months (a year is
    /// 12). Before a date literal it is two comparisons; before a date fact it is a window
    /// on a field of the items a count reads.
    pub(super) fn within(
        &mut self,
        file: FileId,
        value: &ast::Operand,
        amount: &ast::Quantity,
        reference: Option<&ast::Operand>,
        span: Span,
    ) -> Expr {
        let Some(reference) = reference else {
            self.report(
                Diagnostic::new(
                    Code::WindowWithoutDate,
                    "a window needs the date it ends at",
                )
                .primary(span, "no date after `before`")
                .help(format!(
                    "say which date the {} {} count back from, such as `before service_date`",
                    amount.number.text, amount.unit.name
                )),
            );
            return error_expr(span);
        };
        let window = self.window_amount(amount);
        let value = self.operand(file, value);
        let reference = match Checker::bare_name(reference) {
            // Inside a count, a fact of the file: read as the date the window ends at.
            Some(n) if self.item.is_some() && self.field(&n.name).is_none() => {
                match self.lookup(file, n) {
                    Some(Symbol::Fact(f)) => Typed::Fact {
                        fact: f,
                        scale: Num::from_int(1),
                        ty: self.program.fact(f).map_or(Type::Error, |x| x.ty),
                        name: n.name.clone(),
                        span: n.span,
                    },
                    _ => self.operand(file, reference),
                }
            }
            _ => self.operand(file, reference),
        };
        let Some((count, months)) = window else {
            return error_expr(span);
        };
        let not_a_date = |c: &mut Self, t: &Typed, what: &str| {
            let (at, found) = match t {
                Typed::Fact { span, ty, name, .. } => {
                    (*span, format!("`{}`, {}", shown(name), ty.describe()))
                }
                Typed::Value { span, ty, .. } => (*span, ty.describe()),
                Typed::Count { span, .. } => (*span, "a count".to_string()),
                Typed::Difference { span, .. } => (*span, "a difference".to_string()),
                Typed::Cond(e) => (e.span, "a condition".to_string()),
                Typed::Error => return,
            };
            c.report(
                Diagnostic::new(
                    Code::InvalidWindow,
                    format!("a window {what} a date, not {found}"),
                )
                .primary(at, "not a date")
                .help("a window reads a date: `performed within 12 months before service_date`"),
            );
        };
        let (field, field_ty) = match &value {
            Typed::Fact { fact, ty, .. } => (*fact, *ty),
            _ => (FactId(0), Type::Error),
        };
        if field_ty != Type::Date {
            not_a_date(self, &value, "is on");
            return error_expr(span);
        }
        match reference {
            Typed::Value {
                value: end,
                ty: Type::Date,
                ..
            } => {
                // Before a date: two comparisons, the window's first day worked out now.
                let Some(start) = medpol_artifact::window_start(end, count, months) else {
                    self.report(
                        Diagnostic::new(Code::InvalidWindow, "the window starts before the year 0")
                            .primary(span, "too long a window"),
                    );
                    return error_expr(span);
                };
                let compare = |op, value| Expr {
                    kind: ExprKind::Compare {
                        fact: field,
                        op,
                        value,
                    },
                    span,
                };
                Expr {
                    kind: ExprKind::And(vec![compare(CmpOp::Ge, start), compare(CmpOp::Le, end)]),
                    span,
                }
            }
            Typed::Fact {
                fact: reference,
                ty: Type::Date,
                span: reference_span,
                ..
            } => {
                if self.item.is_none() || !self.program.is_field(field) {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidWindow,
                            "a window between two dates of the patient is read on the items of a count",
                        )
                        .primary(reference_span, "a date fact")
                        .help("end the window at a date (`before 2026-01-01`), or count the items of a list whose field is within it"),
                    );
                    return error_expr(span);
                }
                Expr {
                    kind: ExprKind::Window {
                        field,
                        reference,
                        amount: count,
                        months,
                    },
                    span,
                }
            }
            other => {
                not_a_date(self, &other, "ends at");
                error_expr(span)
            }
        }
    }

    /// A window's length: whole days (a week is 7) or whole calendar months (a year is 12),
    /// and whether it is months; reported when it is neither.
    fn window_amount(&mut self, amount: &ast::Quantity) -> Option<(u32, bool)> {
        let unit = Unit::parse(&amount.unit.name)?;
        let n = self.number(&amount.number)?;
        let (base, months) = match unit.family() {
            Family::DayBased => (Unit::Day, false),
            Family::MonthBased => (Unit::Month, true),
            Family::Percent | Family::Measure(_) => {
                self.report(
                    Diagnostic::new(
                        Code::InvalidWindow,
                        "a window is a number of days, weeks, months or years",
                    )
                    .primary(amount.span, "not a duration"),
                );
                return None;
            }
        };
        let whole = n
            .checked_mul(unit.exact_factor(base)?)
            .filter(|x| x.is_integer() && !x.is_negative())
            .and_then(|x| x.to_i64())
            .and_then(|x| u32::try_from(x).ok());
        if whole.is_none() {
            self.report(
                Diagnostic::new(
                    Code::InvalidWindow,
                    format!(
                        "a window is whole {}, not `{} {}`",
                        if months { "months" } else { "days" },
                        shown(&amount.number.text),
                        amount.unit.name
                    ),
                )
                .primary(amount.span, "not a whole number")
                .help("write the window in a smaller unit, such as `45 days`"),
            );
        }
        whole.map(|w| (w, months))
    }

    /// Inside a count, `FIELD OP FACT` (or `FACT OP FIELD`): a field of the items compared
    /// with a fact of the same type, such as `region == requested_region`. `None` when the
    /// two sides are not a field and a fact of the file.
    pub(super) fn field_fact(
        &mut self,
        file: FileId,
        op: CmpOp,
        op_span: Span,
        left: &ast::Operand,
        right: &ast::Operand,
        span: Span,
    ) -> Option<Expr> {
        self.item?;
        let (l, r) = (Checker::bare_name(left)?, Checker::bare_name(right)?);
        let outer = |c: &Self, n: &ast::Ident| {
            if c.field(&n.name).is_some() {
                return None;
            }
            match c.scope(file)?.names.get(&n.name)?.symbol {
                Symbol::Fact(f) => Some(f),
                _ => None,
            }
        };
        let (field_name, fact_name, op) = match (self.field(&l.name), self.field(&r.name)) {
            (Some(_), None) if outer(self, r).is_some() => (l, r, op),
            (None, Some(_)) if outer(self, l).is_some() => (r, l, op.flipped()),
            _ => return None,
        };
        let field = self.field(&field_name.name)?;
        self.reference(field_name.span, Symbol::Fact(field));
        let Some(Symbol::Fact(fact)) = self.lookup(file, fact_name) else {
            return Some(error_expr(span));
        };
        let (ft, xt) = (
            self.program.fact(field).map(|f| f.ty)?,
            self.program.fact(fact).map(|f| f.ty)?,
        );
        let same = match (ft, xt) {
            (Type::Enum(a), Type::Enum(b)) => {
                let names = |e| {
                    self.program
                        .enum_type(e)
                        .map(|t| t.values.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>())
                };
                let (mut x, mut y) = (names(a)?, names(b)?);
                x.sort();
                y.sort();
                x == y && matches!(op, CmpOp::Eq | CmpOp::Ne)
            }
            (Type::Error, _) | (_, Type::Error) => return Some(error_expr(span)),
            (a, b) => a == b && a.is_numeric() || (a == Type::Date && b == Type::Date),
        };
        if !same {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    format!(
                        "cannot compare the field `{}`, {}, with the fact `{}`, {}",
                        shown(&field_name.name),
                        ft.describe(),
                        shown(&fact_name.name),
                        xt.describe()
                    ),
                )
                .primary(op_span, "these sides do not compare")
                .help("a field compares with a fact of the same type: an enum of the same values (with `==` or `!=`), a number of the same unit, a date"),
            );
            return Some(error_expr(span));
        }
        Some(Expr {
            kind: ExprKind::FieldIs { field, op, fact },
            span,
        })
    }
}
