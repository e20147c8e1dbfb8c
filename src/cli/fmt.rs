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
    for path in &paths {
        if path.is_dir() {
            if let Err(e) = collect(path, &mut files) {
                return fail(&format!("cannot read {}: {e}", path.display()));
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return fail(&format!("`{}` does not exist", path.display()));
        }
    }
    let mut stdout = Vec::new();
    let mut refused = 0;
    let mut changed = 0;
    for file in &files {
        let bytes = match super::read(file, medpol::input::Kind::Source) {
            Ok(b) => b,
            Err(code) => return code,
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

/// The `.medpol` files under a folder, skipping hidden folders and build output.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" {
                collect(&path, out)?;
            }
        } else if name.ends_with(".medpol") {
            out.push(path);
        }
    }
    Ok(())
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
