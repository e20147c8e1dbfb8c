//! `medpol diff`: the regions of patients whose outcome changes between real revisions of a
//! policy (NCD 100.1's of 2009 and 2012, a threshold of policy 484), and only those; and the
//! describer's groups, written back as a policy, decide every patient as the policy does.

#[path = "support/run.rs"]
mod run;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use run::{medpol, text};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `medpol diff ARGS --format json` in `dir`: its exit code and JSON.
fn diff_json(args: &[&str], dir: &Path) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["diff"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = medpol(&all, dir);
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}\n{}", text(&out.stdout), text(&out.stderr)));
    (out.status.code(), value)
}

/// Each decision's changed regions, as (decision, from, to); every example confirmed by both
/// versions' interpreters.
fn regions(value: &serde_json::Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for p in value["policies"].as_array().expect("policies") {
        for d in p["decisions"].as_array().expect("decisions") {
            assert!(d["incomplete"].is_null(), "{d}");
            for r in d["regions"].as_array().expect("regions") {
                assert_eq!(r["example_checked"], true, "{r}");
                out.insert((
                    d["decision"].as_str().unwrap_or_default().to_string(),
                    r["from"].as_str().unwrap_or_default().to_string(),
                    r["to"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    out
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn ncd_100_1_in_2009_covers_type_2_diabetes_as_a_comorbidity() {
    let dir = root().join("tests/cases/diff/ncd-100-1");
    let (code, value) = diff_json(
        &[
            "v2-2006.medpol",
            "v3-2009.medpol",
            "--approvals",
            "covered,left_to_mac,met",
            "--fail-on",
            "tightened",
        ],
        &dir,
    );
    assert_eq!(code, Some(0), "nothing tightens: {value}");
    assert_eq!(
        regions(&value),
        set(&[
            ("coverage", "not_covered", "covered"),
            ("coverage", "not_covered", "left_to_mac"),
            ("patient_criteria", "not_met", "met"),
        ])
    );
    let text = value.to_string();
    // Described through the definition that changed: what it says in each version.
    assert!(
        text.contains(r#""type_2_diabetes","failed_medical_treatment","not comorbidity""#),
        "{text}"
    );
    assert!(text.contains(r#""direction":"loosened""#), "{text}");
    let facts = &value["policies"][0]["facts"][0];
    assert_eq!(facts["fact"], "type_2_diabetes");
    assert_eq!(facts["change"], "added");
}

#[test]
fn ncd_100_1_in_2012_leaves_sleeve_gastrectomy_to_the_macs() {
    let dir = root().join("tests/cases/diff/ncd-100-1");
    let (code, value) = diff_json(
        &[
            "v3-2009.medpol",
            "v4-2012.medpol",
            "--approvals",
            "covered,left_to_mac,met",
            "--fail-on",
            "loosened",
        ],
        &dir,
    );
    assert_eq!(code, Some(1), "the revision loosens: {value}");
    assert_eq!(
        regions(&value),
        set(&[
            ("procedure_status", "nationally_non_covered", "left_to_mac"),
            ("coverage", "not_covered", "left_to_mac"),
        ])
    );
    let status = &value["policies"][0]["decisions"][0];
    assert_eq!(status["decision"], "procedure_status");
    assert_eq!(
        status["regions"][0]["groups"],
        serde_json::json!([["sleeve_gastrectomy"]])
    );
}

/// The shipped policies in a git repository of their own, with one commit.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let copy = |from: &Path, to: &Path| {
        for entry in walk(from) {
            let target = to.join(entry.strip_prefix(from).expect("inside"));
            std::fs::create_dir_all(target.parent().expect("a parent")).expect("folders");
            std::fs::copy(&entry, &target).expect("a copy");
        }
    };
    copy(&root().join("policies"), dir.path());
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=medpol",
                "-c",
                "user.email=medpol@example.org",
            ])
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "policies"]);
    dir
}

/// Replaces the first `from` in the repository's policy 484 with `to` (which must be there).
fn edit(repo: &tempfile::TempDir, from: &str, to: &str) {
    let file = repo.path().join("bcbsma-484.medpol");
    let source = std::fs::read_to_string(&file).expect("the policy");
    assert!(source.contains(from), "`{from}` is not in policy 484");
    std::fs::write(&file, source.replacen(from, to, 1)).expect("written");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("a folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn four_weeks_of_conservative_care_in_policy_484_changes_exactly_those_patients() {
    let repo = repository();
    edit(
        &repo,
        "and conservative_care >= 6 weeks",
        "and conservative_care >= 4 weeks",
    );
    // The outcomes that approve come from the project's `medpol.yaml`.
    let args = ["--from", "HEAD", "bcbsma-484.medpol"];
    let (code, value) = diff_json(
        &[&args[..], &["--fail-on", "tightened"]].concat(),
        repo.path(),
    );
    assert_eq!(code, Some(0), "{value}");
    assert_eq!(
        regions(&value),
        set(&[("coverage", "investigational", "medically_necessary")])
    );
    let region = &value["policies"][0]["decisions"][0]["regions"][0];
    assert_eq!(region["direction"], "loosened");
    assert_eq!(region["example"]["conservative_care"], "4 weeks");
    let group = region["groups"][0].to_string();
    assert!(group.contains("conservative_care >= 4 weeks"), "{group}");
    assert!(group.contains("conservative_care < 6 weeks"), "{group}");
    let (code, _) = diff_json(
        &[&args[..], &["--fail-on", "loosened"]].concat(),
        repo.path(),
    );
    assert_eq!(code, Some(1));
    // The Markdown notice names the change for a reader.
    let mut markdown = vec!["diff"];
    markdown.extend_from_slice(&args);
    markdown.extend_from_slice(&["--format", "markdown"]);
    let out = medpol(&markdown, repo.path());
    let notice = text(&out.stdout);
    assert!(
        notice.contains("#### `investigational` → `medically_necessary` (loosened)"),
        "{notice}"
    );
}

#[test]
fn a_policy_compared_with_itself_has_no_change() {
    let (code, value) = diff_json(&["policies", "policies", "--fail-on", "any"], &root());
    assert_eq!(code, Some(0), "{value}");
    let policies = value["policies"].as_array().expect("policies");
    assert!(policies.len() >= 10);
    for p in policies {
        assert_eq!(p["change"], "unchanged", "{p}");
    }
}

#[test]
fn usage_problems_are_plain_errors() {
    let out = medpol(
        &[
            "diff",
            "tests/cases/diff/release/fy2025.medpol",
            "tests/cases/diff/release/april-2026.medpol",
            "--fail-on",
            "loosened",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("need the outcomes that approve"),
        "{}",
        text(&out.stderr)
    );
    let out = medpol(&["diff", "--from", "no-such-revision", "policies"], &root());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: "),
        "{}",
        text(&out.stderr)
    );
}

/// The describer's groups of policy 484's `coverage`, written back as rules of a decision
/// (`any`: groups of one outcome may overlap), decide every patient as the policy does: the
/// diff of the two finds no region, over every class of patients.
#[test]
fn the_description_of_policy_484_decides_as_the_policy_does() {
    let repo = repository();
    let out = medpol(
        &[
            "analyse",
            "bcbsma-484.medpol",
            "--decision",
            "coverage",
            "--format",
            "json",
        ],
        repo.path(),
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let summary = &value[0];
    let mut outcomes = Vec::new();
    let mut rules = String::new();
    let mut n = 0;
    for o in summary["outcomes"].as_array().expect("outcomes") {
        let outcome = o["outcome"].as_str().expect("a name");
        outcomes.push(outcome.to_string());
        let groups = o["groups"].as_array().expect("groups");
        assert!(groups.len() <= 8, "at most 8 groups per outcome: {o}");
        for g in groups {
            n += 1;
            let conditions: Vec<String> = g["conditions"]
                .as_array()
                .expect("conditions")
                .iter()
                .map(|c| format!("({})", c["text"].as_str().expect("text")))
                .collect();
            rules.push_str(&format!(
                "  rule group_{n} when {} then {outcome}\n",
                conditions.join(" and ")
            ));
        }
    }
    assert!(summary["undecided"].is_null() && summary["conflicts"].is_null());
    let file = repo.path().join("bcbsma-484.medpol");
    let source = std::fs::read_to_string(&file).expect("the policy");
    let start = source
        .find("decision coverage (first)")
        .expect("the decision");
    let end = start + source[start..].find("\n}\n").expect("its end") + 3;
    let described = format!(
        "{}decision coverage (any) {{\n  outcomes {{ {} }}\n{rules}}}\n{}",
        &source[..start],
        outcomes.join(", "),
        &source[end..]
    );
    std::fs::write(&file, described).expect("written");
    let (code, value) = diff_json(
        &["--from", "HEAD", "bcbsma-484.medpol", "--fail-on", "any"],
        repo.path(),
    );
    assert_eq!(code, Some(0), "{value}");
    let coverage = value["policies"][0]["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["decision"] == "coverage")
        .expect("coverage")
        .clone();
    assert_eq!(coverage["regions"], serde_json::json!([]), "{coverage}");
    assert_eq!(coverage["hit"], "first → any");
}

#[test]
fn a_code_added_to_a_set_is_listed_and_moves_its_patients() {
    let repo = repository();
    edit(&repo, "  D47.Z9 ", "  D47.Z9, C79.49 ");
    let (code, value) = diff_json(&["--from", "HEAD", "bcbsma-484.medpol"], repo.path());
    assert_eq!(code, Some(0), "{value}");
    let sets = &value["policies"][0]["code_sets"];
    let malignancy = sets
        .as_array()
        .expect("code sets")
        .iter()
        .find(|s| s["set"] == "spinal_malignancy")
        .expect("the changed set");
    assert_eq!(malignancy["items_added"], serde_json::json!(["C79.49"]));
    assert_eq!(malignancy["codes_added"], serde_json::json!(["C79.49"]));
    assert_eq!(
        regions(&value),
        set(&[
            ("coverage", "investigational", "medically_necessary"),
            ("covered_diagnosis", "not_listed", "listed"),
        ])
    );
    let coverage = &value["policies"][0]["decisions"][0]["regions"][0];
    assert_eq!(
        coverage["example"]["diagnoses"],
        serde_json::json!(["C79.49"])
    );
}

/// The same policy in force before and after the April 2026 update of ICD-10-CM: `E11.-`
/// gains E11.A (FY2026), and the patients with it change outcome.
#[test]
fn a_new_release_adds_codes_to_a_family() {
    let dir = root().join("tests/cases/diff/release");
    let (code, value) = diff_json(&["fy2025.medpol", "april-2026.medpol"], &dir);
    assert_eq!(code, Some(0), "{value}");
    let policy = &value["policies"][0];
    assert_eq!(policy["releases"][0]["old_release"], "icd10cm-2025");
    assert_eq!(policy["releases"][0]["new_release"], "icd10cm-2026-04");
    assert_eq!(
        policy["releases"][0]["sets"],
        serde_json::json!([{ "set": "type_2_diabetes", "added": ["E11.A"], "deleted": [], "split": [] }])
    );
    assert_eq!(policy["code_sets"][0]["items_added"], serde_json::json!([]));
    assert_eq!(
        policy["code_sets"][0]["codes_added"],
        serde_json::json!(["E11.A"])
    );
    assert_eq!(
        regions(&value),
        set(&[("coverage", "not_covered", "covered")])
    );
    assert_eq!(
        policy["decisions"][0]["regions"][0]["example"]["diagnoses"],
        serde_json::json!(["E11.A"])
    );
}

/// Under `unique`, a rule widened over another's patients makes a conflict: the region says
/// where, its values of one enum joined (`product == hmo`).
#[test]
fn a_widened_rule_of_a_unique_decision_conflicts_where_it_overlaps() {
    let repo = repository();
    edit(
        &repo,
        "product in { ppo, indemnity, medicare_ppo }",
        "product in { ppo, indemnity, medicare_ppo, hmo }",
    );
    let (code, value) = diff_json(&["--from", "HEAD", "bcbsma-484.medpol"], repo.path());
    assert_eq!(code, Some(0), "{value}");
    assert_eq!(
        regions(&value),
        set(&[("prior_auth", "required", "conflict")])
    );
    let prior_auth = value["policies"][0]["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["decision"] == "prior_auth")
        .expect("prior_auth")
        .clone();
    assert_eq!(
        prior_auth["regions"][0]["groups"],
        serde_json::json!([["product == hmo", "policy_service", "setting == outpatient"]])
    );
    assert_eq!(
        prior_auth["rules_changed"],
        serde_json::json!(["outpatient_open"])
    );
}
