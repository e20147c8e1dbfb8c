//! Hover, definitions, references, completion, document symbols and quick fixes, answered from
//! the last check of a document's project (the names `check::check` resolved, the typed model
//! and the code tables in force).

use std::collections::HashMap;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CompletionItem, CompletionItemKind,
    DocumentSymbol, Documentation, Hover, HoverContents, Location, MarkupContent, MarkupKind,
    Position, SymbolKind, TextEdit, Uri, WorkspaceEdit,
};

use super::convert;
use super::pipeline::Computed;
use crate::check::dates::{SERVICE_DATE, SERVICE_DATE_DESCRIPTION};
use crate::check::{Reference, Symbol};
use crate::codes::{self, CodeForm, System};
use crate::ir::{DefineBody, Program};
use crate::source::{FileId, SourceFile, Span};
use crate::tables::{Entry, Table};
use crate::types::Type;

/// Words that are keywords only where they appear (the reserved words are
/// `syntax::RESERVED`), for completion.
const CONTEXT_KEYWORDS: &[&str] = &[
    "any",
    "all",
    "none",
    "at least",
    "outcomes",
    "inputs",
    "given",
    "expect",
    "unique",
    "first",
    "title",
    "version",
    "effective",
    "description",
    "reference",
    "related",
    "documented",
    "count",
    "where",
    "within",
    "before",
];

/// How many codes a completion offers at most: a prefix of one letter matches thousands.
const MAX_CODES: usize = 200;

/// The name under a position.
fn reference_at(c: &Computed, file: FileId, offset: usize) -> Option<&Reference> {
    c.checked.references.iter().find(|r| {
        r.span.file == file && r.span.start as usize <= offset && offset <= r.span.end as usize
    })
}

fn declaration(c: &Computed, symbol: Symbol) -> Option<Span> {
    c.checked
        .references
        .iter()
        .find(|r| r.symbol == symbol && r.declaration)
        .map(|r| r.span)
}

fn location(c: &Computed, span: Span) -> Option<Location> {
    let uri = c.uri(span.file)?.parse::<Uri>().ok()?;
    let file = c.sources.get(span.file)?;
    Some(Location::new(uri, convert::range(file, span)))
}

pub fn definition(c: &Computed, uri: &str, at: Position) -> Option<Location> {
    let (id, file) = c.file_of(uri)?;
    let r = reference_at(c, id, convert::offset(file, at))?;
    location(c, declaration(c, r.symbol)?)
}

pub fn references(c: &Computed, uri: &str, at: Position, with_declaration: bool) -> Vec<Location> {
    let Some((id, file)) = c.file_of(uri) else {
        return Vec::new();
    };
    let Some(r) = reference_at(c, id, convert::offset(file, at)) else {
        return Vec::new();
    };
    c.checked
        .references
        .iter()
        .filter(|other| other.symbol == r.symbol && (with_declaration || !other.declaration))
        .filter_map(|other| location(c, other.span))
        .collect()
}

pub fn hover(c: &Computed, uri: &str, at: Position) -> Option<Hover> {
    let (id, file) = c.file_of(uri)?;
    let offset = convert::offset(file, at);
    let (text, span) = match reference_at(c, id, offset) {
        Some(r) => (describe(c, r.symbol)?, r.span),
        None => {
            let (word, span) = word_at(file, id, offset)?;
            (describe_code(c, id, word)?, span)
        }
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(convert::range(file, span)),
    })
}

/// The word (name or code) around an offset.
fn word_at(file: &SourceFile, id: FileId, offset: usize) -> Option<(&str, Span)> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_';
    let text = &file.text;
    let before = text.get(..offset)?;
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word(*c))
        .last()
        .map_or(offset, |(i, _)| i);
    let after = text.get(offset..)?;
    let end = offset + after.find(|c: char| !is_word(c)).unwrap_or(after.len());
    let word = text.get(start..end)?.trim_end_matches('.');
    (!word.is_empty()).then(|| (word, Span::new(id, start, start + word.len())))
}

/// The table a file's codes are checked against: the release in force on its policy's
/// effective date, else the latest.
fn table_for(c: &Computed, file: FileId, system: System) -> Option<&Table> {
    let date = c
        .checked
        .program()
        .policies
        .iter()
        .find(|p| p.file == file)
        .and_then(|p| p.meta.effective);
    date.and_then(|d| c.tables.in_force(system, d))
        .or_else(|| c.tables.latest(system))
}

