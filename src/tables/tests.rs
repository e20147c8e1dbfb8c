//! The table model on small tables built here and on the shipped tables (embedded in the
//! crate, so these run everywhere).

use super::*;

fn shipped(release: &str) -> &'static Table {
    TableSet::shipped().get(release).unwrap()
}

fn cm26() -> &'static Table {
    shipped("icd10cm-2026-04")
}

fn cm25() -> &'static Table {
    shipped("icd10cm-2025")
}

fn date(text: &str) -> Date {
    Date::parse(text).unwrap()
}

#[test]
fn shipped_tables_load() {
    let set = TableSet::shipped();
    assert!(set.load_errors().is_empty(), "{:?}", set.load_errors());
    let ids: Vec<&str> = set.iter().map(Table::release).collect();
    assert_eq!(
        ids,
        [
            "icd10cm-2025",
            "icd10cm-2026-04",
            "icd10pcs-2025",
            "cpt-local"
        ]
    );
    assert_eq!(cm25().len(), 97_584);
    assert_eq!(cm25().billable_count(), 74_260);
    assert_eq!(cm26().billable_count(), 74_795);
    assert_eq!(shipped("icd10pcs-2025").len(), 68_367);
}

#[test]
fn the_release_in_force_is_the_latest_effective_on_or_before_the_date() {
    let set = TableSet::shipped();
    let cm = |d: &str| set.in_force(System::Icd10Cm, date(d)).map(Table::release);
    assert_eq!(cm("2024-09-30"), None);
    assert_eq!(cm("2024-10-01"), Some("icd10cm-2025"));
    assert_eq!(cm("2026-03-31"), Some("icd10cm-2025"));
    assert_eq!(cm("2026-04-01"), Some("icd10cm-2026-04"));
    assert_eq!(
        set.in_force(System::Cpt, date("2020-06-01"))
            .map(Table::release),
        Some("cpt-local")
    );
    assert_eq!(set.releases(System::Icd10Cm).count(), 2);
    // No HCPCS table is shipped yet: no registry package carries CMS's file (tables/README.md,
    // "HCPCS Level II"); a project imports one with `medpol tables import --hcpcs`.
    assert!(set.in_force(System::Hcpcs, date("2026-01-01")).is_none());
}

#[test]
fn g35_became_a_header_in_fy2026() {
    let old = cm25().lookup("G35").unwrap();
    assert!(old.is_billable());
    assert!(old.children().is_empty());
    let new = cm26().lookup("G35").unwrap();
    assert!(new.is_header());
    let children: Vec<String> = new
        .children()
        .iter()
        .map(|e| e.code().to_string())
        .collect();
    assert_eq!(children.first().map(String::as_str), Some("G35.A"));
    assert!(children.len() >= 4, "{children:?}");
}

#[test]
fn headers_and_seventh_characters() {
    for table in [cm25(), cm26()] {
        let m485 = table.lookup("M48.5").unwrap();
        assert!(m485.is_header(), "{}", table.release());
        assert!(!m485.needs_seventh());
        let rule = m485.seventh().unwrap();
        assert_eq!(rule.defined_at(), "M48.5");
        let chars: Vec<char> = rule.chars().iter().map(|(c, _)| *c).collect();
        assert_eq!(chars, ['A', 'D', 'G', 'S'], "{}", table.release());
        assert!(!rule.allows('K'));
        assert!(table.lookup("M48.50XK").is_none());
        assert!(table.lookup("M48.50XA").is_some());

        let m4856 = table.lookup("M48.56").unwrap();
        assert!(m4856.is_header() && m4856.needs_seventh());
        let rule = m4856.seventh().unwrap();
        assert_eq!(rule.base(), Some("M48.56"));
        assert_eq!(rule.placeholders(), Some(1));
        assert_eq!(rule.code_with('d').as_deref(), Some("M48.56XD"));
        assert_eq!(rule.code_with('K'), None);

        assert!(table.lookup("M80.08XA").unwrap().is_billable());
    }
    assert!(cm26().lookup("D47.Z").unwrap().is_header());
    assert!(cm26().lookup("D47.Z9").unwrap().is_billable());
    let t07 = cm26().lookup("T07.XXXA").unwrap();
    assert_eq!(t07.parent().unwrap().code(), "T07");
    assert_eq!(t07.seventh().unwrap().placeholders(), Some(3));
}

