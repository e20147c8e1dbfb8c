//! The language server (`medpol lsp`): the Language Server Protocol over standard input and
//! output. Like the command line it is an edge: it calls the stages (project load with the
//! editor's unsaved texts, parse, check, analysis) and turns their diagnostics and typed model
//! into protocol messages.
//!
//! Every change is checked at once on the main thread (parse and check take milliseconds) and
//! its diagnostics published; the analysis of decisions, which can take seconds, runs on a
//! worker thread. Each change of a project starts a new generation and cancels the analysis
//! of the one before; the worker publishes only results of the current generation, so a stale
//! analysis is never shown.
//!
//! Messages are read by our own reader (`framing`), which answers a malformed message and
//! reads on; lsp-server gives the message types and the initialization handshake.

mod convert;
mod features;
mod framing;
mod pipeline;

use std::collections::HashMap;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_channel::{Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Exit, LogMessage,
    Notification as _,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    References, Request as _, Shutdown,
};
use lsp_types::{
    CodeActionProviderCapability, CompletionOptions, GotoDefinitionResponse,
    HoverProviderCapability, LogMessageParams, MessageType, OneOf, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind,
};

use crate::analyse;
use crate::driver;
use crate::project;
use pipeline::{Computed, Input, Published};

/// The largest document checked, in bytes (`docs/editors.md`): a larger one gets one warning
/// and is not parsed, so that an editor opening a huge file cannot make the server hold many
/// times its size.
pub const MAX_DOCUMENT: usize = 8 << 20;

/// How a session ended. The protocol asks for exit status 0 after `shutdown`, 1 without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    AfterShutdown,
    WithoutShutdown,
}

