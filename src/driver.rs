//! The whole check of some paths, as `medpol check` runs it: load each project, parse, check,
//! apply the project's lint levels, and keep the diagnostics of the files asked about.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::analyse;
use crate::check;
use crate::diagnostic::{Diagnostic, Severity, sort_diagnostics};
use crate::project::{self, Level, LoadError, Project};
use crate::source::Sources;

/// What a check found, with the sources needed to show it.
#[derive(Debug, Default)]
pub struct Report {
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
    /// How many policy files were checked and reported on.
    pub files: usize,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// What a check runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The analysis of decisions, with its limits; `None` skips it.
    pub analysis: Option<analyse::Options>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            analysis: Some(analyse::Options::default()),
        }
    }
}

/// Checks files and folders. Paths in one project are loaded together.
pub fn check_paths(paths: &[PathBuf], options: &Options) -> Result<Report, LoadError> {
    let groups = by_project(paths)?;
    let mut report = Report::default();
    for (root, targets) in groups {
        let project = project::load(&mut report.sources, &root, &targets)?;
        let (diagnostics, files) = check_project(project, options);
        report.diagnostics.extend(diagnostics);
        report.files += files;
    }
    sort_diagnostics(&mut report.diagnostics);
    Ok(report)
}

/// The paths asked about, grouped by the project folder each belongs to.
fn by_project(paths: &[PathBuf]) -> Result<BTreeMap<PathBuf, Vec<PathBuf>>, LoadError> {
    let mut groups: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for path in paths {
        groups
            .entry(project::project_root(path)?)
            .or_default()
            .push(path.clone());
    }
    Ok(groups)
}

/// A check with each decision described: which patients get which outcome.
#[derive(Debug, Default)]
pub struct Described {
    pub report: Report,
    /// The decisions of the files asked about, when the check found no error.
    pub summaries: Vec<analyse::describe::Summary>,
}

/// Checks and analyses files and folders, describing the decisions of the files asked about.
pub fn describe_paths(paths: &[PathBuf], options: &Options) -> Result<Described, LoadError> {
    let options = Options {
        analysis: Some(analyse::Options {
            describe: true,
            ..options.analysis.clone().unwrap_or_default()
        }),
    };
    let checked = check_and_keep(paths, &options)?;
    let mut out = Described {
        report: checked.report,
        summaries: Vec::new(),
    };
    for project in checked.projects {
        for (id, summary) in project.summaries {
            if project
                .program
                .decision(id)
                .is_some_and(|d| project.requested.contains(&d.file))
            {
                out.summaries.push(summary);
            }
        }
    }
    Ok(out)
}

/// Checks one loaded project; returns its reported diagnostics and how many files they cover.
pub fn check_project(mut project: Project, options: &Options) -> (Vec<Diagnostic>, usize) {
    let mut checked = check::check(
        &project.files,
        &project.imports,
        &project.tables,
        &project.allowed_lints(),
    );
    let found = take_diagnostics(&mut project, &mut checked);
    (
        project_findings(&project, found, &checked, options).0,
        project.requested.len(),
    )
}

/// Loading's and checking's diagnostics, moved out: a file of four million repeated mistakes
/// has four million of them, and a copy would double the memory the check takes.
fn take_diagnostics(project: &mut Project, checked: &mut check::Checked) -> Vec<Diagnostic> {
    let mut found = std::mem::take(&mut project.diagnostics);
    found.append(&mut checked.diagnostics);
    found
}

/// The reported diagnostics of a loaded and checked project: loading's, checking's and the
/// analysis's, for the files asked about, at the project's lint levels. The analysis runs only
/// on a project without errors: an erroneous model would give findings about mistakes that are
/// already reported.
pub fn project_diagnostics(
    project: &Project,
    checked: &check::Checked,
    options: &Options,
) -> Vec<Diagnostic> {
    let mut found = project.diagnostics.clone();
    found.extend(checked.diagnostics.iter().cloned());
    project_findings(project, found, checked, options).0
}

/// [`project_diagnostics`] from loading's and checking's diagnostics (`diagnostics`), and the
/// decisions' descriptions when the analysis options ask for them (one analysis gives both).
fn project_findings(
    project: &Project,
    mut diagnostics: Vec<Diagnostic>,
    checked: &check::Checked,
    options: &Options,
) -> (
    Vec<Diagnostic>,
    Vec<(crate::ir::DecisionId, analyse::describe::Summary)>,
) {
    let valid = match checked.valid() {
        Ok(program) => Some(program),
        Err(why) => {
            // An error explains a hole in the model; without one, the hole is medpol's bug.
            if !diagnostics.iter().any(Diagnostic::is_error) {
                diagnostics.push(Diagnostic::internal(format_args!(
                    "the check found no error, but its model is not complete: {why}"
                )));
            }
            None
        }
    };
    let mut summaries = Vec::new();
    if let Some(analysis) = &options.analysis
        && let Some(program) = valid
        && !diagnostics.iter().any(Diagnostic::is_error)
    {
        let options = analyse::Options {
            tables: Some(project.tables.clone()),
            ..analysis.clone()
        };
        let analysis = analyse::analyse(program, &options);
        diagnostics.extend(analysis.diagnostics);
        summaries = analysis.summaries;
    }
    let keep = |d: &Diagnostic| match d.primary_span() {
        Some(span) => {
            project.requested.contains(&span.file) || Some(span.file) == project.config_file
        }
        None => true,
    };
    let diagnostics = diagnostics
        .into_iter()
        .filter(keep)
        .filter_map(|d| apply_level(d, &project.lint_levels))
        .collect();
    (diagnostics, summaries)
}