#[test]
fn derived_codes_have_derived_descriptions() {
    let e = cm26().lookup("m48.50xa").unwrap();
    assert_eq!(e.code(), "M48.50XA");
    assert_eq!(e.seventh_char(), Some('A'));
    assert_eq!(
        e.long(),
        "Collapsed vertebra, not elsewhere classified, site unspecified, initial encounter for fracture"
    );
    assert_eq!(e.short(), None, "the CMS XML has no short descriptions");
    let old = cm25().lookup("M48.50XA").unwrap();
    assert_eq!(
        old.short().as_deref(),
        Some("Collapsed vertebra, NEC, site unsp, init")
    );
    assert_eq!(old.long(), e.long());
    let ancestors: Vec<String> = e.ancestors().iter().map(|a| a.code().to_string()).collect();
    assert_eq!(ancestors, ["M48.50", "M48.5", "M48"]);
}

#[test]
fn a_range_of_7th_character_codes() {
    let all: Vec<Entry<'_>> = cm26().range("M48.50XA", "M48.58XS").collect();
    let billable: Vec<&Entry<'_>> = all.iter().filter(|e| e.is_billable()).collect();
    assert_eq!(billable.len(), 36);
    let mut parents: Vec<String> = billable
        .iter()
        .map(|e| e.parent().unwrap().code().to_string())
        .collect();
    parents.dedup();
    assert_eq!(parents.len(), 9);
    assert_eq!(
        all.len(),
        36 + 8,
        "the headers M48.51 to M48.58 lie inside the range"
    );
    assert_eq!(cm26().billable_under("M48.5").count(), 36);
    let pattern: Vec<String> = cm26()
        .prefix("M80.08X")
        .map(|e| e.code().to_string())
        .collect();
    assert_eq!(
        pattern,
        [
            "M80.08XA", "M80.08XD", "M80.08XG", "M80.08XK", "M80.08XP", "M80.08XS"
        ]
    );
}

#[test]
fn excludes1_of_m48_5() {
    let m485 = cm26().lookup("M48.5").unwrap();
    let notes = m485.excludes1();
    assert_eq!(notes.len(), 8);
    let osteoporosis = m485.excludes("M80.08XA").unwrap();
    assert_eq!(osteoporosis.refs, [CodeRef::Prefix("M80".into())]);
    assert_eq!(osteoporosis.from, "M48.5");
    let traumatic = notes
        .iter()
        .find(|n| n.note.starts_with("traumatic"))
        .unwrap();
    assert_eq!(traumatic.refs.len(), 3);
    // Inherited: the 7th-character code sees its category's notes.
    let code = cm26().lookup("M48.50XA").unwrap();
    assert!(code.excludes("S22.000A").is_some());
    assert!(code.excludes("M48.20").is_none());
}

#[test]
fn addon_codes() {
    let cpt = shipped("cpt-local");
    let e = cpt.lookup("22512").unwrap();
    assert!(e.is_addon());
    assert_eq!(e.primaries(), ["22510", "22511"]);
    assert!(!cpt.lookup("22510").unwrap().is_addon());
    assert!(cpt.contains("22551") && cpt.contains("0200T") && cpt.contains("0201T"));
    assert_eq!(e.long(), "Vertebroplasty, each additional vertebral body");
}

#[test]
fn every_entry_round_trips_in_order() {
    for table in TableSet::shipped().iter() {
        let mut last = String::new();
        let mut count = 0;
        let mut billable = 0;
        for e in table.iter() {
            assert!(
                e.code() > last.as_str(),
                "{} after {last} in {}",
                e.code(),
                table.release()
            );
            let again = table.lookup(e.code()).unwrap();
            assert_eq!(again.is_billable(), e.is_billable());
            last = e.code().to_string();
            count += 1;
            billable += usize::from(e.is_billable());
        }
        assert_eq!(count, table.len(), "{}", table.release());
        assert_eq!(billable, table.billable_count(), "{}", table.release());
    }
}

#[test]
fn parents_and_children_agree() {
    let table = cm26();
    for e in table.prefix("S32.0").take(300) {
        for c in e.children() {
            assert_eq!(c.parent(), Some(e), "{}", c.code());
        }
        if let Some(p) = e.parent() {
            assert!(p.children().contains(&e), "{}", e.code());
        }
    }
}

// ------------------------------------------------------------------ small tables

fn small() -> TableData {
    let entry = |code: &str, billable: bool, long: &str| EntryData {
        code: code.into(),
        billable,
        long: long.into(),
        ..EntryData::default()
    };
    let mut m485 = entry("M48.5", false, "Collapsed vertebra");
    m485.seventh = Some(vec![('A', "initial".into()), ('D', "subsequent".into())]);
    m485.excludes1 = vec![NoteData {
        text: "osteoporosis (M80.-)".into(),
        refs: vec![CodeRef::Prefix("M80".into())],
    }];
    TableData {
        system: System::Icd10Cm,
        release: "tiny".into(),
        title: "tiny".into(),
        effective: date("2026-01-01"),
        derive_seventh: true,
        entries: vec![
            entry("M48", false, "Other spondylopathies"),
            m485,
            entry("M48.50", false, "Collapsed vertebra, site unspecified"),
            entry(
                "M48.51",
                false,
                "Collapsed vertebra, occipito-atlanto-axial region",
            ),
            entry("M48.9", true, "Spondylopathy, unspecified"),
        ],
        covers: "*".to_string(),
    }
}

