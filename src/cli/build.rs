//! `medpol build`: one decision artifact per policy, written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use medpol::driver::{self, Built, Options};
use medpol::render;
use medpol::sql::{self, Dialect};

use super::{USAGE, fail};

#[derive(Args)]
pub struct Build {
    /// A policy file or project folder (default: the project in the current folder).
    path: Option<PathBuf>,
    /// The folder to write the artifacts to (created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
    /// What to write: decision artifacts (JSON), or SQL that decides every row of a facts
    /// table inside a database engine (docs/sql.md).
    #[arg(long, value_enum, default_value = "artifact")]
    target: Target,
    /// The engine the SQL is for (with `--target sql`).
    #[arg(long, value_enum, default_value = "duckdb", requires = "target")]
    dialect: SqlDialect,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    Artifact,
    Sql,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SqlDialect {
    Duckdb,
    Postgres,
    Spark,
}

impl SqlDialect {
    fn dialect(self) -> Dialect {
        match self {
            SqlDialect::Duckdb => Dialect::DuckDb,
            SqlDialect::Postgres => Dialect::Postgres,
            SqlDialect::Spark => Dialect::Spark,
        }
    }
}

pub fn run(args: Build) -> ExitCode {
    let path = args.path.unwrap_or_else(|| PathBuf::from("."));
    let built = match compile(&path) {
        Ok(b) => b,
        Err(code) => return code,
    };
    // The project's FHIR binding is checked against what was built, as the policies are.
    if let Some(file) = super::fhir::default_file(&path) {
        let artifacts: Vec<_> = built.compiled.iter().map(|c| c.artifact.clone()).collect();
        match super::fhir::check(&file, &artifacts, true) {
            Ok(Some(_)) => {}
            Ok(None) => {
                eprintln!("error: not built: the FHIR binding has errors");
                return ExitCode::from(1);
            }
            Err(code) => return code,
        }
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        return fail(&format!("cannot create {}: {e}", args.out.display()));
    }
    remove_stale_temporaries(&args.out);
    // A policy that cannot be written as SQL is said and the others are still written.
    let mut not_written = 0usize;
    for c in &built.compiled {
        let stem = file_stem(c.artifact.policy_id());
        // What was written, and for SQL the names the file defines.
        let (file, bytes, defines) = match args.target {
            Target::Artifact => (
                args.out.join(format!("{stem}.json")),
                c.artifact.to_json().into_bytes(),
                String::new(),
            ),
            Target::Sql => match sql::generate(&c.artifact, args.dialect.dialect()) {
                Ok(s) => (
                    args.out.join(format!("{stem}.sql")),
                    s.text.into_bytes(),
                    format!(
                        ": the facts table `{}` and the view `{}`",
                        s.facts_table, s.decisions_view
                    ),
                ),
                Err(e) => {
                    eprintln!(
                        "error: policy `{}`: not written as SQL: {e}",
                        c.artifact.policy_id()
                    );
                    not_written += 1;
                    continue;
                }
            },
        };
        if let Err(e) = write_atomically(&file, &bytes) {
            return fail(&format!("cannot write {}: {e}", file.display()));
        }
        eprintln!("wrote {}{defines}", file.display());
    }
    if not_written > 0 {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Checks and compiles a path; on errors, renders them as `medpol check` does and gives the
/// exit code.
pub fn compile(path: &Path) -> Result<Built, ExitCode> {
    let built = match driver::build_paths(
        std::slice::from_ref(&path.to_path_buf()),
        &Options::default(),
    ) {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(1));
        }
        Err(e) => return Err(fail(&e.to_string())),
    };
    let report = &built.report;
    let errors = report.count(medpol::diagnostic::Severity::Error);
    if errors > 0 {
        let (shown, counts) = render::first_of_each_code(&report.diagnostics, super::ALL_HINT);
        let mut text = render::human::render(&report.sources, &shown, render::human::Color::Never);
        text.push_str(&counts);
        let _ = std::io::stderr().write_all(text.as_bytes());
        eprintln!(
            "error: not built: the check found {errors} error{}",
            if errors == 1 { "" } else { "s" }
        );
        return Err(ExitCode::from(1));
    }
    if built.compiled.is_empty() {
        eprintln!("error: no policy in `{}`", path.display());
        return Err(ExitCode::from(USAGE));
    }
    Ok(built)
}

/// A policy id as a file name: characters other than letters, digits, `.`, `-` and `_` become
/// `_`, so an id can never name another folder.
fn file_stem(id: &str) -> String {
    let stem: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match stem.trim_start_matches('.') {
        "" => "policy".to_string(),
        s => s.to_string(),
    }
}

/// The temporary file an artifact is written to before it is renamed over the target:
/// `.NAME.json.PID.tmp`, named by the writing process.
fn temporary(dir: &Path, name: &str, pid: u32) -> PathBuf {
    dir.join(format!(".{name}.{pid}.tmp"))
}

/// The process that wrote a temporary artifact file, if the name is one.
fn temporary_owner(file_name: &str) -> Option<u32> {
    let inner = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (name, pid) = inner.rsplit_once('.')?;
    if !name.ends_with(".json") || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Removes the temporaries a killed build left in the output folder. A temporary of a
/// process still running (another build writing here now) is left alone; where the running
/// processes cannot be listed (no `/proc`), one is stale only after a day, far longer than a
/// build takes to write one.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let proc = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(temporary_owner) else {
            continue;
        };
        let stale = if proc {
            pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(24 * 60 * 60))
        };
        if stale {
            // Another build may have removed it first; either way it is gone.
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes a temporary file beside the target, flushes it to disk and renames it over the
/// target: a reader sees the old artifact or the new one, never part of one, even if the
/// build is killed.
fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = temporary(dir, &name, std::process::id());
    let result = (|| {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&temp, file)?;
        // The rename itself is durable once the folder is flushed (not possible everywhere).
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
