//! A local YAML table: a project's own list of codes with its own labels, such as the CPT codes
//! its policies use (CPT descriptors are licensed by the AMA; a project writes its own).
//!
//! ```yaml
//! system: cpt            # optional; must match the release's system
//! codes:
//!   - code: 22510
//!     short: Vertebroplasty, one vertebral body, cervicothoracic
//!   - code: 22512
//!     short: Vertebroplasty, each additional vertebral body
//!     addon: true
//!     primaries: [22510, 22511]
//! ```
//!
//! Each code has `short` or `long` (or both), and may have `billable` (default `true`),
//! `addon` and `primaries`.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::codes::System;
use crate::tables::data::{EntryData, TableData};

use super::{At, ImportError, Release, code, flat_table};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    system: Option<Spanned<String>>,
    codes: Vec<Code>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: Spanned<String>,
    #[serde(default = "yes")]
    billable: bool,
    short: Option<String>,
    long: Option<String>,
    #[serde(default)]
    addon: bool,
    #[serde(default)]
    primaries: Vec<Spanned<String>>,
}

fn yes() -> bool {
    true
}

fn line<T>(s: &Spanned<T>) -> usize {
    s.referenced.line() as usize
}

/// Reads a local YAML table.
pub fn local(text: &str, file: &str, release: &Release) -> Result<TableData, ImportError> {
    let at = At { file };
    let parsed: File = serde_saphyr::from_str(text).map_err(|e| {
        let message = crate::input::yaml_message(&e);
        match e.location() {
            Some(l) => at.line(l.line() as usize, message),
            None => at.file(message),
        }
    })?;
    if let Some(system) = &parsed.system {
        match System::parse(&system.value) {
            None => {
                return Err(at.line(
                    line(system),
                    format!(
                        "unknown code system `{}`; the systems are icd10cm, icd10pcs, cpt and hcpcs",
                        system.value
                    ),
                ));
            }
            Some(s) if s != release.system => {
                return Err(at.line(
                    line(system),
                    format!(
                        "the file is a {} table, not {}",
                        s.display(),
                        release.system.display()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let mut rows = Vec::new();
    for c in parsed.codes {
        let at_line = line(&c.code);
        let code = code(release.system, &c.code.value).map_err(|m| at.line(at_line, m))?;
        let short = c.short.map(|s| super::tidy(&s)).filter(|s| !s.is_empty());
        let long = c
            .long
            .map(|s| super::tidy(&s))
            .filter(|s| !s.is_empty())
            .or_else(|| short.clone())
            .ok_or_else(|| {
                at.line(
                    at_line,
                    format!(
                        "`{}` has neither `short` nor `long`",
                        crate::diagnostic::shown(&code)
                    ),
                )
            })?;
        let mut primaries = Vec::new();
        for p in &c.primaries {
            primaries.push(super::code(release.system, &p.value).map_err(|m| at.line(line(p), m))?);
        }
        if c.addon && primaries.is_empty() {
            return Err(at.line(
                at_line,
                format!(
                    "`{}` is an add-on code: list its `primaries`",
                    crate::diagnostic::shown(&code)
                ),
            ));
        }
        if !c.addon && !primaries.is_empty() {
            return Err(at.line(
                at_line,
                format!(
                    "`{}` has `primaries` but is not an add-on code (`addon: true`)",
                    crate::diagnostic::shown(&code)
                ),
            ));
        }
        if primaries.contains(&code) {
            return Err(at.line(
                at_line,
                format!(
                    "`{}` is its own primary code",
                    crate::diagnostic::shown(&code)
                ),
            ));
        }
        rows.push((
            EntryData {
                code,
                billable: c.billable,
                short,
                long,
                addon: c.addon,
                primaries,
                ..EntryData::default()
            },
            at_line,
        ));
    }
    flat_table(at, release, rows, "no codes in the file")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Date;

    fn release() -> Release {
        Release {
            system: System::Cpt,
            id: "cpt-test".into(),
            title: "test".into(),
            effective: Date::parse("2015-01-01").unwrap(),
            covers: "*".to_string(),
        }
    }

    fn error(text: &str) -> String {
        local(text, "cpt.yaml", &release()).unwrap_err().to_string()
    }

    #[test]
    fn reads_codes_and_addons() {
        let text = "system: cpt\ncodes:\n  - code: 22512\n    short: each additional\n    addon: true\n    primaries: [22510, 22511]\n  - code: 0200t\n    short: sacral, unilateral\n";
        let t = local(text, "cpt.yaml", &release()).unwrap();
        assert_eq!(t.entries[0].code, "0200T");
        assert_eq!(t.entries[1].primaries, ["22510", "22511"]);
        assert!(t.entries[0].billable);
        assert_eq!(t.entries[0].long, "sacral, unilateral");
    }

    #[test]
    fn malformed_tables_name_file_and_line() {
        assert_eq!(
            error("system: snomed\ncodes:\n  - code: 22510\n    short: x\n"),
            "cpt.yaml:1: unknown code system `snomed`; the systems are icd10cm, icd10pcs, cpt and hcpcs"
        );
        assert_eq!(
            error("system: hcpcs\ncodes:\n  - code: 22510\n    short: x\n"),
            "cpt.yaml:1: the file is a HCPCS table, not CPT"
        );
        assert_eq!(
            error("codes:\n  - code: 22510\n    short: x\n  - code: 22510\n    short: y\n"),
            "cpt.yaml:4: `22510` is listed twice (first on line 2)"
        );
        assert_eq!(
            error("codes:\n  - code: 22510\n"),
            "cpt.yaml:2: `22510` has neither `short` nor `long`"
        );
        assert!(
            error("codes:\n  - code: 22510\n    shrt: x\n")
                .starts_with("cpt.yaml:3: unknown key `shrt`; did you mean `short`?")
        );
        assert!(error("codes: [\n").starts_with("cpt.yaml:1:"));
        assert_eq!(
            error("codes:\n  - code: 2251\n    short: x\n"),
            "cpt.yaml:2: `2251` is not a valid CPT code: CPT codes have 5 characters, not 4; for example `22510` or `0200T`"
        );
        assert_eq!(
            error("codes:\n  - code: 22512\n    short: x\n    addon: true\n"),
            "cpt.yaml:2: `22512` is an add-on code: list its `primaries`"
        );
    }
}
