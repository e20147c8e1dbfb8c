//! The CMS ICD-10-CM tabular XML: `chapter` > `section` > `diag` (categories) > `diag` ...,
//! each `diag` with `name` (the code), `desc`, notes (`excludes1` among them) and, for
//! categories whose codes take a 7th character, `sevenChrDef`.

use std::collections::HashMap;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use crate::codes::System;
use crate::tables::code::CodeBuf;
use crate::tables::data::{EntryData, NoteData, TableData};
use crate::tables::notes::parse_refs;

use super::{At, ImportError, Release, code, no_repeats, tidy};

const ROOT: &[u8] = b"ICD10CM.tabular";

/// One open `diag` element.
#[derive(Default)]
struct Diag {
    line: usize,
    name: Option<String>,
    desc: Option<String>,
    excludes1: Vec<String>,
    seventh: Option<Vec<(char, String)>>,
    /// The code of the enclosing `diag`.
    parent: Option<String>,
}

/// One closed `diag`, in document order.
struct Closed {
    line: usize,
    entry: EntryData,
    parent: Option<String>,
}

/// Reads the tabular XML. The 7th-character codes are not listed in it; the table derives them
/// (see [`TableData::derive_seventh`]), so the leaves under a `sevenChrDef` are headers and
/// the other leaves are billable.
pub fn icd10cm_xml(text: &str, file: &str, release: &Release) -> Result<TableData, ImportError> {
    let at = At { file };
    if release.system != System::Icd10Cm {
        return Err(at.file(format!(
            "the CMS tabular XML is ICD-10-CM, not {}",
            release.system.display()
        )));
    }
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line_of = |offset: u64| newlines.partition_point(|&n| (n as u64) < offset) + 1;

    let mut reader = Reader::from_str(text);
    // Element names with the line each opens on.
    let mut path: Vec<(Vec<u8>, usize)> = Vec::new();
    let mut open: Vec<Diag> = Vec::new();
    let mut closed: Vec<Closed> = Vec::new();
    let mut buf = String::new();
    let mut seventh_char: Option<char> = None;
    loop {
        let start = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| at.line(line_of(reader.error_position()), format!("broken XML: {e}")))?;
        let line = line_of(start);
        let inside = |path: &[(Vec<u8>, usize)], names: &[&[u8]]| {
            path.len() >= names.len()
                && path
                    .iter()
                    .rev()
                    .zip(names.iter().rev())
                    .all(|((p, _), n)| p.as_slice() == *n)
        };
        match event {
            Event::Empty(e) if path.is_empty() => {
                return Err(not_tabular(at, line, e.name().as_ref().as_bytes()));
            }
            Event::Start(e) => {
                let name = e.name().as_ref().as_bytes().to_vec();
                if path.is_empty() && name != ROOT {
                    return Err(not_tabular(at, line, &name));
                }
                if name == b"diag" {
                    let parent = open.last().and_then(|d| d.name.clone());
                    open.push(Diag {
                        line,
                        parent,
                        ..Diag::default()
                    });
                }
                if name == b"extension" && inside(&path, &[b"diag", b"sevenChrDef"]) {
                    let attr = e
                        .try_get_attribute("char")
                        .map_err(|err| at.line(line, format!("broken XML: {err}")))?
                        .ok_or_else(|| {
                            at.line(line, "an <extension> without its `char` attribute")
                        })?;
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|err| at.line(line, format!("broken XML: {err}")))?;
                    let mut chars = value.chars();
                    seventh_char = match (chars.next(), chars.next()) {
                        (Some(c), None) if c.is_ascii_alphanumeric() => {
                            Some(c.to_ascii_uppercase())
                        }
                        _ => {
                            return Err(at.line(
                                line,
                                format!(
                                    "`{}` is not a 7th character",
                                    crate::diagnostic::shown(&value)
                                ),
                            ));
                        }
                    };
                }
                path.push((name, line));
                buf.clear();
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                buf.push_str(&content);
            }
            Event::CData(t) => buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => {
                        quick_xml::escape::resolve_predefined_entity(&r).map(str::to_string)
                    }
                    Err(_) => None,
                };
                let text =
                    resolved.ok_or_else(|| at.line(line, format!("unknown entity `&{};`", &*r)))?;
                buf.push_str(&text);
            }
            Event::End(_) => {
                let Some((name, _)) = path.pop() else {
                    return Err(at.line(line, "an end tag with no start tag"));
                };
                let diag = open.last_mut().filter(|_| {
                    inside(&path, &[b"diag"])
                        || inside(&path, &[b"diag", b"excludes1"])
                        || inside(&path, &[b"diag", b"sevenChrDef"])
                });
                match (name.as_slice(), diag) {
                    (b"name", Some(d)) if inside(&path, &[b"diag"]) => d.name = Some(tidy(&buf)),
                    (b"desc", Some(d)) if inside(&path, &[b"diag"]) => d.desc = Some(tidy(&buf)),
                    (b"note", Some(d)) if inside(&path, &[b"diag", b"excludes1"]) => {
                        d.excludes1.push(tidy(&buf))
                    }
                    (b"extension", Some(d)) if inside(&path, &[b"diag", b"sevenChrDef"]) => {
                        if let Some(c) = seventh_char.take() {
                            d.seventh.get_or_insert_with(Vec::new).push((c, tidy(&buf)));
                        }
                    }
                    (b"diag", _) => {
                        let Some(d) = open.pop() else {
                            return Err(at.line(line, "an end tag with no start tag"));
                        };
                        closed.push(close(at, d)?);
                    }
                    _ => {}
                }
                buf.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((name, line)) = path.last() {
        return Err(at.line(
            *line,
            format!(
                "the file ends before <{}> is closed",
                String::from_utf8_lossy(name)
            ),
        ));
    }
    if closed.is_empty() {
        return Err(at.file("no <diag> codes in the file"));
    }
    finish(at, release, closed)
}

