//! Stage 2, check: syntax trees to the typed model.
//!
//! [`check`] is the stage's one public function. It resolves every name (with "did you mean"),
//! reports duplicates with both places, type-checks every expression, test and metadata entry,
//! and finds unused declarations. Like the parser it never stops early: every problem in every
//! file is reported, and later problems caused only by an earlier one are kept quiet.

mod codes;
pub mod dates;
mod decls;
mod derived;
mod expr;
mod lints;
mod lists;
pub mod names;
mod policy;
mod ranges;
mod relations;
mod units;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::ast;
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;
use crate::source::{FileId, Span};
use crate::tables::TableSet;
use crate::types::EnumId;

/// What a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Symbol {
    Fact(FactId),
    CodeSet(CodeSetId),
    Define(DefineId),
    Decision(DecisionId),
    Policy(PolicyId),
    EnumValue(EnumId, u32),
    Outcome(DecisionId, OutcomeId),
    Rule(DecisionId, RuleId),
    Constraint(ConstraintId),
    Record(crate::types::RecordId),
}

impl Symbol {
    /// The kind of thing, for messages: "fact", "code set".
    pub fn kind(self) -> &'static str {
        match self {
            Symbol::Fact(_) => "fact",
            Symbol::CodeSet(_) => "code set",
            Symbol::Define(_) => "definition",
            Symbol::Decision(_) => "decision",
            Symbol::Policy(_) => "policy",
            Symbol::EnumValue(..) => "enum value",
            Symbol::Outcome(..) => "outcome",
            Symbol::Rule(..) => "rule",
            Symbol::Constraint(_) => "constraint",
            Symbol::Record(_) => "record",
        }
    }
}

/// A name in the source and what it refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    pub span: Span,
    pub symbol: Symbol,
    /// This is where the symbol is declared, not a use of it.
    pub declaration: bool,
}

/// Where each import statement leads: the span of the import's path string, and the file it
/// names (as the project loader found it).
pub type ImportMap = std::collections::HashMap<Span, FileId>;

/// The result of checking.
#[derive(Debug, Default)]
pub struct Checked {
    model: Model,
    pub diagnostics: Vec<Diagnostic>,
    /// Every resolved name, declarations and uses, in source order per file.
    pub references: Vec<Reference>,
}

/// The typed model, valid when the check found no error and nothing is missing from it.
#[derive(Debug)]
enum Model {
    Valid(ValidProgram),
    /// With what keeps it from being valid, in words.
    Invalid(Program, String),
}

/// Resolution and typing: the model, the errors found in it and the record of uses the lints
/// read.
fn resolve<'a>(
    files: &'a [ast::File],
    imports: &'a ImportMap,
    tables: &'a TableSet,
) -> Checker<'a> {
    let mut c = Checker::new(files, imports, tables);
    c.declare_all();
    c.import_all();
    c.resolve_fact_types();
    c.resolve_records();
    c.resolve_definitions();
    c.check_constraints();
    c.check_policies();
    // The code-table errors are typing, not lint passes: see `codes`.
    codes::check_codes(&c.program, &mut c.codes, &mut c.diagnostics);
    c
}

impl Default for Model {
    fn default() -> Model {
        Model::Invalid(Program::default(), "nothing was checked".to_string())
    }
}

impl Checked {
    /// The typed model, complete or not: the language server reads it as far as it goes.
    pub fn program(&self) -> &Program {
        match &self.model {
            Model::Valid(p) => p,
            Model::Invalid(p, _) => p,
        }
    }

    /// The typed model when the check found no error and nothing is missing from it (a
    /// declaration that did not parse leaves a hole without an error of the check's own);
    /// otherwise why not, in words.
    pub fn valid(&self) -> Result<&ValidProgram, &str> {
        match &self.model {
            Model::Valid(p) => Ok(p),
            Model::Invalid(_, why) => Err(why),
        }
    }

    /// [`Checked::valid`], keeping the model.
    pub fn into_valid(self) -> Result<ValidProgram, String> {
        match self.model {
            Model::Valid(p) => Ok(p),
            Model::Invalid(_, why) => Err(why),
        }
    }
}

