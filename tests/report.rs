//! `medpol report prior-auth`: the list of services that need prior authorization, per
//! product line, as CSV and HTML, on the case in `tests/cases/report/` (two policies, one
//! without a product line) and on the shipped policies. The outputs are snapshots (the HTML's
//! generation date masked); the rows the policies' text decides are asserted on their own.

use std::path::PathBuf;
use std::process::{Command, Output};

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

/// Standard output of a run that succeeded.
fn stdout(args: &[&str]) -> String {
    let out = medpol(args);
    assert!(
        out.status.success(),
        "medpol {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the report is UTF-8")
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    // The date the page was generated is today's.
    s.add_filter(r"([Gg]enerated) \d{4}-\d{2}-\d{2}", "$1 [date]");
    s
}

/// Reads RFC 4180 CSV (quoted fields, doubled quotes, `\n` line ends) into records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field: {text}");
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "an unterminated quoted field");
    assert!(
        field.is_empty() && record.is_empty(),
        "the last line does not end in `\\n`"
    );
    records
}

const HEADER: [&str; 11] = [
    "policy_id",
    "policy_title",
    "policy_version",
    "effective",
    "product_line",
    "code_system",
    "code",
    "description",
    "prior_auth",
    "condition",
    "rules",
];

/// The records of a CSV list, checked to have the header and eleven fields each.
fn records(csv: &str) -> Vec<Vec<String>> {
    let mut records = parse_csv(csv);
    assert!(!records.is_empty(), "no header");
    let header = records.remove(0);
    assert_eq!(header, HEADER);
    for r in &records {
        assert_eq!(r.len(), HEADER.len(), "{r:?}");
    }
    records
}

/// The record of a policy, product line and code.
fn row<'a>(records: &'a [Vec<String>], policy: &str, product: &str, code: &str) -> &'a [String] {
    records
        .iter()
        .find(|r| r[0] == policy && r[4] == product && r[6] == code)
        .unwrap_or_else(|| panic!("no row for {policy} {product} {code}"))
}

/// prior_auth, condition, rules.
fn answer(r: &[String]) -> (&str, &str, &str) {
    (&r[8], &r[9], &r[10])
}

#[test]
fn case_csv() {
    let csv = stdout(&["report", "prior-auth", "tests/cases/report"]);
    let records = records(&csv);
    // Only services that need prior authorization somewhere: no `medicare` row, and no row
    // for the home study, which never needs it.
    assert!(
        records
            .iter()
            .all(|r| r[8] == "required" || r[8] == "depends")
    );
    assert!(
        !records
            .iter()
            .any(|r| r[4] == "medicare" || r[6] == "95800")
    );
    // The title is quoted, its quotes doubled, and read back whole.
    assert_eq!(
        row(&records, "demo-spine", "hmo", "22511")[1],
        "Spine procedures, \"demo\" & <imaging>"
    );
    assert_eq!(
        answer(row(&records, "demo-spine", "hmo", "72148")),
        ("required", "", "managed_care")
    );
    assert_eq!(
        answer(row(&records, "demo-spine", "ppo", "22510")),
        ("depends", "required when setting is inpatient", "inpatient")
    );
    // Outpatient, routine imaging needs it and urgent imaging does not.
    assert_eq!(
        answer(row(&records, "demo-spine", "ppo", "72148")),
        (
            "depends",
            "required when setting is inpatient; when setting is outpatient, depends on: urgent",
            "inpatient; routine_imaging"
        )
    );
    // No product fact: one group for every product line; two facts, neither an enum.
    assert_eq!(
        answer(row(&records, "demo-sleep", "all products", "95810")),
        ("depends", "depends on: age, ahi", "child; severe")
    );
    // A code the shipped CPT table lacks has no description; one it has, its label.
    assert_eq!(row(&records, "demo-sleep", "all products", "95810")[7], "");
    assert_eq!(
        row(&records, "demo-spine", "ppo", "22511")[7],
        "Vertebroplasty, one vertebral body, lumbosacral"
    );
    settings().bind(|| insta::assert_snapshot!("report_case.csv", csv));
}

