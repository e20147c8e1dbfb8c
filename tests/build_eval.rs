//! Decision artifacts: every file in `tests/cases/build/` is built and its artifact compared
//! with its snapshot; every facts file in `tests/cases/eval/` is evaluated with `medpol eval`
//! against the shipped policies' artifacts (its first line, `# eval: POLICY-ID ARGS`, says
//! how) and the output compared with its snapshot. Every artifact the tests make is validated
//! against `docs/artifact.schema.json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use medpol::artifact::{Artifact, Decided, FactType, Facts, LeafDoc, Options};
use medpol::compile::{self, Compiled};
use medpol::driver;
use medpol::ir::Value;

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

#[path = "support/output.rs"]
mod output;
use output::{report, text};

/// A fresh folder, removed when it is dropped, also by a failing test.
fn temp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("medpol-build-{name}-"))
        .tempdir()
        .unwrap()
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

fn build(path: &Path) -> Vec<Compiled> {
    let built = driver::build_paths(&[path.to_path_buf()], &driver::Options::default())
        .expect("the case loads")
        .expect("the case compiles");
    assert_eq!(
        built.report.count(medpol::diagnostic::Severity::Error),
        0,
        "{:?}",
        built.report.diagnostics
    );
    built.compiled
}

/// The shipped policies, compiled once.
fn shipped() -> &'static [Compiled] {
    static SHIPPED: OnceLock<Vec<Compiled>> = OnceLock::new();
    SHIPPED.get_or_init(|| build(&root().join("policies")))
}

fn shipped_artifact(id: &str) -> &'static Artifact {
    &shipped()
        .iter()
        .find(|c| c.artifact.policy_id() == id)
        .unwrap_or_else(|| panic!("no policy {id}"))
        .artifact
}

/// The conflict case: its overlaps are errors for `check`, so it is compiled here directly.
fn conflict() -> Compiled {
    let path = root().join("tests/cases/compile/conflict.medpol");
    let mut sources = medpol::source::Sources::new();
    let project = medpol::project::load(
        &mut sources,
        path.parent().unwrap(),
        std::slice::from_ref(&path),
    )
    .unwrap();
    let checked = medpol::check::check(&project.files, &project.imports, &project.tables, &[]);
    assert!(!checked.diagnostics.iter().any(|d| d.is_error()));
    let options = compile::Options {
        root: project.root.clone(),
        ..compile::Options::default()
    };
    compile::compile(
        checked.valid().unwrap(),
        &project.tables,
        &sources,
        &options,
    )
    .unwrap()
    .remove(0)
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("docs/artifact.schema.json")).unwrap(),
        )
        .unwrap();
        jsonschema::validator_for(&schema).expect("the schema is valid")
    })
}

