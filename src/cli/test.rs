//! `medpol test`: runs the `test` blocks of the policies.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use medpol::artifact::LeafDoc;
use medpol::diagnostic::Severity;
use medpol::driver::{self, CheckedProject, Options};
use medpol::evaluate::{By, Evaluation};
use medpol::ir::{Decision, Program};
use medpol::render;
use medpol::source::{Sources, Span};
use medpol::testing::{self, DecisionCoverage, Run, TestResult};

use super::{USAGE, emit};

mod reports;

#[derive(Args)]
pub struct Test {
    /// Policy files or project folders (default: the project in the current folder).
    paths: Vec<PathBuf>,
    /// How to report: text, JSON, or JUnit XML (for CI services) on standard output.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also report which rules and which leaves of the compiled decisions the tests reach,
    /// with a ready-to-paste test for each one they miss.
    #[arg(long)]
    coverage: bool,
    /// Fail (exit 1) when rule or leaf coverage is below this percentage (implies
    /// `--coverage`).
    #[arg(long, value_name = "P")]
    min_coverage: Option<f64>,
    /// Also write rule and leaf coverage to this file as an LCOV tracefile (implies
    /// `--coverage`).
    #[arg(long, value_name = "FILE")]
    lcov: Option<PathBuf>,
    /// Also write rule and leaf coverage to this file as Cobertura XML (implies `--coverage`).
    #[arg(long, value_name = "FILE")]
    cobertura: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Junit,
}

pub fn run(args: Test) -> ExitCode {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let checked = match driver::check_and_keep(&paths, &Options::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let report = &checked.report;
    let errors = report.count(Severity::Error);
    if errors > 0 {
        // Tests of a model with errors would test the mistakes: show them, as `medpol check`.
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = if std::io::stderr().is_terminal() && !no_color {
            render::human::Color::Always
        } else {
            render::human::Color::Never
        };
        let (shown, counts) = render::first_of_each_code(&report.diagnostics, super::ALL_HINT);
        eprint!(
            "{}{counts}",
            render::human::render(&report.sources, &shown, color)
        );
        eprintln!(
            "error: {} in the policies; fix {} before running their tests",
            if errors == 1 {
                "1 error".to_string()
            } else {
                format!("{errors} errors")
            },
            if errors == 1 { "it" } else { "them" }
        );
        return ExitCode::from(1);
    }
    let coverage = args.coverage
        || args.min_coverage.is_some()
        || args.lcov.is_some()
        || args.cobertura.is_some();
    let mut runs: Vec<(&CheckedProject, Run)> = Vec::new();
    for p in &checked.projects {
        let compiled = if coverage {
            match compiled(p, &report.sources) {
                Ok(c) => Some(c),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        } else {
            None
        };
        runs.push((
            p,
            testing::run(
                &p.program,
                &p.tables,
                &requested_tests(p),
                compiled.as_deref(),
            ),
        ));
    }
    let failed = runs
        .iter()
        .flat_map(|(_, r)| &r.results)
        .filter(|r| !r.passed())
        .count();
    let total: usize = runs.iter().map(|(_, r)| r.results.len()).sum();
    let totals = Totals::of(&runs);
    let below = args
        .min_coverage
        .filter(|min| totals.rules.percent() < *min || totals.leaves.percent() < *min);
    if let Err(e) = coverage_files(&args, &report.sources, &runs) {
        eprintln!("error: {e}");
        return ExitCode::from(USAGE);
    }
    let lines = match args.format {
        Format::Junit => vec![
            reports::junit(&report.sources, &runs)
                .trim_end()
                .to_string(),
        ],
        Format::Human => {
            let mut out = Vec::new();
            for (project, run) in &runs {
                human(&mut out, &report.sources, &project.program, &run.results);
            }
            say!(out);
            say!(
                out,
                "{} {}: {} passed, {failed} failed",
                total,
                if total == 1 { "test" } else { "tests" },
                total - failed
            );
            if coverage {
                human_coverage(&mut out, &report.sources, &runs, &totals);
            }
            if let Some(min) = below {
                say!(out);
                say!(
                    out,
                    "coverage is below the minimum of {min}%: rules {}, leaves {}",
                    totals.rules.text(),
                    totals.leaves.text()
                );
            }
            out
        }
        Format::Json => {
            let tests: Vec<serde_json::Value> = runs
                .iter()
                .flat_map(|(p, run)| {
                    run.results
                        .iter()
                        .map(|r| test_json(&report.sources, &p.program, r))
                })
                .collect();
            let mut doc = serde_json::Map::new();
            doc.insert("tests".into(), json!(tests));
            doc.insert(
                "summary".into(),
                json!({ "total": total, "passed": total - failed, "failed": failed }),
            );
            if coverage {
                let mut cov = coverage_json(&report.sources, &runs, &totals);
                if let Some(min) = args.min_coverage {
                    cov.insert("minimum".into(), json!(min));
                    cov.insert("below_minimum".into(), json!(below.is_some()));
                }
                doc.insert("coverage".into(), serde_json::Value::Object(cov));
            }
            vec![serde_json::to_string_pretty(&doc).unwrap_or_default()]
        }
    };
    emit(
        &lines,
        if failed > 0 || below.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// Writes the coverage files asked for.
fn coverage_files(
    args: &Test,
    sources: &Sources,
    runs: &[(&CheckedProject, Run)],
) -> Result<(), String> {
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    };
    if let Some(path) = &args.lcov {
        write(path, reports::lcov(sources, runs))?;
    }
    if let Some(path) = &args.cobertura {
        // Cobertura's timestamp is in milliseconds; a build that must be reproducible sets
        // SOURCE_DATE_EPOCH (seconds), as other tools read it.
        let now = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map(|s| s * 1000)
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64)
            });
        write(path, reports::cobertura(sources, runs, now))?;
    }
    Ok(())
}

