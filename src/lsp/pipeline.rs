//! The check the server runs for a changed document: the same stages as `medpol check`
//! (project load with imports and lint levels, parse, check, and the analysis when asked),
//! with the editor's unsaved texts in place of the files on disk.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crossbeam_channel::Sender;
use lsp_server::{Message, Notification};
use lsp_types::notification::{Notification as _, PublishDiagnostics};
use lsp_types::{
    DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location, NumberOrString,
    PublishDiagnosticsParams, Uri,
};

use super::convert;
use crate::check::{self, Checked};
use crate::diagnostic::{Code, Diagnostic, Severity, sort_diagnostics};
use crate::driver;
use crate::project::{self, Overlay, Project};
use crate::source::{FileId, SourceFile, Sources, Span};
use crate::syntax;
use crate::tables::TableSet;

/// What to check.
#[derive(Debug, Clone)]
pub enum Input {
    /// A project on disk; the overlay holds the open documents' texts.
    Project {
        root: PathBuf,
        targets: Vec<PathBuf>,
        overlay: Overlay,
    },
    /// A document with no file behind it (not saved yet): checked alone.
    Loose { uri: String, text: String },
}

/// One run of the stages, kept for hover, definitions and completion.
pub struct Computed {
    pub sources: Sources,
    pub checked: Checked,
    pub tables: TableSet,
    pub diagnostics: Vec<Diagnostic>,
    /// The document a `Loose` input came from.
    loose_uri: Option<String>,
}

impl Computed {
    /// The URI of a loaded file.
    pub fn uri(&self, id: FileId) -> Option<String> {
        match &self.loose_uri {
            Some(uri) => Some(uri.clone()),
            None => self
                .sources
                .get(id)
                .and_then(|f| f.path.as_deref())
                .map(convert::path_to_uri),
        }
    }

