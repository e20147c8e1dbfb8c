//! Writing the codes read as a `codes` block: complete families as patterns, the rest one code
//! a line, each with the table's description as a comment, in the formatter's style.
//!
//! A family is the codes of the table that start with a prefix (`M48.5`: the 36 codes of
//! collapsed vertebra). When every billable code of a family was read, the block says so with
//! the family's pattern (`M48.5-`), which expands to exactly those codes against the same
//! table; the widest such family wins. A table that lists only some codes of its system gets
//! no patterns: a pattern there would hold only the codes it happens to list. Ranges are never
//! written (`docs/decisions/0007-code-table-import.md`).

use std::collections::{HashMap, HashSet};

use crate::codes::{CodeForm, System, parse_code};
use crate::tables::Table;

use super::Item;

/// The shortest prefix a family is looked for under: an ICD-10-CM category, a CPT or PCS
/// code's first three characters.
const MIN_PREFIX: usize = 3;

/// The block's items for codes read in order (without repeats), and a sentence for each
/// family written as a pattern.
pub fn items(table: Option<&Table>, system: System, codes: &[String]) -> (Vec<Item>, Vec<String>) {
    let read: HashSet<&str> = codes.iter().map(String::as_str).collect();
    let mut complete: HashMap<String, Option<Vec<String>>> = HashMap::new();
    let mut covered: HashSet<String> = HashSet::new();
    let mut items = Vec::new();
    let mut families = Vec::new();
    for code in codes {
        if covered.contains(code) {
            continue;
        }
        let family = table
            .filter(|t| t.covers(code))
            .and_then(|t| family(t, system, code, &read, &mut complete));
        match family {
            Some((pattern, root, members)) => {
                let n = members.len();
                let comment = match table.and_then(|t| t.lookup(&root)) {
                    Some(e) => format!("{} (all {n} codes)", e.long()),
                    None => format!("all {n} codes starting `{}`", pattern_stem(&pattern)),
                };
                families.push(format!(
                    "`{pattern}` stands for the {n} codes read from `{}` to `{}`: every billable code of `{root}` in {}",
                    members.first().map_or("", String::as_str),
                    members.last().map_or("", String::as_str),
                    table.map_or("the table", Table::release)
                ));
                covered.extend(members.iter().cloned());
                items.push(Item {
                    item: pattern,
                    comment: clean(&comment),
                    codes: members,
                });
            }
            None => {
                covered.insert(code.clone());
                items.push(Item {
                    item: code.clone(),
                    comment: clean(&comment_of(table, system, code)),
                    codes: vec![code.clone()],
                });
            }
        }
    }
    (items, families)
}

/// The widest family of the table holding `code` whose every billable code was read (at least
/// two): its pattern, the prefix it was found under, and its codes in table order.
fn family(
    table: &Table,
    system: System,
    code: &str,
    read: &HashSet<&str>,
    complete: &mut HashMap<String, Option<Vec<String>>>,
) -> Option<(String, String, Vec<String>)> {
    let chars: Vec<char> = code.chars().collect();
    for n in MIN_PREFIX..chars.len() {
        let prefix: String = chars.iter().take(n).collect();
        if prefix.ends_with('.') {
            continue;
        }
        let members = complete
            .entry(prefix.clone())
            .or_insert_with(|| {
                let mut members = Vec::new();
                for e in table.billable_under(&prefix) {
                    if !read.contains(e.code()) {
                        return None;
                    }
                    members.push(e.code().to_string());
                }
                (members.len() >= 2).then_some(members)
            })
            .clone();
        if let Some(members) = members
            && let Some(pattern) = pattern(system, &members)
        {
            return Some((pattern, prefix, members));
        }
    }
    None
}

/// The pattern of a family: its codes' common beginning, ended as the system prints a
/// pattern (`M80.08X-`, `0QS0*`); checked to read back as that beginning.
fn pattern(system: System, members: &[String]) -> Option<String> {
    let first = members.first()?;
    let mut stem: Vec<char> = first.chars().collect();
    for m in members {
        let shared = stem
            .iter()
            .zip(m.chars())
            .take_while(|(a, b)| **a == *b)
            .count();
        stem.truncate(shared);
    }
    let stem: String = stem.into_iter().collect();
    let written = match system {
        System::Icd10Cm => format!("{stem}-"),
        _ => format!("{stem}*"),
    };
    match parse_code(system, &written) {
        Ok(CodeForm::Prefix(p)) if p == stem.trim_end_matches('.') => Some(written),
        _ => None,
    }
}

fn pattern_stem(pattern: &str) -> &str {
    pattern.trim_end_matches(['-', '*'])
}

/// The comment of one code: the table's description, or why there is none.
fn comment_of(table: Option<&Table>, system: System, code: &str) -> String {
    match table {
        Some(t) => match t.lookup(code) {
            Some(e) => e.long(),
            None => format!("not listed in {}, which lists only some codes", t.release()),
        },
        None => format!("no {} table in force", system.display()),
    }
}

/// A description as a line comment: one line, no control characters.
fn clean(text: &str) -> String {
    let one: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    one.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The block as medpol text in the formatter's style (`docs/formatting.md`): one item a line,
/// the comments lined up three spaces after the longest item.
pub fn render(
    name: &str,
    system: System,
    table: Option<&Table>,
    items: &[Item],
    count: usize,
) -> String {
    let against = match table {
        Some(t) => format!("checked against {}", t.release()),
        None => format!("no {} table in force", system.display()),
    };
    let codes = if count == 1 { "code" } else { "codes" };
    let mut out = format!(
        "// {count} {} {codes} read by `medpol codes import`, {against}\ncodes {name} = {} {{\n",
        system.display(),
        system.name()
    );
    let width = items
        .iter()
        .map(|i| i.item.chars().count())
        .max()
        .unwrap_or(0);
    for item in items {
        if item.comment.is_empty() {
            out.push_str(&format!("  {}\n", item.item));
        } else {
            out.push_str(&format!("  {:<width$}   // {}\n", item.item, item.comment));
        }
    }
    out.push_str("}\n");
    out
}