/// Checks the parsed files of one project, with its codes against these code tables. The lint
/// passes whose codes are all in `allowed` are not run (the caller still drops what a pass
/// that also emits other codes reports under an allowed one).
pub fn check(
    files: &[ast::File],
    imports: &ImportMap,
    tables: &TableSet,
    allowed: &[Code],
) -> Checked {
    let mut c = resolve(files, imports, tables);
    let cx = lints::Context {
        program: &c.program,
        uses: &c.uses,
        codes: &c.codes,
    };
    lints::run(&cx, allowed, &mut c.diagnostics);
    let mut references = c.references;
    references.sort_by_key(|r| (r.span.file, r.span.start, r.span.end));
    let model = if c.diagnostics.iter().any(Diagnostic::is_error) {
        Model::Invalid(c.program, "the check found errors".to_string())
    } else {
        match ValidProgram::new(c.program) {
            Ok(p) => Model::Valid(p),
            Err(invalid) => {
                let (p, why) = *invalid;
                Model::Invalid(p, why)
            }
        }
    };
    Checked {
        model,
        diagnostics: c.diagnostics,
        references,
    }
}

/// One name in a file's scope.
#[derive(Debug, Clone)]
struct Entry {
    symbol: Symbol,
    /// Where the symbol is declared (its name).
    declared: Span,
    /// The import that brought it in, by index into `Uses::imports`.
    import: Option<usize>,
}

#[derive(Debug, Default)]
struct Scope {
    names: HashMap<String, Entry>,
    /// Names of declarations that did not parse, here or in imported files.
    broken: HashSet<String>,
    /// An imported file could not be read, so any unknown name may be declared there.
    incomplete: bool,
    policy: Option<PolicyId>,
}

/// An import statement and which of its names were used.
#[derive(Debug)]
struct ImportUse {
    /// The names it brought in, with the span that names them.
    names: Vec<(String, Span)>,
    used: HashSet<String>,
    whole_file: bool,
    span: Span,
    path: String,
}

struct Checker<'a> {
    files: &'a [ast::File],
    import_map: &'a ImportMap,
    /// The code tables, with what resolution and typing record of them for the lints.
    codes: codes::CodeTables<'a>,
    program: Program,
    diagnostics: Vec<Diagnostic>,
    references: Vec<Reference>,
    scopes: HashMap<FileId, Scope>,
    fact_decls: Vec<&'a ast::FactDecl>,
    set_decls: Vec<&'a ast::CodesDecl>,
    define_decls: Vec<&'a ast::DefineDecl>,
    constraint_decls: Vec<&'a ast::DefineDecl>,
    record_decls: Vec<&'a ast::RecordDecl>,
    /// Inside `count(LIST where ...)`: the record of the list's items, whose field names
    /// resolve before the file's names.
    item: Option<crate::types::RecordId>,
    /// What was used, recorded for the lint passes.
    uses: lints::Uses,
    suggestions_left: usize,
    /// Code sets in a reference cycle or with errors that leave their system unknown.
    cyclic_sets: HashSet<CodeSetId>,
    /// The date of service, once a file names it (see `dates`).
    service_date: Option<FactId>,
}

impl<'a> Checker<'a> {
    fn new(files: &'a [ast::File], import_map: &'a ImportMap, tables: &'a TableSet) -> Self {
        Checker {
            files,
            import_map,
            codes: codes::CodeTables::new(tables),
            program: Program::default(),
            diagnostics: Vec::new(),
            references: Vec::new(),
            scopes: HashMap::default(),
            fact_decls: Vec::new(),
            set_decls: Vec::new(),
            define_decls: Vec::new(),
            constraint_decls: Vec::new(),
            record_decls: Vec::new(),
            item: None,
            uses: lints::Uses {
                any_broken: files.iter().any(|f| !f.broken.is_empty()),
                ..lints::Uses::default()
            },
            suggestions_left: names::SUGGESTION_BUDGET,
            cyclic_sets: HashSet::default(),
            service_date: None,
        }
    }

    fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// A declaration the checker made itself is not there to fill in: a bug in the checker,
    /// reported (see [`Diagnostic::internal`]) rather than dropped silently.
    fn lost(&mut self, kind: &str, index: usize) {
        self.report(Diagnostic::internal(format_args!(
            "the checker lost {kind} {index}"
        )));
    }

    fn scope(&self, file: FileId) -> Option<&Scope> {
        self.scopes.get(&file)
    }

    fn reference(&mut self, span: Span, symbol: Symbol) {
        self.references.push(Reference {
            span,
            symbol,
            declaration: false,
        });
    }

    fn declaration(&mut self, span: Span, symbol: Symbol) {
        self.references.push(Reference {
            span,
            symbol,
            declaration: true,
        });
    }

