//! `medpol serve`: the Da Vinci CRD service (CDS Hooks) over a project's policies and FHIR
//! binding; `medpol replay`: its audit log decided again with today's policies.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use medpol::diagnostic::shown;
use medpol_crd::replay::{self, CallDiff, Replayed};

use super::{USAGE, fail};

#[derive(Args)]
pub struct Serve {
    /// The policy project (default: the current folder).
    path: Option<PathBuf>,
    /// The FHIR binding (default: the project's `fhir.yaml`).
    #[arg(long, value_name = "FILE")]
    binding: Option<PathBuf>,
    /// The address to listen on; port 0 takes a free port (the `listening on` line names it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The service's public base URL, for the Questionnaires' canonical URLs (default:
    /// `http://` and the address listened on).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// The audit log: one JSON line per call, appended.
    #[arg(long, value_name = "FILE", default_value = "crd-audit.jsonl")]
    audit: PathBuf,
    /// The largest request body taken, in bytes (larger ones get 413).
    #[arg(long, value_name = "BYTES", default_value_t = medpol_crd::DEFAULT_MAX_REQUEST)]
    max_request: usize,
}

pub fn serve(args: Serve) -> ExitCode {
    let path = args.path.unwrap_or_else(|| PathBuf::from("."));
    let binding = match super::fhir::load(&path, args.binding.as_deref()) {
        Ok(b) => b,
        Err(code) => return code,
    };
    if let Some(url) = &args.base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return fail(&format!(
            "`--base-url` is not an http or https URL: `{}`",
            shown(url)
        ));
    }
    let config = medpol_crd::Config {
        binding,
        listen: args.listen,
        base_url: args.base_url,
        audit: args.audit,
        max_request: args.max_request,
    };
    let ready = |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    };
    match medpol_crd::run(config, ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Args)]
pub struct Replay {
    /// The audit log `medpol serve` wrote.
    log: PathBuf,
    /// The policy project to decide with (default: the current folder).
    path: Option<PathBuf>,
    /// The FHIR binding (default: the project's `fhir.yaml`).
    #[arg(long, value_name = "FILE")]
    binding: Option<PathBuf>,
    /// Human text, or one JSON object (`calls`, `differing`, `skipped`, `errors`).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// Exit code when some response differs.
const DIFFERS: u8 = 1;

pub fn replay(args: Replay) -> ExitCode {
    let path = args.path.unwrap_or_else(|| PathBuf::from("."));
    let binding = match super::fhir::load(&path, args.binding.as_deref()) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let file = match File::open(&args.log) {
        Ok(f) => f,
        Err(e) => return fail(&format!("cannot read `{}`: {e}", args.log.display())),
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut diffs: Vec<CallDiff> = Vec::new();
    let mut errors: Vec<(usize, String)> = Vec::new();
    let mut skipped: Vec<(usize, String)> = Vec::new();
    let (mut calls, mut number) = (0usize, 0usize);
    loop {
        let line = match replay::next_line(&mut reader, replay::MAX_LINE) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                errors.push((number + 1, format!("cannot read the log: {e}")));
                break;
            }
        };
        number += 1;
        let line = match line {
            Ok(l) if l.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(l) => l,
            Err(n) => {
                errors.push((
                    number,
                    format!("the line has {n} bytes, more than {}", replay::MAX_LINE),
                ));
                continue;
            }
        };
        match replay::replay_line(&binding, number, &line) {
            Ok(Replayed::Same) => calls += 1,
            Ok(Replayed::Differs(d)) => {
                calls += 1;
                diffs.push(*d);
            }
            Ok(Replayed::Skipped(why)) => skipped.push((number, why)),
            Err(e) => errors.push((number, e)),
        }
    }
    let code = if !errors.is_empty() {
        ExitCode::from(USAGE)
    } else if !diffs.is_empty() {
        ExitCode::from(DIFFERS)
    } else {
        ExitCode::SUCCESS
    };
    match args.format {
        Format::Json => {
            let report = json!({
                "calls": calls,
                "differing": diffs,
                "skipped": skipped.iter().map(|(l, w)| json!({"line": l, "reason": w})).collect::<Vec<_>>(),
                "errors": errors.iter().map(|(l, e)| json!({"line": l, "message": e})).collect::<Vec<_>>(),
            });
            super::emit(&[report.to_string()], code)
        }
        Format::Human => {
            for (line, e) in &errors {
                eprintln!("error: `{}` line {line}: {e}", args.log.display());
            }
            let mut out = Vec::new();
            for d in &diffs {
                human(d, &mut out);
            }
            for (line, why) in &skipped {
                say!(out, "line {line}: not replayed: {why}");
            }
            say!(
                out,
                "replayed {} call{}: {}{}{}",
                calls,
                if calls == 1 { "" } else { "s" },
                match diffs.len() {
                    0 => "no response differs".to_string(),
                    1 => "1 response differs".to_string(),
                    n => format!("{n} responses differ"),
                },
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!(", {} not replayable", skipped.len())
                },
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} bad line{}",
                        errors.len(),
                        if errors.len() == 1 { "" } else { "s" }
                    )
                },
            );
            super::emit(&out, code)
        }
    }
}

fn value(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(none)")
}

fn human(d: &CallDiff, out: &mut Vec<String>) {
    let instance = d
        .hook_instance
        .as_deref()
        .map(|h| format!(", hookInstance `{h}`"))
        .unwrap_or_default();
    say!(
        out,
        "line {}: `{}`{instance}: the response differs",
        d.line,
        d.service
    );
    if let Some([old, new]) = d.status {
        say!(out, "  status: {old} → {new}");
    }
    if let Some([old, new]) = &d.error {
        say!(out, "  error: {} → {}", value(old), value(new));
    }
    for order in &d.orders {
        let changes: Vec<String> = order
            .changes
            .iter()
            .map(|c| format!("{}: {} → {}", c.element, value(&c.old), value(&c.new)))
            .collect();
        say!(out, "  {}: {}", order.order, changes.join("; "));
    }
    if let Some([old, new]) = &d.cards {
        say!(
            out,
            "  cards: [{}] → [{}]",
            old.join(" | "),
            new.join(" | ")
        );
    }
    if d.other {
        say!(out, "  other elements of the response changed");
    }
    for p in &d.policies {
        let short = |h: &Option<String>| {
            h.as_deref().map_or("(none)".to_string(), |h| {
                h.trim_start_matches("sha256:").chars().take(12).collect()
            })
        };
        say!(
            out,
            "  policy `{}`: artifact {} → {}",
            p.policy,
            short(&p.old),
            short(&p.new)
        );
    }
}
