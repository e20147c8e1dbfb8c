//! The service over HTTP on loopback, with the smallest policy (`tests/cases/build/tiny.json`)
//! and a binding of its own: discovery, answers, errors, limits, fetching from a FHIR server
//! of the test's own (paged, with the bearer token), the audit log and its replay.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::Uri;
use axum::routing::get;
use medpol_artifact::Artifact;
use medpol_crd::audit::AuditLog;
use medpol_crd::replay::{self, Replayed};
use medpol_crd::{Service, serve};
use medpol_fhir::binding::{self, Binding};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const BINDING: &str = "
facts:
  hospitalized:
    condition: { system: http://hl7.org/fhir/sid/icd-10-cm, codes: [Z99.89] }
policies:
  tiny:
    crd:
      covered:
        decision: coverage
        outcomes: { covered: covered, not_covered: not-covered }
";

const TOKEN: &str = "test-token-1";

fn binding() -> Binding {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases/build/tiny.json");
    let artifact = Artifact::from_json(&std::fs::read_to_string(root).unwrap()).unwrap();
    let raw = binding::parse(BINDING).unwrap();
    let (bound, problems) = binding::check(&raw, &[artifact], true);
    bound.unwrap_or_else(|| panic!("{problems:?}"))
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    audit: PathBuf,
}

async fn start(max_request: usize) -> Running {
    let dir = std::env::temp_dir().join(format!(
        "medpol-crd-http-{}-{max_request}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let audit = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = Service::new(
        binding(),
        format!("http://{addr}"),
        AuditLog::open(&audit).unwrap(),
        max_request,
    )
    .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, service, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        done,
        audit,
    }
}

impl Running {
    async fn stop(mut self) -> Vec<Value> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.done.await.unwrap().unwrap();
        let text = std::fs::read_to_string(&self.audit).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn order_sign(conditions: Option<Value>) -> Value {
    let mut request = json!({
        "hook": "order-sign",
        "hookInstance": "5c1a0b9e-0000-4000-8000-000000000001",
        "context": {
            "userId": "Practitioner/dr-1",
            "patientId": "pat-1",
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [
                {"resource": {"resourceType": "ServiceRequest", "id": "sr-1", "status": "draft",
                  "intent": "order", "subject": {"reference": "Patient/pat-1"},
                  "extension": [{"url": "http://example.org/other", "valueString": "kept"}],
                  "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "22511"}]}}}
            ]}
        },
        "prefetch": {
            "coverage": {"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": {"resourceType": "Coverage", "id": "cov-1", "status": "active",
                  "beneficiary": {"reference": "Patient/pat-1"},
                  "payor": [{"reference": "Organization/payer"}]}}
            ]}
        }
    });
    if let Some(c) = conditions {
        request["prefetch"]["conditions"] = c;
    }
    request
}

fn conditions(codes: &[&str]) -> Value {
    let entry: Vec<Value> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            json!({"resource": {"resourceType": "Condition", "id": format!("c{i}"),
                "subject": {"reference": "Patient/pat-1"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]}}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "entry": entry})
}

/// `covered` of each coverage-information extension of each updated order.
fn covered(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for action in body["systemActions"].as_array().into_iter().flatten() {
        assert_eq!(action["type"], "update");
        assert!(action["description"].is_string());
        let r = &action["resource"];
        let name = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        for e in r["extension"].as_array().unwrap() {
            if e["url"] == medpol_fhir::crd::EXTENSION_URL {
                for sub in e["extension"].as_array().unwrap() {
                    if sub["url"] == "covered" {
                        out.push((name.clone(), sub["valueCode"].as_str().unwrap().to_string()));
                    }
                }
            }
        }
    }
    out
}

