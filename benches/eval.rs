//! Speed of decision artifacts: in-process evaluation of policy 484's `coverage` decision on
//! facts bound once (the evaluator's hot path), binding facts from a JSON line and evaluating
//! (what `--batch` does per line, without the I/O), and `medpol build policies` in process.
//! Targets and figures are in `docs/performance.md`; nothing here asserts a time.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use medpol::artifact::{Artifact, Facts};
use medpol::driver;

fn policies() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}

fn artifact_484() -> Artifact {
    let built = driver::build_paths(&[policies()], &driver::Options::default())
        .expect("the policies load")
        .expect("the policies compile");
    built
        .compiled
        .into_iter()
        .find(|c| c.artifact.policy_id() == "bcbsma-484")
        .expect("policy 484")
        .artifact
}

/// Patients that take different paths through the coverage decision: every rule and
/// `otherwise`.
const PATIENTS: [&str; 8] = [
    r#"{"procedures": ["0200T"]}"#,
    r#"{"procedures": ["22551"], "facility_procedures": []}"#,
    r#"{"procedures": ["22511"], "product": "medicare_ppo"}"#,
    r#"{"procedures": ["22511"], "product": "hmo", "diagnoses": ["M80.08XA"], "symptomatic": true, "conservative_care": "8 weeks", "fracture_age": "10 weeks", "hospitalized": false, "ambulation_prevented": false, "pain_from_nonhealing_fracture": true, "prophylactic": false, "severe_pain": false}"#,
    r#"{"procedures": ["22510"], "product": "hmo", "diagnoses": ["C90.00"], "symptomatic": true, "severe_pain": true, "conservative_care": "0 weeks", "fracture_age": "2 weeks", "hospitalized": true, "ambulation_prevented": false, "pain_from_nonhealing_fracture": true, "prophylactic": false}"#,
    r#"{"procedures": ["22511"], "product": "hmo", "diagnoses": ["M80.88XA"], "symptomatic": true, "conservative_care": "2 weeks", "fracture_age": "3 weeks", "hospitalized": false, "ambulation_prevented": true, "pain_from_nonhealing_fracture": false, "prophylactic": false, "severe_pain": false}"#,
    r#"{"procedures": ["22511"], "product": "ppo", "diagnoses": ["M80.08XA"], "symptomatic": true, "conservative_care": "4 weeks", "fracture_age": "5 weeks", "hospitalized": false, "ambulation_prevented": false, "pain_from_nonhealing_fracture": true, "prophylactic": false, "severe_pain": false}"#,
    r#"{"procedures": ["22511"], "product": "hmo", "diagnoses": ["S32.020A"], "symptomatic": true, "conservative_care": "1 week", "fracture_age": "1 week", "hospitalized": true, "ambulation_prevented": true, "pain_from_nonhealing_fracture": true, "prophylactic": false, "severe_pain": true}"#,
];

fn bench(c: &mut Criterion) {
    let artifact = artifact_484();
    let coverage = artifact.decision("coverage").expect("coverage");
    let tables = medpol::tables::TableSet::shipped();
    let facts: Vec<Facts> = PATIENTS
        .iter()
        .map(|p| Facts::from_json_in(&artifact, p, Some(tables)).expect("the facts bind"))
        .collect();
    for f in &facts {
        assert!(coverage.decide(f).is_some(), "every patient is decided");
    }

    let mut group = c.benchmark_group("eval");
    group.throughput(Throughput::Elements(PATIENTS.len() as u64));
    group.bench_function("484-coverage-decide", |b| {
        b.iter(|| {
            for f in &facts {
                black_box(coverage.decide(black_box(f)));
            }
        })
    });
    group.bench_function("484-coverage-evaluate-with-path", |b| {
        b.iter(|| {
            for f in &facts {
                black_box(coverage.evaluate(black_box(f)));
            }
        })
    });
    group.bench_function("484-bind-json-and-decide", |b| {
        b.iter(|| {
            for p in PATIENTS {
                let f = Facts::from_json_in(&artifact, black_box(p), Some(tables));
                black_box(f.ok().map(|f| coverage.decide(&f)));
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("policies", |b| {
        b.iter(|| {
            black_box(
                driver::build_paths(&[policies()], &driver::Options::default())
                    .ok()
                    .map(|r| r.ok().map(|b| b.compiled.len())),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