fn not_tabular(at: At<'_>, line: usize, root: &[u8]) -> ImportError {
    at.line(
        line,
        format!(
            "not the CMS ICD-10-CM tabular XML: the root element is <{}>, not <{}>",
            String::from_utf8_lossy(root),
            String::from_utf8_lossy(ROOT)
        ),
    )
}

fn close(at: At<'_>, d: Diag) -> Result<Closed, ImportError> {
    let name = d
        .name
        .ok_or_else(|| at.line(d.line, "a <diag> without its <name>"))?;
    let code = code(System::Icd10Cm, &name).map_err(|m| at.line(d.line, m))?;
    let long = d.desc.filter(|s| !s.is_empty()).ok_or_else(|| {
        at.line(
            d.line,
            format!("`{}` has no <desc>", crate::diagnostic::shown(&code)),
        )
    })?;
    if let Some(rule) = &d.seventh {
        let mut chars: Vec<char> = rule.iter().map(|(c, _)| *c).collect();
        chars.sort_unstable();
        chars.dedup();
        if chars.len() != rule.len() {
            return Err(at.line(
                d.line,
                format!(
                    "`{}` lists a 7th character twice",
                    crate::diagnostic::shown(&code)
                ),
            ));
        }
    }
    let mut seventh = d.seventh;
    if let Some(rule) = seventh.as_mut() {
        rule.sort_by_key(|(c, _)| *c);
    }
    Ok(Closed {
        line: d.line,
        parent: d.parent,
        entry: EntryData {
            code,
            billable: false,
            short: None,
            long,
            seventh,
            excludes1: d
                .excludes1
                .into_iter()
                .map(|text| NoteData {
                    refs: parse_refs(&text),
                    text,
                })
                .collect(),
            ..EntryData::default()
        },
    })
}

/// Sorts the codes, checks that the nesting is the code hierarchy (the table finds a code's
/// parent as its longest prefix that is a code), and marks the billable codes.
fn finish(at: At<'_>, release: &Release, closed: Vec<Closed>) -> Result<TableData, ImportError> {
    let mut entries: Vec<(Closed, usize)> = closed
        .into_iter()
        .map(|c| {
            let line = c.line;
            (c, line)
        })
        .collect();
    entries.sort_by(|a, b| a.0.entry.code.cmp(&b.0.entry.code));
    no_repeats(at, &entries, |c| c.entry.code.as_str())?;
    let index: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (c.entry.code.clone(), i))
        .collect();
    let rules: HashMap<&str, ()> = entries
        .iter()
        .filter(|(c, _)| c.entry.seventh.is_some())
        .map(|(c, _)| (c.entry.code.as_str(), ()))
        .collect();
    let mut billable = Vec::with_capacity(entries.len());
    for (i, (c, line)) in entries.iter().enumerate() {
        let buf =
            CodeBuf::new(c.entry.code.as_bytes()).ok_or_else(|| at.line(*line, "code too long"))?;
        let prefix_parent = buf.ancestors().find(|a| index.contains_key(a.as_str()));
        if prefix_parent.as_ref().map(|p| p.as_str()) != c.parent.as_deref() {
            return Err(at.line(
                *line,
                format!(
                    "`{}` is nested under {} but its code is under {}",
                    c.entry.code,
                    c.parent
                        .as_deref()
                        .map_or("no code".to_string(), |p| format!("`{p}`")),
                    prefix_parent.map_or("no code".to_string(), |p| format!("`{}`", p.as_str()))
                ),
            ));
        }
        let leaf = entries
            .get(i + 1)
            .is_none_or(|(next, _)| !next.entry.code.starts_with(&c.entry.code));
        let ruled = std::iter::once(buf)
            .chain(buf.ancestors())
            .any(|a| rules.contains_key(a.as_str()));
        billable.push(leaf && !ruled);
    }
    let mut table = release.table(true);
    table.entries = entries
        .into_iter()
        .zip(billable)
        .map(|((c, _), billable)| EntryData {
            billable,
            ..c.entry
        })
        .collect();
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Date;

    fn release() -> Release {
        Release {
            system: System::Icd10Cm,
            id: "icd10cm-test".into(),
            title: "test".into(),
            effective: Date::parse("2026-04-01").unwrap(),
            covers: "*".to_string(),
        }
    }

    const SMALL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular>
  <version>2026</version>
  <chapter>
    <name>13</name>
    <desc>Diseases of the musculoskeletal system</desc>
    <section id="M45-M54">
      <desc>Dorsopathies</desc>
      <diag>
        <name>M48</name>
        <desc>Other spondylopathies</desc>
        <diag>
          <name>M48.5</name>
          <desc>Collapsed vertebra, not elsewhere classified</desc>
          <excludes1>
            <note>pathological fracture of vertebra due to osteoporosis (M80.-)</note>
            <note>traumatic fracture of vertebra (S12.-, S22.-, S32.-)</note>
          </excludes1>
          <sevenChrDef>
            <extension char="A">initial encounter for fracture</extension>
            <extension char="D">subsequent encounter for fracture with routine healing</extension>
          </sevenChrDef>
          <diag>
            <name>M48.50</name>
            <desc>Collapsed vertebra, not elsewhere classified, site unspecified</desc>
          </diag>
        </diag>
        <diag>
          <name>M48.9</name>
          <desc>Spondylopathy, unspecified &amp; other</desc>
        </diag>
      </diag>
    </section>
  </chapter>
