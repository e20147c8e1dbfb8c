//! The code tables from the outside: the shipped files are what the importer makes of their
//! sources, the FY2025 table holds every row of its list, and the `medpol tables` and
//! `medpol codes` commands behave as documented.
//!
//! The sources are large and live beside the checkout, in `../shared/tables/`; where they are
//! not there, the tests that need them are reported as ignored, and a note on standard error
//! says which are missing. This file has its own test harness (`harness = false` in
//! `Cargo.toml`, libtest-mimic) for that: libtest fixes what is ignored when the test is
//! compiled, and whether the sources are there is only known when it runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use libtest_mimic::{Arguments, Trial};
use medpol::tables::TableSet;

/// The FY2025 list the shipped `icd10cm-2025` table holds, beside the checkout.
const FY2025_LIST: &str = "../shared/tables/icd10cm-codes-2025.tsv";

/// Names a copy of CMS's alpha-numeric HCPCS file (`HCPC2026_JAN_ANWEB.txt`, from the zip CMS
/// publishes each quarter) to check the `--hcpcs` importer against; without it, the test
/// reads the `HCPC*_ANWEB*.txt` files in `../shared/tables/`, if any.
const HCPCS_SOURCE: &str = "MEDPOL_HCPCS_SOURCE";

fn main() {
    let args = Arguments::from_args();
    let there = |source: &str| root().join(source).exists();
    let mut sources: Vec<String> = readme_commands()
        .iter()
        .filter_map(|args| source_of(args))
        .filter(|source| !there(source))
        .collect();
    let no_sources = !sources.is_empty();
    let no_list = !there(FY2025_LIST);
    if no_list {
        sources.push(FY2025_LIST.to_string());
    }
    let no_hcpcs = hcpcs_sources().is_empty();
    if no_hcpcs {
        sources.push(format!(
            "CMS's HCPCS file (set {HCPCS_SOURCE}, or put HCPC*_ANWEB*.txt in ../shared/tables/)"
        ));
    }
    sources.sort();
    sources.dedup();
    if !sources.is_empty() {
        eprintln!(
            "note: {} not there (../shared is beside the checkout on CI), so the tests that read them are ignored",
            sources.join(", ")
        );
    }
    let test = |name: &'static str, run: fn()| {
        Trial::test(name, move || {
            run();
            Ok(())
        })
    };
    let trials = vec![
        test(
            "the_shipped_tables_are_what_the_readme_commands_make",
            the_shipped_tables_are_what_the_readme_commands_make,
        )
        .with_ignored_flag(no_sources),
        test(
            "every_shipped_table_has_its_command_in_the_readme",
            every_shipped_table_has_its_command_in_the_readme,
        ),
        test(
            "the_fy2025_table_holds_every_row_of_its_list",
            the_fy2025_table_holds_every_row_of_its_list,
        )
        .with_ignored_flag(no_list),
        test(
            "the_cms_hcpcs_file_imports_whole",
            the_cms_hcpcs_file_imports_whole,
        )
        .with_ignored_flag(no_hcpcs),
        test(
            "tables_import_reads_the_cms_hcpcs_layout",
            tables_import_reads_the_cms_hcpcs_layout,
        ),
        test(
            "the_xml_release_keeps_what_the_flat_list_had",
            the_xml_release_keeps_what_the_flat_list_had,
        ),
        test("tables_list", tables_list),
        test("codes_show", codes_show),
        test(
            "codes_show_suggests_for_a_code_that_does_not_exist",
            codes_show_suggests_for_a_code_that_does_not_exist,
        ),
        test(
            "codes_show_tells_the_system_from_the_form",
            codes_show_tells_the_system_from_the_form,
        ),
        test(
            "codes_show_usage_errors_exit_2",
            codes_show_usage_errors_exit_2,
        ),
        test("codes_expand", codes_expand),
        test(
            "tables_import_writes_a_table_the_codes_commands_read",
            tables_import_writes_a_table_the_codes_commands_read,
        ),
        test(
            "a_failed_import_leaves_the_output_alone",
            a_failed_import_leaves_the_output_alone,
        ),
        test(
            "codes_show_names_the_allowed_7th_characters",
            codes_show_names_the_allowed_7th_characters,
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn medpol(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("medpol runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh folder for one test's files, removed when it is dropped, also by a failing test.
fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("medpol-tables-{name}-"))
        .tempdir()
        .unwrap()
}

/// Splits a command line as a shell would, for the commands in `tables/README.md`: words,
/// double-quoted words, and backslash-newline continuations.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

/// The `medpol tables import` commands of the section "The import commands" of
/// `tables/README.md`: those of the shipped tables (the how-to sections have others).
fn readme_commands() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(root().join("tables/README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("The import commands"))
        .expect("tables/README.md has a section \"The import commands\"");
    let joined = section.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("medpol tables import "))
        .map(|l| words(l).into_iter().skip(1).collect())
        .collect()
}

/// Where in a command its output is (after `-o`): the shipped table's path.
fn output_at(args: &[String]) -> usize {
    args.iter()
        .position(|a| a == "-o")
        .expect("-o in every command")
        + 1
}

/// The source a command reads (after `--xml`, `--tsv`, `--local` or `--hcpcs`).
fn source_of(args: &[String]) -> Option<String> {
    let at = args
        .iter()
        .position(|a| ["--xml", "--tsv", "--local", "--hcpcs"].contains(&a.as_str()))?;
    args.get(at + 1).cloned()
}

fn the_shipped_tables_are_what_the_readme_commands_make() {
    let dir = scratch("reimport");
    for args in &readme_commands() {
        let out_at = output_at(args);
        let shipped = args[out_at].clone();
        let fresh = dir.path().join(Path::new(&shipped).file_name().unwrap());
        let mut args = args.clone();
        args[out_at] = fresh.display().to_string();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = medpol(&argv);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let made = std::fs::read(&fresh).unwrap();
        let kept = std::fs::read(root().join(&shipped)).unwrap();
        assert!(
            made == kept,
            "{shipped} is not what `medpol {}` makes: import it again",
            args.join(" ")
        );
    }
}

fn every_shipped_table_has_its_command_in_the_readme() {
    let mut outputs: Vec<String> = readme_commands()
        .iter()
        .map(|a| a[output_at(a)].clone())
        .collect();
    let mut shipped: Vec<String> = std::fs::read_dir(root().join("tables"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mpt"))
        .map(|n| format!("tables/{n}"))
        .collect();
    shipped.sort();
    outputs.sort();
    assert_eq!(
        shipped, outputs,
        "every shipped table has its command in tables/README.md"
    );
}

fn the_fy2025_table_holds_every_row_of_its_list() {
    let list = std::fs::read_to_string(root().join(FY2025_LIST)).unwrap();
    let table = TableSet::shipped().get("icd10cm-2025").unwrap();
    let mut rows = 0;
    for line in list.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let e = table
            .lookup(f[0])
            .unwrap_or_else(|| panic!("{} is missing", f[0]));
        assert_eq!(e.is_billable(), f[1] == "1", "{}", f[0]);
        assert_eq!(e.short().as_deref(), Some(f[2]), "{}", f[0]);
        assert_eq!(e.long(), f[3], "{}", f[0]);
        rows += 1;
    }
    assert_eq!(rows, table.len());
}

fn the_xml_release_keeps_what_the_flat_list_had() {
    // The two releases are six months apart: nearly every billable code of FY2025 is still
    // billable in April 2026, with the same long description bar a few accents.
    let set = TableSet::shipped();
    let (old, new) = (
        set.get("icd10cm-2025").unwrap(),
        set.get("icd10cm-2026-04").unwrap(),
    );
    let mut gone = 0;
    let mut renamed = 0;
    for e in old.iter().filter(|e| e.is_billable()) {
        match new.lookup(e.code()) {
            Some(n) if n.is_billable() => renamed += usize::from(n.long() != e.long()),
            _ => gone += 1,
        }
    }
    assert!(gone < 100, "{gone} FY2025 codes are not billable in 2026");
    assert!(renamed < 300, "{renamed} descriptions changed");
}

/// The copies of CMS's alpha-numeric HCPCS file there are to check: the one
/// `MEDPOL_HCPCS_SOURCE` names, else those in `../shared/tables/`.
fn hcpcs_sources() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os(HCPCS_SOURCE) {
        return vec![PathBuf::from(path)];
    }
    let Ok(entries) = std::fs::read_dir(root().join("../shared/tables")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("HCPC") && n.contains("_ANWEB") && n.ends_with(".txt")
            })
        })
        .collect();
    found.sort();
    found
}