async fn post(
    client: &reqwest::Client,
    addr: SocketAddr,
    service: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let r = client
        .post(format!("http://{addr}/cds-services/{service}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn issue(body: &Value) -> (&str, &str) {
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    (
        body["issue"][0]["code"].as_str().unwrap(),
        body["issue"][0]["diagnostics"].as_str().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_refuses_and_logs() {
    let server = start(64 * 1024).await;
    let addr = server.addr;
    let client = reqwest::Client::new();

    let discovery: Value = client
        .get(format!("http://{addr}/cds-services"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let services = discovery["services"].as_array().unwrap();
    let ids: Vec<&str> = services.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "order-sign-crd",
            "order-select-crd",
            "order-dispatch-crd",
            "appointment-book-crd"
        ]
    );
    for s in services {
        assert_eq!(s["extension"]["davinci-crd.version"], json!(["2.2"]));
        assert_eq!(
            s["prefetch"]["coverage"],
            "Coverage?patient={{context.patientId}}&status=active"
        );
        assert_eq!(
            s["prefetch"]["conditions"],
            "Condition?patient={{context.patientId}}"
        );
    }

    // Hospitalized: covered; the other extension of the order is kept.
    let (status, body) = post(
        &client,
        addr,
        "order-sign-crd",
        order_sign(Some(conditions(&["Z99.89"]))).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        covered(&body),
        [("ServiceRequest/sr-1".into(), "covered".into())]
    );
    let resource = &body["systemActions"][0]["resource"];
    assert_eq!(resource["extension"][0]["valueString"], "kept");
    assert_eq!(body["cards"], json!([]));

    // Not hospitalized, and the weeks of care unknown: conditional.
    let (_, body) = post(
        &client,
        addr,
        "order-sign-crd",
        order_sign(Some(conditions(&["I10"]))).to_string(),
    )
    .await;
    assert_eq!(
        covered(&body),
        [("ServiceRequest/sr-1".into(), "conditional".into())]
    );

    // The conditions neither prefetched nor fetchable: conditional too.
    let (_, body) = post(
        &client,
        addr,
        "order-sign-crd",
        order_sign(None).to_string(),
    )
    .await;
    assert_eq!(
        covered(&body),
        [("ServiceRequest/sr-1".into(), "conditional".into())]
    );

    // No active coverage: a 400 with an OperationOutcome (CRD hook-13).
    let mut request = order_sign(Some(conditions(&["Z99.89"])));
    request["prefetch"]["coverage"] = json!({"resourceType": "Bundle", "type": "searchset"});
    let (status, body) = post(&client, addr, "order-sign-crd", request.to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");

    // order-select: only the selection.
    let mut request = order_sign(Some(conditions(&["Z99.89"])));
    request["hook"] = json!("order-select");
    request["context"]["selections"] = json!(["ServiceRequest/sr-1"]);
    let (status, body) = post(&client, addr, "order-select-crd", request.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(covered(&body).len(), 1);

    // Errors: each an OperationOutcome, and the server goes on.
    let (status, body) = post(&client, addr, "order-sign-crd", "{\"hook\": ").await;
    assert_eq!((status, issue(&body).0), (400, "structure"));
    let (status, body) = post(&client, addr, "no-such-service", "{}").await;
    assert_eq!((status, issue(&body).0), (404, "not-found"));
    let (status, body) = post(
        &client,
        addr,
        "order-select-crd",
        order_sign(None).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        issue(&body),
        (
            "invalid",
            "service `order-select-crd` answers hook `order-select`, not `order-sign`"
        )
    );
    let mut request = order_sign(None);
    request["context"]["patientId"] = json!("x".repeat(10_000));
    let (status, body) = post(&client, addr, "order-sign-crd", request.to_string()).await;
    assert_eq!(status, 400);
    assert!(issue(&body).1.len() < 120, "{body}");
    // Over the limit, declared and streamed.
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(100 * 1024));
    let (status, body) = post(&client, addr, "order-sign-crd", big.clone()).await;
    assert_eq!((status, issue(&body).0), (413, "too-costly"));
    let status = post_chunked(addr, "order-sign-crd", big.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // The Questionnaire of the policy's facts; an unknown one is 404.
    let q = client
        .get(format!("http://{addr}/fhir/Questionnaire/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(q.status().as_u16(), 404);

    let (status, _) = post(
        &client,
        addr,
        "order-sign-crd",
        order_sign(Some(conditions(&["Z99.89"]))).to_string(),
    )
    .await;
    assert_eq!(status, 200);

    let lines = server.stop().await;
    // Every call is one line (the Questionnaire and discovery are not calls).
    assert_eq!(lines.len(), 12);
    for line in &lines {
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert!(line["status"].is_u64());
        assert!(
            line["policies"]["tiny"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
    }
    // Those whose request was not read or not JSON say why instead of the request.
    let unread: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].get("request_error").is_some())
        .collect();
    assert_eq!(unread, [5, 6, 9, 10]);
    assert_eq!(lines[5]["request_start"], "{\"hook\": ");
    assert_eq!(lines[9]["status"], 413);
    // Replayed with the same artifacts: nothing differs.
    let binding = binding();
    for (i, line) in lines.iter().enumerate() {
        let replayed = replay::replay_line(&binding, i + 1, line.to_string().as_bytes()).unwrap();
        assert!(
            matches!(replayed, Replayed::Same | Replayed::Skipped(_)),
            "line {}: {replayed:?}",
            i + 1
        );
    }
}

type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A FHIR server with two pages of Conditions for `pat-1` (I10, then Z99.89), and for `pat-2` a
/// first page whose `next` link leads to another server; 401 without the token.
async fn fhir_server() -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    async fn conditions_page(
        State((seen, addr)): State<(Seen, SocketAddr)>,
        headers: HeaderMap,
        uri: Uri,
    ) -> (axum::http::StatusCode, String) {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let query = uri.query().unwrap_or_default().to_string();
        seen.lock().unwrap().push((query.clone(), auth.clone()));
        if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
            return (axum::http::StatusCode::UNAUTHORIZED, "{}".into());
        }
        let body = if query.contains("page=2") {
            conditions(&["Z99.89"])
        } else {
            let mut page = conditions(&["I10"]);
            let next = if query.contains("pat-2") {
                "http://other.example.org/fhir/Condition?page=2".to_string()
            } else {
                format!("http://{addr}/fhir/Condition?patient=pat-1&page=2")
            };
            page["link"] =
                json!([{"relation": "self", "url": "x"}, {"relation": "next", "url": next}]);
            page
        };
        (axum::http::StatusCode::OK, body.to_string())
    }
    let app = Router::new()
        .route("/fhir/Condition", get(conditions_page))
        .with_state((seen.clone(), addr));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_what_the_prefetch_lacks() {
    let (fhir, seen) = fhir_server().await;
    let server = start(1 << 20).await;
    let client = reqwest::Client::new();
    let with_server = |patient: &str, token: &str| {
        let mut r = order_sign(None);
        r["context"]["patientId"] = json!(patient);
        r["fhirServer"] = json!(format!("http://{fhir}/fhir/"));
        r["fhirAuthorization"] = json!({"access_token": token, "token_type": "Bearer",
            "expires_in": 300, "scope": "user/Condition.read", "subject": "medpol"});
        r
    };
    // Both pages read: Z99.89 on the second decides.
    let (status, body) = post(
        &client,
        server.addr,
        "order-sign-crd",
        with_server("pat-1", TOKEN).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        covered(&body),
        [("ServiceRequest/sr-1".to_string(), "covered".to_string())]
    );
    // A `next` link off the server: the query fails, the answer waits for its facts.
    let (_, body) = post(
        &client,
        server.addr,
        "order-sign-crd",
        with_server("pat-2", TOKEN).to_string(),
    )
    .await;
    assert_eq!(
        covered(&body),
        [("ServiceRequest/sr-1".to_string(), "conditional".to_string())]
    );
    // A token the server refuses: the same.
    let (status, body) = post(
        &client,
        server.addr,
        "order-sign-crd",
        with_server("pat-1", "wrong").to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        covered(&body),
        [("ServiceRequest/sr-1".to_string(), "conditional".to_string())]
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("patient=pat-1".to_string(), Some(format!("Bearer {TOKEN}"))),
            (
                "patient=pat-1&page=2".to_string(),
                Some(format!("Bearer {TOKEN}"))
            ),
            ("patient=pat-2".to_string(), Some(format!("Bearer {TOKEN}"))),
            (
                "patient=pat-1".to_string(),
                Some("Bearer wrong".to_string())
            ),
        ]
    );
    let lines = server.stop().await;
    assert_eq!(lines.len(), 3);
    let fetched = &lines[0]["fetched"]["conditions"];
    assert_eq!(fetched["entry"].as_array().unwrap().len(), 2);
    assert!(fetched.get("link").is_none());
    assert_eq!(
        lines[1]["fetched"]["conditions"]["error"],
        "a `next` link leads off the FHIR server"
    );
    assert_eq!(
        lines[2]["fetched"]["conditions"]["error"],
        "the FHIR server answered 401"
    );
    for line in &lines {
        assert_eq!(line["request"]["fhirAuthorization"]["access_token"], "***");
        assert!(!line.to_string().contains(TOKEN));
    }
    let binding = binding();
    for (i, line) in lines.iter().enumerate() {
        let replayed = replay::replay_line(&binding, i + 1, line.to_string().as_bytes()).unwrap();
        assert_eq!(replayed, Replayed::Same, "line {}", i + 1);
    }
    // A log whose answer was different shows the element that changed.
    let mut changed = lines[0].clone();
    let ext = changed["response"]["systemActions"][0]["resource"]["extension"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["url"] == medpol_fhir::crd::EXTENSION_URL)
        .unwrap();
    for sub in ext["extension"].as_array_mut().unwrap() {
        if sub["url"] == "covered" {
            sub["valueCode"] = json!("not-covered");
        }
    }
    let Replayed::Differs(diff) =
        replay::replay_line(&binding, 1, changed.to_string().as_bytes()).unwrap()
    else {
        panic!("no difference found");
    };
    assert_eq!(diff.orders.len(), 1);
    assert_eq!(diff.orders[0].order, "ServiceRequest/sr-1");
    assert_eq!(diff.orders[0].changes.len(), 1);
    assert_eq!(diff.orders[0].changes[0].element, "covered");
    assert_eq!(
        diff.orders[0].changes[0].old.as_deref(),
        Some("not-covered")
    );
    assert_eq!(diff.orders[0].changes[0].new.as_deref(), Some("covered"));
}

/// Posts a body in chunks, without a Content-Length; the status line of the answer.
async fn post_chunked(addr: SocketAddr, service: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /cds-services/{service} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(8192) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
