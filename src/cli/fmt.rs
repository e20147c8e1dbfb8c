//! The `medpol fmt` command: rewrites policy files in the canonical style.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use medpol::format::{self, Error};
use medpol::render;
use medpol::source::{FileId, SourceFile, Sources};

use super::fail;

#[derive(clap::Args)]
pub struct Fmt {
    /// Policy files or folders (default: the project of the current folder).
    paths: Vec<PathBuf>,
    /// Change nothing: list the files that are not formatted, and exit 1 if there are any.
    #[arg(long)]
    check: bool,
    /// Format standard input to standard output (for editors).
    #[arg(long, conflicts_with = "paths")]
    stdin: bool,
}

/// What became of one file.
enum Outcome {
    Unchanged,
    Changed,
    Refused,
}

pub fn run(args: Fmt) -> ExitCode {
    if args.stdin {
        return stdin(args.check);
    }
    let paths = if args.paths.is_empty() {
        let here = PathBuf::from(".");
        vec![medpol::project::find_root(&here).unwrap_or(here)]
    } else {
        args.paths
    };
    let mut files = Vec::new();
    // A file or folder that cannot be read is reported and the rest is formatted; the exit
    // status says that something was not.
    let mut refused = 0;
    for path in &paths {
        if path.is_dir() {
            refused += collect(path, &mut files);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return fail(&format!("`{}` does not exist", path.display()));
        }
    }
    let mut stdout = Vec::new();
    let mut changed = 0;
    for file in &files {
        let bytes = match medpol::input::read(file, medpol::input::Kind::Source) {
            Ok(b) => b,
            Err(e) => {
                eprintln!(
                    "error: cannot read `{}`: {e}",
                    medpol::project::display(file)
                );
                refused += 1;
                continue;
            }
        };
        match one(file, bytes, args.check) {
            Ok(Outcome::Unchanged) => {}
            Ok(Outcome::Changed) => {
                changed += 1;
                if args.check {
                    stdout.push(medpol::project::display(file));
                }
            }
            Ok(Outcome::Refused) => refused += 1,
            Err(code) => return code,
        }
    }
    let code = if refused > 0 || (args.check && changed > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    super::emit(&stdout, code)
}

/// The `.medpol` files under a folder, skipping hidden folders and build output; returns
/// how many entries could not be read (each reported on standard error). Symbolic links are
/// not followed, so a link to a parent folder cannot make the walk endless.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> usize {
    let mut unreadable = 0;
    let walk = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_str().unwrap_or("");
            e.depth() == 0
                || !e.file_type().is_dir()
                || !(name.starts_with('.') || name == "target")
        });
    for entry in walk {
        match entry {
            Ok(e)
                if e.file_type().is_file()
                    && e.file_name()
                        .to_str()
                        .is_some_and(|n| n.ends_with(".medpol")) =>
            {
                out.push(e.into_path());
            }
            Ok(_) => {}
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| dir.display().to_string(), medpol::project::display);
                let why = e
                    .io_error()
                    .map_or_else(|| "a loop of links".to_string(), medpol::input::plain_io);
                eprintln!("error: cannot read `{path}`: {why}");
                unreadable += 1;
            }
        }
    }
    unreadable
}

fn one(file: &Path, bytes: Vec<u8>, check: bool) -> Result<Outcome, ExitCode> {
    let name = medpol::project::display(file);
    let (text, invalid) = medpol::syntax::decode(bytes.clone());
    let formatted = match invalid {
        Some(bad) => Err(Error::Syntax(vec![bad.diagnostic(FileId(0))])),
        None => format::format(FileId(0), &text),
    };
    match formatted {
        Ok(out) if out.as_bytes() == bytes.as_slice() => Ok(Outcome::Unchanged),
        Ok(out) => {
            if !check {
                write_atomically(file, &out)
                    .map_err(|e| fail(&format!("cannot write {name}: {e}")))?;
            }
            Ok(Outcome::Changed)
        }
        Err(e) => {
            report(&name, Some(file), text, &e);
            Ok(Outcome::Refused)
        }
    }
}

/// Writes beside the file and renames over it, so a crash never leaves half a policy.
fn write_atomically(file: &Path, text: &str) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let base = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("policy");
    let temp = dir.join(format!(".{base}.fmt-{}", std::process::id()));
    let written = std::fs::File::create(&temp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    if let Ok(meta) = std::fs::metadata(file) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    let done = written.and_then(|()| std::fs::rename(&temp, file));
    if done.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    done
}

/// Reports a refusal on standard error, as `medpol check` shows diagnostics.
fn report(name: &str, path: Option<&Path>, text: String, error: &Error) {
    match error {
        Error::Syntax(diagnostics) => {
            let mut sources = Sources::new();
            sources.add(SourceFile::new(name, path.map(Path::to_path_buf), text));
            let color = if std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            {
                render::human::Color::Always
            } else {
                render::human::Color::Never
            };
            eprint!("{}", render::human::render(&sources, diagnostics, color));
            eprintln!("error: {name} was not formatted: {error}");
        }
        Error::Changed => eprintln!("error: {name}: {error}"),
    }
}

fn stdin(check: bool) -> ExitCode {
    let bytes = match medpol::input::read_from(std::io::stdin(), medpol::input::Kind::Source, 0) {
        Ok(bytes) => bytes,
        Err(e) => return fail(&format!("cannot read standard input: {e}")),
    };
    let (text, invalid) = medpol::syntax::decode(bytes.clone());
    let formatted = match invalid {
        Some(bad) => Err(Error::Syntax(vec![bad.diagnostic(FileId(0))])),
        None => format::format(FileId(0), &text),
    };
    match formatted {
        Ok(out) => {
            let code = if check && out.as_bytes() != bytes.as_slice() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
            match std::io::stdout().write_all(out.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    fail(&format!("cannot write the output: {e}"))
                }
                _ => code,
            }
        }
        Err(e) => {
            report("<stdin>", None, text, &e);
            ExitCode::from(1)
        }
    }
}
