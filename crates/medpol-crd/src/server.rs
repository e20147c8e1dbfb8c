//! The HTTP server: discovery, the four services, the DTR Questionnaires.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use medpol_fhir::binding::Binding;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::audit::{self, AuditLog, Entry};
use crate::clock::{self, Now};
use crate::decide::{self, Answered};
use crate::fetch::{self, Limits};
use crate::hook::{self, Hook};
use crate::reply::{IssueCode, Reply};
use crate::shown;

/// At most this many calls are handled at once (each may hold a request of `--max-request`
/// bytes and what is fetched for it); the others wait.
pub const CONCURRENT_CALLS: usize = 16;

/// A request's body must arrive within this time.
pub const BODY_TIME: Duration = Duration::from_secs(30);

/// What `medpol serve` starts the server with.
#[derive(Debug, Clone)]
pub struct Config {
    pub binding: Binding,
    /// The address to listen on (`127.0.0.1:8080`; port 0 takes a free one).
    pub listen: String,
    /// The service's own base URL, for the Questionnaires' canonical URLs; by default
    /// `http://` and the address listened on.
    pub base_url: Option<String>,
    /// The audit log, appended to.
    pub audit: PathBuf,
    /// The largest request body taken, in bytes.
    pub max_request: usize,
}

/// The service's state: the binding, the audit log, the HTTP client it fetches with.
#[derive(Debug)]
pub struct Service {
    binding: Binding,
    base_url: String,
    audit: AuditLog,
    client: reqwest::Client,
    limits: Limits,
    max_request: usize,
    calls: Semaphore,
    /// The CRD policies' artifact hashes, for the audit log.
    policies: Map<String, Value>,
    discovery: String,
}

impl Service {
    pub fn new(
        binding: Binding,
        base_url: String,
        audit: AuditLog,
        max_request: usize,
    ) -> io::Result<Service> {
        let limits = Limits::default();
        let client = fetch::client(&limits).map_err(io::Error::other)?;
        let policies = binding
            .crd_policies()
            .map(|p| {
                (
                    p.policy_id().to_string(),
                    Value::String(p.artifact.document().hash.clone()),
                )
            })
            .collect();
        let discovery = hook::discovery(&binding).to_string();
        Ok(Service {
            binding,
            base_url: base_url.trim_end_matches('/').to_string(),
            audit,
            client,
            limits,
            max_request,
            calls: Semaphore::new(CONCURRENT_CALLS),
            policies,
            discovery,
        })
    }
}

/// Serves on a listener until `shutdown` completes, then finishes the calls under way.
pub async fn serve(
    listener: TcpListener,
    service: Service,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = Router::new()
        .route("/cds-services", get(discovery))
        .route("/cds-services/{id}", post(call))
        .route("/fhir/Questionnaire/{id}", get(questionnaire))
        .fallback(not_found)
        .with_state(Arc::new(service));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Starts a multi-threaded runtime, listens, calls `ready` with the address bound, and serves
/// until SIGINT or SIGTERM.
pub fn run(config: Config, ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let audit = AuditLog::open(&config.audit).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot open the audit log `{}`: {e}",
                    config.audit.display()
                ),
            )
        })?;
        let listener = TcpListener::bind(&config.listen).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on `{}`: {e}", shown(&config.listen)),
            )
        })?;
        let addr = listener.local_addr()?;
        let base_url = config.base_url.unwrap_or_else(|| format!("http://{addr}"));
        let service = Service::new(config.binding, base_url, audit, config.max_request)?;
        ready(addr);
        serve(listener, service, shutdown_signal()).await
    })
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

fn json_response(status: u16, body: &Value, content_type: &'static str) -> Response {
    text_response(status, body.to_string(), content_type)
}

fn text_response(status: u16, body: String, content_type: &'static str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn reply_response(reply: &Reply) -> Response {
    json_response(reply.status, &reply.body, "application/json")
}

