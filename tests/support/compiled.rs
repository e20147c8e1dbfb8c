//! Policies checked and compiled in process, as `tests/differential.rs` and
//! `tests/conformance.rs` both need them: without the analysis, so a conflict it would report
//! is compiled as a result to agree on rather than refused.

use std::path::{Path, PathBuf};

use medpol::compile::{self, Compiled};
use medpol::driver::{self, CheckedProject};

/// A project (or one file of it) checked and its policies compiled, those of the files asked
/// about only; `None` when the check reports an error. A policy that checks and does not
/// compile is a bug of the compiler: the test fails.
pub fn try_load(path: &Path) -> Option<(CheckedProject, Vec<Compiled>)> {
    let options = driver::Options { analysis: None };
    let mut checked = driver::check_and_keep(&[path.to_path_buf()], &options).ok()?;
    if checked.projects.is_empty() {
        return None;
    }
    let project = checked.projects.remove(0);
    let options = compile::Options {
        root: project.root.clone(),
        ..compile::Options::default()
    };
    let compiled = compile::compile(
        &project.program,
        &project.tables,
        &checked.report.sources,
        &options,
    )
    .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message))
    .into_iter()
    .filter(|c| {
        let file = project.program.policies[c.policy.index()].file;
        project.requested.contains(&file)
    })
    .collect();
    Some((project, compiled))
}

/// Every `.medpol` file under `dir`, sorted.
pub fn medpol_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "medpol") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
