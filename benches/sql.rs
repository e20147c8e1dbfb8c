//! Speed of the SQL back end on many patients: a policy's decisions view over 10 million
//! rows in DuckDB and in Spark SQL (local mode, two cores), against `medpol eval --batch` on
//! the same patients as JSON lines, in the same run. Prints rows per second and the ratios;
//! the figures are in `docs/performance.md`, and nothing here asserts a time.
//!
//! `MEDPOL_BENCH_PATIENTS` sets the rows (10,000,000); they are `MEDPOL_BENCH_DISTINCT`
//! generated patients (1,000,000; the generator of `tests/sql.rs`, missing facts included),
//! each repeated with its own id. `MEDPOL_BENCH_POLICY` picks the policy (`bcbsma-484`), and
//! `MEDPOL_BENCH_ENGINES` the engines (`duckdb,spark`). An engine that is not installed is
//! left out with a note (`MEDPOL_CI_INSTALL=1 .ci/run` installs them).

#[path = "../tests/support/engines.rs"]
mod engines;
#[path = "../tests/support/patients.rs"]
mod patients;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use medpol::artifact::Document;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn medpol(args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::null())
        .status()
        .expect("medpol runs");
    assert!(status.success(), "medpol {args:?}");
}

fn main() {
    // `cargo bench` passes `--bench`; a test run of the benches (`cargo test --benches`)
    // passes nothing and should not spend minutes here.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows: usize = env("MEDPOL_BENCH_PATIENTS", "10000000")
        .parse()
        .expect("a number");
    let distinct: usize = env("MEDPOL_BENCH_DISTINCT", "1000000")
        .parse::<usize>()
        .expect("a number")
        .min(rows);
    let copies = rows.div_ceil(distinct);
    let rows = distinct * copies;
    let policy = env("MEDPOL_BENCH_POLICY", "bcbsma-484");
    let engines = env("MEDPOL_BENCH_ENGINES", "duckdb,spark");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = |p: &Path| p.to_str().expect("a UTF-8 path").to_string();

    let artifacts = dir.path().join("artifacts");
    medpol(&["build", "policies", "--out", &path(&artifacts)]);
    let artifact = artifacts.join(format!("{policy}.json"));
    let doc: Document =
        serde_json::from_str(&std::fs::read_to_string(&artifact).expect("the artifact"))
            .expect("an artifact");

    // The patients, as facts for eval and as rows of the facts table.
    let facts = dir.path().join("facts.jsonl");
    let data = dir.path().join("rows.jsonl");
    {
        let generator = patients::Generator::new(&doc);
        let mut rng = patients::Rng::new(7);
        let mut f = BufWriter::new(std::fs::File::create(&facts).expect("facts file"));
        let mut r = BufWriter::new(std::fs::File::create(&data).expect("rows file"));
        for i in 0..distinct {
            let (fact, row) = generator.patient(&mut rng, &format!("{i:08}"));
            writeln!(f, "{fact}").expect("written");
            writeln!(r, "{row}").expect("written");
        }
    }
    println!(
        "{policy}: {rows} patients ({distinct} generated, each {copies} times), {} decisions",
        doc.decisions.len()
    );

    // eval --batch from JSON text, the patients written to its standard input.
    let text = std::fs::read(&facts).expect("facts");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(["eval", &path(&artifact), "--batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("eval runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        for _ in 0..copies {
            stdin.write_all(&text).expect("eval reads");
        }
    });
    let lines = BufReader::new(child.stdout.take().expect("stdout"))
        .split(b'\n')
        .count();
    writer.join().expect("writer");
    assert!(child.wait().expect("eval ends").success());
    let eval = started.elapsed().as_secs_f64();
    assert_eq!(lines, rows);
    let eval_rate = rows as f64 / eval;
    println!("  eval --batch:   {eval:8.2} s  {:>12.0} rows/s", eval_rate);

    for engine in engines.split(',') {
        let module = match engine {
            "duckdb" => "duckdb",
            "spark" => "pyspark",
            other => panic!("no engine `{other}`"),
        };
        let python = match engines::python_with(module) {
            Ok(p) => p,
            Err(e) => {
                println!("  {engine}: not run: {}", e.0);
                continue;
            }
        };
        let sql = dir.path().join(format!("sql-{engine}"));
        medpol(&[
            "build",
            "policies",
            "--target",
            "sql",
            "--dialect",
            engine,
            "--out",
            &path(&sql),
        ]);
        let prefix = policy.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/sql_bench.py");
        let out = Command::new(python)
            .arg(script)
            .args([
                engine,
                &path(&sql.join(format!("{policy}.sql"))),
                &format!("{prefix}_facts"),
                &path(&data),
                &format!("{prefix}_decisions"),
                &copies.to_string(),
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("the engine runs");
        assert!(out.status.success(), "{engine} failed");
        let result: serde_json::Value =
            serde_json::from_slice(out.stdout.trim_ascii()).expect("the engine's figures");
        let seconds = result["seconds"].as_f64().expect("seconds");
        assert_eq!(result["rows"].as_u64(), Some(rows as u64));
        let rate = rows as f64 / seconds;
        println!(
            "  {engine:<14}  {seconds:8.2} s  {rate:>12.0} rows/s  {:.2}x eval --batch (loading {:.1} s, not counted)",
            rate / eval_rate,
            result["load_seconds"].as_f64().unwrap_or(0.0)
        );
    }
}