    /// The span where a symbol is declared, for secondary labels.
    fn declared_at(&self, symbol: Symbol) -> Option<Span> {
        let p = &self.program;
        match symbol {
            Symbol::Fact(id) => p.fact(id).map(|f| f.name_span),
            Symbol::CodeSet(id) => p.code_set(id).map(|s| s.name_span),
            Symbol::Define(id) => p.define(id).map(|d| d.name_span),
            Symbol::Decision(id) => p.decision(id).map(|d| d.name_span),
            Symbol::Policy(id) => p.policies.get(id.index()).map(|p| p.span),
            Symbol::EnumValue(e, v) => p
                .enum_type(e)
                .and_then(|t| t.values.get(v as usize))
                .map(|(_, s)| *s),
            Symbol::Outcome(d, o) => p.decision(d).and_then(|d| d.outcome(o)).map(|o| o.span),
            Symbol::Constraint(id) => p.constraints.get(id.index()).map(|c| c.name_span),
            Symbol::Rule(d, r) => p.decision(d).and_then(|d| d.rule(r)).map(|r| r.name_span),
            Symbol::Record(id) => p.record(id).map(|r| r.name_span),
        }
    }

    /// What a name means in a file's scope, without recording a use: a declared name, else
    /// one the language declares.
    fn resolve_name(&mut self, file: FileId, name: &ast::Ident) -> Option<Symbol> {
        match self.scope(file)?.names.get(&name.name) {
            Some(entry) => Some(entry.symbol),
            None => self.predeclared_symbol(file, name),
        }
    }

    /// Looks a name up in a file's scope and records the use.
    fn lookup(&mut self, file: FileId, name: &ast::Ident) -> Option<Symbol> {
        if let Some(field) = self.field(&name.name) {
            let symbol = Symbol::Fact(field);
            self.reference(name.span, symbol);
            return Some(symbol);
        }
        let scope = self.scope(file)?;
        let Some(entry) = scope.names.get(&name.name).cloned() else {
            let symbol = self.predeclared_symbol(file, name)?;
            self.uses.used.insert(symbol);
            self.reference(name.span, symbol);
            return Some(symbol);
        };
        if let Some(i) = entry.import
            && let Some(import) = self.uses.imports.get_mut(i)
        {
            import.used.insert(name.name.clone());
        }
        self.uses.used.insert(entry.symbol);
        self.reference(name.span, entry.symbol);
        Some(entry.symbol)
    }

    /// Reports an unknown name, unless a declaration that did not parse may be the one meant.
    /// `kinds` limits the suggestions to symbols that would fit.
    fn unknown_name(
        &mut self,
        file: FileId,
        name: &ast::Ident,
        what: &str,
        fits: fn(Symbol) -> bool,
    ) {
        let Some(scope) = self.scopes.get(&file) else {
            return;
        };
        if scope.broken.contains(&name.name) || scope.incomplete {
            return;
        }
        // Names whose declaration did not parse are candidates too: the typo may be in a use
        // of one of them.
        let suggestion = if self.suggestions_left > 0 {
            self.suggestions_left -= 1;
            names::suggest(
                &name.name,
                scope
                    .names
                    .iter()
                    .filter(|(_, e)| fits(e.symbol))
                    .map(|(n, _)| n.as_str())
                    .chain(scope.broken.iter().map(String::as_str)),
            )
            .map(str::to_string)
        } else {
            None
        };
        let mut d = Diagnostic::new(
            Code::UnknownName,
            format!("unknown {what} `{}`", shown(&name.name)),
        )
        .primary(name.span, "not declared");
        match suggestion {
            Some(s) => {
                let symbol = self
                    .scope(file)
                    .and_then(|sc| sc.names.get(&s))
                    .map(|e| e.symbol);
                match symbol.and_then(|sym| self.declared_at(sym)) {
                    Some(at) => {
                        d = d
                            .secondary(at, format!("`{s}` is declared here"))
                            .help(format!("did you mean `{s}`?"))
                            .fix(name.span, s.as_str());
                    }
                    None => {
                        d = d.help(format!(
                            "did you mean `{s}`? its declaration does not parse"
                        ));
                    }
                }
            }
            None => d = d.help("declare it, or import the file that declares it"),
        }
        self.report(d);
    }

    /// Reports a name declared twice in one scope.
    fn duplicate(&mut self, what: &str, name: &str, second: Span, first: Span) {
        self.report(
            Diagnostic::new(
                Code::DuplicateDefinition,
                format!("{what} `{}` is declared twice", shown(name)),
            )
            .primary(second, "declared again here")
            .secondary(first, "first declared here")
            .help("rename one of them, or remove the repeat"),
        );
    }

    fn file_of(&self, id: FileId) -> Option<&'a ast::File> {
        self.files.iter().find(|f| f.id == id)
    }
}

#[cfg(test)]
mod tests;
