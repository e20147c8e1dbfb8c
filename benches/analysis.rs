//! Speed of the analysis of decisions (`analyse::analyse`): generated decision tables shaped
//! like the DMN verification benchmarks of Calvanese et al. (N rules × k interval or enum
//! columns), and the decisions of the shipped policies. The targets and the numbers measured
//! are in `docs/performance.md`; nothing here asserts a time.
//!
//! `MEDPOL_BENCH_TABLES=DIR` also writes the generated tables to DIR, so that
//! `medpol check DIR/dmn-1500x7-unique.medpol` can be timed or profiled on the very input
//! measured here.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};

use medpol::analyse::{self, Analysis, Options};
use medpol::check::{self, ImportMap};
use medpol::diagnostic::{Code, Diagnostic, Severity};
use medpol::ir::{DecisionId, ValidProgram};
use medpol::source::{FileId, Sources};
use medpol::syntax;
use medpol::tables::TableSet;

const RULES: [usize; 3] = [500, 1_000, 1_500];
const COLUMNS: [usize; 3] = [3, 7, 15];

/// Generous limits: a benchmark of an analysis that gave up would measure nothing, so every
/// table must be analysed to the end (asserted before timing).
fn limits() -> Options {
    Options {
        time_limit: Duration::from_secs(600),
        node_budget: 40_000_000,
        ..Options::default()
    }
}

/// A fixed-seed linear congruential generator (Knuth's MMIX constants): the tables must be the
/// same on every run and every machine, and need no statistical quality.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Int,
    /// Thresholds in tenths.
    Decimal,
    Weeks,
    Enum(usize),
}

struct Column {
    kind: Kind,
    /// Increasing thresholds of a numeric column (empty for an enum).
    cuts: Vec<u32>,
}

impl Column {
    /// Numeric: how many intervals the thresholds make; enum: how many values.
    fn cells(&self) -> usize {
        match self.kind {
            Kind::Enum(m) => m,
            _ => self.cuts.len() + 1,
        }
    }

    fn value(&self, cut: usize) -> String {
        let v = self.cuts.get(cut).copied().unwrap_or(0);
        match self.kind {
            Kind::Decimal => format!("{}.{}", v / 10, v % 10),
            Kind::Weeks => format!("{v} weeks"),
            Kind::Int | Kind::Enum(_) => v.to_string(),
        }
    }
}

/// One cell of a rule: the interval `[cut lo, cut hi)` of a numeric column (cut 0 is minus
/// infinity, cut `cuts.len() + 1` plus infinity), its lower bound possibly strict; or the set
/// of values of an enum column, one bit each.
#[derive(Clone, Copy)]
enum Cell {
    Interval { lo: usize, hi: usize, strict: bool },
    Values(u32),
}

impl Cell {
    fn full(column: &Column) -> Cell {
        match column.kind {
            Kind::Enum(m) => Cell::Values((1 << m) - 1),
            _ => Cell::Interval {
                lo: 0,
                hi: column.cells(),
                strict: false,
            },
        }
    }

    fn is_full(&self, column: &Column) -> bool {
        match (*self, column.kind) {
            (Cell::Values(v), Kind::Enum(m)) => v == (1 << m) - 1,
            (Cell::Interval { lo, hi, .. }, _) => lo == 0 && hi == column.cells(),
            _ => false,
        }
    }

    fn splittable(&self) -> bool {
        match *self {
            Cell::Interval { lo, hi, .. } => hi - lo >= 2,
            Cell::Values(v) => v.count_ones() >= 2,
        }
    }
}

struct Table {
    columns: Vec<Column>,
    outcomes: usize,
    rules: Vec<(Vec<Cell>, usize)>,
}

