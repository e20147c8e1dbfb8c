//! Bad input, generated here because some of it is too big to keep in the repository: every
//! case ends with diagnostics and exit code 1 (or 0 where the input is valid), never with a
//! panic or a stack overflow. Small cases live in `tests/cases/check/` as files.

use std::path::Path;
use std::process::{Command, Output};

use medpol::check::{ImportMap, check};
use medpol::diagnostic::Code;
use medpol::source::FileId;

/// A fresh folder for one test's files, removed when it is dropped, also by a failing test.
fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("medpol-bad-input-{name}-"))
        .tempdir()
        .expect("a scratch folder")
}

fn run(file: &Path) -> Output {
    run_as(file, "short")
}

fn run_as(file: &Path, format: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(["check", "--format", format])
        .arg(file)
        .output()
        .expect("medpol runs")
}

/// Runs the command on `bytes`; asserts it ended on its own, with `code`, and no panic.
fn check_bytes(name: &str, bytes: &[u8], code: i32) -> String {
    let dir = scratch(name);
    let file = dir.path().join("input.medpol");
    std::fs::write(&file, bytes).expect("write the input");
    let out = run(&file);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{name} panicked: {stderr}");
    assert!(!stderr.contains("overflow"), "{name} overflowed: {stderr}");
    assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const HEAD: &str = "policy \"p\" {\n  title \"t\"\n  version \"1\"\n  effective 2025-01-01\n}\n";

#[test]
fn very_long_lines_render_in_every_form() {
    // A label past display column 65,535, and thousands of labels on one line: the terminal
    // report shows a window of the line around each label.
    let dir = scratch("long-lines");
    let cases = [
        ("tabs", format!("{}x\n", "\t".repeat(16_384))),
        (
            "names",
            format!(
                "fact a: bool\ndefine d = {}\n",
                (0..10_000)
                    .map(|i| format!("u{i}"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        ),
    ];
    for (name, text) in cases {
        let file = dir.path().join(format!("{name}.medpol"));
        std::fs::write(&file, &text).expect("write the input");
        for format in ["human", "short", "json"] {
            let out = run_as(&file, format);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{name} as {format}: {stderr}");
            assert_eq!(out.status.code(), Some(1), "{name} as {format}");
            // Linear in the number of diagnostics, not in the length of the line they share.
            let size = out.stdout.len() + out.stderr.len();
            assert!(
                size < 10_001 * 1_000,
                "{name} as {format}: {size} bytes of report"
            );
        }
    }
}

#[test]
fn messages_stay_on_one_line() {
    let text = format!("{HEAD}test \"two\\nlines\" {{}}\n");
    let out = check_bytes("one-line", text.as_bytes(), 1);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("test \"two\\nlines\" expects nothing"),
        "{out}"
    );
}

#[test]
fn empty_file() {
    let out = check_bytes("empty", b"", 1);
    assert!(out.contains("error[E0011]: empty file"), "{out}");
}

#[test]
fn one_hundred_thousand_nested_parentheses() {
    let text = format!(
        "fact a: bool\ndefine x = {}a{}\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let out = check_bytes("parens", text.as_bytes(), 1);
    assert!(out.contains("error[E0006]: nesting too deep"), "{out}");
    assert_eq!(
        out.lines().count(),
        1,
        "one diagnostic, not one per level: {out}"
    );
}

#[test]
fn one_megabyte_identifier() {
    let text = format!("fact {}: bool\n", "a".repeat(1024 * 1024));
    let out = check_bytes("ident", text.as_bytes(), 1);
    assert!(
        out.contains("error[E0010]: name too long: 1048576 characters"),
        "{out}"
    );
    assert!(
        out.len() < 2000,
        "the name is not repeated in full: {} bytes",
        out.len()
    );
}

#[test]
fn fifty_megabyte_file() {
    // Many copies of a valid decision with its own names: large, valid and realistic.
    let mut text = String::from(HEAD);
    let mut i = 0;
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(&format!(
            "fact care_{i}: duration<weeks> \"documented conservative care\"\n\
             fact setting_{i}: enum {{ inpatient, outpatient }}\n\
             fact diagnoses_{i}: set<code<icd10cm>>\n\
             codes fractures_{i} = icd10cm {{ M80.08X-, M48.5- }}\n\
             define chronic_{i} = care_{i} >= 6 weeks and diagnoses_{i} has any fractures_{i}\n\
             decision d_{i} (first) {{\n  outcomes {{ yes, no }}\n  rule r when chronic_{i} and setting_{i} == inpatient then yes\n  otherwise no\n}}\n"
        ));
        i += 1;
    }
    let out = check_bytes("fifty-megabytes", text.as_bytes(), 0);
    // A valid file: no findings, but the analysis of 170,000 decisions may reach its time
    // limit, and then says so in one line.
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() <= 1, "{}", &out[..out.len().min(2000)]);
    assert!(
        lines
            .iter()
            .all(|l| l.contains("warning[W0412]: analysis stopped after")),
        "{out}"
    );
}

#[test]
fn fifty_megabytes_of_garbage_give_errors() {
    // Printable noise: every line is some broken declaration or text before the first one.
    let mut text = String::with_capacity(50 * 1024 * 1024);
    let mut seed: u32 = 17;
    let alphabet = b"abcdefghij {}()<>=:,.\"\n0123456789factdefine ";
    while text.len() < 50 * 1024 * 1024 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let c = alphabet[(seed >> 16) as usize % alphabet.len()];
        text.push(c as char);
    }
    let out = check_bytes("garbage", text.as_bytes(), 1);
    // The first twenty of each code, and a count of the rest of each.
    assert!(
        out.lines()
            .all(|l| l.contains(": error[E") || l.starts_with("… and ") && l.contains(" more E")),
        "only errors: {}",
        &out[..500.min(out.len())]
    );
    assert!(out.contains("error[E0004]: unterminated string"));
}

#[test]
fn nul_bytes_invalid_utf8_and_unterminated_text() {
    let out = check_bytes("nul", b"fact a\0\0: bool\n", 1);
    assert!(out.contains("error[E0003]: NUL byte"), "{out}");
    let out = check_bytes("utf8", b"fact caf\xe9: bool\n", 1);
    assert!(
        out.contains("error[E0002]: the file is not valid UTF-8: 1 invalid byte at byte offset 8"),
        "{out}"
    );
    let out = check_bytes("string", b"fact a: bool \"never closed\n", 1);
    assert!(out.contains("error[E0004]"), "{out}");
    let out = check_bytes("comment", b"fact a: bool\n/* never closed\n", 1);
    assert!(out.contains("error[E0005]"), "{out}");
    let out = check_bytes(
        "random bytes",
        &[0xff, 0x00, 0xc3, 0x28, 0x7b, 0x0a, 0x80, 0xfe],
        1,
    );
    assert!(out.contains("error[E0002]"), "{out}");
}

#[test]
fn byte_order_mark_and_crlf_are_accepted() {
    let text = format!(
        "\u{feff}{}fact a: bool\r\ndecision d (first) {{\r\n  outcomes {{ yes, no }}\r\n  rule r when a then yes\r\n  otherwise no\r\n}}\r\n",
        HEAD.replace('\n', "\r\n")
    );
    assert_eq!(check_bytes("bom-crlf", text.as_bytes(), 0), "");
    // Positions count the line ends as editors do.
    let text = "\u{feff}fact a: bool\r\nfact b: bool\r\nfact c bool\r\n";
    let out = check_bytes("crlf-positions", text.as_bytes(), 1);
    assert!(out.contains("input.medpol:3:8: error[E0001]"), "{out}");
}

#[test]
fn look_alike_letters_warn() {
    let text = format!(
        "{HEAD}fact sympt\u{043e}matic: bool\ndecision d (first) {{\n  outcomes {{ yes, no }}\n  rule r when sympt\u{043e}matic then yes\n  otherwise no\n}}\n"
    );
    let out = check_bytes("look-alike", text.as_bytes(), 0);
    assert!(out.contains("warning[W0001]"), "{out}");
}

/// Parses and checks on a thread with a small stack, as a language server or a test harness
/// thread would, and returns the codes reported.
fn codes_on_small_stack(text: String) -> Vec<Code> {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let parsed = medpol::syntax::parse(FileId(0), &text);
            let checked = check(
                &[parsed.file],
                &ImportMap::new(),
                medpol::tables::TableSet::shipped(),
                &[],
            );
            parsed
                .diagnostics
                .iter()
                .chain(&checked.diagnostics)
                .map(|d| d.code)
                .collect()
        })
        .expect("a thread")
        .join()
        .expect("no panic and no overflow")
}

