//! The `medpol` command.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic
)]

mod cli;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use medpol::diagnostic::{Code, Severity};
use medpol::render;

// Parsing and checking allocate many small, short-lived nodes; mimalloc serves them markedly
// faster than the system allocator (docs/decisions/0003-release-profile-and-allocator.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "medpol",
    version,
    about = "Compiler and linter for medical coverage policy criteria"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and type-check policy files and report every problem.
    Check {
        /// Policy files or project folders (default: the project in the current folder).
        paths: Vec<PathBuf>,
        /// How to report: a rich report, one line per problem, JSON, SARIF 2.1.0 (code scanning) or GitHub workflow commands (pull-request annotations); all but the first on standard output.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        deny_warnings: bool,
        /// Show every diagnostic: the human and short forms show the first 20 of each code
        /// and count the rest (the JSON form always has every one).
        #[arg(long)]
        all: bool,
        /// Skip the analysis of decisions (overlaps, gaps, shadowed and impossible rules).
        #[arg(long)]
        no_analysis: bool,
        /// Stop the analysis after this many milliseconds (it then says its results are incomplete).
        #[arg(long, value_name = "MS", default_value_t = 10_000)]
        analysis_time: u64,
    },
    /// Explain a diagnostic code, such as E0101 or unused-fact.
    Explain {
        /// The code (`E0101`) or name (`unknown-name`).
        code: String,
    },
    /// Import code tables and list the shipped ones.
    Tables {
        #[command(subcommand)]
        command: cli::tables::Command,
    },
    /// Look codes up in the code tables.
    Codes {
        #[command(subcommand)]
        command: cli::codes::Command,
    },
    /// Describe, for each outcome of a decision, which patients get it.
    #[command(alias = "analyze")]
    Analyse(cli::analyse::Analyse),
    /// Show which patients change outcome between two versions of a policy.
    Diff(cli::diff::Diff),
    /// Rewrite policy files in the canonical style.
    Fmt(cli::fmt::Fmt),
    /// Run the `test` blocks of the policies.
    Test(cli::test::Test),
    /// Compile each policy to a decision artifact (`medpol.decision/2` JSON).
    Build(cli::build::Build),
    /// Evaluate a patient's facts with a policy or an artifact.
    Eval(cli::eval::Eval),
    /// Run the Da Vinci CRD service (CDS Hooks) over the policies and their FHIR binding.
    Serve(cli::serve::Serve),
    /// Decide the calls of `medpol serve`'s audit log again and show what changed.
    Replay(cli::serve::Replay),
    /// Publish reports from the policies: the list of services that need prior authorization.
    Report {
        #[command(subcommand)]
        command: cli::report::Command,
    },
    /// Run the language server on standard input and output, for editors.
    Lsp,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Short,
    Json,
    /// SARIF 2.1.0 on standard output, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands on standard output, to annotate a pull request.
    Github,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            paths,
            format,
            deny_warnings,
            all,
            no_analysis,
            analysis_time,
        } => {
            let options = medpol::driver::Options {
                analysis: (!no_analysis).then(|| medpol::analyse::Options {
                    time_limit: std::time::Duration::from_millis(analysis_time),
                    ..medpol::analyse::Options::default()
                }),
            };
            let shown = Shown {
                format,
                deny_warnings,
                all,
            };
            check(paths, &shown, &options)
        }
        Command::Explain { code } => explain(&code),
        Command::Tables { command } => cli::tables::run(command),
        Command::Codes { command } => cli::codes::run(command),
        Command::Analyse(args) => cli::analyse::run(args),
        Command::Diff(args) => cli::diff::run(args),
        Command::Fmt(args) => cli::fmt::run(args),
        Command::Test(args) => cli::test::run(args),
        Command::Build(args) => cli::build::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Serve(args) => cli::serve::serve(args),
        Command::Replay(args) => cli::serve::replay(args),
        Command::Report { command } => cli::report::run(command),
        Command::Lsp => match medpol::lsp::serve_stdio() {
            Ok(medpol::lsp::Ending::AfterShutdown) => ExitCode::SUCCESS,
            // The protocol's status for an `exit` (or the end of the input) without `shutdown`.
            Ok(medpol::lsp::Ending::WithoutShutdown) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(USAGE)
            }
        },
    }
}