#[test]
fn small_tables_round_trip() {
    let table = Table::from_data(&small()).unwrap();
    assert_eq!(table.len(), 9);
    assert_eq!(table.billable_count(), 5);
    let codes: Vec<String> = table.iter().map(|e| e.code().to_string()).collect();
    assert_eq!(
        codes,
        [
            "M48", "M48.5", "M48.50", "M48.50XA", "M48.50XD", "M48.51", "M48.51XA", "M48.51XD",
            "M48.9"
        ]
    );
    assert_eq!(
        table.lookup("M48.51XD").unwrap().long(),
        "Collapsed vertebra, occipito-atlanto-axial region, subsequent"
    );
    assert_eq!(table.children("M48.5").len(), 2);
    assert_eq!(table.range("M48.50XD", "M48.51XA").count(), 3);
    assert_eq!(table.prefix("M48.5").count(), 7);
    assert_eq!(table.prefix("Z").count(), 0);
    assert!(
        table
            .lookup("M48.50XA")
            .unwrap()
            .excludes("M80.08XA")
            .is_some()
    );
    assert!(
        table
            .lookup("M48.9")
            .unwrap()
            .excludes("M80.08XA")
            .is_none()
    );
}

#[test]
fn bad_data_is_refused() {
    let mut data = small();
    data.entries.swap(0, 1);
    assert!(
        Table::from_data(&data)
            .unwrap_err()
            .message
            .contains("out of order")
    );
    let mut data = small();
    if let Some(e) = data.entries.get_mut(2) {
        e.billable = true;
    }
    assert!(
        Table::from_data(&data)
            .unwrap_err()
            .message
            .contains("7th character")
    );
}

#[test]
fn damaged_files_are_errors_not_panics() {
    let bytes = small().to_bytes().unwrap();
    assert!(Table::from_bytes(Vec::new()).is_err());
    assert!(Table::from_bytes(b"MEDPOLTB".to_vec()).is_err());
    for cut in [10, 30, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            Table::from_bytes(bytes[..cut].to_vec()).is_err(),
            "cut at {cut}"
        );
    }
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x5a;
        if let Ok(t) = Table::from_bytes(damaged) {
            // Only a byte the checksum does not cover can pass: the checksum itself is not
            // covered, but then it no longer matches. Nothing may panic either way.
            for e in t.iter() {
                let _ = (e.long(), e.short(), e.excludes1(), e.children(), e.parent());
            }
        }
    }
    let mut wrong_version = bytes.clone();
    wrong_version[8] = 9;
    assert!(
        Table::from_bytes(wrong_version)
            .unwrap_err()
            .message
            .contains("version")
    );
}

#[test]
fn a_user_table_joins_the_shipped_ones() {
    let mut user = small();
    user.release = "icd10cm-local".into();
    let set = TableSet::shipped_and([Table::from_data(&user).unwrap()]).unwrap();
    assert!(set.get("icd10cm-local").is_some());
    assert_eq!(set.releases(System::Icd10Cm).count(), 3);
    user.release = "icd10cm-2025".into();
    let again = TableSet::shipped_and([Table::from_data(&user).unwrap()]);
    assert!(again.unwrap_err().message.contains("icd10cm-2025"));
}

// ------------------------------------------------------------------ suggestions

fn codes(suggestions: &[Suggestion]) -> Vec<&str> {
    suggestions.iter().map(|s| s.code.as_str()).collect()
}

fn show(written: &str, suggestions: &[Suggestion]) {
    println!("{written}:");
    for s in suggestions {
        println!(
            "  {:<9} cost {:>3}  {}{}",
            s.code,
            s.cost,
            s.describe(),
            if s.near { " [near]" } else { "" }
        );
    }
}

#[test]
fn d47_29_is_d47_z9_with_z_read_as_2() {
    let s = cm26().suggest("D47.29");
    show("D47.29", &s);
    let first = s.first().unwrap();
    assert_eq!(first.code, "D47.Z9");
    assert!(first.billable);
    assert_eq!(
        first.slips,
        [Slip {
            kind: SlipKind::LookAlike,
            written: "2".into(),
            meant: "Z".into()
        }]
    );
    assert_eq!(first.describe(), "`2` for `Z` (look-alike)");
}

