//! Speed of the language core: parse and check of a generated corpus of policies, and the whole
//! check of the shipped `policies/` project. The targets and the numbers measured are in
//! `docs/performance.md`; nothing here asserts a time.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

use medpol::ast;
use medpol::check::{self, ImportMap};
use medpol::diagnostic::{Diagnostic, Severity};
use medpol::source::FileId;
use medpol::syntax;
use medpol::tables::TableSet;
use rayon::prelude::*;

// The allocator of the `medpol` binary, so that the figures are those of `medpol check`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const POLICIES: usize = 1_000;
const RULES: usize = 20;

/// One generated policy: every fact type, code sets with codes, ranges and patterns, defines,
/// a decision of `RULES` rules and two tests. Thresholds, codes and wording vary with `n` so
/// that the corpus is not one text repeated.
fn policy(n: usize) -> String {
    let weeks = 4 + n % 5;
    let age = 60 + n % 20;
    let lcd = 30_000 + n;
    let kyphoplasty = 22513 + n % 3;
    // Fracture categories that exist in the shipped ICD-10-CM table, which the checker consults.
    let fracture = ["M80.08X", "M84.58X", "M84.68X"][n % 3];
    let mut s = format!(
        r#"// Generated policy {n}: vertebral augmentation criteria, shaped like the shipped ones.

policy "gen-{n:04}" {{
  title "Generated coverage policy {n}"
  version "1.{n}"
  effective 2025-{month:02}-01
  reference "LCD L{lcd}"
  related "gen-{related:04}: a neighbouring policy"
}}

// ---------------------------------------------------------------- facts

fact procedure: code<cpt> "CPT code of the procedure on the professional claim"
fact diagnoses: set<code<icd10cm>> "ICD-10-CM diagnosis codes on the claim"
fact product: enum {{ hmo, pos, ppo, indemnity, medicare_hmo, medicare_ppo }} "the member's product line"
fact setting: enum {{ inpatient, outpatient, office }} "where the procedure is performed"
fact conservative_care: duration<weeks> "time under conservative treatment so far"
fact symptom_age: duration<weeks> "time since the symptoms began"
fact age: duration<years>
fact visits: int "documented specialist visits"
fact t_score: decimal "bone density T-score"
fact bmi: decimal "body mass index, kg/m²"
fact height_loss: percent "loss of vertebral body height"
fact collapse: percent
fact hospitalized: bool "the condition has led to hospitalization"
fact severe_pain: bool
fact neurological_deficit: bool
fact prophylactic: bool "the procedure is done prophylactically"
fact documented: bool "the criteria are documented in the record"
fact prior_surgery: bool

// ---------------------------------------------------------------- code tables

codes procedures "vertebral augmentation" = cpt {{
  22510, 22511, 22512   // vertebroplasty
  {kyphoplasty}                 // kyphoplasty
  0200T, 0201T    // sacroplasty
}}

codes primary_dx "osteoporotic and collapsed vertebrae" = icd10cm {{
  {fracture}-          // pathological fracture of a vertebra
  M80.88X*
  M48.5-                  // collapsed vertebra
  M84.48X-
}}

codes malignancy = icd10cm {{ C41.2, C79.51, C79.52, C90.00..C90.02, D47.Z9 }}
codes excluded_dx "sequelae" = icd10cm {{ M48.50XS, M48.51XS }}
codes covered_dx "every diagnosis the policy covers" = (primary_dx - excluded_dx) + malignancy

// ---------------------------------------------------------------- criteria

define medicare "Medicare Advantage members" = product in {{ medicare_hmo, medicare_ppo }}
define failed_care = conservative_care >= {weeks} weeks
define high_risk "risk factors for failed conservative care" =
  at least 2 of (
    age > {age}.5 years,
    t_score < -2.95,
    bmi > 25.5,
    collapse > 28.5%,
  )
define stable = not neurological_deficit and height_loss < 10%
define covered_diagnosis = diagnoses has any covered_dx

decision coverage (first) "Coverage of vertebral augmentation, policy {n}" {{
  outcomes {{ approved, denied, pended, investigational, not_addressed }}
"#,
        month = 1 + n % 12,
        related = (n + 1) % POLICIES,
    );
    for (r, shape) in RULE_SHAPES.into_iter().enumerate() {
        s.push_str(&rule(n, r, shape));
    }
    s.push_str(&format!(
        r#"  otherwise denied
}}

// ---------------------------------------------------------------- tests

test "failed conservative care is approved, policy {n}" {{
  given {{
    procedure = 22511, product = ppo, setting = outpatient
    diagnoses = {{ {fracture}A }}, conservative_care = {weeks} weeks, documented = true
    prophylactic = false, symptom_age = 20 weeks, age = 70 years, visits = 2
    t_score = -1.5, bmi = 22.0, height_loss = 5%, collapse = 10%
  }}
  expect coverage = approved
}}

test "prophylactic procedures are investigational" {{
  given {{ procedure = 22510, product = hmo, prophylactic = true, diagnoses = {{}} }}
  expect coverage = investigational
}}
"#
    ));
    s
}