/// The tests of the files asked about, in source order.
fn requested_tests(project: &CheckedProject) -> Vec<medpol::ir::TestId> {
    let mut tests: Vec<(Span, medpol::ir::TestId)> = project
        .program
        .tests
        .iter()
        .enumerate()
        .filter(|(_, t)| project.requested.contains(&t.span.file))
        .map(|(i, t)| (t.span, medpol::ir::TestId(i as u32)))
        .collect();
    tests.sort_by_key(|(s, _)| (s.file, s.start));
    tests.into_iter().map(|(_, t)| t).collect()
}

/// `file:line` of a place.
fn place(sources: &Sources, span: Span) -> String {
    let line = sources
        .get(span.file)
        .map_or(0, |f| f.line_col(span.start as usize).0);
    format!("{}:{line}", sources.name(span.file))
}

/// What gave an outcome, in words: "rule `sacroplasty` (file:line)".
fn by_text(sources: &Sources, d: &Decision, by: &[By]) -> String {
    let one = |b: &By| match b {
        By::Rule(r) => match d.rule(*r) {
            Some(rule) => format!("rule `{}` ({})", rule.name, place(sources, rule.name_span)),
            None => medpol::ir::lost_name("a rule").to_string(),
        },
        By::Otherwise => match &d.otherwise {
            Some(o) => format!("`otherwise` ({})", place(sources, o.span)),
            None => "`otherwise`".to_string(),
        },
    };
    by.iter().map(one).collect::<Vec<_>>().join(" or ")
}