#[test]
fn nesting_at_the_limit_fits_a_small_stack() {
    let depth = medpol::syntax::scan::MAX_NESTING;
    let text = format!(
        "fact a: bool\ndefine x = {}a{}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    assert_eq!(codes_on_small_stack(text), vec![Code::UnusedDefine]);
    let counts = format!(
        "fact a: bool\ndefine x = {}a{}\n",
        "at least 1 of (".repeat(depth),
        ")".repeat(depth)
    );
    assert_eq!(codes_on_small_stack(counts), vec![Code::UnusedDefine]);
}

#[test]
fn long_flat_chains_do_not_recurse() {
    let n = 100_000;
    let nots = format!("fact a: bool\ndefine x = {}a\n", "not ".repeat(n));
    assert_eq!(codes_on_small_stack(nots), vec![Code::UnusedDefine]);
    let ands = format!("fact a: bool\ndefine x = {}\n", vec!["a"; n].join(" and "));
    assert_eq!(codes_on_small_stack(ands), vec![Code::UnusedDefine]);
    let unions = format!("codes s = {}\n", vec!["cpt { 22510 }"; n].join(" + "));
    assert_eq!(codes_on_small_stack(unions), vec![Code::UnusedCodeSet]);
    let mut chain = String::from("fact a: bool\ndefine d0 = a\n");
    for k in 0..n {
        chain.push_str(&format!("define d{} = d{k}\n", k + 1));
    }
    assert_eq!(codes_on_small_stack(chain), vec![Code::UnusedDefine]);
}

#[test]
fn many_unknown_names_stay_linear() {
    // Each miss looks for a suggestion among all declared names; a budget keeps that bounded.
    let n = 20_000;
    let mut text = String::new();
    for k in 0..n {
        text.push_str(&format!("fact f{k}: bool\ndefine d{k} = g{k}\n"));
    }
    let codes = codes_on_small_stack(text);
    assert_eq!(codes.iter().filter(|c| **c == Code::UnknownName).count(), n);
}

#[test]
fn long_names_and_values_are_quoted_in_part() {
    // A value of a megabyte where a name, a code, a unit, a number or a string goes: every
    // report quotes a bounded part of it, in messages, help and the drawn snippet alike.
    let long = "x".repeat(1024 * 1024);
    let digits = "1".repeat(1024 * 1024);
    let cases = [
        (
            "enum-value",
            format!(
                "fact s: enum {{ a, b }}\ndecision d (first) {{\n  outcomes {{ yes }}\n  rule r when s == {long} then yes\n}}\n"
            ),
        ),
        ("code", format!("codes c = icd10cm {{ M{long} }}\n")),
        (
            "number",
            format!("fact a: decimal\ndefine d = a > 1{digits}\n"),
        ),
        ("unit", format!("fact a: duration<{long}>\n")),
        ("test-name", format!("test \"{long}\" {{}}\n")),
        ("import", format!("import \"{long}.medpol\"\n")),
        ("string", format!("policy \"p\" {{\n  title \"{long}\n}}\n")),
    ];
    for (name, text) in cases {
        let dir = scratch(name);
        let file = dir.path().join("input.medpol");
        std::fs::write(&file, &text).expect("write the input");
        for format in ["human", "short", "json"] {
            let out = run_as(&file, format);
            let size = out.stdout.len() + out.stderr.len();
            assert_eq!(out.status.code(), Some(1), "{name} as {format}");
            assert!(size < 10_000, "{name} as {format}: {size} bytes of report");
        }
    }
    // A code table's source with a megabyte field: the import's error quotes part of it.
    let dir = scratch("import-field");
    let tsv = dir.path().join("codes.tsv");
    std::fs::write(
        &tsv,
        format!("code\tbillable\tshort\tlong\nA00.0\t{long}\tshort\tlong\n"),
    )
    .expect("write the table source");
    let out = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(["tables", "import", "--system", "icd10cm", "--release", "r"])
        .args(["--effective", "2025-01-01", "--output"])
        .arg(dir.path().join("out.mpt"))
        .arg("--tsv")
        .arg(&tsv)
        .output()
        .expect("medpol runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("billable is 1 or 0, not `xxx"), "{stderr}");
    assert!(stderr.len() < 1_000, "{} bytes", stderr.len());
}

#[test]
fn repeats_of_one_code_are_counted_after_the_first_twenty() {
    let text = "fact a: bool\n".repeat(100);
    let dir = scratch("repeats");
    let file = dir.path().join("input.medpol");
    std::fs::write(&file, &text).expect("write the input");
    let short = String::from_utf8_lossy(&run(&file).stdout).into_owned();
    let lines: Vec<&str> = short.lines().collect();
    // The unread fact's warning, twenty duplicates and the count of the rest.
    assert_eq!(lines.len(), 22, "{short}");
    assert_eq!(lines.iter().filter(|l| l.contains("[E0102]")).count(), 20);
    assert_eq!(
        lines.last().copied(),
        Some("… and 79 more E0102 duplicate-definition (`--all` shows every one)")
    );
    let human = run_as(&file, "human");
    let human = String::from_utf8_lossy(&human.stderr);
    assert!(
        human.ends_with(
            "… and 79 more E0102 duplicate-definition (`--all` shows every one)\n\
             checked 1 file: 99 errors and 1 warning\n"
        ),
        "{human}"
    );
    let all = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(["check", "--all", "--format", "short"])
        .arg(&file)
        .output()
        .expect("medpol runs");
    assert_eq!(String::from_utf8_lossy(&all.stdout).lines().count(), 100);
    let json: serde_json::Value =
        serde_json::from_slice(&run_as(&file, "json").stdout).expect("JSON");
    assert_eq!(json["diagnostics"].as_array().map(Vec::len), Some(100));
}
