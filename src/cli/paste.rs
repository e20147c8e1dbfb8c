//! `medpol codes import`: a code table pasted from a printed policy, as `codes` blocks
//! (`paste::import` does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use medpol::codes::System;
use medpol::input;
use medpol::paste::{self, ChangeKind, Imported};
use medpol::types::Date;

use super::{NOT_FOUND, fail, parse_date, parse_system, table_set};

/// The changes of each kind the human report shows; the JSON report has every one.
fn shown_of(kind: ChangeKind) -> usize {
    match kind {
        // One a code of a table printed with lower-case `x`: a few say what happened.
        ChangeKind::Normalised => 5,
        _ => 20,
    }
}

#[derive(Args)]
pub struct Import {
    /// The pasted table: a text file, or `-` for standard input.
    file: PathBuf,
    /// Read every code as one of this system (icd10cm, icd10pcs, cpt, hcpcs); by default each
    /// code's system is told from its form and its neighbours.
    #[arg(long, value_parser = parse_system)]
    system: Option<System>,
    /// Check the codes against the tables in force on this date (YYYY-MM-DD); by default today.
    #[arg(long, value_parser = parse_date)]
    date: Option<Date>,
    /// A table file to read besides the shipped ones (a project's own CPT table); may repeat.
    #[arg(long = "table", value_name = "FILE")]
    tables: Vec<PathBuf>,
    /// The name of the code set; with codes of several systems each block's name ends in its
    /// system (`NAME_cpt`).
    #[arg(long, default_value = paste::DEFAULT_NAME)]
    name: String,
    /// Write the report to this file instead of standard error (JSON with `--format json`).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The report's form: words on standard error, or one JSON document (on standard output,
    /// with the blocks, unless `--report` names a file).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(args: &Import) -> ExitCode {
    let bytes = if args.file.as_os_str() == "-" {
        input::read_from(std::io::stdin(), input::Kind::Paste, 0)
            .map_err(|e| fail(&format!("cannot read standard input: {e}")))
    } else {
        super::read(&args.file, input::Kind::Paste)
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(code) => return code,
    };
    let tables = match table_set(&args.tables) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let options = paste::Options {
        system: args.system,
        date: args.date.unwrap_or_else(today),
        name: Some(args.name.clone()),
    };
    let imported = match paste::import(&bytes, &tables, &options) {
        Ok(i) => i,
        Err(e) => return fail(&e.to_string()),
    };
    let status = if imported.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_FOUND)
    };
    let blocks: Vec<&str> = imported.blocks.iter().map(|b| b.text.as_str()).collect();
    let blocks = blocks.join("\n");
    let report = match args.format {
        Format::Human => human(&imported),
        Format::Json => match serde_json::to_string_pretty(&imported) {
            Ok(j) => j + "\n",
            Err(e) => return fail(&format!("cannot write the report: {e}")),
        },
    };
    let (stdout, stderr) = match (&args.report, args.format) {
        (Some(file), _) => {
            if let Err(e) = std::fs::write(file, report) {
                return fail(&format!(
                    "cannot write `{}`: {}",
                    file.display(),
                    input::plain_io(&e)
                ));
            }
            (blocks, String::new())
        }
        (None, Format::Human) => (blocks, report),
        (None, Format::Json) => (report, String::new()),
    };
    eprint!("{stderr}");
    let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    super::emit(&lines, status)
}

/// Today's date, by the system clock (UTC).
fn today() -> Date {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    Date::from_days(i64::try_from(days).unwrap_or(0)).unwrap_or(Date {
        year: 1970,
        month: 1,
        day: 1,
    })
}

/// The report in words: what was read, every change (the first of each kind), and whether
/// anything was left out.
fn human(imported: &Imported) -> String {
    let mut out = String::new();
    let read: Vec<String> = imported
        .blocks
        .iter()
        .map(|b| {
            let n = b.codes.len();
            format!(
                "{n} {} code{} ({})",
                b.system.display(),
                if n == 1 { "" } else { "s" },
                b.release.as_deref().unwrap_or("no table")
            )
        })
        .collect();
    let lines = imported.lines;
    let what = if read.is_empty() {
        "no code".to_string()
    } else {
        read.join(", ")
    };
    out.push_str(&format!(
        "read {lines} line{}: {what}\n",
        if lines == 1 { "" } else { "s" }
    ));
    let mut shown = 0;
    let mut kind: Option<ChangeKind> = None;
    let mut hidden = 0;
    let flush = |out: &mut String, kind: Option<ChangeKind>, hidden: usize| {
        if let Some(k) = kind.filter(|_| hidden > 0) {
            out.push_str(&format!("{}: … and {hidden} more\n", k.name()));
        }
    };
    for change in &imported.changes {
        if kind != Some(change.kind) {
            flush(&mut out, kind, hidden);
            kind = Some(change.kind);
            shown = 0;
            hidden = 0;
        }
        if shown < shown_of(change.kind) {
            out.push_str(&format!("{}: {change}\n", change.kind.name()));
            shown += 1;
        } else {
            hidden += 1;
        }
    }
    flush(&mut out, kind, hidden);
    let left: usize = imported
        .changes
        .iter()
        .filter(|c| c.kind.leaves_out())
        .count();
    if imported.blocks.is_empty() {
        out.push_str("no codes found: nothing to write\n");
    } else if left > 0 {
        out.push_str(&format!(
            "{left} thing{} printed could not be read as codes and {} left out of the block{}\n",
            if left == 1 { "" } else { "s" },
            if left == 1 { "is" } else { "are" },
            if imported.blocks.len() == 1 { "" } else { "s" }
        ));
    } else {
        out.push_str("every code was read without a guess\n");
    }
    out
}