/// The first day of the quarter a CMS file is named for: `HCPC2026_APR_ANWEB.txt` is in force
/// from 2026-04-01 (an annual file, `HCPC2026_ANWEB.txt`, from January 1).
fn quarter_of(file: &Path) -> String {
    let name = file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_ascii_uppercase();
    let year = name
        .get(4..8)
        .filter(|y| y.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("{name}: name the file HCPCyyyy_MON_ANWEB.txt, as CMS does"));
    let month = [("_APR", "04"), ("_JUL", "07"), ("_OCT", "10")]
        .iter()
        .find(|(m, _)| name.contains(m))
        .map_or("01", |(_, n)| n);
    format!("{year}-{month}-01")
}

/// `medpol tables import --hcpcs`, as `tables/README.md` gives it.
fn import_hcpcs(source: &Path, release: &str, effective: &str, table: &Path) -> Output {
    medpol(&[
        "tables",
        "import",
        "--hcpcs",
        &source.display().to_string(),
        "--system",
        "hcpcs",
        "--release",
        release,
        "--effective",
        effective,
        "--covers",
        "ABCEGHJKLMPQRSTUV",
        "-o",
        &table.display().to_string(),
    ])
}

/// Each copy of CMS's HCPCS file there is imports, and the table has what the file should:
/// thousands of codes, the well-known ones with their descriptions, no dental (CDT) codes.
fn the_cms_hcpcs_file_imports_whole() {
    let dir = scratch("hcpcs");
    for source in hcpcs_sources() {
        let table = dir.path().join("hcpcs.mpt");
        let effective = quarter_of(&source);
        let out = import_hcpcs(&source, "hcpcs-check", &effective, &table);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let t = medpol::tables::Table::from_bytes(std::fs::read(&table).unwrap()).unwrap();
        assert!(
            (6_000..12_000).contains(&t.len()),
            "{}: {} codes",
            source.display(),
            t.len()
        );
        for code in ["A0021", "E0100", "G0008", "J1100", "L0631", "V2020"] {
            let e = t
                .lookup(code)
                .unwrap_or_else(|| panic!("{}: no {code}", source.display()));
            assert!(
                e.is_billable() && e.long().len() > 10,
                "{code}: {}",
                e.long()
            );
            assert!(e.short().is_some(), "{code} has no short description");
        }
        assert!(
            t.lookup("J1100")
                .unwrap()
                .long()
                .to_lowercase()
                .contains("dexamethasone")
        );
        assert_eq!(t.prefix("D").count(), 0, "CDT codes are left out");
    }
}

