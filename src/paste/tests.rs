//! Unit tests of the paste stage: lines, descriptions, repairs and families. The command's
//! cases (`tests/cases/import/`, `tests/import.rs`) test it whole.

use super::lines::{self, Kind};
use super::text::{MATCH, nearest, normal, similarity};
use super::*;

fn date() -> Date {
    Date::parse("2026-06-01").unwrap()
}

fn import_text(text: &str) -> Imported {
    let options = Options {
        system: None,
        date: date(),
        name: None,
    };
    import(text.as_bytes(), TableSet::shipped(), &options).unwrap()
}

fn kinds(imported: &Imported) -> Vec<(ChangeKind, Option<usize>)> {
    imported.changes.iter().map(|c| (c.kind, c.line)).collect()
}

#[test]
fn a_row_has_codes_then_text_and_a_tab_line_with_an_empty_first_cell_is_text() {
    let read = lines::read(
        "M48.50xA\tCollapsed vertebra\n\tencounter for fracture\n22510, 22511 22512\nICD-10-CM Diagnosis codes:\n",
    );
    let kinds: Vec<&Kind> = read.iter().map(|l| &l.kind).collect();
    assert_eq!(
        kinds,
        vec![
            &Kind::Row {
                tokens: vec!["M48.50xA".into()],
                text: "Collapsed vertebra".into()
            },
            &Kind::Text {
                text: "encounter for fracture".into(),
                indented: true
            },
            &Kind::Row {
                tokens: vec!["22510".into(), "22511".into(), "22512".into()],
                text: String::new()
            },
            &Kind::Text {
                text: "ICD-10-CM Diagnosis codes:".into(),
                indented: false
            },
            &Kind::Blank,
        ]
    );
}

#[test]
fn an_indented_line_starting_with_a_number_is_text_unless_it_is_a_code() {
    let read = lines::read("   2015 update of the list\n   M80.08XA  M80.08XD\n");
    assert!(matches!(read[0].kind, Kind::Text { indented: true, .. }));
    assert!(matches!(&read[1].kind, Kind::Row { tokens, .. } if tokens.len() == 2));
}

#[test]
fn long_lines_and_control_characters_are_not_read() {
    let long = "M48.50XA ".repeat(lines::MAX_LINE / 9 + 1);
    let read = lines::read(&format!("{long}\nC41.2\u{0}\n\u{c}\n"));
    assert!(matches!(read[0].kind, Kind::TooLong { .. }));
    assert_eq!(read[1].kind, Kind::NotText);
    assert_eq!(read[2].kind, Kind::Blank, "a form feed is a page break");
}

#[test]
fn system_names_are_not_codes() {
    for word in ["ICD-10-CM", "ICD-10", "icd10pcs", "CPT-4", "CPT4"] {
        assert_eq!(lines::code_like(word), None, "{word}");
    }
    assert_eq!(lines::code_like("(C41.2),"), Some("C41.2"));
    assert_eq!(lines::code_like("101-0.0070"), Some("101-0.0070"));
}

#[test]
fn descriptions_compare_in_normal_form() {
    assert_eq!(
        normal("Vertebra(e), initial\tencounter"),
        "vertebra e initial encounter"
    );
    assert!(
        similarity(
            &normal("Hemangioma of other sites"),
            "hemangioma of other sites"
        ) == 1.0
    );
    assert!(similarity("a", &"a ".repeat(2000)) == 0.0);
    // Siblings differ in a word: the nearest is singled out only when it is strictly nearest.
    let cervical = normal(
        "Collapsed vertebra, not elsewhere classified, cervical region, initial encounter for fracture",
    );
    let cervicothoracic = normal(
        "Collapsed vertebra, not elsewhere classified, cervicothoracic region, initial encounter for fracture",
    );
    assert!(similarity(&cervical, &cervicothoracic) >= MATCH);
    assert_eq!(nearest(&cervical, &[&cervicothoracic, &cervical]), Ok(1));
    assert_eq!(nearest(&cervical, &[&cervical, &cervical]), Err(vec![0, 1]));
    assert_eq!(nearest("something else", &[&cervical]), Err(vec![]));
}

#[test]
fn a_wrapped_row_whose_code_column_holds_a_damaged_copy_is_merged() {
    let imported = import_text(
        "M48.50xA\tCollapsed vertebra, not elsewhere classified, site unspecified, initial encounter for\nWI40.50XA\tfracture\n",
    );
    assert_eq!(imported.blocks[0].codes, vec!["M48.50XA"]);
    let merged = imported
        .changes
        .iter()
        .find(|c| c.kind == ChangeKind::Merged)
        .expect("merged");
    assert_eq!(merged.line, Some(2));
    assert_eq!(merged.code.as_deref(), Some("M48.50XA"));
    assert!(
        merged.message.contains("`WI` for `M` (look-alike)"),
        "{}",
        merged.message
    );
    assert!(imported.complete());
}