/// The condition and outcome of each rule, after the rule shapes of the shipped policies. A `#`
/// stands for a digit that varies from policy to policy.
const RULE_SHAPES: [(&str, &str); RULES] = [
    ("procedure not in procedures", "not_addressed"),
    ("medicare and setting == inpatient", "pended"),
    ("prophylactic", "investigational"),
    ("diagnoses has none covered_dx", "denied"),
    (
        "covered_diagnosis\n     and failed_care\n     and documented",
        "approved",
    ),
    (
        "diagnoses has any malignancy and severe_pain and not prophylactic",
        "approved",
    ),
    ("high_risk and stable", "approved"),
    (
        "symptom_age < # weeks and (hospitalized or severe_pain)",
        "approved",
    ),
    ("visits >= # and conservative_care >= 12 weeks", "approved"),
    ("setting in { office } and not documented", "pended"),
    (
        "exactly 1 of (hospitalized, severe_pain) and age >= 65 years",
        "pended",
    ),
    ("at most 1 of (documented, stable, failed_care)", "denied"),
    ("t_score <= -2.# and bmi < 18.5", "approved"),
    ("collapse >= #0% or height_loss > 40%", "pended"),
    ("conservative_care as months >= 3 months", "approved"),
    (
        "product in { hmo, pos } and setting != inpatient",
        "approved",
    ),
    (
        "not (prior_surgery or neurological_deficit) and failed_care",
        "approved",
    ),
    ("diagnoses has all excluded_dx", "denied"),
    ("age < 1# years", "not_addressed"),
    ("visits == 0 and not documented", "denied"),
];

/// Rule `r` of policy `n`.
fn rule(n: usize, r: usize, (when, then): (&str, &str)) -> String {
    let when = when.replace('#', &(3 + (n + r) % 3).to_string());
    let description = if r.is_multiple_of(2) {
        format!(" \"Criterion {r} of policy {n}, as the policy words it.\"")
    } else {
        String::new()
    };
    format!("\n  rule criterion_{r}{description}\n    when {when}\n    then {then}\n")
}

fn corpus() -> Vec<String> {
    (0..POLICIES).map(policy).collect()
}

fn total_bytes(texts: &[String]) -> u64 {
    texts.iter().map(|t| t.len() as u64).sum()
}

fn parse_all(texts: &[String]) -> Vec<ast::File> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| syntax::parse(file_id(i), text).file)
        .collect()
}

fn file_id(i: usize) -> FileId {
    FileId(u32::try_from(i).expect("the corpus has fewer than 2^32 files"))
}

