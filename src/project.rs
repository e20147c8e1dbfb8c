//! Policy projects: the `medpol.yaml` file, which files belong, and imports between them.
//!
//! Loading reads files and parses them (stage 1); it is the only module besides the CLI that
//! touches the file system. Imports are resolved relative to the importing file and may never
//! leave the project folder.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::ast;
use crate::check::ImportMap;
use crate::diagnostic::{Code, Diagnostic, Severity, shown};
use crate::input;
use crate::source::{FileId, SourceFile, Sources, Span};
use crate::syntax;
use crate::tables::{Table, TableSet};

/// The name of the project file.
pub const CONFIG_FILE: &str = "medpol.yaml";

/// How a warning is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Allow,
    Warn,
    Deny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    files: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    lints: HashMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    tables: Option<RawTables>,
    /// The outcomes that approve, for `medpol diff`.
    #[serde(default)]
    approvals: Vec<String>,
}

/// The code tables a project checks its codes against.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTables {
    /// Release ids, shipped or from `files`; without it, every table there is.
    #[serde(default)]
    releases: Option<Vec<Spanned<String>>>,
    /// The project's own tables (written by `medpol tables import`), relative to the project
    /// file.
    #[serde(default)]
    files: Vec<Spanned<String>>,
}

/// A loaded project: its files read and parsed, imports resolved.
#[derive(Debug, Default)]
pub struct Project {
    pub root: PathBuf,
    pub config_file: Option<FileId>,
    /// Every loaded file, parsed, in a stable order.
    pub files: Vec<ast::File>,
    /// The files whose diagnostics are reported.
    pub requested: HashSet<FileId>,
    pub imports: ImportMap,
    /// Diagnostics of the project file, of loading and of parsing.
    pub diagnostics: Vec<Diagnostic>,
    pub lint_levels: HashMap<crate::diagnostic::Code, Level>,
    /// The code tables this project checks codes against: the releases `medpol.yaml` names,
    /// or every shipped one.
    pub tables: TableSet,
    /// The outcomes that approve (`approvals:`): `medpol diff` calls a change into one of
    /// them loosened, and out of one tightened.
    pub approvals: Vec<String>,
}

impl Project {
    /// The codes `medpol.yaml` sets to `allow`: the check skips the lint passes that report
    /// only these.
    pub fn allowed_lints(&self) -> Vec<crate::diagnostic::Code> {
        self.lint_levels
            .iter()
            .filter(|(_, level)| **level == Level::Allow)
            .map(|(code, _)| *code)
            .collect()
    }
}

/// A problem that stops the run before any policy is read: exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Finds the project a path belongs to: the nearest folder, from the path upwards, that holds
/// a `medpol.yaml`.
pub fn find_root(path: &Path) -> Option<PathBuf> {
    let start = if path.is_dir() { path } else { path.parent()? };
    start
        .ancestors()
        .find(|dir| dir.join(CONFIG_FILE).is_file())
        .map(Path::to_path_buf)
}

/// The project folder of a file or folder: the nearest one with a `medpol.yaml`, else the
/// folder itself (for a file, its folder).
pub fn project_root(target: &Path) -> Result<PathBuf, LoadError> {
    if !target.exists() {
        return Err(LoadError(format!("`{}` does not exist", target.display())));
    }
    let target = canonical(target)?;
    Ok(match find_root(&target) {
        Some(root) => root,
        None if target.is_dir() => target,
        None => target
            .parent()
            .map_or_else(|| target.clone(), Path::to_path_buf),
    })
}

/// Texts that stand in for files on disk: an editor's unsaved buffers, by canonical path.
pub type Overlay = HashMap<PathBuf, String>;

/// Loads the project in `root` and parses its files. Diagnostics are reported for the files
/// under the `targets` (files or folders inside the project) and the files those import.
pub fn load(sources: &mut Sources, root: &Path, targets: &[PathBuf]) -> Result<Project, LoadError> {
    load_overlaid(sources, root, targets, &Overlay::new())
}

