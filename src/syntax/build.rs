//! From pest's pairs to the syntax tree.
//!
//! The grammar guarantees the shape of every pair, so a missing child can only mean the
//! grammar and this file disagree; the builder then drops the declaration rather than panic.

use pest::iterators::{Pair, Pairs};

use super::{MAX_NAME_LEN, Rule};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

pub(super) struct Builder<'d> {
    file: FileId,
    offset: usize,
    diagnostics: &'d mut Vec<Diagnostic>,
}

type P<'i> = Pair<'i, Rule>;

impl<'d> Builder<'d> {
    pub(super) fn new(file: FileId, offset: usize, diagnostics: &'d mut Vec<Diagnostic>) -> Self {
        Builder {
            file,
            offset,
            diagnostics,
        }
    }

    pub(super) fn chunk(&mut self, pairs: Pairs<'_, Rule>) -> Vec<Decl> {
        let mut decls = Vec::new();
        for chunk in pairs {
            for pair in chunk.into_inner() {
                if pair.as_rule() == Rule::EOI {
                    continue;
                }
                if let Some(decl) = self.declaration(pair) {
                    decls.push(decl);
                }
            }
        }
        decls
    }

    fn span(&self, pair: &P<'_>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, self.offset + s.start(), self.offset + s.end())
    }

    /// The span of an expression's pair without the whitespace and comments after its last
    /// token: the grammar skips them before trying an optional or repeated part that then
    /// does not match, and the pair keeps them (`a and b` would otherwise run to the next
    /// line's `and`). Expressions hold no strings, so a `//` or `*/` at the end is a comment.
    fn expr_span(&self, pair: &P<'_>) -> Span {
        let s = pair.as_span();
        let text = pair.as_str();
        let mut end = text.len();
        loop {
            let kept = text.get(..end).unwrap_or_default().trim_end();
            end = kept.len();
            if kept.ends_with("*/")
                && let Some(open) = kept.rfind("/*")
            {
                end = open;
                continue;
            }
            let line = kept.rfind('\n').map_or(0, |i| i + 1);
            if let Some(i) = kept.get(line..).and_then(|l| l.find("//")) {
                end = line + i;
                continue;
            }
            break;
        }
        Span::new(
            self.file,
            self.offset + s.start(),
            self.offset + s.start() + end,
        )
    }

    fn declaration(&mut self, pair: P<'_>) -> Option<Decl> {
        Some(match pair.as_rule() {
            Rule::policy_decl => Decl::Policy(self.policy(pair)?),
            Rule::import_decl => Decl::Import(self.import(pair)?),
            Rule::fact_decl => Decl::Fact(self.fact(pair)?),
            Rule::codes_decl => Decl::Codes(Box::new(self.codes(pair)?)),
            Rule::define_decl => Decl::Define(Box::new(self.define(pair)?)),
            Rule::decision_decl => Decl::Decision(Box::new(self.decision(pair)?)),
            Rule::test_decl => Decl::Test(Box::new(self.test(pair)?)),
            Rule::constraint_decl => Decl::Constraint(Box::new(self.define(pair)?)),
            Rule::record_decl => Decl::Record(Box::new(self.record(pair)?)),
            _ => return None,
        })
    }

    fn ident(&mut self, pair: P<'_>) -> Ident {
        let span = self.span(&pair);
        let name = pair.as_str().to_string();
        let chars = name.chars().count();
        if chars > MAX_NAME_LEN {
            let head: usize = name.chars().take(32).map(char::len_utf8).sum();
            self.diagnostics.push(
                Diagnostic::new(
                    Code::NameTooLong,
                    format!("name too long: {chars} characters (at most {MAX_NAME_LEN})"),
                )
                .primary(
                    Span::new(self.file, span.start as usize, span.start as usize + head),
                    "this name",
                )
                .help("use a shorter name; put longer wording in a description string"),
            );
        }
        Ident { name, span }
    }

