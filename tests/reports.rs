//! Reports for CI systems: `medpol check --format sarif` validated against the official SARIF
//! 2.1.0 schema and by the SARIF SDK's own validator (with GitHub's ingestion rules), and
//! `--format github` workflow commands.
//!
//! The schema and the validator come from the npm package `@microsoft/sarif-multitool`, which
//! `.ci/run` installs into `target/ci-tools` (or a folder named by `MEDPOL_CI_TOOLS`); without
//! it those two checks say that they skipped, and the rest still runs.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[path = "support/run.rs"]
mod run;
use run::{medpol, text};

/// The folder of the SARIF SDK's npm package for this platform, when it is installed.
fn multitool() -> Option<PathBuf> {
    let tools = std::env::var_os("MEDPOL_CI_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/ci-tools"));
    let dir = tools.join("node_modules/@microsoft/sarif-multitool-linux");
    dir.join("sarif-2.1.0.json").is_file().then_some(dir)
}

fn sarif(args: &[&str]) -> (Value, Output) {
    let mut all = vec!["check", "--format", "sarif"];
    all.extend(args);
    let out = medpol(&all, &root());
    let log: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    (log, out)
}

/// Every result names a rule of the run by id and index, with a level and a region.
fn consistent(log: &Value) {
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in run["results"].as_array().unwrap() {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "{r}");
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        for l in r["locations"].as_array().into_iter().flatten() {
            let loc = &l["physicalLocation"];
            assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%", "{l}");
            assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
            let start = loc["region"]["startLine"].as_u64().unwrap();
            assert!(loc["region"]["endLine"].as_u64().unwrap() >= start);
        }
    }
    for rule in rules {
        assert!(
            rule["help"]["markdown"]
                .as_str()
                .unwrap()
                .contains("docs/diagnostics.md")
        );
        assert!(
            !rule["shortDescription"]["text"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
}

/// Validates a log against the schema the SARIF SDK ships, and with its validator.
fn validate(log: &Value, name: &str) {
    let Some(tool) = multitool() else {
        eprintln!(
            "skipped: the SARIF schema and validator (npm @microsoft/sarif-multitool, installed by .ci/run) are not in target/ci-tools"
        );
        return;
    };
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(tool.join("sarif-2.1.0.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(log)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(format!("{name}.sarif"));
    std::fs::write(&input, serde_json::to_vec(log).unwrap()).unwrap();
    let out = Command::new(tool.join("Sarif.Multitool"))
        .arg("validate")
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("validation.sarif"))
        .args([
            "--rule-kind",
            "Gh;Sarif",
            "--max-file-size-in-kb",
            "1000000",
        ])
        .output()
        .expect("the SARIF multitool runs");
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    // GitHub's ingestion rules and SARIF's: nothing but the missing `informationUri` (medpol
    // has no web home to name).
    let problems: Vec<&str> = said
        .lines()
        .filter(|l| l.contains(" error ") || l.contains(" warning "))
        .filter(|l| !l.contains("SARIF2005"))
        .collect();
    assert!(said.contains("1 files scanned"), "{name}: {said}");
    assert!(problems.is_empty(), "{name}: {problems:#?}");
}

#[test]
fn sarif_of_every_check_case_is_valid() {
    let (log, out) = sarif(&["tests/cases/check", "tests/cases/analysis"]);
    assert_eq!(out.status.code(), Some(1), "the cases have errors");
    consistent(&log);
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() > 300, "{}", results.len());
    // Labels other than the primary one are related locations, with their messages.
    assert!(results.iter().any(|r| {
        r["relatedLocations"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
    }));
    validate(&log, "cases");
}

#[test]
fn sarif_of_the_shipped_policies_is_an_empty_valid_run() {
    let (log, out) = sarif(&["policies"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 0);
    validate(&log, "policies");
}

#[test]
fn sarif_keeps_the_first_25000_results_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut policy = String::from(
        "policy \"many\" {\n  title \"Many\"\n  version \"1\"\n  effective 2025-01-01\n}\n",
    );
    for i in 0..25_010 {
        policy.push_str(&format!("fact f{i}: bool\n"));
    }
    let file = dir.path().join("many.medpol");
    std::fs::write(&file, policy).unwrap();
    let (log, _) = sarif(&["--no-analysis", file.to_str().unwrap()]);
    let run = &log["runs"][0];
    assert_eq!(run["results"].as_array().unwrap().len(), 25_000);
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(
        notes[0]["message"]["text"],
        "10 more results left out: a run holds at most 25,000 (the JSON form has every one)"
    );
    // An absolute path is a `file` URI.
    let uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/many.medpol"),
        "{uri}"
    );
    validate(&log, "many");
}

#[test]
fn github_annotations_match_the_json_report() {
    let case = "tests/cases/analysis/listed-codes-never-count.medpol";
    let out = medpol(&["check", "--format", "github", case], &root());
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    let json = medpol(&["check", "--format", "json", case], &root());
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    let diagnostics = json["diagnostics"].as_array().unwrap();
    assert_eq!(lines.len(), diagnostics.len() + 1, "{lines:#?}");
    assert_eq!(lines.last().unwrap(), "checked 1 file: 3 warnings");
    for (line, d) in lines.iter().zip(diagnostics) {
        let (command, message) = line
            .strip_prefix("::warning ")
            .and_then(|l| l.split_once("::"))
            .unwrap_or_else(|| panic!("a warning command: {line}"));
        let expect = format!(
            "file={},line={},col={}",
            d["file"].as_str().unwrap(),
            d["line"],
            d["column"]
        );
        assert!(command.starts_with(&expect), "{command} / {expect}");
        assert!(command.contains(&format!("title={} ", d["code"].as_str().unwrap())));
        // A message is one line: its line breaks are escaped.
        assert!(message.starts_with(d["message"].as_str().unwrap()));
        assert!(message.contains("%0Ahelp: "));
    }
}

#[test]
fn github_commands_escape_what_ends_a_property_or_a_line() {
    let dir = tempfile::tempdir().unwrap();
    // A file name with a comma and a colon, and a message with `%`.
    let file = dir.path().join("a,b:c.medpol");
    std::fs::write(
        &file,
        "policy \"p\" {\n  title \"P\"\n  version \"1\"\n  effective 2025-01-01\n}\nfact x: int\ndecision d (first) {\n  outcomes { yes, no }\n  rule r when x > 5% then yes\n  otherwise no\n}\n",
    )
    .unwrap();
    let out = medpol(&["check", "--format", "github", "a,b:c.medpol"], dir.path());
    let first = text(&out.stdout).lines().next().unwrap().to_string();
    assert!(
        first.starts_with("::error file=a%2Cb%3Ac.medpol,line=9,"),
        "{first}"
    );
    let message = first
        .split_once("::")
        .unwrap()
        .1
        .split_once("::")
        .unwrap()
        .1;
    assert!(!message.contains('\n'));
}

/// The lines of an LCOV record that start with `tag:`, without it.
fn lcov_values<'a>(record: &'a str, tag: &str) -> Vec<&'a str> {
    record
        .lines()
        .filter_map(|l| l.strip_prefix(tag).and_then(|l| l.strip_prefix(':')))
        .collect()
}

