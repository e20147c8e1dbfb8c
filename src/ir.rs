//! The typed model of a checked project: every name resolved to an id, every comparison
//! normalised to "fact, operator, exact value in the fact's own unit", every code in normal
//! form. Later stages (analysis, compilation, evaluation, the language server) read only this.

use crate::ast::{CmpOp, CountKind, Quantifier};
use crate::codes::{CodeItem, System};
use crate::source::{FileId, Span};
use crate::types::{Date, EnumId, Num, RecordId, Type};

macro_rules! id {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    )*};
}

id!(
    FactId,
    CodeSetId,
    DefineId,
    DecisionId,
    PolicyId,
    TestId,
    ConstraintId,
    OutcomeId,
    RuleId
);

#[derive(Debug, Clone, Default)]
pub struct Program {
    pub facts: Vec<Fact>,
    pub enums: Vec<EnumType>,
    pub code_sets: Vec<CodeSet>,
    pub defines: Vec<Define>,
    pub decisions: Vec<Decision>,
    pub policies: Vec<Policy>,
    pub tests: Vec<Test>,
    pub constraints: Vec<Constraint>,
    /// Record types: the kinds of items list facts hold.
    pub records: Vec<Record>,
}

impl Program {
    pub fn record(&self, id: RecordId) -> Option<&Record> {
        self.records.get(id.0 as usize)
    }

    /// Whether a fact is a field of a record: a value of each item of a list, read only
    /// inside a `count(... where ...)`.
    pub fn is_field(&self, id: FactId) -> bool {
        self.fact(id).is_some_and(|f| f.record.is_some())
    }

    pub fn fact(&self, id: FactId) -> Option<&Fact> {
        self.facts.get(id.index())
    }

    pub fn code_set(&self, id: CodeSetId) -> Option<&CodeSet> {
        self.code_sets.get(id.index())
    }

    pub fn define(&self, id: DefineId) -> Option<&Define> {
        self.defines.get(id.index())
    }

    pub fn decision(&self, id: DecisionId) -> Option<&Decision> {
        self.decisions.get(id.index())
    }

    pub fn enum_type(&self, id: EnumId) -> Option<&EnumType> {
        self.enums.get(id.0 as usize)
    }

    /// The name of a value of an enum type.
    pub fn enum_value(&self, id: EnumId, value: u32) -> &str {
        self.enum_type(id)
            .and_then(|e| e.values.get(value as usize))
            .map_or_else(|| lost_name("an enum value"), |(name, _)| name.as_str())
    }

    /// The name of a fact the model refers to.
    pub fn fact_name(&self, id: FactId) -> &str {
        self.fact(id)
            .map_or_else(|| lost_name("a fact"), |f| f.name.as_str())
    }

