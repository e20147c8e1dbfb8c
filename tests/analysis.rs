//! The analysis on the real policies and on variants of them: what issue 4 asks it to find.

use std::path::PathBuf;

use medpol::analyse::{self, Options};
use medpol::check::{ImportMap, check};
use medpol::diagnostic::{Code, Diagnostic};
use medpol::driver;
use medpol::source::FileId;
use medpol::tables::TableSet;

#[path = "support/random.rs"]
mod random;
use random::witness_pairs;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses, checks and analyses one file's text; asserts the check found no error.
fn analyse_text(text: &str, options: &Options) -> Vec<Diagnostic> {
    let parsed = medpol::syntax::parse(FileId(0), text);
    let checked = check(&[parsed.file], &ImportMap::new(), TableSet::shipped(), &[]);
    let errors: Vec<&Diagnostic> = parsed
        .diagnostics
        .iter()
        .chain(&checked.diagnostics)
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let options = Options {
        tables: Some(TableSet::shipped().clone()),
        ..options.clone()
    };
    analyse::analyse(checked.valid().unwrap(), &options).diagnostics
}

fn case(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/cases/analysis").join(name))
        .expect("the case exists")
}

#[test]
fn the_shipped_policies_have_no_findings() {
    let report = driver::check_paths(&[root().join("policies")], &driver::Options::default())
        .expect("policies load");
    assert_eq!(report.diagnostics, vec![]);
}

#[test]
fn policy_484_decided_by_unique_overlaps_as_worded() {
    let found = analyse_text(&case("bcbsma-484-unique.medpol"), &Options::default());
    let codes: Vec<Code> = found.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![Code::OverlappingRules], "{found:#?}");
    let overlap = &found[0];
    assert!(
        overlap
            .message
            .contains("`acute_disabling_fracture` and `acute_fracture`")
    );
    let witness = overlap.notes.join(" ");
    // The patient is a recent osteoporotic fracture that keeps the patient from walking or in
    // hospital: medically necessary by one rule, investigational by the other.
    assert!(witness.contains("diagnoses = {M80.08XA}"), "{witness}");
    assert!(witness.contains("fracture_age = 0 weeks"), "{witness}");
    assert!(
        witness.contains("hospitalized = true") || witness.contains("ambulation_prevented = true"),
        "{witness}"
    );
    // The labels point at the two rules.
    assert_eq!(overlap.labels.len(), 2);
}

#[test]
fn constraints_rule_out_patients_who_cannot_exist() {
    let text = case("bcbsma-484-unique.medpol").replace(
        "constraint care_after_fracture",
        "define care_after_fracture",
    );
    let found = analyse_text(&text, &Options::default());
    let pairs: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    // Without the constraint, six weeks of failed care with a fracture under six weeks old is
    // a patient too, and the chronic rule overlaps the acute ones.
    assert!(
        pairs
            .iter()
            .any(|m| m.contains("`failed_conservative_care` and `acute_fracture`")),
        "{pairs:#?}"
    );
}

#[test]
fn l2_thresholds_written_strictly_both_ways_leave_boundary_gaps() {
    let found = analyse_text(
        &case("l2-risk-strict-both-ways.medpol"),
        &Options::default(),
    );
    let mut gaps: Vec<String> = found
        .iter()
        .filter(|d| d.code == Code::BoundaryGap)
        .map(|d| d.message.clone())
        .collect();
    gaps.sort();
    assert_eq!(
        gaps,
        vec![
            "decision `risk` gives no outcome when `age` is exactly 78.5 years",
            "decision `risk` gives no outcome when `bmi` is exactly 25.5",
            "decision `risk` gives no outcome when `t_score` is exactly -2.95",
            "decision `risk` gives no outcome when `vertebral_collapse` is exactly 28.5%",
        ]
    );
    assert_eq!(found.len(), 4, "{found:#?}");
}

