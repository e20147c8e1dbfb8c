//! The SQL back end on real engines: every shipped policy built with `medpol build --target
//! sql` for DuckDB, PostgreSQL and Spark SQL, run over generated patients with missing facts,
//! and each decision's status, kind, outcome, rule and facts needed compared with `medpol eval
//! --batch` on the same patients (the artifact's evaluator, which the differential tests hold
//! to the interpreter). An engine that is not installed is reported as ignored, with why.
//!
//! `MEDPOL_SQL_PATIENTS` sets how many patients per policy (100,000 by default);
//! `MEDPOL_SQL_ONLY` limits the run to the policies whose file name contains it.

#[path = "support/engines.rs"]
mod engines;
#[path = "support/ir_json.rs"]
mod ir_json;
#[path = "support/patients.rs"]
mod patients;
#[path = "support/run.rs"]
mod run;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use libtest_mimic::{Arguments, Failed, Trial};
use medpol::artifact::{Artifact, Document};
use medpol::sql::{self, Dialect};
use medpol::{compile, driver};

use engines::{Engine, Job};
use patients::{Generator, Rng};

fn main() {
    let args = Arguments::from_args();
    // Made once for the three engines, and removed when they are done.
    let shared: Arc<OnceLock<Result<Prepared, String>>> = Arc::new(OnceLock::new());
    let trials = [
        (Engine::DuckDb, "duckdb"),
        (Engine::Postgres, "postgres"),
        (Engine::Spark, "spark"),
    ]
    .into_iter()
    .map(|(engine, dialect)| {
        let name = format!("every_shipped_policy_decides_alike_in_{dialect}_and_in_eval");
        let shared = Arc::clone(&shared);
        match engines::available(engine) {
            Ok(()) => Trial::test(name, move || {
                let prepared = shared
                    .get_or_init(prepare)
                    .as_ref()
                    .map_err(|e| e.clone())?;
                agree(prepared, engine, dialect)
            }),
            Err(why) => {
                eprintln!("skipped: {dialect}: {}", why.0);
                Trial::test(name, || Ok(())).with_ignored_flag(true)
            }
        }
    })
    .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    drop(shared);
    conclusion.exit();
}

/// Patients per policy.
fn patients() -> usize {
    std::env::var("MEDPOL_SQL_PATIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

/// The shipped policies' artifacts and each one's patients with their expected results, made
/// once per folder (the engines' tests share them).
struct Prepared {
    dir: tempfile::TempDir,
    /// Per policy: its stem, facts table, view, data file, the decisions' names, and the
    /// expected results of each patient (eval's JSON lines).
    policies: Vec<Policy>,
}

struct Policy {
    stem: String,
    table: String,
    view: String,
    data: PathBuf,
    decisions: Vec<String>,
    /// Each patient's results, one line per decision (see [`from_eval`]).
    expected: Vec<String>,
}

fn prepare() -> Result<Prepared, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let artifacts = dir.path().join("artifacts");
    let out = run::medpol(
        &["build", "policies", "--out", artifacts.to_str().unwrap()],
        &root,
    );
    if !out.status.success() {
        return Err(format!("build: {}", run::text(&out.stderr)));
    }
    let mut policies = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&artifacts)
        .map_err(|e| e.to_string())?
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    if let Ok(only) = std::env::var("MEDPOL_SQL_ONLY") {
        files.retain(|f| f.to_string_lossy().contains(&only));
    }
    let count = patients();
    let witnesses = witnesses(&root)?;
    for (p, file) in files.iter().enumerate() {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let doc: Document = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let generator = Generator::new(&doc);
        let mut rng = Rng::new(16 + p as u64);
        let facts_path = dir.path().join(format!("{stem}.facts.jsonl"));
        let data = dir.path().join(format!("{stem}.rows.jsonl"));
        let mut facts_out = std::io::BufWriter::new(std::fs::File::create(&facts_path).unwrap());
        let mut rows_out = std::io::BufWriter::new(std::fs::File::create(&data).unwrap());
        let near = witnesses.get(&doc.policy.id).map_or(&[][..], Vec::as_slice);
        for i in 0..count {
            let id = format!("{i:08}");
            let (mut facts, mut row) = generator.patient(&mut rng, &id);
            // Every other patient is one that reaches a leaf, with some of its facts taken
            // away or changed: each rule, decided and pending on its facts.
            if i % 2 == 1 && !near.is_empty() {
                let witness = &near[(i / 2) % near.len()];
                let object = facts.as_object_mut().unwrap();
                for (k, v) in witness {
                    match rng.below(100) {
                        0..85 => {
                            object.insert(k.clone(), v.clone());
                        }
                        85..93 => {
                            object.remove(k);
                        }
                        _ => {}
                    }
                }
                row = patients::to_row(&doc, object, &id);
            }
            writeln!(facts_out, "{facts}").unwrap();
            writeln!(rows_out, "{row}").unwrap();
        }
        drop(facts_out);
        drop(rows_out);
        let out = run::medpol(
            &[
                "eval",
                file.to_str().unwrap(),
                "--batch",
                facts_path.to_str().unwrap(),
            ],
            &root,
        );
        if !out.status.success() {
            return Err(format!(
                "eval of {stem}'s patients: {}",
                run::text(&out.stderr)
            ));
        }
        let mut decisions = Vec::new();
        let mut expected = Vec::with_capacity(count);
        for (i, line) in run::text(&out.stdout).lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v.get("error").is_some() {
                return Err(format!("eval refused {stem}'s patient {i}: {line}"));
            }
            if decisions.is_empty() {
                decisions = v["decisions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["decision"].as_str().unwrap().to_string())
                    .collect();
            }
            expected.push(from_eval(&v));
        }
        assert_eq!(expected.len(), count);
        // The names the SQL gives the table and the view (the same in every dialect).
        let artifact = Artifact::new(doc.clone()).map_err(|e| e.to_string())?;
        let names = sql::generate(&artifact, Dialect::DuckDb).map_err(|e| e.to_string())?;
        policies.push(Policy {
            stem,
            table: names.facts_table,
            view: names.decisions_view,
            data,
            decisions,
            expected,
        });
    }
    Ok(Prepared { dir, policies })
}