    /// A value as a policy writes it in a test's `given`: `6 weeks`, `lumbar`,
    /// `[{ relief = 80%, kind = diagnostic }]`.
    pub fn value_text(&self, ty: Type, v: &Value) -> String {
        match (v, ty) {
            (Value::Bool(b), _) => b.to_string(),
            (Value::Num(n), ty) => crate::types::quantity_text(*n, Some(ty)),
            (Value::Enum(i), Type::Enum(e)) => self.enum_value(e, *i).to_string(),
            (Value::Enum(i), _) => i.to_string(),
            (Value::Code(c), _) => c.clone(),
            (Value::Codes(codes), _) if codes.is_empty() => "{}".to_string(),
            (Value::Codes(codes), _) => format!("{{ {} }}", codes.join(", ")),
            (Value::List(items), _) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|item| {
                        let fields: Vec<String> = item
                            .iter()
                            .filter_map(|(f, v)| {
                                let field = self.fact(*f)?;
                                Some(format!("{} = {}", field.name, self.value_text(field.ty, v)))
                            })
                            .collect();
                        format!("{{ {} }}", fields.join(", "))
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
        }
    }

    /// A condition as policy text, rebuilt from the model (for a count's label in findings):
    /// `kind == therapeutic and relief >= 80%`. Recursion follows the source's nesting.
    pub fn expr_text(&self, e: &Expr) -> String {
        let join = |es: &[Expr], word: &str| {
            es.iter()
                .map(|x| match x.kind {
                    ExprKind::And(_) | ExprKind::Or(_) => format!("({})", self.expr_text(x)),
                    _ => self.expr_text(x),
                })
                .collect::<Vec<_>>()
                .join(word)
        };
        let ty = |f: FactId| self.fact(f).map_or(Type::Error, |x| x.ty);
        let set = |s: CodeSetId| {
            self.code_set(s)
                .and_then(|c| c.name.clone())
                .unwrap_or_else(|| "{ ... }".to_string())
        };
        match &e.kind {
            ExprKind::Error => "(error)".to_string(),
            ExprKind::Const(b) => b.to_string(),
            ExprKind::Fact(f) => self.fact_name(*f).to_string(),
            ExprKind::Define(d) => self
                .define(*d)
                .map_or_else(|| lost_name("a definition").to_string(), |d| d.name.clone()),
            ExprKind::Not(inner) => format!("not ({})", self.expr_text(inner)),
            ExprKind::And(es) => join(es, " and "),
            ExprKind::Or(es) => join(es, " or "),
            ExprKind::Compare { fact, op, value } => format!(
                "{} {} {}",
                self.fact_name(*fact),
                op.as_str(),
                crate::types::quantity_text(*value, Some(ty(*fact)))
            ),
            ExprKind::EnumIn { fact, values } => {
                let names: Vec<&str> = match ty(*fact) {
                    Type::Enum(en) => values.iter().map(|v| self.enum_value(en, *v)).collect(),
                    _ => Vec::new(),
                };
                match names.as_slice() {
                    [one] => format!("{} == {one}", self.fact_name(*fact)),
                    _ => format!("{} in {{ {} }}", self.fact_name(*fact), names.join(", ")),
                }
            }
            ExprKind::CodeIn { fact, set: s } => {
                format!("{} in {}", self.fact_name(*fact), set(*s))
            }
            ExprKind::Has {
                fact,
                quantifier,
                set: s,
            } => format!(
                "{} has {} {}",
                self.fact_name(*fact),
                quantifier.as_str(),
                set(*s)
            ),
            ExprKind::Count { kind, k, items } => {
                format!("{} {k} of ({})", kind.as_str(), join(items, ", "))
            }
            ExprKind::ListCount {
                list,
                filter,
                op,
                value,
            } => format!(
                "{} {} {value}",
                self.count_text(*list, filter.as_deref()),
                op.as_str()
            ),
            ExprKind::Window {
                field,
                reference,
                amount,
                months,
            } => format!(
                "{} within {amount} {} before {}",
                self.fact_name(*field),
                match (months, amount) {
                    (true, 1) => "month",
                    (true, _) => "months",
                    (false, 1) => "day",
                    (false, _) => "days",
                },
                self.fact_name(*reference)
            ),
            ExprKind::FieldIs { field, op, fact } => format!(
                "{} {} {}",
                self.fact_name(*field),
                op.as_str(),
                self.fact_name(*fact)
            ),
            ExprKind::Relation(r) => {
                let ty = match r.calendar {
                    true => Type::Quantity(crate::types::Unit::Month),
                    false => difference_type(ty(r.left)),
                };
                format!(
                    "{} - {} {} {}",
                    self.fact_name(r.left),
                    self.fact_name(r.right),
                    r.op.as_str(),
                    crate::types::quantity_text(r.value, Some(ty))
                )
            }
        }
    }

    /// The facts a count's condition reads besides its items' fields (a window's reference
    /// date, a fact a field is compared with), sorted.
    pub fn outer_facts(&self, filter: &Expr) -> Vec<FactId> {
        let mut out: Vec<FactId> = filter
            .walk()
            .filter_map(|e| match &e.kind {
                ExprKind::Window { reference, .. } => Some(*reference),
                ExprKind::FieldIs { fact, .. } => Some(*fact),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// A count as policy text: `count(sessions where relief >= 80%)`.
    pub fn count_text(&self, list: FactId, filter: Option<&Expr>) -> String {
        match filter {
            Some(f) => format!(
                "count({} where {})",
                self.fact_name(list),
                self.expr_text(f)
            ),
            None => format!("count({})", self.fact_name(list)),
        }
    }

    /// Every fact a condition reads, through definitions too, sorted (a list's count reads
    /// the list, not its items' fields).
    pub fn facts_read(&self, e: &Expr) -> Vec<FactId> {
        let mut facts: Vec<FactId> = Vec::new();
        for x in self.walk(&[e]) {
            facts.extend(x.facts_tested());
            if let ExprKind::ListCount {
                filter: Some(f), ..
            } = &x.kind
            {
                facts.extend(self.outer_facts(f));
            }
        }
        facts.sort();
        facts.dedup();
        facts
    }

    /// The definitions the conditions reach, each after the definitions it uses. Without
    /// recursion: a chain of definitions can be as long as the input.
    pub fn define_order(&self, conditions: &[&Expr]) -> Vec<DefineId> {
        let mut order = Vec::new();
        let mut done = std::collections::HashSet::new();
        let mut open = std::collections::HashSet::new();
        let mut roots = Vec::new();
        for e in conditions {
            e.for_each_define(&mut |d, _| roots.push(d));
        }
        for root in roots {
            let mut stack = vec![(root, false)];
            while let Some((d, expanded)) = stack.pop() {
                if expanded {
                    if done.insert(d) {
                        order.push(d);
                    }
                    continue;
                }
                if done.contains(&d) || !open.insert(d) {
                    continue;
                }
                stack.push((d, true));
                if let Some(DefineBody::Condition(e)) = self.define(d).map(|x| &x.body) {
                    e.for_each_define(&mut |dep, _| {
                        if !done.contains(&dep) {
                            stack.push((dep, false));
                        }
                    });
                }
            }
        }
        order
    }

    /// The conditions and every expression inside them in the order a reader meets them:
    /// conditions in turn, left to right, each definition's body right after the first place
    /// that names it. With an explicit stack: chains of definitions can be as long as the
    /// input.
    pub fn walk<'a>(&'a self, conditions: &[&'a Expr]) -> Walk<'a> {
        Walk {
            program: Some(self),
            stack: conditions.iter().rev().copied().collect(),
            seen: std::collections::HashSet::new(),
        }
    }

    /// Whether a code (in normal form) is in a code set; references are followed (the checker
    /// guarantees they have no cycle).
    pub fn set_contains(&self, set: CodeSetId, code: &str) -> bool {
        self.code_set(set)
            .is_some_and(|s| self.expr_contains(&s.expr, code))
    }

    fn expr_contains(&self, expr: &SetExpr, code: &str) -> bool {
        match expr {
            SetExpr::Items(items) => items.iter().any(|i| i.item.matches(code)),
            SetExpr::Ref(id) => self.set_contains(*id, code),
            SetExpr::Chain { first, rest } => {
                let mut inside = self.expr_contains(first, code);
                for (op, e) in rest {
                    match op {
                        crate::ast::SetOp::Union => inside = inside || self.expr_contains(e, code),
                        crate::ast::SetOp::Difference => {
                            inside = inside && !self.expr_contains(e, code)
                        }
                    }
                }
                inside
            }
        }
    }
}

/// A checked program without errors: no condition with errors ([`ExprKind::Error`]), no
/// definition without a body, no fact without a type, every policy, outcome and other
/// reference resolved and in range. The analysis, the compiler, the evaluator and the test
/// runner take one, so they need not guard against a half-checked model. Only
/// `ValidProgram::new` (private to the crate) makes one, and it verifies all that; the
/// checker calls it. Read access goes through `Deref` to [`Program`].
#[derive(Debug, Clone)]
pub struct ValidProgram(Program);

impl ValidProgram {
    /// The program when it holds what a `ValidProgram` promises; otherwise the program back,
    /// with the first thing that does not hold, in words.
    pub(crate) fn new(program: Program) -> Result<ValidProgram, Box<(Program, String)>> {
        match first_invalid(&program) {
            None => Ok(ValidProgram(program)),
            Some(problem) => Err(Box::new((program, problem))),
        }
    }

    /// A copy with only the decisions `keep` selects, renumbered, and the tests' expects of
    /// the others left out: still valid. The benchmarks measure one policy's analysis so.
    pub fn retain_decisions(&self, keep: impl Fn(&Decision) -> bool) -> ValidProgram {
        let mut p = self.0.clone();
        let mut renumbered = Vec::with_capacity(p.decisions.len());
        let mut next = 0;
        for d in &p.decisions {
            renumbered.push(keep(d).then(|| {
                next += 1;
                DecisionId(next - 1)
            }));
        }
        let renumber = |id: DecisionId| renumbered.get(id.index()).copied().flatten();
        p.decisions.retain(|d| keep(d));
        for policy in &mut p.policies {
            policy.decisions = policy
                .decisions
                .iter()
                .filter_map(|d| renumber(*d))
                .collect();
        }
        for t in &mut p.tests {
            t.expects
                .retain_mut(|e| renumber(e.decision).map(|id| e.decision = id).is_some());
        }
        ValidProgram(p)
    }
}

impl std::ops::Deref for ValidProgram {
    type Target = Program;

    fn deref(&self) -> &Program {
        &self.0
    }
}

/// What stands for the name of something a [`ValidProgram`] guarantees, when it is missing:
/// a bug in medpol. Debug builds (the tests, the fuzzer) stop here; a release says in the
/// text that it is an internal error to report (never a plausible stand-in such as `?`)
/// rather than stop on the user.
pub fn lost_name(what: &str) -> &'static str {
    debug_assert!(
        false,
        "internal error: {what} is missing from the model; please report this at the medpol issue tracker"
    );
    LOST
}

/// The text [`lost_name`] gives in a release.
pub const LOST: &str = "(internal error E0901: please report)";

/// The first thing that keeps a program from being a [`ValidProgram`], in words.
fn first_invalid(p: &Program) -> Option<String> {
    let policy = |id: Option<PolicyId>| id.is_some_and(|id| p.policies.get(id.index()).is_some());
    let outcome =
        |d: &Decision, id: Option<OutcomeId>| id.is_some_and(|id| d.outcome(id).is_some());
    if let Some(f) = p.facts.iter().find(|f| f.ty == Type::Error) {
        return Some(format!("fact `{}` has no type", f.name));
    }
    for d in &p.decisions {
        if !policy(d.policy) {
            return Some(format!("decision `{}` belongs to no policy", d.name));
        }
        for r in &d.rules {
            if !outcome(d, r.outcome) {
                return Some(format!(
                    "rule `{}` of `{}` gives no outcome",
                    r.name, d.name
                ));
            }
            if let Some(problem) = first_invalid_expr(p, &r.condition) {
                return Some(format!("rule `{}` of `{}`: {problem}", r.name, d.name));
            }
        }
        if let Some(o) = &d.otherwise
            && !outcome(d, o.outcome)
        {
            return Some(format!("the `otherwise` of `{}` gives no outcome", d.name));
        }
        if let Some(f) = d.inputs.iter().flatten().find(|f| p.fact(**f).is_none()) {
            return Some(format!(
                "decision `{}` lists a missing fact {}",
                d.name, f.0
            ));
        }
    }
    for d in &p.defines {
        let problem = match &d.body {
            DefineBody::Invalid => Some("no body".to_string()),
            DefineBody::Condition(e) => first_invalid_expr(p, e),
            DefineBody::Alias { fact, .. } if p.fact(*fact).is_none() => {
                Some(format!("a missing fact {}", fact.0))
            }
            DefineBody::Difference { left, right }
                if p.fact(*left).is_none() || p.fact(*right).is_none() =>
            {
                Some("a missing fact".to_string())
            }
            DefineBody::Alias { .. } | DefineBody::Value(_) | DefineBody::Difference { .. } => None,
        };
        if let Some(problem) = problem {
            return Some(format!("definition `{}`: {problem}", d.name));
        }
    }
    for c in &p.constraints {
        if let Some(problem) = first_invalid_expr(p, &c.condition) {
            return Some(format!("constraint `{}`: {problem}", c.name));
        }
    }
    for s in &p.code_sets {
        if let Some(id) = set_refs(&s.expr).find(|r| p.code_set(*r).is_none()) {
            let name = s.name.as_deref().unwrap_or("written in place");
            return Some(format!("code set `{name}`: a missing code set {}", id.0));
        }
    }
    for t in &p.tests {
        if !policy(t.policy) {
            return Some(format!("test \"{}\" belongs to no policy", t.name));
        }
        if t.given.iter().any(|g| p.fact(g.fact).is_none())
            || t.expects.iter().any(|e| {
                p.decision(e.decision)
                    .is_none_or(|d| d.outcome(e.outcome).is_none())
            })
        {
            return Some(format!("test \"{}\" names something missing", t.name));
        }
    }
    for policy in &p.policies {
        if policy.decisions.iter().any(|d| p.decision(*d).is_none())
            || policy
                .tests
                .iter()
                .any(|t| p.tests.get(t.index()).is_none())
            || policy
                .constraints
                .iter()
                .any(|c| p.constraints.get(c.index()).is_none())
        {
            return Some(format!("policy \"{}\" names something missing", policy.id));
        }
    }
    None
}

/// The code sets a set expression names, without following them.
fn set_refs(e: &SetExpr) -> impl Iterator<Item = CodeSetId> + '_ {
    let mut stack = vec![e];
    std::iter::from_fn(move || {
        while let Some(e) = stack.pop() {
            match e {
                SetExpr::Items(_) => {}
                SetExpr::Ref(id) => return Some(*id),
                SetExpr::Chain { first, rest } => {
                    stack.push(first);
                    stack.extend(rest.iter().map(|(_, e)| e));
                }
            }
        }
        None
    })
}

/// The first problem of one condition (definitions are checked on their own), in words.
fn first_invalid_expr(p: &Program, e: &Expr) -> Option<String> {
    e.walk().find_map(|e| match &e.kind {
        ExprKind::Error => Some("a condition with errors".to_string()),
        ExprKind::ListCount { list, filter, .. } => match p.fact(*list).map(|f| f.ty) {
            Some(Type::List(_)) => filter.as_deref().and_then(|f| first_invalid_expr(p, f)),
            _ => Some(format!("a count of {}, which is not a list", list.0)),
        },
        ExprKind::Define(d) if p.define(*d).is_none() => {
            Some(format!("a missing definition {}", d.0))
        }
        ExprKind::CodeIn { set, .. } | ExprKind::Has { set, .. } if p.code_set(*set).is_none() => {
            Some(format!("a missing code set {}", set.0))
        }
        _ => e
            .facts_tested()
            .find(|f| p.fact(*f).is_none())
            .map(|f| format!("a missing fact {}", f.0)),
    })
}

#[derive(Debug, Clone)]
pub struct Fact {
    pub name: String,
    pub ty: Type,
    pub description: Option<String>,
    pub file: FileId,
    pub span: Span,
    pub name_span: Span,
    /// The declared range of a numeric fact (`in 0..10`), both ends included, in its own unit.
    pub range: Option<(Num, Num)>,
    /// `documented`: the fact must be supported by clinical documentation.
    pub documented: bool,
    /// For a field of a record, the record: such a "fact" is a value of each item of a list
    /// and is read only inside a `count(... where ...)`, never on its own.
    pub record: Option<RecordId>,
    /// For a derived value (`define bmi = weight / (height * height)`): how it is computed.
    /// No patient gives it; it is computed from the facts its formula reads.
    pub derived: Option<Derived>,
}

/// A derived value's formula, over facts each in its own unit, giving the value in the
/// derived fact's unit; and the formula as the policy writes it.
#[derive(Debug, Clone)]
pub struct Derived {
    pub formula: medpol_artifact::formula::Formula<FactId>,
    pub written: String,
}

/// The value an example gives an input of a derived value that it does not solve for: the
/// whole number nearest the middle of its declared range (so a height declared `in 20..100`
/// is 60, not 1 inch), else 1 of its unit.
fn typical(fact: &Fact) -> Num {
    let one = Num::from_int(1);
    let Some((lo, hi)) = fact.range else {
        return one;
    };
    let middle = lo
        .checked_add(hi)
        .and_then(|x| x.checked_div(Num::from_int(2)))
        .map(Num::floor);
    match middle {
        Some(m) if lo <= m && m <= hi => m,
        _ => lo,
    }
}

/// A patient whose derived values are given (an example or a witness of the analysis, which
/// reasons over a derived value as a value of its own) made a patient in the facts it is
/// computed from: the facts of a formula it already gives keep their values, every other but
/// one is given a typical value ([`typical`], else 1 in its own unit), and that one is solved
/// (only a fact the formula reads once can be), rounded to a readable value where
/// `same_class(derived, exact, rounded)` says the derived value tells the same story.
/// `false` when no fact solves to a value its type and range allow: the patient then has no
/// derived value and no inputs for it.
pub fn solve_derived(
    program: &Program,
    patient: &mut std::collections::BTreeMap<FactId, Value>,
    same_class: &dyn Fn(FactId, Num, Num) -> bool,
) -> bool {
    // The other inputs at a typical value; at 1 of their unit when that leaves no solution (a
    // divisor zero in the middle of a range).
    let original = patient.clone();
    if solve_with(program, patient, same_class, true) {
        return true;
    }
    *patient = original;
    solve_with(program, patient, same_class, false)
}

fn solve_with(
    program: &Program,
    patient: &mut std::collections::BTreeMap<FactId, Value>,
    same_class: &dyn Fn(FactId, Num, Num) -> bool,
    typical_value: bool,
) -> bool {
    let mut solved = true;
    // The last declared first: a formula reads only derived values declared before it, which
    // its solution may give and which are then solved in turn.
    let derived: Vec<FactId> = patient
        .keys()
        .rev()
        .copied()
        .filter(|f| program.fact(*f).is_some_and(|x| x.derived.is_some()))
        .collect();
    for f in derived {
        let (Some(Value::Num(target)), Some(d)) = (
            patient.remove(&f),
            program.fact(f).and_then(|x| x.derived.as_ref()),
        ) else {
            continue;
        };
        let free: Vec<FactId> = d
            .formula
            .facts()
            .into_iter()
            .copied()
            .filter(|x| !patient.contains_key(x))
            .collect();
        let found = free.iter().rev().find_map(|&unknown| {
            let get = |x: &FactId| match patient.get(x) {
                Some(Value::Num(n)) => Some(*n),
                _ if free.contains(x) && *x != unknown => match typical_value {
                    true => program.fact(*x).map(typical),
                    false => Some(Num::from_int(1)),
                },
                _ => None,
            };
            let value = d.formula.solve(&unknown, target, &get)?;
            // Undoing the operations assumed every divisor nonzero: the value must give the
            // target back.
            let given = |x: &FactId| if *x == unknown { Some(value) } else { get(x) };
            if d.formula.value(&given) != Ok(Some(target)) {
                return None;
            }
            let fact = program.fact(unknown)?;
            let fits = |v: Num| {
                fact.range.is_none_or(|(lo, hi)| lo <= v && v <= hi)
                    && (fact.ty != Type::Int || v.is_integer())
                    && !(matches!(fact.ty, Type::Quantity(u) if u.nonnegative()) && v.is_negative())
            };
            if !fits(value) {
                return None;
            }
            // A readable value near the exact one (a whole number, or one or two places)
            // where the derived value stays in its class: an example reads as a test's
            // given values, and `1161288000/6479891 [lb_av]` does not.
            let readable = (0..3u32).find_map(|places| {
                let scale = Num::from_int(10i128.pow(places));
                let down = value.checked_mul(scale)?.floor().checked_div(scale)?;
                let up = down.checked_add(Num::from_int(1).checked_div(scale)?)?;
                [down, up].into_iter().find(|&v| {
                    let at = |x: &FactId| if *x == unknown { Some(v) } else { get(x) };
                    fits(v)
                        && matches!(d.formula.value(&at), Ok(Some(r)) if same_class(f, target, r))
                })
            });
            Some((unknown, readable.unwrap_or(value)))
        });
        match found {
            Some((unknown, value)) => {
                for &x in &free {
                    let v = match program.fact(x) {
                        _ if x == unknown => value,
                        Some(fact) if typical_value => typical(fact),
                        _ => Num::from_int(1),
                    };
                    patient.insert(x, Value::Num(v));
                }
            }
            None => solved = false,
        }
    }
    // No other derived value of the program may be left without a value by the inputs
    // chosen: the artifact refuses such facts whichever decision reads it.
    let number = |x: &FactId| match patient.get(x) {
        Some(Value::Num(n)) => Some(*n),
        _ => None,
    };
    solved
        && program
            .facts
            .iter()
            .filter_map(|f| f.derived.as_ref())
            .all(|d| d.formula.value(&number).is_ok())
}

/// A record type: the fields each item of a list holds, as facts of their own (see
/// [`Fact::record`]).
#[derive(Debug, Clone)]
pub struct Record {
    pub name: String,
    pub description: Option<String>,
    pub fields: Vec<FactId>,
    pub file: FileId,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Debug, Clone)]
pub struct EnumType {
    pub values: Vec<(String, Span)>,
}

#[derive(Debug, Clone)]
pub struct CodeSet {
    /// `None` for a set written in place (`procedure in cpt { 22510 }`).
    pub name: Option<String>,
    pub system: System,
    pub description: Option<String>,
    pub expr: SetExpr,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Debug, Clone)]
pub enum SetExpr {
    Items(Vec<SetItem>),
    Ref(CodeSetId),
    /// Applied left to right.
    Chain {
        first: Box<SetExpr>,
        rest: Vec<(crate::ast::SetOp, SetExpr)>,
    },
}

#[derive(Debug, Clone)]
pub struct SetItem {
    pub item: CodeItem,
    /// The item as written, for code-table lints.
    pub written: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Define {
    pub name: String,
    pub description: Option<String>,
    pub ty: Type,
    pub body: DefineBody,
    pub file: FileId,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Debug, Clone)]
pub enum DefineBody {
    Condition(Expr),
    /// A named value, such as `define advanced_age = 78.5 years`; used where it is named.
    Value(Num),
    /// Another name for a fact, possibly converted (`define age_in_days = age as days`).
    Alias {
        fact: FactId,
        scale: Num,
    },
    /// The difference of two facts of one kind (`define age = service_date - birth_date`):
    /// compared like a fact where it is named, as `left - right`.
    Difference {
        left: FactId,
        right: FactId,
    },
    /// The body had errors.
    Invalid,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    /// A condition that had errors, which the checker reported. A checked program without
    /// errors ([`ValidProgram`]) has none.
    Error,
    Const(bool),
    /// A `bool` fact is true.
    Fact(FactId),
    Define(DefineId),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// `fact op value`, the value in the fact's own unit.
    Compare {
        fact: FactId,
        op: CmpOp,
        value: Num,
    },
    /// An enum fact's value is one of these (indices into its enum type, sorted).
    EnumIn {
        fact: FactId,
        values: Vec<u32>,
    },
    /// A single-code fact is in the set.
    CodeIn {
        fact: FactId,
        set: CodeSetId,
    },
    /// A code-set fact has any, all or none of the set's codes.
    Has {
        fact: FactId,
        quantifier: Quantifier,
        set: CodeSetId,
    },
    Count {
        kind: CountKind,
        k: u32,
        items: Vec<Expr>,
    },
    /// `count(list where filter) op value`: how many items of a list fact meet the filter (a
    /// condition over the record's fields), compared with a whole number. Without a filter,
    /// every item counts.
    ListCount {
        list: FactId,
        filter: Option<Box<Expr>>,
        op: CmpOp,
        value: Num,
    },
    /// Inside a count's condition: a date field within `amount` days (or calendar months)
    /// before the date fact `reference`, both ends included.
    Window {
        field: FactId,
        reference: FactId,
        amount: u32,
        months: bool,
    },
    /// Inside a count's condition: a field compared with a fact of the same type (an enum's
    /// values by name).
    FieldIs {
        field: FactId,
        op: CmpOp,
        fact: FactId,
    },
    /// Two facts of one kind compared, or their difference compared with a value.
    Relation(Relation),
}

/// `left - right OP value`, each fact counted in the base unit of its kind ([`base_scale`]:
/// days for dates and days or weeks, months for months or years) and the value too. `a <= b`
/// is `a - b <= 0`. The checker puts the fact with the smaller id on the left, so one pair of
/// facts is one term wherever it is compared.
///
/// With `calendar`, the facts are dates and the difference is the calendar months completed
/// from `right` to `left`, as an age is counted (negative when `left` is earlier): not a
/// number of days, so not linear in the dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relation {
    pub left: FactId,
    pub right: FactId,
    pub op: CmpOp,
    pub value: Num,
    pub calendar: bool,
}