/// A table of `n` rules over `k` columns in the manner of the DMN benchmark tables: every
/// third column an enum of 3 to 6 values, the others int, decimal or duration columns with
/// thresholds. The rules start as a partition of the whole space (the table a careful author
/// writes: boxes cut recursively along random columns, so rules are disjoint and every patient
/// is decided), then a few rules are disturbed: widened over a neighbour's interval or values
/// (overlaps), narrowed (gaps), or given a strict lower bound (a gap at one threshold).
fn table(n: usize, k: usize) -> Table {
    let mut rng = Lcg((n * 1_000 + k) as u64);
    let mut columns = Vec::with_capacity(k);
    for c in 0..k {
        let kind = if c % 3 == 2 {
            Kind::Enum(3 + rng.below(4))
        } else {
            [Kind::Int, Kind::Decimal, Kind::Weeks][(c - c / 3) % 3]
        };
        columns.push(Column { kind, cuts: vec![] });
    }
    // Enough thresholds that the columns together have some sixteen cells per rule, so the
    // recursive cutting never runs out of places to cut.
    let enum_cells: usize = columns.iter().map(Column::cells).product();
    let numeric = columns
        .iter()
        .filter(|c| !matches!(c.kind, Kind::Enum(_)))
        .count();
    let per = ((16 * n) as f64 / enum_cells as f64)
        .powf(1.0 / numeric as f64)
        .ceil()
        .max(3.0) as usize;
    for column in &mut columns {
        let (start, step) = match column.kind {
            Kind::Enum(_) => continue,
            Kind::Int => (rng.below(10), 5),
            Kind::Decimal => (rng.below(100), 25),
            Kind::Weeks => (1 + rng.below(3), 4),
        };
        let count = per + rng.below(per);
        let mut v = start as u32;
        for _ in 0..count {
            column.cuts.push(v);
            v += 1 + rng.below(step) as u32;
        }
    }

    let mut boxes: Vec<Vec<Cell>> = vec![columns.iter().map(Cell::full).collect()];
    while boxes.len() < n {
        let b = rng.below(boxes.len());
        let open: Vec<usize> = (0..k).filter(|&c| boxes[b][c].splittable()).collect();
        if open.is_empty() {
            continue;
        }
        let c = open[rng.below(open.len())];
        let mut other = boxes[b].clone();
        match boxes[b][c] {
            Cell::Interval { lo, hi, .. } => {
                let at = lo + 1 + rng.below(hi - lo - 1);
                boxes[b][c] = Cell::Interval {
                    lo,
                    hi: at,
                    strict: false,
                };
                other[c] = Cell::Interval {
                    lo: at,
                    hi,
                    strict: false,
                };
            }
            Cell::Values(values) => {
                // A random proper, non-empty part of the values.
                let part = loop {
                    let p = values & rng.next() as u32;
                    if p != 0 && p != values {
                        break p;
                    }
                };
                boxes[b][c] = Cell::Values(part);
                other[c] = Cell::Values(values & !part);
            }
        }
        boxes.push(other);
    }
    for i in (1..boxes.len()).rev() {
        boxes.swap(i, rng.below(i + 1));
    }

    for cells in &mut boxes {
        let c = rng.below(k);
        let column = &columns[c];
        let constrained = cells
            .iter()
            .zip(&columns)
            .filter(|(cell, column)| !cell.is_full(column))
            .count();
        let roll = rng.below(100);
        cells[c] = match cells[c] {
            // Widened by one interval or one value: overlaps a neighbour. Never the only
            // condition of the rule, which would leave it none.
            cell if roll < 3 && (constrained > 1 || cell.is_full(column)) => match cell {
                Cell::Interval { lo, hi, strict } if lo > 0 => Cell::Interval {
                    lo: lo - 1,
                    hi,
                    strict,
                },
                Cell::Interval { lo, hi, strict } => Cell::Interval {
                    lo,
                    hi: (hi + 1).min(column.cells()),
                    strict,
                },
                Cell::Values(v) => Cell::Values(v | (1 << rng.below(column.cells()))),
            },
            // Narrowed by one interval or one value: a gap.
            cell if roll < 5 && cell.splittable() => match cell {
                Cell::Interval { lo, hi, strict } => Cell::Interval {
                    lo: lo + 1,
                    hi,
                    strict,
                },
                Cell::Values(v) => Cell::Values(v & (v - 1)),
            },
            // `>` where `>=` was meant: nothing decides the threshold itself.
            Cell::Interval { lo, hi, .. } if roll < 6 && lo > 0 => Cell::Interval {
                lo,
                hi,
                strict: true,
            },
            cell => cell,
        };
    }
    let outcomes = 2 + rng.below(3);
    let rules = boxes
        .into_iter()
        .map(|cells| (cells, rng.below(outcomes)))
        .collect();
    Table {
        columns,
        outcomes,
        rules,
    }
}

