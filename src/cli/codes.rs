//! `medpol codes show` and `medpol codes expand`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use medpol::codes::{CodeForm, System, parse_code};
use medpol::tables::{Entry, Table, TableSet};

use super::{NOT_FOUND, emit, fail, parse_system, table_set};

#[derive(Subcommand)]
pub enum Command {
    /// Show what the code tables say about a code; suggest codes for one that does not exist.
    Show {
        /// The code, such as M48.50XA, 0QU03JZ or 22512.
        code: String,
        #[command(flatten)]
        pick: Pick,
    },
    /// List the codes a range or pattern covers: M48.50XA..M48.58XS, M80.08X-, M80.08X*.
    Expand {
        /// A range `FIRST..LAST`, a pattern ending in `-` or `*`, or a code (its codes).
        pattern: String,
        #[command(flatten)]
        pick: Pick,
    },
    /// Read a code table pasted from a printed policy into `codes` blocks, repairing OCR
    /// damage only on evidence and reporting every change.
    Import(super::paste::Import),
}

/// Which table to read.
#[derive(Args)]
pub struct Pick {
    /// The code system (icd10cm, icd10pcs, cpt, hcpcs); by default told from the code.
    #[arg(long, value_parser = parse_system)]
    system: Option<System>,
    /// The release to read, such as icd10cm-2025; by default the newest.
    #[arg(long)]
    release: Option<String>,
    /// A table file to read besides the shipped ones (a project's own CPT table); may repeat.
    #[arg(long = "table", value_name = "FILE")]
    tables: Vec<PathBuf>,
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Show { code, pick } => show(&code, &pick),
        Command::Expand { pattern, pick } => expand(&pattern, &pick),
        Command::Import(args) => super::paste::run(&args),
    }
}

/// How the code system of a code was told.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Told {
    /// By `--system` or `--release`.
    Given,
    /// By the code's form (`72148`: five digits, CPT).
    Form,
    /// By the closest suggestion, for a code no system's form fits.
    Suggestions,
}

/// The characters an ICD-10-PCS code can start with: its sections.
const PCS_SECTIONS: &str = "0123456789BCDFGHX";

/// The system of a code or pattern as written: the one whose form it has (five digits, or
/// four and `F`, `T` or `U`, for CPT; a letter and four digits for HCPCS; seven letters and
/// digits starting with a section for ICD-10-PCS; a letter, two characters and an optional
/// dot and more for ICD-10-CM); when several have it (`2251*` is a CPT and an ICD-10-PCS
/// pattern), the one whose tables have codes starting with it; for a code no form fits, the
/// one with the closest suggestion (`M4850XA` has seven characters, but no PCS section comes
/// first: it is an ICD-10-CM code without its dot).
fn infer_system(set: &TableSet, written: &str) -> Option<(System, Told)> {
    let fits: Vec<System> = System::ALL
        .iter()
        .copied()
        .filter(|s| parse_code(*s, written).is_ok())
        .filter(|s| {
            *s != System::Icd10Pcs
                || written
                    .trim()
                    .starts_with(|c: char| PCS_SECTIONS.contains(c.to_ascii_uppercase()))
        })
        .collect();
    if let [one] = fits.as_slice() {
        return Some((*one, Told::Form));
    }
    if fits.len() > 1 {
        let prefix = match fits.first().map(|s| parse_code(*s, written)) {
            Some(Ok(CodeForm::Exact(c) | CodeForm::Prefix(c))) => c,
            _ => return None,
        };
        let known: Vec<System> = fits
            .into_iter()
            .filter(|s| {
                set.latest(*s)
                    .is_some_and(|t| t.prefix(&prefix).next().is_some())
            })
            .collect();
        return match known.as_slice() {
            [one] => Some((*one, Told::Form)),
            _ => None,
        };
    }
    closest(set, written).map(|t| (t.system(), Told::Suggestions))
}

/// The system, how it was told and, when `--release` is given, the table.
fn pick<'s>(
    set: &'s TableSet,
    pick: &Pick,
    written: &str,
) -> Result<(System, Told, Option<&'s Table>), ExitCode> {
    let table = match &pick.release {
        Some(id) => Some(set.get(id).ok_or_else(|| {
            let known: Vec<&str> = set.iter().map(Table::release).collect();
            fail(&format!(
                "no release `{id}`; the releases are {}",
                known.join(", ")
            ))
        })?),
        None => None,
    };
    let system = match (table, pick.system) {
        (Some(t), Some(s)) if t.system() != s => {
            return Err(fail(&format!(
                "{} is a {} release, not {}",
                t.release(),
                t.system().display(),
                s.display()
            )));
        }
        (Some(t), _) => (t.system(), Told::Given),
        (None, Some(s)) => (s, Told::Given),
        (None, None) => infer_system(set, written).ok_or_else(|| {
            fail(&format!(
                "cannot tell the code system of `{written}`: give --system"
            ))
        })?,
    };
    Ok((system.0, system.1, table))
}