fn describe_code(c: &Computed, file: FileId, word: &str) -> Option<String> {
    for system in System::ALL.iter().copied() {
        let Ok(CodeForm::Exact(code)) = codes::parse_code(system, word) else {
            continue;
        };
        let Some(table) = table_for(c, file, system) else {
            continue;
        };
        if let Some(entry) = table.lookup(&code) {
            return Some(code_text(table, &entry));
        }
    }
    None
}

fn code_text(table: &Table, e: &Entry<'_>) -> String {
    let mut out = format!(
        "**{}** ({}, `{}`)\n\n{}\n\n",
        e.code(),
        table.system().display(),
        table.release(),
        e.long()
    );
    if e.is_billable() {
        out.push_str("billable: yes\n");
    } else {
        let below = table.billable_under(e.code()).count();
        out.push_str(&format!(
            "billable: no, a heading with {below} billable codes below it\n"
        ));
    }
    if let Some(rule) = e.seventh() {
        match e.seventh_char() {
            Some(ch) => {
                let meaning = rule.meaning(ch).unwrap_or_default();
                out.push_str(&format!(
                    "\n7th character `{ch}`: {meaning} (rule of `{}`)\n",
                    rule.defined_at()
                ));
            }
            None => {
                out.push_str(&format!(
                    "\n7th characters (rule of `{}`):\n",
                    rule.defined_at()
                ));
                for (ch, meaning) in rule.chars() {
                    out.push_str(&format!("- `{ch}` {meaning}\n"));
                }
            }
        }
    }
    out
}

/// A declaration's source text, cut to a few lines.
fn excerpt(c: &Computed, span: Span) -> String {
    const LINES: usize = 12;
    let text = c.sources.slice(span);
    let mut lines: Vec<&str> = text.lines().take(LINES + 1).collect();
    if lines.len() > LINES {
        lines.truncate(LINES);
        lines.push("…");
    }
    format!("```medpol\n{}\n```", lines.join("\n"))
}

fn with_description(head: String, description: Option<&String>) -> String {
    match description {
        Some(d) => format!("{head}\n\n{d}"),
        None => head,
    }
}

fn type_text(p: &Program, ty: Type) -> String {
    match ty {
        Type::Enum(id) => match p.enum_type(id) {
            Some(e) => {
                let values: Vec<&str> = e.values.iter().map(|(v, _)| v.as_str()).collect();
                format!("enum {{ {} }}", values.join(", "))
            }
            None => ty.syntax(),
        },
        Type::List(r) => match p.record(r) {
            Some(record) => format!("list<{}>", record.name),
            None => ty.syntax(),
        },
        _ => ty.syntax(),
    }
}

