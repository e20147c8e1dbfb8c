//! `medpol test`: runs the `test` blocks of the policies.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use medpol::diagnostic::Severity;
use medpol::driver::{self, CheckedProject, Options};
use medpol::evaluate::{By, Evaluation};
use medpol::ir::{Decision, Program};
use medpol::render;
use medpol::source::{Sources, Span};
use medpol::testing::{self, TestResult};

use super::{USAGE, emit};

#[derive(Args)]
pub struct Test {
    /// Policy files or project folders (default: the project in the current folder).
    paths: Vec<PathBuf>,
    /// How to report: text, or JSON on standard output.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn run(args: Test) -> ExitCode {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
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
        let color = if std::io::stderr().is_terminal() {
            render::human::Color::Always
        } else {
            render::human::Color::Never
        };
        eprint!(
            "{}",
            render::human::render(&report.sources, &report.diagnostics, color)
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
    let runs: Vec<(&CheckedProject, Vec<TestResult>)> = checked
        .projects
        .iter()
        .map(|p| (p, testing::run(&p.program, &requested_tests(p))))
        .collect();
    let failed = runs
        .iter()
        .flat_map(|(_, r)| r)
        .filter(|r| !r.passed())
        .count();
    let total: usize = runs.iter().map(|(_, r)| r.len()).sum();
    let lines = match args.format {
        Format::Human => {
            let mut out = Vec::new();
            for (project, results) in &runs {
                human(&mut out, &report.sources, &project.program, results);
            }
            say!(out);
            say!(
                out,
                "{} {}: {} passed, {failed} failed",
                total,
                if total == 1 { "test" } else { "tests" },
                total - failed
            );
            out
        }
        Format::Json => {
            let tests: Vec<serde_json::Value> = runs
                .iter()
                .flat_map(|(p, results)| {
                    results
                        .iter()
                        .map(|r| test_json(&report.sources, &p.program, r))
                })
                .collect();
            let doc = json!({
                "tests": tests,
                "summary": { "total": total, "passed": total - failed, "failed": failed },
            });
            vec![serde_json::to_string_pretty(&doc).unwrap_or_default()]
        }
    };
    emit(
        &lines,
        if failed > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
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

fn outcome_name(d: &Decision, outcome: u32) -> &str {
    d.outcomes
        .get(outcome as usize)
        .map_or("?", |o| o.name.as_str())
}

/// What gave an outcome, in words: "rule `sacroplasty` (file:line)".
fn by_text(sources: &Sources, d: &Decision, by: &[By]) -> String {
    let one = |b: &By| match b {
        By::Rule(r) => d.rules.get(*r as usize).map_or("?".to_string(), |rule| {
            format!("rule `{}` ({})", rule.name, place(sources, rule.name_span))
        }),
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
        .map(|f| format!("`{}`", program.fact(*f).map_or("?", |x| x.name.as_str())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The actual result of an expect, in words.
fn actual_text(sources: &Sources, program: &Program, d: &Decision, e: &Evaluation) -> String {
    match e {
        Evaluation::Decided { outcome, by } => {
            format!(
                "{}, by {}",
                outcome_name(d, *outcome),
                by_text(sources, d, by)
            )
        }
        Evaluation::Conflict { rules } => {
            let names: Vec<String> = rules
                .iter()
                .filter_map(|r| d.rules.get(*r as usize))
                .map(|r| format!("`{}` ({})", r.name, place(sources, r.name_span)))
                .collect();
            format!("a conflict between rules {}", names.join(", "))
        }
        Evaluation::NoRule => "no rule applies and there is no `otherwise`".to_string(),
        Evaluation::Pending { needed } => {
            format!("pending: needs {}", fact_names(program, needed))
        }
    }
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
                    outcome_name(d, e.expected)
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
                    By::Rule(r) => d.rules.get(*r as usize).map_or(json!(null), |rule| {
                        json!({ "rule": rule.name, "source": loc_json(sources, rule.name_span) })
                    }),
                    By::Otherwise => json!({
                        "otherwise": true,
                        "source": d.otherwise.as_ref().map(|o| loc_json(sources, o.span)),
                    }),
                }
                })
                .collect();
            json!({ "kind": "decided", "outcome": outcome_name(d, *outcome), "by": by })
        }
        Evaluation::Conflict { rules } => json!({
            "kind": "conflict",
            "rules": rules
                .iter()
                .filter_map(|r| d.rules.get(*r as usize))
                .map(|r| json!({ "rule": r.name, "source": loc_json(sources, r.name_span) }))
                .collect::<Vec<_>>(),
        }),
        Evaluation::NoRule => json!({ "kind": "no_rule" }),
        Evaluation::Pending { needed } => json!({
            "kind": "pending",
            "needed": needed
                .iter()
                .map(|f| program.fact(*f).map_or("?", |x| x.name.as_str()))
                .collect::<Vec<_>>(),
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
                "expected": outcome_name(d, e.expected),
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
