//! Speed of the code tables: loading a table until it answers lookups (the target is 30 ms for
//! the full ICD-10-CM table), lookups, a walk over every code, and suggestions. The numbers
//! measured are in `docs/decisions/0002-table-format.md`; nothing here asserts a time.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

use medpol::tables::{Table, TableSet};

const ICD10CM_2026: &[u8] = include_bytes!("../tables/icd10cm-2026-04.mpt");
const SHIPPED: &[&[u8]] = &[
    include_bytes!("../tables/icd10cm-2025.mpt"),
    ICD10CM_2026,
    include_bytes!("../tables/icd10pcs-2025.mpt"),
    include_bytes!("../tables/cpt-local.mpt"),
];

fn load(c: &mut Criterion) {
    c.bench_function("load icd10cm-2026-04 and look up M48.50XA", |b| {
        b.iter(|| {
            let table = Table::from_bytes(black_box(ICD10CM_2026)).unwrap();
            black_box(table.lookup("M48.50XA").map(|e| e.is_billable()))
        })
    });
    c.bench_function("load every shipped table", |b| {
        b.iter(|| {
            let mut set = TableSet::new();
            for bytes in SHIPPED {
                set.add(Table::from_bytes(black_box(*bytes)).unwrap())
                    .unwrap();
            }
            black_box(set)
        })
    });
}

fn queries(c: &mut Criterion) {
    let table = Table::from_bytes(ICD10CM_2026).unwrap();
    c.bench_function("lookup a stored code (M80.08)", |b| {
        b.iter(|| black_box(table.lookup(black_box("M80.08")).is_some()))
    });
    c.bench_function("lookup a derived code (S32.010A)", |b| {
        b.iter(|| black_box(table.lookup(black_box("S32.010A")).is_some()))
    });
    c.bench_function("lookup a missing code (D47.29)", |b| {
        b.iter(|| black_box(table.lookup(black_box("D47.29")).is_some()))
    });
    c.bench_function("long description of a derived code", |b| {
        let e = table.lookup("M48.50XA").unwrap();
        b.iter(|| black_box(e.long()))
    });
    c.bench_function("walk every code of icd10cm-2026-04", |b| {
        b.iter(|| black_box(table.iter().filter(|e| e.is_billable()).count()))
    });
}

fn suggestions(c: &mut Criterion) {
    let table = Table::from_bytes(ICD10CM_2026).unwrap();
    let mut group = c.benchmark_group("suggest");
    group.sample_size(20);
    for written in ["D47.29", "WI40.50XA", "101-0.0070"] {
        group.bench_function(written, |b| {
            b.iter(|| black_box(table.suggest(black_box(written))))
        });
    }
    group.finish();
}

criterion_group!(benches, load, queries, suggestions);
criterion_main!(benches);
