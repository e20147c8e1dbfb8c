//! `medpol eval`: a patient's facts through a policy's decisions.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde::Serialize;

use medpol::artifact::{
    Artifact, Decision, Evaluation, FactError, FactErrorKind, Facts, LeafDoc, Options, Unknown,
};
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
        required_unless_present_any = ["batch", "fhir", "response"],
        conflicts_with = "batch"
    )]
    facts: Option<PathBuf>,
    /// A FHIR R4 Bundle of the patient (Patient, Coverage, Encounter, Conditions,
    /// Observations, Procedures and the orders), read through the project's FHIR binding.
    #[arg(long, value_name = "BUNDLE.json", conflicts_with = "batch")]
    fhir: Option<PathBuf>,
    /// A DTR QuestionnaireResponse whose answers are facts (they replace what the Bundle or
    /// the facts file give for the same facts).
    #[arg(long, value_name = "QR.json", conflicts_with = "batch")]
    response: Option<PathBuf>,
    /// Write the DTR Questionnaire asking for the facts the pending decisions need to this
    /// file (nothing is written when every decision is decided).
    #[arg(long, value_name = "FILE", conflicts_with = "batch")]
    questionnaire: Option<PathBuf>,
    /// The FHIR binding (default: the project's `fhir.yaml`).
    #[arg(long, value_name = "FILE")]
    binding: Option<PathBuf>,
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
    /// What to do with a key that is not a fact of the policy: refuse the facts (the
    /// default) or ignore the key.
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = UnknownFacts::Reject)]
    unknown_facts: UnknownFacts,
    /// Keys that are not facts but are copied into the result (`"carried"` in JSON), such as
    /// a claim id; repeat the option or separate keys with commas.
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    carry: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnknownFacts {
    Reject,
    Ignore,
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
    let options = Options {
        unknown: match args.unknown_facts {
            UnknownFacts::Reject => Unknown::Reject,
            UnknownFacts::Ignore => Unknown::Ignore,
        },
        carry: args.carry.clone(),
        releases: Some(Arc::new(tables)),
    };
    if let Some(batch) = &args.batch {
        return run_batch(&artifact, &decisions, options, batch);
    }
    let mut facts = Facts::with_options(&artifact, options);
    let (file, read) = if args.fhir.is_some() || args.response.is_some() {
        let value = match fhir_facts(&args, &artifact) {
            Ok(v) => v,
            Err(code) => return code,
        };
        let file = args
            .response
            .clone()
            .or_else(|| args.fhir.clone())
            .unwrap_or_default();
        (file, facts.read_value(&value))
    } else {
        let Some(file) = &args.facts else {
            return fail(
                "give the facts with `--facts FILE`, `--fhir BUNDLE` or `--batch FILE.jsonl`",
            );
        };
        let text = match medpol::input::read_text(file, medpol::input::Kind::Facts) {
            Ok(t) => t,
            Err(e) => return fail(&format!("cannot read `{}`: {e}", file.display())),
        };
        let yaml = matches!(
            file.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let read = if yaml {
            facts.read_yaml(&text)
        } else {
            facts.read_json(&text)
        };
        (file.clone(), read)
    };
    if let Err(e) = read {
        if args.format == Format::Json {
            // A program reading the JSON learns why there is no result from the JSON too.
            let out = serde_json::json!({
                "policy": artifact.policy_id(),
                "error": e.message,
                "fact": e.fact,
            });
            let text = serde_json::to_string_pretty(&out).unwrap_or_default();
            super::emit(&[text], ExitCode::from(1));
        }
        eprintln!("error: {}: {e}", file.display());
        return ExitCode::from(1);
    }
    let results: Vec<(&Decision, Evaluation)> =
        decisions.iter().map(|d| (*d, d.evaluate(&facts))).collect();
    if let Some(file) = &args.questionnaire {
        let mut needed: Vec<u32> = results
            .iter()
            .flat_map(|(_, e)| e.needed.iter().copied())
            .collect();
        needed.sort_unstable();
        needed.dedup();
        if !needed.is_empty() {
            let q = medpol_fhir::questionnaire::for_artifact(
                &artifact,
                &needed,
                "http://localhost:8080",
            );
            let text = serde_json::to_string_pretty(&q).unwrap_or_default() + "\n";
            if let Err(e) = std::fs::write(file, text) {
                return fail(&format!("cannot write `{}`: {e}", file.display()));
            }
            eprintln!(
                "wrote the questionnaire for {} needed facts to {}",
                needed.len(),
                file.display()
            );
        }
    }
    let text = match args.format {
        Format::Json => {
            let out = Output {
                policy: artifact.policy_id(),
                carried: Carried::of(&facts),
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

/// The facts of `--fhir` (read through the binding), `--facts` and `--response` (whose
/// answers win), as one JSON object; notes on what the Bundle gave that could not be read go
/// to standard error.
fn fhir_facts(args: &Eval, artifact: &Artifact) -> Result<serde_json::Value, ExitCode> {
    let read_json = |file: &Path| -> Result<serde_json::Value, ExitCode> {
        let text = medpol::input::read_text(file, medpol::input::Kind::Facts)
            .map_err(|e| fail(&format!("cannot read `{}`: {e}", file.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| fail(&format!("{}: not valid JSON: {e}", file.display())))
    };
    let mut out = serde_json::Map::new();
    if let Some(bundle_file) = &args.fhir {
        let binding_file = match &args.binding {
            Some(b) => b.clone(),
            None => super::fhir::default_file(&args.target).ok_or_else(|| {
                fail(&format!(
                    "no `{}` in the project of `{}`; give one with `--binding FILE`",
                    super::fhir::FILE,
                    args.target.display()
                ))
            })?,
        };
        let binding = super::fhir::check(&binding_file, std::slice::from_ref(artifact), false)?
            .ok_or_else(|| ExitCode::from(1))?;
        let policy = binding
            .policy(artifact.policy_id())
            .ok_or_else(|| fail("the binding has no such policy"))?;
        let bundle = read_json(bundle_file)?;
        let record = medpol_fhir::record::Record::from_bundle(&bundle)
            .map_err(|e| fail(&format!("{}: {e}", bundle_file.display())))?;
        let orders = medpol_fhir::record::orders(&bundle)
            .map_err(|e| fail(&format!("{}: {e}", bundle_file.display())))?;
        let coverage = record
            .get(medpol_fhir::binding::Query::Coverage)
            .and_then(|c| c.first());
        let subject = medpol_fhir::extract::Subject {
            orders: &orders,
            coverage,
            today: super::today(),
        };
        let extracted = medpol_fhir::extract::facts(policy, &record, &subject);
        for note in &extracted.notes {
            eprintln!("note: {note}");
        }
        out.extend(extracted.facts);
    }
    if let Some(file) = &args.facts {
        let text = medpol::input::read_text(file, medpol::input::Kind::Facts)
            .map_err(|e| fail(&format!("cannot read `{}`: {e}", file.display())))?;
        let value: serde_json::Value = if matches!(
            file.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            serde_saphyr::from_str(&text).map_err(|e| {
                fail(&format!(
                    "{}: {}",
                    file.display(),
                    medpol::artifact::yaml_message(&e)
                ))
            })?
        } else {
            read_json(file)?
        };
        if let serde_json::Value::Object(m) = value {
            out.extend(m);
        }
    }
    if let Some(file) = &args.response {
        let response = read_json(file)?;
        let answers = medpol_fhir::questionnaire::facts_from_response(artifact, &response)
            .map_err(|e| fail(&format!("{}: {e}", file.display())))?;
        out.extend(answers);
    }
    Ok(serde_json::Value::Object(out))
}

/// The artifact to evaluate: read from a `.json` file, or compiled from a policy.
fn load(args: &Eval) -> Result<(Artifact, TableSet), ExitCode> {
    let path = &args.target;
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        let text = medpol::input::read_text(path, medpol::input::Kind::Artifact)
            .map_err(|e| fail(&format!("cannot read `{}`: {e}", path.display())))?;
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
    #[serde(skip_serializing_if = "Option::is_none")]
    carried: Option<Carried<'a>>,
    decisions: Vec<DecisionResult<'a>>,
}

/// The values of the `--carry` keys a patient's facts had.
struct Carried<'a>(&'a Facts);

impl<'a> Carried<'a> {
    fn of(facts: &'a Facts) -> Option<Carried<'a>> {
        facts.carried().next().is_some().then_some(Carried(facts))
    }
}

impl Serialize for Carried<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.carried())
    }
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
    /// The facts the result rests on (those tested on its path, and those still needed) that
    /// must be supported by clinical documentation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    documentation: Vec<&'a str>,
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
    /// Whether `text` holds here: given when the text is the test or its opposite in the
    /// author's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    text_holds: Option<bool>,
}

fn result<'a>(
    artifact: &'a Artifact,
    d: &'a Decision,
    e: &Evaluation,
    explain: bool,
) -> DecisionResult<'a> {
    let mut out = summary(artifact, d, &e.leaves, &e.needed);
    out.documentation = artifact.documentation(e);
    if explain {
        out.path = Some(
            e.path
                .iter()
                .filter_map(|s| {
                    let loc = d.document().source_map.nodes.get(s.node as usize)?;
                    Some(StepOut {
                        test: d.describe_test(artifact, s.node)?,
                        holds: s.holds,
                        file: artifact.file(loc.file)?,
                        line: loc.line,
                        column: loc.column,
                        rule: loc.rule.as_deref(),
                        text: &loc.text,
                        text_holds: loc.agrees.map(|a| a == s.holds),
                    })
                })
                .collect(),
        );
    }
    out
}

/// A decision's result from the leaves the facts reach and the missing facts it needs.
fn summary<'a>(
    artifact: &'a Artifact,
    d: &'a Decision,
    leaves: &[u32],
    needed: &[u32],
) -> DecisionResult<'a> {
    let first = leaves.first().and_then(|l| d.leaf(*l));
    let decided = needed.is_empty() && first.is_some();
    let mut out = DecisionResult {
        decision: d.name(),
        status: if decided { "decided" } else { "pending" },
        kind: None,
        outcome: None,
        rule: None,
        rules: Vec::new(),
        needed: artifact.fact_names(needed),
        documentation: Vec::new(),
        path: None,
    };
    if let (true, Some(leaf)) = (decided, first) {
        out.kind = Some(match leaf {
            LeafDoc::Rule { outcome, rule } => {
                out.outcome = Some(outcome);
                // Several leaves give the same outcome by different rules.
                out.rule = (leaves.len() == 1).then_some(rule.as_str());
                "rule"
            }
            LeafDoc::Otherwise { outcome } => {
                out.outcome = Some(outcome);
                "otherwise"
            }
            LeafDoc::NoRule => "no_rule",
            LeafDoc::Conflict { rules, .. } => {
                out.rules = rules.iter().map(String::as_str).collect();
                "conflict"
            }
        });
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
            match r.outcome {
                Some(outcome) => format!("{}: {outcome} {by}\n", r.decision),
                None => format!("{}: decided {by}\n", r.decision),
            }
        }
    };
    if let Some(path) = &r.path {
        let yes = |holds: bool| if holds { "yes" } else { "no " };
        for s in path {
            // The author's condition, which way it went, where it says the test in other
            // words or its opposite; else the test and, beside it, the text it comes from.
            out.push_str(&match s.text_holds {
                Some(holds) => format!("  {} {}  ({}:{})\n", yes(holds), s.text, s.file, s.line),
                None => format!(
                    "  {} {}  ({}:{}: `{}`)\n",
                    yes(s.holds),
                    s.test,
                    s.file,
                    s.line,
                    s.text
                ),
            });
        }
        if !r.documentation.is_empty() {
            out.push_str(&format!(
                "  documentation needed: {}\n",
                quoted(&r.documentation)
            ));
        }
        if let Some(leaf) = e
            .leaves
            .first()
            .filter(|_| e.leaves.len() == 1)
            .and_then(|l| d.document().source_map.leaves.get(*l as usize))
            && let Some(file) = artifact.file(leaf.file)
        {
            out.push_str(&format!("  => {file}:{}: `{}`\n", leaf.line, leaf.text));
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
    #[serde(skip_serializing_if = "Option::is_none")]
    carried: Option<Carried<'a>>,
    decisions: Vec<DecisionResult<'a>>,
}

/// Bytes read at a time: a block's lines are evaluated together, on every core.
const BLOCK: usize = 4 << 20;

/// The longest line of a batch: the limit of the facts of one patient (`docs/limits.md`).
const LINE: usize = medpol::input::Kind::Facts.limit() as usize;

/// A block of the batch: whole lines, each with its number and place in `bytes`.
#[derive(Default)]
struct Block {
    bytes: Vec<u8>,
    lines: Vec<Line>,
}

/// A line of the batch: its number and its place in the block, or only its number when it
/// was too long to keep.
enum Line {
    Text(usize, std::ops::Range<usize>),
    TooLong(usize),
}

/// What the writer reports back: the output failed (a closed pipe is not a failure).
type WriteResult = Result<(), std::io::Error>;

fn run_batch(
    artifact: &Artifact,
    decisions: &[&Decision],
    options: Options,
    batch: &Path,
) -> ExitCode {
    use rayon::prelude::*;
    use std::sync::mpsc::sync_channel;
    let input = match open_batch(batch) {
        Ok(input) => input,
        Err(code) => return code,
    };
    let progress = std::io::stderr().is_terminal();
    // Reading, evaluating and writing overlap: a reader thread fills blocks, the workers
    // evaluate one block while the next is read, and a writer thread writes the results of
    // the last. The channels hold one block each way, so memory stays bounded.
    let (blocks_out, blocks_in) = sync_channel::<Result<Block, (usize, std::io::Error)>>(1);
    let (spare_out, spare_in) = sync_channel::<Block>(2);
    let (results_out, results_in) = sync_channel::<Vec<Vec<u8>>>(1);
    let workers = rayon::current_num_threads().max(1);
    std::thread::scope(|scope| {
        scope.spawn(move || read_blocks(input, &blocks_out, &spare_in));
        let writer = scope.spawn(move || -> WriteResult {
            let stdout = std::io::stdout();
            let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
            for parts in results_in {
                for part in parts {
                    out.write_all(&part)?;
                }
            }
            out.flush()
        });
        let (mut lines, mut bad) = (0usize, 0usize);
        let mut failed_read = None;
        for block in blocks_in {
            let block = match block {
                Ok(b) => b,
                Err(e) => {
                    failed_read = Some(e);
                    break;
                }
            };
            let share = block.lines.len().div_ceil(workers).max(1);
            let parts: Vec<(usize, Vec<u8>)> = block
                .lines
                .par_chunks(share)
                .map_init(
                    || Facts::with_options(artifact, options.clone()),
                    |facts, part| {
                        let mut written = Vec::with_capacity(part.len() * 160);
                        let failed = part
                            .iter()
                            .filter(|line| match line {
                                Line::Text(n, range) => {
                                    let text = block.bytes.get(range.clone()).unwrap_or_default();
                                    !batch_line(artifact, decisions, facts, *n, text, &mut written)
                                }
                                Line::TooLong(n) => {
                                    bad_line(*n, &too_long(), &mut written);
                                    true
                                }
                            })
                            .count();
                        (failed, written)
                    },
                )
                .collect();
            lines += block.lines.len();
            bad += parts.iter().map(|(f, _)| f).sum::<usize>();
            if results_out
                .send(parts.into_iter().map(|(_, w)| w).collect())
                .is_err()
            {
                // The writer stopped: its result says why.
                break;
            }
            // The block's memory goes back to the reader; it may have finished.
            let _ = spare_out.try_send(block);
            if progress {
                eprint!("\r{lines} lines");
            }
        }
        drop(results_out);
        drop(spare_out);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the writer thread stopped")));
        if let Some((line, e)) = failed_read {
            eprintln!("error: {}: line {line}: {e}", batch.display());
            return ExitCode::from(USAGE);
        }
        match written {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return fail(&format!("cannot write the output: {e}"));
            }
            _ => {}
        }
        if progress {
            eprint!("\r");
        }
        if bad > 0 {
            // The results say which lines; the status says that some did not evaluate.
            eprintln!(
                "error: {bad} of {lines} lines had bad facts; their results are error records"
            );
            return ExitCode::from(1);
        }
        if progress {
            eprintln!("{lines} lines");
        }
        ExitCode::SUCCESS
    })
}