#[test]
fn a_damaged_copy_without_the_rest_of_the_description_is_not_merged() {
    // The text beside `WI40.50XA` does not complete `M48.50XA`'s description: it is a row of
    // its own, and nothing singles a code out for it.
    let imported = import_text(
        "M48.50xA\tCollapsed vertebra, not elsewhere classified, site unspecified, initial encounter for fracture\nWI40.50XA\tsomething else entirely\n",
    );
    assert_eq!(imported.blocks[0].codes, vec!["M48.50XA"]);
    assert!(kinds(&imported).contains(&(ChangeKind::Unrecognised, Some(2))));
    assert!(!imported.complete());
}

#[test]
fn a_code_printed_beside_the_last_line_of_its_description_takes_the_lines_above() {
    let imported = import_text(
        "M48.51xD\tCollapsed vertebra, not elsewhere classified, occipito-atlanto-axial region, subsequent encounter for fracture with routine healing\n\tCollapsed vertebra, not elsewhere classified, occipito-atlanto-axial region,\nM48.51xG\tsubsequent encounter for fracture with delayed healing\n",
    );
    assert_eq!(imported.blocks[0].codes, vec!["M48.51XD", "M48.51XG"]);
    assert!(
        !imported
            .changes
            .iter()
            .any(|c| matches!(c.kind, ChangeKind::Skipped | ChangeKind::DescriptionDiffers)),
        "{:?}",
        imported.changes
    );
}

#[test]
fn repairs_need_evidence_that_singles_one_code_out() {
    let imported = import_text("C79.5I\nM4850XA\nM48.59XA\n0QSO3ZZ\nOR0\n");
    let k = kinds(&imported);
    // A typist's edit (`R` for `8`) is not taken without a printed description.
    assert!(k.contains(&(ChangeKind::Unrecognised, Some(5))), "{k:?}");
    assert!(k.contains(&(ChangeKind::Repaired, Some(1))), "{k:?}");
    assert!(k.contains(&(ChangeKind::Repaired, Some(2))), "{k:?}");
    assert!(k.contains(&(ChangeKind::Unrecognised, Some(3))), "{k:?}");
    assert!(k.contains(&(ChangeKind::Unrecognised, Some(4))), "{k:?}");
}

#[test]
fn the_printed_description_picks_the_repair() {
    let imported = import_text("C79.53 Secondary malignant neoplasm of bone\n");
    assert_eq!(imported.blocks[0].codes, vec!["C79.51"]);
    let imported = import_text("C79.53 Something no code is called\n");
    assert!(imported.blocks.is_empty());
}

#[test]
fn complete_families_become_patterns_and_the_rest_stay_codes() {
    let all: Vec<String> = ["A", "D", "G", "K", "P", "S"]
        .iter()
        .map(|c| format!("M80.08X{c}"))
        .collect();
    let imported = import_text(&(all.join("\n") + "\nM80.88XA\n"));
    let items: Vec<&str> = imported.blocks[0]
        .items
        .iter()
        .map(|i| i.item.as_str())
        .collect();
    assert_eq!(items, vec!["M80.08X-", "M80.88XA"]);
    assert_eq!(imported.blocks[0].items[0].codes, all);
    // A table of selected codes gets no patterns: `2251*` there would hold only what it lists.
    let imported = import_text("22510\n22511\n22512\n");
    assert_eq!(imported.blocks[0].items.len(), 3);
}

#[test]
fn the_pattern_of_a_family_is_its_codes_common_beginning() {
    let table = TableSet::shipped().get("icd10cm-2026-04").unwrap();
    let read: Vec<String> = table
        .billable_under("M48.5")
        .map(|e| e.code().to_string())
        .collect();
    let (items, families) = compress::items(Some(table), System::Icd10Cm, &read);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].item, "M48.5-");
    assert_eq!(items[0].codes.len(), 36);
    assert_eq!(families.len(), 1);
}

#[test]
fn names_must_name_a_set() {
    for bad in ["", "1x", "a-b", "codes", "rule"] {
        let options = Options {
            system: None,
            date: date(),
            name: Some(bad.into()),
        };
        assert!(matches!(
            import(b"C41.2", TableSet::shipped(), &options),
            Err(ImportError::Name(_))
        ));
    }
}

#[test]
fn an_input_past_the_limit_is_refused_and_nothing_panics_on_bytes() {
    let options = Options {
        system: None,
        date: date(),
        name: None,
    };
    let big = vec![b'a'; MAX_INPUT + 1];
    assert!(matches!(
        import(&big, TableSet::shipped(), &options),
        Err(ImportError::TooLarge { .. })
    ));
    let imported = import(b"\xff\xfeC41.2\n\x00\x01", TableSet::shipped(), &options).unwrap();
    assert!(kinds(&imported).contains(&(ChangeKind::InvalidUtf8, Some(1))));
    assert!(kinds(&imported).contains(&(ChangeKind::NotText, Some(2))));
}