#[test]
fn the_shipped_l2_protocol_has_no_boundary_gap() {
    // The risk decision of the shipped protocol is `unique` without `otherwise`: checking it
    // clean proves every patient gets exactly one outcome, the thresholds included.
    let report = driver::check_paths(
        &[root().join("policies/l2-compression-fracture.medpol")],
        &driver::Options::default(),
    )
    .expect("the policy loads");
    assert_eq!(report.diagnostics, vec![]);
}

#[test]
fn a_spent_budget_is_reported_not_hidden() {
    let options = Options {
        node_budget: 3,
        ..Options::default()
    };
    let found = analyse_text(&case("bcbsma-484-unique.medpol"), &options);
    let codes: Vec<Code> = found.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![Code::AnalysisIncomplete], "{found:#?}");
    assert!(found[0].message.contains("results incomplete"));
}

#[test]
fn analyse_describes_who_gets_what() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args([
            "analyse",
            "policies/bcbsma-484.medpol",
            "--decision",
            "prior_auth",
        ])
        .current_dir(root())
        .output()
        .expect("medpol runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("decision prior_auth (unique)\n"), "{text}");
    assert!(text.contains("  not_required\n"), "{text}");
    assert!(
        text.contains("by `outpatient_open`: policy_service, setting == outpatient, product in { ppo, indemnity, medicare_ppo }"),
        "{text}"
    );
    let json = std::process::Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args([
            "analyse",
            "policies/bcbsma-484.medpol",
            "--decision",
            "coverage",
            "--format",
            "json",
        ])
        .current_dir(root())
        .output()
        .expect("medpol runs");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let outcomes: Vec<&str> = value[0]["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .filter_map(|o| o["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes,
        vec![
            "medically_necessary",
            "investigational",
            "medicare_lcd",
            "not_addressed"
        ]
    );
    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args([
            "analyse",
            "policies/bcbsma-484.medpol",
            "--decision",
            "coverag",
        ])
        .current_dir(root())
        .output()
        .expect("medpol runs");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("did you mean `coverage`?"));
}