/// The difference a relation compares, as one value: its two facts and how it is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    pub left: FactId,
    pub right: FactId,
    pub calendar: bool,
}

impl Relation {
    pub fn term(&self) -> Term {
        Term {
            left: self.left,
            right: self.right,
            calendar: self.calendar,
        }
    }

    /// Whether it holds for the facts' values (each in its fact's own unit), of these types.
    pub fn holds(&self, left: (Num, Type), right: (Num, Type)) -> Option<bool> {
        let difference = if self.calendar {
            let (l, r) = (Date::from_num(left.0)?, Date::from_num(right.0)?);
            Num::from(r.months_until(l))
        } else {
            let l = left.0.checked_mul(base_scale(left.1))?;
            let r = right.0.checked_mul(base_scale(right.1))?;
            l.checked_sub(r)?
        };
        Some(match self.op {
            CmpOp::Eq => difference == self.value,
            CmpOp::Ne => difference != self.value,
            CmpOp::Lt => difference < self.value,
            CmpOp::Le => difference <= self.value,
            CmpOp::Gt => difference > self.value,
            CmpOp::Ge => difference >= self.value,
        })
    }
}

/// The type a difference of two facts of this type is written in: days between dates, a
/// duration in the smallest unit of its family, else the facts' own type.
pub fn difference_type(ty: Type) -> Type {
    match ty {
        Type::Date => Type::Quantity(crate::types::Unit::Day),
        Type::Quantity(u) => match u.family() {
            crate::types::Family::DayBased => Type::Quantity(crate::types::Unit::Day),
            crate::types::Family::MonthBased => Type::Quantity(crate::types::Unit::Month),
            crate::types::Family::Percent => ty,
            // Counted in the dimension's base ([`crate::ir::base_scale`]): shown in the unit
            // whose factor is 1 (`g` for masses); the table has one for each dimension it has.
            crate::types::Family::Measure(dim) => medpol_artifact::ucum::Ucum::codes()
                .filter_map(medpol_artifact::ucum::Ucum::parse)
                .find(|u| u.dim() == dim && u.factor() == crate::types::Num::from_int(1))
                .map_or(ty, |u| Type::Quantity(crate::types::Unit::Ucum(u))),
        },
        _ => ty,
    }
}

