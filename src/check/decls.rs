//! Declarations, imports, fact types, and code sets and defines in dependency order.

use rustc_hash::FxHashMap as HashMap;

use super::codes::Near;
use super::{Checker, Entry, ImportUse, Scope, Symbol, names};
use crate::ast;
use crate::codes::{self, CodeForm, CodeItem, System};
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;
use crate::source::{FileId, Span};
use crate::types::{EnumId, Type, Unit};

/// A node of the definition graph: a code set or a define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Def {
    Set(CodeSetId),
    Define(DefineId),
}

impl<'a> Checker<'a> {
    pub(super) fn declare_all(&mut self) {
        let files = self.files;
        for file in files {
            let mut scope = Scope::default();
            for b in &file.broken {
                if let Some(n) = &b.name {
                    scope.broken.insert(n.clone());
                }
            }
            for decl in &file.decls {
                self.declare(file.id, &mut scope, decl);
            }
            self.scopes.insert(file.id, scope);
        }
        self.duplicate_policy_ids();
    }

    fn declare(&mut self, file: FileId, scope: &mut Scope, decl: &'a ast::Decl) {
        match decl {
            ast::Decl::Policy(p) => {
                if let Some(first) = scope.policy {
                    let first_span = self.program.policies.get(first.index()).map(|p| p.span);
                    let mut d = Diagnostic::new(
                        Code::MisplacedDeclaration,
                        "a file holds at most one `policy` block",
                    )
                    .primary(p.span, "second policy block")
                    .help("put each policy in its own file; shared definitions can be imported");
                    if let Some(s) = first_span {
                        d = d.secondary(s, "the file's policy");
                    }
                    self.report(d);
                    return;
                }
                let id = PolicyId(self.program.policies.len() as u32);
                self.program.policies.push(Policy {
                    id: p.id.value.clone(),
                    meta: Metadata::default(),
                    file,
                    decisions: Vec::new(),
                    tests: Vec::new(),
                    constraints: Vec::new(),
                    span: p.span,
                });
                self.declaration(p.id.span, Symbol::Policy(id));
                scope.policy = Some(id);
                self.codes
                    .policy_file(file, super::codes::effective_date(p), p.id.span);
            }
            ast::Decl::Fact(f) => {
                let id = FactId(self.program.facts.len() as u32);
                self.program.facts.push(Fact {
                    name: f.name.name.clone(),
                    ty: Type::Error,
                    description: f.description.as_ref().map(|d| d.value.clone()),
                    file,
                    span: f.span,
                    name_span: f.name.span,
                    range: None,
                    documented: f.documented,
                    record: None,
                    derived: None,
                });
                self.fact_decls.push(f);
                self.insert(scope, &f.name, Symbol::Fact(id));
            }
            ast::Decl::Codes(c) => {
                let id = CodeSetId(self.program.code_sets.len() as u32);
                self.program.code_sets.push(CodeSet {
                    name: Some(c.name.name.clone()),
                    system: System::Icd10Cm,
                    description: c.description.as_ref().map(|d| d.value.clone()),
                    expr: SetExpr::Items(Vec::new()),
                    span: c.span,
                    name_span: c.name.span,
                });
                self.set_decls.push(c);
                self.insert(scope, &c.name, Symbol::CodeSet(id));
            }
            ast::Decl::Define(d) => {
                let id = DefineId(self.program.defines.len() as u32);
                self.program.defines.push(Define {
                    name: d.name.name.clone(),
                    description: d.description.as_ref().map(|d| d.value.clone()),
                    ty: Type::Error,
                    body: DefineBody::Invalid,
                    file,
                    span: d.span,
                    name_span: d.name.span,
                });
                self.define_decls.push(d);
                self.insert(scope, &d.name, Symbol::Define(id));
            }
            ast::Decl::Record(r) => {
                let id = crate::types::RecordId(self.program.records.len() as u32);
                self.program.records.push(Record {
                    name: r.name.name.clone(),
                    description: r.description.as_ref().map(|d| d.value.clone()),
                    // Made by `resolve_records`, after the facts' types.
                    fields: Vec::new(),
                    file,
                    span: r.span,
                    name_span: r.name.span,
                });
                self.record_decls.push(r);
                self.insert(scope, &r.name, Symbol::Record(id));
            }
            ast::Decl::Decision(d) => {
                let id = DecisionId(self.program.decisions.len() as u32);
                self.program.decisions.push(Decision {
                    name: d.name.name.clone(),
                    policy: None,
                    hit: HitPolicy::First,
                    description: d.description.as_ref().map(|d| d.value.clone()),
                    outcomes: Vec::new(),
                    inputs: None,
                    rules: Vec::new(),
                    otherwise: None,
                    file,
                    span: d.span,
                    name_span: d.name.span,
                });
                self.insert(scope, &d.name, Symbol::Decision(id));
            }
            ast::Decl::Constraint(c) => {
                let id = ConstraintId(self.program.constraints.len() as u32);
                self.program.constraints.push(Constraint {
                    name: c.name.name.clone(),
                    description: c.description.as_ref().map(|d| d.value.clone()),
                    // Until `check_constraints` checks it.
                    condition: Expr {
                        kind: ExprKind::Error,
                        span: c.expr.span,
                    },
                    file,
                    span: c.span,
                    name_span: c.name.span,
                });
                self.constraint_decls.push(c);
                self.insert(scope, &c.name, Symbol::Constraint(id));
            }
            ast::Decl::Import(_) | ast::Decl::Test(_) => {}
        }
    }

