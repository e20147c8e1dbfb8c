//! The conformance vectors (`tests/conformance/`, its README says what they hold): the Rust
//! artifact evaluator runs every vector, and the generated files are checked to be what the
//! reference gives today.
//!
//! Generated are the artifacts (every shipped policy, every policy of `tests/cases` that
//! checks without errors, the edge cases' policies of `tests/conformance/edge/`), and for each
//! artifact its vectors: a patient reaching each leaf and the same patient with each of its
//! facts missing in turn, generated patients (missing facts left out or `null`), bad facts of
//! every kind each fact can be wrong in, and artifacts to refuse. Their expected results are
//! the artifact crate's, which `tests/differential.rs` holds to the interpreter; the
//! hand-written vectors (`"generated": false`, the edge cases) hold it to what the format says.
//!
//! `MEDPOL_CONFORMANCE=write cargo test --test conformance` rewrites the generated files.

#[path = "support/compiled.rs"]
mod compiled;
#[path = "support/ir_json.rs"]
mod ir_json;
#[path = "support/patients.rs"]
mod patients;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};

use compiled::{medpol_files, try_load};
use medpol::artifact::num::Num;
use medpol::artifact::{Artifact, Decided, Decision, Document, FactType, Facts, Options, Unknown};
use medpol::compile::Compiled;
use medpol::driver::CheckedProject;
use patients::{Generator, Rng};