/// Serves one client on standard input and output until it says `exit` or closes its output.
pub fn serve_stdio() -> Result<Ending, String> {
    let (to_server, incoming) = crossbeam_channel::bounded::<Message>(0);
    let (outgoing, to_client) = crossbeam_channel::bounded::<Message>(0);
    // Not joined: after a session that did not end with `exit`, it may wait on standard input
    // for good; the process ends without it.
    std::thread::Builder::new()
        .name("medpol-lsp-reader".into())
        .spawn(move || read_stdin(&to_server))
        .map_err(|e| format!("cannot start the reading thread: {e}"))?;
    let writer = std::thread::Builder::new()
        .name("medpol-lsp-writer".into())
        .spawn(move || {
            for message in to_client {
                if message.write(&mut std::io::stdout().lock()).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start the writing thread: {e}"))?;
    let ending = serve(Connection {
        sender: outgoing,
        receiver: incoming,
    });
    // Every sender is gone with the server: the writer ends once it has written the rest.
    writer
        .join()
        .map_err(|_| "the writing thread failed".to_string())?;
    ending
}

/// Reads messages from standard input for the server until `exit` or the end of the input,
/// and answers a malformed message itself, straight on standard output (an error reply with no
/// `id`, which lsp-server's response type cannot carry, or a log message).
fn read_stdin(to_server: &Sender<Message>) {
    let mut reader = framing::Reader::new(std::io::stdin().lock());
    // A read error (the input ended inside a message) ends the session like the end of the
    // input: the server sees the channel close.
    while let Ok(Some(frame)) = reader.read() {
        match frame {
            framing::Frame::Message(message) => {
                let exit = matches!(&message, Message::Notification(n) if n.method == Exit::METHOD);
                if to_server.send(message).is_err() || exit {
                    return;
                }
            }
            framing::Frame::Problem(problem) => {
                // Standard output's lock keeps this reply whole among the writer's messages.
                let mut out = std::io::stdout().lock();
                if framing::write(&mut out, &problem.answer()).is_err() {
                    return;
                }
                let _ = out.flush();
            }
        }
    }
}

/// Waits for `initialize` and answers it. Before it, as the protocol says, a request gets
/// -32002 and a notification is dropped, except `exit`, which ends the session (status 1: no
/// `shutdown` came), as does closed input. `initialized` and anything after the answer go to
/// the main loop. (Not the protocol library's handshake: it echoes a whole unexpected message
/// back in its error, and ends the session on a notification before `initialized`.)
fn handshake(connection: &Connection, init: serde_json::Value) -> Option<Ending> {
    for message in &connection.receiver {
        match message {
            Message::Request(r) if r.method == "initialize" => {
                let answer = Response::new_ok(r.id, init);
                return match connection.sender.send(answer.into()) {
                    Ok(()) => None,
                    Err(_) => Some(Ending::WithoutShutdown),
                };
            }
            Message::Request(r) => {
                let answer = Response::new_err(
                    r.id,
                    ErrorCode::ServerNotInitialized as i32,
                    "the server is not initialized: send `initialize` first".to_string(),
                );
                if connection.sender.send(answer.into()).is_err() {
                    return Some(Ending::WithoutShutdown);
                }
            }
            Message::Notification(n) if n.method == "exit" => return Some(Ending::WithoutShutdown),
            Message::Notification(_) | Message::Response(_) => {}
        }
    }
    Some(Ending::WithoutShutdown)
}

fn serve(connection: Connection) -> Result<Ending, String> {
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".into(), "{".into(), ".".into()]),
            ..CompletionOptions::default()
        }),
        document_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    };
    let init = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": ServerInfo {
            name: "medpol".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        },
    });
    if let Some(ending) = handshake(&connection, init) {
        return Ok(ending);
    }

    let shared = Arc::new(Mutex::new(Shared::default()));
    let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
    let worker = {
        let sender = connection.sender.clone();
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("medpol-analysis".into())
            .spawn(move || analyse_jobs(&queue, &sender, &shared))
            .map_err(|e| format!("cannot start the analysis thread: {e}"))?
    };
    let mut server = Server {
        sender: connection.sender.clone(),
        shared,
        jobs,
        docs: HashMap::new(),
        computed: HashMap::new(),
        doc_key: HashMap::new(),
        cancels: HashMap::new(),
    };
    let mut shut_down = false;
    for message in &connection.receiver {
        match message {
            Message::Request(request) if shut_down => {
                let _ = server.sender.send(Message::Response(Response::new_err(
                    request.id,
                    ErrorCode::InvalidRequest as i32,
                    "the server is shutting down".into(),
                )));
            }
            Message::Request(request) if request.method == Shutdown::METHOD => {
                shut_down = true;
                let _ = server
                    .sender
                    .send(Message::Response(Response::new_ok(request.id, ())));
            }
            Message::Request(request) => {
                let id = request.id.clone();
                let response = catch_unwind(AssertUnwindSafe(|| server.request(request)))
                    .unwrap_or_else(|_| {
                        Response::new_err(
                            id,
                            ErrorCode::InternalError as i32,
                            "medpol failed on this request; please report it".into(),
                        )
                    });
                let _ = server.sender.send(Message::Response(response));
            }
            Message::Notification(notification) if notification.method == Exit::METHOD => break,
            Message::Notification(_) if shut_down => {}
            Message::Notification(notification) => {
                // A bug in one change must not end the session: the next change is checked
                // afresh.
                let _ = catch_unwind(AssertUnwindSafe(|| server.notification(notification)));
            }
            Message::Response(_) => {}
        }
    }
    for cancel in server.cancels.values() {
        cancel.store(true, Ordering::Relaxed);
    }
    drop(server);
    worker
        .join()
        .map_err(|_| "the analysis thread failed".to_string())?;
    Ok(if shut_down {
        Ending::AfterShutdown
    } else {
        Ending::WithoutShutdown
    })
}

/// State the main thread and the analysis worker share: the current generation of each
/// project, and where diagnostics were published.
#[derive(Default)]
struct Shared {
    generations: HashMap<String, u64>,
    published: Published,
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An analysis to run for one generation of a project.
struct Job {
    key: String,
    generation: u64,
    input: Input,
    cancel: Arc<AtomicBool>,
    anchor: String,
}

/// An open document: its text, or only its size when that is past [`MAX_DOCUMENT`] (the text
/// is not kept, and not checked).
enum Doc {
    Text(String),
    TooLarge(usize),
}

impl Doc {
    fn new(text: String) -> Doc {
        if text.len() > MAX_DOCUMENT {
            Doc::TooLarge(text.len())
        } else {
            Doc::Text(text)
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Doc::Text(text) => Some(text),
            Doc::TooLarge(_) => None,
        }
    }
}

struct Server {
    sender: Sender<Message>,
    shared: Arc<Mutex<Shared>>,
    jobs: Sender<Job>,
    docs: HashMap<String, Doc>,
    /// The last check of each project (by key: its folder, or a loose document's URI).
    computed: HashMap<String, Computed>,
    doc_key: HashMap<String, String>,
    cancels: HashMap<String, Arc<AtomicBool>>,
}

impl Server {
    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(n.params)
                {
                    let uri = p.text_document.uri.as_str().to_string();
                    self.docs
                        .insert(uri.clone(), Doc::new(p.text_document.text));
                    self.changed(&uri);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(n.params)
                {
                    let uri = p.text_document.uri.as_str().to_string();
                    // Full sync: the last change holds the whole text.
                    if let Some(change) = p.content_changes.into_iter().last() {
                        self.docs.insert(uri.clone(), Doc::new(change.text));
                        self.changed(&uri);
                    }
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(n.params)
                {
                    let uri = p.text_document.uri.as_str().to_string();
                    self.docs.remove(&uri);
                    // The file on disk is the truth again.
                    if convert::uri_to_path(&uri).is_some_and(|p| p.exists()) {
                        self.changed(&uri);
                    }
                }
            }
            _ => {}
        }
    }

