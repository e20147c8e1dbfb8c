//! CMS's alpha-numeric HCPCS file (`HCPC2026_JAN_ANWEB.txt`): HCPCS Level II codes and
//! modifiers in fixed-width records, as CMS publishes them each quarter.
//!
//! The columns this importer reads (one-based, inclusive; the file's record layout has more):
//!
//! | columns | field |
//! | --- | --- |
//! | 1-5 | the code (a modifier's two characters are within it) |
//! | 11 | record id: `3` a code's first record, `4` the rest of its long description, `7` and `8` the same for a modifier |
//! | 12-91 | 80 characters of the long description |
//! | 92-119 | the short description (first record only) |
//! | 269-276 | the date the code was added (`YYYYMMDD`) |
//! | 285-292 | the code's termination date, when it has one |
//!
//! A long description is the 80-character pieces of a code's records put together (a piece
//! may end within a word) with runs of white space made one space. Modifiers are not codes
//! of the system and are skipped.
//!
//! A table is one release in force from one date ([`TableData`] has no dates per code), so
//! the importer keeps the codes in force on the release's effective date: a code added after
//! it, or terminated before it, is left out. A code the file terminates later in the quarter
//! is kept; the next quarter's release leaves it out, and the checker's later-release warnings
//! (`W0314`) then tell a policy that names it.
//!
//! `D` codes are the American Dental Association's CDT codes, whose descriptors are
//! copyrighted: they are left out, so a table of this file is imported with `--covers` naming
//! the other first letters, and a `D` code is taken as written.

use std::borrow::Cow;

use crate::codes::System;
use crate::tables::data::{EntryData, TableData};
use crate::types::Date;

use super::{At, ImportError, Release, code, flat_table, tidy};

/// The first letters of the codes a table of this file lists: every letter of HCPCS Level II
/// but `D` (CDT, left out).
pub const HCPCS_COVERS: &str = "ABCEGHJKLMPQRSTUV";

/// The text of a CMS file: UTF-8 when the bytes are, else Windows-1252, the encoding CMS's
/// fixed-width files are written in (one byte, one character, so columns stay columns).
pub fn cms_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| windows_1252(b)).collect()),
    }
}

/// One byte of Windows-1252: Latin-1, but for the printable characters at 0x80 to 0x9F.
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH
            .get(usize::from(b - 0x80))
            .copied()
            .unwrap_or(char::REPLACEMENT_CHARACTER),
        _ => char::from(b),
    }
}

/// One line's characters, read by column.
struct Record(Vec<char>);

impl Record {
    /// Columns `first` to `last`, one-based and inclusive; short lines are padded with spaces.
    fn field(&self, first: usize, last: usize) -> String {
        (first..=last)
            .map(|col| self.0.get(col - 1).copied().unwrap_or(' '))
            .collect()
    }
}

/// A code being read: its first record and the pieces of its long description so far.
struct Pending {
    code: String,
    line: usize,
    long: String,
    short: String,
    added: Option<Date>,
    terminated: Option<Date>,
}

/// Reads CMS's alpha-numeric HCPCS file (fixed width; see the module's documentation).
pub fn hcpcs(text: &str, file: &str, release: &Release) -> Result<TableData, ImportError> {
    let at = At { file };
    if release.system != System::Hcpcs {
        return Err(at.file(format!(
            "the alpha-numeric HCPCS file holds HCPCS codes, not {}: import it with `--system hcpcs`",
            release.system.display()
        )));
    }
    let mut rows: Vec<(EntryData, usize)> = Vec::new();
    let mut pending: Option<Pending> = None;
    // Whether the last first record was a modifier's, whose continuations are skipped too.
    let mut in_modifier = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let record = Record(line.chars().collect());
        match record.field(11, 11).as_str() {
            "3" => {
                finish(at, release, pending.take(), &mut rows)?;
                in_modifier = false;
                let written = record.field(1, 5);
                let code = code(System::Hcpcs, &written).map_err(|m| at.line(number, m))?;
                pending = Some(Pending {
                    code,
                    line: number,
                    long: record.field(12, 91),
                    short: record.field(92, 119),
                    added: date(at, number, &record.field(269, 276), "added")?,
                    terminated: date(at, number, &record.field(285, 292), "termination")?,
                });
            }
            "4" => {
                let written = record.field(1, 5);
                let Some(p) = pending.as_mut() else {
                    return Err(at.line(
                        number,
                        format!(
                            "a continuation of `{}` with no first record (record id 3) before it",
                            crate::diagnostic::shown(written.trim())
                        ),
                    ));
                };
                if !written.trim().eq_ignore_ascii_case(&p.code) {
                    return Err(at.line(
                        number,
                        format!(
                            "a continuation of `{}` follows `{}` (line {})",
                            crate::diagnostic::shown(written.trim()),
                            p.code,
                            p.line
                        ),
                    ));
                }
                p.long.push_str(&record.field(12, 91));
            }
            "7" => {
                finish(at, release, pending.take(), &mut rows)?;
                in_modifier = true;
            }
            "8" if in_modifier => {}
            "8" => {
                return Err(at.line(
                    number,
                    "a modifier's continuation (record id 8) with no modifier before it",
                ));
            }
            other => {
                return Err(at.line(
                    number,
                    format!(
                        "record id `{}` in column 11: the file's records are 3 and 4 (codes) and 7 and 8 (modifiers)",
                        crate::diagnostic::shown(other)
                    ),
                ));
            }
        }
    }
    finish(at, release, pending.take(), &mut rows)?;
    flat_table(
        at,
        release,
        rows,
        "no codes in force on the release's effective date in the file",
    )
}

