//! The artifact evaluators side by side (issue 18): the Rust crate, the TypeScript package
//! (`crates/medpol-artifact-ts`, under Node) and the Python bindings (`crates/medpol-py`), each
//! binding from JSON text and deciding every decision of policy 484 for the 100,000 generated
//! patients of `benches/eval.rs`, on one thread, the best of three runs after a warm-up. Each
//! implementation also counts its outcomes, and the counts must be the same as Rust's: the
//! figures are of the same work. An implementation that is not built is reported as skipped,
//! with how to build it. Figures are in `docs/performance.md`; nothing here asserts a time.
//!
//! `MEDPOL_BENCH_PYTHON` names the Python that has the bindings installed (by default the
//! virtual environment `.ci/run` makes, `target/ci-tools/py`, then `python3`).

#[path = "support/patients_484.rs"]
mod patients_484;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use medpol::artifact::{Artifact, Decided, Facts};
use medpol::driver;

/// For each decision, the count of each outcome (or of the result's kind when it has none).
type Counts = BTreeMap<String, BTreeMap<String, u64>>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() {
    // criterion's harness passes `--bench`; this bench takes no arguments of its own.
    let built = driver::build_paths(&[root().join("policies")], &driver::Options::default())
        .expect("the policies load")
        .expect("the policies compile");
    let artifact = built
        .compiled
        .into_iter()
        .find(|c| c.artifact.policy_id() == "bcbsma-484")
        .expect("policy 484")
        .artifact;
    let lines = patients_484::generated_patients();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let artifact_path = dir.path().join("bcbsma-484.json");
    let patients_path = dir.path().join("patients.jsonl");
    std::fs::write(&artifact_path, artifact.to_json()).expect("the artifact is written");
    std::fs::write(&patients_path, lines.join("\n") + "\n").expect("the patients are written");

    let (seconds, counts) = rust(&artifact, &lines);
    let rate = lines.len() as f64 / seconds;
    println!(
        "{} patients of policy 484, every decision, one thread, best of 3 runs",
        lines.len()
    );
    println!("| implementation | seconds | patients/s | against Rust |");
    println!("|---|---|---|---|");
    println!("| Rust (`medpol-artifact`) | {seconds:.3} | {rate:.0} | 1 |");
    let others: [(&str, Result<Vec<Value>, String>); 2] = [
        (
            "TypeScript (Node)",
            typescript(&artifact_path, &patients_path),
        ),
        ("Python bindings", python(&artifact_path, &patients_path)),
    ];
    for (name, result) in others {
        match result {
            Err(why) => println!("| {name} | skipped: {why} | | |"),
            Ok(records) => {
                for record in records {
                    let theirs = counts_of(&record);
                    assert_eq!(
                        theirs, counts,
                        "{name} counted other outcomes than Rust on the same patients"
                    );
                    let mode = record["mode"]
                        .as_str()
                        .map_or(String::new(), |m| format!(", {m}"));
                    let s = record["seconds"].as_f64().expect("seconds");
                    let r = lines.len() as f64 / s;
                    println!("| {name}{mode} | {s:.3} | {r:.0} | {:.2}× |", r / rate);
                }
            }
        }
    }
}

/// Rust: one `Facts` reused, each line read and every decision decided.
fn rust(artifact: &Artifact, lines: &[String]) -> (f64, Counts) {
    let mut facts = Facts::new(artifact);
    let mut run = || {
        let mut counts = Counts::new();
        for line in lines {
            if let Err(e) = facts.read_json(line) {
                *counts
                    .entry("error".into())
                    .or_default()
                    .entry(e.kind.as_str().into())
                    .or_default() += 1;
                continue;
            }
            for d in artifact.decisions() {
                let decided = d.decide(&facts);
                let key = match decided {
                    Decided::NoRule => "no_rule",
                    Decided::Conflict { .. } => "conflict",
                    Decided::Pending => "pending",
                    _ => decided.outcome().unwrap_or_default(),
                };
                *counts
                    .entry(d.name().to_string())
                    .or_default()
                    .entry(key.to_string())
                    .or_default() += 1;
            }
        }
        counts
    };
    let counts = run();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let again = run();
        best = best.min(start.elapsed().as_secs_f64());
        assert_eq!(again, counts);
    }
    (best, counts)
}

/// The counts an implementation printed: TypeScript's `results` (`"coverage: rule covered"`)
/// or Python's `outcomes` (`{"coverage": {"covered": n}}`).
fn counts_of(record: &Value) -> Counts {
    let mut out = Counts::new();
    if let Some(results) = record["results"].as_object() {
        for (key, n) in results {
            let (decision, what) = key.split_once(": ").expect("decision: result");
            // `error: KIND`, or `KIND` and the outcome when there is one.
            let what = what.split_once(' ').map_or(what, |(_, outcome)| outcome);
            // `rule covered` and `outcome covered` are both counted as `covered`.
            *out.entry(decision.to_string())
                .or_default()
                .entry(what.to_string())
                .or_default() += n.as_u64().expect("a count");
        }
    } else if let Some(outcomes) = record["outcomes"].as_object() {
        for (decision, counts) in outcomes {
            for (what, n) in counts.as_object().expect("counts") {
                out.entry(decision.clone())
                    .or_default()
                    .insert(what.clone(), n.as_u64().expect("a count"));
            }
        }
    }
    out
}

/// Runs one implementation's benchmark script and reads the JSON line of each mode it times.
fn records(command: &mut Command) -> Result<Vec<Value>, String> {
    let out = command.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .to_string());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
        .collect()
}

fn typescript(artifact: &Path, patients: &Path) -> Result<Vec<Value>, String> {
    let package = root().join("crates/medpol-artifact-ts");
    let script = package.join("dist/bench/bench.js");
    if !script.exists() {
        return Err(
            "not built (`npm ci --prefix crates/medpol-artifact-ts && npm run build --prefix crates/medpol-artifact-ts`)"
                .into(),
        );
    }
    records(Command::new("node").arg(script).arg(artifact).arg(patients))
}

fn python(artifact: &Path, patients: &Path) -> Result<Vec<Value>, String> {
    let venv = root().join("target/ci-tools/py/bin/python");
    let python = std::env::var_os("MEDPOL_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        });
    let has = Command::new(&python)
        .args(["-c", "import medpol_artifact"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        return Err(format!(
            "`{}` has no medpol_artifact (crates/medpol-py/README.md says how to build the wheel)",
            python.display()
        ));
    }
    records(
        Command::new(python)
            .arg(root().join("crates/medpol-py/bench/bench.py"))
            .arg(artifact)
            .arg(patients),
    )
}