/// Generated patients per artifact: shipped policies, and the smaller cases and edge policies.
const SHIPPED_PATIENTS: usize = 120;
const CASE_PATIENTS: usize = 12;
const EDGE_PATIENTS: usize = 40;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dir() -> PathBuf {
    root().join("tests/conformance")
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let write = std::env::var("MEDPOL_CONFORMANCE").is_ok_and(|v| v == "write");
    if write {
        let files = generate();
        for (path, text) in &files {
            let path = dir().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        remove_stale(&files);
        eprintln!("wrote {} files under tests/conformance", files.len());
    } else {
        trials.push(Trial::test(
            "the_generated_vectors_are_what_the_reference_gives",
            fresh,
        ));
    }
    let mut vectors: Vec<PathBuf> = std::fs::read_dir(dir().join("vectors"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    vectors.sort();
    for path in vectors {
        let name = path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', "_");
        trials.push(Trial::test(format!("vectors::{name}"), move || run(&path)));
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Every case of one vector file, evaluated by the artifact crate and compared field by field.
fn run(path: &Path) -> Result<(), Failed> {
    let suite: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut loaded: BTreeMap<String, Result<Artifact, String>> = BTreeMap::new();
    let mut failures = Vec::new();
    let cases = suite["cases"].as_array().ok_or("no `cases`")?;
    let generated = suite["generated"] != json!(false);
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let file = case["artifact"]
            .as_str()
            .ok_or("a case without `artifact`")?;
        let artifact = loaded.entry(file.to_string()).or_insert_with(|| {
            let text = std::fs::read_to_string(dir().join(file)).map_err(|e| e.to_string())?;
            Artifact::from_json(&text).map_err(|e| e.kind.as_str().to_string())
        });
        let got = match artifact {
            Err(kind) => json!({"load_error": kind}),
            Ok(artifact) => {
                let options = match case["options"]["unknown_facts"].as_str() {
                    Some("ignore") => Options {
                        unknown: Unknown::Ignore,
                        ..Options::default()
                    },
                    _ => Options::default(),
                };
                expect_of(artifact, case["facts"].as_str().unwrap_or(""), options)
            }
        };
        if !matches(&case["expect"], &got, generated) {
            failures.push(format!(
                "{name}:\n  expected {}\n  got      {got}",
                case["expect"]
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} cases differ:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        )
        .into())
    }
}

/// Whether a result is what a case expects: all of it for a generated case; for a
/// hand-written one, each decision it gives on the fields it gives.
fn matches(expect: &Value, got: &Value, generated: bool) -> bool {
    let (Some(wanted), Some(results)) =
        (expect["decisions"].as_array(), got["decisions"].as_array())
    else {
        return expect == got;
    };
    if generated {
        return expect == got;
    }
    wanted.iter().all(|w| {
        let Some(fields) = w.as_object() else {
            return false;
        };
        results
            .iter()
            .find(|r| r["decision"] == w["decision"])
            .is_some_and(|r| fields.iter().all(|(k, v)| r[k] == *v))
    })
}

/// What a case expects, as the artifact crate evaluates it.
fn expect_of(artifact: &Artifact, facts: &str, options: Options) -> Value {
    let mut bound = Facts::with_options(artifact, options);
    if let Err(e) = bound.read_json(facts).and_then(|()| bound.settled()) {
        return json!({"error": {"kind": e.kind.as_str(), "fact": e.fact}});
    }
    let decisions: Vec<Value> = artifact
        .decisions()
        .iter()
        .map(|d| result(artifact, d, &bound))
        .collect();
    json!({ "decisions": decisions })
}

/// One decision's result, in the README's form.
fn result(artifact: &Artifact, decision: &Decision, facts: &Facts) -> Value {
    let e = decision.evaluate(facts);
    let mut out = serde_json::Map::new();
    out.insert("decision".into(), json!(decision.name()));
    let (kind, extra) = match decision.decided(&e) {
        Decided::Rule { outcome, rule } => ("rule", json!({"outcome": outcome, "rule": rule})),
        Decided::Outcome { outcome } => ("outcome", json!({ "outcome": outcome })),
        Decided::Otherwise { outcome } => ("otherwise", json!({ "outcome": outcome })),
        Decided::NoRule => ("no_rule", json!({})),
        Decided::Conflict { rules, outcomes } => {
            ("conflict", json!({"rules": rules, "outcomes": outcomes}))
        }
        Decided::Pending => (
            "pending",
            json!({ "needed": artifact.fact_names(&e.needed) }),
        ),
    };
    out.insert("result".into(), json!(kind));
    out.extend(extra.as_object().unwrap().clone());
    out.insert("leaves".into(), json!(e.leaves));
    let path: Vec<Value> = e
        .path
        .iter()
        .map(|s| json!({"node": s.node, "holds": s.holds}))
        .collect();
    out.insert("path".into(), json!(path));
    out.insert("documentation".into(), json!(artifact.documentation(&e)));
    Value::Object(out)
}

/// Checks that every generated file on disk is what generation gives now.
fn fresh() -> Result<(), Failed> {
    let files = generate();
    let mut stale = Vec::new();
    for (path, text) in &files {
        match std::fs::read_to_string(dir().join(path)) {
            Ok(on_disk) if on_disk == *text => {}
            Ok(_) => stale.push(format!("{path} differs")),
            Err(_) => stale.push(format!("{path} is missing")),
        }
    }
    for path in generated_on_disk() {
        if !files.contains_key(&path) {
            stale.push(format!("{path} is no longer generated"));
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the conformance vectors are not what the reference gives; if the change is meant, \
             rewrite them with `MEDPOL_CONFORMANCE=write cargo test --test conformance`:\n{}",
            stale.join("\n")
        )
        .into())
    }
}

/// The generated files under `tests/conformance` (relative paths): the artifacts, and the
/// vector files marked generated.
fn generated_on_disk() -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["artifacts", "refused", "vectors"] {
        let mut todo = vec![dir().join(sub)];
        while let Some(d) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                    continue;
                }
                let relative = path
                    .strip_prefix(dir())
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                let hand_written = sub == "vectors"
                    && std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                        .is_some_and(|v| v["generated"] == json!(false));
                if !hand_written {
                    out.push(relative);
                }
            }
        }
    }
    out.sort();
    out
}

