//! The project's FHIR binding (`fhir.yaml`) for the commands that read FHIR: `eval --fhir`,
//! `serve`, `replay`, `report prior-auth`, and `build`, which checks it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use medpol::artifact::Artifact;
use medpol::diagnostic::Severity;
use medpol::render;
use medpol::source::{SourceFile, Sources};
use medpol_fhir::binding::Binding;

use super::fail;

/// The binding's file name in a project folder.
pub const FILE: &str = "fhir.yaml";

/// Compiles the project at `path` and checks its binding (`binding`, or the project's
/// `fhir.yaml`) against it; problems are shown as `medpol check` shows diagnostics.
pub fn load(path: &Path, binding: Option<&Path>) -> Result<Binding, ExitCode> {
    let built = super::build::compile(path)?;
    let artifacts: Vec<Artifact> = built.compiled.iter().map(|c| c.artifact.clone()).collect();
    let file = match binding {
        Some(b) => b.to_path_buf(),
        None => match default_file(path) {
            Some(f) => f,
            None => {
                return Err(fail(&format!(
                    "no `{FILE}` in the project of `{}`; give one with `--binding FILE`",
                    path.display()
                )));
            }
        },
    };
    match check(&file, &artifacts, true)? {
        Some(b) => Ok(b),
        None => Err(ExitCode::from(1)),
    }
}

/// The project's `fhir.yaml`, when it has one.
pub fn default_file(path: &Path) -> Option<PathBuf> {
    let root = medpol::project::project_root(path).ok()?;
    let file = root.join(FILE);
    file.is_file().then_some(file)
}

/// Reads and checks a binding file against artifacts (`whole`: every artifact of its project),
/// showing its diagnostics on standard error. `Ok(None)`: it has errors (shown).
pub fn check(
    file: &Path,
    artifacts: &[Artifact],
    whole: bool,
) -> Result<Option<Binding>, ExitCode> {
    let text = match medpol::input::read_text(file, medpol::input::Kind::Project) {
        Ok(t) => t,
        Err(e) => return Err(fail(&format!("cannot read `{}`: {e}", file.display()))),
    };
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new(
        medpol::project::display(file),
        Some(file.to_path_buf()),
        text,
    ));
    let text = sources.get(id).map(|f| f.text.as_str()).unwrap_or("");
    let (binding, diagnostics) = medpol::fhir::bind(id, text, artifacts, whole);
    if !diagnostics.is_empty() {
        let out = render::human::render(&sources, &diagnostics, render::human::Color::Never);
        let _ = std::io::stderr().write_all(out.as_bytes());
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        eprintln!(
            "error: the FHIR binding `{}` has {errors} error{}",
            file.display(),
            if errors == 1 { "" } else { "s" }
        );
    }
    Ok(binding)
}
