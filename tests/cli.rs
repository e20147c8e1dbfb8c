//! The `medpol` command as a user runs it: exit codes, output forms and streams.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn medpol(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("medpol runs")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cli_case(name: &str) -> String {
    format!("tests/cases/cli/{name}")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn shipped_policies_check_clean_with_exit_0() {
    let out = medpol(&["check", "policies"], &root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "checked 12 files: no problems\n");
    assert!(out.stdout.is_empty());
}

#[test]
fn the_default_path_is_the_current_folder() {
    let out = medpol(&["check"], &root().join("policies"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("checked 12 files"));
}

#[test]
fn errors_exit_1_and_the_human_form_goes_to_stderr_without_colour() {
    let out = medpol(&["check", &cli_case("errors.medpol")], &root());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("E0104"), "{err}");
    assert!(err.contains("E0108"), "{err}");
    assert!(
        err.ends_with("checked 1 file: 2 errors and 1 warning\n"),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no escape codes when stderr is not a terminal"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn short_form_is_one_line_per_diagnostic_on_stdout() {
    let out = medpol(
        &["check", "--format", "short", &cli_case("errors.medpol")],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        vec![
            "tests/cases/cli/errors.medpol:8:6: warning[W0101]: fact `unused` is never read",
            "tests/cases/cli/errors.medpol:12:23: error[E0104]: `care` is in days but `2 months` is in months, which do not convert exactly",
            "tests/cases/cli/errors.medpol:13:13: error[E0108]: `nope` is not an outcome of decision `d`",
        ]
    );
}

#[test]
fn json_form_has_the_documented_fields() {
    let out = medpol(
        &["check", "--format", "json", &cli_case("errors.medpol")],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let summary = &json["summary"];
    assert_eq!(summary["errors"], 2);
    assert_eq!(summary["warnings"], 1);
    assert_eq!(summary["files"], 1);
    let first = &json["diagnostics"][1];
    for key in [
        "code",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "labels",
        "help",
    ] {
        assert!(first.get(key).is_some(), "missing `{key}` in {first}");
    }
    assert_eq!(first["code"], "E0104");
    assert_eq!(first["severity"], "error");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(12), Some(23))
    );
    assert_eq!(
        (first["end_line"].as_u64(), first["end_column"].as_u64()),
        (Some(12), Some(31))
    );
    let labels = first["labels"].as_array().expect("labels");
    assert_eq!(labels.len(), 2);
    assert_eq!(labels[0]["primary"], true);
    assert_eq!(labels[1]["primary"], false);
}

#[test]
fn warnings_pass_unless_denied() {
    let file = cli_case("warnings-only.medpol");
    let out = medpol(&["check", &file], &root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).ends_with("checked 1 file: 1 warning\n"));
    let out = medpol(&["check", "--deny-warnings", &file], &root());
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let out = medpol(&["check", "no/such/path.medpol"], &root());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("does not exist"));
    let out = medpol(&["check", "--format", "xml"], &root());
    assert_eq!(out.status.code(), Some(2));
    let out = medpol(&["frobnicate"], &root());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_prints_the_documented_explanation() {
    let out = medpol(&["explain", "E0104"], &root());
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "E0104 unit-mismatch: quantities whose units cannot be compared exactly\n"
        )
    );
    assert!(stdout.contains("365 days"));
    let by_name = medpol(&["explain", "unit-mismatch"], &root());
    assert_eq!(by_name.stdout, out.stdout);
    let unknown = medpol(&["explain", "E0899"], &root());
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("unknown diagnostic code `E0899`"));
}

/// A reader that stops early (`medpol explain W0316 | head -1`) ends the command quietly, as
/// it does every other one: the pipe is closed before the command writes, so the write fails.
#[test]
fn explain_ends_quietly_when_its_reader_stops_early() {
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_medpol"))
            .args(["explain", "W0316"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("medpol runs");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("medpol ends");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "");
    }
}