fn describe(c: &Computed, symbol: Symbol) -> Option<String> {
    let p = c.checked.program();
    Some(match symbol {
        Symbol::Fact(id) => {
            let f = p.fact(id)?;
            let mut range = f
                .range
                .map(|(low, high)| format!(" in {low}..{high}"))
                .unwrap_or_default();
            if f.documented {
                range.push_str(" documented");
            }
            let head = match f.record.and_then(|r| p.record(r)) {
                Some(r) => format!(
                    "```medpol\n{}: {}{range}\n```\n\nfield of record `{}`: read for each item inside `count(... where ...)`",
                    f.name,
                    type_text(p, f.ty),
                    r.name
                ),
                None => format!(
                    "```medpol\nfact {}: {}{range}\n```",
                    f.name,
                    type_text(p, f.ty)
                ),
            };
            with_description(head, f.description.as_ref())
        }
        Symbol::Record(id) => {
            let r = p.record(id)?;
            with_description(
                format!(
                    "record `{}`: the items of a list\n\n{}",
                    r.name,
                    excerpt(c, r.span)
                ),
                r.description.as_ref(),
            )
        }
        Symbol::CodeSet(id) => {
            let s = p.code_set(id)?;
            with_description(
                format!(
                    "code set of {} codes\n\n{}",
                    s.system.display(),
                    excerpt(c, s.span)
                ),
                s.description.as_ref(),
            )
        }
        Symbol::Define(id) => {
            let d = p.define(id)?;
            let derived = match &d.body {
                DefineBody::Alias { fact, .. } => p.fact(*fact).and_then(|f| f.derived.as_ref()),
                _ => None,
            };
            let head = match derived {
                Some(x) => {
                    let inputs: Vec<String> = x
                        .formula
                        .facts()
                        .into_iter()
                        .map(|f| format!("`{}`", p.fact_name(*f)))
                        .collect();
                    format!(
                        "derived value: {}, computed from {} as `{}`\n\n{}",
                        d.ty.describe(),
                        inputs.join(", "),
                        x.written,
                        excerpt(c, d.span)
                    )
                }
                None => format!("definition: {}\n\n{}", d.ty.describe(), excerpt(c, d.span)),
            };
            with_description(head, d.description.as_ref())
        }
        Symbol::Decision(id) => {
            let d = p.decision(id)?;
            let outcomes: Vec<String> =
                d.outcomes.iter().map(|o| format!("`{}`", o.name)).collect();
            with_description(
                format!(
                    "decision `{}` ({}): {} rules; outcomes {}",
                    d.name,
                    d.hit.name(),
                    d.rules.len(),
                    outcomes.join(", ")
                ),
                d.description.as_ref(),
            )
        }
        Symbol::Rule(id, i) => {
            let d = p.decision(id)?;
            let r = d.rule(i)?;
            // The model of a project with errors may hold a rule whose outcome the decision
            // does not declare (the checker reports it): the hover says so.
            let outcome = d.outcome_of(r).map_or_else(
                || "an outcome the decision does not declare".to_string(),
                |o| format!("**{}**", o.name),
            );
            with_description(
                format!(
                    "rule `{}` of `{}` gives {outcome}\n\n{}",
                    r.name,
                    d.name,
                    excerpt(c, r.span)
                ),
                r.description.as_ref(),
            )
        }
        Symbol::Outcome(id, i) => {
            let d = p.decision(id)?;
            let o = d.outcome(i)?;
            let by: Vec<String> = d
                .rules
                .iter()
                .filter(|r| r.outcome == Some(i))
                .map(|r| format!("`{}`", r.name))
                .collect();
            let by = if by.is_empty() {
                "no rule".to_string()
            } else {
                by.join(", ")
            };
            format!(
                "outcome `{}` of decision `{}`, given by {by}",
                o.name, d.name
            )
        }
        Symbol::EnumValue(id, v) => format!(
            "enum value `{}` of `{}`",
            p.enum_value(id, v),
            type_text(p, Type::Enum(id))
        ),
        Symbol::Policy(id) => {
            let pol = p.policies.get(id.index())?;
            let effective = pol
                .meta
                .effective
                .map(|d| format!(", effective {d}"))
                .unwrap_or_default();
            with_description(
                format!(
                    "policy `{}`: {} (version {}{effective})",
                    pol.id, pol.meta.title, pol.meta.version
                ),
                pol.meta.description.as_ref(),
            )
        }
        Symbol::Constraint(id) => {
            let k = p.constraints.get(id.index())?;
            with_description(
                format!("constraint `{}`\n\n{}", k.name, excerpt(c, k.span)),
                k.description.as_ref(),
            )
        }
    })
}

pub fn completion(c: &Computed, uri: &str, at: Position) -> Vec<CompletionItem> {
    let Some((id, file)) = c.file_of(uri) else {
        return Vec::new();
    };
    let offset = convert::offset(file, at);
    let line_start = file.line_start(file.line_index(offset));
    let line = file.text.get(line_start..offset).unwrap_or("");
    let partial_len = line
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .map(char::len_utf8)
        .sum::<usize>();
    let (before, partial) = line.split_at(line.len() - partial_len);
    if let Some(values) = enum_values(c, before) {
        return values;
    }
    if let Some(units) = unit_items(before) {
        return units;
    }
    let mut items = Vec::new();
    if looks_like_code(partial) {
        items.extend(code_items(c, id, partial));
    }
    let p = c.checked.program();
    let name = |label: &str, kind, detail: String, doc: Option<&String>| CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail),
        documentation: doc.map(|d| Documentation::String(d.clone())),
        ..CompletionItem::default()
    };
    let keywords = crate::syntax::RESERVED.iter().chain(CONTEXT_KEYWORDS);
    items.extend(keywords.map(|k| CompletionItem {
        label: (*k).to_string(),
        kind: Some(CompletionItemKind::KEYWORD),
        ..CompletionItem::default()
    }));
    // A derived value is offered as the definition that names it.
    items.extend(p.facts.iter().filter(|f| f.derived.is_none()).map(|f| {
        let what = if f.record.is_some() { "field" } else { "fact" };
        name(
            &f.name,
            CompletionItemKind::FIELD,
            format!("{what}: {}", type_text(p, f.ty)),
            f.description.as_ref(),
        )
    }));
    items.extend(p.records.iter().map(|r| {
        name(
            &r.name,
            CompletionItemKind::STRUCT,
            "record".to_string(),
            r.description.as_ref(),
        )
    }));
    // The date of service is a fact of every file, before any file names it.
    if !p.facts.iter().any(|f| f.name == SERVICE_DATE) {
        items.push(name(
            SERVICE_DATE,
            CompletionItemKind::FIELD,
            format!("fact: {}", Type::Date.syntax()),
            Some(&SERVICE_DATE_DESCRIPTION.to_string()),
        ));
    }
    items.extend(p.defines.iter().map(|d| {
        name(
            &d.name,
            CompletionItemKind::FUNCTION,
            format!("definition: {}", d.ty.describe()),
            d.description.as_ref(),
        )
    }));
    items.extend(p.code_sets.iter().filter_map(|s| {
        Some(name(
            s.name.as_deref()?,
            CompletionItemKind::CONSTANT,
            format!("code set of {} codes", s.system.display()),
            s.description.as_ref(),
        ))
    }));
    items.extend(p.decisions.iter().map(|d| {
        name(
            &d.name,
            CompletionItemKind::CLASS,
            "decision".to_string(),
            d.description.as_ref(),
        )
    }));
    items
}