/// The batch to read: a file, a pipe, or standard input for `-`. A folder or device is
/// refused: a batch is read line by line, and `/dev/zero` has no lines.
fn open_batch(batch: &Path) -> Result<Box<dyn std::io::Read + Send>, ExitCode> {
    if batch == Path::new("-") {
        return Ok(Box::new(std::io::stdin()));
    }
    let (file, _) = medpol::input::open(batch)
        .map_err(|e| fail(&format!("cannot read `{}`: {e}", batch.display())))?;
    Ok(Box::new(file))
}

/// Reads the batch in blocks of whole lines (blank lines left out, numbers kept), reusing
/// the blocks the evaluation hands back; a read error ends the blocks with the line it was
/// met at. A line longer than [`LINE`] is not kept: it becomes a [`Line::TooLong`] and is
/// read past without being held.
fn read_blocks(
    input: impl std::io::Read,
    blocks: &std::sync::mpsc::SyncSender<Result<Block, (usize, std::io::Error)>>,
    spare: &std::sync::mpsc::Receiver<Block>,
) {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, input);
    let mut line_no = 0usize;
    loop {
        let mut block = spare.try_recv().unwrap_or_default();
        block.bytes.clear();
        block.lines.clear();
        let mut eof = false;
        while block.bytes.len() < BLOCK && !eof {
            // One line, copied from the reader's buffer into the block as far as the limit.
            let start = block.bytes.len();
            let (mut any, mut too_long) = (false, false);
            loop {
                let buffer = match reader.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = blocks.send(Err((line_no + 1, e)));
                        return;
                    }
                };
                if buffer.is_empty() {
                    eof = true;
                    break;
                }
                any = true;
                let newline = memchr::memchr(b'\n', buffer);
                let part = newline.map_or(buffer, |i| buffer.get(..i).unwrap_or_default());
                if !too_long {
                    block.bytes.extend_from_slice(part);
                    if block.bytes.len() - start > LINE {
                        too_long = true;
                        block.bytes.truncate(start);
                    }
                }
                let taken = newline.map_or(buffer.len(), |i| i + 1);
                reader.consume(taken);
                if newline.is_some() {
                    break;
                }
            }
            if !any {
                break;
            }
            line_no += 1;
            if too_long {
                block.lines.push(Line::TooLong(line_no));
            } else if !block
                .bytes
                .get(start..)
                .unwrap_or_default()
                .trim_ascii()
                .is_empty()
            {
                block
                    .lines
                    .push(Line::Text(line_no, start..block.bytes.len()));
            }
        }
        if (!block.lines.is_empty() && blocks.send(Ok(block)).is_err()) || eof {
            return;
        }
    }
}