/// [`load`], with the text of a policy file in `overlay` read instead of the file on disk (the
/// language server checks what the author sees, saved or not).
pub fn load_overlaid(
    sources: &mut Sources,
    root: &Path,
    targets: &[PathBuf],
    overlay: &Overlay,
) -> Result<Project, LoadError> {
    let root = canonical(root)?;
    let targets = targets
        .iter()
        .map(|t| canonical(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut loader = Loader {
        sources,
        project: Project {
            root: root.clone(),
            tables: TableSet::shipped().clone(),
            ..Project::default()
        },
        by_path: HashMap::new(),
        unread: HashSet::new(),
        overlay,
    };
    let config_path = root.join(CONFIG_FILE);
    let patterns = if config_path.is_file() {
        loader.config(&config_path)?
    } else {
        None
    };
    // Anything named that is not a folder is read as a policy file: a device or socket named
    // by mistake is then reported (E0206), not passed over in silence.
    let named_files: Vec<PathBuf> = targets.iter().filter(|t| !t.is_dir()).cloned().collect();
    let members: Vec<PathBuf> = if !config_path.is_file() && named_files.len() == targets.len() {
        // Files outside any project: just them, and what they import.
        named_files
    } else {
        let patterns = patterns.unwrap_or_else(|| vec!["**/*.medpol".to_string()]);
        let mut all = loader.members(&patterns)?;
        // A policy file named on the command line is checked even if no pattern lists it.
        for f in named_files {
            if !all.contains(&f) {
                all.push(f);
            }
        }
        all
    };
    if members.is_empty() {
        let mut d = Diagnostic::new(
            Code::NoPolicyFiles,
            format!("no `.medpol` files in `{}`", display(&root)),
        )
        .help("policy files end in `.medpol`; a `files` list in `medpol.yaml` says which to check");
        if let Some(cfg) = loader.project.config_file {
            d = d.primary(Span::new(cfg, 0, 0), "this project lists no policy files");
        }
        loader.project.diagnostics.push(d);
    }
    let mut queue: Vec<FileId> = Vec::new();
    for id in loader.files(&members) {
        if let Some(path) = loader.sources.get(id).and_then(|f| f.path.as_ref())
            && targets.iter().any(|t| path.starts_with(t))
        {
            loader.project.requested.insert(id);
        }
        queue.push(id);
    }
    loader.follow_imports(queue);
    loader.project.files.sort_by_key(|f| f.id);
    Ok(loader.project)
}

struct Loader<'s> {
    sources: &'s mut Sources,
    project: Project,
    by_path: HashMap<PathBuf, FileId>,
    /// The files that could not be read (each has a diagnostic).
    unread: HashSet<FileId>,
    overlay: &'s Overlay,
}

impl Loader<'_> {
    /// Reads `medpol.yaml`; returns its file patterns, if it lists any.
    fn config(&mut self, path: &Path) -> Result<Option<Vec<String>>, LoadError> {
        let bytes = match input::read(path, input::Kind::Project) {
            Ok(bytes) => bytes,
            Err(why) => {
                // Checked with the default settings: the policies' own problems still show.
                let id = self.unread(path, Code::InvalidProjectFile, &why);
                self.project.config_file = Some(id);
                return Ok(None);
            }
        };
        let (text, invalid) = syntax::decode(bytes);
        let id = self.sources.add(SourceFile::new(
            display(path),
            Some(path.to_path_buf()),
            text,
        ));
        self.project.config_file = Some(id);
        if let Some(bad) = invalid {
            self.project.diagnostics.push(bad.diagnostic(id));
            return Ok(None);
        }
        let text = self.sources.text(id).to_string();
        if text.trim().is_empty() {
            return Ok(None);
        }
        let raw: RawConfig = match serde_saphyr::from_str(&text) {
            Ok(raw) => raw,
            Err(err) => {
                let span = err
                    .location()
                    .map(|l| self.offset(id, l.line(), l.column()))
                    .map_or(Span::new(id, 0, 0), |at| Span::new(id, at, at + 1));
                let message = input::yaml_message(&err);
                self.project.diagnostics.push(
                    Diagnostic::new(Code::InvalidProjectFile, format!("cannot read `{CONFIG_FILE}`: {message}"))
                        .primary(span, "here")
                        .help("the project file has `files:` (a list of patterns), `lints:` (code: allow, warn or deny), `tables:` (`releases` and `files`) and `approvals:` (outcomes)"),
                );
                return Ok(None);
            }
        };
        let mut lints: Vec<_> = raw.lints.into_iter().collect();
        lints.sort_by_key(|(k, _)| (k.referenced.line(), k.referenced.column()));
        for (key, level) in lints {
            let key_span = self.spanned(id, &key);
            let value_span = self.spanned(id, &level);
            let Some(code) = Code::parse(&key.value) else {
                let names = Code::ALL
                    .iter()
                    .filter(|c| c.default_severity() != Severity::Error)
                    .flat_map(|c| [c.as_str(), c.name()]);
                let mut d = Diagnostic::new(
                    Code::UnknownLint,
                    format!("unknown lint `{}`", shown(&key.value)),
                )
                .primary(key_span, "no diagnostic has this code or name");
                d = match crate::check::names::suggest(&key.value, names) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("name a warning by its code (`W0101`) or name (`unused-fact`); `medpol explain` lists them"),
                };
                self.project.diagnostics.push(d);
                continue;
            };
            if code.default_severity() == Severity::Error {
                self.project.diagnostics.push(
                    Diagnostic::new(
                        Code::UnknownLint,
                        format!(
                            "`{}` is an error; only warnings change level",
                            code.as_str()
                        ),
                    )
                    .primary(key_span, "an error code")
                    .help("errors always stop the check; fix the policy instead"),
                );
                continue;
            }
            let level = match level.value.as_str() {
                "allow" => Level::Allow,
                "warn" => Level::Warn,
                "deny" => Level::Deny,
                other => {
                    self.project.diagnostics.push(
                        Diagnostic::new(
                            Code::InvalidProjectFile,
                            format!("unknown lint level `{}`", shown(other)),
                        )
                        .primary(value_span, "not a level")
                        .help("the levels are `allow`, `warn` and `deny`"),
                    );
                    continue;
                }
            };
            self.project.lint_levels.insert(code, level);
        }
        self.project.approvals = raw.approvals;
        if let Some(tables) = raw.tables {
            self.tables(id, tables)?;
        }
        Ok(raw.files.map(|f| f.into_iter().map(|s| s.value).collect()))
    }

    /// Builds the project's table set: its own table files added to the shipped ones, then
    /// kept to the releases it names.
    fn tables(&mut self, config: FileId, raw: RawTables) -> Result<(), LoadError> {
        let mut all = TableSet::shipped().clone();
        for file in &raw.files {
            let span = self.spanned(config, file);
            let path = self.project.root.join(&file.value);
            let problem = match input::read(&path, input::Kind::Table) {
                Ok(bytes) => match Table::from_bytes(bytes).and_then(|t| all.add(t)) {
                    Ok(()) => None,
                    Err(e) => Some(e.to_string()),
                },
                Err(e) => Some(e.to_string()),
            };
            if let Some(problem) = problem {
                self.project.diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidProjectFile,
                        format!("cannot read the code table `{}`: {}", shown(&file.value), shown(&problem)),
                    )
                    .primary(span, "this table")
                    .help("tables are written by `medpol tables import`; the path is relative to `medpol.yaml`"),
                );
            }
        }
        let Some(releases) = raw.releases else {
            self.project.tables = all;
            return Ok(());
        };
        let mut chosen = TableSet::new();
        for release in &releases {
            let span = self.spanned(config, release);
            match all.get(&release.value) {
                Some(t) => {
                    if chosen.add(t.clone()).is_err() {
                        self.project.diagnostics.push(
                            Diagnostic::new(
                                Code::InvalidProjectFile,
                                format!("the release `{}` is named twice", shown(&release.value)),
                            )
                            .primary(span, "named again")
                            .help("name each release once"),
                        );
                    }
                }
                None => {
                    let known: Vec<&str> = all.iter().map(Table::release).collect();
                    let mut d = Diagnostic::new(
                        Code::InvalidProjectFile,
                        format!("unknown code table release `{}`", shown(&release.value)),
                    )
                    .primary(span, "no table has this release id");
                    d = match crate::check::names::suggest(&release.value, known.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(format!(
                            "the releases are {}; `medpol tables list` shows them",
                            known
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    };
                    self.project.diagnostics.push(d);
                }
            }
        }
        self.project.tables = chosen;
        Ok(())
    }

    fn spanned<T>(&self, id: FileId, s: &Spanned<T>) -> Span {
        let at = self.offset(id, s.referenced.line(), s.referenced.column());
        let len = s.referenced.span().byte_len().unwrap_or(1) as usize;
        Span::new(id, at, at + len.max(1))
    }

    /// Byte offset of a one-based line and column.
    fn offset(&self, id: FileId, line: u64, column: u64) -> usize {
        let Some(file) = self.sources.get(id) else {
            return 0;
        };
        let start = file.line_start(line.saturating_sub(1) as usize);
        let rest = file.text.get(start..).unwrap_or("");
        start
            + rest
                .chars()
                .take(column.saturating_sub(1) as usize)
                .map(char::len_utf8)
                .sum::<usize>()
    }

    /// The project's policy files: those under the root matching a pattern, sorted. A folder
    /// no pattern can reach is not read; one that may hold policy files but cannot be read is
    /// a warning, and the rest of the project is still found.
    fn members(&mut self, patterns: &[String]) -> Result<Vec<PathBuf>, LoadError> {
        let mut builder = globset::GlobSetBuilder::new();
        let mut reach = Vec::new();
        for p in patterns {
            // `*` stays within one folder; `**` crosses folders.
            match globset::GlobBuilder::new(p).literal_separator(true).build() {
                Ok(g) => {
                    builder.add(g);
                    reach.push(Reach::new(p));
                }
                Err(e) => {
                    let span = self.project.config_file.map(|cfg| {
                        let text = self.sources.text(cfg);
                        let at = text.find(p.as_str()).unwrap_or(0);
                        Span::new(cfg, at, at + p.len())
                    });
                    let mut d = Diagnostic::new(
                        Code::InvalidProjectFile,
                        format!("`{}` is not a valid file pattern: {}", shown(p), e.kind()),
                    )
                    .help("patterns are globs relative to the project folder, such as `*.medpol` or `shared/**/*.medpol`");
                    if let Some(s) = span {
                        d = d.primary(s, "invalid pattern");
                    }
                    self.project.diagnostics.push(d);
                }
            }
        }
        let set = builder
            .build()
            .map_err(|e| LoadError(format!("invalid file patterns: {e}")))?;
        let root = self.project.root.clone();
        let reaches = |dir: &Path| {
            dir.strip_prefix(&root)
                .is_ok_and(|rel| reach.iter().any(|r| r.reaches(rel)))
        };
        let mut found = Vec::new();
        let walker = walkdir::WalkDir::new(&self.project.root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e
                        .file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with('.') || n == "target")
                        || e.file_type().is_dir() && !reaches(e.path()))
            });
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    match e.path() {
                        // The project folder itself: there is nothing else to check.
                        Some(path) if e.depth() > 0 => self.unreadable_folder(path, &e),
                        _ => {
                            return Err(LoadError(format!(
                                "cannot read the project folder `{}`: {}",
                                display(&self.project.root),
                                walk_error(&e)
                            )));
                        }
                    }
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(relative) = entry.path().strip_prefix(&self.project.root) else {
                continue;
            };
            if set.is_match(relative) && entry.path().extension().is_some_and(|e| e == "medpol") {
                found.push(canonical(entry.path())?);
            }
        }
        Ok(found)
    }

    fn unreadable_folder(&mut self, path: &Path, e: &walkdir::Error) {
        self.project.diagnostics.push(
            Diagnostic::new(
                Code::UnreadableFolder,
                format!(
                    "cannot read the folder `{}`: {}",
                    shown(&display(path)),
                    walk_error(e)
                ),
            )
            .help("the policy files in it, if any, are not checked; give it read permission or narrow the `files` patterns of `medpol.yaml` so that they do not reach it"),
        );
    }

    /// Reads and parses one file once; returns its id, and whether it could be read.
    fn file(&mut self, path: &Path) -> (FileId, bool) {
        let id = self.files(&[path.to_path_buf()]).into_iter().next();
        // `files` gives one id per path.
        let id = id.unwrap_or_default();
        (id, !self.unread.contains(&id))
    }

    /// Reads files (each once) and parses them in parallel; returns their ids in order. A file
    /// that cannot be read is an empty source with a diagnostic, and is not parsed.
    fn files(&mut self, paths: &[PathBuf]) -> Vec<FileId> {
        use rayon::prelude::*;

        let mut ids = Vec::with_capacity(paths.len());
        let mut fresh = Vec::new();
        for path in paths {
            if let Some(&id) = self.by_path.get(path) {
                ids.push(id);
                continue;
            }
            let read = match self.overlay.get(path) {
                Some(text) => Ok(text.clone().into_bytes()),
                // A named pipe would be waited on until something writes to it: a policy file
                // is a file.
                None if path.exists() && !path.is_file() => {
                    Err(input::ReadError::NotAFile("a pipe, device or socket"))
                }
                None => input::read(path, input::Kind::Source),
            };
            let id = match read {
                Ok(bytes) => {
                    let (text, invalid) = syntax::decode(bytes);
                    let id =
                        self.sources
                            .add(SourceFile::new(display(path), Some(path.clone()), text));
                    if let Some(bad) = invalid {
                        self.project.diagnostics.push(bad.diagnostic(id));
                    }
                    fresh.push(id);
                    id
                }
                Err(why) => {
                    let id = self.unread(path, Code::UnreadableFile, &why);
                    self.unread.insert(id);
                    id
                }
            };
            self.by_path.insert(path.clone(), id);
            ids.push(id);
        }
        let sources = &*self.sources;
        let parsed: Vec<syntax::Parsed> = fresh
            .par_iter()
            .map(|&id| syntax::parse(id, sources.text(id)))
            .collect();
        for p in parsed {
            self.project.diagnostics.extend(p.diagnostics);
            self.project.files.push(p.file);
        }
        ids
    }

    /// Records a file that could not be read: an empty source, so that the diagnostic names
    /// the file and is reported with it.
    fn unread(&mut self, path: &Path, code: Code, why: &input::ReadError) -> FileId {
        let name = display(path);
        let id = self.sources.add(SourceFile::new(
            name.clone(),
            Some(path.to_path_buf()),
            String::new(),
        ));
        let help = match why {
            input::ReadError::TooLarge { .. } => {
                "the limits are in docs/limits.md; split a generated file into several"
            }
            input::ReadError::NotAFile(_) => {
                "leave it out of the `files` patterns of `medpol.yaml`, or rename it"
            }
            input::ReadError::Io(_) => "give the file read permission, or remove it",
        };
        self.project.diagnostics.push(
            Diagnostic::new(code, format!("cannot read `{}`: {why}", shown(&name)))
                .primary(Span::new(id, 0, 0), "not read")
                .help(help),
        );
        id
    }

    /// Loads every file the queued files import, transitively.
    fn follow_imports(&mut self, mut queue: Vec<FileId>) {
        let mut done: HashSet<FileId> = HashSet::new();
        while let Some(id) = queue.pop() {
            if !done.insert(id) {
                continue;
            }
            let imports: Vec<ast::ImportDecl> = self
                .project
                .files
                .iter()
                .find(|f| f.id == id)
                .map(|f| f.imports().cloned().collect())
                .unwrap_or_default();
            let Some(dir) = self
                .sources
                .get(id)
                .and_then(|f| f.path.as_ref())
                .and_then(|p| p.parent())
                .map(Path::to_path_buf)
            else {
                continue;
            };
            for import in imports {
                let Some(path) = self.resolve_import(&dir, &import.path) else {
                    continue;
                };
                let (target, read) = self.file(&path);
                if self.project.requested.contains(&id) {
                    self.project.requested.insert(target);
                }
                // An import of a file that was not read brings nothing: the checker then
                // says nothing about the names used from it.
                if read {
                    self.project.imports.insert(import.path.span, target);
                    queue.push(target);
                }
            }
        }
    }

    /// The file an import names, or a diagnostic saying why there is none.
    fn resolve_import(&mut self, dir: &Path, path: &ast::Str) -> Option<PathBuf> {
        let written = Path::new(&path.value);
        if written.is_absolute() || written.has_root() {
            self.project.diagnostics.push(
                Diagnostic::new(
                    Code::ImportOutsideProject,
                    format!("import of an absolute path `{}`", shown(&path.value)),
                )
                .primary(path.span, "absolute path")
                .help("import files by a path relative to this file, inside the project folder"),
            );
            return None;
        }
        let joined = normalize(&dir.join(written));
        if !joined.starts_with(&self.project.root) {
            self.outside(path);
            return None;
        }
        if !joined.is_file() {
            let mut d = Diagnostic::new(
                Code::ImportNotFound,
                format!("imported file `{}` does not exist", shown(&path.value)),
            )
            .primary(path.span, "no such file");
            let with_ext = joined.with_extension("medpol");
            d = if joined.extension().is_none() && with_ext.is_file() {
                d.help(format!("did you mean `{}.medpol`?", path.value))
            } else {
                match self.similar_file(&joined) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("the path is relative to the importing file's folder"),
                }
            };
            self.project.diagnostics.push(d);
            return None;
        }
        // A symbolic link could still point outside.
        let real = canonical(&joined).ok()?;
        if !real.starts_with(&self.project.root) {
            self.outside(path);
            return None;
        }
        Some(real)
    }

    fn outside(&mut self, path: &ast::Str) {
        self.project.diagnostics.push(
            Diagnostic::new(
                Code::ImportOutsideProject,
                format!("import `{}` leaves the project folder", shown(&path.value)),
            )
            .primary(path.span, "outside the project")
            .help(format!(
                "imports stay inside `{}`; copy shared definitions into the project",
                display(&self.project.root)
            )),
        );
    }

    /// A `.medpol` file in the same folder with a similar name.
    fn similar_file(&self, wanted: &Path) -> Option<String> {
        let dir = wanted.parent()?;
        let name = wanted.file_name()?.to_str()?;
        let entries = std::fs::read_dir(dir).ok()?;
        let names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".medpol"))
            .collect();
        crate::check::names::suggest(name, names.iter().map(String::as_str)).map(str::to_string)
    }
}