fn lcov_count(record: &str, tag: &str) -> usize {
    lcov_values(record, tag)[0].parse().unwrap()
}

#[test]
fn junit_lists_every_test_and_its_failures() {
    let dir = tempfile::tempdir().unwrap();
    let lcov = dir.path().join("failing.lcov");
    let out = medpol(
        &[
            "test",
            "--format",
            "junit",
            "--lcov",
            lcov.to_str().unwrap(),
            "tests/cases/test/failing.medpol",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1), "a test fails");
    let xml = text(&out.stdout);
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"medpol\""),
        "{xml}"
    );
    // Every element read back: the counts agree with the test cases and their failures.
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut declared) = (0, 0, None);
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    "testcase" => cases += 1,
                    "failure" => failures += 1,
                    "testsuites" => {
                        let attr = |name: &str| {
                            e.try_get_attribute(name)
                                .unwrap()
                                .unwrap()
                                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .unwrap()
                                .to_string()
                        };
                        declared = Some((attr("tests"), attr("failures")));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(declared, Some((cases.to_string(), failures.to_string())));
    assert_eq!(failures, 3, "{xml}");
    assert!(xml.contains("got pending: needs `hospitalized`"), "{xml}");
    // The LCOV record of the failing file: the counts agree with the lines.
    let lcov = std::fs::read_to_string(lcov).unwrap();
    let record = lcov
        .split("end_of_record\n")
        .find(|r| r.contains("SF:tests/cases/test/failing.medpol"))
        .unwrap();
    assert_eq!(lcov_count(record, "FNF"), lcov_values(record, "FN").len());
    assert_eq!(lcov_count(record, "BRF"), lcov_values(record, "BRDA").len());
    assert_eq!(lcov_count(record, "LF"), lcov_values(record, "DA").len());
    let hit = |tag: &str, at: usize| {
        lcov_values(record, tag)
            .iter()
            .filter(|v| v.split(',').nth(at) != Some("0"))
            .count()
    };
    assert_eq!(lcov_count(record, "BRH"), hit("BRDA", 3));
    assert_eq!(lcov_count(record, "LH"), hit("DA", 1));
    // No test reaches rule `acute` of `coverage`: its line is not hit.
    assert!(
        lcov_count(record, "LH") < lcov_count(record, "LF"),
        "{record}"
    );
}