#[test]
fn every_change_message_is_one_line_in_lower_case_without_a_final_period() {
    let imported = import_text(
        "C79.5I\nM48.59XA\nM80.08X-\nM48.56\nSee G89.3\n72148\nM48.50xA\nM48.50XA\nC79.53 x\n",
    );
    for c in &imported.changes {
        let m = &c.message;
        assert!(!m.contains('\n') && !m.ends_with('.'), "{m}");
        assert!(!m.starts_with(|ch: char| ch.is_uppercase()), "{m}");
    }
}

// ------------------------------------------------------------------ any input

/// What a block of this date's policy expands to, by the checker and `codeset`, and the
/// formatter's text of the policy.
fn expanded(block: &Block) -> (Vec<String>, String, String) {
    use crate::source::{SourceFile, Sources};
    let policy = format!(
        "policy \"p\" {{\n  title \"P\"\n  version \"1\"\n  effective 2026-06-01\n}}\n\n{}",
        block.text
    );
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("p.medpol", None, policy.clone()));
    let formatted = crate::format::format(id, &policy).unwrap_or_default();
    let parsed = crate::syntax::parse(id, &policy);
    let tables = TableSet::shipped();
    let checked = crate::check::check(&[parsed.file], &crate::check::ImportMap::new(), tables, &[]);
    let Ok(program) = checked.valid() else {
        return (Vec::new(), formatted, policy);
    };
    // The releases' codes are read once for every case.
    static CACHE: std::sync::OnceLock<std::sync::Mutex<crate::codeset::CodeCache>> =
        std::sync::OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    let sets = cache.code_sets(program, Some(tables), Some(date()));
    let members = sets.members(crate::ir::CodeSetId(0)).to_vec();
    (members, formatted, policy)
}

/// Pieces a damaged paste is made of.
const PIECES: &[&str] = &[
    "\t",
    "\n",
    "\r\n",
    " ",
    "  ",
    "x",
    "O",
    "I",
    "l",
    "-",
    ".",
    ",",
    "WI",
    "101",
    "\u{0}",
    "\u{c}",
    "é",
    "\u{fffd}",
    "M48.5",
    "M48.50xA",
    "C79.5I",
    "0QSO3ZZ",
    "M80.08X-",
    "22510",
    "ICD-10-CM",
    "Collapsed vertebra",
    "fracture",
    "initial encounter for",
    "0123456789ABCDEFGHIJ0123456789",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Policy 484's table, damaged at random: the import never fails on it, every message is
    /// one line, and every block is in the formatter's style and expands to exactly the
    /// codes it says it read.
    #[test]
    fn any_damage_gives_sound_blocks(
        edits in proptest::collection::vec(
            (proptest::prelude::any::<proptest::sample::Index>(), 0..PIECES.len(), proptest::prelude::any::<bool>()),
            0..12,
        ),
    ) {
        let mut text = include_str!("../../tests/cases/import/484-as-printed.txt").to_string();
        for (at, piece, delete) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            if delete {
                let end = text.get(i..).and_then(|r| r.chars().next()).map_or(i, |c| i + c.len_utf8());
                text.replace_range(i..end, "");
            } else {
                text.insert_str(i, PIECES[piece]);
            }
        }
        let imported = import_text(&text);
        for c in &imported.changes {
            proptest::prop_assert!(!c.message.contains('\n'), "{}", c.message);
        }
        for block in &imported.blocks {
            let (members, formatted, policy) = expanded(block);
            proptest::prop_assert_eq!(&formatted, &policy);
            proptest::prop_assert_eq!(&members, &block.codes);
        }
    }

    /// Bytes of any kind: no panic, and whatever is read is sound.
    #[test]
    fn any_bytes_are_read_or_reported(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
        let options = Options { system: None, date: date(), name: None };
        let imported = import(&bytes, TableSet::shipped(), &options).unwrap();
        for block in &imported.blocks {
            let (members, _, _) = expanded(block);
            proptest::prop_assert_eq!(&members, &block.codes);
        }
    }
}

#[test]
fn a_lower_case_letter_that_may_be_a_digit_is_read_only_with_a_description_to_say_which() {
    // `l` is `L` or `1`: 0QSL3ZZ (right tarsal) and 0QS13ZZ (sacrum) both exist.
    let imported = import_text("0QSl3ZZ\n");
    assert!(imported.blocks.is_empty());
    for (printed, code) in [
        ("Reposition Right Tarsal, Percutaneous Approach", "0QSL3ZZ"),
        ("Reposition Sacrum, Percutaneous Approach", "0QS13ZZ"),
    ] {
        let imported = import_text(&format!("0QSl3ZZ\t{printed}\n"));
        assert_eq!(
            imported.blocks[0].codes,
            vec![code],
            "{:?}",
            imported.changes
        );
        assert!(imported.complete());
    }
}