    /// Which project a document belongs to, and what to check for it.
    fn input(&self, uri: &str) -> (String, Input) {
        let path = convert::uri_to_path(uri)
            .filter(|p| p.is_file())
            .and_then(|p| p.canonicalize().ok());
        let root = path.as_ref().and_then(|p| project::project_root(p).ok());
        let (Some(_), Some(root)) = (path, root) else {
            let text = self
                .docs
                .get(uri)
                .and_then(Doc::text)
                .unwrap_or_default()
                .to_string();
            return (
                uri.to_string(),
                Input::Loose {
                    uri: uri.to_string(),
                    text,
                },
            );
        };
        let mut targets = vec![root.clone()];
        let mut overlay = project::Overlay::new();
        for (open, doc) in &self.docs {
            // A document too large to check is read from disk, as if it were not open.
            let Some(text) = doc.text() else {
                continue;
            };
            let Some(p) = convert::uri_to_path(open).and_then(|p| p.canonicalize().ok()) else {
                continue;
            };
            if p.starts_with(&root) {
                targets.push(p.clone());
                overlay.insert(p, text.to_string());
            }
        }
        (
            root.display().to_string(),
            Input::Project {
                root,
                targets,
                overlay,
            },
        )
    }

    /// Checks a changed document's project now, and queues its analysis.
    fn changed(&mut self, uri: &str) {
        if let Some(Doc::TooLarge(size)) = self.docs.get(uri) {
            // Hover and the rest have no model of this text: they answer nothing. An analysis
            // of its earlier text is not published over the warning.
            if let Some(key) = self.doc_key.remove(uri)
                && let Some(cancel) = self.cancels.remove(&key)
            {
                cancel.store(true, Ordering::Relaxed);
            }
            pipeline::publish_too_large(&self.sender, uri, *size);
            return;
        }
        let (key, input) = self.input(uri);
        self.doc_key.insert(uri.to_string(), key.clone());
        if let Some(old) = self.cancels.remove(&key) {
            old.store(true, Ordering::Relaxed);
        }
        let quick = driver::Options { analysis: None };
        let computed = match pipeline::compute(&input, &quick) {
            Ok(c) => c,
            Err(message) => {
                self.log(&message);
                return;
            }
        };
        let generation = {
            let mut shared = lock(&self.shared);
            let generation = shared.generations.entry(key.clone()).or_default();
            *generation += 1;
            let generation = *generation;
            pipeline::publish(&self.sender, &mut shared.published, &key, &computed, uri);
            generation
        };
        // The analysis runs only on a project without errors, as in `medpol check`.
        if !computed.has_errors() {
            let cancel = Arc::new(AtomicBool::new(false));
            self.cancels.insert(key.clone(), Arc::clone(&cancel));
            let _ = self.jobs.send(Job {
                key: key.clone(),
                generation,
                input,
                cancel,
                anchor: uri.to_string(),
            });
        }
        self.computed.insert(key, computed);
    }

    fn log(&self, message: &str) {
        let params = LogMessageParams {
            typ: MessageType::WARNING,
            message: message.to_string(),
        };
        let _ = self.sender.send(Message::Notification(Notification::new(
            LogMessage::METHOD.to_string(),
            params,
        )));
    }