/// One record of CMS's alpha-numeric HCPCS file: code, record id, long and short description,
/// the date added (columns 1, 11, 12, 92 and 269).
fn hcpcs_record(code: &str, kind: char, long: &str, short: &str) -> String {
    format!(
        "{code:<10}{kind}{long:<80}{short:<28}{:149}{:<8}",
        "", "19840101"
    )
}

/// The CLI reads CMS's layout in its Windows-1252 bytes, and the codes commands read the table.
fn tables_import_reads_the_cms_hcpcs_layout() {
    let dir = scratch("hcpcs-layout");
    let dir = dir.path();
    let mut bytes = [
        hcpcs_record(
            "J1100",
            '3',
            "Injection, dexamethasone sodium phosphate, 1 mg",
            "Dexamethasone sodium phos",
        ),
        hcpcs_record(
            "J1110",
            '3',
            "Injection, dihydroergotamine mesylate, per 1 mg",
            "Inj dihydroergotamine mesylt",
        ),
        hcpcs_record("J1110", '4', "(a continuation, for the layout)", ""),
        hcpcs_record(
            "GA",
            '7',
            "Waiver of liability statement issued as required by payer policy",
            "Waiver of liability stmt",
        ),
        hcpcs_record(
            "L0631",
            '3',
            "Lumbar-sacral orthosis, sagittal control",
            "Lso sag r an/pos pnl pre ots",
        ),
    ]
    .join("\r\n")
    .into_bytes();
    // A Windows-1252 apostrophe, which is not UTF-8.
    let at = bytes.iter().position(|&b| b == b'(').unwrap();
    bytes[at] = 0x92;
    let source = dir.join("HCPC2026_JAN_ANWEB.txt");
    std::fs::write(&source, bytes).unwrap();
    let table = dir.join("hcpcs.mpt");
    let table_s = table.display().to_string();
    let out = import_hcpcs(&source, "hcpcs-2026-01", "2026-01-01", &table);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("3 codes (3 billable)"),
        "{}",
        text(&out.stdout)
    );

    let shown = text(&medpol(&["codes", "show", "J1110", "--table", &table_s]).stdout);
    assert!(
        shown.starts_with(
            "J1110  Injection, dihydroergotamine mesylate, per 1 mg \u{2019}a continuation, for the layout)\n"
        ),
        "{shown}"
    );
    let out = medpol(&["codes", "show", "J1101", "--table", &table_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("did you mean:\n  J1110"),
        "{}",
        text(&out.stdout)
    );
    let listing = text(
        &medpol(&[
            "codes", "expand", "J11*", "--system", "hcpcs", "--table", &table_s,
        ])
        .stdout,
    );
    assert!(
        listing.starts_with("J11* covers 2 billable codes (hcpcs-2026-01):"),
        "{listing}"
    );
}