    fn string(&mut self, pair: P<'_>) -> Str {
        let span = self.span(&pair);
        let body = pair.as_str();
        let body = body
            .strip_prefix('"')
            .and_then(|b| b.strip_suffix('"'))
            .unwrap_or(body);
        let mut value = String::with_capacity(body.len());
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            match chars.next() {
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                other => {
                    let len = 1 + other.map_or(0, |(_, c)| c.len_utf8());
                    let at = span.start as usize + 1 + i;
                    let seq = body.get(i..i + len).unwrap_or("\\");
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::InvalidEscape,
                            format!("unknown escape `{seq}` in a string"),
                        )
                        .primary(Span::new(self.file, at, at + len), "not an escape")
                        .help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`"),
                    );
                    if let Some((_, c)) = other {
                        value.push(c);
                    }
                }
            }
        }
        Str { value, span }
    }

    fn number(&self, pair: &P<'_>) -> NumberLit {
        NumberLit {
            text: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    fn quantity(&mut self, pair: P<'_>) -> Option<Quantity> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let number = self.number(&inner.next()?);
        let unit = self.ident(inner.next()?);
        Some(Quantity { number, unit, span })
    }

    fn word(&self, pair: &P<'_>) -> Word {
        Word {
            text: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    fn idents(&mut self, pairs: Pairs<'_, Rule>) -> Vec<Ident> {
        pairs
            .filter(|p| p.as_rule() == Rule::ident)
            .map(|p| self.ident(p))
            .collect()
    }

    fn policy(&mut self, pair: P<'_>) -> Option<PolicyDecl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().skip(1);
        let id = self.string(inner.next()?);
        let mut entries = Vec::new();
        for entry in inner {
            let entry_span = self.span(&entry);
            let mut parts = entry.into_inner();
            let key = self.ident(parts.next()?);
            let v = parts.next()?;
            let value = match v.as_rule() {
                Rule::string => MetaValue::Str(self.string(v)),
                Rule::date => MetaValue::Date {
                    text: v.as_str().to_string(),
                    span: self.span(&v),
                },
                _ => MetaValue::Number(self.number(&v)),
            };
            entries.push(MetaEntry {
                key,
                value,
                span: entry_span,
            });
        }
        Some(PolicyDecl { id, entries, span })
    }

    fn import(&mut self, pair: P<'_>) -> Option<ImportDecl> {
        let span = self.span(&pair);
        let mut names = None;
        let mut path = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::import_names => names = Some(self.idents(p.into_inner())),
                Rule::string => path = Some(self.string(p)),
                _ => {}
            }
        }
        Some(ImportDecl {
            names,
            path: path?,
            span,
        })
    }

    fn fact(&mut self, pair: P<'_>) -> Option<FactDecl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next()?);
        let ty = self.type_expr(inner.next()?)?;
        let mut next = inner.next();
        let mut range = None;
        if let Some(p) = next.take_if(|p| p.as_rule() == Rule::fact_range) {
            let span = self.span(&p);
            let mut bounds = p.into_inner().skip(1);
            let low = self.number(&bounds.next()?);
            let high = self.number(&bounds.next()?);
            range = Some(FactRange { low, high, span });
            next = inner.next();
        }
        let documented = next
            .take_if(|p| p.as_rule() == Rule::kw_documented)
            .is_some();
        if documented {
            next = inner.next();
        }
        let description = next.map(|p| self.string(p));
        Some(FactDecl {
            name,
            ty,
            description,
            span,
            range,
            documented,
        })
    }

    fn record(&mut self, pair: P<'_>) -> Option<RecordDecl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next()?);
        let mut description = None;
        let mut fields = Vec::new();
        for p in inner {
            match p.as_rule() {
                Rule::string => description = Some(self.string(p)),
                Rule::field_decl => {
                    let field_span = self.span(&p);
                    let mut parts = p.into_inner();
                    let name = self.ident(parts.next()?);
                    let ty = self.type_expr(parts.next()?)?;
                    let description = parts.next().map(|d| self.string(d));
                    fields.push(FieldDecl {
                        name,
                        ty,
                        description,
                        span: field_span,
                    });
                }
                _ => {}
            }
        }
        Some(RecordDecl {
            name,
            description,
            fields,
            span,
        })
    }

    fn type_expr(&mut self, pair: P<'_>) -> Option<TypeExpr> {
        let inner = pair.into_inner().next()?;
        let span = self.span(&inner);
        match inner.as_rule() {
            Rule::enum_type => Some(TypeExpr::Enum {
                values: self.idents(inner.into_inner()),
                span,
            }),
            _ => self.named_type(inner),
        }
    }

    /// `named_type` and `type_arg` have the same shape: a name and an optional argument.
    fn named_type(&mut self, pair: P<'_>) -> Option<TypeExpr> {
        let span = self.span(&pair);
        let mut parts = pair.into_inner();
        let name = self.ident(parts.next()?);
        let arg = match parts.next() {
            Some(p) if p.as_rule() == Rule::ident => {
                let arg_span = self.span(&p);
                Some(Box::new(TypeExpr::Named {
                    name: self.ident(p),
                    arg: None,
                    span: arg_span,
                }))
            }
            Some(p) => Some(Box::new(self.named_type(p)?)),
            None => None,
        };
        Some(TypeExpr::Named { name, arg, span })
    }

    fn codes(&mut self, pair: P<'_>) -> Option<CodesDecl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next()?);
        let mut next = inner.next()?;
        let mut description = None;
        if next.as_rule() == Rule::string {
            description = Some(self.string(next));
            next = inner.next()?;
        }
        let set = self.set_expr(next)?;
        Some(CodesDecl {
            name,
            description,
            set,
            span,
        })
    }

    fn define(&mut self, pair: P<'_>) -> Option<DefineDecl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next()?);
        let mut next = inner.next()?;
        let mut description = None;
        if next.as_rule() == Rule::string {
            description = Some(self.string(next));
            next = inner.next()?;
        }
        let expr = self.expr(next)?;
        Some(DefineDecl {
            name,
            description,
            expr,
            span,
        })
    }

    fn decision(&mut self, pair: P<'_>) -> Option<DecisionDecl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next()?);
        let hit = self.ident(inner.next()?);
        let mut description = None;
        let mut items = Vec::new();
        for p in inner {
            let item_span = self.span(&p);
            match p.as_rule() {
                Rule::string => description = Some(self.string(p)),
                Rule::outcomes_clause => items.push(DecisionItem::Outcomes {
                    names: self.idents(p.into_inner()),
                    span: item_span,
                }),
                Rule::inputs_clause => items.push(DecisionItem::Inputs {
                    names: self.idents(p.into_inner()),
                    span: item_span,
                }),
                Rule::rule_decl => items.push(DecisionItem::Rule(Box::new(self.rule(p)?))),
                Rule::otherwise_clause => {
                    let outcome = self.idents(p.into_inner()).pop()?;
                    items.push(DecisionItem::Otherwise {
                        outcome,
                        span: item_span,
                    });
                }
                _ => {}
            }
        }
        Some(DecisionDecl {
            name,
            hit,
            description,
            items,
            span,
        })
    }

    fn rule(&mut self, pair: P<'_>) -> Option<RuleDecl> {
        let span = self.span(&pair);
        let mut name = None;
        let mut description = None;
        let mut condition = None;
        let mut outcome = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident if name.is_none() => name = Some(self.ident(p)),
                Rule::ident => outcome = Some(self.ident(p)),
                Rule::string => description = Some(self.string(p)),
                Rule::expr => condition = Some(self.expr(p)?),
                _ => {}
            }
        }
        Some(RuleDecl {
            name: name?,
            description,
            condition: condition?,
            outcome: outcome?,
            span,
        })
    }

    fn test(&mut self, pair: P<'_>) -> Option<TestDecl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().skip(1);
        let name = self.string(inner.next()?);
        let mut items = Vec::new();
        for p in inner {
            let item_span = self.span(&p);
            match p.as_rule() {
                Rule::given_clause => {
                    let assignments = self.assignments(p)?;
                    items.push(TestItem::Given {
                        assignments,
                        span: item_span,
                    });
                }
                Rule::expect_clause => {
                    let mut names = self.idents(p.into_inner()).into_iter();
                    items.push(TestItem::Expect {
                        decision: names.next()?,
                        outcome: names.next()?,
                        span: item_span,
                    });
                }
                _ => {}
            }
        }
        Some(TestDecl { name, items, span })
    }

    /// The `NAME = VALUE` pairs of a `given` block or of an item.
    fn assignments(&mut self, pair: P<'_>) -> Option<Vec<Assignment>> {
        let mut assignments = Vec::new();
        for a in pair
            .into_inner()
            .filter(|a| a.as_rule() == Rule::assignment)
        {
            let a_span = self.span(&a);
            let mut parts = a.into_inner();
            let fact = self.ident(parts.next()?);
            let value = self.value(parts.next()?)?;
            assignments.push(Assignment {
                fact,
                value,
                span: a_span,
            });
        }
        Some(assignments)
    }

    fn date(&self, pair: &P<'_>) -> DateLit {
        DateLit {
            text: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    fn value(&mut self, pair: P<'_>) -> Option<Value> {
        let inner = pair.into_inner().next()?;
        Some(match inner.as_rule() {
            Rule::list_value => {
                let span = self.span(&inner);
                let mut items = Vec::new();
                for item in inner.into_inner() {
                    let item_span = self.span(&item);
                    items.push(Item {
                        fields: self.assignments(item)?,
                        span: item_span,
                    });
                }
                Value::List { items, span }
            }
            Rule::quantity => Value::Quantity(self.quantity(inner)?),
            Rule::number => Value::Number(self.number(&inner)),
            Rule::set_literal => Value::Set(self.set_literal(inner)),
            Rule::date => Value::Date(self.date(&inner)),
            _ => Value::Word {
                text: inner.as_str().to_string(),
                span: self.span(&inner),
            },
        })
    }

    fn set_expr(&mut self, pair: P<'_>) -> Option<SetExpr> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let first = self.set_term(inner.next()?)?;
        let mut rest = Vec::new();
        while let Some(op) = inner.next() {
            let op = if op.as_str() == "+" {
                SetOp::Union
            } else {
                SetOp::Difference
            };
            rest.push((op, self.set_term(inner.next()?)?));
        }
        if rest.is_empty() {
            return Some(first);
        }
        Some(SetExpr::Chain {
            first: Box::new(first),
            rest,
            span,
        })
    }

    fn set_term(&mut self, pair: P<'_>) -> Option<SetExpr> {
        let span = self.span(&pair);
        Some(match pair.as_rule() {
            Rule::ident => SetExpr::Name(self.ident(pair)),
            Rule::set_literal => SetExpr::Literal(self.set_literal(pair)),
            Rule::system_set => {
                let mut inner = pair.into_inner();
                let system = self.ident(inner.next()?);
                let set = self.set_literal(inner.next()?);
                SetExpr::System { system, set, span }
            }
            Rule::set_expr => {
                // A parenthesised set; the pair's span excludes the parentheses.
                SetExpr::Paren {
                    inner: Box::new(self.set_expr(pair)?),
                    span,
                }
            }
            _ => return None,
        })
    }

    fn set_literal(&mut self, pair: P<'_>) -> SetLiteral {
        let span = self.span(&pair);
        let mut items = Vec::new();
        for item in pair.into_inner() {
            let mut words = item.into_inner();
            let Some(first) = words.next() else { continue };
            let first = self.word(&first);
            let last = words.next().map(|w| self.word(&w));
            // From the first code to the last, not the pair's span: pest skips the whitespace
            // after the first code while it tries `..`, so in a list written one code per line
            // the pair runs on to the next line.
            let end = last.as_ref().map_or(first.span.end, |l| l.span.end);
            items.push(SetItem {
                span: Span { end, ..first.span },
                first,
                last,
            });
        }
        SetLiteral { items, span }
    }

    fn expr(&mut self, pair: P<'_>) -> Option<Expr> {
        let span = self.expr_span(&pair);
        let mut terms = Vec::new();
        for p in pair.into_inner().filter(|p| p.as_rule() == Rule::and_expr) {
            terms.push(self.and_expr(p)?);
        }
        if terms.len() == 1 {
            return terms.pop();
        }
        Some(Expr {
            kind: ExprKind::Or(terms),
            span,
        })
    }

    fn and_expr(&mut self, pair: P<'_>) -> Option<Expr> {
        let span = self.expr_span(&pair);
        let mut terms = Vec::new();
        for p in pair.into_inner().filter(|p| p.as_rule() == Rule::not_expr) {
            terms.push(self.not_expr(p)?);
        }
        if terms.len() == 1 {
            return terms.pop();
        }
        Some(Expr {
            kind: ExprKind::And(terms),
            span,
        })
    }

    fn not_expr(&mut self, pair: P<'_>) -> Option<Expr> {
        let span = self.expr_span(&pair);
        let mut nots = 0usize;
        let mut predicate = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::kw_not => nots += 1,
                _ => predicate = Some(self.predicate(p)?),
            }
        }
        let expr = predicate?;
        // `not not x` is `x`: a run of `not`s keeps only its parity, so that no input, however
        // long the run, builds a deep tree.
        if nots.is_multiple_of(2) {
            return Some(expr);
        }
        Some(Expr {
            kind: ExprKind::Not(Box::new(expr)),
            span,
        })
    }

    fn predicate(&mut self, pair: P<'_>) -> Option<Expr> {
        let span = self.expr_span(&pair);
        let mut inner = pair.into_inner().peekable();
        let first = inner.next()?;
        let mut tails = Vec::new();
        while let Some(t) = inner.next_if(|p| p.as_rule() == Rule::arith_tail) {
            tails.push(t);
        }
        let Some(tail) = inner.next() else {
            return if tails.is_empty() {
                self.standalone_operand(first)
            } else {
                Some(Expr {
                    kind: ExprKind::Operand(self.arithmetic(first, tails)?),
                    span,
                })
            };
        };
        let value = self.arithmetic(first, tails)?;
        let kind = match tail.as_rule() {
            Rule::compare_tail => {
                let mut parts = tail.into_inner();
                let op_pair = parts.next()?;
                let op = match op_pair.as_str() {
                    "==" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<=" => CmpOp::Le,
                    ">=" => CmpOp::Ge,
                    "<" => CmpOp::Lt,
                    _ => CmpOp::Gt,
                };
                let op_span = self.span(&op_pair);
                let right = parts.next()?;
                let right = self.arithmetic(right, parts.collect())?;
                ExprKind::Compare {
                    op,
                    op_span,
                    left: value,
                    right,
                }
            }
            Rule::in_tail => {
                let mut negated = false;
                let mut set = None;
                for p in tail.into_inner() {
                    match p.as_rule() {
                        Rule::kw_not => negated = true,
                        Rule::set_expr => set = Some(self.set_expr(p)?),
                        _ => {}
                    }
                }
                ExprKind::In {
                    negated,
                    value,
                    set: set?,
                }
            }
            Rule::within_tail => {
                let mut parts = tail.into_inner().skip(1);
                let amount = self.quantity(parts.next()?)?;
                let reference = match parts.nth(1) {
                    Some(r) => Some(self.operand(r)?),
                    None => None,
                };
                ExprKind::Within {
                    value,
                    amount,
                    reference,
                }
            }
            _ => {
                let mut quantifier = None;
                let mut set = None;
                for p in tail.into_inner() {
                    match p.as_rule() {
                        Rule::quantifier => {
                            quantifier = Some(match p.as_str() {
                                "any" => Quantifier::Any,
                                "all" => Quantifier::All,
                                _ => Quantifier::None,
                            })
                        }
                        Rule::set_expr => set = Some(self.set_expr(p)?),
                        _ => {}
                    }
                }
                ExprKind::Has {
                    quantifier: quantifier?,
                    value,
                    set: set?,
                }
            }
        };
        Some(Expr { kind, span })
    }

    /// An operand and the arithmetic after it (`a - b`, `w / (h * h)`): `*` and `/` bind
    /// before `+` and `-`, each to the left. A `-` is a difference (of two facts of one kind,
    /// or within a derived value's formula); the others are arithmetic.
    fn arithmetic(&mut self, first: P<'_>, tails: Vec<P<'_>>) -> Option<Operand> {
        let mut first = self.operand(first)?;
        if tails.is_empty() {
            return Some(first);
        }
        // Products first: each sum's terms, with the operator before each but the first.
        let mut sums: Vec<(Option<(Op, Span)>, Operand)> = Vec::new();
        let mut pending: Option<(Op, Span)> = None;
        for tail in tails {
            let mut parts = tail.into_inner();
            let op_pair = parts.next()?;
            let op_span = self.span(&op_pair);
            let op = match op_pair.as_str() {
                "+" => Op::Add,
                "-" => Op::Sub,
                "*" => Op::Mul,
                _ => Op::Div,
            };
            let right = self.operand(parts.next()?)?;
            if matches!(op, Op::Mul | Op::Div) {
                first = binary(op, op_span, first, right);
            } else {
                sums.push((pending, first));
                pending = Some((op, op_span));
                first = right;
            }
        }
        sums.push((pending, first));
        let mut terms = sums.into_iter();
        let (_, mut sum) = terms.next()?;
        for (op, term) in terms {
            let (op, op_span) = op?;
            sum = binary(op, op_span, sum, term);
        }
        Some(sum)
    }

    /// An operand on its own is a condition; a k-of-n count stays a count.
    fn standalone_operand(&mut self, pair: P<'_>) -> Option<Expr> {
        let span = self.span(&pair);
        let is_count = pair
            .clone()
            .into_inner()
            .next()
            .is_some_and(|p| p.as_rule() == Rule::count);
        if is_count {
            return self.count(pair.into_inner().next()?);
        }
        Some(Expr {
            kind: ExprKind::Operand(self.operand(pair)?),
            span,
        })
    }

    fn operand(&mut self, pair: P<'_>) -> Option<Operand> {
        let span = self.expr_span(&pair);
        let mut inner = pair.into_inner();
        let first = inner.next()?;
        let conversion = match inner.next() {
            Some(c) => {
                let unit = c.into_inner().nth(1)?;
                Some(self.ident(unit))
            }
            None => None,
        };
        let kind = match first.as_rule() {
            Rule::ident => OperandKind::Name(self.ident(first)),
            Rule::paren => OperandKind::Paren(Box::new(self.expr(first.into_inner().next()?)?)),
            Rule::count => OperandKind::Paren(Box::new(self.count(first)?)),
            Rule::list_count => {
                let mut parts = first.into_inner().skip(1);
                let list = self.ident(parts.next()?);
                let filter = match parts.nth(1) {
                    Some(e) => Some(Box::new(self.expr(e)?)),
                    None => None,
                };
                OperandKind::ListCount { list, filter }
            }
            _ => {
                let lit = first.into_inner().next()?;
                match lit.as_rule() {
                    Rule::quantity => OperandKind::Quantity(self.quantity(lit)?),
                    Rule::number => OperandKind::Number(self.number(&lit)),
                    Rule::kw_true => OperandKind::Bool(true),
                    Rule::date => OperandKind::Date(self.date(&lit)),
                    _ => OperandKind::Bool(false),
                }
            }
        };
        Some(Operand {
            kind,
            conversion,
            span,
        })
    }

    fn count(&mut self, pair: P<'_>) -> Option<Expr> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let kind_pair = inner.next()?;
        let kind = match kind_pair.as_str().split_whitespace().last() {
            Some("least") => CountKind::AtLeast,
            Some("most") => CountKind::AtMost,
            _ => CountKind::Exactly,
        };
        let k = self.number(&inner.next()?);
        let mut items = Vec::new();
        for p in inner.filter(|p| p.as_rule() == Rule::expr) {
            items.push(self.expr(p)?);
        }
        Some(Expr {
            kind: ExprKind::Count { kind, k, items },
            span,
        })
    }
}

/// `left OP right`, spanning both.
fn binary(op: Op, op_span: Span, left: Operand, right: Operand) -> Operand {
    let span = Span::new(
        left.span.file,
        left.span.start as usize,
        right.span.end as usize,
    );
    let (left, right) = (Box::new(left), Box::new(right));
    Operand {
        kind: match op {
            Op::Sub => OperandKind::Difference {
                left,
                right,
                op_span,
            },
            _ => OperandKind::Arith {
                op,
                left,
                right,
                op_span,
            },
        },
        conversion: None,
        span,
    }
}
