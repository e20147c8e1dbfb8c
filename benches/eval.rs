//! Speed of decision artifacts: in-process evaluation of policy 484's `coverage` decision on
//! facts bound once (the evaluator's hot path), binding facts from a JSON line and evaluating
//! (what `--batch` does per line, without the I/O), the same on 100,000 generated patients
//! beside a hand-written baseline that parses each line into a `serde_json::Value` and decides
//! in plain Rust, and `medpol build policies` in process. Targets and figures are in
//! `docs/performance.md`; nothing here asserts a time.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

use medpol::artifact::{Artifact, Decided, Facts, Options};
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

#[path = "support/patients_484.rs"]
mod patients_484;
use patients_484::{GENERATED, generated_patients};

/// Policy 484's `coverage` written by hand over a parsed JSON value, for patients with every
/// fact known (the generated ones): the baseline that binding is compared with.
fn hand_written_coverage(v: &Value) -> Option<&'static str> {
    // Straight over the parsed value: no copies, no allocation.
    let any = |name: &str, f: &dyn Fn(&str) -> bool| {
        v.get(name)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().filter_map(Value::as_str).any(f))
    };
    let flag = |name: &str| v.get(name).and_then(Value::as_bool);
    let weeks = |name: &str| -> Option<f64> {
        let text = v.get(name)?.as_str()?;
        let (n, unit) = text.split_once(' ')?;
        matches!(unit, "week" | "weeks").then_some(())?;
        n.parse().ok()
    };
    let product = v.get("product")?.as_str()?;
    let sacroplasty = any("procedures", &|c| matches!(c, "0200T" | "0201T"));
    let vertebroplasty = any("procedures", &|c| matches!(c, "22510" | "22511"))
        || any("facility_procedures", &|c| {
            matches!(
                c,
                "0PU33JZ"
                    | "0PS33ZZ"
                    | "0PS43ZZ"
                    | "0PU34JZ"
                    | "0PU43JZ"
                    | "0PU44JZ"
                    | "0QS03ZZ"
                    | "0QS13ZZ"
                    | "0QSS3ZZ"
                    | "0QU03JZ"
                    | "0QU04JZ"
                    | "0QU13JZ"
                    | "0QU14JZ"
                    | "0QUS3JZ"
            )
        });
    if sacroplasty {
        return Some("investigational");
    }
    if !vertebroplasty {
        return Some("not_addressed");
    }
    if matches!(product, "medicare_hmo" | "medicare_ppo") {
        return Some("medicare_lcd");
    }
    let osteoporotic = flag("symptomatic")?
        && any("diagnoses", &|c| {
            c.starts_with("M80.08X") || c.starts_with("M80.88X")
        });
    let malignancy = any("diagnoses", &|c| {
        matches!(
            c,
            "C41.2" | "C79.51" | "C79.52" | "C90.00" | "C90.01" | "C90.02" | "D47.Z9"
        ) || c.starts_with("M84.58X")
    });
    let certain = flag("pain_from_nonhealing_fracture")? && !flag("prophylactic")?;
    Some(
        if (osteoporotic && weeks("conservative_care")? >= 6.0 && certain)
            || (malignancy && flag("severe_pain")? && certain)
            || (osteoporotic
                && weeks("fracture_age")? < 6.0
                && (flag("hospitalized")? || flag("ambulation_prevented")?))
        {
            "medically_necessary"
        } else {
            "investigational"
        },
    )
}

/// Seconds of the fastest of five rounds of each pass, the passes interleaved round by round:
/// this machine's speed drifts, and interleaving makes every pass meet the same drift.
fn best_of_five_rounds(passes: &mut [&mut dyn FnMut() -> usize]) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; passes.len()];
    for _ in 0..5 {
        for (pass, best) in passes.iter_mut().zip(&mut best) {
            let start = Instant::now();
            black_box(pass());
            *best = best.min(start.elapsed().as_secs_f64());
        }
    }
    best
}