/// Exit code for a usage or I/O problem.
const USAGE: u8 = 2;

/// How `medpol check` reports what it found.
struct Shown {
    format: Format,
    deny_warnings: bool,
    /// Every diagnostic, not the first of each code.
    all: bool,
}

fn check(paths: Vec<PathBuf>, shown: &Shown, options: &medpol::driver::Options) -> ExitCode {
    let Shown {
        format,
        deny_warnings,
        all,
    } = *shown;
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    };
    let report = match medpol::driver::check_paths(&paths, options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    let (diagnostics, counts) = if all || matches!(format, Format::Json | Format::Sarif) {
        (report.diagnostics, String::new())
    } else {
        render::first_of_each_code(&report.diagnostics, "`--all` shows every one")
    };
    let written = match format {
        Format::Human => {
            let color = if std::io::stderr().is_terminal() && !no_color() {
                render::human::Color::Always
            } else {
                render::human::Color::Never
            };
            let mut text = render::human::render(&report.sources, &diagnostics, color);
            text.push_str(&counts);
            text.push_str(&summary(errors, warnings, report.files));
            std::io::stderr().write_all(text.as_bytes())
        }
        Format::Short => {
            let mut text = render::short::render(&report.sources, &diagnostics);
            text.push_str(&counts);
            std::io::stdout().write_all(text.as_bytes())
        }
        Format::Json => render::json::write(
            std::io::stdout().lock(),
            &report.sources,
            &diagnostics,
            report.files,
        ),
        Format::Sarif => {
            render::sarif::write(std::io::stdout().lock(), &report.sources, &diagnostics)
        }
        Format::Github => {
            let mut text = render::github::render(&report.sources, &diagnostics);
            text.push_str(&counts);
            text.push_str(&summary(errors, warnings, report.files));
            std::io::stdout().write_all(text.as_bytes())
        }
    };
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write the report: {e}");
        return ExitCode::from(USAGE);
    }
    if errors > 0 || (deny_warnings && warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{} {word}s", render::thousands(n))
    }
}

fn summary(errors: usize, warnings: usize, files: usize) -> String {
    let files = plural(files, "file");
    match (errors, warnings) {
        (0, 0) => format!("checked {files}: no problems\n"),
        (0, w) => format!("checked {files}: {}\n", plural(w, "warning")),
        (e, 0) => format!("checked {files}: {}\n", plural(e, "error")),
        (e, w) => format!(
            "checked {files}: {} and {}\n",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

fn explain(text: &str) -> ExitCode {
    let Some(code) = Code::parse(text) else {
        let known = Code::ALL.iter().flat_map(|c| [c.as_str(), c.name()]);
        match medpol::check::names::suggest(text, known) {
            Some(s) => eprintln!(
                "error: unknown diagnostic code `{}`; did you mean `{s}`?",
                medpol::diagnostic::shown(text)
            ),
            None => eprintln!(
                "error: unknown diagnostic code `{}`; codes look like `E0101` or `unused-fact`",
                medpol::diagnostic::shown(text)
            ),
        }
        return ExitCode::from(USAGE);
    };
    match medpol::explain::explain(code) {
        // Written as every command's output is: a reader that stops early (`| head -1`) is
        // not an error.
        Some(body) => cli::emit(
            &[format!(
                "{} {}: {}\n\n{body}",
                code.as_str(),
                code.name(),
                code.summary()
            )],
            ExitCode::SUCCESS,
        ),
        None => {
            eprintln!("error: `{}` has no explanation yet", code.as_str());
            ExitCode::from(USAGE)
        }
    }
}
