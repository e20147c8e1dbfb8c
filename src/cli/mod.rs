//! The `medpol tables`, `medpol codes`, `medpol analyse`, `medpol build` and `medpol eval`
//! commands.

/// Adds a line to a command's output (see [`emit`]).
macro_rules! say {
    ($out:expr) => {
        $out.push(String::new())
    };
    ($out:expr, $($arg:tt)*) => {
        $out.push(format!($($arg)*))
    };
}

pub mod analyse;
pub mod build;
pub mod codes;
pub mod diff;
pub mod eval;
pub mod fhir;
pub mod fmt;
pub mod paste;
pub mod report;
pub mod serve;
pub mod tables;
pub mod test;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use medpol::codes::System;
use medpol::diagnostic::shown;
use medpol::input;
use medpol::tables::{Table, TableSet};
use medpol::types::Date;

/// How a command that shows the first diagnostics of each code (as `medpol check` does)
/// tells how to see every one.
pub const ALL_HINT: &str = "`medpol check --all` shows every one";

/// Exit code for a usage or I/O problem.
pub const USAGE: u8 = 2;
/// Exit code for a code that does not exist.
pub const NOT_FOUND: u8 = 1;

pub fn parse_system(text: &str) -> Result<System, String> {
    System::parse(text).ok_or_else(|| {
        format!(
            "unknown code system `{}`; the systems are icd10cm, icd10pcs, cpt and hcpcs",
            shown(text)
        )
    })
}

pub fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text).ok_or_else(|| format!("`{}` is not a date written YYYY-MM-DD", shown(text)))
}

/// The shipped tables plus table files given with `--table`.
pub fn table_set(files: &[std::path::PathBuf]) -> Result<TableSet, ExitCode> {
    let mut user = Vec::new();
    for file in files {
        let bytes = read(file, input::Kind::Table)?;
        match Table::from_bytes(bytes) {
            Ok(t) => user.push(t),
            Err(e) => return Err(fail(&format!("`{}`: {e}", file.display()))),
        }
    }
    let set = TableSet::shipped_and(user).map_err(|e| fail(&e.to_string()))?;
    for e in set.load_errors() {
        eprintln!("warning: {e}");
    }
    Ok(set)
}

/// Reads a whole input file of a kind, within the kind's limit (`docs/limits.md`).
pub fn read(file: &Path, kind: input::Kind) -> Result<Vec<u8>, ExitCode> {
    input::read(file, kind).map_err(|e| fail(&format!("cannot read `{}`: {e}", file.display())))
}

/// Writes a command's output in one piece; a reader that stops early (`| head`) is not an
/// error.
pub fn emit(lines: &[String], code: ExitCode) -> ExitCode {
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            fail(&format!("cannot write the output: {e}"))
        }
        _ => code,
    }
}

/// Today's date (UTC): the date of an answer, and the date of service no order gives.
pub fn today() -> medpol::artifact::date::Date {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    medpol::artifact::date::Date::from_days(i64::try_from(days).unwrap_or(0)).unwrap_or(
        medpol::artifact::date::Date {
            year: 1970,
            month: 1,
            day: 1,
        },
    )
}

/// Reports a usage or I/O problem.
pub fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(USAGE)
}
