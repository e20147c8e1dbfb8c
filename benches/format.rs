//! Speed of the formatter: the shipped policy 484 and a policy of about 1,000 lines (the size
//! the language server must answer for). The numbers measured are in
//! `docs/performance.md`; nothing here asserts a time.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use medpol::format::format;
use medpol::source::FileId;

const POLICY_484: &str = include_str!("../policies/bcbsma-484.medpol");

/// Policy 484 with its facts, code sets, definitions and tests repeated under new names until
/// it is about 1,000 lines long.
fn long_policy() -> String {
    let mut text = POLICY_484.to_string();
    let mut n = 0;
    while text.lines().count() < 1_000 {
        n += 1;
        for line in POLICY_484.lines().skip_while(|l| !l.starts_with("fact ")) {
            if line.starts_with("decision ") || line.starts_with("policy ") {
                break;
            }
            text.push_str(&line.replace("fact ", &format!("fact r{n}_")));
            text.push('\n');
        }
    }
    text
}

fn bench(c: &mut Criterion) {
    let long = long_policy();
    assert!(format(FileId(0), &long).is_ok(), "the long policy formats");
    let mut group = c.benchmark_group("format");
    for (name, text) in [("bcbsma-484", POLICY_484), ("1000-lines", long.as_str())] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| b.iter(|| format(FileId(0), black_box(text))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
