//! The syntax tree the parser produces: what the author wrote, with a span on every node and
//! nothing resolved. Comments are kept beside the tree (by span) for the formatter.

use crate::source::{FileId, Span};
pub use medpol_artifact::formula::Op;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal with its escapes resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str {
    pub value: String,
    pub span: Span,
}

/// A number literal as written (`78.5`, `-2.95`); the checker turns it into an exact value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberLit {
    pub text: String,
    pub span: Span,
}

/// A date literal as written (`2009-02-12`); the checker checks it against the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateLit {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    pub number: NumberLit,
    pub unit: Ident,
    pub span: Span,
}

/// One parsed file.
#[derive(Debug, Clone, Default)]
pub struct File {
    pub id: FileId,
    pub decls: Vec<Decl>,
    /// Declarations that did not parse, so later stages can stay quiet about their names.
    pub broken: Vec<BrokenDecl>,
    /// Spans of every comment, in order.
    pub comments: Vec<Span>,
}

impl File {
    pub fn policy(&self) -> Option<&PolicyDecl> {
        self.decls.iter().find_map(|d| match d {
            Decl::Policy(p) => Some(p),
            _ => None,
        })
    }

    pub fn imports(&self) -> impl Iterator<Item = &ImportDecl> {
        self.decls.iter().filter_map(|d| match d {
            Decl::Import(i) => Some(i),
            _ => None,
        })
    }
}

/// A declaration the parser could not read; its keyword and name (when they could be found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenDecl {
    pub keyword: String,
    pub name: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Decl {
    Policy(PolicyDecl),
    Import(ImportDecl),
    Fact(FactDecl),
    Codes(Box<CodesDecl>),
    Define(Box<DefineDecl>),
    Decision(Box<DecisionDecl>),
    Test(Box<TestDecl>),
    /// `constraint NAME = CONDITION`: the same shape as a define.
    Constraint(Box<DefineDecl>),
    /// `record NAME { FIELD: TYPE ... }`: the kind of item a list fact holds.
    Record(Box<RecordDecl>),
}