/// The project's lint level for a diagnostic's code: allowed ones are dropped, denied ones
/// become errors.
fn apply_level(
    mut d: Diagnostic,
    levels: &std::collections::HashMap<crate::diagnostic::Code, Level>,
) -> Option<Diagnostic> {
    match levels.get(&d.code) {
        Some(Level::Allow) => None,
        Some(Level::Deny) => {
            d.severity = Severity::Error;
            Some(d)
        }
        Some(Level::Warn) => {
            d.severity = Severity::Warning;
            Some(d)
        }
        None => Some(d),
    }
}

/// What a build found: the check's report, and when it found no error, the compiled policies
/// of the files asked about.
#[derive(Debug, Default)]
pub struct Built {
    pub report: Report,
    pub compiled: Vec<crate::compile::Compiled>,
    /// The code tables of each compiled policy's project (its `medpol.yaml` releases and
    /// files), in the same order: facts given for a policy are checked against them.
    pub tables: Vec<crate::tables::TableSet>,
}

/// Checks files and folders as [`check_paths`] does and, when no error is reported, compiles
/// the policies of the files asked about. A decision too large to compile is an error.
pub fn build_paths(
    paths: &[PathBuf],
    options: &Options,
) -> Result<Result<Built, crate::compile::CompileError>, LoadError> {
    let checked = check_and_keep(paths, options)?;
    let mut out = Built {
        report: checked.report,
        compiled: Vec::new(),
        tables: Vec::new(),
    };
    if out.report.diagnostics.iter().any(Diagnostic::is_error) {
        return Ok(Ok(out));
    }
    for project in checked.projects {
        let options = crate::compile::Options {
            root: project.root.clone(),
            ..crate::compile::Options::default()
        };
        let compiled = match crate::compile::compile(
            &project.program,
            &project.tables,
            &out.report.sources,
            &options,
        ) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        for c in compiled {
            if project.asked_about(c.policy) {
                out.compiled.push(c);
                out.tables.push(project.tables.clone());
            }
        }
    }
    Ok(Ok(out))
}

/// A project checked without errors, for the commands that go on from its typed model.
#[derive(Debug)]
pub struct CheckedProject {
    pub program: crate::ir::ValidProgram,
    /// The files asked about.
    pub requested: std::collections::HashSet<crate::source::FileId>,
    pub tables: crate::tables::TableSet,
    pub root: PathBuf,
    /// The outcomes `medpol.yaml` says approve.
    pub approvals: Vec<String>,
    /// Each decision's patients by outcome, when the analysis was asked to describe them.
    pub summaries: Vec<(crate::ir::DecisionId, analyse::describe::Summary)>,
}

impl CheckedProject {
    /// Whether a policy is in one of the files asked about.
    pub fn asked_about(&self, policy: crate::ir::PolicyId) -> bool {
        self.program
            .policies
            .get(policy.index())
            .is_some_and(|p| self.requested.contains(&p.file))
    }
}

/// A check, and the projects it found no error in.
#[derive(Debug, Default)]
pub struct Checked {
    pub report: Report,
    pub projects: Vec<CheckedProject>,
}

/// Checks files and folders as [`check_paths`] does and keeps the typed model of each project
/// without errors.
pub fn check_and_keep(paths: &[PathBuf], options: &Options) -> Result<Checked, LoadError> {
    let mut out = Checked::default();
    for (root, targets) in by_project(paths)? {
        let mut project = project::load(&mut out.report.sources, &root, &targets)?;
        let mut checked = check::check(
            &project.files,
            &project.imports,
            &project.tables,
            &project.allowed_lints(),
        );
        let found = take_diagnostics(&mut project, &mut checked);
        let (diagnostics, summaries) = project_findings(&project, found, &checked, options);
        out.report.files += project.requested.len();
        let clean = !diagnostics.iter().any(Diagnostic::is_error);
        out.report.diagnostics.extend(diagnostics);
        // A clean project has a valid model: `project_findings` reports it as an internal
        // error otherwise.
        if clean && let Ok(program) = checked.into_valid() {
            out.projects.push(CheckedProject {
                program,
                requested: project.requested,
                tables: project.tables,
                root: project.root,
                approvals: project.approvals,
                summaries,
            });
        }
    }
    sort_diagnostics(&mut out.report.diagnostics);
    Ok(out)
}
