//! `medpol report prior-auth`: the public list of services that need prior authorization, per
//! product line, as CSV or a self-contained HTML page (`docs/report.md`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use medpol::report::{self, PriorAuthList, Row};
use medpol::tables::TableSet;

use super::{USAGE, fail};

#[derive(Subcommand)]
pub enum Command {
    /// List the services that need prior authorization, per product line (CMS-0057-F), from
    /// the policies the CRD service answers with.
    PriorAuth(PriorAuth),
}

#[derive(Args)]
pub struct PriorAuth {
    /// A policy file or project folder (default: the project in the current folder).
    path: Option<PathBuf>,
    /// The FHIR binding (default: the project's `fhir.yaml`).
    #[arg(long, value_name = "FILE")]
    binding: Option<PathBuf>,
    /// CSV (RFC 4180, lines ending in `\n`) or one self-contained HTML page.
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Write the list to this file instead of standard output.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also list the services that need no prior authorization, or that the policy does not
    /// address.
    #[arg(long)]
    all: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Csv,
    Html,
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::PriorAuth(args) => prior_auth(args),
    }
}

fn prior_auth(args: PriorAuth) -> ExitCode {
    let path = args.path.unwrap_or_else(|| PathBuf::from("."));
    // Compiled once: the binding is checked against the artifacts, and the codes are
    // described from the project's own tables (its licensed CPT table, say).
    let built = match super::build::compile(&path) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let file = match args.binding {
        Some(b) => b,
        None => match super::fhir::default_file(&path) {
            Some(f) => f,
            None => {
                return fail(&format!(
                    "no `{}` in the project of `{}`; give one with `--binding FILE`",
                    super::fhir::FILE,
                    path.display()
                ));
            }
        },
    };
    let artifacts: Vec<_> = built.compiled.iter().map(|c| c.artifact.clone()).collect();
    let binding = match super::fhir::check(&file, &artifacts, true) {
        Ok(Some(b)) => b,
        Ok(None) => return ExitCode::from(1),
        Err(code) => return code,
    };
    let tables = built.tables.first().unwrap_or_else(|| TableSet::shipped());
    let mut list = report::prior_auth(&binding, tables);
    if list.policies.is_empty() {
        eprintln!(
            "warning: no policy of `{}` has a `pa-needed` mapping: the list is empty",
            file.display()
        );
    }
    if !args.all {
        list.rows.retain(|r| r.requirement.listed());
    }
    let text = match args.format {
        Format::Csv => csv(&list),
        Format::Html => html(&list, &super::today().to_string(), args.all),
    };
    match args.out {
        Some(out) => match std::fs::write(&out, text) {
            Ok(()) => {
                eprintln!("wrote {}", out.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("cannot write `{}`: {e}", out.display())),
        },
        None => match std::io::stdout().write_all(text.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                eprintln!("error: cannot write the output: {e}");
                ExitCode::from(USAGE)
            }
            _ => ExitCode::SUCCESS,
        },
    }
}

/// What a row group is called: its product line, or every product line.
fn product_name(product: Option<&str>) -> &str {
    product.unwrap_or("all products")
}

// ------------------------------------------------------------------ CSV

const COLUMNS: [&str; 11] = [
    "policy_id",
    "policy_title",
    "policy_version",
    "effective",
    "product_line",
    "code_system",
    "code",
    "description",
    "prior_auth",
    "condition",
    "rules",
];

/// RFC 4180: a header row, a field quoted when it holds a comma, a quote or a line break
/// (quotes doubled); lines end in `\n`.
fn csv(list: &PriorAuthList) -> String {
    let mut out = String::new();
    line(&mut out, COLUMNS.iter().copied());
    for r in &list.rows {
        let rules = r.rules.join("; ");
        line(
            &mut out,
            [
                r.policy.as_str(),
                &r.title,
                &r.version,
                r.effective.as_deref().unwrap_or(""),
                product_name(r.product.as_deref()),
                r.system.display(),
                &r.code,
                &r.description,
                r.requirement.code(),
                &r.condition,
                &rules,
            ],
        );
    }
    out
}

fn line<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}

// ------------------------------------------------------------------ HTML