fn remove_stale(files: &BTreeMap<String, String>) {
    for path in generated_on_disk() {
        if !files.contains_key(&path) {
            std::fs::remove_file(dir().join(&path)).unwrap();
        }
    }
}

/// One artifact to write and the vectors to make for it.
struct Source {
    /// Its path under `tests/conformance`.
    file: String,
    artifact: Artifact,
    /// A patient per leaf the compiler found one for.
    witnesses: Vec<serde_json::Map<String, Value>>,
}

fn sources_of(
    project: &CheckedProject,
    compiled: Vec<Compiled>,
    file: impl Fn(&Compiled) -> String,
) -> Vec<Source> {
    compiled
        .into_iter()
        .map(|c| {
            let mut witnesses = Vec::new();
            for (i, d) in c.artifact.decisions().iter().enumerate() {
                for leaf in 0..d.document().leaves.len() as u32 {
                    if let Some(w) = c.witness(i, leaf) {
                        witnesses.push(
                            w.iter()
                                .map(|(f, v)| {
                                    let fact = project.program.fact(*f).unwrap();
                                    (
                                        fact.name.clone(),
                                        ir_json::fact_json(&project.program, fact.ty, v),
                                    )
                                })
                                .collect(),
                        );
                    }
                }
            }
            Source {
                file: file(&c),
                artifact: c.artifact,
                witnesses,
            }
        })
        .collect()
}

/// Every generated file, by its path under `tests/conformance`, with its text.
fn generate() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    // The shipped policies: a suite each.
    let (project, compiled) = try_load(&root().join("policies")).expect("policies/ checks");
    for source in sources_of(&project, compiled, |c| {
        format!("artifacts/{}.json", c.artifact.policy_id())
    }) {
        let id = source.artifact.policy_id().to_string();
        let cases = cases_of(&source, SHIPPED_PATIENTS, seed(&id), true);
        files.insert(
            format!("vectors/{id}.json"),
            suite(&id, &format!("policy `{id}` of policies/"), cases),
        );
        files.insert(source.file.clone(), source.artifact.to_json());
    }
    // The cases of tests/cases, and the edge policies: one suite each.
    for (group, folder, patients) in [
        ("cases", root().join("tests/cases"), CASE_PATIENTS),
        ("edge", dir().join("edge"), EDGE_PATIENTS),
    ] {
        let mut cases = Vec::new();
        for path in medpol_files(&folder) {
            let Some((project, compiled)) = try_load(&path) else {
                continue;
            };
            let stem = path
                .strip_prefix(&folder)
                .unwrap()
                .with_extension("")
                .to_string_lossy()
                .replace(['/', '\\'], "--");
            let single = compiled.len() == 1;
            for source in sources_of(&project, compiled, |c| {
                if single {
                    format!("artifacts/{group}/{stem}.json")
                } else {
                    format!("artifacts/{group}/{stem}.{}.json", c.artifact.policy_id())
                }
            }) {
                let label = source
                    .file
                    .trim_start_matches(&format!("artifacts/{group}/"))
                    .trim_end_matches(".json")
                    .to_string();
                let generic = cases.is_empty();
                for mut case in cases_of(&source, patients, seed(&label), generic) {
                    case["name"] = json!(format!("{label}/{}", case["name"].as_str().unwrap()));
                    cases.push(case);
                }
                files.insert(source.file.clone(), source.artifact.to_json());
            }
        }
        let description = match group {
            "cases" => "every policy of tests/cases that checks without errors",
            _ => "the policies of the edge cases (tests/conformance/edge), generated patients",
        };
        files.insert(
            format!("vectors/{group}.json"),
            suite(group, description, cases),
        );
    }
    refused(&mut files);
    files
}

