//! `medpol codes import`: a code table pasted from a printed policy.
//!
//! Every file in `tests/cases/import/` is a case: its first line, `# import: ARGS`, says how to
//! run it, and the rest is the pasted text, given on standard input. Its exit status, blocks
//! and report are compared with its snapshot in `snapshots/`. Every block of every case is
//! also taken into a policy, which must be in the formatter's style, check without errors, and
//! expand against the same tables to exactly the codes the import says it read.
//!
//! One test reads policy 484 exactly as published (`../shared/seeds/`, beside the checkout);
//! where it is not there, the test is reported as ignored with a note. This file has its own
//! harness (`harness = false`, libtest-mimic) for that, as `tests/tables.rs` has.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use libtest_mimic::{Arguments, Trial};
use medpol::check::{ImportMap, check};
use medpol::codeset::CodeCache;
use medpol::diagnostic::{Code, Severity};
use medpol::source::{SourceFile, Sources};
use medpol::tables::TableSet;
use medpol::types::Date;

/// Policy 484 as published, beside the checkout.
const SEED_484: &str = "../shared/seeds/004_bae02af22d4d58b6.txt";

fn main() {
    let args = Arguments::from_args();
    let no_seed = !root().join(SEED_484).exists();
    if no_seed {
        eprintln!(
            "note: {SEED_484} is not there (../shared is beside the checkout), so the test that reads policy 484 as published is ignored"
        );
    }
    let test = |name: &'static str, run: fn()| {
        Trial::test(name, move || {
            run();
            Ok(())
        })
    };
    let trials = vec![
        test("import_cases", import_cases),
        test(
            "every_block_formats_checks_and_expands_to_the_codes_read",
            every_block_formats_checks_and_expands_to_the_codes_read,
        ),
        test("policy_484_as_published", policy_484_as_published).with_ignored_flag(no_seed),
        test(
            "a_file_a_report_file_and_json",
            a_file_a_report_file_and_json,
        ),
        test(
            "an_input_past_the_limit_is_refused",
            an_input_past_the_limit_is_refused,
        ),
        test("usage_errors_exit_2", usage_errors_exit_2),
        test(
            "a_local_table_is_read_as_codes_show_reads_it",
            a_local_table_is_read_as_codes_show_reads_it,
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[path = "support/output.rs"]
mod output;
use output::{report, text};

/// Runs `medpol codes import` with arguments and standard input.
fn import(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(["codes", "import"])
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("medpol runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    // Written from a thread: a large input must not wait on output nobody reads yet.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("medpol ends");
    writer.join().expect("the input is written");
    out
}

/// A case's arguments (from its first line, `-` for standard input first) and its input.
fn case(path: &Path) -> (Vec<String>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let newline = bytes.iter().position(|b| *b == b'\n').unwrap();
    let header = std::str::from_utf8(&bytes[..newline]).unwrap();
    let words = header
        .strip_prefix("# import:")
        .expect("a case starts with `# import: ARGS`");
    let mut args = vec!["-".to_string()];
    args.extend(words.split_whitespace().map(str::to_string));
    (args, bytes[newline + 1..].to_vec())
}

fn cases() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("tests/cases/import"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "the import cases are there");
    paths
}

fn import_cases() {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| {
        insta::glob!("cases/import/*.txt", |path| {
            let (args, input) = case(path);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            insta::assert_snapshot!(report(&import(&args, &input)));
        });
    });
}

/// The value after `--date` in a case's arguments.
fn date_of(args: &[String]) -> Date {
    let at = args.iter().position(|a| a == "--date").expect("--date");
    Date::parse(&args[at + 1]).unwrap()
}

/// A block taken into a policy of the date: it is in the formatter's style, checks without
/// errors (and without warnings but that it is unused and, for a table of selected codes,
/// that some codes are taken as written), and its set holds exactly `codes`.
fn assert_block_is_sound(name: &str, block: &str, codes: &[String], date: Date, what: &str) {
    let policy = format!(
        "policy \"imported\" {{\n  title \"Imported codes\"\n  version \"1\"\n  effective {}-{:02}-{:02}\n}}\n\n{block}",
        date.year, date.month, date.day
    );
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("imported.medpol", None, policy.clone()));
    let formatted = medpol::format::format(id, &policy).expect("the block parses");
    assert_eq!(
        formatted, policy,
        "{what}: the block is not in the formatter's style"
    );
    let parsed = medpol::syntax::parse(id, &policy);
    let tables = TableSet::shipped();
    let checked = check(&[parsed.file], &ImportMap::new(), tables, &[]);
    let mut diagnostics = parsed.diagnostics;
    diagnostics.extend(checked.diagnostics.iter().cloned());
    let unexpected: Vec<String> = diagnostics
        .iter()
        .filter(|d| {
            d.severity == Severity::Error
                || !matches!(d.code, Code::UnusedCodeSet | Code::PartialTable)
        })
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect();
    assert!(unexpected.is_empty(), "{what}: {unexpected:?}");
    let program = checked.valid().expect("a valid model");
    let sets = CodeCache::default().code_sets(program, Some(tables), Some(date));
    let id = program
        .code_sets
        .iter()
        .position(|s| s.name.as_deref() == Some(name))
        .expect("the set is declared");
    let members = sets.members(medpol::ir::CodeSetId(id as u32));
    assert_eq!(
        members, codes,
        "{what}: the block does not expand to the codes read"
    );
}