/// The seed policy's printed table (`../shared/seeds/004_*.txt`, lines 138 to 148) prints
/// M48.50XA, M48.50XD and M48.50XG, each followed by an OCR-damaged copy of itself:
///
/// ```text
/// D47.Z9 / D47.29 / G89.3 / M48.50xA / WI40.50XA / M48.50xD / M-0.00XD / M48.50xG /
/// 101-0.0070 / M48.50xS / M48.51xA
/// ```
///
/// The codes near a damaged one, closest first (above before below at equal distance).
fn seed_neighbours(line: usize) -> Vec<&'static str> {
    let printed = [
        "D47.Z9",
        "D47.29",
        "G89.3",
        "M48.50XA",
        "WI40.50XA",
        "M48.50XD",
        "M-0.00XD",
        "M48.50XG",
        "101-0.0070",
        "M48.50XS",
        "M48.51XA",
    ];
    let mut near: Vec<(usize, usize, &str)> = printed
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != line)
        .map(|(i, c)| (i.abs_diff(line), usize::from(i > line), *c))
        .collect();
    near.sort();
    near.into_iter().map(|(_, _, c)| c).collect()
}

#[test]
fn the_garbled_seed_codes() {
    let table = cm26();
    let alone = table.suggest("WI40.50XA");
    show("WI40.50XA", &alone);
    assert_eq!(codes(&alone).first(), Some(&"M48.50XA"));
    let near = table.suggest_near("WI40.50XA", &seed_neighbours(4));
    show("WI40.50XA near the seed list", &near);
    assert_eq!(codes(&near).first(), Some(&"M48.50XA"));
    assert_eq!(
        alone.first().unwrap().describe(),
        "`WI` for `M` (look-alike), `0` for `8` (look-alike)"
    );

    // Alone, `M-0.00XD` is one smudge from M80.00XD: that is the honest best guess.
    let alone = table.suggest("M-0.00XD");
    show("M-0.00XD", &alone);
    assert_eq!(codes(&alone).first(), Some(&"M80.00XD"));
    let near = table.suggest_near("M-0.00XD", &seed_neighbours(6));
    show("M-0.00XD near the seed list", &near);
    assert_eq!(codes(&near).first(), Some(&"M48.50XD"));
    assert!(near.first().unwrap().near);

    let alone = table.suggest("101-0.0070");
    show("101-0.0070", &alone);
    let near = table.suggest_near("101-0.0070", &seed_neighbours(8));
    show("101-0.0070 near the seed list", &near);
    assert_eq!(codes(&near).first(), Some(&"M48.50XG"));
    assert!(
        near.first()
            .unwrap()
            .describe()
            .starts_with("`101` for `M` (look-alike)")
    );
}

#[test]
fn typing_slips() {
    let table = cm26();
    let first = |w: &str| table.suggest(w).into_iter().next().unwrap();
    let s = first("M4850XA");
    assert_eq!(
        (s.code.as_str(), s.describe().as_str()),
        ("M48.50XA", "missing `.`")
    );
    let s = first("M485.0XA");
    assert_eq!(
        (s.code.as_str(), s.describe().as_str()),
        ("M48.50XA", "misplaced `.`")
    );
    let s = first("M48.50A");
    assert_eq!(
        (s.code.as_str(), s.describe().as_str()),
        ("M48.50XA", "missing placeholder `X`")
    );
    let s = first("M84.50XA");
    assert_eq!(s.code, "M84.50XA", "an existing code suggests itself");
    assert!(s.slips.is_empty());
    // `5` and `0` look alike too: M48.55XA is as likely as the swap.
    let swapped = table.suggest("M48.05XA");
    let s = swapped.iter().find(|s| s.code == "M48.50XA").unwrap();
    assert_eq!(s.describe(), "`05` for `50` (swapped)");
    let pcs = shipped("icd10pcs-2025").suggest("OQU03JZ");
    assert_eq!(codes(&pcs).first(), Some(&"0QU03JZ"));
    assert!(table.suggest("").is_empty());
    assert!(table.suggest(&"M".repeat(100)).is_empty());
}

/// One rule for every table, in the checker and in the binding of artifacts' facts: a listed
/// code is billable or a heading, an unlisted one is absent only where the table covers it.
#[test]
fn partial_tables_say_what_they_list_and_nothing_else() {
    use crate::artifact::{CodeStatus, Releases};
    let set = TableSet::shipped();
    let status = |release: &str, code: &str| set.status(System::Cpt, release, code);
    assert_eq!(status("cpt-local", "22512"), Some(CodeStatus::Billable));
    assert_eq!(status("cpt-local", "72148"), None);
    let pcs = |code: &str| set.status(System::Icd10Pcs, "icd10pcs-2025", code);
    assert_eq!(pcs("0QU03JZ"), Some(CodeStatus::Billable));
    assert_eq!(pcs("0QU03JJ"), Some(CodeStatus::Absent));
    assert_eq!(pcs("BW00ZZZ"), None);
    assert_eq!(
        set.status(System::Icd10Cm, "icd10cm-2025", "M48.50XA"),
        Some(CodeStatus::Billable)
    );
}
