//! `medpol tables import` and `medpol tables list`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand};

use medpol::codes::System;
use medpol::tables::TableSet;
use medpol::tables::import::{self, Release};
use medpol::types::Date;

use super::{emit, fail, parse_date, parse_system, read};

#[derive(Subcommand)]
pub enum Command {
    /// Import a code table from its source file into medpol's table format.
    Import(Import),
    /// List the tables shipped in medpol.
    List,
}

#[derive(Args)]
#[command(group(ArgGroup::new("source").required(true).args(["xml", "tsv", "local", "hcpcs"])))]
pub struct Import {
    /// The CMS ICD-10-CM tabular XML.
    #[arg(long, value_name = "FILE")]
    xml: Option<PathBuf>,
    /// A tab-separated list with the columns code, billable, short, long (and for CPT/HCPCS
    /// optionally addon, primaries).
    #[arg(long, value_name = "FILE")]
    tsv: Option<PathBuf>,
    /// A local YAML table (a project's own CPT/HCPCS codes and labels).
    #[arg(long, value_name = "FILE")]
    local: Option<PathBuf>,
    /// CMS's alpha-numeric HCPCS file (fixed width, such as HCPC2026_JAN_ANWEB.txt): the codes
    /// in force on the effective date, without the dental (CDT) codes.
    #[arg(long, value_name = "FILE")]
    hcpcs: Option<PathBuf>,
    /// The code system: icd10cm, icd10pcs, cpt or hcpcs.
    #[arg(long, value_parser = parse_system)]
    system: System,
    /// The release id, such as icd10cm-2026-04.
    #[arg(long)]
    release: String,
    /// The first day the release applies (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    effective: Date,
    /// A title for the release.
    #[arg(long)]
    title: Option<String>,
    /// Which codes the table lists completely, by first character: `*` (the default) for every
    /// code of the system, `0` for ICD-10-PCS section 0, `none` for a table of selected codes.
    #[arg(long, default_value = "*")]
    covers: String,
    /// The table file to write.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: PathBuf,
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Import(args) => import(args),
        Command::List => list(),
    }
}

fn import(args: Import) -> ExitCode {
    if args.release.is_empty()
        || !args
            .release
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return fail(&format!(
            "`{}` is not a release id: use letters, digits, `-`, `_` and `.`",
            medpol::diagnostic::shown(&args.release)
        ));
    }
    let release = Release {
        system: args.system,
        title: args
            .title
            .unwrap_or_else(|| format!("{} {}", args.system.display(), args.release)),
        id: args.release,
        effective: args.effective,
        covers: if args.covers == "none" {
            String::new()
        } else {
            args.covers
        },
    };
    type Importer =
        fn(&str, &str, &Release) -> Result<medpol::tables::TableData, import::ImportError>;
    let (file, importer): (&Path, Importer) = match (&args.xml, &args.tsv, &args.local, &args.hcpcs)
    {
        (Some(f), _, _, _) => (f, import::icd10cm_xml),
        (_, Some(f), _, _) => (f, import::tsv),
        (_, _, Some(f), _) => (f, import::local),
        (_, _, _, Some(f)) => (f, import::hcpcs),
        (None, None, None, None) => {
            return fail("give the source with --xml, --tsv, --local or --hcpcs");
        }
    };
    let bytes = match read(file, medpol::input::Kind::Release) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let name = file.display().to_string();
    // CMS writes its fixed-width files in Windows-1252.
    let decoded;
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(_) if args.hcpcs.is_some() => {
            decoded = import::cms_text(&bytes);
            &decoded
        }
        Err(e) => {
            let line = bytes
                .iter()
                .take(e.valid_up_to())
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return fail(&format!("{name}:{line}: the file is not UTF-8 text"));
        }
    };
    let data = match importer(text, &name, &release) {
        Ok(d) => d,
        Err(e) => return fail(&e.to_string()),
    };
    let table = match data.to_bytes() {
        Ok(b) => b,
        Err(e) => return fail(&e.to_string()),
    };
    if let Err(e) = write_whole(&args.output, &table) {
        return fail(&format!("cannot write {}: {e}", args.output.display()));
    }
    let loaded = medpol::tables::Table::from_bytes(table);
    match loaded {
        Ok(t) => {
            let mut out = Vec::new();
            say!(
                out,
                "wrote {}: {} {}, {} codes ({} billable), {} bytes",
                args.output.display(),
                t.system().display(),
                t.release(),
                t.len(),
                t.billable_count(),
                t.as_bytes().len()
            );
            emit(&out, ExitCode::SUCCESS)
        }
        Err(e) => fail(&format!("{}: {e}", args.output.display())),
    }
}

/// Writes a file so that it is either the old one or the whole new one: a temporary file in
/// the same folder (so the rename stays on one file system), flushed, then renamed over.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_err() {
        // The temporary file may not exist (creating it failed); nothing else to clean up.
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

fn list() -> ExitCode {
    let set = TableSet::shipped();
    let mut out = Vec::new();
    say!(
        out,
        "{:<18} {:<11} {:<11} {:>7} {:>8}  title",
        "release",
        "system",
        "effective",
        "codes",
        "billable"
    );
    for t in set.iter() {
        say!(
            out,
            "{:<18} {:<11} {:<11} {:>7} {:>8}  {}",
            t.release(),
            t.system().display(),
            t.effective().to_string(),
            t.len(),
            t.billable_count(),
            t.title()
        );
    }
    for e in set.load_errors() {
        eprintln!("error: {e}");
    }
    let code = if set.load_errors().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::USAGE)
    };
    emit(&out, code)
}
