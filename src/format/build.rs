//! From the syntax tree to layout documents, in source order, placing every comment.
//!
//! The tree has spans for names, literals and nodes but not for keywords and punctuation; those
//! are found in the text after the last token printed. Each comment is printed before the first
//! token that follows it in the text, or right after a token that ends on its line.

use super::doc::{Doc, group, text};
use crate::ast::*;
use crate::source::Span;

/// A comment of the source and where it sits among the lines.
struct Comment {
    start: usize,
    end: usize,
    text: String,
    /// Only blanks since the start of its line (or the file).
    own_line: bool,
    /// An empty line before it.
    blank_before: bool,
    /// A line break must follow it: a line comment, or a block comment that ends its line.
    hard: bool,
}

pub struct Builder<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    /// The first comment not printed yet.
    next: usize,
    /// The end of the last token printed.
    cursor: usize,
}

/// The declaration kinds, for the empty lines between declarations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Policy,
    Import,
    Fact,
    Codes,
    Define,
    Constraint,
    Decision,
    Test,
    Record,
}

impl Kind {
    fn of(decl: &Decl) -> Kind {
        match decl {
            Decl::Policy(_) => Kind::Policy,
            Decl::Import(_) => Kind::Import,
            Decl::Fact(_) => Kind::Fact,
            Decl::Codes(_) => Kind::Codes,
            Decl::Define(_) => Kind::Define,
            Decl::Constraint(_) => Kind::Constraint,
            Decl::Decision(_) => Kind::Decision,
            Decl::Test(_) => Kind::Test,
            Decl::Record(_) => Kind::Record,
        }
    }

    /// Blocks stand apart from their neighbours.
    fn is_block(self) -> bool {
        matches!(
            self,
            Kind::Policy | Kind::Decision | Kind::Test | Kind::Record
        )
    }
}

fn start(span: Span) -> usize {
    span.start as usize
}

fn end(span: Span) -> usize {
    span.end as usize
}

/// How a list separates its items.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Commas {
    /// The grammar needs a comma between items: broken lists end every line with one.
    Required,
    /// Commas are optional: a broken list keeps the items written on one line together, with
    /// commas between them, and ends lines without one.
    Optional,
}

