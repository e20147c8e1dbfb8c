//! Speed of histories: patients with 100 facet joint sessions each, evaluated with the
//! `facet-histories` artifact (`tests/cases/eval-histories/facet.medpol`: counts of a list
//! with conditions on each item, a window of 12 months before the date of service, a field
//! compared with a fact): binding each patient's JSON line and deciding (what `eval --batch`
//! does per line, without the I/O), deciding facts bound once, and, as the baseline, a
//! hand-written decision over a `serde_json::Value` of the same line. Targets and figures are
//! in `docs/performance.md`; nothing here asserts a time. `MEDPOL_HISTORIES_JSONL=FILE` also
//! writes the patients as a batch file, for timing `medpol eval --batch`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

use medpol::artifact::{Artifact, Facts};
use medpol::driver;

/// How many patients, and sessions each.
const PATIENTS: usize = 1_000;
const ITEMS: usize = 100;

fn artifact() -> Artifact {
    let policy =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases/eval-histories/facet.medpol");
    let built = driver::build_paths(&[policy], &driver::Options::default())
        .expect("the policy loads")
        .expect("the policy compiles");
    built
        .compiled
        .into_iter()
        .next()
        .expect("one policy")
        .artifact
}

/// Patients as JSON lines: each asks for one of the four procedures and has 100 sessions of
/// random dates over three years, regions, kinds and relief (a fixed seed).
fn patients() -> Vec<String> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        // xorshift64*: enough spread for picking values, the same list every run.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    };
    let requested = [
        "diagnostic_block",
        "ablation",
        "therapeutic_session",
        "sij_fusion",
    ];
    let regions = ["cervical", "thoracic", "lumbar"];
    let kinds = ["diagnostic", "therapeutic"];
    (0..PATIENTS)
        .map(|_| {
            let sessions: Vec<String> = (0..ITEMS)
                .map(|_| {
                    format!(
                        r#"{{"performed": "{}-{:02}-{:02}", "region": "{}", "kind": "{}", "relief": "{}%"}}"#,
                        2023 + next(3),
                        1 + next(12),
                        1 + next(28),
                        regions[next(3) as usize],
                        kinds[next(2) as usize],
                        next(101)
                    )
                })
                .collect();
            format!(
                r#"{{"requested": "{}", "requested_region": "{}", "service_date": "2026-03-31", "prior": [], "sessions": [{}]}}"#,
                requested[next(4) as usize],
                regions[next(3) as usize],
                sessions.join(", ")
            )
        })
        .collect()
}

/// The decision by hand over a JSON value, as a program without medpol would write it.
fn hand_written(v: &Value) -> Option<&'static str> {
    let sessions = v.get("sessions")?.as_array()?;
    let text = |s: &Value, k: &str| s.get(k).and_then(Value::as_str).map(str::to_string);
    let relief = |s: &Value| {
        text(s, "relief")
            .and_then(|r| r.trim_end_matches('%').parse::<u32>().ok())
            .unwrap_or(0)
    };
    let covered = match v.get("requested")?.as_str()? {
        "sij_fusion" => v.get("prior")?.as_array()?.is_empty(),
        "ablation" => {
            sessions
                .iter()
                .filter(|s| text(s, "kind").as_deref() == Some("diagnostic") && relief(s) >= 80)
                .count()
                >= 2
        }
        "therapeutic_session" => {
            let region = v.get("requested_region")?.as_str()?;
            // 12 months before 2026-03-31, both ends included.
            let within = |d: &str| ("2025-03-31"..="2026-03-31").contains(&d);
            sessions
                .iter()
                .filter(|s| {
                    text(s, "kind").as_deref() == Some("therapeutic")
                        && text(s, "region").as_deref() == Some(region)
                        && text(s, "performed").is_some_and(|d| within(&d))
                })
                .count()
                < 4
        }
        _ => {
            sessions
                .iter()
                .filter(|s| text(s, "kind").as_deref() == Some("diagnostic"))
                .count()
                < 2
        }
    };
    Some(if covered { "covered" } else { "not_covered" })
}

fn bench(c: &mut Criterion) {
    let artifact = artifact();
    let coverage = artifact.decision("coverage").expect("coverage");
    let lines = patients();
    if let Ok(path) = std::env::var("MEDPOL_HISTORIES_JSONL") {
        std::fs::write(&path, lines.join("\n") + "\n").expect("the batch file is written");
    }
    // Both ways give every patient the same outcome.
    let mut facts = Facts::new(&artifact);
    for line in &lines {
        facts.read_json(line).expect("the facts bind");
        let value: Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(
            coverage.decide(&facts).outcome(),
            hand_written(&value),
            "{line}"
        );
    }
    let bound: Vec<Facts> = lines
        .iter()
        .map(|l| Facts::from_json(&artifact, l).expect("the facts bind"))
        .collect();

    let mut group = c.benchmark_group("histories");
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(PATIENTS as u64));
    group.bench_function("100-items-decide-bound", |b| {
        b.iter(|| {
            for f in &bound {
                black_box(coverage.decide(black_box(f)));
            }
        })
    });
    group.bench_function("100-items-bind-json-and-decide", |b| {
        b.iter(|| {
            for line in &lines {
                let read = facts.read_json(black_box(line));
                black_box(read.map(|()| coverage.decide(&facts)).ok());
            }
        })
    });
    group.bench_function("100-items-serde-json-value-hand-written", |b| {
        b.iter(|| {
            for line in &lines {
                let value: Option<Value> = serde_json::from_str(black_box(line)).ok();
                black_box(value.as_ref().and_then(hand_written));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