/// A generator bug that makes policies fail to parse or check would make every number below
/// measure error recovery instead, so the corpus must be clean, checked both ways it is timed.
fn assert_clean(texts: &[String]) {
    let tables = TableSet::shipped();
    let errors = |ds: &[Diagnostic]| -> Vec<String> {
        ds.iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{d:?}"))
            .collect()
    };
    let mut files = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let parsed = syntax::parse(file_id(i), text);
        let found = errors(&parsed.diagnostics);
        assert!(
            found.is_empty(),
            "generated policy {i} does not parse: {found:#?}"
        );
        let checked = check::check(
            std::slice::from_ref(&parsed.file),
            &ImportMap::new(),
            tables,
            &[],
        );
        let found = errors(&checked.diagnostics);
        assert!(
            found.is_empty(),
            "generated policy {i} does not check: {found:#?}"
        );
        files.push(parsed.file);
    }
    let checked = check::check(&files, &ImportMap::new(), tables, &[]);
    let found = errors(&checked.diagnostics);
    assert!(
        found.is_empty(),
        "the generated project does not check: {found:#?}"
    );
}

/// Writes the corpus as a project folder, so that `medpol check` can be timed end to end on
/// the very policies measured here.
fn write_corpus(dir: &Path, texts: &[String]) {
    std::fs::create_dir_all(dir).expect("the corpus folder can be created");
    for (i, text) in texts.iter().enumerate() {
        let path = dir.join(format!("gen-{i:04}.medpol"));
        std::fs::write(&path, text).expect("the corpus can be written");
    }
}

fn corpus_benches(c: &mut Criterion) {
    let texts = corpus();
    assert_clean(&texts);
    if let Some(dir) = std::env::var_os("MEDPOL_BENCH_CORPUS") {
        write_corpus(Path::new(&dir), &texts);
    }
    let files = parse_all(&texts);
    let imports = ImportMap::new();
    let tables = TableSet::shipped();

    let mut group = c.benchmark_group(format!("corpus_{POLICIES}x{RULES}"));
    // One iteration handles megabytes and takes a good part of a second: a few flat samples
    // are plenty and keep the run short.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(total_bytes(&texts)));

    group.bench_function("parse", |b| b.iter(|| parse_all(black_box(&texts))));
    group.bench_function("check_separate", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|f| check::check(std::slice::from_ref(f), &imports, tables, &[]))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("check_project", |b| {
        b.iter(|| check::check(black_box(&files), &imports, tables, &[]))
    });
    group.bench_function("parse_check_separate", |b| {
        b.iter(|| {
            black_box(&texts)
                .iter()
                .enumerate()
                .map(|(i, text)| {
                    let parsed = syntax::parse(file_id(i), text);
                    check::check(std::slice::from_ref(&parsed.file), &imports, tables, &[])
                })
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("parse_check_project", |b| {
        b.iter(|| check::check(&parse_all(black_box(&texts)), &imports, tables, &[]))
    });
    // What `medpol check` on a folder does: files parsed in parallel (every core), then the
    // project checked once.
    group.bench_function("parse_check_project_parallel", |b| {
        b.iter(|| {
            let files: Vec<_> = black_box(&texts)
                .par_iter()
                .enumerate()
                .map(|(i, text)| syntax::parse(file_id(i), text).file)
                .collect();
            check::check(&files, &imports, tables, &[])
        })
    });
    group.finish();
}

fn shipped_benches(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies");
    let bytes: u64 = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "medpol"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let paths = [root];
    // The options of `medpol check`, the analysis of decisions included.
    let options = medpol::driver::Options::default();
    let report = medpol::driver::check_paths(&paths, &options).expect("the shipped policies load");
    assert_eq!(
        report.count(Severity::Error),
        0,
        "the shipped policies check clean"
    );

    let mut group = c.benchmark_group("shipped");
    // Fifty samples of a few milliseconds each fit the default five seconds.
    group.sample_size(50);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("check_paths_policies", |b| {
        b.iter(|| medpol::driver::check_paths(black_box(&paths), &options))
    });
    group.finish();
}

criterion_group!(benches, corpus_benches, shipped_benches);
criterion_main!(benches);