fn fact_names(program: &Program, facts: &[medpol::ir::FactId]) -> String {
    facts
        .iter()
        .map(|f| format!("`{}`", program.fact_name(*f)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The actual result of an expect, in words.
fn actual_text(sources: &Sources, program: &Program, d: &Decision, e: &Evaluation) -> String {
    match e {
        Evaluation::Decided { outcome, by } => {
            format!(
                "{}, by {}",
                d.outcome_name(Some(*outcome)),
                by_text(sources, d, by)
            )
        }
        Evaluation::Conflict { rules } => {
            let names: Vec<String> = rules
                .iter()
                .filter_map(|r| d.rule(*r))
                .map(|r| format!("`{}` ({})", r.name, place(sources, r.name_span)))
                .collect();
            format!("a conflict between rules {}", names.join(", "))
        }
        Evaluation::NoRule => "no rule applies and there is no `otherwise`".to_string(),
        Evaluation::Pending { needed } => {
            format!("pending: needs {}", fact_names(program, needed))
        }
        Evaluation::Undefined { derived, error } => undefined_text(program, *derived, *error),
    }
}

/// A derived value without a value, naming the facts it is computed from.
fn undefined_text(
    program: &Program,
    derived: medpol::ir::FactId,
    error: medpol_artifact::formula::FormulaError,
) -> String {
    let Some(d) = program.fact(derived).and_then(|f| f.derived.as_ref()) else {
        return error.describe().to_string();
    };
    format!(
        "`{}` = `{}` {} for these facts",
        program.fact_name(derived),
        medpol::diagnostic::shown(&d.written),
        error.describe()
    )
}

fn human(out: &mut Vec<String>, sources: &Sources, program: &Program, results: &[TestResult]) {
    for r in results {
        let Some(test) = program.tests.get(r.test.index()) else {
            continue;
        };
        let status = if r.passed() { "ok    " } else { "FAILED" };
        say!(out, "{status} {}  {}", place(sources, test.span), test.name);
        for e in &r.expects {
            let Some(d) = program.decision(e.decision) else {
                continue;
            };
            let actual = actual_text(sources, program, d, &e.actual);
            if e.passed {
                say!(out, "         {} = {actual}", d.name);
            } else {
                say!(
                    out,
                    "         {}: expected {}, got {actual}",
                    d.name,
                    d.outcome_name(Some(e.expected))
                );
            }
        }
    }
}

fn loc_json(sources: &Sources, span: Span) -> serde_json::Value {
    let (line, column) = sources
        .get(span.file)
        .map_or((0, 0), |f| f.line_col(span.start as usize));
    json!({ "file": sources.name(span.file), "line": line, "column": column })
}

fn actual_json(
    sources: &Sources,
    program: &Program,
    d: &Decision,
    e: &Evaluation,
) -> serde_json::Value {
    match e {
        Evaluation::Decided { outcome, by } => {
            let by: Vec<serde_json::Value> = by
                .iter()
                .map(|b| {
                    match b {
                    By::Rule(r) => d.rule(*r).map_or(json!(null), |rule| {
                        json!({ "rule": rule.name, "source": loc_json(sources, rule.name_span) })
                    }),
                    By::Otherwise => json!({
                        "otherwise": true,
                        "source": d.otherwise.as_ref().map(|o| loc_json(sources, o.span)),
                    }),
                }
                })
                .collect();
            json!({ "kind": "decided", "outcome": d.outcome_name(Some(*outcome)), "by": by })
        }
        Evaluation::Conflict { rules } => json!({
            "kind": "conflict",
            "rules": rules
                .iter()
                .filter_map(|r| d.rule(*r))
                .map(|r| json!({ "rule": r.name, "source": loc_json(sources, r.name_span) }))
                .collect::<Vec<_>>(),
        }),
        Evaluation::NoRule => json!({ "kind": "no_rule" }),
        Evaluation::Pending { needed } => json!({
            "kind": "pending",
            "needed": needed
                .iter()
                .map(|f| program.fact_name(*f))
                .collect::<Vec<_>>(),
        }),
        Evaluation::Undefined { derived, error } => json!({
            "kind": "undefined",
            "derived": program.fact_name(*derived),
            "message": undefined_text(program, *derived, *error),
        }),
    }
}

fn test_json(sources: &Sources, program: &Program, r: &TestResult) -> serde_json::Value {
    let Some(test) = program.tests.get(r.test.index()) else {
        return json!(null);
    };
    let expects: Vec<serde_json::Value> = r
        .expects
        .iter()
        .filter_map(|e| program.decision(e.decision).map(|d| (e, d)))
        .map(|(e, d)| {
            json!({
                "decision": d.name,
                "expected": d.outcome_name(Some(e.expected)),
                "actual": actual_json(sources, program, d, &e.actual),
                "passed": e.passed,
            })
        })
        .collect();
    json!({
        "name": test.name,
        "source": loc_json(sources, test.span),
        "passed": r.passed(),
        "expects": expects,
    })
}

/// The compiled policies of the files asked about.
fn compiled(
    project: &CheckedProject,
    sources: &Sources,
) -> Result<Vec<medpol::compile::Compiled>, medpol::compile::CompileError> {
    let options = medpol::compile::Options {
        root: project.root.clone(),
        ..medpol::compile::Options::default()
    };
    let all = medpol::compile::compile(&project.program, &project.tables, sources, &options)?;
    Ok(all
        .into_iter()
        .filter(|c| project.asked_about(c.policy))
        .collect())
}

#[derive(Default, Clone, Copy)]
struct Count {
    covered: usize,
    total: usize,
}

impl Count {
    fn add(&mut self, covered: bool) {
        self.total += 1;
        self.covered += usize::from(covered);
    }

    /// Nothing to cover is full coverage.
    fn percent(self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            self.covered as f64 * 100.0 / self.total as f64
        }
    }

    fn text(self) -> String {
        format!("{:.1}% ({}/{})", self.percent(), self.covered, self.total)
    }

    fn json(self) -> serde_json::Value {
        json!({ "covered": self.covered, "total": self.total, "percent": self.percent() })
    }
}

struct Totals {
    rules: Count,
    leaves: Count,
}

impl Totals {
    fn of(runs: &[(&CheckedProject, Run)]) -> Totals {
        let (mut rules, mut leaves) = (Count::default(), Count::default());
        for d in runs.iter().flat_map(|(_, r)| &r.coverage) {
            d.rules.iter().for_each(|c| rules.add(*c));
            d.leaves.iter().for_each(|l| leaves.add(l.covered));
        }
        Totals { rules, leaves }
    }
}

/// What a leaf gives, in words.
fn leaf_text(leaf: &LeafDoc) -> String {
    match leaf {
        LeafDoc::Rule { outcome, rule } => format!("rule `{rule}` gives `{outcome}`"),
        LeafDoc::Otherwise { outcome } => format!("`otherwise` gives `{outcome}`"),
        LeafDoc::NoRule => "no rule applies".to_string(),
        LeafDoc::Conflict { rules, .. } => format!(
            "rules {} conflict",
            rules
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A test that reaches an uncovered leaf, ready to paste into the policy. A leaf without an
/// outcome (no rule, a conflict) cannot be expected, so its patient is given as a comment.
fn witness_test(
    program: &Program,
    d: &medpol::ir::Decision,
    leaf: &medpol::testing::LeafCoverage,
) -> Vec<String> {
    let mut lines = Vec::new();
    let what = match &leaf.leaf {
        LeafDoc::Rule { rule, .. } => format!("rule `{rule}`"),
        LeafDoc::Otherwise { .. } => "`otherwise`".to_string(),
        LeafDoc::NoRule => "no rule".to_string(),
        LeafDoc::Conflict { .. } => "a conflict".to_string(),
    };
    let name = format!("{}: {}", d.name, what.replace('`', ""));
    lines.push(format!("test \"{name}\" {{"));
    if leaf.witness.is_empty() {
        lines.push("  given { }".to_string());
    } else {
        lines.push("  given {".to_string());
        for (f, v) in &leaf.witness {
            let fact = program.fact_name(*f);
            lines.push(format!("    {fact} = {v}"));
        }
        lines.push("  }".to_string());
    }
    match &leaf.leaf {
        LeafDoc::Rule { outcome, .. } | LeafDoc::Otherwise { outcome } => {
            lines.push(
                "  // The outcome the policy gives this patient now: check it against the policy text."
                    .to_string(),
            );
            lines.push(format!("  expect {} = {outcome}", d.name));
            lines.push("}".to_string());
        }
        LeafDoc::NoRule | LeafDoc::Conflict { .. } => {
            lines.push(format!(
                "  // {}: no outcome to expect; fix the decision first.",
                leaf_text(&leaf.leaf)
            ));
            lines.push("}".to_string());
            lines = lines.into_iter().map(|l| format!("// {l}")).collect();
        }
    }
    lines
}

fn human_coverage(
    out: &mut Vec<String>,
    sources: &Sources,
    runs: &[(&CheckedProject, Run)],
    totals: &Totals,
) {
    say!(out);
    say!(out, "coverage of the compiled decisions");
    for (p, run) in runs {
        for c in &run.coverage {
            let Some(d) = p.program.decision(c.decision) else {
                continue;
            };
            let (mut rules, mut leaves) = (Count::default(), Count::default());
            c.rules.iter().for_each(|x| rules.add(*x));
            c.leaves.iter().for_each(|l| leaves.add(l.covered));
            say!(
                out,
                "  {} `{}`: rules {}, leaves {}",
                sources.name(d.file),
                d.name,
                rules.text(),
                leaves.text()
            );
        }
    }
    say!(
        out,
        "  total: rules {}, leaves {}",
        totals.rules.text(),
        totals.leaves.text()
    );
    for (p, run) in runs {
        for c in &run.coverage {
            report_gaps(out, sources, &p.program, c);
        }
    }
}

fn report_gaps(out: &mut Vec<String>, sources: &Sources, program: &Program, c: &DecisionCoverage) {
    let Some(d) = program.decision(c.decision) else {
        return;
    };
    // A rule with a leaf is reported with its leaf below; one without can never decide.
    for (rule, _) in d
        .rules
        .iter()
        .zip(&c.rules)
        .filter(|(_, covered)| !**covered)
    {
        let reachable = c
            .leaves
            .iter()
            .any(|l| matches!(&l.leaf, LeafDoc::Rule { rule: r, .. } if *r == rule.name));
        if !reachable {
            say!(out);
            say!(
                out,
                "uncovered: rule `{}` of `{}` ({}): no patient reaches it (see `medpol check`)",
                rule.name,
                d.name,
                place(sources, rule.name_span),
            );
        }
    }
    for leaf in c.leaves.iter().filter(|l| !l.covered) {
        say!(out);
        say!(
            out,
            "uncovered: leaf of `{}` where {}; add this test to {}:",
            d.name,
            leaf_text(&leaf.leaf),
            sources.name(d.file)
        );
        out.extend(witness_test(program, d, leaf));
    }
}

fn coverage_json(
    sources: &Sources,
    runs: &[(&CheckedProject, Run)],
    totals: &Totals,
) -> serde_json::Map<String, serde_json::Value> {
    let mut decisions = Vec::new();
    for (p, run) in runs {
        for c in &run.coverage {
            let Some(d) = p.program.decision(c.decision) else {
                continue;
            };
            let rules: Vec<serde_json::Value> = d
                .rules
                .iter()
                .zip(&c.rules)
                .map(|(r, covered)| {
                    json!({ "rule": r.name, "source": loc_json(sources, r.name_span), "covered": covered })
                })
                .collect();
            let leaves: Vec<serde_json::Value> = c
                .leaves
                .iter()
                .map(|l| {
                    let mut v = serde_json::Map::new();
                    v.insert(
                        "leaf".into(),
                        serde_json::to_value(&l.leaf).unwrap_or_default(),
                    );
                    v.insert("covered".into(), json!(l.covered));
                    if !l.covered {
                        let witness: serde_json::Map<String, serde_json::Value> = l
                            .witness
                            .iter()
                            .map(|(f, value)| {
                                let name = p.program.fact_name(*f);
                                (name.to_string(), json!(value))
                            })
                            .collect();
                        v.insert("witness".into(), serde_json::Value::Object(witness));
                        v.insert(
                            "test".into(),
                            json!(witness_test(&p.program, d, l).join("\n")),
                        );
                    }
                    serde_json::Value::Object(v)
                })
                .collect();
            decisions.push(json!({
                "file": sources.name(d.file),
                "decision": d.name,
                "rules": rules,
                "leaves": leaves,
            }));
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("rules".into(), totals.rules.json());
    out.insert("leaves".into(), totals.leaves.json());
    out.insert("decisions".into(), json!(decisions));
    out
}