impl Decl {
    pub fn span(&self) -> Span {
        match self {
            Decl::Policy(d) => d.span,
            Decl::Import(d) => d.span,
            Decl::Fact(d) => d.span,
            Decl::Codes(d) => d.span,
            Decl::Define(d) => d.span,
            Decl::Decision(d) => d.span,
            Decl::Test(d) => d.span,
            Decl::Constraint(d) => d.span,
            Decl::Record(d) => d.span,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PolicyDecl {
    pub id: Str,
    pub entries: Vec<MetaEntry>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct MetaEntry {
    pub key: Ident,
    pub value: MetaValue,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum MetaValue {
    Str(Str),
    Date { text: String, span: Span },
    Number(NumberLit),
}

impl MetaValue {
    pub fn span(&self) -> Span {
        match self {
            MetaValue::Str(s) => s.span,
            MetaValue::Date { span, .. } => *span,
            MetaValue::Number(n) => n.span,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportDecl {
    /// `None` imports every declaration of the file.
    pub names: Option<Vec<Ident>>,
    pub path: Str,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct FactDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub description: Option<Str>,
    pub span: Span,
    /// `in LOW..HIGH`: the values a numeric fact can take.
    pub range: Option<FactRange>,
    /// `documented`: the fact must be supported by clinical documentation.
    pub documented: bool,
}

/// A fact's declared range, both ends included.
#[derive(Debug, Clone)]
pub struct FactRange {
    pub low: NumberLit,
    pub high: NumberLit,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum TypeExpr {
    Enum {
        values: Vec<Ident>,
        span: Span,
    },
    Named {
        name: Ident,
        arg: Option<Box<TypeExpr>>,
        span: Span,
    },
}

impl TypeExpr {
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Enum { span, .. } | TypeExpr::Named { span, .. } => *span,
        }
    }
}

/// `record session "..." { performed: date "..." region: enum { ... } }`.
#[derive(Debug, Clone)]
pub struct RecordDecl {
    pub name: Ident,
    pub description: Option<Str>,
    pub fields: Vec<FieldDecl>,
    pub span: Span,
}

/// One field of a record: a name, a scalar type and a description.
#[derive(Debug, Clone)]
pub struct FieldDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub description: Option<Str>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct CodesDecl {
    pub name: Ident,
    pub description: Option<Str>,
    pub set: SetExpr,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct DefineDecl {
    pub name: Ident,
    pub description: Option<Str>,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct DecisionDecl {
    pub name: Ident,
    pub hit: Ident,
    pub description: Option<Str>,
    pub items: Vec<DecisionItem>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum DecisionItem {
    Outcomes { names: Vec<Ident>, span: Span },
    Inputs { names: Vec<Ident>, span: Span },
    Rule(Box<RuleDecl>),
    Otherwise { outcome: Ident, span: Span },
}

impl DecisionItem {
    pub fn span(&self) -> Span {
        match self {
            DecisionItem::Outcomes { span, .. }
            | DecisionItem::Inputs { span, .. }
            | DecisionItem::Otherwise { span, .. } => *span,
            DecisionItem::Rule(r) => r.span,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuleDecl {
    pub name: Ident,
    pub description: Option<Str>,
    pub condition: Expr,
    pub outcome: Ident,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct TestDecl {
    pub name: Str,
    pub items: Vec<TestItem>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum TestItem {
    Given {
        assignments: Vec<Assignment>,
        span: Span,
    },
    Expect {
        decision: Ident,
        outcome: Ident,
        span: Span,
    },
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub fact: Ident,
    pub value: Value,
    pub span: Span,
}

/// A value in a test's `given` block; its meaning depends on the fact's type.
#[derive(Debug, Clone)]
pub enum Value {
    Quantity(Quantity),
    Number(NumberLit),
    Set(SetLiteral),
    /// A bare word: `true`, an enum value or a code.
    Word {
        text: String,
        span: Span,
    },
    Date(DateLit),
    /// `[ { field = value, ... }, ... ]`: the items of a list fact.
    List {
        items: Vec<Item>,
        span: Span,
    },
}

/// One item of a list value: its fields' values.
#[derive(Debug, Clone)]
pub struct Item {
    pub fields: Vec<Assignment>,
    pub span: Span,
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Quantity(q) => q.span,
            Value::Number(n) => n.span,
            Value::Set(s) => s.span,
            Value::Word { span, .. } => *span,
            Value::Date(d) => d.span,
            Value::List { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum SetExpr {
    /// `a + b - c`: applied left to right. Kept flat so a long chain never nests deeply.
    Chain {
        first: Box<SetExpr>,
        rest: Vec<(SetOp, SetExpr)>,
        span: Span,
    },
    /// `( ... )`
    Paren {
        inner: Box<SetExpr>,
        span: Span,
    },
    Name(Ident),
    /// `icd10cm { ... }`
    System {
        system: Ident,
        set: SetLiteral,
        span: Span,
    },
    /// `{ ... }` with the system (or enum) taken from where it is used.
    Literal(SetLiteral),
}

impl SetExpr {
    pub fn span(&self) -> Span {
        match self {
            SetExpr::Chain { span, .. }
            | SetExpr::Paren { span, .. }
            | SetExpr::System { span, .. } => *span,
            SetExpr::Name(i) => i.span,
            SetExpr::Literal(l) => l.span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Union,
    Difference,
}

#[derive(Debug, Clone)]
pub struct SetLiteral {
    pub items: Vec<SetItem>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct SetItem {
    pub first: Word,
    /// The end of a range `first..last`.
    pub last: Option<Word>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        op: CmpOp,
        op_span: Span,
        left: Operand,
        right: Operand,
    },
    In {
        negated: bool,
        value: Operand,
        set: SetExpr,
    },
    Has {
        quantifier: Quantifier,
        value: Operand,
        set: SetExpr,
    },
    /// An operand standing alone as a condition: a boolean fact, a define, `true`...
    Operand(Operand),
    Count {
        kind: CountKind,
        k: NumberLit,
        items: Vec<Expr>,
    },
    /// `value within AMOUNT before REFERENCE`: the reference minus the amount, up to the
    /// reference, both included. Without a reference (an error the checker reports).
    Within {
        value: Operand,
        amount: Quantity,
        reference: Option<Operand>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator with its sides swapped: `a < b` is `b > a`.
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantifier {
    Any,
    All,
    None,
}

impl Quantifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Quantifier::Any => "any",
            Quantifier::All => "all",
            Quantifier::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountKind {
    AtLeast,
    AtMost,
    Exactly,
}

impl CountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CountKind::AtLeast => "at least",
            CountKind::AtMost => "at most",
            CountKind::Exactly => "exactly",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Operand {
    pub kind: OperandKind,
    /// `x as days`
    pub conversion: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum OperandKind {
    Name(Ident),
    Number(NumberLit),
    Quantity(Quantity),
    Bool(bool),
    Paren(Box<Expr>),
    Date(DateLit),
    /// `a - b`: the difference of two operands (the checker takes two facts of one kind).
    Difference {
        left: Box<Operand>,
        right: Box<Operand>,
        /// The `-`.
        op_span: Span,
    },
    /// `a + b`, `a * b`, `a / b` (never `-`, which is a [`OperandKind::Difference`]): arithmetic,
    /// which the checker takes only in a derived value's formula.
    Arith {
        op: Op,
        left: Box<Operand>,
        right: Box<Operand>,
        /// The operator.
        op_span: Span,
    },
    /// `count(LIST)` or `count(LIST where CONDITION)`: how many items (meet the condition).
    ListCount {
        list: Ident,
        filter: Option<Box<Expr>>,
    },
}