fn fact_name(c: usize) -> String {
    format!("c{c}")
}

fn enum_value(c: usize, v: usize) -> String {
    format!("c{c}_{}", (b'a' + v as u8) as char)
}

/// The table as a policy with one `unique` decision, with or without `otherwise`.
fn policy_text(n: usize, k: usize, table: &Table, otherwise: bool) -> String {
    let mut s = format!(
        "policy \"dmn-{n}x{k}\" {{\n  title \"Generated decision table, {n} rules x {k} columns\"\n  version \"1\"\n  effective 2025-01-01\n}}\n\n"
    );
    for (c, column) in table.columns.iter().enumerate() {
        let ty = match column.kind {
            Kind::Int => "int".to_string(),
            Kind::Decimal => "decimal".to_string(),
            Kind::Weeks => "duration<weeks>".to_string(),
            Kind::Enum(m) => {
                let values: Vec<String> = (0..m).map(|v| enum_value(c, v)).collect();
                format!("enum {{ {} }}", values.join(", "))
            }
        };
        s.push_str(&format!("fact {}: {ty}\n", fact_name(c)));
    }
    let outcomes: Vec<String> = (0..table.outcomes).map(|o| format!("o{o}")).collect();
    s.push_str(&format!(
        "\ndecision table (unique) {{\n  outcomes {{ {} }}\n",
        outcomes.join(", ")
    ));
    for (r, (cells, outcome)) in table.rules.iter().enumerate() {
        let mut parts = Vec::new();
        for (c, (cell, column)) in cells.iter().zip(&table.columns).enumerate() {
            let name = fact_name(c);
            match *cell {
                Cell::Interval { lo, hi, strict } => {
                    if lo > 0 {
                        let op = if strict { ">" } else { ">=" };
                        parts.push(format!("{name} {op} {}", column.value(lo - 1)));
                    }
                    if hi < column.cells() {
                        parts.push(format!("{name} < {}", column.value(hi - 1)));
                    }
                }
                Cell::Values(v) if !cell.is_full(column) => {
                    let values: Vec<String> = (0..column.cells())
                        .filter(|i| v & (1 << i) != 0)
                        .map(|i| enum_value(c, i))
                        .collect();
                    parts.push(format!("{name} in {{ {} }}", values.join(", ")));
                }
                Cell::Values(_) => {}
            }
        }
        s.push_str(&format!(
            "  rule r{r} when {} then o{outcome}\n",
            parts.join(" and ")
        ));
    }
    if otherwise {
        s.push_str("  otherwise o0\n");
    }
    s.push_str("}\n");
    s
}