/// A seed from a name, so that each suite's patients do not change when others are added.
fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A vector file: one case a line, so that a change to one case is one line of a diff.
fn suite(name: &str, description: &str, cases: Vec<Value>) -> String {
    let mut text = format!(
        "{{\n  \"suite\": {},\n  \"description\": {},\n  \"generated\": true,\n  \"cases\": [\n",
        json!(name),
        json!(description)
    );
    for (i, case) in cases.iter().enumerate() {
        text.push_str("    ");
        text.push_str(&case.to_string());
        text.push_str(if i + 1 < cases.len() { ",\n" } else { "\n" });
    }
    text.push_str("  ]\n}\n");
    text
}

/// The cases of one artifact: its witnesses whole and with each fact missing, generated
/// patients, and bad facts.
fn cases_of(source: &Source, patients: usize, seed: u64, generic: bool) -> Vec<Value> {
    let artifact = &source.artifact;
    let mut out = Vec::new();
    let mut add = |name: String, facts: String, options: Option<Value>| {
        let unknown = match options.as_ref().and_then(|o| o["unknown_facts"].as_str()) {
            Some("ignore") => Unknown::Ignore,
            _ => Unknown::Reject,
        };
        let expect = expect_of(
            artifact,
            &facts,
            Options {
                unknown,
                ..Options::default()
            },
        );
        let mut case = json!({
            "name": name,
            "artifact": source.file,
            "facts": facts,
        });
        if let Some(o) = options {
            case["options"] = o;
        }
        case["expect"] = expect;
        out.push(case);
    };
    let mut seen = std::collections::BTreeSet::new();
    for (w, witness) in source.witnesses.iter().enumerate() {
        let text = Value::Object(witness.clone()).to_string();
        if !seen.insert(text.clone()) {
            continue;
        }
        add(format!("leaf-{w}"), text, None);
        for name in witness.keys() {
            let mut less = witness.clone();
            less.remove(name);
            add(
                format!("leaf-{w}-without-{name}"),
                Value::Object(less).to_string(),
                None,
            );
        }
    }
    let generator = Generator::new(artifact.document());
    let mut rng = Rng::new(seed);
    for i in 0..patients {
        let (mut facts, _) = generator.patient(&mut rng, "");
        let object = facts.as_object_mut().unwrap();
        // Some missing facts written as `null`, which means the same as leaving them out.
        if rng.chance(20) {
            for f in &artifact.document().facts {
                if f.formula.is_none() && !object.contains_key(&f.name) && rng.chance(50) {
                    object.insert(f.name.clone(), Value::Null);
                }
            }
        }
        add(format!("patient-{i}"), facts.to_string(), None);
    }
    for (name, facts, options) in bad_facts(artifact.document(), generic) {
        add(name, facts, options);
    }
    out
}