/// Text made safe for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1a1a1a;line-height:1.4}\
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;width:100%;font-size:.9rem}\
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f0f0f0}tbody tr:nth-child(even){background:#fafafa}\
.code{font-family:ui-monospace,monospace}td.code{white-space:nowrap}\
.required{font-weight:600}.note{color:#555}";

/// One page: a heading with the date and the policies' versions, what the words mean, and a
/// table per product line.
fn html(list: &PriorAuthList, date: &str, all: bool) -> String {
    let versions: Vec<String> = list
        .policies
        .iter()
        .map(|p| format!("{} {}", p.id, p.version))
        .collect();
    let heading = if all {
        "Prior authorization of services"
    } else {
        "Services that require prior authorization"
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} ({}), generated {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(heading),
        esc(&versions.join(", ")),
        esc(date),
    );
    let _ = writeln!(out, "<h1>{}</h1>", esc(heading));
    let _ = writeln!(
        out,
        "<p>Generated {} from these coverage policies:</p>\n<ul>",
        esc(date)
    );
    for p in &list.policies {
        let effective = p
            .effective
            .as_deref()
            .map(|e| format!(", effective {}", esc(e)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<li>{} (<span class=\"code\">{}</span>), version {}{effective}</li>",
            esc(&p.title),
            esc(&p.id),
            esc(&p.version),
        );
    }
    out.push_str("</ul>\n");
    out.push_str(
        "<p class=\"note\"><strong>Required</strong>: prior authorization is required for every \
         order of the service. <strong>Depends</strong>: it is required in some cases; the \
         column <em>When</em> says in which, or what it depends on.",
    );
    if all {
        out.push_str(
            " <strong>Not required</strong>: no prior authorization is needed. \
             <strong>Not addressed</strong>: the policy does not say.",
        );
    }
    out.push_str("</p>\n");
    for product in groups(list) {
        let rows: Vec<&Row> = list
            .rows
            .iter()
            .filter(|r| r.product.as_deref() == product)
            .collect();
        let title = match product {
            Some(p) => format!("Product line: {}", esc(p)),
            None => "All product lines".to_string(),
        };
        let _ = writeln!(out, "<h2>{title}</h2>");
        if rows.is_empty() {
            let none = if all {
                "No service is listed for this product line."
            } else {
                "No service of these policies requires prior authorization for this product line."
            };
            let _ = writeln!(out, "<p>{none}</p>");
            continue;
        }
        out.push_str(
            "<table>\n<thead><tr><th>Policy</th><th>Code system</th><th>Code</th>\
             <th>Description</th><th>Prior authorization</th><th>When</th><th>Rules</th>\
             </tr></thead>\n<tbody>\n",
        );
        for r in rows {
            let (class, word) = match r.requirement {
                report::Requirement::Required => ("required", "Required"),
                report::Requirement::Depends => ("depends", "Depends"),
                report::Requirement::NotRequired => ("not-required", "Not required"),
                report::Requirement::NotAddressed => ("not-addressed", "Not addressed"),
            };
            let _ = writeln!(
                out,
                "<tr><td>{} ({})</td><td>{}</td><td class=\"code\">{}</td><td>{}</td>\
                 <td class=\"{class}\">{word}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.title),
                esc(&r.policy),
                esc(r.system.display()),
                esc(&r.code),
                esc(&r.description),
                esc(&r.condition),
                esc(&r.rules.join(", ")),
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The row groups: every product line of the policies (policies by id, each fact's values in
/// order), after the group of policies without a product fact, when there is one.
fn groups(list: &PriorAuthList) -> Vec<Option<&str>> {
    let mut out: Vec<Option<&str>> = Vec::new();
    if list.policies.iter().any(|p| p.products.is_empty()) {
        out.push(None);
    }
    for p in &list.policies {
        for v in &p.products {
            if !out.contains(&Some(v.as_str())) {
                out.push(Some(v.as_str()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{esc, line};

    #[test]
    fn fields_are_quoted_only_when_they_need_it() {
        let mut out = String::new();
        line(&mut out, ["a", "b,c", "say \"hi\"", "two\nlines", ""]);
        assert_eq!(out, "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\",\n");
    }

    #[test]
    fn html_text_is_escaped() {
        assert_eq!(
            esc("<b> & \"q\" 'a'"),
            "&lt;b&gt; &amp; &quot;q&quot; &#39;a&#39;"
        );
    }
}