/// Parses and checks one policy text, which must have no errors.
fn program(name: &str, text: &str) -> ValidProgram {
    let parsed = syntax::parse(FileId(0), text);
    let checked = check::check(
        std::slice::from_ref(&parsed.file),
        &ImportMap::new(),
        TableSet::shipped(),
        &[],
    );
    let errors: Vec<&Diagnostic> = parsed
        .diagnostics
        .iter()
        .chain(&checked.diagnostics)
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{name} does not check: {errors:#?}");
    checked
        .into_valid()
        .expect("a model without errors is valid")
}

fn count(analysis: &Analysis, code: Code) -> usize {
    analysis
        .diagnostics
        .iter()
        .filter(|d| d.code == code)
        .count()
}

/// Analyses once, asserts that every decision was analysed to the end, and prints what was
/// found and how long that one run took.
fn analyse_once(name: &str, program: &ValidProgram, options: &Options) {
    let started = Instant::now();
    let analysis = analyse::analyse(program, options);
    let took = started.elapsed();
    let all: Vec<DecisionId> = (0..program.decisions.len() as u32)
        .map(DecisionId)
        .collect();
    assert!(
        count(&analysis, Code::AnalysisIncomplete) == 0 && analysis.complete == all,
        "{name}: the analysis did not complete: {:#?}",
        analysis.diagnostics
    );
    let mut found: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &analysis.diagnostics {
        *found.entry(d.code.as_str()).or_default() += 1;
    }
    let gap_examples: usize = analysis
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::DecisionGap)
        .map(|d| {
            d.notes
                .iter()
                .filter(|n| n.starts_with("for example"))
                .count()
        })
        .sum();
    eprintln!(
        "{name}: {} overlaps (E0401 + W0402), {} gaps (E0403 with {gap_examples} example notes, E0404 {}), all findings {found:?}; one run {took:.2?}",
        count(&analysis, Code::OverlappingRules) + count(&analysis, Code::RedundantOverlap),
        count(&analysis, Code::DecisionGap) + count(&analysis, Code::BoundaryGap),
        count(&analysis, Code::BoundaryGap),
    );
}

fn table_benches(c: &mut Criterion) {
    let options = limits();
    let out = std::env::var_os("MEDPOL_BENCH_TABLES").map(PathBuf::from);
    let mut group = c.benchmark_group("dmn");
    // One iteration of the larger tables takes a good part of a second or more: ten flat
    // samples are plenty and keep the whole run to a few minutes.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for k in COLUMNS {
        for n in RULES {
            let table = table(n, k);
            for (variant, otherwise) in [("unique", true), ("unique-no-otherwise", false)] {
                let name = format!("dmn-{n}x{k}-{variant}");
                let text = policy_text(n, k, &table, otherwise);
                if let Some(dir) = &out {
                    write(dir, &name, &text);
                }
                let program = program(&name, &text);
                analyse_once(&name, &program, &options);
                group.bench_with_input(
                    BenchmarkId::new(variant, format!("{n}x{k}")),
                    &program,
                    |b, program| b.iter(|| analyse::analyse(black_box(program), &options)),
                );
            }
        }
    }
    group.finish();
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).expect("the folder for the tables can be created");
    std::fs::write(dir.join(format!("{name}.medpol")), text).expect("the table can be written");
}

/// Each shipped policy's decisions, analysed as `medpol check policies` analyses them: the
/// whole project checked, with the project's code tables.
fn shipped_benches(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut sources = Sources::default();
    let project = medpol::project::load(&mut sources, &root, std::slice::from_ref(&root))
        .expect("the shipped project loads");
    let checked = check::check(&project.files, &project.imports, &project.tables, &[]);
    let errors: Vec<&Diagnostic> = project
        .diagnostics
        .iter()
        .chain(&checked.diagnostics)
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "the shipped policies check: {errors:#?}");
    let options = Options {
        tables: Some(project.tables.clone()),
        ..Options::default()
    };

    let mut group = c.benchmark_group("shipped");
    group.sample_size(50);
    let program = checked.valid().expect("a model without errors is valid");
    analyse_once("policies", program, &options);
    group.bench_function("all", |b| {
        b.iter(|| analyse::analyse(black_box(program), &options))
    });
    // One policy: the project's program with only that file's decisions.
    let mut files: Vec<(String, FileId)> = project
        .files
        .iter()
        .filter(|f| program.decisions.iter().any(|d| d.file == f.id))
        .map(|f| {
            let name = sources
                .get(f.id)
                .and_then(|s| s.path.as_deref())
                .and_then(Path::file_stem)
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("file-{}", f.id.0));
            (name, f.id)
        })
        .collect();
    files.sort();
    for (name, file) in files {
        let program = program.retain_decisions(|d| d.file == file);
        analyse_once(&name, &program, &options);
        group.bench_with_input(BenchmarkId::from_parameter(&name), &program, |b, p| {
            b.iter(|| analyse::analyse(black_box(p), &options))
        });
    }
    group.finish();
}

criterion_group!(benches, shipped_benches, table_benches);
criterion_main!(benches);