/// The units of the unit table after `quantity<` or after a number and a space (`>= 35 `):
/// each UCUM code with what it measures, then the durations' words and `%`.
fn unit_items(before: &str) -> Option<Vec<CompletionItem>> {
    let after_number = before
        .strip_suffix([' ', '\t'])
        .is_some_and(|b| b.trim_end().ends_with(|c: char| c.is_ascii_digit()));
    if !before.ends_with("quantity<") && !after_number {
        return None;
    }
    // UCUM codes first, then the durations' words and `%`.
    let units = medpol_artifact::ucum::Ucum::codes()
        .filter_map(crate::types::Unit::parse)
        .chain(crate::types::Unit::ALL.iter().copied());
    Some(
        units
            .map(|u| CompletionItem {
                label: if u == crate::types::Unit::Percent {
                    "%".to_string()
                } else {
                    u.name().to_string()
                },
                kind: Some(CompletionItemKind::UNIT),
                detail: Some(u.describe()),
                ..CompletionItem::default()
            })
            .collect(),
    )
}

/// The enum values after `fact ==`, `fact !=` or `fact in { ...` (also `not in`).
fn enum_values(c: &Computed, before: &str) -> Option<Vec<CompletionItem>> {
    let eq = before.rfind("==").or_else(|| before.rfind("!="));
    let within = before
        .rfind(" in ")
        .map(|i| i + 1)
        .filter(|i| eq.is_none_or(|e| *i > e));
    let (at, rest) = match within {
        Some(i) => (i, before.get(i + 2..)?),
        None => (eq?, before.get(eq? + 2..)?),
    };
    // Right after `==`, or inside the braces of `in { ... }` before they close.
    let rest = rest.trim_start();
    let fits = match within {
        Some(_) => {
            rest.is_empty()
                || rest.strip_prefix('{').is_some_and(|list| {
                    list.chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | ' ' | ',' | '\t'))
                })
        }
        None => rest.is_empty(),
    };
    if !fits {
        return None;
    }
    let subject = before.get(..at)?.trim_end();
    let subject = subject.strip_suffix(" not").unwrap_or(subject).trim_end();
    let name_len = subject
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum::<usize>();
    let name = subject.get(subject.len() - name_len..)?;
    let p = c.checked.program();
    let fact = p.facts.iter().find(|f| f.name == name)?;
    let Type::Enum(id) = fact.ty else {
        return None;
    };
    let values = &p.enum_type(id)?.values;
    Some(
        values
            .iter()
            .map(|(v, _)| CompletionItem {
                label: v.clone(),
                kind: Some(CompletionItemKind::ENUM_MEMBER),
                detail: Some(format!("value of `{}`", fact.name)),
                ..CompletionItem::default()
            })
            .collect(),
    )
}

/// A code starts with a letter and a digit (`M4`), or with two digits (`27`, `0Q`).
fn looks_like_code(partial: &str) -> bool {
    let mut chars = partial.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) => {
            (a.is_ascii_alphabetic() && b.is_ascii_digit())
                || (a.is_ascii_digit() && b.is_ascii_alphanumeric())
        }
        _ => false,
    }
}

fn code_items(c: &Computed, file: FileId, partial: &str) -> Vec<CompletionItem> {
    let upper = partial.to_ascii_uppercase();
    let mut items = Vec::new();
    for system in System::ALL.iter().copied() {
        let Some(table) = table_for(c, file, system) else {
            continue;
        };
        for e in table
            .prefix(&upper)
            .take(MAX_CODES - items.len().min(MAX_CODES))
        {
            items.push(CompletionItem {
                label: e.code().to_string(),
                kind: Some(CompletionItemKind::VALUE),
                detail: Some(e.long()),
                documentation: Some(Documentation::String(format!(
                    "{} `{}`{}",
                    system.display(),
                    table.release(),
                    if e.is_billable() { "" } else { ", a heading" }
                ))),
                ..CompletionItem::default()
            });
        }
    }
    items
}

