//! `medpol eval`: a patient's facts through a policy's decisions.

use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use medpol::artifact::{Artifact, Decision, Evaluation, FactError, Facts, LeafDoc};
use medpol::tables::TableSet;

use super::{USAGE, fail};

#[derive(Args)]
pub struct Eval {
    /// A policy file or project folder (compiled in memory), or an artifact (`.json`).
    target: PathBuf,
    /// The patient's facts, JSON or YAML (by extension: `.yaml`, `.yml`).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    facts: Option<PathBuf>,
    /// One JSON object of facts per line; prints one JSON result per line.
    #[arg(long, value_name = "FILE.jsonl")]
    batch: Option<PathBuf>,
    /// Only this decision (by default every decision of the policy).
    #[arg(long)]
    decision: Option<String>,
    /// The policy to evaluate when the target holds several.
    #[arg(long, value_name = "ID")]
    policy: Option<String>,
    /// Show the tests taken, with their policy text and place.
    #[arg(long)]
    explain: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn run(args: Eval) -> ExitCode {
    let (artifact, tables) = match load(&args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let decisions: Vec<&Decision> = match &args.decision {
        Some(name) => match artifact.decision(name) {
            Some(d) => vec![d],
            None => {
                let names: Vec<&str> = artifact.decisions().iter().map(Decision::name).collect();
                return fail(&format!(
                    "no decision `{name}` in policy `{}`; its decisions are {}",
                    artifact.policy_id(),
                    names.join(", ")
                ));
            }
        },
        None => artifact.decisions().iter().collect(),
    };
    if let Some(batch) = &args.batch {
        return run_batch(&artifact, &decisions, &tables, batch);
    }
    let Some(file) = &args.facts else {
        return fail("give the facts with `--facts FILE` or `--batch FILE.jsonl`");
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(&format!("cannot read {}: {e}", file.display())),
    };
    let yaml = matches!(
        file.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let facts = if yaml {
        Facts::from_yaml_in(&artifact, &text, Some(&tables))
    } else {
        Facts::from_json_in(&artifact, &text, Some(&tables))
    };
    let facts = match facts {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::from(1);
        }
    };
    let results: Vec<(&Decision, Evaluation)> =
        decisions.iter().map(|d| (*d, d.evaluate(&facts))).collect();
    let text = match args.format {
        Format::Json => {
            let out = Output {
                policy: artifact.policy_id(),
                decisions: results
                    .iter()
                    .map(|(d, e)| result(&artifact, d, e, args.explain))
                    .collect(),
            };
            let mut t = serde_json::to_string_pretty(&out).unwrap_or_default();
            t.push('\n');
            t
        }
        Format::Human => results
            .iter()
            .map(|(d, e)| human(&artifact, d, e, args.explain))
            .collect(),
    };
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            fail(&format!("cannot write the output: {e}"))
        }
        _ => ExitCode::SUCCESS,
    }
}

/// The artifact to evaluate: read from a `.json` file, or compiled from a policy.
fn load(args: &Eval) -> Result<(Artifact, TableSet), ExitCode> {
    let path = &args.target;
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(&format!("cannot read {}: {e}", path.display())))?;
        let artifact =
            Artifact::from_json(&text).map_err(|e| fail(&format!("{}: {e}", path.display())))?;
        return Ok((artifact, TableSet::shipped().clone()));
    }
    let built = super::build::compile(path)?;
    let mut compiled = built.compiled;
    let chosen = match &args.policy {
        Some(id) => compiled.iter().position(|c| c.artifact.policy_id() == id),
        None if compiled.len() == 1 => Some(0),
        None => None,
    };
    let Some(i) = chosen else {
        let ids: Vec<&str> = compiled.iter().map(|c| c.artifact.policy_id()).collect();
        return Err(fail(&format!(
            "`{}` holds the policies {}; pick one with `--policy ID`",
            path.display(),
            ids.join(", ")
        )));
    };
    let c = compiled.swap_remove(i);
    let mut tables = built.tables;
    let tables = if i < tables.len() {
        tables.swap_remove(i)
    } else {
        TableSet::shipped().clone()
    };
    Ok((c.artifact, tables))
}

#[derive(Serialize)]
struct Output<'a> {
    policy: &'a str,
    decisions: Vec<DecisionResult<'a>>,
}

/// One decision's result, as JSON.
#[derive(Serialize)]
struct DecisionResult<'a> {
    decision: &'a str,
    /// `decided` or `pending`.
    status: &'static str,
    /// `rule`, `otherwise`, `no_rule` or `conflict` (when decided).
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    /// For a conflict: the rules that match.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rules: Vec<&'a str>,
    /// For a pending result: the facts still needed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    needed: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<Vec<StepOut<'a>>>,
}

#[derive(Serialize)]
struct StepOut<'a> {
    test: String,
    holds: bool,
    file: &'a str,
    line: u32,
    column: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    text: &'a str,
}

