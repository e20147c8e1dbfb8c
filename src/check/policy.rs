//! Policy blocks, decisions and tests.

use rustc_hash::FxHashMap as HashMap;

use super::{Checker, Symbol, names};
use crate::ast;
use crate::codes::{CodeForm, System};
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;
use crate::source::{FileId, Span};
use crate::types::{Date, Type, Unit};

const META_KEYS: &[&str] = &[
    "title",
    "version",
    "effective",
    "ends",
    "description",
    "reference",
    "related",
];

impl<'a> Checker<'a> {
    pub(super) fn check_policies(&mut self) {
        let files = self.files;
        self.assign_constraints();
        // Decisions are met in the order they were declared, so their ids count up.
        let mut next_decision = 0u32;
        for file in files {
            let policy = self.scope(file.id).and_then(|s| s.policy);
            for decl in &file.decls {
                match decl {
                    ast::Decl::Policy(p) => {
                        if let Some(id) = policy
                            && self
                                .program
                                .policies
                                .get(id.index())
                                .is_some_and(|pol| pol.span == p.span)
                        {
                            self.metadata(id, p);
                        }
                    }
                    ast::Decl::Decision(d) => {
                        self.decision(DecisionId(next_decision), file.id, policy, d);
                        next_decision += 1;
                    }
                    ast::Decl::Test(t) => self.test(file.id, policy, t),
                    _ => {}
                }
            }
        }
    }

    /// A policy's constraints: those declared in its file and in the files it imports.
    fn assign_constraints(&mut self) {
        let files = self.files;
        for file in files {
            let Some(policy) = self.scope(file.id).and_then(|s| s.policy) else {
                continue;
            };
            let mut sources = vec![file.id];
            sources.extend(
                file.imports()
                    .filter_map(|i| self.import_map.get(&i.path.span).copied()),
            );
            let ids: Vec<ConstraintId> = self
                .program
                .constraints
                .iter()
                .enumerate()
                .filter(|(_, c)| sources.contains(&c.file))
                .map(|(i, _)| ConstraintId(i as u32))
                .collect();
            if let Some(p) = self.program.policies.get_mut(policy.index()) {
                p.constraints = ids;
            } else {
                self.lost("policy", policy.index());
            }
        }
    }

    fn needs_policy(&mut self, what: &str, span: Span) {
        self.report(
            Diagnostic::new(
                Code::MisplacedDeclaration,
                format!("{what} outside a policy: this file has no `policy` block"),
            )
            .primary(span, format!("{what} without a policy"))
            .help(
                "add a `policy \"ID\" { ... }` block to this file, or move this into a policy file",
            ),
        );
    }

