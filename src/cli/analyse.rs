//! `medpol analyse`: which patients get which outcome of a decision.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use medpol::analyse::describe::{OutcomeGroups, Summary};
use medpol::diagnostic::Severity;
use medpol::driver::{self, Options};
use medpol::render;

use super::USAGE;

#[derive(Args)]
pub struct Analyse {
    /// A policy file or project folder.
    path: PathBuf,
    /// The decision to describe (by default every decision of the files given).
    #[arg(long)]
    decision: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Stop the analysis after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    analysis_time: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn run(args: Analyse) -> ExitCode {
    let options = Options {
        analysis: Some(medpol::analyse::Options {
            time_limit: std::time::Duration::from_millis(args.analysis_time),
            ..medpol::analyse::Options::default()
        }),
    };
    let described = match driver::describe_paths(std::slice::from_ref(&args.path), &options) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let report = &described.report;
    if report.count(Severity::Error) > 0 {
        // Without a sound model there is nothing to describe: show why.
        let (shown, counts) = render::first_of_each_code(&report.diagnostics, super::ALL_HINT);
        let text = render::short::render(&report.sources, &shown);
        eprint!("{text}{counts}");
        eprintln!("error: the policy has errors; fix them before analysing it");
        return ExitCode::from(1);
    }
    let summaries: Vec<&Summary> = described
        .summaries
        .iter()
        .filter(|s| args.decision.as_ref().is_none_or(|d| *d == s.decision))
        .collect();
    if summaries.is_empty() {
        match &args.decision {
            Some(d) => {
                let known: Vec<&str> = described
                    .summaries
                    .iter()
                    .map(|s| s.decision.as_str())
                    .collect();
                let hint = medpol::check::names::suggest(d, known.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                eprintln!(
                    "error: no decision `{}` in `{}`{hint}",
                    medpol::diagnostic::shown(d),
                    args.path.display()
                );
            }
            None => eprintln!("error: no decision in `{}`", args.path.display()),
        }
        return ExitCode::from(USAGE);
    }
    let text = match args.format {
        Format::Json => {
            let mut t = serde_json::to_string_pretty(&summaries).unwrap_or_default();
            t.push('\n');
            t
        }
        Format::Human => summaries
            .iter()
            .map(|s| human(s))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write: {e}");
            ExitCode::from(USAGE)
        }
    }
}

fn human(s: &Summary) -> String {
    let mut out = format!("decision {} ({})\n", s.decision, s.hit);
    for o in s.outcomes.iter().chain(&s.undecided).chain(&s.conflicts) {
        out.push_str(&outcome(o));
    }
    out
}

fn outcome(o: &OutcomeGroups) -> String {
    let mut out = format!("\n  {}\n", o.outcome);
    if o.groups.is_empty() {
        out.push_str("    no patient\n");
    }
    for g in &o.groups {
        let conditions: Vec<&str> = g.conditions.iter().map(|c| c.text.as_str()).collect();
        let when = if conditions.is_empty() {
            "every patient".to_string()
        } else {
            conditions.join(", ")
        };
        if g.rule.is_empty() {
            out.push_str(&format!("    - {when}\n"));
        } else {
            out.push_str(&format!("    - by `{}`: {when}\n", g.rule));
        }
    }
    if o.more > 0 {
        out.push_str(&format!("    - and {} more groups\n", o.more));
    }
    out
}