fn result<'a>(
    artifact: &'a Artifact,
    d: &'a Decision,
    e: &Evaluation,
    explain: bool,
) -> DecisionResult<'a> {
    let mut out = DecisionResult {
        decision: d.name(),
        status: if e.is_decided() { "decided" } else { "pending" },
        kind: None,
        outcome: d.outcome_of(e),
        rule: d.rule_of(e),
        rules: Vec::new(),
        needed: artifact.fact_names(&e.needed),
        path: None,
    };
    if e.is_decided()
        && let Some(leaf) = e.leaves.first().and_then(|l| d.leaf(*l))
    {
        out.kind = Some(match leaf {
            LeafDoc::Rule { .. } => "rule",
            LeafDoc::Otherwise { .. } => "otherwise",
            LeafDoc::NoRule => "no_rule",
            LeafDoc::Conflict { rules, .. } => {
                out.rules = rules.iter().map(String::as_str).collect();
                "conflict"
            }
        });
    }
    if explain {
        out.path = Some(
            e.path
                .iter()
                .filter_map(|s| {
                    let loc = d.document().source_map.nodes.get(s.node as usize)?;
                    Some(StepOut {
                        test: d.describe_test(artifact, s.node),
                        holds: s.holds,
                        file: artifact.file(loc.file),
                        line: loc.line,
                        column: loc.column,
                        rule: loc.rule.as_deref(),
                        text: &loc.text,
                    })
                })
                .collect(),
        );
    }
    out
}

fn human(artifact: &Artifact, d: &Decision, e: &Evaluation, explain: bool) -> String {
    let r = result(artifact, d, e, explain);
    let mut out = match (r.status, r.kind) {
        ("pending", _) => format!("{}: pending: needs {}\n", r.decision, quoted(&r.needed)),
        (_, Some("conflict")) => format!(
            "{}: conflict: rules {} all match\n",
            r.decision,
            quoted(&r.rules)
        ),
        (_, Some("no_rule")) => format!("{}: no rule applies\n", r.decision),
        _ => {
            let by = match r.rule {
                Some(rule) => format!("by rule `{rule}`"),
                None if r.kind == Some("otherwise") => "by `otherwise`".to_string(),
                None => "(the rule depends on missing facts)".to_string(),
            };
            format!("{}: {} {by}\n", r.decision, r.outcome.unwrap_or("?"))
        }
    };
    if let Some(path) = &r.path {
        for s in path {
            out.push_str(&format!(
                "  {} {}  ({}:{}: `{}`)\n",
                if s.holds { "yes" } else { "no " },
                s.test,
                s.file,
                s.line,
                s.text
            ));
        }
        if let Some(leaf) = e
            .leaves
            .first()
            .filter(|_| e.leaves.len() == 1)
            .and_then(|l| d.document().source_map.leaves.get(*l as usize))
        {
            out.push_str(&format!(
                "  => {}:{}: `{}`\n",
                artifact.file(leaf.file),
                leaf.line,
                leaf.text
            ));
        }
    }
    out
}

/// Names in backticks, separated by commas.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Serialize)]
struct BatchError<'a> {
    line: usize,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fact: Option<&'a str>,
}

#[derive(Serialize)]
struct BatchResult<'a> {
    line: usize,
    decisions: Vec<DecisionResult<'a>>,
}

/// Lines read and evaluated together: enough to keep every core busy, few enough to keep
/// memory small and output flowing.
const CHUNK: usize = 8_192;

fn run_batch(
    artifact: &Artifact,
    decisions: &[&Decision],
    tables: &TableSet,
    batch: &Path,
) -> ExitCode {
    use rayon::prelude::*;
    let file = match std::fs::File::open(batch) {
        Ok(f) => f,
        Err(e) => return fail(&format!("cannot read {}: {e}", batch.display())),
    };
    let mut lines = std::io::BufReader::with_capacity(1 << 16, file).lines();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let progress = std::io::stderr().is_terminal();
    let mut bad = 0usize;
    let mut line_no = 0usize;
    loop {
        // Read a chunk, evaluate its lines in parallel, write their results in input order.
        let mut chunk: Vec<(usize, String)> = Vec::with_capacity(CHUNK);
        for line in lines.by_ref() {
            line_no += 1;
            match line {
                Ok(l) if l.trim().is_empty() => {}
                Ok(l) => chunk.push((line_no, l)),
                Err(e) => {
                    eprintln!("error: {}: line {line_no}: {e}", batch.display());
                    return ExitCode::from(USAGE);
                }
            }
            if chunk.len() == CHUNK {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        let results: Vec<(bool, Vec<u8>)> = chunk
            .par_iter()
            .map(|(n, line)| batch_line(artifact, decisions, tables, *n, line))
            .collect();
        for (ok, bytes) in results {
            bad += usize::from(!ok);
            if let Err(e) = out.write_all(&bytes) {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
                return fail(&format!("cannot write the output: {e}"));
            }
        }
        if progress {
            eprint!("\r{line_no} lines");
        }
    }
    if let Err(e) = out.flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return fail(&format!("cannot write the output: {e}"));
    }
    if progress {
        eprintln!("\r{line_no} lines, {bad} with bad facts");
    }
    ExitCode::SUCCESS
}

/// One line's result as a JSON line, and whether its facts were good.
fn batch_line(
    artifact: &Artifact,
    decisions: &[&Decision],
    tables: &TableSet,
    line: usize,
    text: &str,
) -> (bool, Vec<u8>) {
    let (ok, written) = match Facts::from_json_in(artifact, text, Some(tables)) {
        Ok(facts) => {
            let results = BatchResult {
                line,
                decisions: decisions
                    .iter()
                    .map(|d| result(artifact, d, &d.evaluate(&facts), false))
                    .collect(),
            };
            (true, serde_json::to_vec(&results))
        }
        Err(FactError { fact, message }) => (
            false,
            serde_json::to_vec(&BatchError {
                line,
                error: &message,
                fact: fact.as_deref(),
            }),
        ),
    };
    let mut bytes = written.unwrap_or_default();
    bytes.push(b'\n');
    (ok, bytes)
}