/// Facts each wrong in one way (or, for the syntax of JSON itself, right in an unusual one),
/// for every fact by its type; the reference says what kind of error each is.
fn bad_facts(doc: &Document, generic: bool) -> Vec<(String, String, Option<Value>)> {
    let mut out = Vec::new();
    // Text that is wrong (or unusual) whatever the artifact: once per suite.
    let texts = [
        (
            "syntax-trailing-comma".to_string(),
            "{\"a\": 1,}".to_string(),
            None,
        ),
        ("syntax-truncated".to_string(), "{\"a\": ".to_string(), None),
        ("not-object-array".to_string(), "[]".to_string(), None),
        ("not-object-number".to_string(), "7".to_string(), None),
        ("empty-object".to_string(), "{}".to_string(), None),
        (
            "byte-order-mark".to_string(),
            "\u{feff}{}".to_string(),
            None,
        ),
        (
            "unknown-fact".to_string(),
            "{\"no_such_fact_here\": true}".to_string(),
            None,
        ),
        (
            "unknown-fact-ignored".to_string(),
            "{\"no_such_fact_here\": true}".to_string(),
            Some(json!({"unknown_facts": "ignore"})),
        ),
    ];
    if generic {
        out.extend(texts);
    }
    for f in &doc.facts {
        if f.formula.is_some() {
            continue;
        }
        let name = &f.name;
        let quoted = serde_json::to_string(name).unwrap();
        let one = |what: &str, value: &str| {
            (
                format!("bad-{name}-{what}"),
                format!("{{{quoted}: {value}}}"),
                None,
            )
        };
        out.push((
            format!("duplicate-{name}"),
            format!("{{{quoted}: null, {quoted}: null}}"),
            None,
        ));
        let values: Vec<(&str, String)> = match f.ty {
            FactType::Bool => vec![("string", "\"yes\"".into()), ("number", "1".into())],
            FactType::Int => vec![
                ("fraction", "1.5".into()),
                ("word", "\"many\"".into()),
                ("exponent", "1e400".into()),
                ("huge", "123456789012345678901234567890123456789012".into()),
            ],
            FactType::Decimal => vec![("bool", "true".into()), ("word", "\"x\"".into())],
            FactType::Duration => vec![
                ("no-unit", "\"6\"".into()),
                ("bare-number", "6".into()),
                ("unknown-unit", "\"6 fortnights\"".into()),
                ("other-dimension", "\"6 kg\"".into()),
                ("negative", "\"-1 days\"".into()),
                ("object-without-value", "{\"unit\": \"days\"}".into()),
                ("other-kind-of-time", other_time(f.unit.as_deref())),
            ],
            FactType::Percent => vec![
                ("over-100", "\"100.5%\"".into()),
                ("negative", "\"-1%\"".into()),
                ("no-sign", "\"50\"".into()),
            ],
            FactType::Quantity => vec![
                ("no-unit", "\"6\"".into()),
                ("unknown-unit", "\"6 furlongs\"".into()),
                ("other-dimension", "\"6 s\"".into()),
                ("lb-written-lb", "\"6 lb\"".into()),
                (
                    "negative",
                    format!("\"-1 {}\"", f.unit.as_deref().unwrap_or("")),
                ),
            ],
            FactType::Enum => vec![
                ("unknown-value", "\"no_such_value\"".into()),
                ("number", "3".into()),
            ],
            FactType::Code => vec![
                ("malformed", "\"!!\"".into()),
                (
                    "pattern",
                    format!("\"{}*\"", first_code(doc, f).unwrap_or("A")),
                ),
                ("number", "22511".into()),
                ("list", "[]".into()),
            ],
            FactType::Codes => vec![
                ("not-a-list", "\"22511\"".into()),
                ("item-number", "[22511]".into()),
                ("item-malformed", "[\"??\"]".into()),
            ],
            FactType::Date => vec![
                ("not-on-the-calendar", "\"2021-02-29\"".into()),
                ("one-digit-month", "\"2009-2-12\"".into()),
                ("number", "20090212".into()),
                ("leap-day", "\"2024-02-29\"".into()),
            ],
            FactType::List => {
                let v = vec![
                    ("not-a-list", "{}".into()),
                    ("item-not-object", "[1]".into()),
                    ("unknown-field", "[{\"no_such_field\": 1}]".into()),
                    ("empty", "[]".into()),
                    ("empty-item", "[{}]".into()),
                ];
                if let Some(record) = f.record.and_then(|r| doc.records.get(r as usize)) {
                    for field in &record.fields {
                        let bad = match field.ty {
                            FactType::Bool => "\"yes\"",
                            FactType::Date => "\"2021-02-30\"",
                            FactType::Enum => "\"no_such_value\"",
                            FactType::Percent => "\"101%\"",
                            FactType::Duration | FactType::Quantity => "\"6\"",
                            FactType::Code => "\"!!\"",
                            _ => "\"x\"",
                        };
                        out.push((
                            format!("bad-{name}-field-{}", field.name),
                            format!(
                                "{{{quoted}: [{{}}, {{{}: {bad}}}]}}",
                                serde_json::to_string(&field.name).unwrap()
                            ),
                            None,
                        ));
                    }
                }
                v
            }
        };
        for (what, value) in values {
            out.push(one(what, &value));
        }
        if let Some((low, high)) = f.range.as_ref().and_then(|r| r.bounds()) {
            let unit = match f.ty {
                FactType::Percent => "%".to_string(),
                FactType::Duration | FactType::Quantity => {
                    format!(" {}", f.unit.as_deref().unwrap_or(""))
                }
                _ => String::new(),
            };
            let text = |n: String| {
                if unit.is_empty() {
                    n
                } else {
                    format!("\"{n}{unit}\"")
                }
            };
            let one_less = low.checked_sub(Num::from_int(1)).unwrap();
            let one_more = high.checked_add(Num::from_int(1)).unwrap();
            out.push(one("below-range", &text(format!("{one_less}"))));
            out.push(one("at-low", &text(format!("{low}"))));
            out.push(one("at-high", &text(format!("{high}"))));
            out.push(one("above-range", &text(format!("{one_more}"))));
        }
    }
    out
}