</ICD10CM.tabular>
"#;

    #[test]
    fn reads_codes_rules_and_notes() {
        let t = icd10cm_xml(SMALL, "small.xml", &release()).unwrap();
        let codes: Vec<(&str, bool)> = t
            .entries
            .iter()
            .map(|e| (e.code.as_str(), e.billable))
            .collect();
        assert_eq!(
            codes,
            [
                ("M48", false),
                ("M48.5", false),
                ("M48.50", false),
                ("M48.9", true)
            ]
        );
        let m485 = &t.entries[1];
        assert_eq!(
            m485.seventh.as_ref().unwrap()[0],
            ('A', "initial encounter for fracture".to_string())
        );
        assert_eq!(m485.excludes1.len(), 2);
        assert_eq!(m485.excludes1[1].refs.len(), 3);
        assert_eq!(t.entries[3].long, "Spondylopathy, unspecified & other");
    }

    fn error(text: &str) -> String {
        icd10cm_xml(text, "bad.xml", &release())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let broken = SMALL.replace(
            "</desc>\n        <diag>\n          <name>M48.5",
            "</dsc>\n        <diag>\n          <name>M48.5",
        );
        assert!(
            error(&broken).starts_with("bad.xml:11: broken XML"),
            "{}",
            error(&broken)
        );
        let truncated = SMALL.get(..SMALL.find("</section>").unwrap()).unwrap();
        assert_eq!(
            error(truncated),
            "bad.xml:7: the file ends before <section> is closed"
        );
        let nameless = SMALL.replace("<name>M48.50</name>", "");
        assert_eq!(error(&nameless), "bad.xml:23: a <diag> without its <name>");
        let twice = SMALL.replace("<name>M48.9</name>", "<name>M48.50</name>");
        assert!(error(&twice).starts_with("bad.xml:"), "{}", error(&twice));
        let bad_code = SMALL.replace("<name>M48.9</name>", "<name>M489</name>");
        assert_eq!(
            error(&bad_code),
            "bad.xml:28: `M489` is not a valid ICD-10-CM code: the `.` after the third character is missing"
        );
        assert_eq!(
            error("<other/>"),
            "bad.xml:1: not the CMS ICD-10-CM tabular XML: the root element is <other>, not <ICD10CM.tabular>"
        );
        assert!(error("<other>\n</other>").starts_with("bad.xml:1: not the CMS"));
        assert_eq!(
            error("<ICD10CM.tabular></ICD10CM.tabular>"),
            "bad.xml: no <diag> codes in the file"
        );
        let misnested = SMALL.replace("<name>M48.50</name>", "<name>M49.50</name>");
        assert!(
            error(&misnested).contains("is nested under `M48.5` but its code is under no code"),
            "{}",
            error(&misnested)
        );
        let pcs = Release {
            system: System::Icd10Pcs,
            ..release()
        };
        assert!(
            icd10cm_xml(SMALL, "x.xml", &pcs)
                .unwrap_err()
                .to_string()
                .contains("not ICD-10-PCS")
        );
    }
}