    /// The file of a document.
    pub fn file_of(&self, uri: &str) -> Option<(FileId, &SourceFile)> {
        if self.loose_uri.as_deref() == Some(uri) {
            return self.sources.iter().next();
        }
        let path = convert::uri_to_path(uri)?;
        let path = path.canonicalize().unwrap_or(path);
        self.sources
            .iter()
            .find(|(_, f)| f.path.as_deref() == Some(path.as_path()))
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Runs the stages on an input. A project that cannot be loaded (its folder vanished) is
/// reported as an error message for the client's log.
pub fn compute(input: &Input, options: &driver::Options) -> Result<Computed, String> {
    let mut sources = Sources::new();
    let (project, loose_uri) = match input {
        Input::Project {
            root,
            targets,
            overlay,
        } => (
            project::load_overlaid(&mut sources, root, targets, overlay)
                .map_err(|e| e.to_string())?,
            None,
        ),
        Input::Loose { uri, text } => {
            let id = sources.add(SourceFile::new(uri.clone(), None, text.clone()));
            let parsed = syntax::parse(id, sources.text(id));
            let project = Project {
                files: vec![parsed.file],
                requested: HashSet::from([id]),
                diagnostics: parsed.diagnostics,
                tables: TableSet::shipped().clone(),
                ..Project::default()
            };
            (project, Some(uri.clone()))
        }
    };
    let checked = check::check(
        &project.files,
        &project.imports,
        &project.tables,
        &project.allowed_lints(),
    );
    let mut diagnostics = driver::project_diagnostics(&project, &checked, options);
    sort_diagnostics(&mut diagnostics);
    Ok(Computed {
        sources,
        checked,
        tables: project.tables,
        diagnostics,
        loose_uri,
    })
}

/// Where diagnostics were last published, per project, so that a file whose problems are all
/// fixed gets an empty list.
#[derive(Default)]
pub struct Published {
    by_key: HashMap<String, HashSet<String>>,
}

/// Publishes a run's diagnostics, one notification per file, and clears files of the same
/// project that no longer have any. `anchor` gets the diagnostics that name no place.
pub fn publish(
    sender: &Sender<Message>,
    published: &mut Published,
    key: &str,
    computed: &Computed,
    anchor: &str,
) {
    let mut by_uri: HashMap<String, Vec<lsp_types::Diagnostic>> = HashMap::new();
    for d in &computed.diagnostics {
        let (uri, file) = match d.primary_span() {
            Some(span) => match (computed.uri(span.file), computed.sources.get(span.file)) {
                (Some(uri), Some(file)) => (uri, Some(file)),
                _ => continue,
            },
            None => (anchor.to_string(), None),
        };
        by_uri
            .entry(uri)
            .or_default()
            .push(to_lsp(computed, file, d));
    }
    // The changed document always gets a list, if only an empty one: the editor then knows
    // it was checked.
    by_uri.entry(anchor.to_string()).or_default();
    let before = published.by_key.remove(key).unwrap_or_default();
    for uri in &before {
        by_uri.entry(uri.clone()).or_default();
    }
    let mut now = HashSet::new();
    for (uri, diagnostics) in by_uri {
        let Ok(parsed) = uri.parse::<Uri>() else {
            continue;
        };
        if !diagnostics.is_empty() {
            now.insert(uri);
        }
        let params = PublishDiagnosticsParams::new(parsed, diagnostics, None);
        // A closed connection ends the main loop; there is nothing left to tell.
        let _ = sender.send(Message::Notification(Notification::new(
            PublishDiagnostics::METHOD.to_string(),
            params,
        )));
    }
    published.by_key.insert(key.to_string(), now);
}

/// Publishes the one warning of a document past [`super::MAX_DOCUMENT`], in place of its
/// diagnostics (W0208: the editor's limit, not the policy's; `medpol check` reads the file).
pub fn publish_too_large(sender: &Sender<Message>, uri: &str, size: usize) {
    let Ok(parsed) = uri.parse::<Uri>() else {
        return;
    };
    let warning = lsp_types::Diagnostic {
        severity: Some(DiagnosticSeverity::WARNING),
        code: Some(lsp_types::NumberOrString::String(
            crate::diagnostic::Code::TooLargeForEditor
                .as_str()
                .to_string(),
        )),
        source: Some("medpol".to_string()),
        message: format!(
            "this document is too large to check: {size} bytes, and the editor checks at most {} MiB\nhelp: `medpol check` checks the saved file",
            super::MAX_DOCUMENT >> 20
        ),
        ..lsp_types::Diagnostic::default()
    };
    let params = PublishDiagnosticsParams::new(parsed, vec![warning], None);
    let _ = sender.send(Message::Notification(Notification::new(
        PublishDiagnostics::METHOD.to_string(),
        params,
    )));
}

/// One medpol diagnostic as the protocol's: its code, message with help and notes, secondary
/// labels as related information, and its fixes as data for code actions.
fn to_lsp(computed: &Computed, file: Option<&SourceFile>, d: &Diagnostic) -> lsp_types::Diagnostic {
    let range = match (file, d.primary_span()) {
        (Some(file), Some(span)) => convert::range(file, span),
        _ => lsp_types::Range::default(),
    };
    let message = d.full_message();
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter(|l| !l.primary)
        .filter_map(|l| {
            let uri = computed.uri(l.span.file)?.parse::<Uri>().ok()?;
            let file = computed.sources.get(l.span.file)?;
            Some(DiagnosticRelatedInformation {
                location: Location::new(uri, convert::range(file, l.span)),
                message: l.message.clone(),
            })
        })
        .collect();
    let fixes: Vec<serde_json::Value> = d
        .fixes
        .iter()
        .filter(|f| Some(f.span.file) == d.primary_span().map(|s| s.file))
        .filter_map(|f| {
            let file = file?;
            Some(serde_json::json!({
                "range": convert::range(file, written(file, f.span)),
                "newText": f.replacement,
            }))
        })
        .collect();
    let unnecessary = matches!(
        d.code,
        Code::UnusedFact | Code::UnusedDefine | Code::UnusedCodeSet | Code::UnusedImport
    );
    lsp_types::Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Note => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        code_description: None,
        source: Some("medpol".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: unnecessary.then(|| vec![DiagnosticTag::UNNECESSARY]),
        data: (!fixes.is_empty()).then(|| serde_json::json!({ "fixes": fixes })),
    }
}

/// The written part of a span: a code item's span runs on over the spaces and comment after
/// it, which a replacement must keep.
fn written(file: &SourceFile, span: Span) -> Span {
    let text = file.slice(span);
    let text = text.split("//").next().unwrap_or(text).trim_end();
    Span::new(
        span.file,
        span.start as usize,
        span.start as usize + text.len(),
    )
}