fn canonical(path: &Path) -> Result<PathBuf, LoadError> {
    path.canonicalize().map_err(|e| io_error(path, &e))
}

fn io_error(path: &Path, e: &std::io::Error) -> LoadError {
    LoadError(format!(
        "cannot read `{}`: {}",
        path.display(),
        input::plain_io(e)
    ))
}

/// A folder walk's error in plain words.
fn walk_error(e: &walkdir::Error) -> String {
    match e.io_error() {
        Some(io) => input::plain_io(io),
        // The only other error: a symbolic link that leads back to a folder above it.
        None => "a symbolic link leads back into a folder above it".to_string(),
    }
}

/// Which folders one file pattern can reach, so that the walk reads no other folder: a
/// pattern's folder parts, each a glob of one folder name, or `**` for any depth below.
struct Reach {
    /// `None` stands for `**`.
    parts: Vec<Option<globset::GlobMatcher>>,
    /// A pattern this does not follow (braces may hold `/`) reaches every folder.
    everywhere: bool,
}

impl Reach {
    fn new(pattern: &str) -> Reach {
        let mut parts = Vec::new();
        let mut everywhere = pattern.contains('{');
        for part in pattern.split('/') {
            if part.contains("**") {
                parts.push(None);
                continue;
            }
            match globset::Glob::new(part) {
                Ok(g) => parts.push(Some(g.compile_matcher())),
                Err(_) => everywhere = true,
            }
        }
        Reach { parts, everywhere }
    }

    /// Whether a file under this folder (relative to the project) can match the pattern.
    fn reaches(&self, folder: &Path) -> bool {
        if self.everywhere {
            return true;
        }
        for (i, name) in folder.components().enumerate() {
            match self.parts.get(i) {
                Some(None) => return true,
                // The last part names the file, not a folder.
                Some(Some(glob)) if i + 1 < self.parts.len() && glob.is_match(name) => {}
                _ => return false,
            }
        }
        true
    }
}

/// Removes `.` and `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A path as shown to the user: relative to the working folder when it is inside it.
pub fn display(path: &Path) -> String {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| d.canonicalize().ok());
    match cwd.as_deref().and_then(|cwd| path.strip_prefix(cwd).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/a/../../x")), PathBuf::from("/x"));
    }
}
