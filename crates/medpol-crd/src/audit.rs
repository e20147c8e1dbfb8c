//! The audit log: one JSON line per call, appended to a file by one writer thread and flushed
//! before the call's response is sent.
//!
//! A line (`docs/crd.md`): `request` (as received, the access token replaced by `***`),
//! `time` (RFC 3339, UTC), `service`, `hook`, `hookInstance`, `fetched` (query key or order
//! reference → what the FHIR server gave, or `{"error": "..."}`), `today`, `baseUrl`,
//! `policies` (policy id → artifact hash), `status`, `response`, `notes`. A request that is not
//! JSON has `request_error` and `request_start` (its first 200 bytes, lossily, cut at an
//! `access_token`) instead of `request`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

type Job = (String, oneshot::Sender<io::Result<()>>);

/// Appends lines to the audit file; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    jobs: mpsc::Sender<Job>,
}

impl AuditLog {
    /// Opens (creates) the file for appending and starts the thread that writes to it. The
    /// thread ends when the last `AuditLog` is dropped.
    pub fn open(path: &Path) -> io::Result<AuditLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (jobs, receiver) = mpsc::channel(256);
        std::thread::Builder::new()
            .name("medpol-crd-audit".into())
            .spawn(move || write_lines(file, receiver))?;
        Ok(AuditLog { jobs })
    }

    /// Writes one line (a `\n` is added) and waits until it is written and flushed.
    pub async fn write(&self, mut line: String) -> io::Result<()> {
        line.push('\n');
        let (done, wait) = oneshot::channel();
        self.jobs
            .send((line, done))
            .await
            .map_err(|_| io::Error::other("the audit log is closed"))?;
        wait.await
            .map_err(|_| io::Error::other("the audit log is closed"))?
    }
}

fn write_lines(mut file: File, mut jobs: mpsc::Receiver<Job>) {
    // Under load the lines that wait are written together, with one system call: each call
    // still waits for its own line, and fewer wake-ups leave the cores to the calls.
    let mut batch: Vec<Job> = Vec::new();
    let mut text = String::new();
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < 256 {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        text.clear();
        for (line, _) in &batch {
            text.push_str(line);
        }
        let written = file.write_all(text.as_bytes()).and_then(|()| file.flush());
        for (_, done) in batch.drain(..) {
            let _ = done.send(match &written {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
}

/// The first 200 bytes of a request that is not JSON, lossily, cut before an `access_token`.
pub fn request_start(body: &[u8]) -> String {
    let head = body.get(..200).unwrap_or(body);
    let text = String::from_utf8_lossy(head);
    match text.find("access_token") {
        Some(at) => format!("{}access_token***", text.get(..at).unwrap_or_default()),
        None => text.into_owned(),
    }
}

/// A line's fields.
#[derive(Debug, Clone)]
pub struct Entry {
    pub time: String,
    pub service: String,
    pub hook: Option<String>,
    pub hook_instance: Option<String>,
    /// The request as JSON text, masked; `Err` for one that was not read or is not JSON: why,
    /// and the request's start.
    pub request: Result<String, (String, String)>,
    pub fetched: Map<String, Value>,
    pub today: String,
    pub base_url: String,
    pub policies: Map<String, Value>,
    pub status: u16,
    /// The response's JSON text, as sent.
    pub response: String,
    pub notes: Vec<String>,
}

/// An entry as written, borrowing its fields.
#[derive(Serialize)]
struct Fields<'a> {
    time: &'a str,
    service: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<&'a str>,
    #[serde(rename = "hookInstance", skip_serializing_if = "Option::is_none")]
    hook_instance: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_start: Option<&'a str>,
    fetched: &'a Map<String, Value>,
    today: &'a str,
    #[serde(rename = "baseUrl")]
    base_url: &'a str,
    policies: &'a Map<String, Value>,
    status: u16,
    #[serde(skip)]
    response: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

impl Entry {
    /// The line: one JSON object, the request's text put in as it is (not parsed again).
    pub fn line(&self) -> String {
        let (request, request_error, request_start) = match &self.request {
            Ok(text) => (Some(text.as_str()), None, None),
            Err((error, start)) => (None, Some(error.as_str()), Some(start.as_str())),
        };
        let fields = Fields {
            time: &self.time,
            service: &self.service,
            hook: self.hook.as_deref(),
            hook_instance: self.hook_instance.as_deref(),
            request_error,
            request_start,
            fetched: &self.fetched,
            today: &self.today,
            base_url: &self.base_url,
            policies: &self.policies,
            status: self.status,
            response: &self.response,
            notes: &self.notes,
        };
        // The request's and the response's texts are put in as they are, not serialized again.
        let rest = serde_json::to_string(&fields).unwrap_or_else(|_| "{}".into());
        let Some(inner) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
            return rest;
        };
        let mut line = String::with_capacity(
            request.map_or(0, str::len) + inner.len() + fields.response.len() + 32,
        );
        line.push('{');
        if let Some(request) = request {
            line.push_str("\"request\":");
            line.push_str(request);
            line.push(',');
        }
        line.push_str(inner);
        line.push_str(",\"response\":");
        line.push_str(if fields.response.is_empty() {
            "null"
        } else {
            fields.response
        });
        line.push('}');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_start_stops_before_the_token() {
        let body = br#"{"fhirAuthorization": {"access_token": "secret", "#;
        assert_eq!(
            request_start(body),
            r#"{"fhirAuthorization": {"access_token***"#
        );
        let long = vec![b'x'; 1000];
        assert_eq!(request_start(&long).len(), 200);
        assert_eq!(request_start(&[0xff, b'a']), "\u{fffd}a");
    }

    #[test]
    fn a_line_is_one_json_object() {
        let mut entry = Entry {
            time: "2026-12-07T00:00:00.000Z".into(),
            service: "order-sign-crd".into(),
            hook: Some("order-sign".into()),
            hook_instance: Some("h".into()),
            request: Ok(r#"{"hook":"order-sign","x":[1,2]}"#.into()),
            fetched: Map::new(),
            today: "2026-12-07".into(),
            base_url: "http://127.0.0.1:1".into(),
            policies: Map::new(),
            status: 200,
            response: serde_json::json!({"cards": []}).to_string(),
            notes: vec!["n".into()],
        };
        let line: Value = serde_json::from_str(&entry.line()).unwrap();
        assert_eq!(line["request"]["x"], serde_json::json!([1, 2]));
        assert_eq!(line["hookInstance"], "h");
        assert_eq!(line["notes"], serde_json::json!(["n"]));
        assert!(!entry.line().contains('\n'));
        entry.request = Err(("the request is not JSON".into(), "{".into()));
        let line: Value = serde_json::from_str(&entry.line()).unwrap();
        assert!(line.get("request").is_none());
        assert_eq!(line["request_error"], "the request is not JSON");
        assert_eq!(line["request_start"], "{");
    }

    #[tokio::test]
    async fn appends_lines() {
        let dir = std::env::temp_dir().join(format!("medpol-crd-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&path);
        let log = AuditLog::open(&path).unwrap();
        log.write(r#"{"a":1}"#.into()).await.unwrap();
        log.write(r#"{"b":"x\ny"}"#.into()).await.unwrap();
        drop(log);
        let log = AuditLog::open(&path).unwrap();
        log.write(r#"{"c":3}"#.into()).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":\"x\\ny\"}\n{\"c\":3}\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