fn status(e: &Entry<'_>) -> &'static str {
    if e.is_billable() {
        "billable"
    } else {
        "header"
    }
}

fn show(written: &str, how: &Pick) -> ExitCode {
    let set = match table_set(&how.tables) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (system, told, chosen) = match pick(&set, how, written) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let code = match parse_code(system, written) {
        Ok(CodeForm::Exact(c)) => c,
        _ => written.trim().to_ascii_uppercase(),
    };
    let releases: Vec<&Table> = set.releases(system).collect();
    let found = match chosen {
        Some(t) => t.lookup(&code),
        None => releases.iter().rev().find_map(|t| t.lookup(&code)),
    };
    let presence: Vec<String> = releases
        .iter()
        .map(|t| match t.lookup(&code) {
            Some(e) => format!("{}: {}", t.release(), status(&e)),
            None => format!("{}: absent", t.release()),
        })
        .collect();
    let mut out = Vec::new();
    let Some(entry) = found else {
        // Suggestions come from the system the code's form (or the user) names; only a code
        // no form fits is suggested from the system with the closest code.
        let table = match (chosen, told) {
            (Some(t), _) => Some(t),
            (None, Told::Suggestions) => closest(&set, written),
            (None, Told::Given | Told::Form) => releases.last().copied(),
        };
        let Some(table) = table else {
            return fail(&format!(
                "no {} table: give one with --table",
                system.display()
            ));
        };
        say!(
            out,
            "no code `{}` in {} ({})",
            written.trim(),
            table.release(),
            table.system().display()
        );
        let searched: Vec<&str> = match chosen {
            Some(t) => vec![t.release()],
            None => releases.iter().rev().map(|t| t.release()).collect(),
        };
        let why = match told {
            Told::Given => "as asked",
            Told::Form => "told from the code's form",
            Told::Suggestions => "no system's form fits; its codes are the closest",
        };
        say!(
            out,
            "  searched    {} ({}, {why})",
            searched.join(", "),
            system.display()
        );
        if releases.iter().any(|t| t.contains(&code)) {
            say!(out, "  releases    {}", presence.join("; "));
        }
        // A table of selected codes (the shipped CPT table) cannot say a code does not exist,
        // and its few codes make poor suggestions.
        if table.status(&code).is_none() {
            say!(
                out,
                "{} lists only some {} codes: `{}` may still be one",
                table.release(),
                table.system().display(),
                written.trim()
            );
            return emit(&out, ExitCode::from(NOT_FOUND));
        }
        if let Some((base, allowed)) = seventh_hint(table, &code) {
            say!(out, "`{base}` takes a 7th character: {allowed}");
        }
        let suggestions = table.suggest(written);
        if !suggestions.is_empty() {
            say!(out, "did you mean:");
            for s in suggestions {
                let desc = table.lookup(&s.code).map(|e| e.long()).unwrap_or_default();
                say!(out, "  {:<9} {desc}", s.code);
                let header = if s.billable { "" } else { "; a header" };
                say!(out, "  {:<9} ({}{header})", "", s.describe());
            }
        }
        return emit(&out, ExitCode::from(NOT_FOUND));
    };
    print_entry(&mut out, &entry);
    say!(out, "  releases    {}", presence.join("; "));
    emit(&out, ExitCode::SUCCESS)
}

/// For a code one 7th character away from an existing base (`M48.50XK`): the base and the
/// characters it allows.
fn seventh_hint(table: &Table, code: &str) -> Option<(String, String)> {
    let mut base: String = code.to_string();
    base.pop()?;
    while base.ends_with(['X', '.']) {
        base.pop();
    }
    let entry = table.lookup(&base).filter(|e| e.needs_seventh())?;
    let rule = entry.seventh()?;
    let allowed: Vec<String> = rule
        .chars()
        .iter()
        .map(|(c, m)| format!("{c} ({m})"))
        .collect();
    Some((base, allowed.join(", ")))
}

/// The newest release, of any system, with the cheapest suggestion for a code.
fn closest<'s>(set: &'s TableSet, written: &str) -> Option<&'s Table> {
    System::ALL
        .iter()
        .filter_map(|s| {
            let t = set.latest(*s)?;
            Some((t.suggest(written).first()?.cost, t))
        })
        .min_by_key(|(cost, _)| *cost)
        .map(|(_, t)| t)
}

