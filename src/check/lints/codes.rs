//! The code-table warnings: passes over the code set items and rules of the checked model.
//! They read the tables through what typing recorded ([`CodeTables`]): the release in force
//! for each file, and the items found without error (an item with an error gets no warning).

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::Context;
use crate::ast::Quantifier;
use crate::check::codes::{item_lists, test_codes};
use crate::codes::{CodeItem, System};
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;
use crate::source::Span;
use crate::tables::{Entry, Table};

/// Each item list with the table its file reads it against (a list with no table of its
/// system is not checked).
fn lists<'c>(cx: &Context<'c>) -> impl Iterator<Item = (&'c Table, &'c [SetItem])> {
    item_lists(cx.program)
        .into_iter()
        .filter_map(|(system, file, items)| Some((cx.codes.table_for(file, system)?, items)))
}

/// A policy older than every release of a system its codes were read against: the note says
/// which release stood in, once per file and system.
pub(super) fn no_table_in_force(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for (file, system, date, first) in cx.codes.read_before_release() {
        out.push(
            Diagnostic::new(
                Code::NoTableInForce,
                format!(
                    "no {} table was in force on {date}; codes are checked against `{}`",
                    system.display(),
                    first.release()
                ),
            )
            .primary(cx.codes.policy_span(file), format!("effective {date}"))
            .help(format!(
                "`{}` took effect on {}; name an older release in `medpol.yaml` if the project has one",
                first.release(),
                first.effective()
            )),
        );
    }
}