// ------------------------------------------------------------------ the commands

fn tables_list() {
    let out = medpol(&["tables", "list"]);
    assert_eq!(out.status.code(), Some(0));
    let listing = text(&out.stdout);
    for id in [
        "icd10cm-2025",
        "icd10cm-2026-04",
        "icd10pcs-2025",
        "cpt-local",
    ] {
        assert!(listing.contains(id), "{listing}");
    }
}

fn codes_show() {
    let out = medpol(&["codes", "show", "G35"]);
    assert_eq!(out.status.code(), Some(0));
    let shown = text(&out.stdout);
    assert!(shown.starts_with("G35  Multiple sclerosis\n"), "{shown}");
    assert!(
        shown.contains("icd10cm-2025: billable; icd10cm-2026-04: header"),
        "{shown}"
    );
    assert!(shown.contains("G35.A"), "{shown}");

    let shown = text(&medpol(&["codes", "show", "M48.56"]).stdout);
    assert!(
        shown.contains("7th char    required: one of A, D, G, S (rule of M48.5)"),
        "{shown}"
    );
    assert!(
        shown.contains("A  initial encounter for fracture"),
        "{shown}"
    );
    assert!(
        shown.contains("M80.-: pathological fracture of vertebra due to osteoporosis (M80.-)"),
        "{shown}"
    );

    let shown = text(&medpol(&["codes", "show", "22512"]).stdout);
    assert!(
        shown.contains("add-on      reported only with 22510 or 22511"),
        "{shown}"
    );

    let out = medpol(&["codes", "show", "G35", "--release", "icd10cm-2025"]);
    assert!(text(&out.stdout).contains("billable    yes"));
}

fn codes_show_suggests_for_a_code_that_does_not_exist() {
    let out = medpol(&["codes", "show", "D47.29"]);
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with(
            "no code `D47.29` in icd10cm-2026-04 (ICD-10-CM)\n  searched    icd10cm-2026-04, icd10cm-2025 (ICD-10-CM, told from the code's form)\ndid you mean:\n  D47.Z9 "
        ),
        "{shown}"
    );
    assert!(shown.contains("(`2` for `Z` (look-alike))"), "{shown}");

    let shown = text(&medpol(&["codes", "show", "M4850XA"]).stdout);
    assert!(
        shown.contains("  M48.50XA "),
        "told from the suggestions, not the format: {shown}"
    );

    let out = medpol(&["codes", "show", "G35.A", "--release", "icd10cm-2025"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("releases    icd10cm-2025: absent; icd10cm-2026-04: billable")
    );
}