async fn discovery(State(service): State<Arc<Service>>) -> Response {
    let mut response = service.discovery.clone().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn questionnaire(
    State(service): State<Arc<Service>>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let id = path.map(|Path(id)| id).unwrap_or_default();
    match medpol_fhir::questionnaire::by_id(&service.binding, &id, &service.base_url) {
        Some(q) => json_response(200, &q, "application/fhir+json"),
        None => {
            let reply = Reply::error(
                404,
                IssueCode::NotFound,
                format!("no Questionnaire `{}`", shown(&id)),
            );
            json_response(reply.status, &reply.body, "application/fhir+json")
        }
    }
}

async fn not_found(request: Request) -> Response {
    let path = request.uri().path().to_string();
    let reply = Reply::error(
        404,
        IssueCode::NotFound,
        format!(
            "no endpoint `{}`; the services are under `/cds-services`",
            shown(&path)
        ),
    );
    reply_response(&reply)
}

/// Reads a body of at most `limit` bytes: 413 past it (a `Content-Length` over it is refused
/// before reading), 408 when it does not arrive in time.
async fn read_body(request: Request, limit: usize) -> Result<Vec<u8>, Reply> {
    let too_large = || {
        Reply::error(
            413,
            IssueCode::TooCostly,
            format!("the request is larger than {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body: Body = request.into_body();
    let read = async {
        let mut bytes = Vec::with_capacity(declared.map_or(0, |n| n as usize));
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|_| {
                Reply::bad(IssueCode::Structure, "the request body could not be read")
            })?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > limit {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(bytes)
    };
    tokio::time::timeout(BODY_TIME, read)
        .await
        .unwrap_or_else(|_| {
            Err(Reply::error(
                408,
                IssueCode::TooCostly,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_TIME.as_secs()
                ),
            ))
        })
}

async fn call(
    State(service): State<Arc<Service>>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
) -> Response {
    let id = path.map(|Path(id)| id).unwrap_or_default();
    let Ok(_permit) = service.calls.acquire().await else {
        return reply_response(&Reply::error(
            503,
            IssueCode::Exception,
            "the service is shutting down",
        ));
    };
    let Some(now) = clock::now() else {
        return reply_response(&Reply::error(
            500,
            IssueCode::Exception,
            "the server's clock is outside the years 1970 to 9999",
        ));
    };
    let body = if Hook::from_service_id(&id).is_some() {
        read_body(request, service.max_request).await
    } else {
        Err(decide::unknown_service(&id))
    };
    let (reply, text, entry) = service.handle(&id, body, &now).await;
    if let Err(e) = service.audit.write(entry.line()).await {
        eprintln!("error: cannot write the audit log: {e}");
        return reply_response(&Reply::error(
            500,
            IssueCode::Exception,
            "the call could not be written to the audit log",
        ));
    }
    text_response(reply.status, text, "application/json")
}

impl Service {
    /// Answers one call: the reply, its JSON text (written once, for the client and the log)
    /// and what to log.
    async fn handle(
        &self,
        id: &str,
        body: Result<Vec<u8>, Reply>,
        now: &Now,
    ) -> (Reply, String, Entry) {
        let mut entry = Entry {
            time: now.time.clone(),
            service: shown(id),
            hook: None,
            hook_instance: None,
            request: Err((String::new(), String::new())),
            fetched: Map::new(),
            today: now.today.to_string(),
            base_url: self.base_url.clone(),
            policies: self.policies.clone(),
            status: 0,
            response: String::new(),
            notes: Vec::new(),
        };
        let reply = self.answer(id, body, now, &mut entry).await;
        entry.status = reply.status;
        let text = reply.body.to_string();
        entry.response.clone_from(&text);
        (reply, text, entry)
    }

    async fn answer(
        &self,
        id: &str,
        body: Result<Vec<u8>, Reply>,
        now: &Now,
        entry: &mut Entry,
    ) -> Reply {
        let bytes = match body {
            Ok(b) => b,
            Err(reply) => {
                entry.request = Err((diagnostics(&reply), String::new()));
                return reply;
            }
        };
        let mut request: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                let reply = Reply::bad(
                    IssueCode::Structure,
                    format!("the request is not JSON: {e}"),
                );
                entry.request = Err((diagnostics(&reply), audit::request_start(&bytes)));
                return reply;
            }
        };
        // The token is kept for fetching only; the request, the log and a replay see `***`.
        let token = hook::mask(&mut request);
        entry.service = id.to_string();
        // The log keeps the request as it came (it parsed as JSON, so it is UTF-8), unless a
        // token had to be masked in it or it spans lines (a log line is one line).
        entry.request = Ok(match (&token, String::from_utf8(bytes)) {
            (None, Ok(text)) if !text.contains(['\n', '\r']) => text,
            _ => request.to_string(),
        });
        entry.hook = request
            .get("hook")
            .and_then(Value::as_str)
            .map(str::to_string);
        entry.hook_instance = request
            .get("hookInstance")
            .and_then(Value::as_str)
            .map(str::to_string);
        let resources = hook::count_resources(&request, crate::MAX_RESOURCES);
        let pending = match decide::begin(&self.binding, id, &mut request) {
            Ok(p) => p,
            Err(reply) => return reply,
        };
        let fetched = match (pending.call.fhir_server, token) {
            (Some(server), Some(token)) if !pending.plan.is_empty() => {
                fetch::fetch(
                    &self.client,
                    server,
                    &token,
                    &pending.plan,
                    &self.limits,
                    resources,
                )
                .await
            }
            _ => Map::new(),
        };
        let Answered { reply, notes } =
            pending.finish(&self.binding, &fetched, now.today, &self.base_url);
        entry.fetched = fetched;
        entry.notes = notes;
        reply
    }
}

fn diagnostics(reply: &Reply) -> String {
    reply
        .body
        .pointer("/issue/0/diagnostics")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