fn bench(c: &mut Criterion) {
    let artifact = artifact_484();
    let coverage = artifact.decision("coverage").expect("coverage");
    let checked = Options {
        releases: Some(Arc::new(medpol::tables::TableSet::shipped().clone())),
        ..Options::default()
    };
    let facts: Vec<Facts> = PATIENTS
        .iter()
        .map(|p| {
            let mut f = Facts::with_options(&artifact, checked.clone());
            f.read_json(p).expect("the facts bind");
            f
        })
        .collect();
    for f in &facts {
        assert!(
            coverage.decide_leaf(f).is_some(),
            "every patient is decided"
        );
    }

    let mut group = c.benchmark_group("eval");
    group.throughput(Throughput::Elements(PATIENTS.len() as u64));
    group.bench_function("484-coverage-decide", |b| {
        b.iter(|| {
            for f in &facts {
                black_box(coverage.decide_leaf(black_box(f)));
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
    let mut reused = Facts::with_options(&artifact, checked.clone());
    group.bench_function("484-bind-json-and-decide", |b| {
        b.iter(|| {
            for p in PATIENTS {
                let read = reused.read_json(black_box(p));
                black_box(read.map(|()| coverage.decide(&reused)).ok());
            }
        })
    });
    group.finish();

    // The generated set: medpol binding each JSON line (one facts value, reused) and deciding,
    // beside the hand-written baseline that parses into a `serde_json::Value`.
    let lines = generated_patients();
    if let Ok(path) = std::env::var("MEDPOL_BENCH_PATIENTS") {
        // For timing `medpol eval --batch` on the same patients (docs/performance.md).
        let _ = std::fs::write(path, lines.join("\n") + "\n");
    }
    let mut plain = Facts::new(&artifact);
    let mut agree = 0usize;
    for line in &lines {
        plain.read_json(line).expect("a generated patient binds");
        let value: Value = serde_json::from_str(line).expect("a generated line is JSON");
        let ours = coverage.decide(&plain).outcome();
        assert_eq!(ours, hand_written_coverage(&value), "{line}");
        agree += usize::from(ours.is_some());
    }
    assert_eq!(agree, lines.len(), "every generated patient is decided");
    let medpol_pass = |facts: &mut Facts| {
        let mut decided = 0;
        for line in &lines {
            if facts.read_json(line).is_ok() && coverage.decide(facts) != Decided::Pending {
                decided += 1;
            }
        }
        decided
    };
    let baseline_pass = || {
        let mut decided = 0;
        for line in &lines {
            if let Ok(v) = serde_json::from_str::<Value>(line)
                && hand_written_coverage(&v).is_some()
            {
                decided += 1;
            }
        }
        decided
    };
    // The floor for any reader built on serde_json: scanning each line, keeping nothing.
    let scan_pass = || {
        lines
            .iter()
            .filter(|l| serde_json::from_str::<serde::de::IgnoredAny>(l).is_ok())
            .count()
    };
    let mut checked_facts = Facts::with_options(&artifact, checked.clone());
    let (mut scan_pass, mut baseline_pass) = (scan_pass, baseline_pass);
    let mut ours_pass = || medpol_pass(&mut plain);
    let mut checked_pass = || medpol_pass(&mut checked_facts);
    let times = best_of_five_rounds(&mut [
        &mut ours_pass,
        &mut checked_pass,
        &mut baseline_pass,
        &mut scan_pass,
    ]);
    let [ours, ours_checked, baseline, scan] = times[..] else {
        unreachable!("four passes were timed")
    };
    let per_second = |s: f64| GENERATED as f64 / s / 1e6;
    println!(
        "{GENERATED} generated patients, best of 5 interleaved rounds: medpol binds and decides {:.2} M/s \
         ({:.2} M/s checking codes against the tables), the hand-written serde_json baseline \
         {:.2} M/s; medpol / baseline = {:.2}x ({:.2}x); serde_json scanning the lines alone \
         {:.2} M/s",
        per_second(ours),
        per_second(ours_checked),
        per_second(baseline),
        baseline / ours,
        baseline / ours_checked,
        per_second(scan),
    );

    let mut group = c.benchmark_group("eval-100k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(GENERATED as u64));
    group.bench_function("484-bind-json-and-decide", |b| {
        b.iter(|| medpol_pass(&mut plain))
    });
    group.bench_function("484-bind-json-checked-and-decide", |b| {
        b.iter(|| medpol_pass(&mut checked_facts))
    });
    group.bench_function("484-serde-json-value-hand-written", |b| {
        b.iter(baseline_pass)
    });
    let bound: Vec<Facts> = lines
        .iter()
        .map(|l| {
            let mut f = Facts::new(&artifact);
            f.read_json(l).expect("a generated patient binds");
            f
        })
        .collect();
    group.bench_function("484-decide-bound", |b| {
        b.iter(|| {
            bound
                .iter()
                .filter(|f| coverage.decide(black_box(f)) != Decided::Pending)
                .count()
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