    /// The last check of a document's project.
    fn computed_for(&self, uri: &str) -> Option<&Computed> {
        self.computed.get(self.doc_key.get(uri)?)
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = self.answer(request);
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn answer(&mut self, request: Request) -> Result<serde_json::Value, (ErrorCode, String)> {
        fn params<P: serde::de::DeserializeOwned>(r: Request) -> Result<P, (ErrorCode, String)> {
            serde_json::from_value(r.params)
                .map_err(|e| (ErrorCode::InvalidParams, format!("invalid parameters: {e}")))
        }
        let value = match request.method.as_str() {
            HoverRequest::METHOD => {
                let p: lsp_types::HoverParams = params(request)?;
                let at = p.text_document_position_params;
                let uri = at.text_document.uri.as_str();
                let hover = self
                    .computed_for(uri)
                    .and_then(|c| features::hover(c, uri, at.position));
                serde_json::to_value(hover)
            }
            GotoDefinition::METHOD => {
                let p: lsp_types::GotoDefinitionParams = params(request)?;
                let at = p.text_document_position_params;
                let uri = at.text_document.uri.as_str();
                let found = self
                    .computed_for(uri)
                    .and_then(|c| features::definition(c, uri, at.position))
                    .map(GotoDefinitionResponse::Scalar);
                serde_json::to_value(found)
            }
            References::METHOD => {
                let p: lsp_types::ReferenceParams = params(request)?;
                let at = p.text_document_position;
                let uri = at.text_document.uri.as_str();
                let found = self
                    .computed_for(uri)
                    .map(|c| {
                        features::references(c, uri, at.position, p.context.include_declaration)
                    })
                    .unwrap_or_default();
                serde_json::to_value(found)
            }
            Completion::METHOD => {
                let p: lsp_types::CompletionParams = params(request)?;
                let at = p.text_document_position;
                let uri = at.text_document.uri.as_str();
                let items = self
                    .computed_for(uri)
                    .map(|c| features::completion(c, uri, at.position))
                    .unwrap_or_default();
                serde_json::to_value(items)
            }
            DocumentSymbolRequest::METHOD => {
                let p: lsp_types::DocumentSymbolParams = params(request)?;
                let uri = p.text_document.uri.as_str();
                let symbols = self
                    .computed_for(uri)
                    .map(|c| features::symbols(c, uri))
                    .unwrap_or_default();
                serde_json::to_value(symbols)
            }
            CodeActionRequest::METHOD => {
                let p: lsp_types::CodeActionParams = params(request)?;
                let uri = &p.text_document.uri;
                let text = self
                    .docs
                    .get(uri.as_str())
                    .and_then(Doc::text)
                    .unwrap_or_default();
                serde_json::to_value(features::code_actions(uri, text, &p.context.diagnostics))
            }
            Formatting::METHOD => {
                let p: lsp_types::DocumentFormattingParams = params(request)?;
                let text = self
                    .docs
                    .get(p.text_document.uri.as_str())
                    .and_then(Doc::text)
                    .unwrap_or_default();
                match features::format(text) {
                    Ok(edits) => serde_json::to_value(edits),
                    Err(why) => {
                        // No edits: the editor keeps the text, and its log says why.
                        self.log(&format!("medpol cannot format this file: {why}"));
                        Ok(serde_json::Value::Null)
                    }
                }
            }
            other => {
                return Err((
                    ErrorCode::MethodNotFound,
                    format!(
                        "medpol does not answer `{}`",
                        crate::diagnostic::shown(other)
                    ),
                ));
            }
        };
        value.map_err(|e| (ErrorCode::InternalError, e.to_string()))
    }
}

/// The analysis worker: runs the whole check with the analysis for the newest job of each
/// project, and publishes it if no change came since.
fn analyse_jobs(queue: &Receiver<Job>, sender: &Sender<Message>, shared: &Mutex<Shared>) {
    while let Ok(first) = queue.recv() {
        let mut newest = vec![first];
        while let Ok(job) = queue.try_recv() {
            newest.retain(|j| j.key != job.key);
            newest.push(job);
        }
        for job in newest {
            if job.cancel.load(Ordering::Relaxed) {
                continue;
            }
            let options = driver::Options {
                analysis: Some(analyse::Options {
                    cancel: Some(Arc::clone(&job.cancel)),
                    ..analyse::Options::default()
                }),
            };
            let Ok(Ok(computed)) =
                catch_unwind(AssertUnwindSafe(|| pipeline::compute(&job.input, &options)))
            else {
                continue;
            };
            let mut shared = lock(shared);
            let current = shared.generations.get(&job.key) == Some(&job.generation);
            if current && !job.cancel.load(Ordering::Relaxed) {
                pipeline::publish(
                    sender,
                    &mut shared.published,
                    &job.key,
                    &computed,
                    &job.anchor,
                );
            }
        }
    }
}
