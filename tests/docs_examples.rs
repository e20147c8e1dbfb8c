//! The examples of `docs/language.md` are checked, so that the language reference cannot drift
//! from what the checker accepts.
//!
//! The info string of a fenced block says what the block must do:
//!
//! - ` ```medpol `: a complete file that checks without a single diagnostic;
//! - ` ```medpol-warning CODE... `: no error, at least one warning, and every CODE listed;
//! - ` ```medpol-error CODE... `: at least one error, and every CODE listed;
//! - `file=PATH` after a medpol tag places the block at PATH in one project made of all such
//!   blocks, checked through the project loader, because imports only resolve between files;
//! - ` ```yaml `: a `medpol.yaml` that loads without a diagnostic next to a clean policy.
//!
//! Other blocks (` ```sh `, untagged syntax sketches) are prose.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use medpol::check::ImportMap;
use medpol::diagnostic::{Code, Diagnostic, Severity};
use medpol::source::{SourceFile, Sources};

const DOCUMENT: &str = "docs/language.md";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Clean,
    Warning,
    Error,
}

#[derive(Debug)]
enum Kind {
    Medpol(Expect),
    Yaml,
}

#[derive(Debug)]
struct Block {
    /// One-based line of the opening fence, for messages.
    line: usize,
    kind: Kind,
    codes: Vec<String>,
    file: Option<String>,
    text: String,
}

impl Block {
    fn expect(&self) -> Option<Expect> {
        match self.kind {
            Kind::Medpol(e) => Some(e),
            Kind::Yaml => None,
        }
    }

    fn label(&self) -> String {
        match &self.file {
            Some(f) => format!("{DOCUMENT}:{} ({f})", self.line),
            None => format!("{DOCUMENT}:{}", self.line),
        }
    }
}

fn document() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOCUMENT);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The checked blocks of the document. A misspelt tag or attribute fails the test rather than
/// silently leaving an example unchecked.
fn blocks() -> Vec<Block> {
    let text = document();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut open: Option<(usize, String, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut open {
            None => {
                if let Some(info) = line.trim_start().strip_prefix("```") {
                    open = Some((i + 1, info.trim().to_string(), Vec::new()));
                }
            }
            Some((start, info, body)) => {
                if line.trim() != "```" {
                    body.push(line);
                    continue;
                }
                let mut body_text = body.join("\n");
                body_text.push('\n');
                match block(*start, info, body_text) {
                    Ok(Some(b)) => out.push(b),
                    Ok(None) => {}
                    Err(e) => problems.push(format!("{DOCUMENT}:{start}: {e}")),
                }
                open = None;
            }
        }
    }
    if let Some((start, ..)) = open {
        problems.push(format!(
            "{DOCUMENT}:{start}: the code block is never closed"
        ));
    }
    assert!(
        problems.is_empty(),
        "malformed examples:\n{}",
        problems.join("\n")
    );
    out
}

fn block(line: usize, info: &str, text: String) -> Result<Option<Block>, String> {
    let mut words = info.split_whitespace();
    let tag = words.next().unwrap_or("");
    let kind = match tag {
        "medpol" => Kind::Medpol(Expect::Clean),
        "medpol-warning" => Kind::Medpol(Expect::Warning),
        "medpol-error" => Kind::Medpol(Expect::Error),
        "yaml" => Kind::Yaml,
        t if t.starts_with("medpol") => return Err(format!("unknown tag `{t}`")),
        _ => return Ok(None),
    };
    let mut codes = Vec::new();
    let mut file = None;
    for w in words {
        if let Some(f) = w.strip_prefix("file=") {
            let path = Path::new(f);
            if path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
                return Err(format!("`{f}` must be a path inside the example project"));
            }
            file = Some(f.to_string());
        } else if Code::parse(w).is_some_and(|c| c.as_str() == w) {
            codes.push(w.to_string());
        } else {
            return Err(format!(
                "unknown attribute `{w}` (expected a code such as E0104 or file=PATH)"
            ));
        }
    }
    if matches!(kind, Kind::Yaml) && (file.is_some() || !codes.is_empty()) {
        return Err("a yaml block takes no attributes".to_string());
    }
    Ok(Some(Block {
        line,
        kind,
        codes,
        file,
        text,
    }))
}

/// Why the diagnostics of a block do not match its tag, if they do not.
fn judge(block: &Block, diagnostics: &[Diagnostic], shown: &str) -> Option<String> {
    let expect = block.expect()?;
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let mut wrong = Vec::new();
    // Notes inform (a `first` rule some earlier rule partly takes over) and do not make an
    // example unclean.
    let not_notes = diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .count();
    match expect {
        Expect::Clean if not_notes > 0 => {
            wrong.push("must check without errors or warnings".to_string())
        }
        Expect::Warning if errors > 0 || warnings == 0 => {
            wrong.push("must give at least one warning and no error".to_string())
        }
        Expect::Error if errors == 0 => wrong.push("must give at least one error".to_string()),
        _ => {}
    }
    let found: BTreeSet<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
    for code in &block.codes {
        if !found.contains(code.as_str()) {
            wrong.push(format!("must report {code}"));
        }
    }
    if wrong.is_empty() {
        return None;
    }
    Some(format!(
        "{}: {}; the checker reported:\n{shown}",
        block.label(),
        wrong.join(", ")
    ))
}

/// A fresh folder for one test (tests of this file run in parallel, so each has its own), and
/// its canonical path, which the reported paths are compared with. The folder is removed when
/// the first value is dropped, also by a failing test.
fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("medpol-docs-{name}-"))
        .tempdir()
        .expect("create a scratch folder");
    let path = dir.path().canonicalize().expect("canonical scratch folder");
    (dir, path)
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the example's folder");
    }
    std::fs::write(path, text).expect("write the example");
}