/// Codes a partial table (such as the shipped CPT table, which lists only the codes medpol's
/// own policies use) does not list are taken as written in code sets and tests alike
/// ([`Table::status`]): a note says so once per release, at the first such code.
pub(super) fn partial_tables<'c>(cx: &Context<'c>, out: &mut Vec<Diagnostic>) {
    // `Table::status` is `None` only for a code outside what the table covers: a whole table
    // needs no lookup.
    let unlisted = |table: &Table, code: &str| !table.covers(code) && table.status(code).is_none();
    // Per release: the table, the first code taken as written, and how many were.
    let mut found: Vec<(&'c Table, Span, usize)> = Vec::new();
    let mut note = |table: &'c Table, span: Span| match found
        .iter_mut()
        .find(|(t, ..)| t.release() == table.release())
    {
        Some((_, first, count)) => {
            *count += 1;
            if (span.file, span.start) < (first.file, first.start) {
                *first = span;
            }
        }
        None => found.push((table, span, 1)),
    };
    for (table, items) in lists(cx) {
        for item in items {
            let taken = match &item.item {
                CodeItem::Exact(code) | CodeItem::Prefix(code) => unlisted(table, code),
                CodeItem::Range(lo, hi) => unlisted(table, lo) || unlisted(table, hi),
            };
            if taken {
                note(table, item.span);
            }
        }
    }
    for (system, file, code, span) in test_codes(cx.program) {
        if let Some(table) = cx.codes.table_for(file, system)
            && unlisted(table, code)
        {
            note(table, span);
        }
    }
    for (table, first, count) in found {
        let more = match count {
            1 => String::new(),
            2 => " and 1 more".to_string(),
            n => format!(" and {} more", n - 1),
        };
        out.push(
            Diagnostic::new(
                Code::PartialTable,
                format!(
                    "the {} table `{}` lists only some codes: codes it does not list are taken as written",
                    table.system().display(),
                    table.release()
                ),
            )
            .primary(first, format!("not in `{}`{more}", table.release()))
            .help("import the full table of the system (`medpol tables import`) to check every code"),
        );
    }
}

/// A code written with a lower-case placeholder `x`.
pub(super) fn lowercase_placeholders(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for (table, items) in lists(cx) {
        if table.system() != System::Icd10Cm {
            continue;
        }
        for item in items.iter().filter(|i| i.written.contains('x')) {
            out.push(
                Diagnostic::new(
                    Code::LowercasePlaceholder,
                    format!(
                        "`{}` is written with a lower-case `x`",
                        shown(&item.written)
                    ),
                )
                .primary(item.span, "read as upper case")
                .help(format!(
                    "the tables write the placeholder `X`: `{}`",
                    item.item
                )),
            );
        }
    }
}

/// A code listed twice in one list, or already covered by a pattern or range of the list.
pub(super) fn duplicate_codes(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for (_, items) in lists(cx) {
        let mut seen: HashMap<&str, Span> = HashMap::default();
        for item in items {
            let CodeItem::Exact(code) = &item.item else {
                continue;
            };
            match seen.get(code.as_str()) {
                Some(first) => out.push(
                    Diagnostic::new(Code::DuplicateCode, format!("`{code}` is listed twice"))
                        .primary(item.span, "again")
                        .secondary(*first, "first listed here")
                        .help("remove the repeat"),
                ),
                None => {
                    seen.insert(code, item.span);
                }
            }
        }
        // An exact code that a pattern or range of the same list already covers (a repeat of
        // a code is reported above, once).
        let mut met = HashSet::default();
        for item in items {
            let CodeItem::Exact(code) = &item.item else {
                continue;
            };
            if !met.insert(code) {
                continue;
            }
            if let Some(cover) = items
                .iter()
                .find(|o| !matches!(o.item, CodeItem::Exact(_)) && o.item.matches(code))
            {
                out.push(
                    Diagnostic::new(
                        Code::DuplicateCode,
                        format!("`{code}` is already covered by `{}`", cover.written),
                    )
                    .primary(item.span, "covered twice")
                    .secondary(cover.span, "covers it")
                    .help("remove the code, or the wider item if it was not meant"),
                );
            }
        }
    }
}

/// A billable code of the release in force that a later release the project names deletes or
/// makes a heading.
pub(super) fn codes_changed_later(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    // Per release, the codes found unchanged: a code written again elsewhere is not looked
    // up again.
    let mut unchanged: HashSet<(&str, &str)> = HashSet::default();
    for (table, items) in lists(cx) {
        let later = cx.codes.later_releases(table);
        if later.is_empty() {
            continue;
        }
        // A code listed again is reported once, where it is first listed.
        let mut seen = HashSet::default();
        for item in items {
            let CodeItem::Exact(code) = &item.item else {
                continue;
            };
            if seen.insert(code)
                && !unchanged.contains(&(table.release(), code.as_str()))
                && cx.codes.is_clean(table, &item.item)
                // A clean code of a kind the table covers is billable (else it had a finding).
                && (table.covers(code) || table.lookup(code).is_some_and(|e| e.is_billable()))
                && !changed_later(table, &later, code, item.span, out)
            {
                unchanged.insert((table.release(), code));
            }
        }
    }
}

/// A code valid in the release in force but deleted or no longer billable later: reports the
/// first such release; returns whether there was one.
fn changed_later(
    table: &Table,
    later: &[&Table],
    code: &str,
    span: Span,
    out: &mut Vec<Diagnostic>,
) -> bool {
    for next in later {
        let change = match next.lookup(code) {
            None => format!("deleted in `{}`", next.release()),
            Some(e) if !e.is_billable() => {
                let below: Vec<String> = e
                    .children()
                    .iter()
                    .take(4)
                    .map(|c| format!("`{}`", c.code()))
                    .collect();
                format!(
                    "a heading in `{}` (no longer billable; below it: {})",
                    next.release(),
                    below.join(", ")
                )
            }
            Some(_) => continue,
        };
        out.push(
            Diagnostic::new(
                Code::CodeChangedLater,
                format!("`{code}` is billable in `{}` but {change}", table.release()),
            )
            .primary(span, format!("changes in `{}`", next.release()))
            .help(format!(
                "claims from {} on cannot carry it; add the codes that replace it",
                next.effective()
            )),
        );
        return true;
    }
    false
}

/// A range of ICD-10-CM codes that runs across several subcategories or encounter kinds.
pub(super) fn wide_ranges(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    // Per release, the ranges found narrow: a range written again elsewhere is not read again.
    let mut narrow: HashSet<(&str, &CodeItem)> = HashSet::default();
    for (table, items) in lists(cx) {
        if table.system() != System::Icd10Cm {
            continue;
        }
        for item in items {
            // A range typing found without error, between codes of a table that covers them,
            // has two known ends in order and holds billable codes.
            if let CodeItem::Range(lo, hi) = &item.item
                && table.covers(lo)
                && table.covers(hi)
                && !narrow.contains(&(table.release(), &item.item))
                && cx.codes.is_clean(table, &item.item)
                && !wide_range(table, lo, hi, item, out)
            {
                narrow.insert((table.release(), &item.item));
            }
        }
    }
}

/// Reports the range if it is wide; returns whether it did.
fn wide_range(
    table: &Table,
    lo: &str,
    hi: &str,
    item: &SetItem,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let billable: Vec<Entry<'_>> = table.range(lo, hi).filter(|e| e.is_billable()).collect();
    // Subcategories (the code before its 7th character) and encounter kinds (7th
    // characters) the range pulls in.
    let mut subcategories: Vec<String> = Vec::new();
    let mut kinds: HashSet<char> = HashSet::default();
    for e in &billable {
        let code = e.code();
        let sub = match e.seventh_char() {
            Some(c) => {
                kinds.insert(c);
                code.get(..code.len().saturating_sub(1))
                    .unwrap_or(code)
                    .trim_end_matches('X')
                    .to_string()
            }
            None => e
                .parent()
                .map_or_else(|| code.to_string(), |p| p.code().to_string()),
        };
        if subcategories.last() != Some(&sub) {
            subcategories.push(sub);
        }
    }
    subcategories.dedup();
    if subcategories.len() > 1 || kinds.len() > 1 {
        let listed: Vec<String> = subcategories
            .iter()
            .take(6)
            .map(|s| format!("`{s}`"))
            .collect();
        let more = subcategories.len().saturating_sub(6);
        let listed = if more > 0 {
            format!("{} and {more} more", listed.join(", "))
        } else {
            listed.join(", ")
        };
        let mut d = Diagnostic::new(
            Code::WideRange,
            format!(
                "the range `{}` covers {} codes in {} subcategor{}",
                shown(&item.written),
                billable.len(),
                subcategories.len(),
                if subcategories.len() == 1 { "y" } else { "ies" }
            ),
        )
        .primary(item.span, format!("{} billable codes", billable.len()))
        .note(format!("it pulls in {listed}"));
        if kinds.len() > 1 {
            let mut k: Vec<char> = kinds.into_iter().collect();
            k.sort_unstable();
            d = d.note(format!(
                "and {} encounter kinds (7th characters {})",
                k.len(),
                k.iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(d.help("a range runs in code order across everything between its ends; if these are the codes meant, a pattern such as `M48.5-` says so more plainly"));
        return true;
    }
    false
}

/// An add-on code a rule covers without requiring one of its primary codes.
///
/// A rule "requires" a set when its condition is a conjunction with `fact has any/all SET`
/// (or `fact in SET`) as a part. Under `first`, a rule is reached only when every earlier rule
/// is false, so an earlier rule that is false only with a code of a set present (`fact has
/// none of SET`, `not (fact has any SET)`, either as the whole condition or as a part of an
/// `or`) requires that set of the later rules too. That is what the model proves without the
/// analysis; a requirement that only the decision's diagram shows (an earlier rule that
/// excludes the patients without a primary code some other way, a constraint, a definition)
/// is not seen, and the lint may still fire there.
pub(super) fn addons(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for d in &cx.program.decisions {
        // The sets the rules so far, being false, require (under `first` only).
        let mut reached_with: Vec<(FactId, CodeSetId)> = Vec::new();
        for r in &d.rules {
            let own: Vec<(FactId, CodeSetId, Span)> = conjuncts(&r.condition)
                .filter_map(|p| positive(p).map(|(f, s)| (f, s, p.span)))
                .collect();
            let required: Vec<(FactId, CodeSetId)> = reached_with
                .iter()
                .copied()
                .chain(own.iter().map(|&(f, s, _)| (f, s)))
                .collect();
            for &(fact, set, span) in &own {
                addons_in(cx, r, (fact, set, span), &required, out);
            }
            if d.hit == HitPolicy::First {
                reached_with.extend(disjuncts(&r.condition).filter_map(negative));
            }
        }
    }
}

/// The add-on codes of a set a rule requires, each reported unless another set the rule
/// requires of the same fact holds one of its primary codes.
fn addons_in(
    cx: &Context<'_>,
    r: &Rule,
    (fact, set, span): (FactId, CodeSetId, Span),
    required: &[(FactId, CodeSetId)],
    out: &mut Vec<Diagnostic>,
) {
    let Some(system) = cx.program.code_set(set).map(|s| s.system) else {
        return;
    };
    // Only procedure code systems have add-on codes.
    if !matches!(system, System::Cpt | System::Hcpcs) {
        return;
    }
    let Some(table) = cx.codes.tables().latest(system) else {
        return;
    };
    let addons = table
        .iter()
        .filter(|e| e.is_addon() && cx.program.set_contains(set, e.code()));
    for addon in addons {
        let primaries = addon.primaries();
        let has_primary = required.iter().any(|&(f, s)| {
            f == fact && s != set && primaries.iter().any(|p| cx.program.set_contains(s, p))
        });
        if has_primary {
            continue;
        }
        // The help writes a requirement of this add-on's own primary codes (a few of them).
        const SHOWN: usize = 3;
        let mut example: Vec<&str> = primaries.iter().take(SHOWN).map(String::as_str).collect();
        if primaries.len() > SHOWN {
            example.push("...");
        }
        let help = match cx.program.fact(fact) {
            Some(f) if matches!(f.ty, crate::types::Type::CodeSet(_)) => format!(
                "require a primary code too, such as `{} has any {{ {} }}`",
                shown(&f.name),
                example.join(", ")
            ),
            _ => format!(
                "require a primary code too ({}) in a fact that holds the claim's codes",
                example.join(", ")
            ),
        };
        out.push(
            Diagnostic::new(
                Code::AddonWithoutPrimary,
                format!(
                    "rule `{}` covers the add-on code `{}` without requiring one of its primary codes",
                    shown(&r.name),
                    addon.code()
                ),
            )
            .primary(span, format!("includes `{}`", addon.code()))
            .secondary(r.name_span, "this rule")
            .note(format!(
                "`{}` is reported only with {}",
                addon.code(),
                primaries
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))
            .help(help),
        );
    }
}

fn conjuncts(e: &Expr) -> impl Iterator<Item = &Expr> {
    match &e.kind {
        ExprKind::And(parts) => parts.iter(),
        _ => std::slice::from_ref(e).iter(),
    }
}

fn disjuncts(e: &Expr) -> impl Iterator<Item = &Expr> {
    match &e.kind {
        ExprKind::Or(parts) => parts.iter(),
        _ => std::slice::from_ref(e).iter(),
    }
}

/// The set a condition requires a code of, when it holds.
fn positive(e: &Expr) -> Option<(FactId, CodeSetId)> {
    match &e.kind {
        ExprKind::CodeIn { fact, set } => Some((*fact, *set)),
        ExprKind::Has {
            fact,
            quantifier,
            set,
        } if *quantifier != Quantifier::None => Some((*fact, *set)),
        _ => None,
    }
}

/// The set a condition requires a code of, when it is false.
fn negative(e: &Expr) -> Option<(FactId, CodeSetId)> {
    match &e.kind {
        ExprKind::Has {
            fact,
            quantifier: Quantifier::None,
            set,
        } => Some((*fact, *set)),
        ExprKind::Not(inner) => positive(inner),
        _ => None,
    }
}