#[test]
fn test_runs_the_shipped_policies_tests_and_exits_0() {
    let out = medpol(&["test", "policies"], &root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("0 failed"), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert!(
        stdout.contains(
            "coverage = investigational, by rule `sacroplasty` (policies/bcbsma-484.medpol:"
        ),
        "{stdout}"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn test_failures_exit_1_with_expected_and_actual_in_json() {
    let out = medpol(
        &[
            "test",
            "tests/cases/test/failing.medpol",
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["failed"], 3);
    let first = &doc["tests"][0];
    assert_eq!(first["passed"], false);
    assert_eq!(first["source"]["line"], 25);
    let expect = &first["expects"][0];
    assert_eq!(expect["decision"], "coverage");
    assert_eq!(expect["expected"], "covered");
    assert_eq!(expect["actual"]["kind"], "decided");
    assert_eq!(expect["actual"]["outcome"], "not_covered");
    let pending = &doc["tests"][1]["expects"][0]["actual"];
    assert_eq!(pending["kind"], "pending");
    assert_eq!(pending["needed"], serde_json::json!(["hospitalized"]));
    assert_eq!(doc["tests"][2]["expects"][1]["actual"]["kind"], "conflict");
}

#[test]
fn test_refuses_a_policy_with_errors() {
    let out = medpol(&["test", "tests/cases/test/check-error.medpol"], &root());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(err.contains("E0104"), "{err}");
    assert!(err.contains("fix it before running their tests"), "{err}");
    let out = medpol(&["test", "no/such/folder"], &root());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn coverage_tests_pasted_into_the_policy_check_pass_and_cover_it() {
    let case = root().join("tests/cases/test/coverage-gaps.medpol");
    let out = medpol(&["test", "--coverage", case.to_str().unwrap()], &root());
    assert_eq!(out.status.code(), Some(0));
    let report = text(&out.stdout);
    assert!(
        report.contains("rules 33.3% (1/3), leaves 25.0% (1/4)"),
        "{report}"
    );
    // The ready-to-paste tests: from each `test "` line to its closing brace.
    let mut pasted = std::fs::read_to_string(&case).unwrap();
    let mut inside = false;
    for line in report.lines() {
        inside |= line.starts_with("test \"");
        if inside {
            pasted.push_str(line);
            pasted.push('\n');
        }
        inside &= line != "}";
    }
    let dir = tempfile::Builder::new()
        .prefix("medpol-coverage-")
        .tempdir()
        .unwrap();
    let file = dir.path().join("pasted.medpol");
    std::fs::write(&file, pasted).unwrap();
    let out = medpol(
        &["test", "--min-coverage", "100", file.to_str().unwrap()],
        &root(),
    );
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}{}", text(&out.stderr));
    assert!(report.contains("4 tests: 4 passed, 0 failed"), "{report}");
    assert!(
        report.contains("total: rules 100.0% (3/3), leaves 100.0% (4/4)"),
        "{report}"
    );
}

#[test]
fn shipped_policies_reach_full_rule_and_leaf_coverage() {
    let out = medpol(
        &[
            "test",
            "policies",
            "--min-coverage",
            "100",
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["coverage"]["rules"]["percent"], 100.0);
    assert_eq!(doc["coverage"]["leaves"]["percent"], 100.0);
    assert_eq!(doc["coverage"]["below_minimum"], false);
    assert_eq!(doc["coverage"]["decisions"].as_array().unwrap().len(), 17);
}

#[test]
fn eval_of_a_policy_checks_codes_against_the_projects_own_tables() {
    let dir = root().join("tests/cases/eval-project");
    // The project's CPT table lists every CPT code it accepts; the shipped tables do not
    // know its release, and would let any well-formed code through.
    let known = medpol(
        &["eval", "augmentation.medpol", "--facts", "facts.json"],
        &dir,
    );
    assert_eq!(known.status.code(), Some(0), "{}", text(&known.stderr));
    assert!(text(&known.stdout).contains("covered: yes by rule `augmentation`"));
    let unknown = medpol(
        &[
            "eval",
            "augmentation.medpol",
            "--facts",
            "unknown-code.json",
        ],
        &dir,
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("fact `procedure`: `22999` is not a code of `cpt-licensed`"),
        "{}",
        text(&unknown.stderr)
    );
}

#[test]
fn eval_accepts_a_declared_fact_no_decision_reads() {
    let dir = root().join("tests/cases/cli/unread-fact");
    let out = medpol(&["eval", "policy.medpol", "--facts", "with-n.json"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("d: a by rule `r`"),
        "{}",
        text(&out.stdout)
    );
    // Its value is still checked against its type.
    let bad = medpol(
        &["eval", "policy.medpol", "--facts", "n-not-a-number.json"],
        &dir,
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stdout));
    assert!(
        text(&bad.stderr).contains("fact `n`"),
        "{}",
        text(&bad.stderr)
    );
}