/// What one of a fact's own units is in the base unit of its kind: 7 for weeks (days), 12 for
/// years (months), else 1. Facts related to each other are compared in it.
pub fn base_scale(ty: Type) -> Num {
    match ty {
        // A measurement: in its dimension's base (kg are 1000 g), as the unit table gives it.
        Type::Quantity(crate::types::Unit::Ucum(u)) => u.factor(),
        Type::Quantity(u) => {
            let base = match u.family() {
                crate::types::Family::DayBased => crate::types::Unit::Day,
                crate::types::Family::MonthBased => crate::types::Unit::Month,
                crate::types::Family::Percent | crate::types::Family::Measure(_) => {
                    crate::types::Unit::Percent
                }
            };
            u.exact_factor(base).unwrap_or(Num::from_int(1))
        }
        _ => Num::from_int(1),
    }
}

impl Expr {
    /// The expressions directly inside this one.
    pub fn children(&self) -> &[Expr] {
        match &self.kind {
            ExprKind::Not(e) => std::slice::from_ref(e),
            ExprKind::And(es) | ExprKind::Or(es) | ExprKind::Count { items: es, .. } => es,
            _ => &[],
        }
    }

    /// This expression and every expression inside it, in reading order; definitions are
    /// not followed (see [`Program::walk`]). With an explicit stack: chains of `not` are
    /// unbounded in the grammar.
    pub fn walk(&self) -> Walk<'_> {
        Walk {
            program: None,
            stack: vec![self],
            seen: std::collections::HashSet::new(),
        }
    }

    /// Every fact this expression tests directly: its one fact, or a relation's two.
    pub fn facts_tested(&self) -> impl Iterator<Item = FactId> {
        let (one, two) = match &self.kind {
            ExprKind::Relation(r) => (Some(r.left), Some(r.right)),
            _ => (self.fact(), None),
        };
        one.into_iter().chain(two)
    }

    /// The expression's meaning as text, without its spans: two conditions written alike
    /// have the same key (so `count(sessions where kind == therapeutic)` written twice is one
    /// count). Recursion follows the source's nesting, which the parser bounds.
    pub fn key(&self) -> String {
        let mut out = String::new();
        self.write_key(&mut out);
        out
    }

    fn write_key(&self, out: &mut String) {
        use std::fmt::Write;
        let list = |out: &mut String, es: &[Expr]| {
            out.push('(');
            for e in es {
                e.write_key(out);
                out.push(',');
            }
            out.push(')');
        };
        // Writing to a `String` cannot fail.
        let _ = match &self.kind {
            ExprKind::Error => write!(out, "error"),
            ExprKind::Const(b) => write!(out, "{b}"),
            ExprKind::Fact(f) => write!(out, "f{}", f.0),
            ExprKind::Define(d) => write!(out, "d{}", d.0),
            ExprKind::Not(e) => {
                out.push_str("not");
                list(out, std::slice::from_ref(e));
                Ok(())
            }
            ExprKind::And(es) => {
                out.push_str("and");
                list(out, es);
                Ok(())
            }
            ExprKind::Or(es) => {
                out.push_str("or");
                list(out, es);
                Ok(())
            }
            ExprKind::Compare { fact, op, value } => {
                write!(out, "f{}{}{value}", fact.0, op.as_str())
            }
            ExprKind::EnumIn { fact, values } => write!(out, "f{} in {values:?}", fact.0),
            ExprKind::CodeIn { fact, set } => write!(out, "f{} in s{}", fact.0, set.0),
            ExprKind::Has {
                fact,
                quantifier,
                set,
            } => write!(out, "f{} has {} s{}", fact.0, quantifier.as_str(), set.0),
            ExprKind::Count { kind, k, items } => {
                let _ = write!(out, "{} {k} of", kind.as_str());
                list(out, items);
                Ok(())
            }
            ExprKind::ListCount {
                list: l,
                filter,
                op,
                value,
            } => {
                let _ = write!(out, "count f{}", l.0);
                list(
                    out,
                    filter.as_deref().map(std::slice::from_ref).unwrap_or(&[]),
                );
                write!(out, "{}{value}", op.as_str())
            }
            ExprKind::Window {
                field,
                reference,
                amount,
                months,
            } => write!(
                out,
                "f{} within {amount}{} before f{}",
                field.0,
                if *months { "m" } else { "d" },
                reference.0
            ),
            ExprKind::FieldIs { field, op, fact } => {
                write!(out, "f{}{}f{}", field.0, op.as_str(), fact.0)
            }
            ExprKind::Relation(r) => write!(
                out,
                "f{}-f{}{}{}{}",
                r.left.0,
                r.right.0,
                if r.calendar { "m" } else { "" },
                r.op.as_str(),
                r.value
            ),
        };
    }

    /// The fact this expression tests directly, when it is a test of one fact.
    pub fn fact(&self) -> Option<FactId> {
        match &self.kind {
            ExprKind::Fact(id)
            | ExprKind::ListCount { list: id, .. }
            | ExprKind::Compare { fact: id, .. }
            | ExprKind::EnumIn { fact: id, .. }
            | ExprKind::CodeIn { fact: id, .. }
            | ExprKind::Has { fact: id, .. } => Some(*id),
            _ => None,
        }
    }

    /// Calls `f` on every fact this expression reads directly (not through defines).
    pub fn for_each_fact(&self, f: &mut impl FnMut(FactId, Span)) {
        for e in self.walk() {
            for id in e.facts_tested() {
                f(id, e.span);
            }
        }
    }

    /// Calls `f` on every define this expression names directly.
    pub fn for_each_define(&self, f: &mut impl FnMut(DefineId, Span)) {
        for e in self.walk() {
            if let ExprKind::Define(id) = e.kind {
                f(id, e.span);
            }
        }
    }
}