    /// Adds a declared name to a scope, reporting a duplicate.
    fn insert(&mut self, scope: &mut Scope, name: &ast::Ident, symbol: Symbol) {
        self.declaration(name.span, symbol);
        self.predeclared(name);
        if let Some(first) = scope.names.get(&name.name) {
            let first = first.declared;
            self.duplicate(symbol.kind(), &name.name, name.span, first);
            self.uses.shadowed.insert(symbol);
            return;
        }
        scope.names.insert(
            name.name.clone(),
            Entry {
                symbol,
                declared: name.span,
                import: None,
            },
        );
    }

    fn duplicate_policy_ids(&mut self) {
        let mut seen: HashMap<String, Span> = HashMap::default();
        let mut dups = Vec::new();
        for p in &self.program.policies {
            match seen.get(&p.id) {
                Some(first) => dups.push((p.id.clone(), p.span, *first)),
                None => {
                    seen.insert(p.id.clone(), p.span);
                }
            }
        }
        for (id, second, first) in dups {
            self.duplicate("policy", &id, second, first);
        }
    }

    pub(super) fn import_all(&mut self) {
        let files = self.files;
        for file in files {
            for import in file.imports() {
                self.import(file.id, import);
            }
        }
    }

    fn import(&mut self, file: FileId, import: &'a ast::ImportDecl) {
        let Some(&target) = self.import_map.get(&import.path.span) else {
            // The loader has reported why; names from that file may still be used here.
            if let Some(scope) = self.scopes.get_mut(&file) {
                scope.incomplete = true;
            }
            return;
        };
        let target_file = self.file_of(target);
        let target_broken: Vec<String> = target_file
            .map(|f| f.broken.iter().filter_map(|b| b.name.clone()).collect())
            .unwrap_or_default();
        // Only the target's own facts, code sets and defines are shared.
        let shared: HashMap<String, Entry> = self
            .scope(target)
            .map(|s| {
                s.names
                    .iter()
                    .filter(|(_, e)| e.import.is_none())
                    .map(|(n, e)| (n.clone(), e.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let index = self.uses.imports.len();
        let mut brought = Vec::new();
        match &import.names {
            None => {
                for (name, entry) in &shared {
                    if matches!(
                        entry.symbol,
                        Symbol::Fact(_)
                            | Symbol::CodeSet(_)
                            | Symbol::Define(_)
                            | Symbol::Record(_)
                    ) {
                        brought.push((name.clone(), entry.clone(), import.path.span));
                    }
                }
                brought.sort_by(|a, b| a.0.cmp(&b.0));
            }
            Some(list) => {
                for ident in list {
                    match shared.get(&ident.name) {
                        Some(e)
                            if matches!(
                                e.symbol,
                                Symbol::Fact(_)
                                    | Symbol::CodeSet(_)
                                    | Symbol::Define(_)
                                    | Symbol::Record(_)
                            ) =>
                        {
                            self.reference(ident.span, e.symbol);
                            brought.push((ident.name.clone(), e.clone(), ident.span));
                        }
                        Some(e) => {
                            let d = Diagnostic::new(
                                Code::MisplacedDeclaration,
                                format!(
                                    "{} `{}` cannot be imported",
                                    e.symbol.kind(),
                                    shown(&ident.name)
                                ),
                            )
                            .primary(ident.span, "not importable")
                            .secondary(e.declared, "declared here")
                            .help("only facts, code sets and definitions are shared between files");
                            self.report(d);
                        }
                        None if target_broken.contains(&ident.name) => {}
                        None => {
                            let suggestion =
                                names::suggest(&ident.name, shared.keys().map(String::as_str));
                            let mut d = Diagnostic::new(
                                Code::UnknownName,
                                format!(
                                    "`{}` is not declared in `{}`",
                                    shown(&ident.name),
                                    shown(&import.path.value)
                                ),
                            )
                            .primary(ident.span, "not found in the imported file");
                            d = match suggestion {
                                Some(s) => d.help(format!("did you mean `{s}`?")),
                                None => d.help(
                                    "import one of the file's facts, code sets or definitions",
                                ),
                            };
                            self.report(d);
                        }
                    }
                }
            }
        }
        let Some(mut scope) = self.scopes.remove(&file) else {
            return;
        };
        scope.broken.extend(target_broken);
        let mut kept = Vec::new();
        for (name, entry, at) in brought {
            match scope.names.get(&name) {
                Some(existing) if existing.symbol == entry.symbol => {
                    // The same declaration again: harmless for a whole file, a slip when named.
                    if import.names.is_some()
                        && let Some(first) = existing.import.and_then(|i| self.uses.imports.get(i))
                    {
                        let first = first.span;
                        self.report(
                            Diagnostic::new(
                                Code::UnusedImport,
                                format!("`{}` is already imported", shown(&name)),
                            )
                            .primary(at, "imported again")
                            .secondary(first, "first imported here")
                            .help("remove the second import"),
                        );
                    }
                }
                Some(existing) => {
                    let first = existing.declared;
                    self.report(
                        Diagnostic::new(
                            Code::DuplicateDefinition,
                            format!(
                                "`{}` is declared twice: here and in `{}`",
                                shown(&name),
                                shown(&import.path.value)
                            ),
                        )
                        .primary(at, "imported here")
                        .secondary(first, "declared here")
                        .secondary(entry.declared, "and here, in the imported file")
                        .help("rename one of them, or import only the names you need with `import { ... } from`"),
                    );
                }
                None => {
                    kept.push((name.clone(), at));
                    scope.names.insert(
                        name,
                        Entry {
                            import: Some(index),
                            ..entry
                        },
                    );
                }
            }
        }
        self.scopes.insert(file, scope);
        self.uses.imports.push(ImportUse {
            names: kept,
            used: Default::default(),
            whole_file: import.names.is_none(),
            span: import.span,
            path: import.path.value.clone(),
        });
    }

    /// Checks each constraint's condition (after the definitions it may use).
    pub(super) fn check_constraints(&mut self) {
        let decls = self.constraint_decls.clone();
        for (i, decl) in decls.iter().enumerate() {
            let condition = self.condition(decl.span.file, &decl.expr);
            if let Some(c) = self.program.constraints.get_mut(i) {
                c.condition = condition;
            } else {
                self.lost("constraint", i);
            }
        }
    }

    pub(super) fn resolve_fact_types(&mut self) {
        let decls = self.fact_decls.clone();
        for (i, decl) in decls.iter().enumerate() {
            let ty = self.resolve_type(decl.span.file, &decl.ty);
            let range = decl.range.as_ref().and_then(|r| self.fact_range(ty, r));
            if let Some(fact) = self.program.facts.get_mut(i) {
                fact.ty = ty;
                fact.range = range;
            } else {
                self.lost("fact", i);
            }
        }
    }

    pub(super) fn resolve_type(&mut self, file: FileId, ty: &ast::TypeExpr) -> Type {
        match ty {
            ast::TypeExpr::Enum { values, .. } => {
                let id = EnumId(self.program.enums.len() as u32);
                let mut kept: Vec<(String, Span)> = Vec::new();
                for v in values {
                    if let Some((_, first)) = kept.iter().find(|(n, _)| *n == v.name) {
                        let first = *first;
                        self.duplicate("enum value", &v.name, v.span, first);
                        continue;
                    }
                    self.declaration(v.span, Symbol::EnumValue(id, kept.len() as u32));
                    kept.push((v.name.clone(), v.span));
                }
                self.program.enums.push(EnumType { values: kept });
                Type::Enum(id)
            }
            ast::TypeExpr::Named { name, arg, span } if name.name == "list" => {
                self.list_type(file, arg.as_deref(), *span)
            }
            ast::TypeExpr::Named { name, arg, span } => {
                self.named_type(name, arg.as_deref(), *span)
            }
        }
    }

    fn named_type(&mut self, name: &ast::Ident, arg: Option<&ast::TypeExpr>, span: Span) -> Type {
        match name.name.as_str() {
            "bool" | "int" | "decimal" | "percent" | "date" => {
                if let Some(a) = arg {
                    self.report(
                        Diagnostic::new(
                            Code::UnknownType,
                            format!("`{}` takes no argument", name.name),
                        )
                        .primary(a.span(), "remove this")
                        .help(format!("write `{}`", name.name)),
                    );
                }
                match name.name.as_str() {
                    "bool" => Type::Bool,
                    "int" => Type::Int,
                    "decimal" => Type::Decimal,
                    "date" => Type::Date,
                    _ => Type::Quantity(Unit::Percent),
                }
            }
            "duration" => {
                let Some(unit) = type_arg_name(arg) else {
                    self.report(
                        Diagnostic::new(Code::UnknownType, "a duration needs its unit")
                            .primary(span, "unit missing")
                            .help("write `duration<days>`, `duration<weeks>`, `duration<months>` or `duration<years>`"),
                    );
                    return Type::Error;
                };
                match Unit::parse(&unit.name) {
                    Some(Unit::Percent | Unit::Ucum(_)) | None => {
                        let s = names::suggest(&unit.name, ["days", "weeks", "months", "years"]);
                        let mut d = Diagnostic::new(
                            Code::UnknownType,
                            format!("unknown duration unit `{}`", shown(&unit.name)),
                        )
                        .primary(unit.span, "not a unit of time");
                        d = match s {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => d.help("the units are `days`, `weeks`, `months` and `years`"),
                        };
                        self.report(d);
                        Type::Error
                    }
                    Some(u) => Type::Quantity(u),
                }
            }
            // A measurement in a unit of the unit table: `quantity<kg/m2>`. A duration's unit
            // or `%` names the same types as `duration<...>` and `percent`.
            "quantity" => {
                let Some(unit) = type_arg_name(arg) else {
                    self.report(
                        Diagnostic::new(Code::UnknownType, "a quantity needs its unit")
                            .primary(span, "unit missing")
                            .help("write the UCUM code of its unit, such as `quantity<kg/m2>`"),
                    );
                    return Type::Error;
                };
                self.unit(unit).map_or(Type::Error, Type::Quantity)
            }
            "code" => match type_arg_name(arg) {
                Some(sys) => self.system(sys).map_or(Type::Error, Type::Code),
                None => {
                    self.report(
                        Diagnostic::new(Code::UnknownType, "a code needs its code system")
                            .primary(span, "code system missing")
                            .help("write `code<icd10cm>`, `code<icd10pcs>`, `code<cpt>` or `code<hcpcs>`"),
                    );
                    Type::Error
                }
            },
            "set" => match arg {
                Some(ast::TypeExpr::Named {
                    name: inner,
                    arg: inner_arg,
                    ..
                }) if inner.name == "code" => match type_arg_name(inner_arg.as_deref()) {
                    Some(sys) => self.system(sys).map_or(Type::Error, Type::CodeSet),
                    None => {
                        self.report(
                            Diagnostic::new(Code::UnknownType, "a code needs its code system")
                                .primary(inner.span, "code system missing")
                                .help("write `set<code<icd10cm>>`"),
                        );
                        Type::Error
                    }
                },
                _ => {
                    self.report(
                        Diagnostic::new(Code::UnknownType, "only sets of codes are supported")
                            .primary(span, "not a set of codes")
                            .help("write `set<code<icd10cm>>`, or a `bool` fact for each member"),
                    );
                    Type::Error
                }
            },
            other => {
                let hint = match other {
                    "boolean" => Some("bool"),
                    "integer" | "number" if other == "integer" => Some("int"),
                    "number" | "float" | "double" | "real" => Some("decimal"),
                    "datetime" | "timestamp" | "day" => Some("date"),
                    _ => names::suggest(
                        other,
                        [
                            "bool", "int", "decimal", "percent", "duration", "quantity", "code",
                            "set", "enum", "date", "list",
                        ],
                    ),
                };
                let mut d = Diagnostic::new(
                    Code::UnknownType,
                    format!("unknown type `{}`", shown(other)),
                )
                .primary(name.span, "not a type");
                d = match hint {
                    Some(h) => d.help(format!("did you mean `{h}`?")),
                    None => d.help(
                        "the types are `bool`, `int`, `decimal`, `percent`, `duration<UNIT>`, `quantity<UNIT>`, `date`, `enum { ... }`, `code<SYSTEM>`, `set<code<SYSTEM>>` and `list<RECORD>`",
                    ),
                };
                self.report(d);
                Type::Error
            }
        }
    }

    /// Reads a code system name, reporting an unknown one.
    pub(super) fn system(&mut self, name: &ast::Ident) -> Option<System> {
        if let Some(s) = System::parse(&name.name) {
            return Some(s);
        }
        let mut d = Diagnostic::new(
            Code::UnknownCodeSystem,
            format!("unknown code system `{}`", shown(&name.name)),
        )
        .primary(name.span, "not a code system");
        d = match names::suggest(&name.name, System::ALL.iter().map(|s| s.name())) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help("the code systems are `icd10cm`, `icd10pcs`, `cpt` and `hcpcs`"),
        };
        self.report(d);
        None
    }

    /// Checks code sets and defines so that each is checked after what it refers to, and
    /// reports reference cycles.
    pub(super) fn resolve_definitions(&mut self) {
        let mut nodes: Vec<Def> = (0..self.set_decls.len())
            .map(|i| Def::Set(CodeSetId(i as u32)))
            .collect();
        nodes.extend((0..self.define_decls.len()).map(|i| Def::Define(DefineId(i as u32))));
        let index_of = |d: Def, sets: usize| match d {
            Def::Set(id) => id.index(),
            Def::Define(id) => sets + id.index(),
        };
        let sets = self.set_decls.len();
        let edges: Vec<Vec<(usize, Span)>> = nodes
            .iter()
            .map(|&n| {
                self.dependencies(n)
                    .into_iter()
                    .map(|(d, s)| (index_of(d, sets), s))
                    .collect()
            })
            .collect();
        for component in strongly_connected(&edges) {
            let cyclic = component.len() > 1
                || component
                    .first()
                    .is_some_and(|&n| edges.get(n).is_some_and(|e| e.iter().any(|(t, _)| *t == n)));
            if cyclic {
                self.report_cycle(&component, &nodes, &edges);
                continue;
            }
            for &n in &component {
                match nodes.get(n) {
                    Some(Def::Set(id)) => self.check_named_set(*id),
                    Some(Def::Define(id)) => self.check_define(*id),
                    None => {}
                }
            }
        }
    }

    /// The code sets and defines a definition names, found without type-checking it.
    fn dependencies(&self, node: Def) -> Vec<(Def, Span)> {
        let (file, mut idents) = match node {
            Def::Set(id) => match self.set_decls.get(id.index()) {
                Some(d) => (d.span.file, set_names(&d.set)),
                None => return Vec::new(),
            },
            Def::Define(id) => match self.define_decls.get(id.index()) {
                Some(d) => {
                    let mut out = Vec::new();
                    expr_names(&d.expr, &mut out);
                    (d.span.file, out)
                }
                None => return Vec::new(),
            },
        };
        let Some(scope) = self.scope(file) else {
            return Vec::new();
        };
        idents
            .drain(..)
            .filter_map(|i| match scope.names.get(&i.name).map(|e| e.symbol) {
                Some(Symbol::CodeSet(id)) => Some((Def::Set(id), i.span)),
                Some(Symbol::Define(id)) => Some((Def::Define(id), i.span)),
                _ => None,
            })
            .collect()
    }

    fn def_name(&self, d: Def) -> String {
        match d {
            Def::Set(id) => self
                .program
                .code_set(id)
                .and_then(|s| s.name.clone())
                .unwrap_or_default(),
            Def::Define(id) => self
                .program
                .define(id)
                .map(|d| d.name.clone())
                .unwrap_or_default(),
        }
    }

    fn report_cycle(&mut self, component: &[usize], nodes: &[Def], edges: &[Vec<(usize, Span)>]) {
        // Walk from the first member (in source order) along edges inside the component
        // until the walk comes back: that is one cycle to show.
        let Some(&start) = component.iter().min() else {
            return;
        };
        let inside = |n: usize| component.contains(&n);
        let mut path: Vec<(usize, Span)> = Vec::new();
        let mut seen = vec![start];
        let mut at = start;
        loop {
            let next = edges.get(at).and_then(|e| {
                e.iter()
                    .find(|(t, _)| *t == start)
                    .or_else(|| e.iter().find(|(t, _)| inside(*t) && !seen.contains(t)))
                    .or_else(|| e.iter().find(|(t, _)| inside(*t)))
            });
            let Some(&(t, span)) = next else { break };
            path.push((t, span));
            if t == start || seen.contains(&t) || path.len() > component.len() {
                break;
            }
            seen.push(t);
            at = t;
        }
        let name_of = |n: usize| nodes.get(n).map(|d| self.def_name(*d)).unwrap_or_default();
        let mut chain = vec![format!("`{}`", shown(&name_of(start)))];
        chain.extend(
            path.iter()
                .map(|(t, _)| format!("`{}`", shown(&name_of(*t)))),
        );
        let first_name = name_of(start);
        let mut d = Diagnostic::new(
            Code::DefinitionCycle,
            format!(
                "`{}` is defined in terms of itself: {}",
                shown(&first_name),
                chain.join(" → ")
            ),
        );
        let mut from = start;
        for (i, (t, span)) in path.iter().enumerate() {
            let label = format!("`{}` uses `{}`", shown(&name_of(from)), shown(&name_of(*t)));
            d = if i == 0 {
                d.primary(*span, label)
            } else {
                d.secondary(*span, label)
            };
            from = *t;
        }
        d = d.help("a definition cannot depend on itself; write one of them out in full");
        self.report(d);
        // Members of the cycle stay invalid, so uses of them are not reported again; their
        // bodies are still checked, for their own errors and for the names they use.
        for &n in component {
            if let Some(Def::Set(id)) = nodes.get(n) {
                self.cyclic_sets.insert(*id);
            }
        }
        for &n in component {
            match nodes.get(n) {
                Some(Def::Define(id)) => {
                    if let Some(decl) = self.define_decls.get(id.index()).copied() {
                        self.term(decl.span.file, &decl.expr);
                    }
                }
                Some(Def::Set(id)) => {
                    let Some(decl) = self.set_decls.get(id.index()).copied() else {
                        continue;
                    };
                    match self.explicit_system(decl.span.file, &decl.set) {
                        Some(system) => {
                            self.set_expr(decl.span.file, &decl.set, system);
                        }
                        None => {
                            for name in set_names(&decl.set) {
                                self.lookup(decl.span.file, &name);
                            }
                        }
                    }
                }
                None => {}
            }
        }
    }

    fn check_named_set(&mut self, id: CodeSetId) {
        let Some(decl) = self.set_decls.get(id.index()).copied() else {
            return;
        };
        let file = decl.span.file;
        let explicit = self.explicit_system(file, &decl.set);
        let unknown_systems = unknown_system_names(&decl.set);
        if explicit.is_none() && !unknown_systems.is_empty() {
            for name in unknown_systems {
                self.system(name);
            }
            self.cyclic_sets.insert(id);
            return;
        }
        let Some(system) = explicit else {
            self.report(
                Diagnostic::new(
                    Code::UnknownCodeSystem,
                    "the code system of this set is not said",
                )
                .primary(decl.set.span(), "which code system are these codes in?")
                .help("name the system before the braces, such as `icd10cm { M80.08XA }`"),
            );
            self.cyclic_sets.insert(id);
            return;
        };
        let expr = self.set_expr(file, &decl.set, system);
        if let Some(set) = self.program.code_sets.get_mut(id.index()) {
            set.system = system;
            set.expr = expr;
        } else {
            self.lost("code set", id.index());
        }
    }

    /// The code system a set expression names itself (by a system prefix or a named set).
    pub(super) fn explicit_system(&self, file: FileId, e: &ast::SetExpr) -> Option<System> {
        match e {
            ast::SetExpr::System { system, .. } => System::parse(&system.name),
            ast::SetExpr::Name(n) => match self.scope(file)?.names.get(&n.name)?.symbol {
                Symbol::CodeSet(id) if !self.cyclic_sets.contains(&id) => {
                    self.program.code_set(id).map(|s| s.system)
                }
                _ => None,
            },
            ast::SetExpr::Literal(_) => None,
            ast::SetExpr::Paren { inner, .. } => self.explicit_system(file, inner),
            ast::SetExpr::Chain { first, rest, .. } => self
                .explicit_system(file, first)
                .or_else(|| rest.iter().find_map(|(_, e)| self.explicit_system(file, e))),
        }
    }

    /// Resolves a set expression whose code system is known.
    pub(super) fn set_expr(&mut self, file: FileId, e: &ast::SetExpr, system: System) -> SetExpr {
        match e {
            ast::SetExpr::Name(n) => match self.lookup(file, n) {
                Some(Symbol::CodeSet(id)) => {
                    if !self.cyclic_sets.contains(&id)
                        && let Some(other) = self.program.code_set(id).map(|s| s.system)
                        && other != system
                    {
                        self.wrong_system(n.span, &format!("`{}`", shown(&n.name)), other, system);
                    }
                    SetExpr::Ref(id)
                }
                Some(symbol) => {
                    let mut d = Diagnostic::new(
                        Code::TypeMismatch,
                        format!(
                            "expected a code set, found the {} `{}`",
                            symbol.kind(),
                            shown(&n.name)
                        ),
                    )
                    .primary(n.span, "not a code set");
                    if let Some(at) = self.declared_at(symbol) {
                        d = d.secondary(at, "declared here");
                    }
                    self.report(d);
                    SetExpr::Items(Vec::new())
                }
                None => {
                    self.unknown_name(file, n, "code set", |s| matches!(s, Symbol::CodeSet(_)));
                    SetExpr::Items(Vec::new())
                }
            },
            ast::SetExpr::System {
                system: sys, set, ..
            } => {
                match System::parse(&sys.name) {
                    Some(s) if s != system => {
                        self.wrong_system(
                            sys.span,
                            &format!("`{} {{ ... }}`", s.name()),
                            s,
                            system,
                        );
                        // Its codes are still checked, in their own system.
                        self.set_items(set, s);
                        SetExpr::Items(Vec::new())
                    }
                    Some(_) => SetExpr::Items(self.set_items(set, system)),
                    None => {
                        self.system(sys);
                        SetExpr::Items(Vec::new())
                    }
                }
            }
            ast::SetExpr::Literal(set) => SetExpr::Items(self.set_items(set, system)),
            ast::SetExpr::Paren { inner, .. } => self.set_expr(file, inner, system),
            ast::SetExpr::Chain { first, rest, .. } => SetExpr::Chain {
                first: Box::new(self.set_expr(file, first, system)),
                rest: rest
                    .iter()
                    .map(|(op, e)| (*op, self.set_expr(file, e, system)))
                    .collect(),
            },
        }
    }

    pub(super) fn wrong_system(&mut self, span: Span, what: &str, found: System, expected: System) {
        self.report(
            Diagnostic::new(
                Code::WrongCodeSystem,
                format!(
                    "expected {} codes, found {what} with {} codes",
                    expected.display(),
                    found.display()
                ),
            )
            .primary(span, format!("{} codes", found.display()))
            .help(format!(
                "{} and {} codes cannot be mixed in one set",
                expected.display(),
                found.display()
            )),
        );
    }

    fn set_items(&mut self, set: &ast::SetLiteral, system: System) -> Vec<SetItem> {
        let mut items = Vec::new();
        // The list's codes, for suggestions near a malformed one.
        let written: Vec<Option<&str>> = set
            .items
            .iter()
            .map(|other| other.last.is_none().then_some(other.first.text.as_str()))
            .collect();
        for (i, item) in set.items.iter().enumerate() {
            let near = Near::new(&written, i);
            let first = self.code_form(system, &item.first, near);
            let resolved = match (&item.last, first) {
                (None, Some(CodeForm::Exact(c))) => Some(CodeItem::Exact(c)),
                (None, Some(CodeForm::Prefix(p))) => Some(CodeItem::Prefix(p)),
                (Some(last), first) => {
                    let last_form = self.code_form(system, last, near);
                    match (first, last_form) {
                        (Some(CodeForm::Exact(a)), Some(CodeForm::Exact(b))) => {
                            Some(CodeItem::Range(a, b))
                        }
                        (Some(CodeForm::Prefix(_)), _) | (_, Some(CodeForm::Prefix(_))) => {
                            self.report(
                                Diagnostic::new(Code::MalformedCode, "a range runs between two codes, not patterns")
                                    .primary(item.span, "pattern in a range")
                                    .help("write the range between two full codes, or list the patterns separately"),
                            );
                            None
                        }
                        _ => None,
                    }
                }
                (None, None) => None,
            };
            if let Some(resolved) = resolved {
                items.push(SetItem {
                    item: resolved,
                    written: item.span_text_hint(),
                    span: item.span,
                });
            }
        }
        items
    }

    /// Reads one written code of a system, reporting a malformed one (with the codes written
    /// near it, nearest first, to guess what was meant).
    pub(super) fn code_form(
        &mut self,
        system: System,
        word: &ast::Word,
        near: Near<'_>,
    ) -> Option<CodeForm> {
        match codes::parse_code(system, &word.text) {
            Ok(form) => Some(form),
            Err(e) => {
                self.codes
                    .malformed(system, word, near, e, &mut self.diagnostics);
                None
            }
        }
    }
}

/// "a" or "an" before a word, by how it is said (`an ICD-10-CM code`, `a CPT code`).
pub(super) fn article(word: &str) -> &'static str {
    if word.starts_with(|c: char| "AEFHILMNORSX".contains(c) || "aeiou".contains(c)) {
        "an"
    } else {
        "a"
    }
}

/// The plain name given as a type's argument (`days` in `duration<days>`).
fn type_arg_name(a: Option<&ast::TypeExpr>) -> Option<&ast::Ident> {
    match a {
        Some(ast::TypeExpr::Named {
            name, arg: None, ..
        }) => Some(name),
        _ => None,
    }
}

/// System prefixes in a set expression that name no code system.
fn unknown_system_names(e: &ast::SetExpr) -> Vec<&ast::Ident> {
    match e {
        ast::SetExpr::System { system, .. } if System::parse(&system.name).is_none() => {
            vec![system]
        }
        ast::SetExpr::Paren { inner, .. } => unknown_system_names(inner),
        ast::SetExpr::Chain { first, rest, .. } => {
            let mut out = unknown_system_names(first);
            for (_, e) in rest {
                out.extend(unknown_system_names(e));
            }
            out
        }
        _ => Vec::new(),
    }
}

/// The names a set expression refers to.
fn set_names(e: &ast::SetExpr) -> Vec<ast::Ident> {
    let mut out = Vec::new();
    collect_set_names(e, &mut out);
    out
}

fn collect_set_names(e: &ast::SetExpr, out: &mut Vec<ast::Ident>) {
    match e {
        ast::SetExpr::Name(n) => out.push(n.clone()),
        ast::SetExpr::Paren { inner, .. } => collect_set_names(inner, out),
        ast::SetExpr::Chain { first, rest, .. } => {
            collect_set_names(first, out);
            for (_, e) in rest {
                collect_set_names(e, out);
            }
        }
        ast::SetExpr::System { .. } | ast::SetExpr::Literal(_) => {}
    }
}

/// The names an expression refers to (nesting is bounded by the parser).
fn expr_names(e: &ast::Expr, out: &mut Vec<ast::Ident>) {
    let operand = |o: &ast::Operand, out: &mut Vec<ast::Ident>| match &o.kind {
        ast::OperandKind::Name(n) => out.push(n.clone()),
        ast::OperandKind::Paren(e) => expr_names(e, out),
        _ => {}
    };
    match &e.kind {
        ast::ExprKind::Or(es) | ast::ExprKind::And(es) | ast::ExprKind::Count { items: es, .. } => {
            for e in es {
                expr_names(e, out);
            }
        }
        ast::ExprKind::Not(e) => expr_names(e, out),
        ast::ExprKind::Compare { left, right, .. } => {
            operand(left, out);
            operand(right, out);
        }
        ast::ExprKind::In { value, set, .. } | ast::ExprKind::Has { value, set, .. } => {
            operand(value, out);
            collect_set_names(set, out);
        }
        ast::ExprKind::Operand(o) => operand(o, out),
        ast::ExprKind::Within {
            value, reference, ..
        } => {
            operand(value, out);
            if let Some(r) = reference {
                operand(r, out);
            }
        }
    }
}

/// Tarjan's algorithm without recursion. Components come out dependencies first: a component
/// is emitted after every component it has an edge to.
fn strongly_connected(edges: &[Vec<(usize, Span)>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if index.get(root).is_some_and(|&i| i != usize::MAX) {
            continue;
        }
        // Each frame: node and the position of the next edge to look at.
        let mut frames: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut next)) = frames.last_mut() {
            if *next == 0 && index.get(v).is_some_and(|&i| i == usize::MAX) {
                set(&mut index, v, counter);
                set(&mut low, v, counter);
                counter += 1;
                stack.push(v);
                set(&mut on_stack, v, true);
            }
            let succ = edges.get(v).and_then(|e| e.get(*next)).map(|(t, _)| *t);
            *next += 1;
            match succ {
                Some(w) if get(&index, w) == usize::MAX => frames.push((w, 0)),
                Some(w) => {
                    if get(&on_stack, w) {
                        let l = get(&low, v).min(get(&index, w));
                        set(&mut low, v, l);
                    }
                }
                None => {
                    frames.pop();
                    if let Some(&(parent, _)) = frames.last() {
                        let l = get(&low, parent).min(get(&low, v));
                        set(&mut low, parent, l);
                    }
                    if get(&low, v) == get(&index, v) {
                        let mut component = Vec::new();
                        while let Some(w) = stack.pop() {
                            set(&mut on_stack, w, false);
                            component.push(w);
                            if w == v {
                                break;
                            }
                        }
                        component.sort_unstable();
                        out.push(component);
                    }
                }
            }
        }
    }
    out
}

fn get<T: Copy + Default>(v: &[T], i: usize) -> T {
    v.get(i).copied().unwrap_or_default()
}

fn set<T>(v: &mut [T], i: usize, value: T) {
    if let Some(slot) = v.get_mut(i) {
        *slot = value;
    }
}

impl ast::SetItem {
    /// The item as the author wrote it.
    fn span_text_hint(&self) -> String {
        match &self.last {
            Some(last) => format!("{}..{}", self.first.text, last.text),
            None => self.first.text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_come_dependencies_first() {
        let s = Span::default();
        // 0 -> 1 -> 2, 3 <-> 4, 4 -> 0
        let edges = vec![
            vec![(1, s)],
            vec![(2, s)],
            vec![],
            vec![(4, s)],
            vec![(3, s), (0, s)],
        ];
        let got = strongly_connected(&edges);
        assert_eq!(got, vec![vec![2], vec![1], vec![0], vec![3, 4]]);
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let s = Span::default();
        let n = 200_000;
        let edges: Vec<_> = (0..n)
            .map(|i| if i + 1 < n { vec![(i + 1, s)] } else { vec![] })
            .collect();
        assert_eq!(strongly_connected(&edges).len(), n);
    }
}