/// Writes one line's result as a JSON line; false when its facts were bad.
fn batch_line(
    artifact: &Artifact,
    decisions: &[&Decision],
    facts: &mut Facts,
    line: usize,
    bytes: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let read = match std::str::from_utf8(bytes) {
        Ok(text) => facts.read_json(text),
        Err(e) => Err(FactError {
            kind: FactErrorKind::Syntax,
            fact: None,
            message: format!(
                "the line is not valid UTF-8 (a bad byte at column {})",
                e.valid_up_to() + 1
            ),
        }),
    };
    // Only a policy with documented facts needs the path of each result, to list them.
    let documented = artifact.document().facts.iter().any(|f| f.documentation);
    let written = match &read {
        Ok(()) => {
            let results = BatchResult {
                line,
                carried: Carried::of(facts),
                decisions: decisions
                    .iter()
                    .map(|d| match d.decide_leaf(facts) {
                        Some(leaf) if !documented => summary(artifact, d, &[leaf], &[]),
                        _ => {
                            let e = d.evaluate(facts);
                            let mut s = summary(artifact, d, &e.leaves, &e.needed);
                            s.documentation = artifact.documentation(&e);
                            s
                        }
                    })
                    .collect(),
            };
            serde_json::to_writer(&mut *out, &results)
        }
        Err(e) => {
            bad_line(line, e, out);
            return false;
        }
    };
    // Writing plain data into memory cannot fail; should it, the line still ends.
    debug_assert!(written.is_ok());
    out.push(b'\n');
    true
}

/// Writes the error record of a line whose facts were bad.
fn bad_line(line: usize, e: &FactError, out: &mut Vec<u8>) {
    let written = serde_json::to_writer(
        &mut *out,
        &BatchError {
            line,
            error: &e.message,
            fact: e.fact.as_deref(),
        },
    );
    debug_assert!(written.is_ok());
    out.push(b'\n');
}

/// The error of a line past [`LINE`].
fn too_long() -> FactError {
    FactError {
        kind: FactErrorKind::TooLarge,
        fact: None,
        message: format!(
            "the line is longer than {} MiB, the limit for the facts of one patient",
            LINE >> 20
        ),
    }
}
