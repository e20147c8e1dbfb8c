//! Flat tab-separated code lists: a header row naming the columns, then one code per line.

use std::collections::HashMap;

use crate::codes::System;
use crate::tables::code::CodeBuf;
use crate::tables::data::{EntryData, TableData};

use super::{At, ImportError, Release, code, no_repeats};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Code,
    Billable,
    Short,
    Long,
    Addon,
    Primaries,
}

impl Column {
    fn parse(name: &str) -> Option<Column> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "code" => Column::Code,
            "billable" => Column::Billable,
            "short" | "short_description" => Column::Short,
            "long" | "long_description" => Column::Long,
            "addon" | "add_on" => Column::Addon,
            "primaries" => Column::Primaries,
            _ => return None,
        })
    }
}

fn flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" => Some(true),
        "0" | "false" | "no" | "n" | "" => Some(false),
        _ => None,
    }
}

/// Reads a tab-separated list. Its header row names the columns: `code`, `billable` (1 or 0),
/// `short` and `long` (or `short_description` and `long_description`), and optionally
/// `addon` (1 or 0) and `primaries` (codes separated by spaces or commas). An ICD-10-CM list
/// includes its 7th-character codes; the importer finds the rules they follow and stores
/// them as rules (see [`TableData::derive_seventh`]), keeping only the short descriptions
/// the rules cannot give.
pub fn tsv(text: &str, file: &str, release: &Release) -> Result<TableData, ImportError> {
    let at = At { file };
    let system = release.system;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (header_line, header) = lines.next().ok_or_else(|| at.file("the file is empty"))?;
    let mut columns = Vec::new();
    for name in header.split('\t') {
        let column = Column::parse(name).ok_or_else(|| {
            at.line(
                header_line,
                format!(
                    "unknown column `{}`; the columns are code, billable, short, long, addon, primaries",
                    name.trim()
                ),
            )
        })?;
        if columns.contains(&column) {
            return Err(at.line(
                header_line,
                format!("the column `{}` is there twice", name.trim()),
            ));
        }
        columns.push(column);
    }
    for (needed, name) in [
        (Column::Code, "code"),
        (Column::Billable, "billable"),
        (Column::Long, "long"),
    ] {
        if !columns.contains(&needed) {
            return Err(at.line(
                header_line,
                format!("the header row has no `{name}` column (columns are separated by tabs)"),
            ));
        }
    }
    let mut rows: Vec<(EntryData, usize)> = Vec::new();
    for (line, text) in lines {
        let fields: Vec<&str> = text.split('\t').collect();
        if fields.len() != columns.len() {
            return Err(at.line(
                line,
                format!(
                    "{} columns where the header has {}",
                    fields.len(),
                    columns.len()
                ),
            ));
        }
        let mut e = EntryData::default();
        for (column, field) in columns.iter().zip(&fields) {
            let field = field.trim();
            match column {
                Column::Code => e.code = code(system, field).map_err(|m| at.line(line, m))?,
                Column::Billable => {
                    e.billable = flag(field).filter(|_| !field.is_empty()).ok_or_else(|| {
                        at.line(
                            line,
                            format!(
                                "billable is 1 or 0, not `{}`",
                                crate::diagnostic::shown(field)
                            ),
                        )
                    })?;
                }
                Column::Short => e.short = Some(field.to_string()).filter(|s| !s.is_empty()),
                Column::Long => e.long = field.to_string(),
                Column::Addon => {
                    e.addon = flag(field).ok_or_else(|| {
                        at.line(
                            line,
                            format!("addon is 1 or 0, not `{}`", crate::diagnostic::shown(field)),
                        )
                    })?;
                }
                Column::Primaries => {
                    for p in field.split([' ', ',', ';']).filter(|p| !p.is_empty()) {
                        e.primaries
                            .push(code(system, p).map_err(|m| at.line(line, m))?);
                    }
                }
            }
        }
        if e.long.is_empty() {
            e.long = e.short.clone().ok_or_else(|| {
                at.line(
                    line,
                    format!(
                        "`{}` has no description",
                        crate::diagnostic::shown(e.code.as_ref())
                    ),
                )
            })?;
        }
        if !e.primaries.is_empty() && !e.addon {
            return Err(at.line(
                line,
                format!(
                    "`{}` has primary codes but is not an add-on code",
                    crate::diagnostic::shown(e.code.as_ref())
                ),
            ));
        }
        rows.push((e, line));
    }
    if rows.is_empty() {
        return Err(at.file("no codes in the file"));
    }
    rows.sort_by(|a, b| a.0.code.cmp(&b.0.code));
    no_repeats(at, &rows, |e| e.code.as_str())?;
    let entries: Vec<EntryData> = rows.into_iter().map(|(e, _)| e).collect();
    let mut table = release.table(system == System::Icd10Cm);
    table.entries = if system == System::Icd10Cm {
        fold_seventh(entries)
    } else {
        entries
    };
    Ok(table)
}