fn print_entry(out: &mut Vec<String>, e: &Entry<'_>) {
    let t = e.table();
    say!(out, "{}  {}", e.code(), e.long());
    say!(
        out,
        "  release     {} ({}, effective {})",
        t.release(),
        t.system().display(),
        t.effective()
    );
    if let Some(short) = e.short().filter(|s| *s != e.long()) {
        say!(out, "  short       {short}");
    }
    if e.is_billable() {
        say!(out, "  billable    yes: valid on a claim");
    } else {
        let below = t.billable_under(e.code()).count();
        say!(
            out,
            "  billable    no: a header, with {below} billable codes below it"
        );
    }
    for (i, a) in e.ancestors().iter().enumerate() {
        let label = if i == 0 { "parents" } else { "" };
        say!(out, "  {label:<11} {:<9} {}", a.code(), a.long());
    }
    let children = e.children();
    for (i, c) in children.iter().take(12).enumerate() {
        let label = if i == 0 { "children" } else { "" };
        say!(out, "  {label:<11} {:<9} {}", c.code(), c.long());
    }
    if children.len() > 12 {
        say!(out, "  {:<11} ... and {} more", "", children.len() - 12);
    }
    if let Some(rule) = e.seventh() {
        let chars = rule.chars();
        let list: Vec<String> = chars.iter().map(|(c, _)| c.to_string()).collect();
        let what = match e.seventh_char() {
            Some(c) => format!(
                "`{c}`, one of {} (rule of {})",
                list.join(", "),
                rule.defined_at()
            ),
            None if e.needs_seventh() => format!(
                "required: one of {} (rule of {})",
                list.join(", "),
                rule.defined_at()
            ),
            None => format!(
                "{} for the codes below (rule of {})",
                list.join(", "),
                rule.defined_at()
            ),
        };
        say!(out, "  7th char    {what}");
        if let Some(n) = rule.placeholders().filter(|n| *n > 0) {
            say!(out, "  {:<11} after {n} placeholder X", "");
        }
        for (c, meaning) in chars {
            say!(out, "  {:<11} {c}  {meaning}", "");
        }
    }
    for (i, n) in e.excludes1().iter().enumerate() {
        let label = if i == 0 { "Excludes1" } else { "" };
        let refs: Vec<String> = n.refs.iter().map(ToString::to_string).collect();
        let refs = if refs.is_empty() {
            "(no code)".to_string()
        } else {
            refs.join(", ")
        };
        let from = if n.from == e.code() {
            String::new()
        } else {
            format!("  [at {}]", n.from)
        };
        say!(out, "  {label:<11} {refs}: {}{from}", n.note);
    }
    if e.is_addon() {
        say!(
            out,
            "  add-on      reported only with {}",
            e.primaries().join(" or ")
        );
    }
}

/// What a range or pattern covers, in table order.
fn expand(written: &str, how: &Pick) -> ExitCode {
    let set = match table_set(&how.tables) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let first_part = written.split("..").next().unwrap_or(written);
    let (system, _, chosen) = match pick(&set, how, first_part) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(table) = chosen.or_else(|| set.latest(system)) else {
        return fail(&format!(
            "no {} table: give one with --table",
            system.display()
        ));
    };
    let exact = |text: &str| match parse_code(system, text.trim()) {
        Ok(CodeForm::Exact(c)) => Ok(c),
        Ok(CodeForm::Prefix(_)) => Err(fail(&format!(
            "`{text}` is a pattern; a range goes from a code to a code"
        ))),
        Err(e) => Err(fail(&format!(
            "`{text}` is not a valid {} code: {}",
            system.display(),
            e.reason
        ))),
    };
    let entries: Vec<Entry<'_>> = if let Some((lo, hi)) = written.split_once("..") {
        let (lo, hi) = match (exact(lo), exact(hi)) {
            (Ok(lo), Ok(hi)) => (lo, hi),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        if lo > hi {
            return fail(&format!(
                "the range `{written}` is empty: `{lo}` comes after `{hi}`"
            ));
        }
        for end in [&lo, &hi] {
            if !table.contains(end) {
                eprintln!("note: `{end}` is not a code in {}", table.release());
            }
        }
        table.range(&lo, &hi).filter(Entry::is_billable).collect()
    } else {
        let prefix = match parse_code(system, written.trim()) {
            Ok(CodeForm::Exact(c) | CodeForm::Prefix(c)) => c,
            Err(e) => {
                return fail(&format!(
                    "`{written}` is not a valid {} code or pattern: {}",
                    system.display(),
                    e.reason
                ));
            }
        };
        table.billable_under(&prefix).collect()
    };
    let mut out = Vec::new();
    if entries.is_empty() {
        say!(
            out,
            "`{written}` covers no billable code in {}",
            table.release()
        );
        return emit(&out, ExitCode::from(NOT_FOUND));
    }
    let mut groups: Vec<(Option<Entry<'_>>, Vec<Entry<'_>>)> = Vec::new();
    for e in entries.iter().copied() {
        let parent = e.parent();
        match groups.last_mut() {
            Some((p, list)) if *p == parent => list.push(e),
            _ => groups.push((parent, vec![e])),
        }
    }
    let grouped = groups.iter().any(|(p, _)| p.is_some());
    let codes = if entries.len() == 1 { "code" } else { "codes" };
    if grouped && system == System::Icd10Cm {
        let subs = if groups.len() == 1 {
            "subcategory"
        } else {
            "subcategories"
        };
        say!(
            out,
            "{written} covers {} billable {codes} in {} {subs} ({}):",
            entries.len(),
            groups.len(),
            table.release()
        );
    } else {
        say!(
            out,
            "{written} covers {} billable {codes} ({}):",
            entries.len(),
            table.release()
        );
    }
    for (parent, list) in &groups {
        say!(out);
        let indent = match parent {
            Some(p) => {
                say!(out, "{:<9} {}", p.code(), p.long());
                "  "
            }
            None => "",
        };
        for e in list {
            say!(out, "{indent}{:<9} {}", e.code(), e.long());
        }
    }
    emit(&out, ExitCode::SUCCESS)
}
