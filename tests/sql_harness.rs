//! The SQL engines the SQL back end's tests run on (`tests/support/engines.rs`): DuckDB,
//! PostgreSQL and Spark SQL, each given the same facts table, views and data in its own dialect
//! (`tests/cases/sql/harness/`), must give the same rows. The setup files hold each construct
//! the back end emits, so they also say which syntax works on each engine.
//!
//! This file has its own test harness (`harness = false` in `Cargo.toml`, libtest-mimic): an
//! engine that is not installed is reported as ignored, with the reason on standard error
//! (`skipped: ENGINE: REASON`); `.ci/run` installs them on CI.

#[path = "support/engines.rs"]
mod engines;

use std::fs;
use std::path::{Path, PathBuf};

use engines::{Engine, Job};
use libtest_mimic::{Arguments, Failed, Trial};

/// How deep the chain of subqueries goes: as deep as a policy's longest chain of derived
/// facts, with room.
const LEVELS: usize = 60;

fn main() {
    let args = Arguments::from_args();
    let trials = Engine::ALL
        .into_iter()
        .map(|engine| {
            let unavailable = engines::available(engine).err();
            if let Some(why) = &unavailable {
                eprintln!("skipped: {}: {}", engine.name(), why.0);
            }
            Trial::test(
                format!("{}_runs_every_construct", engine.name()),
                move || every_construct(engine),
            )
            .with_ignored_flag(unavailable.is_some())
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/sql/harness")
}

/// An identifier as the engine quotes it.
fn quote(engine: Engine, name: &str) -> String {
    match engine {
        Engine::Spark => format!("`{name}`"),
        Engine::DuckDb | Engine::Postgres => format!("\"{name}\""),
    }
}

/// `LEVELS` subqueries, each adding a column computed from the one below, which it names three
/// times. PostgreSQL pulls a plain subquery up into the query above, copying the expression
/// once for each reference: without `OFFSET 0`, which keeps each subquery apart, the plan
/// grows as 3^60 (ten levels already take minutes and tens of gigabytes). Spark needs more
/// analyzer passes than its default 100 (spark.sql sets them).
fn deep_query(engine: Engine) -> String {
    let q = |name: &str| quote(engine, name);
    let fence = if engine == Engine::Postgres {
        " OFFSET 0"
    } else {
        ""
    };
    let mut sql = format!(
        "SELECT {}, {} AS {} FROM {}",
        q("id"),
        q("n"),
        q("s0"),
        q("h_facts")
    );
    for k in 1..=LEVELS {
        let below = q(&format!("s{}", k - 1));
        sql = format!(
            "SELECT *, CASE WHEN {below} > 0 AND {below} < 1000 THEN {below} + 1 ELSE {below} - 1 END \
             AS {} FROM ({sql}{fence}) AS {}",
            q(&format!("s{k}")),
            q(&format!("q{k}"))
        );
    }
    format!(
        "SELECT {}, {} FROM ({sql}) AS {} ORDER BY {}",
        q("id"),
        q(&format!("s{LEVELS}")),
        q("z"),
        q("id")
    )
}

/// What a job must give.
enum Expect {
    /// The rows in this file of the cases.
    Rows(&'static str),
    /// An error that holds this word.
    Error(&'static str),
}

fn every_construct(engine: Engine) -> Result<(), Failed> {
    let cases = cases();
    let scratch = tempfile::Builder::new()
        .prefix("medpol-sql-harness-")
        .tempdir()?;
    let q = |name: &str| quote(engine, name);
    let data = cases.join("data.jsonl");
    // The data, the query, and the expected rows' file or a word the error must hold. The same
    // setup runs for each, so each job also shows that the one before left nothing behind
    // (its CREATE TABLE would fail), and the failing ones that the jobs after them still run.
    let checks: Vec<(PathBuf, String, Expect)> = vec![
        (
            data.clone(),
            format!("SELECT * FROM {} ORDER BY {}", q("h_facts"), q("id")),
            Expect::Rows("expected_facts.jsonl"),
        ),
        (
            data.clone(),
            format!("SELECT * FROM {} ORDER BY {}", q("h_checks"), q("id")),
            Expect::Rows("expected_checks.jsonl"),
        ),
        (
            data.clone(),
            format!("SELECT * FROM {}", q("h_missing")),
            Expect::Error("h_missing"),
        ),
        // A key that names no column is an error, not a NULL column.
        (
            cases.join("misspelt.jsonl"),
            format!("SELECT * FROM {}", q("h_facts")),
            Expect::Error("nme"),
        ),
        (
            // NULLS FIRST said each time: Spark puts NULLs first by default, the others last.
            data.clone(),
            format!(
                "SELECT * FROM {} ORDER BY {}, {} NULLS FIRST, {} NULLS FIRST",
                q("h_items"),
                q("id"),
                q("kind"),
                q("relief")
            ),
            Expect::Rows("expected_items.jsonl"),
        ),
        (
            data,
            deep_query(engine),
            Expect::Rows("expected_deep.jsonl"),
        ),
    ];
    let jobs: Vec<Job> = checks
        .iter()
        .enumerate()
        .map(|(i, (data, query, _))| Job {
            setup: cases.join(format!("{}.sql", engine.name())),
            table: "h_facts".into(),
            data: data.clone(),
            query: query.clone(),
            out: scratch.path().join(format!("out{i}.jsonl")),
        })
        .collect();
    let results = engines::run(engine, &jobs).map_err(|why| why.0)?;
    let mut problems = Vec::new();
    for ((_, query, expect), (job, result)) in checks.iter().zip(jobs.iter().zip(&results)) {
        match (expect, result) {
            (Expect::Rows(expected), Ok(())) => {
                let want = fs::read_to_string(cases.join(expected))?;
                let got = fs::read_to_string(&job.out)?;
                if got != want {
                    problems.push(format!(
                        "{expected}: the rows differ\n--- expected\n{want}--- got\n{got}"
                    ));
                }
            }
            (Expect::Rows(expected), Err(e)) => problems.push(format!("{expected}: {e}")),
            (Expect::Error(word), Ok(())) => {
                problems.push(format!("{query} ran, but should fail naming `{word}`"))
            }
            (Expect::Error(word), Err(e)) if !e.contains(word) => {
                problems.push(format!("the error does not name `{word}`: {e}"))
            }
            (Expect::Error(_), Err(_)) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n\n").into())
    }
}