pub fn symbols(c: &Computed, uri: &str) -> Vec<DocumentSymbol> {
    let Some((id, file)) = c.file_of(uri) else {
        return Vec::new();
    };
    let p = c.checked.program();
    let symbol = |name: &str, detail: Option<String>, kind, span: Span, at: Span| {
        #[expect(
            deprecated,
            reason = "the protocol's `deprecated` field must still be filled"
        )]
        DocumentSymbol {
            name: name.to_string(),
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: convert::range(file, span),
            selection_range: convert::range(file, at),
            children: None,
        }
    };
    let mut out = Vec::new();
    for pol in p.policies.iter().filter(|x| x.file == id) {
        out.push(symbol(
            &pol.id,
            Some(pol.meta.title.clone()),
            SymbolKind::NAMESPACE,
            pol.span,
            pol.span,
        ));
    }
    for r in p.records.iter().filter(|x| x.file == id) {
        out.push(symbol(
            &r.name,
            Some("record".to_string()),
            SymbolKind::STRUCT,
            r.span,
            r.name_span,
        ));
    }
    for f in p
        .facts
        .iter()
        .filter(|x| x.file == id && x.record.is_none())
    {
        out.push(symbol(
            &f.name,
            Some(type_text(p, f.ty)),
            SymbolKind::FIELD,
            f.span,
            f.name_span,
        ));
    }
    for s in p.code_sets.iter().filter(|x| x.span.file == id) {
        if let Some(name) = &s.name {
            out.push(symbol(
                name,
                Some(s.system.display().to_string()),
                SymbolKind::CONSTANT,
                s.span,
                s.name_span,
            ));
        }
    }
    for d in p.defines.iter().filter(|x| x.file == id) {
        out.push(symbol(
            &d.name,
            None,
            SymbolKind::FUNCTION,
            d.span,
            d.name_span,
        ));
    }
    for d in p.decisions.iter().filter(|x| x.file == id) {
        let mut decision = symbol(
            &d.name,
            Some(d.hit.name().to_string()),
            SymbolKind::CLASS,
            d.span,
            d.name_span,
        );
        let rules = d
            .rules
            .iter()
            .map(|r| {
                let outcome = d.outcome_of(r).map(|o| o.name.clone());
                symbol(&r.name, outcome, SymbolKind::METHOD, r.span, r.name_span)
            })
            .collect();
        decision.children = Some(rules);
        out.push(decision);
    }
    for t in p.tests.iter().filter(|x| x.span.file == id) {
        out.push(symbol(&t.name, None, SymbolKind::EVENT, t.span, t.span));
    }
    for k in p.constraints.iter().filter(|x| x.file == id) {
        out.push(symbol(
            &k.name,
            None,
            SymbolKind::PROPERTY,
            k.span,
            k.name_span,
        ));
    }
    out.sort_by_key(|s| (s.range.start.line, s.range.start.character));
    out
}

/// The quick fixes a diagnostic carries (see `pipeline`: its fixes are its data).
pub fn code_actions(
    uri: &Uri,
    text: &str,
    diagnostics: &[lsp_types::Diagnostic],
) -> Vec<CodeActionOrCommand> {
    let file = SourceFile::new("", None, text.to_string());
    let mut out = Vec::new();
    for d in diagnostics {
        let Some(fixes) = d
            .data
            .as_ref()
            .and_then(|data| data.get("fixes"))
            .and_then(|f| serde_json::from_value::<Vec<TextEdit>>(f.clone()).ok())
        else {
            continue;
        };
        for fix in fixes {
            let start = convert::offset(&file, fix.range.start);
            let end = convert::offset(&file, fix.range.end);
            let old = text.get(start..end).unwrap_or("");
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("replace `{old}` with `{}`", fix.new_text),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![fix])])),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
                ..CodeAction::default()
            }));
        }
    }
    out
}

/// The edit that formats a document: its whole text replaced, or nothing when it is already
/// formatted.
pub fn format(text: &str) -> Result<Vec<TextEdit>, crate::format::Error> {
    let formatted = crate::format::format(FileId(0), text)?;
    if formatted == text {
        return Ok(Vec::new());
    }
    let file = SourceFile::new("", None, text.to_string());
    let whole = Span::new(FileId(0), 0, text.len());
    Ok(vec![TextEdit::new(convert::range(&file, whole), formatted)])
}