/// The derived codes of one base: its rule's characters and meanings, the rows they are.
struct Derived {
    rule: Vec<(char, String)>,
    rows: Vec<usize>,
}

/// Finds the 7th-character codes of a flat ICD-10-CM list that a rule can give back exactly,
/// drops them, and stores the rule instead.
///
/// A row is a derived code of a base when it is the base padded with placeholder `X` plus one
/// character and its long description is the base's, a comma and a meaning. A base whose
/// children are all such rows gets the rule made of them. A rule moves up to a header when
/// all the header's children have the same rule, so the rule sits where the tabular's
/// `sevenChrDef` would (`M48.5`, not each of `M48.50` to `M48.58`).
fn fold_seventh(entries: Vec<EntryData>) -> Vec<EntryData> {
    let index: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.code.as_str(), i))
        .collect();
    let parent: Vec<Option<usize>> = entries
        .iter()
        .map(|e| {
            let code = CodeBuf::new(e.code.as_bytes())?;
            code.ancestors()
                .find_map(|a| index.get(a.as_str()).copied())
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); entries.len()];
    for (i, p) in parent.iter().enumerate() {
        if let Some(list) = p.and_then(|p| children.get_mut(p)) {
            list.push(i);
        }
    }

    let mut derived: HashMap<usize, Derived> = HashMap::new();
    for (b, base) in entries.iter().enumerate() {
        let kids = children.get(b).map_or(&[][..], Vec::as_slice);
        if base.billable || kids.is_empty() {
            continue;
        }
        let Some(code) = CodeBuf::new(base.code.as_bytes()) else {
            continue;
        };
        let lead = format!("{}, ", base.long);
        let rule: Option<Vec<(char, String)>> = kids
            .iter()
            .map(|&k| {
                let kid = entries.get(k)?;
                let ch = *kid.code.as_bytes().last()?;
                let meaning = kid.long.strip_prefix(&lead)?;
                let exact = code
                    .with_seventh(ch)
                    .is_some_and(|c| c.as_str() == kid.code);
                (exact && kid.billable && !meaning.is_empty())
                    .then(|| (char::from(ch), meaning.to_string()))
            })
            .collect();
        if let Some(rule) = rule {
            derived.insert(
                b,
                Derived {
                    rule,
                    rows: kids.to_vec(),
                },
            );
        }
    }

    // Rules bottom-up: children sort after their parent, so walking backwards sees them first.
    let mut rule_at: Vec<Option<Vec<(char, String)>>> = vec![None; entries.len()];
    for i in (0..entries.len()).rev() {
        let own = derived.get(&i).map(|d| d.rule.clone());
        let kids = children.get(i).map_or(&[][..], Vec::as_slice);
        let shared = match kids.split_first() {
            Some((first, rest)) if own.is_none() => {
                let r = rule_at.get(*first).cloned().flatten();
                r.filter(|r| {
                    rest.iter()
                        .all(|k| rule_at.get(*k).and_then(Option::as_ref) == Some(r))
                })
            }
            _ => None,
        };
        if let Some(slot) = rule_at.get_mut(i) {
            *slot = own.or(shared);
        }
    }

    let dropped: std::collections::HashSet<usize> = derived
        .values()
        .flat_map(|d| d.rows.iter().copied())
        .collect();
    let mut shorts: HashMap<usize, Vec<String>> = HashMap::new();
    for (&b, d) in &derived {
        let s: Option<Vec<String>> = d
            .rows
            .iter()
            .map(|&r| entries.get(r)?.short.clone())
            .collect();
        if let Some(s) = s {
            shorts.insert(b, s);
        }
    }
    let defined: Vec<Option<Vec<(char, String)>>> = (0..entries.len())
        .map(|i| {
            let rule = rule_at.get(i).cloned().flatten()?;
            let above = parent
                .get(i)
                .copied()
                .flatten()
                .and_then(|p| rule_at.get(p).cloned().flatten());
            (above.as_ref() != Some(&rule)).then_some(rule)
        })
        .collect();
    entries
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(i, e)| EntryData {
            seventh: defined.get(i).cloned().flatten(),
            derived_shorts: shorts.remove(&i).unwrap_or_default(),
            ..e
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Date;

    fn release(system: System) -> Release {
        Release {
            system,
            id: "test".into(),
            title: "test".into(),
            effective: Date::parse("2024-10-01").unwrap(),
            covers: "*".to_string(),
        }
    }

    const LIST: &str = "code\tbillable\tshort_description\tlong_description
M48.5\t0\tCollapsed vertebra, NEC\tCollapsed vertebra, not elsewhere classified
M48.50\t0\tCollapsed vertebra, NEC, site unsp\tCollapsed vertebra, not elsewhere classified, site unspecified
M48.50XA\t1\tCollapsed vert, unsp, init\tCollapsed vertebra, not elsewhere classified, site unspecified, initial encounter for fracture
M48.50XD\t1\tCollapsed vert, unsp, subs\tCollapsed vertebra, not elsewhere classified, site unspecified, subsequent encounter for fracture with routine healing
M48.51\t0\tCollapsed vertebra, NEC, occ\tCollapsed vertebra, not elsewhere classified, occipito-atlanto-axial region
M48.51XA\t1\tCollapsed vert, occ, init\tCollapsed vertebra, not elsewhere classified, occipito-atlanto-axial region, initial encounter for fracture
M48.51XD\t1\tCollapsed vert, occ, subs\tCollapsed vertebra, not elsewhere classified, occipito-atlanto-axial region, subsequent encounter for fracture with routine healing
G35\t1\tMultiple sclerosis\tMultiple sclerosis
C44.102\t0\tUnsp malig neoplasm skin of right eyelid\tUnspecified malignant neoplasm of skin of right eyelid, including canthus
C44.1021\t1\tUnsp malig neoplasm skin of right upper eyelid\tUnspecified malignant neoplasm of skin of right upper eyelid, including canthus
";

    #[test]
    fn seventh_characters_become_rules() {
        let t = tsv(LIST, "list.tsv", &release(System::Icd10Cm)).unwrap();
        assert!(t.derive_seventh);
        let codes: Vec<&str> = t.entries.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            ["C44.102", "C44.1021", "G35", "M48.5", "M48.50", "M48.51"]
        );
        let m485 = t.entries.iter().find(|e| e.code == "M48.5").unwrap();
        let rule = m485.seventh.as_ref().unwrap();
        assert_eq!(rule.len(), 2);
        assert_eq!(rule[1].0, 'D');
        let m4850 = t.entries.iter().find(|e| e.code == "M48.50").unwrap();
        assert!(m4850.seventh.is_none(), "the rule moved up to M48.5");
        assert_eq!(
            m4850.derived_shorts,
            ["Collapsed vert, unsp, init", "Collapsed vert, unsp, subs"]
        );
        let c44 = t.entries.iter().find(|e| e.code == "C44.102").unwrap();
        assert!(
            c44.seventh.is_none(),
            "C44.1021 is a code of its own, not a 7th character"
        );
    }

    #[test]
    fn cpt_columns() {
        let text = "code\tbillable\tshort\tlong\taddon\tprimaries\n22512\t1\tVertebroplasty, each additional\t\t1\t22510 22511\n22510\t1\tVertebroplasty, one\t\t0\t\n";
        let t = tsv(text, "cpt.tsv", &release(System::Cpt)).unwrap();
        assert_eq!(t.entries[1].primaries, ["22510", "22511"]);
        assert!(t.entries[1].addon);
        assert_eq!(t.entries[0].long, "Vertebroplasty, one");
        assert!(!t.derive_seventh);
    }

    fn error(text: &str) -> String {
        tsv(text, "bad.tsv", &release(System::Icd10Cm))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn malformed_lists_name_file_and_line() {
        assert_eq!(error(""), "bad.tsv: the file is empty");
        assert_eq!(
            error("code\tshort\tlong\nA00\tx\ty\n"),
            "bad.tsv:1: the header row has no `billable` column (columns are separated by tabs)"
        );
        assert_eq!(
            error("code\tbillable\tshort\tlong\nA00\t1\tCholera\n"),
            "bad.tsv:2: 3 columns where the header has 4"
        );
        assert_eq!(
            error(
                "code\tbillable\tshort\tlong\nA00\t1\tx\tCholera\nA01\t1\tx\tTyphoid\nA00\t0\ty\tCholera\n"
            ),
            "bad.tsv:4: `A00` is listed twice (first on line 2)"
        );
        assert_eq!(
            error("code\tbillable\tshort\tlong\nA000\t1\tx\tCholera\n"),
            "bad.tsv:2: `A000` is not a valid ICD-10-CM code: the `.` after the third character is missing"
        );
        assert_eq!(
            error("code\tbillable\tshort\tlong\nA00\tmaybe\tx\tCholera\n"),
            "bad.tsv:2: billable is 1 or 0, not `maybe`"
        );
        assert!(
            error("code\tbillable\tcolour\tlong\n")
                .starts_with("bad.tsv:1: unknown column `colour`")
        );
    }
}