/// `medpol analyse FILE --decision NAME`: its standard output, after asserting it exits 0.
fn analyse_cli(file: &str, decision: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(["analyse", file, "--decision", decision])
        .current_dir(root())
        .output()
        .expect("medpol runs");
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_difference_is_described_the_way_round_it_is_written() {
    let text = analyse_cli("tests/cases/describe/difference-as-written.medpol", "d");
    assert!(
        text.contains("- by `chronic`: service_date - onset >= 84 days, severe\n"),
        "{text}"
    );
    assert!(
        text.contains("- by `otherwise`: not (service_date - onset >= 84 days and severe)\n"),
        "{text}"
    );
}

#[test]
fn groups_that_differ_in_one_fact_are_described_as_one() {
    let text = analyse_cli(
        "tests/cases/describe/paths-that-differ-in-one-fact.medpol",
        "d",
    );
    assert!(
        text.contains("  covered\n    - by `imaging`: imaging_done\n\n"),
        "{text}"
    );
    assert!(
        text.contains("  pended\n    - by `otherwise`: not referred, not imaging_done\n"),
        "{text}"
    );
}

#[test]
fn the_coverage_of_policy_484_reads_in_its_own_terms() {
    let text = analyse_cli("policies/bcbsma-484.medpol", "coverage");
    // Definitions stay whole (one group, not one per CPT and PCS path), rules of one outcome
    // do not exclude each other, and an earlier rule is left out only where it overlaps.
    assert!(
        text.contains("    - by `sacroplasty`: procedures has any sacroplasty or (procedures has none vertebroplasty_primary and facility_procedures has any sacral_augmentation_pcs)\n"),
        "{text}"
    );
    assert!(
        text.contains("    - by `other_procedure`: not vertebroplasty_claim, procedures has none sacroplasty, facility_procedures has none sacral_augmentation_pcs\n"),
        "{text}"
    );
    assert!(
        text.contains("    - by `otherwise`: vertebroplasty_claim, not medicare, not (osteoporotic_fracture and conservative_care >= 6 weeks and certain_and_not_prophylactic), "),
        "{text}"
    );
    // At most 8 groups for each outcome (the target); here one per rule.
    let groups = text.lines().filter(|l| l.starts_with("    - ")).count();
    assert_eq!(groups, 7, "{text}");
}

/// Every example patient the analysis prints (in its findings) and every witness of the
/// coverage report, for a file: as `name = value` pairs.
fn printed_witnesses(file: &std::path::Path) -> Vec<Vec<(String, String)>> {
    let paths = [file.to_path_buf()];
    let mut out = Vec::new();
    let report = driver::check_paths(&paths, &driver::Options::default()).expect("the file loads");
    for d in &report.diagnostics {
        for note in &d.notes {
            // A list the analysis found no items for (its counts left free) is no patient.
            if let Some(example) = note.strip_prefix("for example: ")
                && !example.contains(medpol::analyse::space::NO_LIST)
            {
                out.push(witness_pairs(example));
            }
        }
    }
    let checked =
        driver::check_and_keep(&paths, &driver::Options::default()).expect("the file loads");
    for project in &checked.projects {
        let options = medpol::compile::Options {
            root: project.root.clone(),
            ..medpol::compile::Options::default()
        };
        let compiled = medpol::compile::compile(
            &project.program,
            &project.tables,
            &checked.report.sources,
            &options,
        )
        .expect("the policies compile")
        .into_iter()
        .filter(|c| project.asked_about(c.policy))
        .collect::<Vec<_>>();
        let run = medpol::testing::run(&project.program, &project.tables, &[], Some(&compiled));
        for leaf in run.coverage.iter().flat_map(|c| &c.leaves) {
            out.push(
                leaf.witness
                    .iter()
                    .map(|(f, v)| (project.program.fact_name(*f).to_string(), v.clone()))
                    .collect(),
            );
        }
    }
    out
}

/// The docs promise that an example patient can be pasted into a test: every one printed for
/// the shipped policies and the analysis cases, as the `given` values of a test added to its
/// file, checks without error (a value such as `85/14 weeks` did not even parse).
#[test]
fn every_printed_witness_reads_as_a_test_given() {
    let mut files = vec![
        root().join("policies/bcbsma-484.medpol"),
        root().join("policies/l2-compression-fracture.medpol"),
    ];
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("tests/cases/analysis"))
        .expect("the cases exist")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "medpol"))
        .collect();
    cases.sort();
    files.extend(cases);
    let mut pasted = 0;
    for file in files {
        let original = std::fs::read_to_string(&file).expect("the file reads");
        let root_folder = medpol::project::project_root(&file).expect("a project");
        let canonical = std::fs::canonicalize(&file).expect("a path");
        for (i, witness) in printed_witnesses(&file).iter().enumerate() {
            let given: Vec<String> = witness.iter().map(|(f, v)| format!("{f} = {v}")).collect();
            let given = given.join(", ");
            let text =
                format!("{original}\ntest \"printed witness {i}\" {{\n  given {{ {given} }}\n}}\n");
            let overlay = medpol::project::Overlay::from([(canonical.clone(), text)]);
            let mut sources = medpol::source::Sources::new();
            let project = medpol::project::load_overlaid(
                &mut sources,
                &root_folder,
                std::slice::from_ref(&file),
                &overlay,
            )
            .expect("the project loads");
            let checked = check(
                &project.files,
                &project.imports,
                &project.tables,
                &project.allowed_lints(),
            );
            let errors: Vec<String> = project
                .diagnostics
                .iter()
                .chain(&checked.diagnostics)
                // The test expects nothing: only its given values are tried.
                .filter(|d| d.is_error() && d.code != Code::EmptyTest)
                .map(|d| format!("{}: {}", d.code.as_str(), d.message))
                .collect();
            assert!(
                errors.is_empty(),
                "{}: `{given}` does not read as a test's given values: {errors:?}",
                file.display()
            );
            pasted += 1;
        }
    }
    assert!(pasted > 0, "no witness was printed");
}