#[test]
fn cobertura_of_the_shipped_policies_is_full_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("coverage.xml");
    let lcov = dir.path().join("coverage.lcov");
    let out = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args([
            "test",
            "--cobertura",
            xml.to_str().unwrap(),
            "--lcov",
            lcov.to_str().unwrap(),
            "policies",
        ])
        .current_dir(root())
        .env("SOURCE_DATE_EPOCH", "1800000000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let xml = std::fs::read_to_string(xml).unwrap();
    assert!(xml.contains("line-rate=\"1\"") || xml.contains("line-rate=\"1.0000\""));
    assert!(
        xml.contains("timestamp=\"1800000000000\""),
        "{}",
        &xml[..400]
    );
    // The totals are the sums of the lines' and branches' own counts.
    let (mut lines, mut hit, mut branches) = (0, 0, 0);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut declared = None;
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attr = |name: &str| {
                    e.try_get_attribute(name).unwrap().map(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .to_string()
                    })
                };
                match e.name().as_ref() {
                    "coverage" => {
                        declared = Some((attr("lines-valid"), attr("branches-valid")));
                    }
                    "line" => {
                        lines += 1;
                        hit += usize::from(attr("hits").as_deref() == Some("1"));
                        if let Some(c) = attr("condition-coverage") {
                            let total = c.split('/').nth(1).unwrap().trim_end_matches(')');
                            branches += total.parse::<usize>().unwrap();
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(hit, lines, "every line of the shipped policies is hit");
    let (_, declared_branches) = declared.unwrap();
    assert_eq!(declared_branches, Some(branches.to_string()));
    // The same coverage as `medpol test --coverage`: 173 leaves, every rule.
    assert_eq!(branches, 173);
    let lcov = std::fs::read_to_string(lcov).unwrap();
    let brf: usize = lcov
        .lines()
        .filter_map(|l| l.strip_prefix("BRF:"))
        .map(|v| v.parse::<usize>().unwrap())
        .sum();
    let lf: usize = lcov
        .lines()
        .filter_map(|l| l.strip_prefix("LF:"))
        .map(|v| v.parse::<usize>().unwrap())
        .sum();
    assert_eq!((brf, lf), (173, 167));
}