fn assert_valid(json: &str) {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

#[test]
fn build_cases() {
    settings().bind(|| {
        insta::glob!("cases/build/*.medpol", |path| {
            let compiled = build(path);
            let json: String = compiled.iter().map(|c| c.artifact.to_json()).collect();
            assert_valid(&json);
            insta::assert_snapshot!(json);
        });
    });
}

#[test]
fn the_library_example_artifact_is_what_build_writes() {
    let compiled = build(&root().join("tests/cases/build/tiny.medpol"));
    let fixture = std::fs::read_to_string(root().join("tests/cases/build/tiny.json")).unwrap();
    assert_eq!(compiled[0].artifact.to_json(), fixture);
}

#[test]
fn an_artifact_of_the_first_format_is_still_read_and_decides_alike() {
    // `tiny-v1.json` is `tiny.json` as the first format wrote it.
    let v1 = std::fs::read_to_string(root().join("tests/cases/build/tiny-v1.json")).unwrap();
    assert_valid(&v1);
    let old = Artifact::from_json(&v1).unwrap();
    let new = build(&root().join("tests/cases/build/tiny.medpol"))[0]
        .artifact
        .clone();
    for facts in [
        r#"{"care": "8 weeks", "hospitalized": false}"#,
        r#"{"care": "2 weeks", "hospitalized": true}"#,
        r#"{"care": "2 weeks", "hospitalized": false}"#,
        r#"{"hospitalized": false}"#,
    ] {
        let decide = |a: &Artifact| {
            let f = medpol_artifact::Facts::from_json(a, facts).unwrap();
            format!("{:?}", a.decision("coverage").unwrap().decide(&f))
        };
        assert_eq!(decide(&old), decide(&new), "{facts}");
    }
    // The first format has none of what the second brought: each is refused, named.
    let changes: [(&str, serde_json::Value, &str); 5] = [
        (
            "hospitalized",
            serde_json::json!({"type": "date"}),
            "fact `hospitalized`: a date",
        ),
        (
            "hospitalized",
            serde_json::json!({"type": "quantity", "unit": "kg"}),
            "fact `hospitalized`: a measurement",
        ),
        (
            "care",
            serde_json::json!({"range": {"min": "0", "max": "52"}}),
            "fact `care`: a declared range",
        ),
        (
            "care",
            serde_json::json!({"documentation": true}),
            "fact `care`: a documentation requirement",
        ),
        (
            "hospitalized",
            serde_json::json!({"type": "list", "record": 0}),
            "a record of list items",
        ),
    ];
    for (fact, change, expected) in changes {
        let mut doc: serde_json::Value = serde_json::from_str(&v1).unwrap();
        doc.as_object_mut().unwrap().remove("hash");
        if fact == "hospitalized" && change["type"] == "list" {
            doc["records"] = serde_json::json!([{"name": "session", "fields": [
                {"name": "done", "type": "bool", "source": {"file": 0, "line": 1, "column": 1, "text": "done"}}
            ], "source": {"file": 0, "line": 1, "column": 1, "text": "session"}}]);
        }
        let facts = doc["facts"].as_array_mut().unwrap();
        let f = facts.iter_mut().find(|f| f["name"] == fact).unwrap();
        for (k, v) in change.as_object().unwrap() {
            f[k] = v.clone();
        }
        let doc: medpol_artifact::Document = serde_json::from_value(doc).unwrap();
        let err = Artifact::from_json(&doc.to_json()).unwrap_err();
        assert!(
            err.message.contains(&format!(
                "{expected}, which a `medpol.decision/1` artifact cannot hold"
            )),
            "{err}"
        );
    }
}

#[test]
fn dates_are_read_from_json_and_yaml_and_set_one_by_one() {
    let compiled = build(&root().join("tests/cases/build/dates.medpol"));
    let artifact = &compiled[0].artifact;
    let decision = artifact.decision("comorbidity").unwrap();
    let decide = |json: &str| {
        let facts = Facts::from_json(artifact, json).unwrap();
        decision.decide(&facts).outcome().map(str::to_string)
    };
    let on = r#"{"service_date": "2009-02-12", "diabetes": true, "sleeve": false}"#;
    assert_eq!(decide(on).as_deref(), Some("comorbid"));
    let before = r#"{"service_date": "2009-02-11", "diabetes": true, "sleeve": false}"#;
    assert_eq!(decide(before).as_deref(), Some("not_comorbid"));
    // Not a day of the calendar, not written YYYY-MM-DD, not a string: the fact is named.
    for bad in [r#""2021-02-29""#, r#""2009-2-12""#, "20090212"] {
        let json = format!(r#"{{"service_date": {bad}}}"#);
        let err = Facts::from_json(artifact, &json).unwrap_err();
        assert_eq!(err.fact.as_deref(), Some("service_date"), "{bad}");
        assert!(err.message.contains("a date such as `2009-02-12`"), "{err}");
    }
    let mut facts = Facts::new(artifact);
    facts
        .read_yaml("service_date: 2009-02-12\ndiabetes: true\n")
        .unwrap();
    assert_eq!(decision.decide(&facts).outcome(), Some("comorbid"));
    let date = medpol_artifact::date::Date::parse("2009-02-11").unwrap();
    facts.set_date("service_date", date).unwrap();
    assert_eq!(decision.decide(&facts).outcome(), Some("not_comorbid"));
    let err = facts.set_date("diabetes", date).unwrap_err();
    assert!(err.message.contains("not a date"), "{err}");
}

#[test]
fn every_artifact_follows_the_schema_and_loads_back() {
    let mut all: Vec<Artifact> = shipped().iter().map(|c| c.artifact.clone()).collect();
    all.push(conflict().artifact);
    for a in all {
        let json = a.to_json();
        assert_valid(&json);
        let back = Artifact::from_json(&json).unwrap();
        assert_eq!(back.document(), a.document());
    }
}

#[test]
fn a_changed_artifact_fails_its_hash() {
    let json = shipped_artifact("bcbsma-484").to_json().replacen(
        "\"medically_necessary\"",
        "\"not_addressed\"",
        1,
    );
    let err = Artifact::from_json(&json).unwrap_err();
    assert_eq!(err.kind, medpol_artifact::LoadErrorKind::Hash);
    assert!(err.message.contains("content hash does not match"), "{err}");
    let err = Artifact::from_json("{\"format\": \"other/2\"}").unwrap_err();
    assert_eq!(err.kind, medpol_artifact::LoadErrorKind::Format);
    assert!(
        err.message.contains("not a `medpol.decision/2` artifact"),
        "{err}"
    );
}

/// The facts of a witness, written as a user would write them.
fn witness_json(
    artifact: &Artifact,
    program: &medpol::ir::Program,
    w: &std::collections::BTreeMap<medpol::ir::FactId, Value>,
) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (id, value) in w {
        let name = &program.facts[id.index()].name;
        let schema = &artifact.document().facts[artifact.fact_index(name).unwrap() as usize];
        let v = match value {
            Value::Bool(b) => serde_json::json!(b),
            Value::Num(n) => match schema.ty {
                FactType::Duration | FactType::Quantity => {
                    serde_json::json!(format!("{n} {}", schema.unit.as_deref().unwrap()))
                }
                FactType::Percent => serde_json::json!(format!("{n}%")),
                // A date is held as a day number; a user writes it as a date.
                FactType::Date => {
                    medpol::testing::value_json(program, program.facts[id.index()].ty, value)
                }
                _ => serde_json::json!(n.to_string()),
            },
            Value::Enum(i) => serde_json::json!(schema.values[*i as usize]),
            Value::Code(c) => serde_json::json!(c),
            Value::Codes(cs) => serde_json::json!(cs),
            Value::List(_) => {
                medpol::testing::value_json(program, program.facts[id.index()].ty, value)
            }
        };
        map.insert(name.clone(), v);
    }
    serde_json::Value::Object(map)
}

fn program(path: &Path) -> medpol::ir::Program {
    let mut sources = medpol::source::Sources::new();
    let root = if path.is_dir() {
        path
    } else {
        path.parent().unwrap()
    };
    let project = medpol::project::load(&mut sources, root, &[path.to_path_buf()]).unwrap();
    medpol::check::check(&project.files, &project.imports, &project.tables, &[])
        .program()
        .clone()
}

fn leaf_label(c: &Compiled, d: usize, leaf: u32) -> String {
    let decision = &c.artifact.decisions()[d];
    let by = match &decision.document().leaves[leaf as usize] {
        LeafDoc::Rule { rule, .. } => rule.clone(),
        LeafDoc::Otherwise { .. } => "otherwise".to_string(),
        other => format!("{other:?}"),
    };
    format!(
        "{} {} {by}",
        c.artifact.document().policy.id,
        decision.name()
    )
}

#[test]
fn every_leaf_has_a_witness_that_reaches_it() {
    let shipped_program = program(&root().join("policies"));
    let conflict_program = program(&root().join("tests/cases/compile/conflict.medpol"));
    let mut all: Vec<(Compiled, &medpol::ir::Program)> = shipped()
        .iter()
        .map(|c| (c.clone(), &shipped_program))
        .collect();
    all.push((conflict(), &conflict_program));
    let mut leaves = 0;
    for (c, program) in &all {
        for (d, decision) in c.artifact.decisions().iter().enumerate() {
            for leaf in 0..decision.document().leaves.len() as u32 {
                // Every leaf of these policies is reached by some patient (their tests and
                // the conflict case's), so every leaf has one.
                let label = leaf_label(c, d, leaf);
                let w = c
                    .witness(d, leaf)
                    .unwrap_or_else(|| panic!("no witness for {label}"));
                let json = witness_json(&c.artifact, program, w);
                let facts =
                    Facts::from_value(&c.artifact, &json).unwrap_or_else(|e| panic!("{e}: {json}"));
                assert_eq!(
                    decision.decide_leaf(&facts),
                    Some(leaf),
                    "{} leaf {leaf}: {json}",
                    decision.name()
                );
                leaves += 1;
            }
        }
    }
    assert!(leaves > 20, "{leaves}");
}

#[test]
fn unique_and_any_make_conflict_leaves() {
    let c = conflict();
    let review = c.artifact.decision("review").unwrap();
    let leaves = &review.document().leaves;
    assert!(
        leaves
            .iter()
            .any(|l| matches!(l, LeafDoc::Conflict { rules, .. } if rules == &["high", "gold"]))
    );
    assert!(leaves.contains(&LeafDoc::NoRule));
    let facts = Facts::from_json(&c.artifact, r#"{"score": 7, "tier": "gold"}"#).unwrap();
    let e = review.evaluate(&facts);
    assert!(e.is_decided());
    assert!(matches!(
        review.leaf(e.leaves[0]),
        Some(LeafDoc::Conflict { .. })
    ));
    assert_eq!(review.outcome_of(&e), None);
    // Under `any`, two rules that agree are one result: the first of them decides.
    let route = c.artifact.decision("route").unwrap();
    let facts = Facts::from_json(&c.artifact, r#"{"diagnosis": "M80.08XA", "score": 9}"#).unwrap();
    let e = route.evaluate(&facts);
    assert_eq!(route.rule_of(&e), Some("fracture"));
    // A missing score matters only where `low` could match.
    let facts =
        Facts::from_json(&c.artifact, r#"{"diagnosis": "M84.48XA", "tier": "gold"}"#).unwrap();
    let e = route.evaluate(&facts);
    assert_eq!(route.outcome_of(&e), Some("spine"));
    let facts = Facts::from_json(
        &c.artifact,
        r#"{"diagnosis": "M84.48XA", "tier": "silver"}"#,
    )
    .unwrap();
    let e = route.evaluate(&facts);
    assert!(!e.is_decided());
    assert_eq!(c.artifact.fact_names(&e.needed), vec!["score"]);
}

#[test]
fn pending_only_when_the_outcome_depends_on_the_missing_fact() {
    let a = shipped_artifact("bcbsma-484");
    let coverage = a.decision("coverage").unwrap();
    let base = r#""procedures": ["22511"], "product": "ppo", "diagnoses": ["M80.08XA"], "symptomatic": true, "hospitalized": false, "ambulation_prevented": false, "pain_from_nonhealing_fracture": true, "prophylactic": false"#;
    // Old fracture: conservative care decides between the criteria and `otherwise`.
    let facts =
        Facts::from_json(a, &format!("{{{base}, \"fracture_age\": \"10 weeks\"}}")).unwrap();
    let e = coverage.evaluate(&facts);
    assert!(!e.is_decided());
    assert_eq!(a.fact_names(&e.needed), vec!["conservative_care"]);
    assert!(coverage.decide_leaf(&facts).is_none());
    assert_eq!(coverage.decide(&facts), Decided::Pending);
    // A Medicare member: nothing else matters.
    let facts =
        Facts::from_json(a, r#"{"procedures": ["22511"], "product": "medicare_hmo"}"#).unwrap();
    let e = coverage.evaluate(&facts);
    assert!(e.is_decided());
    assert_eq!(coverage.rule_of(&e), Some("medicare_members"));
    assert_eq!(e.path.len(), 3, "{:?}", e.path);
}

#[test]
fn bad_facts_name_the_fact() {
    let a = shipped_artifact("bcbsma-484");
    let tables = medpol::tables::TableSet::shipped();
    let cases = [
        (
            r#"{"conservative_cares": "8 weeks"}"#,
            Some("conservative_cares"),
            "did you mean `conservative_care`?",
        ),
        (
            r#"{"conservative_care": "6"}"#,
            Some("conservative_care"),
            "needs a unit",
        ),
        (
            r#"{"conservative_care": 6}"#,
            Some("conservative_care"),
            "needs a unit",
        ),
        (
            r#"{"conservative_care": "-1 weeks"}"#,
            Some("conservative_care"),
            "cannot be negative",
        ),
        (
            r#"{"conservative_care": "2 months"}"#,
            Some("conservative_care"),
            "do not convert exactly",
        ),
        (
            r#"{"conservative_care": {"value": 6}}"#,
            Some("conservative_care"),
            "needs a unit",
        ),
        (
            r#"{"hospitalized": 1}"#,
            Some("hospitalized"),
            "`true` or `false`",
        ),
        (
            r#"{"product": "epo"}"#,
            Some("product"),
            "not a value of fact `product`",
        ),
        (
            r#"{"diagnoses": "M80.08XA"}"#,
            Some("diagnoses"),
            "a list of codes",
        ),
        (
            r#"{"diagnoses": ["M80.08XZ"]}"#,
            Some("diagnoses"),
            "is not a code of `icd10cm-2025`",
        ),
        (
            r#"{"diagnoses": ["M80.08"]}"#,
            Some("diagnoses"),
            "is a heading",
        ),
        (
            r#"{"diagnoses": ["M80.-"]}"#,
            Some("diagnoses"),
            "is a pattern",
        ),
        (
            r#"{"procedures": ["2251"]}"#,
            Some("procedures"),
            "not a valid CPT code",
        ),
        (r#"{"procedures": "#, None, "not valid JSON"),
        (r#"[1, 2]"#, None, "must be an object"),
    ];
    for (json, fact, message) in cases {
        let err = Facts::with_options(a, releases(tables))
            .read_json(json)
            .unwrap_err();
        assert_eq!(err.fact.as_deref(), fact, "{json}: {err}");
        assert!(err.message.contains(message), "{json}: {err}");
    }
    let ok = Facts::with_options(a, releases(tables))
        .read_json(r#"{"conservative_care": {"value": 42, "unit": "days"}, "hospitalized": null}"#);
    assert!(ok.is_ok(), "{ok:?}");
}

/// Reading options that check codes against these tables.
fn releases(tables: &medpol::tables::TableSet) -> Options {
    Options {
        releases: Some(std::sync::Arc::new(tables.clone())),
        ..Options::default()
    }
}

/// The shipped policies' artifacts, built once by the binary for the eval cases. They stay in
/// the build's own scratch folder: a temporary folder held by a static would never be removed.
/// `build` replaces each artifact whole, so a stale folder from an earlier run is harmless.
fn artifacts_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("medpol-eval-artifacts");
        let out = medpol(&["build", "policies", "-o", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        dir
    })
}

#[test]
fn eval_cases() {
    let dir = artifacts_dir();
    let mut s = settings();
    s.add_filter(&regex_escape(dir.to_str().unwrap()), "[ARTIFACTS]");
    s.bind(|| {
        insta::glob!("cases/eval/*.*", |path| {
            let source = std::fs::read_to_string(path).unwrap();
            let header = source
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# eval: "))
                .unwrap_or("bcbsma-484");
            let mut words = header.split_whitespace();
            let policy = words.next().unwrap();
            let artifact = dir.join(format!("{policy}.json"));
            let mut args = vec![
                "eval".to_string(),
                artifact.to_str().unwrap().to_string(),
                "--facts".to_string(),
                path.strip_prefix(root())
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string(),
            ];
            args.extend(words.map(str::to_string));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = medpol(&args);
            insta::assert_snapshot!(report(&out));
        });
    });
}

/// Each facts file of `tests/cases/eval-histories/` evaluated with the policy beside it by
/// `medpol eval --explain`: lists of items, empty and missing lists, items missing a field,
/// and the plain errors of bad items, in JSON and YAML.
#[test]
fn history_eval_cases() {
    settings().bind(|| {
        insta::glob!("cases/eval-histories/*.{json,yaml}", |path| {
            let facts = path.strip_prefix(root()).unwrap().to_str().unwrap();
            let out = medpol(&[
                "eval",
                "tests/cases/eval-histories/facet.medpol",
                "--facts",
                facts,
                "--explain",
            ]);
            insta::assert_snapshot!(report(&out));
        });
    });
}

/// Each `tests/cases/batch/*.jsonl` through `medpol eval ARTIFACT --batch`: its first line,
/// `# eval: POLICY ARGS...`, names the policy and the arguments; the lines after it are the
/// batch (so the results' line numbers count from the line after the header).
#[test]
fn batch_cases() {
    let dir = artifacts_dir();
    let work = temp("batch-cases");
    let mut s = settings();
    s.add_filter(&regex_escape(dir.to_str().unwrap()), "[ARTIFACTS]");
    s.add_filter(&regex_escape(work.path().to_str().unwrap()), "[BATCH]");
    s.bind(|| {
        insta::glob!("cases/batch/*.jsonl", |path| {
            let bytes = std::fs::read(path).unwrap();
            let newline = bytes.iter().position(|b| *b == b'\n').unwrap();
            let header = std::str::from_utf8(&bytes[..newline]).unwrap();
            let mut words = header.strip_prefix("# eval: ").unwrap().split_whitespace();
            let artifact = dir.join(format!("{}.json", words.next().unwrap()));
            let input = work.path().join(path.file_name().unwrap());
            std::fs::write(&input, &bytes[newline + 1..]).unwrap();
            let mut args = vec![
                "eval",
                artifact.to_str().unwrap(),
                "--batch",
                input.to_str().unwrap(),
            ];
            args.extend(words);
            let out = medpol(&args);
            insta::assert_snapshot!(report(&out));
        });
    });
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

#[test]
fn build_is_byte_identical_and_replaces_artifacts_whole() {
    let (a, b) = (temp("same-a"), temp("same-b"));
    let (a, b) = (a.path(), b.path());
    // A stale artifact in the way, and a file that is not ours.
    std::fs::write(b.join("bcbsma-484.json"), "{ half an artifact").unwrap();
    std::fs::write(b.join("notes.txt"), "keep me").unwrap();
    for dir in [a, b] {
        let out = medpol(&["build", "policies", "-o", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let names = |dir: &Path| {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(a),
        vec![
            "bcbsma-484.json",
            "cms-ncd-160-7-nerve-stimulators.json",
            "cms-ncd-210-3-colorectal-screening.json",
            "cms-ncd-30-3-3-acupuncture.json",
            "l2-vcf-protocol.json",
            "ncd-100-1-bariatric.json",
            "noridian-l34228-vertebral-augmentation.json",
            "noridian-l36575-total-knee-arthroplasty.json",
            "palmetto-l38276-hypoglossal-nerve-stimulation.json",
            "palmetto-l38765-facet-joint.json",
            "palmetto-l38994-epidural-steroid-injections.json"
        ]
    );
    assert_eq!(
        names(b),
        vec![
            "bcbsma-484.json",
            "cms-ncd-160-7-nerve-stimulators.json",
            "cms-ncd-210-3-colorectal-screening.json",
            "cms-ncd-30-3-3-acupuncture.json",
            "l2-vcf-protocol.json",
            "ncd-100-1-bariatric.json",
            "noridian-l34228-vertebral-augmentation.json",
            "noridian-l36575-total-knee-arthroplasty.json",
            "notes.txt",
            "palmetto-l38276-hypoglossal-nerve-stimulation.json",
            "palmetto-l38765-facet-joint.json",
            "palmetto-l38994-epidural-steroid-injections.json"
        ],
        "no temporary file is left behind"
    );
    for name in ["bcbsma-484.json", "l2-vcf-protocol.json"] {
        let x = std::fs::read(a.join(name)).unwrap();
        let y = std::fs::read(b.join(name)).unwrap();
        assert_eq!(x, y, "{name} differs between two builds");
        Artifact::from_json(std::str::from_utf8(&x).unwrap()).unwrap();
    }
    // Built from another working folder, with an absolute path: the same bytes.
    let c = temp("same-c");
    let c = c.path();
    let out = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args([
            "build",
            root().join("policies").to_str().unwrap(),
            "-o",
            c.to_str().unwrap(),
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(a.join("bcbsma-484.json")).unwrap(),
        std::fs::read(c.join("bcbsma-484.json")).unwrap()
    );
}

#[test]
fn build_refuses_a_policy_with_errors() {
    let dir = temp("errors");
    let dir = dir.path();
    let out = medpol(&[
        "build",
        "tests/cases/cli/errors.medpol",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("E0104"), "{err}");
    assert!(err.contains("not built: the check found 2 errors"), "{err}");
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
}

#[test]
fn eval_compiles_a_policy_in_memory() {
    let out = medpol(&[
        "eval",
        "policies/bcbsma-484.medpol",
        "--facts",
        "tests/cases/eval/484-chronic-fracture.yaml",
        "--decision",
        "coverage",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "coverage: medically_necessary by rule `failed_conservative_care`\n"
    );
    let out = medpol(&[
        "eval",
        "policies",
        "--facts",
        "tests/cases/eval/484-chronic-fracture.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pick one with `--policy ID`"));
    let out = medpol(&[
        "eval",
        "policies",
        "--policy",
        "bcbsma-484",
        "--facts",
        "tests/cases/eval/484-chronic-fracture.yaml",
        "--decision",
        "covered_diagnosis",
    ]);
    assert_eq!(
        text(&out.stdout),
        "covered_diagnosis: listed by rule `listed`\n"
    );
}

#[test]
fn batch_goes_on_after_a_bad_line() {
    let dir = artifacts_dir();
    let scratch = temp("batch");
    let batch = scratch.path().join("in.jsonl");
    std::fs::write(
        &batch,
        concat!(
            "{\"procedures\": [\"0200T\"]}\n",
            "{\"procedures\": [\"0200T\"], \"conservative_care\": \"6\"}\n",
            "not json\n",
            "\n",
            "{\"procedures\": [\"22511\"], \"product\": \"ppo\", \"diagnoses\": [\"M80.08XA\"], \"symptomatic\": true, \"fracture_age\": \"10 weeks\", \"pain_from_nonhealing_fracture\": true, \"prophylactic\": false}\n",
        ),
    )
    .unwrap();
    let artifact = dir.join("bcbsma-484.json");
    let out = medpol(&[
        "eval",
        artifact.to_str().unwrap(),
        "--batch",
        batch.to_str().unwrap(),
        "--decision",
        "coverage",
    ]);
    // Two lines failed: the status says so, and standard error counts them (no progress
    // when it is not a terminal).
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "error: 2 of 4 lines had bad facts; their results are error records\n"
    );
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["decisions"][0]["outcome"], "investigational");
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["fact"], "conservative_care");
    assert_eq!(lines[2]["line"], 3);
    assert!(
        lines[2]["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert_eq!(lines[3]["line"], 5);
    assert_eq!(lines[3]["decisions"][0]["status"], "pending");
    assert_eq!(lines[3]["decisions"][0]["needed"][0], "conservative_care");
}

/// Inputs past their limits, and files that are not files, are refused plainly; a batch line
/// past the limit is an error record and the lines around it are evaluated.
#[test]
fn eval_inputs_have_limits() {
    let dir = artifacts_dir();
    let artifact = dir.join("bcbsma-484.json");
    let artifact = artifact.to_str().unwrap();
    let work = temp("limits");
    let limit = medpol::input::Kind::Facts.limit() as usize;

    let big = work.path().join("big.json");
    let padding = "a".repeat(limit);
    std::fs::write(
        &big,
        format!(r#"{{"procedures": ["0200T"], "note": "{padding}"}}"#),
    )
    .unwrap();
    let out = medpol(&["eval", artifact, "--facts", big.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", report(&out));
    assert!(
        text(&out.stderr).contains("larger than 16 MiB, the limit for a facts file"),
        "{}",
        report(&out)
    );
    for special in ["/dev/zero", "/tmp"] {
        let out = medpol(&["eval", artifact, "--facts", special]);
        assert_eq!(out.status.code(), Some(2), "{}", report(&out));
        let out = medpol(&["eval", artifact, "--batch", special]);
        assert_eq!(out.status.code(), Some(2), "{}", report(&out));
        assert!(text(&out.stderr).contains("not a file"), "{}", report(&out));
    }

    let batch = work.path().join("batch.jsonl");
    let line = r#"{"procedures": ["0200T"]}"#;
    let long = format!(r#"{{"procedures": ["0200T"], "note": "{padding}"}}"#);
    std::fs::write(&batch, format!("{line}\n{long}\n{line}\n")).unwrap();
    let out = medpol(&[
        "eval",
        artifact,
        "--batch",
        batch.to_str().unwrap(),
        "--decision",
        "coverage",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", report(&out));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout:.400}");
    assert!(lines[0].starts_with(r#"{"line":1,"decisions""#));
    assert_eq!(
        lines[1],
        r#"{"line":2,"error":"the line is longer than 16 MiB, the limit for the facts of one patient"}"#
    );
    assert!(lines[2].starts_with(r#"{"line":3,"decisions""#));
    assert_eq!(
        text(&out.stderr),
        "error: 1 of 3 lines had bad facts; their results are error records\n"
    );
}

/// `--batch -` reads the batch from standard input.
#[test]
fn batch_reads_standard_input() {
    use std::io::Write;
    let dir = artifacts_dir();
    let artifact = dir.join("bcbsma-484.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args([
            "eval",
            artifact.to_str().unwrap(),
            "--batch",
            "-",
            "--decision",
            "coverage",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"procedures\": [\"0200T\"]}\n\n{\"procedures\": [\"0201T\"]}")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", report(&out));
    let stdout = text(&out.stdout);
    let numbers: Vec<&str> = stdout.lines().map(|l| &l[..9]).collect();
    assert_eq!(numbers, [r#"{"line":1"#, r#"{"line":3"#]);
}

#[test]
fn measurements_are_read_in_any_unit_of_their_dimension() {
    let artifact = shipped_artifact("ncd-100-1-bariatric");
    let coverage = artifact.decision("coverage").unwrap();
    let mut facts = Facts::new(artifact);
    let base = r#""procedure": "43644", "service_date": "2025-01-06", "comorbidity": true, "failed_medical_treatment": true"#;
    for (bmi, outcome) in [
        (r#""35 kg/m2""#, "covered"),
        (r#"{"value": 34999, "unit": "g/m2"}"#, "not_covered"),
        (r#""34.99 kg/m2""#, "not_covered"),
    ] {
        facts
            .read_json(&format!(r#"{{"bmi": {bmi}, {base}}}"#))
            .unwrap();
        assert_eq!(coverage.decide(&facts).outcome(), Some(outcome), "{bmi}");
    }
    let unit = medpol::types::Unit::parse("g/m2").unwrap();
    facts.set_quantity("bmi", 40_000, unit).unwrap();
    facts.set_bool("comorbidity", true).unwrap();
    facts.set_bool("failed_medical_treatment", true).unwrap();
    assert_eq!(coverage.decide(&facts).outcome(), Some("covered"));
    for (bmi, message) in [
        (r#""-1 kg/m2""#, "cannot be negative"),
        (
            r#""36 kg""#,
            "is a mass per area in kg/m2; `kg` is a mass in kg",
        ),
        (r#""36 KG/M2""#, "write the UCUM code `kg/m2`"),
        (r#""36""#, "needs a unit: write `\"6 kg/m2\"`"),
    ] {
        let err = facts
            .read_json(&format!(r#"{{"bmi": {bmi}, {base}}}"#))
            .unwrap_err();
        assert!(err.message.contains(message), "{bmi}: {}", err.message);
    }
    let schema = &artifact.document().facts[artifact.fact_index("bmi").unwrap() as usize];
    assert_eq!(schema.ty, FactType::Quantity);
    assert_eq!(schema.unit.as_deref(), Some("kg/m2"));
}

#[test]
fn the_schema_lists_every_unit_of_the_table() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/artifact.schema.json")).unwrap(),
    )
    .unwrap();
    let listed: Vec<&str> = schema["$defs"]["fact"]["properties"]["unit"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    let table: Vec<&str> = ["days", "weeks", "months", "years"]
        .into_iter()
        .chain(medpol::artifact::ucum::Ucum::codes())
        .collect();
    assert_eq!(listed, table);
}

/// Lists read from JSON text straight into their slots bind as the general path binds them
/// from a JSON value, and a line the fast path does not take gives the general path's error.
#[test]
fn lists_bind_alike_from_text_and_from_a_value() {
    let compiled = build(&root().join("tests/cases/eval-histories/facet.medpol"));
    let artifact = &compiled[0].artifact;
    let lines = [
        r#"{"sessions": []}"#,
        r#"{"sessions": [{"performed": "2025-03-31", "region": "lumbar", "kind": "therapeutic", "relief": "85%"}, {"kind": "diagnostic", "relief": null}]}"#,
        r#"{"prior": [{"procedure": "27279"}, {}], "sessions": [{"relief": {"value": 80, "unit": "%"}}]}"#,
        r#"{"sessions": [{"kind": "diagnostic", "relief": 85}]}"#,
        r#"{"sessions": [{"kind": "diagnostic", "releif": "85%"}]}"#,
        r#"{"sessions": [{"kind": "diagnostic"}, "diagnostic"]}"#,
    ];
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let from_text = Facts::from_json(artifact, line);
        let from_value = Facts::from_value(artifact, &value);
        assert_eq!(from_text, from_value, "{line}");
    }
}

/// A derived value's artifact computes it from the facts given, in any unit of theirs, never
/// takes it from the patient, waits for a missing input, and refuses a height of 0.
#[test]
fn a_derived_value_is_computed_from_its_inputs() {
    let compiled = build(&root().join("tests/cases/build/derived.medpol"));
    let artifact = &compiled[0].artifact;
    let d = artifact.decision("d").unwrap();
    let decide = |json: &str| {
        let facts = Facts::from_json(artifact, json).unwrap();
        let e = d.evaluate(&facts);
        (
            d.outcome_of(&e).map(str::to_string),
            artifact
                .fact_names(&e.needed)
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    };
    // 250 pounds at 66 inches is a BMI of 40.35; 113.4 kg at 180 cm is exactly 35.
    let yes = (Some("yes".to_string()), vec![]);
    assert_eq!(
        decide(r#"{"weight": "250 [lb_av]", "height": "66 [in_i]"}"#),
        yes
    );
    assert_eq!(decide(r#"{"weight": "113.4 kg", "height": "180 cm"}"#), yes);
    assert_eq!(
        decide(r#"{"weight": "113.3 kg", "height": "180 cm"}"#),
        (Some("no".to_string()), vec![])
    );
    // A value given for the derived value itself is replaced by the computed one.
    assert_eq!(
        decide(r#"{"weight": "113.3 kg", "height": "180 cm", "bmi": "50 kg/m2"}"#),
        (Some("no".to_string()), vec![])
    );
    assert_eq!(
        decide(r#"{"weight": "113.4 kg"}"#),
        (None, vec!["height".to_string()])
    );
    let err =
        Facts::from_json(artifact, r#"{"weight": "113.4 kg", "height": "0 cm"}"#).unwrap_err();
    assert_eq!(err.fact.as_deref(), Some("bmi"));
    assert_eq!(
        err.message,
        "the derived value `bmi` divides by zero for these facts"
    );
}