    fn metadata(&mut self, id: PolicyId, p: &ast::PolicyDecl) {
        let mut meta = Metadata::default();
        let mut seen: HashMap<&str, Span> = HashMap::default();
        if p.id.value.trim().is_empty() {
            self.report(
                Diagnostic::new(Code::InvalidMetadata, "the policy id is empty")
                    .primary(p.id.span, "empty id")
                    .help("give the policy its published number, such as `\"bcbsma-484\"`"),
            );
        }
        let mut effective_span = None;
        let mut ends_span = None;
        // Entries an unknown (misspelt) entry probably meant: not reported missing as well.
        let mut meant: Vec<&str> = Vec::new();
        for entry in &p.entries {
            let key = entry.key.name.as_str();
            let Some(&known) = META_KEYS.iter().find(|k| **k == key) else {
                let mut d = Diagnostic::new(
                    Code::InvalidMetadata,
                    format!("unknown policy entry `{}`", shown(key)),
                )
                .primary(entry.key.span, "not a policy entry");
                let suggestion = names::suggest(key, META_KEYS.iter().copied());
                meant.extend(suggestion);
                d = match suggestion {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!(
                        "the entries are {}",
                        META_KEYS
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                self.report(d);
                continue;
            };
            let repeatable = matches!(known, "reference" | "related");
            if !repeatable {
                if let Some(first) = seen.get(known) {
                    self.report(
                        Diagnostic::new(Code::InvalidMetadata, format!("`{known}` is given twice"))
                            .primary(entry.key.span, "given again")
                            .secondary(*first, "first given here")
                            .help("keep one of them"),
                    );
                    continue;
                }
                seen.insert(known, entry.key.span);
            }
            match known {
                "effective" | "ends" => {
                    let Some(date) = self.date_value(&entry.value) else {
                        continue;
                    };
                    if known == "effective" {
                        meta.effective = Some(date);
                        effective_span = Some(entry.value.span());
                    } else {
                        meta.ends = Some(date);
                        ends_span = Some(entry.value.span());
                    }
                }
                "version" => match &entry.value {
                    ast::MetaValue::Str(s) => meta.version = s.value.clone(),
                    ast::MetaValue::Number(n) => meta.version = n.text.clone(),
                    ast::MetaValue::Date { text, .. } => meta.version = text.clone(),
                },
                _ => {
                    let ast::MetaValue::Str(s) = &entry.value else {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                format!("expected a string for `{known}`"),
                            )
                            .primary(entry.value.span(), "not a string")
                            .help(format!("write `{known} \"...\"`")),
                        );
                        continue;
                    };
                    let v = s.value.clone();
                    match known {
                        "title" => meta.title = v,
                        "description" => meta.description = Some(v),
                        "reference" => meta.references.push(v),
                        _ => meta.related.push(v),
                    }
                }
            }
        }
        if let (Some(eff), Some(end), Some(eff_at), Some(end_at)) =
            (meta.effective, meta.ends, effective_span, ends_span)
            && end <= eff
        {
            self.report(
                Diagnostic::new(
                    Code::InvalidMetadata,
                    format!("the policy ends on {end}, not after it takes effect on {eff}"),
                )
                .primary(end_at, "end date")
                .secondary(eff_at, "effective date")
                .help("the end date must come after the effective date"),
            );
        }
        for required in ["title", "version", "effective"] {
            if !seen.contains_key(required) && !meant.contains(&required) {
                let example = match required {
                    "title" => "title \"Percutaneous Vertebroplasty and Sacroplasty\"",
                    "version" => "version \"2020.06\"",
                    _ => "effective 2020-06-01",
                };
                self.report(
                    Diagnostic::new(
                        Code::InvalidMetadata,
                        format!("the policy block has no `{required}`"),
                    )
                    .primary(p.id.span, format!("`{required}` missing"))
                    .help(format!("add `{example}`")),
                );
            }
        }
        if let Some(policy) = self.program.policies.get_mut(id.index()) {
            policy.meta = meta;
        } else {
            self.lost("policy", id.index());
        }
    }

    fn date_value(&mut self, value: &ast::MetaValue) -> Option<Date> {
        match value {
            ast::MetaValue::Date { text, span } => self.date(text, *span),
            other => {
                self.report(
                    Diagnostic::new(Code::TypeMismatch, "expected a date")
                        .primary(other.span(), "not a date")
                        .help("write the date as `YYYY-MM-DD`, without quotes"),
                );
                None
            }
        }
    }