fn every_block_formats_checks_and_expands_to_the_codes_read() {
    for path in cases() {
        let (mut args, input) = case(&path);
        args.extend(["--format".into(), "json".into()]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = import(&argv, &input);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}: {}", path.display(), text(&out.stderr)));
        let what = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_blocks_are_sound(&json, date_of(&args), &what);
    }
}

/// Every block of an import's JSON report is sound (`assert_block_is_sound`).
fn assert_blocks_are_sound(json: &serde_json::Value, date: Date, what: &str) {
    for block in json["blocks"].as_array().unwrap() {
        let codes: Vec<String> = block["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        assert!(!codes.is_empty(), "{what}");
        assert_block_is_sound(
            block["name"].as_str().unwrap(),
            block["text"].as_str().unwrap(),
            &codes,
            date,
            what,
        );
    }
}

/// Policy 484 exactly as published: its tables are read with every damaged code repaired as
/// a continuation line, and the complete families written as patterns.
fn policy_484_as_published() {
    let input = std::fs::read(root().join(SEED_484)).unwrap();
    let out = import(&["-", "--date", "2026-06-01", "--format", "json"], &input);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let blocks = json["blocks"].as_array().unwrap();
    let systems: Vec<&str> = blocks
        .iter()
        .map(|b| b["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["icd10cm", "icd10pcs", "cpt"]);
    let items = |b: &serde_json::Value| -> Vec<String> {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["item"].as_str().unwrap().to_string())
            .collect()
    };
    let icd = items(&blocks[0]);
    for pattern in [
        "M48.5-", "M80.08X-", "M80.88X-", "M84.48X-", "M84.58X-", "M84.68X-",
    ] {
        assert!(icd.contains(&pattern.to_string()), "{pattern} in {icd:?}");
    }
    assert!(icd.contains(&"D47.Z9".to_string()));
    assert_eq!(blocks[0]["codes"].as_array().unwrap().len(), 75);
    assert_eq!(blocks[1]["codes"].as_array().unwrap().len(), 14);
    assert_eq!(blocks[1]["release"], "icd10pcs-2025");
    assert_eq!(
        items(&blocks[2]),
        ["22510", "22511", "22512", "0200T", "0201T"]
    );
    let merged: Vec<(String, String)> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "merged")
        .map(|c| {
            (
                c["written"].as_str().unwrap().to_string(),
                c["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("D47.29", "D47.Z9"),
        ("WI40.50XA", "M48.50XA"),
        ("M-0.00XD", "M48.50XD"),
        ("101-0.0070", "M48.50XG"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(merged, expected);
    let changes = json["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["kind"] == "normalised" && c["written"] == "M84.68xS")
    );
    assert!(
        !changes
            .iter()
            .any(|c| c["kind"] == "unrecognised" || c["kind"] == "repaired")
    );
    assert_blocks_are_sound(&json, Date::parse("2026-06-01").unwrap(), "policy 484");
}

fn a_file_a_report_file_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let report_file = dir.path().join("report.txt");
    let file = root().join("tests/cases/import/one-per-line.txt");
    let out = import(
        &[
            file.to_str().unwrap(),
            "--date",
            "2026-06-01",
            "--report",
            report_file.to_str().unwrap(),
        ],
        b"",
    );
    // The header line of the case is text without a code: skipped, and the rest is read.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "the report goes to the file");
    assert!(text(&out.stdout).starts_with("// 11 ICD-10-CM codes"));
    let written = std::fs::read_to_string(&report_file).unwrap();
    assert!(
        written.starts_with("read 14 lines: 11 ICD-10-CM codes"),
        "{written}"
    );
    assert!(written.contains("skipped: line 1:"), "{written}");

    let out = import(
        &[
            "-",
            "--date",
            "2026-06-01",
            "--format",
            "json",
            "--report",
            report_file.to_str().unwrap(),
        ],
        b"C41.2\nM48.59XA\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with("// 1 ICD-10-CM code read"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert_eq!(json["changes"][0]["kind"], "unrecognised");
    assert_eq!(json["changes"][0]["line"], 2);
    assert_eq!(json["blocks"][0]["codes"][0], "C41.2");
}

fn an_input_past_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.txt");
    let line = b"M48.50XA\tCollapsed vertebra, not elsewhere classified\n";
    let lines = (4 << 20) / line.len() + 1;
    std::fs::write(&big, line.repeat(lines)).unwrap();
    let out = import(&[big.to_str().unwrap(), "--date", "2026-06-01"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).ends_with("it is larger than 4 MiB, the limit for a pasted code table\n"),
        "{}",
        text(&out.stderr)
    );
    let out = import(&["-", "--date", "2026-06-01"], &line.repeat(lines));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: cannot read standard input: it is larger than 4 MiB")
    );
    // A line past the line limit is reported, and the rest is read.
    let mut input = "C41.2 ".repeat(2000).into_bytes();
    input.extend_from_slice(b"\nG89.3\n");
    let out = import(&["-", "--date", "2026-06-01"], &input);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("G89.3"));
    assert!(text(&out.stderr).contains("line-too-long: line 1: the line has 12000 bytes, more than the 8192 a line may have: not read"), "{}", text(&out.stderr));
}

fn usage_errors_exit_2() {
    for (args, message) in [
        (
            vec!["-", "--name", "codes"],
            "error: `codes` cannot name a set",
        ),
        (
            vec!["-", "--date", "2026-02-30"],
            "`2026-02-30` is not a date",
        ),
        (vec!["-", "--system", "icd9"], "unknown code system `icd9`"),
        (
            vec!["no-such-file.txt"],
            "error: cannot read `no-such-file.txt`: no such file or folder",
        ),
        (vec!["tests/cases/import"], "it is a folder, not a file"),
    ] {
        let out = import(&args, b"C41.2\n");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(message),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
}

fn a_local_table_is_read_as_codes_show_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let release = medpol::tables::import::Release {
        system: medpol::codes::System::Hcpcs,
        id: "hcpcs-mine".into(),
        title: "Our HCPCS codes".into(),
        effective: Date::parse("2025-01-01").unwrap(),
        covers: "*".into(),
    };
    let yaml = "system: hcpcs\ncodes:\n  - code: C1062\n    short: Our label for an implant\n";
    let data = medpol::tables::import::local(yaml, "mine.yaml", &release).unwrap();
    let table = dir.path().join("mine.mpt");
    std::fs::write(&table, data.to_bytes().unwrap()).unwrap();
    // The table lists every HCPCS code (it covers `*`): `C1O62` is damage, and it is `C1062`,
    // the only code one look-alike away.
    let out = import(
        &[
            "-",
            "--date",
            "2026-06-01",
            "--table",
            table.to_str().unwrap(),
        ],
        b"HCPCS codes\nC1O62\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("checked against hcpcs-mine"), "{stdout}");
    assert!(
        stdout.contains("C1062   // Our label for an implant"),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("repaired: line 2: `C1O62` is not a code; it is `C1062`"),
        "{stderr}"
    );
}