#[test]
fn the_document_has_checked_examples() {
    let blocks = blocks();
    let count = |f: &dyn Fn(&Block) -> bool| blocks.iter().filter(|b| f(b)).count();
    assert!(
        count(&|b| b.expect() == Some(Expect::Clean) && b.file.is_none()) > 0,
        "{DOCUMENT} has no ```medpol examples"
    );
    assert!(
        count(&|b| b.expect() == Some(Expect::Error)) > 0,
        "{DOCUMENT} has no ```medpol-error examples"
    );
    assert!(
        count(&|b| b.file.is_some()) > 0,
        "{DOCUMENT} has no multi-file examples"
    );
    assert!(
        count(&|b| matches!(b.kind, Kind::Yaml)) > 0,
        "{DOCUMENT} has no yaml examples"
    );
}

#[test]
fn single_file_examples_check_as_marked() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for block in blocks()
        .iter()
        .filter(|b| b.file.is_none() && b.expect().is_some())
    {
        // Blank lines in front make the reported lines those of the document.
        let text = format!("{}{}", "\n".repeat(block.line), block.text);
        let mut sources = Sources::new();
        let id = sources.add(SourceFile::new(DOCUMENT, None, text.clone()));
        let parsed = medpol::syntax::parse(id, &text);
        if parsed.file.imports().next().is_some() {
            // Without the imported file every name would go unchecked.
            failures.push(format!(
                "{}: an example with imports needs file=PATH",
                block.label()
            ));
            continue;
        }
        let result = medpol::check::check(
            std::slice::from_ref(&parsed.file),
            &ImportMap::new(),
            medpol::tables::TableSet::shipped(),
            &[],
        );
        let mut diagnostics = parsed.diagnostics;
        diagnostics.extend(result.diagnostics.iter().cloned());
        // As `medpol check` does: the analysis runs on a model without errors.
        if !diagnostics.iter().any(|d| d.is_error()) {
            let options = medpol::analyse::Options {
                tables: Some(medpol::tables::TableSet::shipped().clone()),
                ..medpol::analyse::Options::default()
            };
            diagnostics
                .extend(medpol::analyse::analyse(result.valid().unwrap(), &options).diagnostics);
        }
        let shown = medpol::render::short::render(&sources, &diagnostics);
        failures.extend(judge(block, &diagnostics, &shown));
        checked += 1;
    }
    assert!(checked > 0, "no single-file examples in {DOCUMENT}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn multi_file_examples_check_as_marked() {
    let blocks = blocks();
    let named: Vec<&Block> = blocks.iter().filter(|b| b.file.is_some()).collect();
    assert!(!named.is_empty(), "no multi-file examples in {DOCUMENT}");
    let (_scratch, dir) = scratch("project");
    // An empty project file pins the project folder here, whatever folders above hold.
    write(&dir.join("medpol.yaml"), "");
    let mut places = Vec::new();
    for b in &named {
        let file = b.file.as_deref().unwrap_or_default();
        let place = dir.join(file);
        assert!(
            !places.contains(&place),
            "{}: {file} is used by two examples",
            b.label()
        );
        write(&place, &b.text);
        places.push(place);
    }
    let report = medpol::driver::check_paths(
        std::slice::from_ref(&dir),
        &medpol::driver::Options::default(),
    )
    .expect("the example project loads");
    let file_of = |d: &Diagnostic| {
        let span = d.primary_span()?;
        let path = report.sources.get(span.file)?.path.as_ref()?;
        places.iter().position(|p| p == path)
    };
    let mut per_block: Vec<Vec<Diagnostic>> = vec![Vec::new(); named.len()];
    let mut stray = Vec::new();
    for d in &report.diagnostics {
        match file_of(d).and_then(|i| per_block.get_mut(i)) {
            Some(list) => list.push(d.clone()),
            None => stray.push(d.clone()),
        }
    }
    let mut failures = Vec::new();
    if !stray.is_empty() {
        let shown = medpol::render::short::render(&report.sources, &stray);
        failures.push(format!("diagnostics outside the examples:\n{shown}"));
    }
    for (b, diagnostics) in named.iter().zip(&per_block) {
        let shown = medpol::render::short::render(&report.sources, diagnostics);
        failures.extend(judge(b, diagnostics, &shown));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn project_file_examples_load_cleanly() {
    const POLICY: &str = "policy \"docs-yaml\" { title \"Docs\" version \"1\" effective 2025-01-01 }\n\
        fact a: bool\n\
        decision d (first) { outcomes { yes, no } rule r when a then yes otherwise no }\n";
    let mut failures = Vec::new();
    let mut checked = 0;
    for b in blocks().iter().filter(|b| matches!(b.kind, Kind::Yaml)) {
        let (_scratch, dir) = scratch(&format!("yaml-{}", b.line));
        write(&dir.join("medpol.yaml"), &b.text);
        write(&dir.join("policy.medpol"), POLICY);
        match medpol::driver::check_paths(
            std::slice::from_ref(&dir),
            &medpol::driver::Options::default(),
        ) {
            Ok(report) if report.diagnostics.is_empty() => {}
            Ok(report) => {
                let shown = medpol::render::short::render(&report.sources, &report.diagnostics);
                failures.push(format!(
                    "{}: the project file gives diagnostics:\n{shown}",
                    b.label()
                ));
            }
            Err(e) => failures.push(format!("{}: the project does not load: {e}", b.label())),
        }
        checked += 1;
    }
    assert!(checked > 0, "no yaml examples in {DOCUMENT}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