/// Five digits are a CPT code, a letter and four digits an HCPCS code: a code the tables do
/// not have is looked up, and suggested from, its own system only, and the report says which
/// tables were searched.
fn codes_show_tells_the_system_from_the_form() {
    for code in ["72148", "27279"] {
        let out = medpol(&["codes", "show", code]);
        assert_eq!(out.status.code(), Some(1));
        let shown = text(&out.stdout);
        assert_eq!(
            shown,
            format!(
                "no code `{code}` in cpt-local (CPT)\n  searched    cpt-local (CPT, told from the code's form)\ncpt-local lists only some CPT codes: `{code}` may still be one\n"
            )
        );
    }
    let out = medpol(&["codes", "show", "J1234"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no HCPCS table"));
    let shown = text(&medpol(&["codes", "show", "0QU03JJ"]).stdout);
    assert!(
        shown.contains("searched    icd10pcs-2025 (ICD-10-PCS, told from the code's form)"),
        "{shown}"
    );
}

fn codes_show_usage_errors_exit_2() {
    let out = medpol(&["codes", "show", "G35", "--release", "icd10cm-1999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no release `icd10cm-1999`"));
    let out = medpol(&["codes", "show", "G35", "--system", "snomed"]);
    assert_eq!(out.status.code(), Some(2));
    let out = medpol(&[
        "codes",
        "show",
        "G35",
        "--release",
        "cpt-local",
        "--system",
        "icd10cm",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

fn codes_expand() {
    let out = medpol(&["codes", "expand", "M48.50XA..M48.58XS"]);
    assert_eq!(out.status.code(), Some(0));
    let listing = text(&out.stdout);
    assert!(
        listing.starts_with(
            "M48.50XA..M48.58XS covers 36 billable codes in 9 subcategories (icd10cm-2026-04):"
        ),
        "{listing}"
    );
    assert_eq!(listing.matches("\n  M48.5").count(), 36, "{listing}");

    let listing = text(&medpol(&["codes", "expand", "M80.08X-"]).stdout);
    assert!(
        listing.contains("covers 6 billable codes in 1 subcategory"),
        "{listing}"
    );
    assert!(
        listing.contains("  M80.08XK  Age-related osteoporosis"),
        "{listing}"
    );
    assert_eq!(
        text(&medpol(&["codes", "expand", "M80.08X*"]).stdout),
        listing.replace("M80.08X-", "M80.08X*")
    );

    let listing = text(&medpol(&["codes", "expand", "2251*"]).stdout);
    assert!(
        listing.starts_with("2251* covers 3 billable codes (cpt-local):"),
        "{listing}"
    );

    let out = medpol(&[
        "codes",
        "expand",
        "M48.50XA..M48.50XA",
        "--release",
        "icd10cm-2025",
    ]);
    assert!(text(&out.stdout).contains("covers 1 billable code in 1 subcategory (icd10cm-2025)"));

    let out = medpol(&["codes", "expand", "Z99.9*"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let out = medpol(&["codes", "expand", "M48.58XS..M48.50XA"]);
    assert_eq!(out.status.code(), Some(2));
}

fn tables_import_writes_a_table_the_codes_commands_read() {
    let dir = scratch("import");
    let dir = dir.path();
    let source = dir.join("mine.yaml");
    std::fs::write(
        &source,
        "system: hcpcs\ncodes:\n  - code: C1062\n    short: Intravertebral body fracture augmentation implant\n",
    )
    .unwrap();
    let table = dir.join("mine.mpt");
    let (source, table) = (source.display().to_string(), table.display().to_string());
    let out = medpol(&[
        "tables",
        "import",
        "--local",
        &source,
        "--system",
        "hcpcs",
        "--release",
        "hcpcs-mine",
        "--effective",
        "2025-01-01",
        "-o",
        &table,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 codes (1 billable)"));
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "no temporary file is left: {leftovers:?}"
    );

    let out = medpol(&["codes", "show", "C1062", "--table", &table]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("hcpcs-mine (HCPCS, effective 2025-01-01)"));
}

fn a_failed_import_leaves_the_output_alone() {
    let dir = scratch("failed");
    let dir = dir.path();
    let source = dir.join("bad.tsv");
    std::fs::write(
        &source,
        "code\tbillable\tshort\tlong\n22510\t1\tx\tOne\n22510\t1\ty\tTwo\n",
    )
    .unwrap();
    let table = dir.join("out.mpt");
    std::fs::write(&table, b"the old table").unwrap();
    let (source_s, table_s) = (source.display().to_string(), table.display().to_string());
    let out = medpol(&[
        "tables",
        "import",
        "--tsv",
        &source_s,
        "--system",
        "cpt",
        "--release",
        "cpt-x",
        "--effective",
        "2025-01-01",
        "-o",
        &table_s,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!("error: {source_s}:3: `22510` is listed twice (first on line 2)\n")
    );
    assert_eq!(std::fs::read(&table).unwrap(), b"the old table");
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 2);

    let broken = dir.join("broken.xml");
    std::fs::write(
        &broken,
        "<ICD10CM.tabular>\n<chapter>\n<diag><name>A00</name>\n</chapter>\n",
    )
    .unwrap();
    let broken_s = broken.display().to_string();
    let out = medpol(&[
        "tables",
        "import",
        "--xml",
        &broken_s,
        "--system",
        "icd10cm",
        "--release",
        "x",
        "--effective",
        "2025-01-01",
        "-o",
        &table_s,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with(&format!("error: {broken_s}:4: broken XML")),
        "{}",
        text(&out.stderr)
    );

    let out = medpol(&[
        "tables",
        "import",
        "--tsv",
        &source_s,
        "--system",
        "snomed",
        "--release",
        "x",
        "--effective",
        "2025-01-01",
        "-o",
        &table_s,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown code system `snomed`"));
    let out = medpol(&[
        "tables",
        "import",
        "--tsv",
        "no/such/file.tsv",
        "--system",
        "cpt",
        "--release",
        "x",
        "--effective",
        "2025-01-01",
        "-o",
        &table_s,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read `no/such/file.tsv`: no such file or folder"));
}

fn codes_show_names_the_allowed_7th_characters() {
    let out = medpol(&["codes", "show", "M48.50XK"]);
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("`M48.50` takes a 7th character: A (initial encounter for fracture), D ("),
        "{shown}"
    );
}