/// A duration in the other kind of time than the fact's (months for days), which does not
/// convert exactly.
fn other_time(unit: Option<&str>) -> String {
    match unit {
        Some("days" | "weeks") => "\"1 months\"".into(),
        _ => "\"1 days\"".into(),
    }
}

/// The first code of a set the fact is tested against, for a pattern that looks like a real
/// one.
fn first_code<'a>(doc: &'a Document, f: &medpol::artifact::FactSchema) -> Option<&'a str> {
    doc.code_sets
        .iter()
        .find(|s| Some(&s.system) == f.system.as_ref())
        .and_then(|s| s.codes.first())
        .map(String::as_str)
}

/// Artifacts to refuse, made from the tiny artifact of `tests/cases/build`, each wrong in one
/// way, with the kind of refusal the reference gives.
fn refused(files: &mut BTreeMap<String, String>) {
    let text = std::fs::read_to_string(root().join("tests/cases/build/tiny.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let rehash = |v: Value| {
        let mut d: Document = serde_json::from_value(v).unwrap();
        d.hash = d.content_hash();
        d.to_json()
    };
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = doc.clone();
        f(&mut v);
        v
    };
    let made: Vec<(&str, String)> = vec![
        ("not-json", "{\"format\": ".to_string()),
        (
            "unknown-format",
            with(&|v| v["format"] = json!("medpol.decision/9")).to_string(),
        ),
        (
            "changed-without-its-hash",
            text.replacen("\"covered\"", "\"uncovered\"", 1),
        ),
        (
            "hash-of-another-form",
            with(&|v| v["hash"] = json!(format!("sha256:{}", "0".repeat(64)))).to_string(),
        ),
        (
            "unknown-field",
            with(&|v| v["extra"] = json!(1)).to_string(),
        ),
        (
            "missing-decisions",
            with(&|v| {
                v.as_object_mut().unwrap().remove("decisions");
            })
            .to_string(),
        ),
        (
            "child-before-its-node",
            rehash(with(&|v| v["decisions"][0]["root"] = json!({"node": 99}))),
        ),
        (
            "fact-out-of-range",
            rehash(with(&|v| v["decisions"][0]["nodes"][0]["fact"] = json!(42))),
        ),
        (
            "outcome-not-of-the-decision",
            rehash(with(&|v| {
                v["decisions"][0]["leaves"][0]["outcome"] = json!("no_such_outcome")
            })),
        ),
    ];
    let mut cases = Vec::new();
    for (name, text) in made {
        let file = format!("refused/{name}.json");
        let kind = match Artifact::from_json(&text) {
            Ok(_) => panic!("refused/{name} loads"),
            Err(e) => e.kind.as_str(),
        };
        cases.push(json!({
            "name": name,
            "artifact": file,
            "facts": "{}",
            "expect": {"load_error": kind},
        }));
        files.insert(file, text);
    }
    files.insert(
        "vectors/refused.json".to_string(),
        suite(
            "refused",
            "artifacts to refuse, each wrong in one way",
            cases,
        ),
    );
}