/// What tells one count of a list from another: the list and the key of its filter (see
/// [`Expr::key`]).
pub fn count_key(list: FactId, filter: Option<&Expr>) -> String {
    format!("{}:{}", list.0, filter.map(Expr::key).unwrap_or_default())
}

/// Expressions in reading order: see [`Expr::walk`] and [`Program::walk`].
pub struct Walk<'a> {
    /// Where definitions are followed from, when they are.
    program: Option<&'a Program>,
    stack: Vec<&'a Expr>,
    seen: std::collections::HashSet<DefineId>,
}

impl<'a> Iterator for Walk<'a> {
    type Item = &'a Expr;

    fn next(&mut self) -> Option<&'a Expr> {
        let e = self.stack.pop()?;
        self.stack.extend(e.children().iter().rev());
        if let (ExprKind::Define(d), Some(program)) = (&e.kind, self.program)
            && self.seen.insert(*d)
            && let Some(DefineBody::Condition(body)) = program.define(*d).map(|x| &x.body)
        {
            self.stack.push(body);
        }
        Some(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitPolicy {
    /// Rules must not overlap.
    Unique,
    /// The first matching rule wins.
    First,
    /// Rules may overlap when they agree on the outcome.
    Any,
}

impl HitPolicy {
    pub fn parse(text: &str) -> Option<HitPolicy> {
        Some(match text {
            "unique" => HitPolicy::Unique,
            "first" => HitPolicy::First,
            "any" => HitPolicy::Any,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            HitPolicy::Unique => "unique",
            HitPolicy::First => "first",
            HitPolicy::Any => "any",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub name: String,
    /// `None` when its file declares no policy (reported by the checker).
    pub policy: Option<PolicyId>,
    pub hit: HitPolicy,
    pub description: Option<String>,
    pub outcomes: Vec<Outcome>,
    /// The facts the decision declares it reads, when it lists them.
    pub inputs: Option<Vec<FactId>>,
    pub rules: Vec<Rule>,
    pub otherwise: Option<Otherwise>,
    pub file: FileId,
    pub span: Span,
    pub name_span: Span,
}

impl Decision {
    pub fn outcome(&self, id: OutcomeId) -> Option<&Outcome> {
        self.outcomes.get(id.index())
    }

    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(id.index())
    }

    /// The rules with their ids, in order.
    pub fn rules_with_ids(&self) -> impl Iterator<Item = (RuleId, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .map(|(i, r)| (RuleId(i as u32), r))
    }

    /// The outcome a rule gives.
    pub fn outcome_of(&self, rule: &Rule) -> Option<&Outcome> {
        rule.outcome.and_then(|o| self.outcome(o))
    }

    /// The name of an outcome a rule, `otherwise` or test gives, in a valid model (where
    /// every one is resolved).
    pub fn outcome_name(&self, id: Option<OutcomeId>) -> &str {
        id.and_then(|o| self.outcome(o))
            .map_or_else(|| lost_name("an outcome"), |o| o.name.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub description: Option<String>,
    pub condition: Expr,
    /// `None` when it names an outcome the decision does not declare (reported by the
    /// checker).
    pub outcome: Option<OutcomeId>,
    pub span: Span,
    pub name_span: Span,
    pub outcome_span: Span,
}

#[derive(Debug, Clone)]
pub struct Otherwise {
    /// `None` when it names an outcome the decision does not declare (reported by the
    /// checker).
    pub outcome: Option<OutcomeId>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub meta: Metadata,
    pub file: FileId,
    pub decisions: Vec<DecisionId>,
    pub tests: Vec<TestId>,
    /// Constraints on its patients: those of its file and of the files it imports.
    pub constraints: Vec<ConstraintId>,
    pub span: Span,
}

/// A condition every patient meets, such as "a prophylactic procedure is never for an acute
/// fracture": the analysis considers only the patients that meet all of a policy's
/// constraints.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub name: String,
    pub description: Option<String>,
    pub condition: Expr,
    pub file: FileId,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub title: String,
    pub version: String,
    pub effective: Option<Date>,
    pub ends: Option<Date>,
    pub description: Option<String>,
    pub references: Vec<String>,
    pub related: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Test {
    pub name: String,
    /// `None` when its file declares no policy (reported by the checker).
    pub policy: Option<PolicyId>,
    pub given: Vec<Given>,
    pub expects: Vec<Expect>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Given {
    pub fact: FactId,
    pub value: Value,
    pub span: Span,
}

/// A fact's value in a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    /// In the fact's own unit.
    Num(Num),
    Enum(u32),
    Code(String),
    Codes(Vec<String>),
    /// The items of a list fact, in order.
    List(Vec<Item>),
}

/// One item of a list: the values of its record's fields (by the fields' fact ids); a field
/// that is not in the map is missing.
pub type Item = std::collections::BTreeMap<FactId, Value>;

#[derive(Debug, Clone)]
pub struct Expect {
    pub decision: DecisionId,
    pub outcome: OutcomeId,
    pub span: Span,
}