    fn decision(
        &mut self,
        id: DecisionId,
        file: FileId,
        policy: Option<PolicyId>,
        d: &ast::DecisionDecl,
    ) {
        match policy {
            Some(p) => {
                if let Some(pol) = self.program.policies.get_mut(p.index()) {
                    pol.decisions.push(id);
                } else {
                    self.lost("policy", p.index());
                }
            }
            None => self.needs_policy("a decision", d.name.span),
        }
        let hit = match crate::ir::HitPolicy::parse(&d.hit.name) {
            Some(h) => h,
            None => {
                let mut diag = Diagnostic::new(
                    Code::UnknownHitPolicy,
                    format!("unknown hit policy `{}`", shown(&d.hit.name)),
                )
                .primary(d.hit.span, "not a hit policy");
                diag = match names::suggest(&d.hit.name, ["unique", "first", "any"]) {
                    Some(s) => diag.help(format!("did you mean `{s}`?")),
                    None => diag.help(
                        "`unique`: rules must not overlap; `first`: the first rule that matches decides; `any`: overlapping rules must agree",
                    ),
                };
                self.report(diag);
                HitPolicy::First
            }
        };
        // Outcomes first: rules before the `outcomes` clause may name them.
        let mut outcomes: Vec<Outcome> = Vec::new();
        let mut outcomes_span = None;
        for item in &d.items {
            if let ast::DecisionItem::Outcomes { names, span } = item {
                if let Some(first) = outcomes_span {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidDecision,
                            "a decision has one `outcomes` list",
                        )
                        .primary(*span, "second list")
                        .secondary(first, "first list")
                        .help("put every outcome in one list"),
                    );
                    continue;
                }
                outcomes_span = Some(*span);
                for n in names {
                    if let Some(first) = outcomes.iter().find(|o| o.name == n.name) {
                        let first = first.span;
                        self.duplicate("outcome", &n.name, n.span, first);
                        continue;
                    }
                    self.declaration(
                        n.span,
                        Symbol::Outcome(id, OutcomeId(outcomes.len() as u32)),
                    );
                    outcomes.push(Outcome {
                        name: n.name.clone(),
                        span: n.span,
                    });
                }
            }
        }
        if outcomes_span.is_none() {
            self.report(
                Diagnostic::new(
                    Code::InvalidDecision,
                    format!("decision `{}` declares no outcomes", shown(&d.name.name)),
                )
                .primary(d.name.span, "no `outcomes` list")
                .help("list the outcomes it can give, such as `outcomes { medically_necessary, investigational }`"),
            );
        }
        if let Some(dec) = self.program.decisions.get_mut(id.index()) {
            dec.hit = hit;
            dec.policy = policy;
            dec.outcomes = outcomes;
        } else {
            self.lost("decision", id.index());
        }
        let mut rules: Vec<Rule> = Vec::new();
        let mut otherwise: Option<Otherwise> = None;
        let mut inputs: Option<(Vec<(FactId, Span)>, Span)> = None;
        let mut last_rule_span = None;
        for item in &d.items {
            match item {
                ast::DecisionItem::Outcomes { .. } => {}
                ast::DecisionItem::Inputs { names, span } => {
                    if let Some((_, first)) = &inputs {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidDecision,
                                "a decision has one `inputs` list",
                            )
                            .primary(*span, "second list")
                            .secondary(*first, "first list")
                            .help("put every input in one list"),
                        );
                        continue;
                    }
                    let list = self.inputs(file, names);
                    inputs = Some((list, *span));
                }
                ast::DecisionItem::Rule(r) => {
                    if let Some(o) = &otherwise {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidDecision,
                                "`otherwise` must come after the last rule",
                            )
                            .primary(r.name.span, "rule after `otherwise`")
                            .secondary(o.span, "`otherwise` is here")
                            .help("move `otherwise` to the end of the decision"),
                        );
                    }
                    last_rule_span = Some(r.span);
                    if let Some(first) = rules.iter().find(|x| x.name == r.name.name) {
                        let first = first.name_span;
                        self.duplicate("rule", &r.name.name, r.name.span, first);
                    }
                    self.declaration(r.name.span, Symbol::Rule(id, RuleId(rules.len() as u32)));
                    let condition = self.condition(file, &r.condition);
                    let outcome = self.outcome_ref(id, &r.outcome);
                    rules.push(Rule {
                        name: r.name.name.clone(),
                        description: r.description.as_ref().map(|s| s.value.clone()),
                        condition,
                        outcome,
                        span: r.span,
                        name_span: r.name.span,
                        outcome_span: r.outcome.span,
                    });
                }
                ast::DecisionItem::Otherwise { outcome, span } => {
                    if let Some(first) = &otherwise {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidDecision,
                                "a decision has one `otherwise`",
                            )
                            .primary(*span, "second `otherwise`")
                            .secondary(first.span, "first `otherwise`")
                            .help("keep one default outcome"),
                        );
                        continue;
                    }
                    let o = self.outcome_ref(id, outcome);
                    otherwise = Some(Otherwise {
                        outcome: o,
                        span: *span,
                    });
                }
            }
        }
        if rules.is_empty() && last_rule_span.is_none() {
            self.report(
                Diagnostic::new(
                    Code::InvalidDecision,
                    format!("decision `{}` has no rules", shown(&d.name.name)),
                )
                .primary(d.name.span, "no rules")
                .help("add `rule NAME when CONDITION then OUTCOME`"),
            );
        }
        if let Some((list, _)) = &inputs {
            self.check_inputs(&d.name.name, list, &rules);
        }
        if let Some(dec) = self.program.decisions.get_mut(id.index()) {
            dec.rules = rules;
            dec.otherwise = otherwise;
            dec.inputs = inputs.map(|(l, _)| l.into_iter().map(|(f, _)| f).collect());
        } else {
            self.lost("decision", id.index());
        }
    }

    fn inputs(&mut self, file: FileId, names: &[ast::Ident]) -> Vec<(FactId, Span)> {
        let mut list: Vec<(FactId, Span)> = Vec::new();
        for n in names {
            match self.resolve_name(file, n) {
                Some(Symbol::Fact(f)) => {
                    self.reference(n.span, Symbol::Fact(f));
                    if let Some((_, first)) = list.iter().find(|(x, _)| *x == f) {
                        let first = *first;
                        self.duplicate("input", &n.name, n.span, first);
                        continue;
                    }
                    list.push((f, n.span));
                }
                Some(other) => {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            format!(
                                "inputs are facts; `{}` is a {}",
                                shown(&n.name),
                                other.kind()
                            ),
                        )
                        .primary(n.span, "not a fact")
                        .help("list the facts the decision's rules read"),
                    );
                }
                None => self.unknown_name(file, n, "fact", |s| matches!(s, Symbol::Fact(_))),
            }
        }
        for (f, _) in &list {
            self.uses.listed_inputs.insert(*f);
        }
        list
    }

    /// Every fact a rule reads, also through defines, must be a listed input, and every input
    /// should be read.
    fn check_inputs(&mut self, decision: &str, inputs: &[(FactId, Span)], rules: &[Rule]) {
        let mut all_reads = Vec::new();
        for rule in rules {
            let mut reads = Vec::new();
            self.reads_of(&rule.condition, &mut reads);
            all_reads.extend(reads.iter().copied());
            for fact in reads {
                if inputs.iter().any(|(f, _)| *f == fact) {
                    continue;
                }
                let name = self
                    .program
                    .fact(fact)
                    .map(|f| f.name.clone())
                    .unwrap_or_default();
                self.report(
                    Diagnostic::new(
                        Code::UndeclaredInput,
                        format!(
                            "rule `{}` reads `{}`, which is not among the decision's inputs",
                            shown(&rule.name),
                            shown(&name)
                        ),
                    )
                    .primary(rule.condition.span, format!("reads `{}`", shown(&name)))
                    .help(format!("add `{}` to the decision's `inputs`", shown(&name))),
                );
            }
        }
        for (fact, span) in inputs {
            if all_reads.contains(fact) {
                continue;
            }
            let name = self
                .program
                .fact(*fact)
                .map(|f| f.name.clone())
                .unwrap_or_default();
            self.report(
                Diagnostic::new(
                    Code::UnreadInput,
                    format!(
                        "decision `{}` lists `{}` as an input, but none of its rules reads it",
                        shown(decision),
                        shown(&name)
                    ),
                )
                .primary(*span, "never read")
                .help("remove it from `inputs`, or add the criterion that reads it"),
            );
        }
    }

    fn outcome_ref(&mut self, decision: DecisionId, name: &ast::Ident) -> Option<OutcomeId> {
        let (outcomes, decision_name, decl_span) = {
            let d = self.program.decision(decision)?;
            let names: Vec<String> = d.outcomes.iter().map(|o| o.name.clone()).collect();
            (names, d.name.clone(), d.name_span)
        };
        if let Some(i) = outcomes.iter().position(|o| *o == name.name) {
            let i = OutcomeId(i as u32);
            self.reference(name.span, Symbol::Outcome(decision, i));
            return Some(i);
        }
        if outcomes.is_empty() {
            // Already reported: the decision declares no outcomes at all.
            return None;
        }
        let list = outcomes
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut d = Diagnostic::new(
            Code::UndeclaredOutcome,
            format!(
                "`{}` is not an outcome of decision `{}`",
                shown(&name.name),
                shown(&decision_name)
            ),
        )
        .primary(name.span, "undeclared outcome")
        .secondary(decl_span, format!("`{decision_name}` is declared here"));
        d = match names::suggest(&name.name, outcomes.iter().map(String::as_str)) {
            Some(s) => d.help(format!("did you mean `{s}`? the outcomes are {list}")),
            None => d.help(format!(
                "the outcomes are {list}; add it to `outcomes` if it is new"
            )),
        };
        self.report(d);
        None
    }

    fn test(&mut self, file: FileId, policy: Option<PolicyId>, t: &ast::TestDecl) {
        let id = TestId(self.program.tests.len() as u32);
        match policy {
            Some(p) => {
                if let Some(pol) = self.program.policies.get_mut(p.index()) {
                    pol.tests.push(id);
                } else {
                    self.lost("policy", p.index());
                }
            }
            None => self.needs_policy("a test", t.name.span),
        }
        let mut given: Vec<Given> = Vec::new();
        let mut expects: Vec<Expect> = Vec::new();
        for item in &t.items {
            match item {
                ast::TestItem::Given { assignments, .. } => {
                    for a in assignments {
                        self.given(file, a, &mut given);
                    }
                }
                ast::TestItem::Expect {
                    decision,
                    outcome,
                    span,
                } => self.expect(file, decision, outcome, *span, &mut expects),
            }
        }
        if expects.is_empty()
            && !t
                .items
                .iter()
                .any(|i| matches!(i, ast::TestItem::Expect { .. }))
        {
            self.report(
                Diagnostic::new(
                    Code::EmptyTest,
                    format!("test \"{}\" expects nothing", shown(&t.name.value)),
                )
                .primary(t.name.span, "no `expect`")
                .help("say what the decision must give: `expect DECISION = OUTCOME`"),
            );
        }
        self.program.tests.push(Test {
            name: t.name.value.clone(),
            policy,
            given,
            expects,
            span: t.span,
        });
    }

    fn expect(
        &mut self,
        file: FileId,
        decision: &ast::Ident,
        outcome: &ast::Ident,
        span: Span,
        expects: &mut Vec<Expect>,
    ) {
        let entry = self
            .scope(file)
            .and_then(|s| s.names.get(&decision.name))
            .map(|e| e.symbol);
        let id = match entry {
            Some(Symbol::Decision(id)) => {
                self.reference(decision.span, Symbol::Decision(id));
                id
            }
            Some(other) => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "`{}` is a {}, not a decision",
                            shown(&decision.name),
                            other.kind()
                        ),
                    )
                    .primary(decision.span, "not a decision")
                    .help("`expect` names a decision of this policy"),
                );
                return;
            }
            None => {
                self.unknown_name(file, decision, "decision", |s| {
                    matches!(s, Symbol::Decision(_))
                });
                return;
            }
        };
        if let Some(first) = expects.iter().find(|e| e.decision == id) {
            let first = first.span;
            self.duplicate("expectation for", &decision.name, span, first);
            return;
        }
        if let Some(o) = self.outcome_ref(id, outcome) {
            expects.push(Expect {
                decision: id,
                outcome: o,
                span,
            });
        }
    }

    fn given(&mut self, file: FileId, a: &ast::Assignment, given: &mut Vec<Given>) {
        let fact = match self.resolve_name(file, &a.fact) {
            Some(Symbol::Fact(f)) => {
                self.reference(a.fact.span, Symbol::Fact(f));
                f
            }
            Some(other) => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "`{}` is a {}; a test gives values to facts",
                            shown(&a.fact.name),
                            other.kind()
                        ),
                    )
                    .primary(a.fact.span, "not a fact")
                    .help("give the facts it is made from instead"),
                );
                return;
            }
            None => {
                self.unknown_name(file, &a.fact, "fact", |s| matches!(s, Symbol::Fact(_)));
                return;
            }
        };
        if let Some(first) = given.iter().find(|g| g.fact == fact) {
            let first = first.span;
            self.duplicate("value for", &a.fact.name, a.span, first);
            return;
        }
        let Some(f) = self.program.fact(fact) else {
            return;
        };
        let (ty, name, range) = (f.ty, f.name.clone(), f.range);
        if let Some(value) = self.value(ty, &name, &a.value)
            && self.in_range(&name, ty, range, &value, a.value.span())
        {
            given.push(Given {
                fact,
                value,
                span: a.span,
            });
        }
    }

    /// Reads a test value for a fact of type `ty`.
    pub(super) fn value(&mut self, ty: Type, fact: &str, v: &ast::Value) -> Option<Value> {
        let mismatch = |c: &mut Self, found: &str| {
            c.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    format!(
                        "expected {} for `{}`, found {found}",
                        ty.describe(),
                        shown(fact)
                    ),
                )
                .primary(v.span(), format!("not {}", ty.describe()))
                .help(format!(
                    "`{}` is declared as `{}`",
                    shown(fact),
                    ty.syntax()
                )),
            );
            None
        };
        let found = match v {
            ast::Value::Quantity(q) => format!("`{} {}`", q.number.text, q.unit.name),
            ast::Value::Number(n) => format!("`{}`", shown(&n.text)),
            ast::Value::Set(_) => "a set".to_string(),
            ast::Value::Word { text, .. } => format!("`{}`", shown(text)),
            ast::Value::Date(d) => format!("`{}`", shown(&d.text)),
            ast::Value::List { .. } => "a list".to_string(),
        };
        match (ty, v) {
            (Type::Error, _) => None,
            (Type::List(record), ast::Value::List { items, .. }) => {
                self.list_value(record, fact, items)
            }
            (Type::Bool, ast::Value::Word { text, .. }) if text == "true" || text == "false" => {
                Some(Value::Bool(text == "true"))
            }
            (Type::Int, ast::Value::Number(n)) => {
                let value = self.number(n)?;
                if value.is_integer() && !n.text.contains('.') {
                    Some(Value::Num(value))
                } else {
                    mismatch(self, &found)
                }
            }
            (Type::Decimal, ast::Value::Number(n)) => self.number(n).map(Value::Num),
            (Type::Date, ast::Value::Date(d)) => {
                self.date(&d.text, d.span).map(|d| Value::Num(d.num()))
            }
            (Type::Quantity(u), ast::Value::Quantity(q)) => {
                let w = self.unit(&q.unit)?;
                let value = self.number(&q.number)?;
                match w.exact_factor(u) {
                    Some(f) => value.checked_mul(f).map(Value::Num),
                    None if super::units::different_dimensions(u, w) => {
                        let written = format!("{} {}", q.number.text, q.unit.name);
                        self.wrong_dimension((fact, u, None), (&written, w, q.span));
                        None
                    }
                    None => {
                        self.report(
                            Diagnostic::new(
                                Code::UnitMismatch,
                                format!(
                                    "`{}` is in {} but {found} is in {}, which do not convert exactly",
                                    shown(fact),
                                    u.name(),
                                    w.name()
                                ),
                            )
                            .primary(q.span, format!("in {}", w.name()))
                            .help(format!("give the value in {}", u.name())),
                        );
                        None
                    }
                }
            }
            (Type::Quantity(u), ast::Value::Number(n)) => {
                self.report(
                    Diagnostic::new(
                        Code::UnitMismatch,
                        format!(
                            "`{}` has no unit, but `{}` is {}",
                            shown(&n.text),
                            shown(fact),
                            ty.describe()
                        ),
                    )
                    .primary(n.span, "no unit")
                    .help(if u == Unit::Percent {
                        format!("write `{}%`", n.text)
                    } else {
                        format!("write `{} {}`", n.text, u.name())
                    }),
                );
                None
            }
            (Type::Enum(e), ast::Value::Word { text, span }) => {
                let values: Vec<String> = self
                    .program
                    .enum_type(e)
                    .map(|t| t.values.iter().map(|(n, _)| n.clone()).collect())
                    .unwrap_or_default();
                if let Some(i) = values.iter().position(|x| x == text) {
                    self.reference(*span, Symbol::EnumValue(e, i as u32));
                    return Some(Value::Enum(i as u32));
                }
                let list = values
                    .iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut d = Diagnostic::new(
                    Code::UnknownEnumValue,
                    format!("`{}` is not a value of `{}`", shown(text), shown(fact)),
                )
                .primary(*span, "unknown value");
                d = match names::suggest(text, values.iter().map(String::as_str)) {
                    Some(s) => d.help(format!("did you mean `{s}`? the values are {list}")),
                    None => d.help(format!("the values are {list}")),
                };
                self.report(d);
                None
            }
            (Type::Code(system), ast::Value::Word { text, span }) => {
                self.one_code(system, text, *span).map(Value::Code)
            }
            (Type::Code(system), ast::Value::Number(n)) => {
                self.one_code(system, &n.text, n.span).map(Value::Code)
            }
            (Type::CodeSet(system), ast::Value::Set(set)) => {
                let mut out = Vec::new();
                for item in &set.items {
                    if item.last.is_some() {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                "a patient's codes are listed one by one, not as a range",
                            )
                            .primary(item.span, "a range")
                            .help("list the codes the claim carries"),
                        );
                        continue;
                    }
                    if let Some(c) = self.one_code(system, &item.first.text, item.first.span) {
                        out.push(c);
                    }
                }
                out.sort();
                out.dedup();
                Some(Value::Codes(out))
            }
            _ => mismatch(self, &found),
        }
    }

    /// One concrete code in a test.
    fn one_code(&mut self, system: System, text: &str, span: Span) -> Option<String> {
        let word = ast::Word {
            text: text.to_string(),
            span,
        };
        match self.code_form(system, &word, super::codes::Near::NONE)? {
            CodeForm::Exact(c) => Some(c),
            CodeForm::Prefix(_) => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        format!("`{}` is a pattern, not a code", shown(text)),
                    )
                    .primary(span, "a pattern")
                    .help("a test gives the patient's actual codes"),
                );
                None
            }
        }
    }
}