/// Keeps a code that has been read whole, when it is in force on the release's effective date
/// and is no CDT code.
fn finish(
    at: At<'_>,
    release: &Release,
    pending: Option<Pending>,
    rows: &mut Vec<(EntryData, usize)>,
) -> Result<(), ImportError> {
    let Some(p) = pending else {
        return Ok(());
    };
    let added_later = p.added.is_some_and(|d| d > release.effective);
    let ended_before = p.terminated.is_some_and(|d| d < release.effective);
    if p.code.starts_with('D') || added_later || ended_before {
        return Ok(());
    }
    let short = Some(tidy(&p.short)).filter(|s| !s.is_empty());
    let long = Some(tidy(&p.long))
        .filter(|s| !s.is_empty())
        .or_else(|| short.clone())
        .ok_or_else(|| at.line(p.line, format!("`{}` has no description", p.code)))?;
    rows.push((
        EntryData {
            code: p.code,
            billable: true,
            short,
            long,
            ..EntryData::default()
        },
        p.line,
    ));
    Ok(())
}

/// A `YYYYMMDD` date column; blank is no date.
fn date(at: At<'_>, line: usize, field: &str, what: &str) -> Result<Option<Date>, ImportError> {
    let field = field.trim();
    if field.is_empty() {
        return Ok(None);
    }
    let parsed = (field.len() == 8 && field.bytes().all(|b| b.is_ascii_digit()))
        .then(|| {
            let (year, rest) = field.split_at(4);
            let (month, day) = rest.split_at(2);
            Date::parse(&format!("{year}-{month}-{day}"))
        })
        .flatten();
    parsed.map(Some).ok_or_else(|| {
        at.line(
            line,
            format!(
                "the {what} date `{}` is not a date written YYYYMMDD",
                crate::diagnostic::shown(field)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(effective: &str) -> Release {
        Release {
            system: System::Hcpcs,
            id: "hcpcs-test".into(),
            title: "test".into(),
            effective: Date::parse(effective).unwrap(),
            covers: HCPCS_COVERS.into(),
        }
    }

    /// A record as CMS writes it: `kind` is the record id, `dates` the added, action and
    /// termination dates.
    fn record(code: &str, kind: char, long: &str, short: &str, dates: [&str; 3]) -> String {
        let mut row = vec![' '; 320];
        let mut put = |first: usize, text: &str| {
            for (i, c) in text.chars().enumerate() {
                row[first - 1 + i] = c;
            }
        };
        put(1, code);
        put(6, "00100");
        put(11, &kind.to_string());
        put(12, long);
        put(92, short);
        put(269, dates[0]);
        put(277, dates[1]);
        put(285, dates[2]);
        put(293, "N");
        row.into_iter().collect::<String>().trim_end().to_string()
    }

    fn read(lines: &[String], effective: &str) -> Result<TableData, ImportError> {
        hcpcs(&lines.join("\r\n"), "HCPC.txt", &release(effective))
    }

    const ADDED: [&str; 3] = ["19840101", "20260101", ""];

    #[test]
    fn reads_codes_and_joins_long_descriptions() {
        // 80 characters that end within a word, and the rest on a continuation record.
        let first =
            "Injection, dexamethasone sodium phosphate, 1 mg, given as part of a lengthy exam";
        assert_eq!(first.chars().count(), 80);
        let lines = [
            record(
                "A0021",
                '3',
                "Ambulance service, outside state per mile, transport (medicaid only)",
                "Outside state ambulance serv",
                ADDED,
            ),
            record("J1100", '3', first, "Dexamethasone sodium phos", ADDED),
            record("J1100", '4', "ple, of a description", "", ["", "", ""]),
            record(
                "AA",
                '7',
                "Anesthesia services performed personally by anesthesiologist",
                "Anes svcs by anesthesiologist",
                ADDED,
            ),
            record("AA", '8', "continued", "", ["", "", ""]),
            record(
                "E0100",
                '3',
                "Cane, includes canes of all materials, adjustable or fixed, with tip",
                "Cane adj/fixed with tip",
                ADDED,
            ),
        ];
        let t = read(&lines, "2026-01-01").unwrap();
        let codes: Vec<&str> = t.entries.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["A0021", "E0100", "J1100"]);
        let j = &t.entries[2];
        assert!(j.billable);
        assert_eq!(j.short.as_deref(), Some("Dexamethasone sodium phos"));
        assert_eq!(
            j.long,
            "Injection, dexamethasone sodium phosphate, 1 mg, given as part of a lengthy example, of a description"
        );
        assert_eq!(t.covers, HCPCS_COVERS);
    }

    #[test]
    fn keeps_the_codes_in_force_on_the_effective_date_and_no_cdt_codes() {
        let lines = [
            record(
                "G0008",
                '3',
                "Administration of influenza virus vaccine",
                "Admin influenza virus vac",
                ADDED,
            ),
            // Terminated the day before: not in this release.
            record(
                "G0001",
                '3',
                "Routine venipuncture",
                "Drawing blood",
                ["19840101", "20251231", "20251231"],
            ),
            // Terminated later: still in force on the effective date.
            record(
                "G0002",
                '3',
                "Office procedure",
                "Office procedure",
                ["19840101", "20260101", "20260331"],
            ),
            // Added from April: not yet.
            record(
                "G0003",
                '3',
                "A code of the next quarter",
                "Next quarter",
                ["20260401", "20260401", ""],
            ),
            record("D0120", '3', "A dental code", "Dental", ADDED),
        ];
        let t = read(&lines, "2026-01-01").unwrap();
        let codes: Vec<&str> = t.entries.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["G0002", "G0008"]);
        let april = read(&lines, "2026-04-01").unwrap();
        let codes: Vec<&str> = april.entries.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["G0003", "G0008"]);
    }

    #[test]
    fn reads_windows_1252() {
        let mut bytes = record(
            "A4253",
            '3',
            "Blood glucose test strips, per 50 strips",
            "Blood glucose/reagent strips",
            ADDED,
        )
        .into_bytes();
        // "strips" -> "strips’" in the long description.
        let at = 11 + "Blood glucose test strips, per 50 strips".len();
        bytes[at] = 0x92;
        let text = cms_text(&bytes);
        let t = hcpcs(&text, "HCPC.txt", &release("2026-01-01")).unwrap();
        assert_eq!(
            t.entries[0].long,
            "Blood glucose test strips, per 50 strips’"
        );
        assert_eq!(cms_text("plain".as_bytes()), "plain");
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let x = |code: &str, kind: char| record(code, kind, "x", "x", ADDED);
        let cases: [(Vec<String>, &str); 8] = [
            (
                vec![x("J1100", '3'), x("J1101", '4')],
                "HCPC.txt:2: a continuation of `J1101` follows `J1100` (line 1)",
            ),
            (
                vec![x("J1100", '4')],
                "HCPC.txt:1: a continuation of `J1100` with no first record (record id 3) before it",
            ),
            (
                vec![x("J1100", '5')],
                "HCPC.txt:1: record id `5` in column 11: the file's records are 3 and 4 (codes) and 7 and 8 (modifiers)",
            ),
            (
                vec![record("J1100", '3', "x", "x", ["2026011", "", ""])],
                "HCPC.txt:1: the added date `2026011` is not a date written YYYYMMDD",
            ),
            (
                vec![x("Z1100", '3')],
                "HCPC.txt:1: `Z1100` is not a valid HCPCS code: HCPCS Level II codes are a letter `A` to `V` and four digits (`C1062`)",
            ),
            (
                vec![x("J1100", '3'), x("J1100", '3')],
                "HCPC.txt:2: `J1100` is listed twice (first on line 1)",
            ),
            (
                vec![record("J1100", '3', "", "", ADDED)],
                "HCPC.txt:1: `J1100` has no description",
            ),
            (
                vec![x("D0120", '3')],
                "HCPC.txt: no codes in force on the release's effective date in the file",
            ),
        ];
        for (lines, expected) in cases {
            assert_eq!(
                read(&lines, "2026-01-01").unwrap_err().to_string(),
                expected
            );
        }
        let cpt = Release {
            system: System::Cpt,
            ..release("2026-01-01")
        };
        assert_eq!(
            hcpcs("", "HCPC.txt", &cpt).unwrap_err().to_string(),
            "HCPC.txt: the alpha-numeric HCPCS file holds HCPCS codes, not CPT: import it with `--system hcpcs`"
        );
    }
}