impl<'a> Builder<'a> {
    pub fn new(src: &'a str, comment_spans: &[Span]) -> Builder<'a> {
        let comments = comment_spans
            .iter()
            .map(|&span| {
                let (s, e) = (start(span), end(span));
                let before = src.get(..s).unwrap_or("");
                let line_head = before.rsplit('\n').next().unwrap_or("");
                let own_line = line_head.trim().is_empty();
                let back = before.trim_end_matches([' ', '\t', '\r']);
                let blank_before = own_line
                    && back
                        .strip_suffix('\n')
                        .is_some_and(|b| b.trim_end_matches([' ', '\t', '\r']).ends_with('\n'));
                let raw = src.get(s..e).unwrap_or("");
                let after = src.get(e..).unwrap_or("");
                let rest_of_line = after.split('\n').next().unwrap_or("");
                let hard = raw.starts_with("//") || rest_of_line.trim().is_empty();
                Comment {
                    start: s,
                    end: e,
                    text: raw.trim_end().to_string(),
                    own_line,
                    blank_before,
                    hard,
                }
            })
            .collect();
        Builder {
            src,
            comments,
            next: 0,
            cursor: 0,
        }
    }

    // ------------------------------------------------------------ tokens and comments

    fn newline_in(&self, from: usize, to: usize) -> bool {
        self.src.get(from..to).is_some_and(|t| t.contains('\n'))
    }

    fn forced(&self, span: Span) -> bool {
        self.newline_in(start(span), self.content_end(span))
    }

    /// The end of a node's last token: pest lets a rule that ends in an optional part take the
    /// blanks and comments after it into its span.
    fn content_end(&self, span: Span) -> usize {
        let mut e = end(span);
        loop {
            let head = self.src.get(start(span)..e).unwrap_or("");
            e = start(span) + head.trim_end().len();
            match self
                .comments
                .iter()
                .find(|c| c.end == e && c.start >= start(span))
            {
                Some(c) => e = c.start,
                None => return e,
            }
        }
    }

    /// An empty line right before `pos`.
    fn blank_before(&self, pos: usize) -> bool {
        let before = self.src.get(..pos).unwrap_or("");
        let back = before.trim_end_matches([' ', '\t', '\r']);
        back.strip_suffix('\n')
            .is_some_and(|b| b.trim_end_matches([' ', '\t', '\r']).ends_with('\n'))
    }

    fn comment_doc(c: &Comment) -> Doc {
        if c.own_line {
            Doc::Own {
                text: c.text.clone(),
                blank: c.blank_before,
                hard: c.hard,
            }
        } else {
            Doc::Trail {
                text: c.text.clone(),
                hard: c.hard,
            }
        }
    }

    /// The comments before `pos`, and an empty line after them when the source has one.
    fn leading(&mut self, pos: usize) -> Vec<Doc> {
        let mut docs = Vec::new();
        while let Some(c) = self.comments.get(self.next) {
            if c.start >= pos {
                break;
            }
            docs.push(Self::comment_doc(c));
            self.cursor = self.cursor.max(c.end);
            self.next += 1;
        }
        if !docs.is_empty() && pos < self.src.len() && self.blank_before(pos) {
            docs.push(Doc::Blank);
        }
        docs
    }

    /// Comments after the cursor on the same line, with only blanks before them.
    fn trailing(&mut self) -> Vec<Doc> {
        let mut docs = Vec::new();
        while let Some(c) = self.comments.get(self.next) {
            let gap = self.src.get(self.cursor..c.start).unwrap_or("x");
            if c.own_line || !gap.trim().is_empty() {
                break;
            }
            docs.push(Self::comment_doc(c));
            self.cursor = c.end;
            self.next += 1;
        }
        docs
    }

    /// A token at `from..to` printed as `t`, without the comments after it.
    fn bare(&mut self, from: usize, to: usize, t: &str) -> Vec<Doc> {
        let mut docs = self.leading(from);
        docs.push(text(t));
        self.cursor = self.cursor.max(to);
        docs
    }

    /// A token at `from..to` printed as `t`, with the comments that end its line.
    fn tok(&mut self, from: usize, to: usize, t: &str) -> Vec<Doc> {
        let mut docs = self.bare(from, to, t);
        docs.extend(self.trailing());
        docs
    }

    fn span_tok(&mut self, span: Span, t: &str) -> Vec<Doc> {
        self.tok(start(span), end(span), t)
    }

    /// A literal printed as written: strings keep their escapes, dates and numbers their digits.
    fn raw(&mut self, span: Span) -> Vec<Doc> {
        let src = self.src;
        let t = src.get(span.range()).unwrap_or("");
        self.span_tok(span, t)
    }

    fn ident(&mut self, i: &Ident) -> Vec<Doc> {
        self.span_tok(i.span, &i.name)
    }

    /// Skips blanks and comments from `pos`.
    fn skip_trivia(&self, mut pos: usize) -> usize {
        let mut k = self.next;
        loop {
            let rest = self.src.get(pos..).unwrap_or("");
            let trimmed = rest.trim_start();
            pos += rest.len() - trimmed.len();
            while self.comments.get(k).is_some_and(|c| c.start < pos) {
                k += 1;
            }
            match self.comments.get(k) {
                Some(c) if c.start == pos => {
                    pos = c.end;
                    k += 1;
                }
                _ => return pos,
            }
        }
    }

    /// Where the keyword or punctuation `t` is, at most a few tokens after the cursor.
    fn locate(&self, t: &str) -> Option<usize> {
        let word = t.chars().all(|c| c.is_alphanumeric() || c == '_');
        let mut pos = self.cursor;
        for _ in 0..4 {
            pos = self.skip_trivia(pos);
            let rest = self.src.get(pos..)?;
            if let Some(after) = rest.strip_prefix(t)
                && !(word && after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
            {
                return Some(pos);
            }
            let first = rest.chars().next()?;
            let len = if first.is_alphanumeric() || first == '_' {
                rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len())
            } else {
                first.len_utf8()
            };
            pos += len;
        }
        None
    }

    /// A keyword or punctuation the tree has no span for.
    fn kw(&mut self, t: &str) -> Vec<Doc> {
        let at = self.locate(t).unwrap_or(self.cursor);
        self.tok(at, at + t.len(), t)
    }

    /// An optional token (a comma) that is not printed: only the comments around it are.
    fn skip(&mut self, t: &str) -> Vec<Doc> {
        let at = self.skip_trivia(self.cursor);
        if self.src.get(at..).is_some_and(|r| r.starts_with(t)) {
            let mut docs = self.leading(at);
            self.cursor = at + t.len();
            docs.extend(self.trailing());
            docs
        } else {
            Vec::new()
        }
    }

    fn next_is(&self, t: &str) -> bool {
        let at = self.skip_trivia(self.cursor);
        self.src.get(at..).is_some_and(|r| {
            r.strip_prefix(t)
                .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
        })
    }

    // ------------------------------------------------------------ the file

    pub fn file(&mut self, file: &File) -> Vec<Doc> {
        let mut docs = Vec::new();
        let mut prev: Option<Kind> = None;
        for decl in &file.decls {
            let kind = Kind::of(decl);
            let at = start(decl.span());
            if let Some(p) = prev {
                docs.push(Doc::LineStart);
                let comment_first = self.comments.get(self.next).is_some_and(|c| c.start < at);
                let apart = p != kind || p.is_block() || kind.is_block();
                if apart || (!comment_first && self.blank_before(at)) {
                    docs.push(Doc::Blank);
                }
            }
            docs.extend(self.decl(decl));
            prev = Some(kind);
        }
        docs.extend(self.leading(usize::MAX));
        docs
    }

    fn decl(&mut self, decl: &Decl) -> Vec<Doc> {
        match decl {
            Decl::Policy(p) => self.policy(p),
            Decl::Import(i) => self.import(i),
            Decl::Fact(f) => self.fact(f),
            Decl::Codes(c) => self.codes(c),
            Decl::Define(d) => self.define("define", d),
            Decl::Constraint(d) => self.define("constraint", d),
            Decl::Decision(d) => self.decision(d),
            Decl::Test(t) => self.test(t),
            Decl::Record(r) => self.record(r),
        }
    }

    /// `record NAME "description" {`, then one field per line.
    fn record(&mut self, r: &RecordDecl) -> Vec<Doc> {
        let mut docs = self.kw("record");
        docs.push(Doc::Space);
        docs.extend(self.ident(&r.name));
        if let Some(d) = &r.description {
            docs.push(Doc::Space);
            docs.extend(self.raw(d.span));
        }
        docs.push(Doc::Space);
        docs.extend(self.kw("{"));
        let mut body = Vec::new();
        for f in &r.fields {
            body.push(Doc::LineStart);
            body.extend(self.ident(&f.name));
            body.extend(self.kw(":"));
            body.push(Doc::Space);
            body.extend(self.type_expr(&f.ty));
            if let Some(d) = &f.description {
                body.push(Doc::Space);
                body.extend(self.raw(d.span));
            }
            body.extend(self.skip(","));
        }
        docs.extend(self.close_block(body, end(r.span)));
        docs
    }

    fn policy(&mut self, p: &PolicyDecl) -> Vec<Doc> {
        let mut docs = self.kw("policy");
        docs.push(Doc::Space);
        docs.extend(self.raw(p.id.span));
        docs.push(Doc::Space);
        docs.extend(self.kw("{"));
        let mut body = Vec::new();
        for e in &p.entries {
            body.push(Doc::Line);
            body.extend(self.ident(&e.key));
            body.push(Doc::Space);
            body.extend(self.raw(e.value.span()));
        }
        let close = end(p.span).saturating_sub(1);
        body.extend(self.leading(close));
        docs.push(Doc::Indent(2, body));
        docs.push(Doc::Line);
        docs.extend(self.tok(close, close + 1, "}"));
        vec![group(self.forced(p.span), docs)]
    }

    fn import(&mut self, i: &ImportDecl) -> Vec<Doc> {
        let mut docs = self.kw("import");
        docs.push(Doc::Space);
        if let Some(names) = &i.names {
            docs.extend(self.braced(names, Commas::Required, |b, n| b.ident(n), |n| n.span));
            docs.push(Doc::Space);
            docs.extend(self.kw("from"));
            docs.push(Doc::Space);
        }
        docs.extend(self.raw(i.path.span));
        docs
    }

    fn fact(&mut self, f: &FactDecl) -> Vec<Doc> {
        let mut docs = self.kw("fact");
        docs.push(Doc::Space);
        docs.extend(self.ident(&f.name));
        docs.extend(self.kw(":"));
        docs.push(Doc::Space);
        docs.extend(self.type_expr(&f.ty));
        let mut last = f.ty.span();
        if let Some(r) = &f.range {
            docs.push(Doc::Space);
            docs.extend(self.kw("in"));
            docs.push(Doc::Space);
            docs.extend(self.raw(r.low.span));
            docs.extend(self.kw(".."));
            docs.extend(self.raw(r.high.span));
            last = r.span;
        }
        if f.documented {
            docs.push(Doc::Space);
            docs.extend(self.kw("documented"));
        }
        if let Some(d) = &f.description {
            let forced = self.newline_in(self.content_end(last), start(d.span));
            let desc = self.raw(d.span);
            docs.push(group(
                forced,
                vec![Doc::Indent(2, [vec![Doc::Line], desc].concat())],
            ));
        }
        docs
    }

    fn type_expr(&mut self, t: &TypeExpr) -> Vec<Doc> {
        match t {
            TypeExpr::Enum { values, .. } => {
                let mut docs = self.kw("enum");
                docs.push(Doc::Space);
                docs.extend(self.braced(values, Commas::Required, |b, v| b.ident(v), |v| v.span));
                docs
            }
            TypeExpr::Named { name, arg, .. } => {
                let mut docs = self.ident(name);
                if let Some(arg) = arg {
                    docs.extend(self.kw("<"));
                    docs.extend(self.type_expr(arg));
                    docs.extend(self.kw(">"));
                }
                docs
            }
        }
    }

    /// `NAME "description" =`, shared by code sets, definitions and constraints.
    fn header(&mut self, keyword: &str, name: &Ident, description: Option<&Str>) -> Vec<Doc> {
        let mut docs = self.kw(keyword);
        docs.push(Doc::Space);
        docs.extend(self.ident(name));
        if let Some(d) = description {
            docs.push(Doc::Space);
            docs.extend(self.raw(d.span));
        }
        docs.push(Doc::Space);
        docs.extend(self.kw("="));
        docs
    }

    fn codes(&mut self, c: &CodesDecl) -> Vec<Doc> {
        let mut docs = self.header("codes", &c.name, c.description.as_ref());
        let eq = self.cursor;
        if ends_with_braces(&c.set) {
            // `= icd10cm {` stays on the declaration's line; the list breaks inside its braces.
            docs.push(Doc::Space);
            docs.extend(self.set_expr(&c.set));
        } else {
            let forced = self.newline_in(eq, start(c.set.span()));
            let set = self.set_expr(&c.set);
            docs.push(group(
                forced,
                vec![Doc::Indent(2, [vec![Doc::Line], set].concat())],
            ));
        }
        docs
    }

    fn define(&mut self, keyword: &str, d: &DefineDecl) -> Vec<Doc> {
        let mut docs = self.header(keyword, &d.name, d.description.as_ref());
        let forced = self.newline_in(self.cursor, start(d.expr.span));
        let expr = self.expr(&d.expr);
        docs.push(group(
            forced,
            vec![Doc::Indent(2, [vec![Doc::Line], expr].concat())],
        ));
        docs
    }

    fn decision(&mut self, d: &DecisionDecl) -> Vec<Doc> {
        let mut docs = self.kw("decision");
        docs.push(Doc::Space);
        docs.extend(self.ident(&d.name));
        docs.push(Doc::Space);
        docs.extend(self.kw("("));
        docs.extend(self.ident(&d.hit));
        docs.extend(self.kw(")"));
        if let Some(desc) = &d.description {
            docs.push(Doc::Space);
            docs.extend(self.raw(desc.span));
        }
        docs.push(Doc::Space);
        docs.extend(self.kw("{"));
        let mut body = Vec::new();
        for (i, item) in d.items.iter().enumerate() {
            body.push(Doc::LineStart);
            if i > 0 && self.blank_before_item(start(item.span())) {
                body.push(Doc::Blank);
            }
            match item {
                DecisionItem::Outcomes { names, .. } => {
                    body.extend(self.kw("outcomes"));
                    body.push(Doc::Space);
                    body.extend(self.braced(
                        names,
                        Commas::Optional,
                        |b, n| b.ident(n),
                        |n| n.span,
                    ));
                }
                DecisionItem::Inputs { names, .. } => {
                    body.extend(self.kw("inputs"));
                    body.push(Doc::Space);
                    body.extend(self.braced(
                        names,
                        Commas::Optional,
                        |b, n| b.ident(n),
                        |n| n.span,
                    ));
                }
                DecisionItem::Rule(r) => body.extend(self.rule(r)),
                DecisionItem::Otherwise { outcome, .. } => {
                    body.extend(self.kw("otherwise"));
                    body.push(Doc::Space);
                    body.extend(self.ident(outcome));
                }
            }
        }
        docs.extend(self.close_block(body, end(d.span)));
        docs
    }

    /// The source has an empty line before the item (or before the comments above it).
    fn blank_before_item(&self, at: usize) -> bool {
        let first = match self.comments.get(self.next) {
            Some(c) if c.start < at => return false,
            _ => at,
        };
        self.blank_before(first)
    }

    /// The indented body of a block, the comments before its `}` and the `}` itself, which is
    /// the last character of `block_end`.
    fn close_block(&mut self, mut body: Vec<Doc>, block_end: usize) -> Vec<Doc> {
        let close = block_end.saturating_sub(1);
        body.extend(self.leading(close));
        let mut docs = vec![Doc::Indent(2, body), Doc::LineStart];
        docs.extend(self.tok(close, close + 1, "}"));
        docs
    }

    fn rule(&mut self, r: &RuleDecl) -> Vec<Doc> {
        let mut docs = self.kw("rule");
        docs.push(Doc::Space);
        docs.extend(self.ident(&r.name));
        let mut tail = Vec::new();
        if let Some(d) = &r.description {
            let forced = self.newline_in(end(r.name.span), start(d.span));
            let desc = self.raw(d.span);
            tail.push(group(forced, [vec![Doc::Line], desc].concat()));
        }
        tail.push(Doc::Line);
        tail.extend(self.kw("when"));
        tail.push(Doc::Space);
        // Broken chains line their terms up under the first: ` and` and `  or` under `when`.
        let align = match r.condition.kind {
            ExprKind::And(_) => 1,
            ExprKind::Or(_) => 2,
            _ => 0,
        };
        let cond = self.expr(&r.condition);
        tail.push(Doc::Indent(align, cond));
        tail.push(Doc::Line);
        tail.extend(self.kw("then"));
        tail.push(Doc::Space);
        tail.extend(self.ident(&r.outcome));
        docs.push(Doc::Indent(2, tail));
        vec![group(self.forced(r.span), docs)]
    }

    fn test(&mut self, t: &TestDecl) -> Vec<Doc> {
        let mut docs = self.kw("test");
        docs.push(Doc::Space);
        docs.extend(self.raw(t.name.span));
        docs.push(Doc::Space);
        docs.extend(self.kw("{"));
        let mut body = Vec::new();
        for (i, item) in t.items.iter().enumerate() {
            body.push(Doc::LineStart);
            match item {
                TestItem::Given { assignments, span } => {
                    if i > 0 && self.blank_before_item(start(*span)) {
                        body.push(Doc::Blank);
                    }
                    body.extend(self.kw("given"));
                    body.push(Doc::Space);
                    body.extend(self.braced(
                        assignments,
                        Commas::Optional,
                        |b, a| b.assignment(a),
                        |a| a.span,
                    ));
                }
                TestItem::Expect {
                    decision,
                    outcome,
                    span,
                } => {
                    if i > 0 && self.blank_before_item(start(*span)) {
                        body.push(Doc::Blank);
                    }
                    body.extend(self.kw("expect"));
                    body.push(Doc::Space);
                    body.extend(self.ident(decision));
                    body.push(Doc::Space);
                    body.extend(self.kw("="));
                    body.push(Doc::Space);
                    body.extend(self.ident(outcome));
                }
            }
        }
        docs.extend(self.close_block(body, end(t.span)));
        docs
    }

    fn assignment(&mut self, a: &Assignment) -> Vec<Doc> {
        let mut docs = self.ident(&a.fact);
        docs.push(Doc::Space);
        docs.extend(self.kw("="));
        docs.push(Doc::Space);
        match &a.value {
            Value::Quantity(q) => docs.extend(self.quantity(q)),
            Value::Number(n) => docs.extend(self.span_tok(n.span, &n.text)),
            Value::Set(s) => docs.extend(self.set_literal(s)),
            Value::Word { text: t, span } => docs.extend(self.span_tok(*span, t)),
            Value::Date(d) => docs.extend(self.span_tok(d.span, &d.text)),
            Value::List { items, span } => docs.extend(self.list_value(items, *span)),
        }
        docs
    }

    /// `[{ field = value, ... }, ...]`: flat when it fits and the source has it on one line,
    /// else one item per line.
    fn list_value(&mut self, items: &[Item], span: Span) -> Vec<Doc> {
        let mut docs = self.kw("[");
        if items.is_empty() {
            docs.extend(self.kw("]"));
            return docs;
        }
        let mut body = Vec::new();
        let n = items.len();
        for (i, item) in items.iter().enumerate() {
            body.push(if i == 0 { Doc::SoftLine } else { Doc::Line });
            let one = self.braced(
                &item.fields,
                Commas::Optional,
                |b, a| b.assignment(a),
                |a| a.span,
            );
            body.extend(self.with_comma(one, i + 1 == n));
        }
        let close = end(span).saturating_sub(1);
        body.extend(self.leading(close));
        let mut inner = vec![Doc::Indent(2, body), Doc::SoftLine];
        inner.extend(self.tok(close, close + 1, "]"));
        docs.extend(inner);
        vec![group(self.forced(span), docs)]
    }

    fn quantity(&mut self, q: &Quantity) -> Vec<Doc> {
        let mut docs = self.bare(start(q.number.span), end(q.number.span), &q.number.text);
        if q.unit.name != "%" {
            docs.push(Doc::Space);
        }
        docs.extend(self.ident(&q.unit));
        docs
    }

    // ------------------------------------------------------------ lists

    /// `{ a, b, c }` flat when it fits and the source has it on one line; otherwise one item per
    /// line, or for optional commas, the items the source has on one line kept together.
    fn braced<T>(
        &mut self,
        items: &[T],
        commas: Commas,
        mut item: impl FnMut(&mut Self, &T) -> Vec<Doc>,
        span: impl Fn(&T) -> Span,
    ) -> Vec<Doc> {
        let mut docs = self.kw("{");
        let open = self.cursor;
        if items.is_empty() {
            docs.extend(self.kw("}"));
            return docs;
        }
        let mut body = Vec::new();
        let mut line: Vec<Doc> = Vec::new();
        let count = items.len();
        for (i, it) in items.iter().enumerate() {
            let last = i + 1 == count;
            if commas == Commas::Required {
                body.push(Doc::Line);
                let one = item(self, it);
                body.extend(self.with_comma(one, last));
                continue;
            }
            if line.is_empty() {
                // A line of the list starts: comments above it stay outside its group, so
                // that a comment on its own line does not break the items after it apart.
                body.push(Doc::Line);
                body.extend(self.leading(start(span(it))));
            }
            line.extend(item(self, it));
            if last {
                line.extend(self.skip(","));
                body.push(group(false, std::mem::take(&mut line)));
                continue;
            }
            let next_start = items.get(i + 1).map_or(self.cursor, |n| start(span(n)));
            let same_line = !self.newline_in(self.content_end(span(it)), next_start);
            let comma = Doc::Mode {
                flat: ",",
                broken: "",
            };
            let comments = self.skip(",");
            if same_line {
                line.push(comma);
                line.extend(comments);
                line.push(Doc::Line);
            } else {
                // The comma between lines belongs to the whole list: written only when flat.
                body.push(group(false, std::mem::take(&mut line)));
                body.push(comma);
                body.extend(comments);
            }
        }
        let close_at = self.locate("}").unwrap_or(self.cursor);
        let forced = self.newline_in(open, close_at);
        body.extend(self.leading(close_at));
        let mut inner = vec![Doc::Indent(2, body), Doc::Line];
        inner.extend(self.tok(close_at, close_at + 1, "}"));
        docs.push(group(forced, inner));
        docs
    }

    /// An item of a list whose commas are required: a comma after it, before a comment that
    /// ends its line; after the last item, a comma only when the list is broken.
    fn with_comma(&mut self, mut one: Vec<Doc>, last: bool) -> Vec<Doc> {
        if last {
            one.push(Doc::Mode {
                flat: "",
                broken: ",",
            });
            one.extend(self.skip(","));
        } else {
            let comments = Self::trailing_split(&mut one);
            let at = self.locate(",").unwrap_or(self.cursor);
            // The comma, then the comments in the order written: those before the comma
            // (taken back from the item), then any before and after it.
            one.push(text(","));
            one.extend(comments);
            one.extend(self.leading(at));
            self.cursor = self.cursor.max(at + 1);
            one.extend(self.trailing());
        }
        one
    }

    /// Takes back the comments printed after an item, so that its comma can go before them.
    fn trailing_split(docs: &mut Vec<Doc>) -> Vec<Doc> {
        let mut comments = Vec::new();
        while let Some(Doc::Trail { .. }) = docs.last() {
            if let Some(c) = docs.pop() {
                comments.push(c);
            }
        }
        comments.reverse();
        comments
    }

    // ------------------------------------------------------------ code sets

    fn set_expr(&mut self, s: &SetExpr) -> Vec<Doc> {
        match s {
            SetExpr::Chain { first, rest, span } => {
                let forced = self.forced(*span);
                // A chain that ends in a list stays on its line and the list breaks inside its
                // braces, as in `codes` declarations: were the chain to break when the list is
                // too long for one line, the list broken on the first run would let the chain
                // fit on the next, and formatting twice would not agree.
                let braces = ends_with_braces(s);
                let mut docs = self.set_expr(first);
                for (op, term) in rest {
                    docs.push(if braces { Doc::Space } else { Doc::Line });
                    docs.extend(self.kw(match op {
                        SetOp::Union => "+",
                        SetOp::Difference => "-",
                    }));
                    docs.push(Doc::Space);
                    docs.extend(self.set_expr(term));
                }
                vec![group(forced && !braces, docs)]
            }
            SetExpr::Paren { inner, .. } => {
                let mut docs = self.kw("(");
                docs.extend(self.set_expr(inner));
                docs.extend(self.kw(")"));
                docs
            }
            SetExpr::Name(i) => self.ident(i),
            SetExpr::System { system, set, .. } => {
                let mut docs = self.ident(system);
                docs.push(Doc::Space);
                docs.extend(self.set_literal(set));
                docs
            }
            SetExpr::Literal(l) => self.set_literal(l),
        }
    }

    fn set_literal(&mut self, l: &SetLiteral) -> Vec<Doc> {
        self.braced(
            &l.items,
            Commas::Optional,
            |b, item| b.set_item(item),
            |i| i.span,
        )
    }

    fn set_item(&mut self, item: &SetItem) -> Vec<Doc> {
        let mut docs = self.span_tok(item.first.span, &item.first.text);
        if let Some(last) = &item.last {
            docs.extend(self.kw(".."));
            docs.extend(self.span_tok(last.span, &last.text));
        }
        docs
    }

    // ------------------------------------------------------------ conditions

    fn expr(&mut self, e: &Expr) -> Vec<Doc> {
        match &e.kind {
            ExprKind::Or(terms) => self.chain(terms, "or", e.span),
            ExprKind::And(terms) => self.chain(terms, "and", e.span),
            ExprKind::Not(inner) => {
                let mut docs = self.kw("not");
                docs.push(Doc::Space);
                docs.extend(self.expr(inner));
                docs
            }
            ExprKind::Compare {
                op,
                op_span,
                left,
                right,
            } => {
                let mut docs = self.operand(left);
                docs.push(Doc::Space);
                docs.extend(self.span_tok(*op_span, op.as_str()));
                docs.push(Doc::Space);
                docs.extend(self.operand(right));
                docs
            }
            ExprKind::Within {
                value,
                amount,
                reference,
            } => {
                let mut docs = self.operand(value);
                docs.push(Doc::Space);
                docs.extend(self.kw("within"));
                docs.push(Doc::Space);
                docs.extend(self.quantity(amount));
                if let Some(r) = reference {
                    docs.push(Doc::Space);
                    docs.extend(self.kw("before"));
                    docs.push(Doc::Space);
                    docs.extend(self.operand(r));
                }
                docs
            }
            ExprKind::In {
                negated,
                value,
                set,
            } => {
                let mut docs = self.operand(value);
                docs.push(Doc::Space);
                if *negated {
                    docs.extend(self.kw("not"));
                    docs.push(Doc::Space);
                }
                docs.extend(self.kw("in"));
                docs.push(Doc::Space);
                docs.extend(self.set_expr(set));
                docs
            }
            ExprKind::Has {
                quantifier,
                value,
                set,
            } => {
                let mut docs = self.operand(value);
                docs.push(Doc::Space);
                docs.extend(self.kw("has"));
                docs.push(Doc::Space);
                docs.extend(self.kw(quantifier.as_str()));
                // `of` is optional; the author's choice is kept.
                if self.next_is("of") {
                    docs.push(Doc::Space);
                    docs.extend(self.kw("of"));
                }
                docs.push(Doc::Space);
                docs.extend(self.set_expr(set));
                docs
            }
            ExprKind::Operand(o) => self.operand(o),
            ExprKind::Count { kind, k, items } => self.count(*kind, k, items, e.span),
        }
    }

    /// `a and b and c`: flat, or one term a line with the operator first.
    fn chain(&mut self, terms: &[Expr], op: &str, span: Span) -> Vec<Doc> {
        let forced = self.forced(span);
        let mut docs = Vec::new();
        for (i, term) in terms.iter().enumerate() {
            if i > 0 {
                docs.push(Doc::Line);
                docs.extend(self.kw(op));
                docs.push(Doc::Space);
            }
            // The `and` terms of an `or` break indented under their first condition.
            let inner = self.expr(term);
            if i > 0 && matches!(term.kind, ExprKind::And(_)) {
                docs.push(Doc::Indent(op.len() + 1, inner));
            } else {
                docs.extend(inner);
            }
        }
        vec![group(forced, docs)]
    }

    fn count(&mut self, kind: CountKind, k: &NumberLit, items: &[Expr], span: Span) -> Vec<Doc> {
        let mut docs = match kind {
            CountKind::AtLeast | CountKind::AtMost => {
                let mut d = self.kw("at");
                d.push(Doc::Space);
                d.extend(self.kw(if kind == CountKind::AtLeast {
                    "least"
                } else {
                    "most"
                }));
                d
            }
            CountKind::Exactly => self.kw("exactly"),
        };
        docs.push(Doc::Space);
        docs.extend(self.span_tok(k.span, &k.text));
        docs.push(Doc::Space);
        docs.extend(self.kw("of"));
        docs.push(Doc::Space);
        docs.extend(self.kw("("));
        let mut body = Vec::new();
        let n = items.len();
        for (i, item) in items.iter().enumerate() {
            body.push(if i == 0 { Doc::SoftLine } else { Doc::Line });
            let one = self.expr(item);
            body.extend(self.with_comma(one, i + 1 == n));
        }
        let close = end(span).saturating_sub(1);
        body.extend(self.leading(close));
        let mut inner = vec![Doc::Indent(2, body), Doc::SoftLine];
        inner.extend(self.tok(close, close + 1, ")"));
        docs.extend(inner);
        vec![group(self.forced(span), docs)]
    }

    /// `left OP right` on one line, as written: parentheses are operands of their own, so
    /// the tree holds the grouping the author wrote.
    fn binary(&mut self, left: &Operand, (op_span, op): (Span, &str), right: &Operand) -> Vec<Doc> {
        let mut docs = self.operand(left);
        docs.push(Doc::Space);
        docs.extend(self.span_tok(op_span, op));
        docs.push(Doc::Space);
        docs.extend(self.operand(right));
        docs
    }

    fn operand(&mut self, o: &Operand) -> Vec<Doc> {
        let from = start(o.span);
        let mut docs = match &o.kind {
            OperandKind::Name(i) => self.ident(i),
            OperandKind::Number(n) => self.span_tok(n.span, &n.text),
            OperandKind::Date(d) => self.span_tok(d.span, &d.text),
            OperandKind::Quantity(q) => self.quantity(q),
            OperandKind::Bool(b) => {
                let t = if *b { "true" } else { "false" };
                self.tok(from, from + t.len(), t)
            }
            OperandKind::Paren(inner)
                if self.src.get(from..).is_some_and(|r| r.starts_with('(')) =>
            {
                let mut docs = self.tok(from, from + 1, "(");
                let forced = self.forced(inner.span);
                let body = self.expr(inner);
                let mut close = self.kw(")");
                let mut g = vec![
                    Doc::Indent(2, [vec![Doc::SoftLine], body].concat()),
                    Doc::SoftLine,
                ];
                g.append(&mut close);
                docs.push(group(forced, g));
                docs
            }
            // A count used as an operand has no parentheses of its own.
            OperandKind::Paren(inner) => self.expr(inner),
            OperandKind::Difference {
                left,
                right,
                op_span,
            } => self.binary(left, (*op_span, "-"), right),
            OperandKind::Arith {
                op,
                left,
                right,
                op_span,
            } => self.binary(left, (*op_span, op.as_str()), right),
            OperandKind::ListCount { list, filter } => {
                let mut docs = self.kw("count");
                docs.extend(self.kw("("));
                docs.extend(self.ident(list));
                if let Some(f) = filter {
                    docs.push(Doc::Space);
                    docs.extend(self.kw("where"));
                    docs.push(Doc::Space);
                    // A condition broken over lines is indented under the count it belongs to.
                    let condition = self.expr(f);
                    docs.push(Doc::Indent(2, condition));
                }
                docs.extend(self.kw(")"));
                docs
            }
        };
        if let Some(unit) = &o.conversion {
            docs.push(Doc::Space);
            docs.extend(self.kw("as"));
            docs.push(Doc::Space);
            docs.extend(self.ident(unit));
        }
        docs
    }
}

/// A set expression whose last part is a list in braces, which can open on the line before it.
fn ends_with_braces(s: &SetExpr) -> bool {
    match s {
        SetExpr::System { .. } | SetExpr::Literal(_) => true,
        SetExpr::Chain { rest, .. } => rest.last().is_some_and(|(_, t)| ends_with_braces(t)),
        SetExpr::Paren { .. } | SetExpr::Name(_) => false,
    }
}