/// For each shipped policy (by id), a patient reaching each leaf of each decision that one
/// reaches, as facts (the compiler's witnesses; those with a value no decimal writes are left
/// out, since a facts table holds decimals).
fn witnesses(
    root: &Path,
) -> Result<
    std::collections::BTreeMap<String, Vec<serde_json::Map<String, serde_json::Value>>>,
    String,
> {
    let options = driver::Options { analysis: None };
    let checked =
        driver::check_and_keep(&[root.join("policies")], &options).map_err(|e| e.to_string())?;
    let mut out = std::collections::BTreeMap::new();
    for project in &checked.projects {
        let options = compile::Options {
            root: project.root.clone(),
            ..compile::Options::default()
        };
        let compiled = compile::compile(
            &project.program,
            &project.tables,
            &checked.report.sources,
            &options,
        )
        .map_err(|e| e.message)?;
        for c in compiled {
            let list: &mut Vec<_> = out.entry(c.artifact.policy_id().to_string()).or_default();
            for (i, d) in c.artifact.decisions().iter().enumerate() {
                for leaf in 0..d.document().leaves.len() as u32 {
                    let Some(w) = c.witness(i, leaf) else {
                        continue;
                    };
                    let facts: serde_json::Map<String, serde_json::Value> = w
                        .iter()
                        .map(|(f, v)| {
                            let fact = project.program.fact(*f).unwrap();
                            (
                                fact.name.clone(),
                                ir_json::fact_json(&project.program, fact.ty, v),
                            )
                        })
                        .collect();
                    if !facts.values().any(fraction) {
                        list.push(facts);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Whether a value holds a number written as a fraction (`1/3 weeks`; not `30 kg/m2`).
fn fraction(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.split(' ').next().is_some_and(|n| {
            n.contains('/') && n.chars().all(|c| c.is_ascii_digit() || "-./".contains(c))
        }),
        serde_json::Value::Array(items) => items.iter().any(fraction),
        serde_json::Value::Object(fields) => fields.values().any(fraction),
        _ => false,
    }
}

fn agree(prepared: &Prepared, engine: Engine, dialect: &str) -> Result<(), Failed> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sql_dir = prepared.dir.path().join(format!("sql-{dialect}"));
    let out = run::medpol(
        &[
            "build",
            "policies",
            "--target",
            "sql",
            "--dialect",
            dialect,
            "--out",
            sql_dir.to_str().unwrap(),
        ],
        &root,
    );
    if !out.status.success() {
        return Err(format!("build --target sql: {}", run::text(&out.stderr)).into());
    }
    let quote = |s: &str| match engine {
        Engine::Spark => format!("`{s}`"),
        _ => format!("\"{s}\""),
    };
    let jobs: Vec<Job> = prepared
        .policies
        .iter()
        .map(|p| Job {
            setup: sql_dir.join(format!("{}.sql", p.stem)),
            table: p.table.clone(),
            data: p.data.clone(),
            query: format!("SELECT * FROM {} ORDER BY {}", quote(&p.view), quote("id")),
            out: prepared
                .dir
                .path()
                .join(format!("{}.{dialect}.out.jsonl", p.stem)),
        })
        .collect();
    let results = engines::run(engine, &jobs).map_err(|e| e.0)?;
    let mut failures = Vec::new();
    for ((p, job), result) in prepared.policies.iter().zip(&jobs).zip(results) {
        if let Err(e) = result {
            failures.push(format!("{}: {e}", p.stem));
            continue;
        }
        if let Err(e) = compare(p, &job.out) {
            failures.push(format!("{}: {e}", p.stem));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n").into())
    }
}

/// One patient's results as eval gives them: per decision, a line of status, kind, outcome,
/// rule and the facts needed.
fn from_eval(line: &serde_json::Value) -> String {
    let mut out = String::new();
    for d in line["decisions"].as_array().unwrap() {
        out.push_str(&result(
            &d["decision"],
            &d["status"],
            &d["kind"],
            &d["outcome"],
            &d["rule"],
            &d["needed"],
        ));
    }
    out
}

/// The same from a row of the decisions view.
fn from_row(row: &serde_json::Value, decisions: &[String]) -> String {
    let mut out = String::new();
    for name in decisions {
        let field = |what: &str| {
            row.get(format!("{name}_{what}"))
                .cloned()
                .unwrap_or_default()
        };
        out.push_str(&result(
            &serde_json::json!(name),
            &field("status"),
            &field("kind"),
            &field("outcome"),
            &field("rule"),
            &field("needed"),
        ));
    }
    out
}

fn result(
    decision: &serde_json::Value,
    status: &serde_json::Value,
    kind: &serde_json::Value,
    outcome: &serde_json::Value,
    rule: &serde_json::Value,
    needed: &serde_json::Value,
) -> String {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    let needed: Vec<String> = needed
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    format!(
        "{}: {} {} {} {} needs [{}]\n",
        text(decision),
        text(status),
        text(kind),
        text(outcome),
        text(rule),
        needed.join(", ")
    )
}

/// Each row's results against eval's, decision by decision.
fn compare(p: &Policy, out: &Path) -> Result<(), String> {
    let file = std::fs::File::open(out).map_err(|e| e.to_string())?;
    let mut wrong = Vec::new();
    let mut rows = 0usize;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        let row: serde_json::Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let id = format!("{i:08}");
        if row["id"] != serde_json::json!(id) {
            return Err(format!("row {i} has id {}", row["id"]));
        }
        let ours = from_row(&row, &p.decisions);
        let theirs = p.expected.get(i).ok_or("more rows than patients")?;
        if ours != *theirs && wrong.len() < 5 {
            wrong.push(format!("patient {id}:\n  sql:\n{ours}  eval:\n{theirs}"));
        }
        rows += 1;
    }
    if rows != p.expected.len() {
        return Err(format!("{rows} rows, expected {}", p.expected.len()));
    }
    if wrong.is_empty() {
        // What the patients exercised: how many results are decided, and how many different
        // results (outcome and rule, or the facts needed) they reach.
        let lines = p.expected.iter().flat_map(|e| e.lines());
        let decided = lines.clone().filter(|l| l.contains(": decided ")).count();
        let distinct: std::collections::BTreeSet<&str> = lines.collect();
        eprintln!(
            "{}: {rows} patients, {} decisions each, alike: {decided} results decided, {} different results",
            p.stem,
            p.decisions.len(),
            distinct.len()
        );
        Ok(())
    } else {
        Err(wrong.join("\n"))
    }
}