#[test]
fn case_csv_all() {
    let csv = stdout(&["report", "prior-auth", "tests/cases/report", "--all"]);
    let records = records(&csv);
    assert_eq!(
        answer(row(&records, "demo-spine", "medicare", "22510")),
        ("not-addressed", "", "medicare_members")
    );
    assert_eq!(
        answer(row(&records, "demo-sleep", "all products", "95800")),
        ("not-required", "", "otherwise")
    );
    settings().bind(|| insta::assert_snapshot!("report_case_all.csv", csv));
}

#[test]
fn case_html() {
    let html = stdout(&[
        "report",
        "prior-auth",
        "tests/cases/report",
        "--format",
        "html",
    ]);
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(!html.contains("<script"));
    // Every text escaped: the title's quotes, ampersand and angle brackets.
    assert!(html.contains("Spine procedures, &quot;demo&quot; &amp; &lt;imaging&gt;"));
    assert!(!html.contains("<imaging>"));
    // The title says the policies' versions; one table per product line that has rows.
    assert!(html.contains("(demo-sleep 1, demo-spine 2026.01), generated "));
    assert_eq!(html.matches("<table>").count(), 3);
    assert!(html.contains("<h2>Product line: medicare</h2>\n<p>No service"));
    settings().bind(|| insta::assert_snapshot!("report_case.html", html));
}

#[test]
fn output_file_holds_what_standard_output_would() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pa.csv");
    let out = medpol(&[
        "report",
        "prior-auth",
        "tests/cases/report",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        stdout(&["report", "prior-auth", "tests/cases/report"])
    );
}

#[test]
fn a_project_without_a_binding_is_a_usage_error() {
    let out = medpol(&["report", "prior-auth", "tests/cases/projects/imports-ok"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: no `fhir.yaml` in the project of `tests/cases/projects/imports-ok`"),
        "{err}"
    );
}

/// Policy 484's matrix (decision `prior_auth`): "Precertification is required for all
/// products if the procedure is performed inpatient"; outpatient, it is required for HMO, POS
/// and Medicare HMO Blue and not for PPO, Indemnity and Medicare PPO Blue. So for an order of
/// 22511 whose setting is not known, HMO, POS and Medicare HMO always need it (by the rules
/// `inpatient` and `outpatient_managed`), and PPO, Indemnity and Medicare PPO need it only
/// inpatient: `depends`, `required when setting is inpatient`, by rule `inpatient`. Every
/// service code of the policy (its CPT and ICD-10-PCS tables, sacroplasty and the add-on code
/// included) is in its `policy_service`, so each of the six product lines lists all 19.
#[test]
fn shipped_policy_484() {
    let csv = stdout(&["report", "prior-auth", "policies"]);
    let records = records(&csv);
    for product in ["hmo", "pos", "medicare_hmo"] {
        assert_eq!(
            answer(row(&records, "bcbsma-484", product, "22511")),
            ("required", "", "inpatient; outpatient_managed"),
            "{product}"
        );
    }
    for product in ["ppo", "indemnity", "medicare_ppo"] {
        assert_eq!(
            answer(row(&records, "bcbsma-484", product, "22511")),
            ("depends", "required when setting is inpatient", "inpatient"),
            "{product}"
        );
    }
    let r = row(&records, "bcbsma-484", "hmo", "22511");
    assert_eq!(
        r[1..8],
        [
            "Percutaneous Vertebroplasty and Sacroplasty",
            "2020.06",
            "2020-06-01",
            "hmo",
            "CPT",
            "22511",
            "Vertebroplasty, one vertebral body, lumbosacral"
        ]
    );
    assert_eq!(
        row(&records, "bcbsma-484", "ppo", "0QU03JZ")[5..9],
        [
            "ICD-10-PCS",
            "0QU03JZ",
            "Supplement Lumbar Vertebra with Synthetic Substitute, Percutaneous Approach",
            "depends"
        ]
    );
    // Only policy 484 has a `pa-needed` mapping in policies/fhir.yaml.
    assert!(records.iter().all(|r| r[0] == "bcbsma-484"));
    assert_eq!(records.len(), 6 * 19);
    settings().bind(|| insta::assert_snapshot!("report_shipped.csv", csv));
}

#[test]
fn shipped_html() {
    let html = stdout(&["report", "prior-auth", "policies", "--format", "html"]);
    assert!(html.contains("(bcbsma-484 2020.06), generated "));
    assert_eq!(html.matches("<table>").count(), 6);
    settings().bind(|| insta::assert_snapshot!("report_shipped.html", html));
}
