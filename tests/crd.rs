//! The CRD service end to end: `medpol serve policies` started as a user starts it, spoken to
//! over HTTP on loopback. Discovery lists the four CDS Hooks services; each request of
//! `tests/cases/crd/requests` (BCBS MA policy 484, vertebroplasty and sacroplasty) is answered
//! as the policy says, and each answer is valid CDS Hooks 2.0, FHIR R4 and Da Vinci CRD STU 2.2
//! (`tests/support/fhir_validate.py`, which `tests/cases/crd/valid` and `invalid` show can both
//! accept and refuse); bad requests get their status and an OperationOutcome; a body of
//! 100 MB is refused while it streams in, and 10,000 Conditions are answered, the server's
//! peak memory staying bounded; conditions missing from the prefetch are fetched from the EHR
//! (a FHIR endpoint of the test's own) with the request's bearer token; and `medpol replay`
//! decides the audit log's requests again without a difference.
//!
//! The validator needs Python with `fhir.resources==6.4.0` and `pydantic==1.10.27`
//! (`MEDPOL_CI_INSTALL=1 .ci/run` installs them into `target/ci-tools/py`; `MEDPOL_PYTHON` names
//! another Python); without them the trials that validate are reported as ignored, with why.

#[path = "support/crd_server.rs"]
mod crd_server;
#[path = "support/run.rs"]
mod run;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};

use crd_server::{Server, fixture, read_body, read_head, root};

const CI_URL: &str =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";

/// The four hooks the service answers.
const HOOKS: [&str; 4] = [
    "order-sign",
    "order-select",
    "order-dispatch",
    "appointment-book",
];

/// The bearer token of `requests/order-sign-fetch-conditions.json`, which the test's FHIR
/// endpoint asks for.
const TOKEN: &str = "medpol-test-token-5c9e1b";

/// The server's peak resident set may not pass this.
const MAX_RSS: u64 = 300 * 1024 * 1024;

// ------------------------------------------------------------------ trials

fn main() {
    let args = Arguments::from_args();
    let shared: SharedCell = Arc::new(OnceLock::new());
    let python = validator();
    if let Err(why) = &python {
        eprintln!("skipped: the FHIR validator: {why}");
    }
    let mut trials = Vec::new();
    let mut server_trial = |name: &str, f: fn(&Shared) -> Result<(), Failed>| {
        let shared = Arc::clone(&shared);
        trials.push(Trial::test(name, move || {
            let shared = shared
                .get_or_init(Shared::start)
                .as_ref()
                .map_err(|e| Failed::from(e.clone()))?;
            f(shared).map_err(|e| with_stderr(e, &shared.server))
        }));
    };
    server_trial("discovery_lists_the_four_crd_services", discovery);
    server_trial("each_request_is_answered_as_policy_484_says", answers);
    server_trial("malformed_json_is_400_with_an_operation_outcome", malformed);
    server_trial("an_unknown_service_is_404", unknown_service);
    server_trial("a_request_without_its_context_is_400", missing_context);
    server_trial(
        "a_call_without_one_active_coverage_is_400",
        coverage_is_one_active,
    );
    server_trial("a_100_mb_body_is_refused_while_it_streams_in", oversized);
    server_trial("ten_thousand_conditions_are_answered", many_conditions);
    server_trial(
        "missing_conditions_are_fetched_with_the_bearer_token",
        fetching,
    );
    trials.push(Trial::test(
        "medpol_replay_finds_no_difference_in_the_audit_log",
        replay,
    ));

    let validating: [(&str, Validating); 4] = [
        ("the_validator_accepts_the_valid_cases", |p, _| {
            valid_cases(p)
        }),
        (
            "the_validator_refuses_each_invalid_case_for_its_reason",
            |p, _| invalid_cases(p),
        ),
        ("the_request_fixtures_are_valid_fhir", |p, _| {
            fixtures_valid(p)
        }),
        ("each_answer_is_valid_cds_hooks_fhir_and_crd", answers_valid),
    ];
    for (name, f) in validating {
        match &python {
            Ok(python) => {
                let python = python.clone();
                let shared = Arc::clone(&shared);
                trials.push(Trial::test(name, move || f(&python, &shared)));
            }
            Err(_) => trials.push(Trial::test(name, || Ok(())).with_ignored_flag(true)),
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Stops the shared server (its Drop kills it).
    drop(shared);
    conclusion.exit();
}

/// A failure, with the end of what the server wrote on standard error.
fn with_stderr(failed: Failed, server: &Server) -> Failed {
    let tail = server.stderr_tail();
    let message = failed.message().unwrap_or("failed");
    if tail.trim().is_empty() {
        return message.into();
    }
    format!("{message}\nthe server's standard error ends with:\n{tail}").into()
}

/// The shared server, started by the first trial that needs it.
type SharedCell = Arc<OnceLock<Result<Shared, String>>>;

/// A trial that runs the validator (with the Python that has it).
type Validating = fn(&Path, &SharedCell) -> Result<(), Failed>;

/// A change to a request.
type Change = fn(&mut Value);

/// One server for the trials that share it, with the services it lists.
struct Shared {
    server: Server,
    /// Hook → service id.
    services: BTreeMap<String, String>,
}

impl Shared {
    fn start() -> Result<Shared, String> {
        let server = Server::start()?;
        let reply = get(&server.url("/cds-services"))?;
        if reply.status != 200 {
            return Err(format!(
                "GET /cds-services answered {}: {}",
                reply.status, reply.body
            ));
        }
        let services = services_by_hook(&reply.json()?)?;
        Ok(Shared { server, services })
    }

    fn service_url(&self, hook: &str) -> String {
        self.server
            .url(&format!("/cds-services/{}", self.services[hook]))
    }
}

fn services_by_hook(discovery: &Value) -> Result<BTreeMap<String, String>, String> {
    let services = discovery["services"]
        .as_array()
        .ok_or("the discovery answer has no `services` array")?;
    let mut by_hook = BTreeMap::new();
    for service in services {
        let hook = service["hook"].as_str().ok_or("a service without `hook`")?;
        let id = service["id"].as_str().ok_or("a service without `id`")?;
        if by_hook.insert(hook.to_string(), id.to_string()).is_some() {
            return Err(format!("two services for the hook {hook}"));
        }
    }
    Ok(by_hook)
}

// ------------------------------------------------------------------ HTTP

struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body).map_err(|e| {
            format!(
                "the answer ({}) is not JSON ({e}): {}",
                self.status,
                shown(&self.body)
            )
        })
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

fn to_reply(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, String> {
    let mut response = response.map_err(|e| format!("HTTP: {e}"))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

fn get(url: &str) -> Result<Reply, String> {
    to_reply(agent().get(url).call())
}

fn post(url: &str, body: &str) -> Result<Reply, String> {
    to_reply(
        agent()
            .post(url)
            .header("content-type", "application/json")
            .send(body),
    )
}

/// The first 300 characters of a text, for messages.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(300).collect();
    if text.chars().nth(300).is_some() {
        out.push('…');
    }
    out
}

// ------------------------------------------------------------------ the fixtures

/// What policy 484 says of each request (the binding, `policies/fhir.yaml`, maps the plan
/// values of Coverage.class to the product lines and the encounter class to the setting).
struct Expect {
    file: &'static str,
    hook: &'static str,
    /// The order (or appointment) the coverage information is about.
    order: &'static str,
    coverage: &'static str,
    /// The codes `covered` may have; empty: any.
    covered: &'static [&'static str],
    /// `pa-needed` when the answer has one (and, with `pa_required`, that it has one).
    pa_needed: Option<&'static str>,
    pa_required: bool,
    /// Whether the answer must carry coverage information: a primary hook's (order-sign,
    /// order-dispatch, appointment-book: CRD hook-16) where policy 484 addresses the order;
    /// order-select may leave it out.
    ci_required: bool,
}

const EXPECTED: [Expect; 7] = [
    // HMO, outpatient, 22511, M80.08XA: osteoporotic vertebral fracture. Whether the
    // criteria are met needs documentation the record may lack, so covered or conditional;
    // prior authorization is required for outpatient HMO (the matrix decides it alone).
    Expect {
        file: "order-sign-covered.json",
        hook: "order-sign",
        order: "ServiceRequest/sr-1001",
        coverage: "Coverage/cov-pat-1001",
        covered: &["covered", "conditional"],
        pa_needed: Some("auth-needed"),
        pa_required: true,
        ci_required: true,
    },
    // Sacroplasty (0200T) is investigational for every product: not covered, and then no
    // pa-needed (crd-ci-q2).
    Expect {
        file: "order-sign-sacroplasty.json",
        hook: "order-sign",
        order: "ServiceRequest/sr-1002",
        coverage: "Coverage/cov-pat-1002",
        covered: &["not-covered"],
        pa_needed: None,
        pa_required: false,
        ci_required: true,
    },
    // POS, 22511, the conditions fetched from the EHR: a traumatic fracture (S32.020A), which
    // no criterion covers: investigational whatever else the record says.
    Expect {
        file: "order-sign-fetch-conditions.json",
        hook: "order-sign",
        order: "ServiceRequest/sr-1003",
        coverage: "Coverage/cov-pat-1003",
        covered: &["not-covered"],
        pa_needed: None,
        pa_required: false,
        ci_required: true,
    },
    // Indemnity, outpatient: no prior authorization.
    Expect {
        file: "order-select.json",
        hook: "order-select",
        order: "ServiceRequest/sr-1004",
        coverage: "Coverage/cov-pat-1004",
        covered: &[],
        pa_needed: Some("no-auth"),
        pa_required: false,
        ci_required: false,
    },
    // Medicare HMO Blue, outpatient: LCD L33569 decides coverage, which the binding leaves
    // unaddressed (`medicare_lcd: not-addressed`): `covered` is the binding's answer for what
    // no policy answers, `indeterminate` (with its reason), and the matrix still requires
    // prior authorization. A primary hook always carries coverage information (hook-16).
    Expect {
        file: "order-dispatch.json",
        hook: "order-dispatch",
        order: "ServiceRequest/sr-1005",
        coverage: "Coverage/cov-pat-1005",
        covered: &["indeterminate"],
        pa_needed: Some("auth-needed"),
        pa_required: true,
        ci_required: true,
    },
    // PPO, inpatient: precertification for every product inpatient.
    Expect {
        file: "appointment-book.json",
        hook: "appointment-book",
        order: "Appointment/appt-1006",
        coverage: "Coverage/cov-pat-1006",
        covered: &["covered", "conditional"],
        pa_needed: Some("auth-needed"),
        pa_required: true,
        ci_required: true,
    },
    // Medicare PPO Blue, outpatient: the LCD again (`indeterminate`); no prior authorization.
    Expect {
        file: "order-sign-medicare-ppo.json",
        hook: "order-sign",
        order: "ServiceRequest/sr-1007",
        coverage: "Coverage/cov-pat-1007",
        covered: &["indeterminate"],
        pa_needed: Some("no-auth"),
        pa_required: true,
        ci_required: true,
    },
];

/// A request fixture as JSON; one that names a `fhirServer` is pointed at `fhir` instead.
fn request(file: &str, fhir: Option<&FhirEndpoint>) -> Value {
    let mut request: Value = serde_json::from_str(&fixture(&format!("requests/{file}")))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    if request.get("fhirServer").is_some() {
        let fhir = fhir.expect("a FHIR endpoint for a request that names one");
        request["fhirServer"] = json!(fhir.base());
    }
    request
}

/// The coverage-information extensions of an answer's system actions and card suggestions,
/// with the resource each is on (`ServiceRequest/sr-1001`).
fn coverage_information(answer: &Value) -> Vec<(String, Value)> {
    let mut actions: Vec<&Value> = answer["systemActions"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for card in answer["cards"].as_array().into_iter().flatten() {
        for suggestion in card["suggestions"].as_array().into_iter().flatten() {
            actions.extend(suggestion["actions"].as_array().into_iter().flatten());
        }
    }
    let mut found = Vec::new();
    for action in actions {
        let resource = &action["resource"];
        let name = format!(
            "{}/{}",
            resource["resourceType"].as_str().unwrap_or("?"),
            resource["id"].as_str().unwrap_or("?")
        );
        for extension in resource["extension"].as_array().into_iter().flatten() {
            if extension["url"] == CI_URL {
                found.push((name.clone(), extension.clone()));
            }
        }
    }
    found
}

/// The values of one sub-extension (codes as strings, references by their reference).
fn values(ci: &Value, url: &str) -> Vec<String> {
    ci["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["url"] == url)
        .map(|e| {
            let value = e
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.starts_with("value")))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null);
            match value {
                Value::String(s) => s,
                Value::Object(ref o) if o.contains_key("reference") => {
                    o["reference"].as_str().unwrap_or_default().to_string()
                }
                other => other.to_string(),
            }
        })
        .collect()
}

/// What an answer decides, without what differs from call to call (assertion id, dates):
/// each coverage-information's resource and its status codes.
fn decided(answer: &Value) -> BTreeSet<(String, String, Vec<String>)> {
    let mut out = BTreeSet::new();
    for (resource, ci) in coverage_information(answer) {
        for url in [
            "covered",
            "pa-needed",
            "doc-needed",
            "doc-purpose",
            "info-needed",
        ] {
            let mut codes = values(&ci, url);
            codes.sort();
            out.insert((resource.clone(), url.to_string(), codes));
        }
    }
    out
}

fn check_answer(expect: &Expect, answer: &Value) -> Result<(), String> {
    let found = coverage_information(answer);
    if found.is_empty() {
        if expect.ci_required {
            return Err(format!(
                "{}: a {} answer must carry coverage information (CRD hook-16): {}",
                expect.file,
                expect.hook,
                shown(&answer.to_string())
            ));
        }
        return Ok(());
    }
    for (resource, ci) in &found {
        let at = format!("{} ({resource})", expect.file);
        if resource != expect.order {
            return Err(format!(
                "{at}: the coverage information is on {resource}, not on the order {}",
                expect.order
            ));
        }
        let coverage = values(ci, "coverage");
        if !coverage.iter().all(|c| c.ends_with(expect.coverage)) || coverage.is_empty() {
            return Err(format!(
                "{at}: coverage is {coverage:?}, not the prefetched {}",
                expect.coverage
            ));
        }
        let covered = values(ci, "covered");
        if !expect.covered.is_empty()
            && !covered.iter().all(|c| expect.covered.contains(&c.as_str()))
        {
            return Err(format!(
                "{at}: covered is {covered:?}, policy 484 says one of {:?}",
                expect.covered
            ));
        }
        let pa = values(ci, "pa-needed");
        match expect.pa_needed {
            None if !pa.is_empty() => {
                return Err(format!("{at}: pa-needed is {pa:?}, and should be absent"));
            }
            Some(code) if pa.iter().any(|p| p != code) => {
                return Err(format!(
                    "{at}: pa-needed is {pa:?}, policy 484's matrix says {code}"
                ));
            }
            Some(code) if pa.is_empty() && expect.pa_required => {
                return Err(format!(
                    "{at}: no pa-needed, policy 484's matrix says {code}"
                ));
            }
            _ => {}
        }
        // CRD hook-19: the secondary hooks do not ask for clinical or administrative
        // documentation.
        if expect.hook == "order-select" {
            let doc = values(ci, "doc-needed");
            if doc.iter().any(|d| d == "clinical" || d == "admin") {
                return Err(format!(
                    "{at}: doc-needed {doc:?} in an answer to {} (CRD hook-19)",
                    expect.hook
                ));
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ server trials

fn discovery(shared: &Shared) -> Result<(), Failed> {
    let reply = get(&shared.server.url("/cds-services"))?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.content_type.starts_with("application/json"),
        "discovery's content type: {:?}",
        reply.content_type
    );
    let discovery = reply.json()?;
    let hooks: BTreeSet<&str> = shared.services.keys().map(String::as_str).collect();
    assert_eq!(
        hooks,
        HOOKS.into_iter().collect::<BTreeSet<_>>(),
        "the services' hooks"
    );
    for service in discovery["services"].as_array().unwrap() {
        let hook = service["hook"].as_str().unwrap();
        let id = service["id"].as_str().unwrap();
        assert!(
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{hook}: the service id {id:?} is not a plain path segment"
        );
        assert!(
            service["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{hook}: a service needs a description"
        );
        let prefetch = service["prefetch"]
            .as_object()
            .unwrap_or_else(|| panic!("{hook}: no prefetch"));
        for (key, template) in prefetch {
            assert!(
                template.is_string(),
                "{hook}: prefetch {key} is not a string"
            );
        }
        let template = |key: &str| {
            prefetch
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{hook}: no prefetch `{key}`: {prefetch:?}"))
        };
        // The binding asks for what policy 484 reads: the Coverage, the Conditions and (where
        // the hook has one) the Encounter; the Patient only when a fact reads it.
        if let Some(patient) = prefetch.get("patient") {
            assert_eq!(patient, "Patient/{{context.patientId}}", "{hook}");
        }
        let coverage = template("coverage");
        assert!(
            coverage.starts_with("Coverage?") && coverage.contains("{{context.patientId}}"),
            "{hook}: prefetch coverage {coverage:?}"
        );
        let conditions = template("conditions");
        assert!(
            conditions.starts_with("Condition?") && conditions.contains("{{context.patientId}}"),
            "{hook}: prefetch conditions {conditions:?}"
        );
        if hook != "order-dispatch" {
            assert_eq!(
                template("encounter"),
                "Encounter/{{context.encounterId}}",
                "{hook}"
            );
        }
    }
    Ok(())
}

fn answers(shared: &Shared) -> Result<(), Failed> {
    let fhir = FhirEndpoint::start();
    let mut failures = Vec::new();
    for expect in &EXPECTED {
        let body = request(expect.file, Some(&fhir)).to_string();
        let reply = post(&shared.service_url(expect.hook), &body)?;
        if reply.status != 200 {
            failures.push(format!(
                "{}: {} {}",
                expect.file,
                reply.status,
                shown(&reply.body)
            ));
            continue;
        }
        if let Err(e) = reply
            .json()
            .and_then(|answer| check_answer(expect, &answer))
        {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n").into())
    }
}

/// An answer is a FHIR OperationOutcome with an error issue.
fn operation_outcome(reply: &Reply, what: &str) -> Result<(), String> {
    let outcome = reply.json().map_err(|e| format!("{what}: {e}"))?;
    if outcome["resourceType"] != "OperationOutcome" {
        return Err(format!(
            "{what}: the answer is not an OperationOutcome: {}",
            shown(&reply.body)
        ));
    }
    let issues = outcome["issue"].as_array().cloned().unwrap_or_default();
    if !issues
        .iter()
        .any(|i| matches!(i["severity"].as_str(), Some("error" | "fatal")) && i["code"].is_string())
    {
        return Err(format!(
            "{what}: the OperationOutcome has no error issue: {}",
            shown(&reply.body)
        ));
    }
    Ok(())
}

/// Bodies that are not a JSON object of a request.
const MALFORMED: [(&str, &str); 5] = [
    ("cut short", r#"{"hook": "order-sign", "hookInstance": "#),
    ("not JSON", "hook=order-sign&patient=pat-1001"),
    ("empty", ""),
    ("an array", "[]"),
    ("a JSON string", r#""order-sign""#),
];

fn malformed(shared: &Shared) -> Result<(), Failed> {
    for (what, body) in MALFORMED {
        let reply = post(&shared.service_url("order-sign"), body)?;
        assert_eq!(reply.status, 400, "{what}: {}", reply.body);
        operation_outcome(&reply, what)?;
    }
    // Bytes that are not UTF-8 at all.
    let mut bytes = br#"{"hook": "order-sign", "hookInstance": ""#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x80]);
    bytes.extend_from_slice(br#""}"#);
    let response = agent()
        .post(&shared.service_url("order-sign"))
        .header("content-type", "application/json")
        .send(&bytes[..]);
    let reply = to_reply(response)?;
    assert_eq!(
        reply.status, 400,
        "bytes that are not UTF-8: {}",
        reply.body
    );
    operation_outcome(&reply, "bytes that are not UTF-8")?;
    Ok(())
}

fn unknown_service(shared: &Shared) -> Result<(), Failed> {
    let body = request("order-sign-covered.json", None).to_string();
    let reply = post(&shared.server.url("/cds-services/no-such-service"), &body)?;
    assert_eq!(reply.status, 404, "{}", reply.body);
    let reply = get(&shared.server.url("/no-such-path"))?;
    assert_eq!(reply.status, 404, "{}", reply.body);
    Ok(())
}

fn missing_context(shared: &Shared) -> Result<(), Failed> {
    let cases: [(&str, Change); 5] = [
        ("no patientId", |r| {
            r["context"].as_object_mut().unwrap().remove("patientId");
        }),
        ("no draftOrders", |r| {
            r["context"].as_object_mut().unwrap().remove("draftOrders");
        }),
        ("no context", |r| {
            r.as_object_mut().unwrap().remove("context");
        }),
        ("draftOrders not a Bundle", |r| {
            r["context"]["draftOrders"] = json!("ServiceRequest/sr-1001");
        }),
        ("no hookInstance", |r| {
            r.as_object_mut().unwrap().remove("hookInstance");
        }),
    ];
    each_is_400(shared, &cases)
}

/// The covered order-sign request, changed by each case: each is a 400 with an
/// OperationOutcome.
fn each_is_400(shared: &Shared, cases: &[(&str, Change)]) -> Result<(), Failed> {
    let covered = request("order-sign-covered.json", None);
    for (what, change) in cases {
        let mut body = covered.clone();
        change(&mut body);
        let reply = post(&shared.service_url("order-sign"), &body.to_string())?;
        assert_eq!(reply.status, 400, "{what}: {}", reply.body);
        operation_outcome(&reply, what)?;
    }
    Ok(())
}

/// CRD hook-13: a call whose Coverage cannot be read, or that has none or several active, is
/// a 400 with an OperationOutcome.
fn coverage_is_one_active(shared: &Shared) -> Result<(), Failed> {
    let cases: [(&str, Change); 3] = [
        ("no coverage prefetch", |r| {
            r["prefetch"].as_object_mut().unwrap().remove("coverage");
        }),
        ("no active coverage", |r| {
            r["prefetch"]["coverage"]["entry"] = json!([]);
        }),
        ("two active coverages", |r| {
            let entry = r["prefetch"]["coverage"]["entry"][0].clone();
            let mut second = entry.clone();
            second["resource"]["id"] = json!("cov-second");
            r["prefetch"]["coverage"]["entry"] = json!([entry, second]);
        }),
    ];
    each_is_400(shared, &cases)
}

/// Streams a body of 100 MB at the order-sign service (declared with Content-Length, or
/// chunked), reading the answer as it comes; gives the answer's status line and how much of
/// the body the server took before it answered or closed.
fn stream_oversized(shared: &Shared, chunked: bool) -> Result<(String, u64), String> {
    const SIZE: u64 = 100 * 1024 * 1024;
    let mut stream = TcpStream::connect(shared.server.addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let mut reader = stream.try_clone().map_err(|e| e.to_string())?;
    // The answer may come before the body is sent: read it meanwhile.
    let answer = std::thread::spawn(move || -> Result<String, String> {
        match read_head(&mut reader) {
            Ok(Some(head)) => Ok(head.start),
            Ok(None) => Err("the server closed the connection without an answer".into()),
            Err(e) => Err(format!("reading the answer: {e}")),
        }
    });
    let path = format!("/cds-services/{}", shared.services["order-sign"]);
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {SIZE}")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n",
        shared.server.addr
    );
    stream
        .write_all(head.as_bytes())
        .map_err(|e| e.to_string())?;
    // A JSON text that stays valid up to its end: one long string.
    let start = br#"{"hook": "order-sign", "hookInstance": "9d0c3e8a-4b5f-4a7e-8c1d-2e3f4a5b6c7d", "context": {"patientId": "pat-1001", "padding": ""#;
    let block = vec![b'x'; 64 * 1024];
    let mut sent: u64 = 0;
    while sent < SIZE {
        let mut piece = if sent == 0 {
            start.to_vec()
        } else {
            Vec::new()
        };
        let fill = usize::try_from(SIZE - sent)
            .unwrap()
            .saturating_sub(piece.len())
            .min(block.len());
        piece.extend_from_slice(&block[..fill]);
        let written = if chunked {
            let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
            framed.extend_from_slice(&piece);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed)
        } else {
            stream.write_all(&piece)
        };
        if written.is_err() {
            // The server stopped reading: it has answered (or closed).
            break;
        }
        sent += piece.len() as u64;
    }
    if chunked && sent >= SIZE {
        let _ = stream.write_all(b"0\r\n\r\n");
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let status = answer
        .join()
        .map_err(|_| "the reading thread panicked".to_string())??;
    Ok((status, sent))
}

fn oversized(shared: &Shared) -> Result<(), Failed> {
    for chunked in [false, true] {
        let framing = if chunked { "chunked" } else { "Content-Length" };
        let (status, sent) = stream_oversized(shared, chunked)?;
        assert!(
            status.starts_with("HTTP/1.1 413"),
            "a 100 MB body ({framing}): {status:?} after {sent} bytes; the server's standard error:\n{}",
            shared.server.stderr_tail()
        );
        eprintln!(
            "a 100 MB body ({framing}): {status} after {} MiB",
            sent >> 20
        );
    }
    // The server still answers.
    let body = request("order-sign-covered.json", None).to_string();
    let reply = post(&shared.service_url("order-sign"), &body)?;
    assert_eq!(reply.status, 200, "after the big bodies: {}", reply.body);
    check_rss(shared)
}

fn check_rss(shared: &Shared) -> Result<(), Failed> {
    let peak = shared.server.peak_rss()?;
    eprintln!("the server's peak resident set: {} MiB", peak >> 20);
    if peak > MAX_RSS {
        return Err(format!(
            "the server's peak resident set is {} MiB, past {} MiB",
            peak >> 20,
            MAX_RSS >> 20
        )
        .into());
    }
    Ok(())
}

/// Common diagnoses outside the policy's code sets (and nothing about the spine or pain).
const OTHER_DIAGNOSES: [&str; 16] = [
    "I10", "E11.9", "E78.5", "J45.909", "K21.9", "F41.1", "G47.33", "N39.0", "E66.9", "I25.10",
    "H52.4", "L40.0", "R73.03", "D64.9", "E03.9", "J30.9",
];

/// The covered request with 10,000 more Conditions in its prefetch.
fn many_conditions_request() -> Value {
    let mut request = request("order-sign-covered.json", None);
    let entries = request["prefetch"]["conditions"]["entry"]
        .as_array_mut()
        .unwrap();
    let template = entries[0]["resource"].clone();
    for i in 0..10_000 {
        let mut condition = template.clone();
        condition["id"] = json!(format!("cond-many-{i}"));
        condition["code"] = json!({"coding": [{
            "system": "http://hl7.org/fhir/sid/icd-10-cm",
            "code": OTHER_DIAGNOSES[i % OTHER_DIAGNOSES.len()],
        }]});
        // Old, resolved, refuted and active ones.
        if i % 7 == 3 {
            condition["clinicalStatus"]["coding"][0]["code"] = json!("resolved");
        }
        if i % 11 == 5 {
            condition["verificationStatus"]["coding"][0]["code"] = json!("refuted");
        }
        entries.insert(
            entries.len() - 1,
            json!({
                "fullUrl": format!("http://ehr.example.org/fhir/Condition/cond-many-{i}"),
                "resource": condition,
                "search": {"mode": "match"},
            }),
        );
    }
    request["prefetch"]["conditions"]["total"] = json!(entries.len());
    request
}

fn many_conditions(shared: &Shared) -> Result<(), Failed> {
    let body = many_conditions_request().to_string();
    eprintln!("10,000 conditions: a body of {} KiB", body.len() >> 10);
    let reply = post(&shared.service_url("order-sign"), &body)?;
    assert_eq!(reply.status, 200, "{}", shown(&reply.body));
    let answer = reply.json()?;
    check_answer(&EXPECTED[0], &answer)?;
    // The other diagnoses change nothing: the same answer as with the two conditions.
    let plain = post(
        &shared.service_url("order-sign"),
        &request("order-sign-covered.json", None).to_string(),
    )?
    .json()?;
    assert_eq!(decided(&answer), decided(&plain));
    check_rss(shared)
}

// ------------------------------------------------------------------ the EHR's FHIR endpoint

/// What the endpoint was asked: the request line's target and the Authorization header.
#[derive(Clone, Debug)]
struct Seen {
    target: String,
    authorization: Option<String>,
}

/// A FHIR endpoint of the test's own, at `http://ADDR/fhir`: `GET /fhir/Condition?patient=pat-1003`
/// gives `fhir-server/Condition-pat-1003.json` to a request with `Authorization: Bearer TOKEN`
/// and 401 to any other; other searches give an empty Bundle, reads 404. It serves until the
/// test process ends.
struct FhirEndpoint {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FhirEndpoint {
    fn start() -> FhirEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let conditions = fixture("fhir-server/Condition-pat-1003.json");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                let conditions = conditions.clone();
                std::thread::spawn(move || serve_fhir(stream, &log, &conditions));
            }
        });
        FhirEndpoint { addr, seen }
    }

    fn base(&self) -> String {
        format!("http://{}/fhir", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve_fhir(mut stream: TcpStream, log: &Mutex<Vec<Seen>>, conditions: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    loop {
        let head = match read_head(&mut stream) {
            Ok(Some(head)) => head,
            _ => return,
        };
        if read_body(&mut stream, &head).is_err() {
            return;
        }
        let mut parts = head.start.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let authorization = head.header("authorization").map(str::to_string);
        log.lock().unwrap().push(Seen {
            target: target.clone(),
            authorization: authorization.clone(),
        });
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let params: Vec<(String, String)> = query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        let bundle = |body: &str| (200, body.to_string());
        let (status, body) = if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
            (401, outcome("login", "a valid bearer token is required"))
        } else if method != "GET" {
            (405, outcome("not-supported", "only GET"))
        } else if let Some(kind) = path.strip_prefix("/fhir/") {
            if kind.contains('/') {
                (404, outcome("not-found", "no such resource"))
            } else if kind == "Condition"
                && params.iter().any(|(k, v)| {
                    k == "patient"
                        && (v == "pat-1003"
                            || v.ends_with("/Patient/pat-1003")
                            || v == "Patient/pat-1003")
                })
            {
                bundle(conditions)
            } else {
                bundle(&json!({"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}).to_string())
            }
        } else {
            (404, outcome("not-found", "not a FHIR path of this server"))
        };
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            _ => "Method Not Allowed",
        };
        let mut answer = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if status == 401 {
            answer.push_str("WWW-Authenticate: Bearer\r\n");
        }
        answer.push_str("\r\n");
        answer.push_str(&body);
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
        if head
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            return;
        }
    }
}

fn outcome(code: &str, text: &str) -> String {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    })
    .to_string()
}

fn fetching(shared: &Shared) -> Result<(), Failed> {
    let fhir = FhirEndpoint::start();
    let url = shared.service_url("order-sign");
    let expect = &EXPECTED[2];

    // With the token: the conditions are fetched, and the answer is decided.
    let with_token = request(expect.file, Some(&fhir));
    let reply = post(&url, &with_token.to_string())?;
    assert_eq!(reply.status, 200, "{}", shown(&reply.body));
    let fetched = reply.json()?;
    check_answer(expect, &fetched)?;
    let seen = fhir.seen();
    let condition_searches: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.target.starts_with("/fhir/Condition?"))
        .collect();
    assert!(
        !condition_searches.is_empty(),
        "the server did not search the EHR's Conditions; it asked for {seen:?}"
    );
    for search in &condition_searches {
        assert_eq!(
            search.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{search:?}"
        );
        assert!(
            search.target.contains("patient=pat-1003")
                || search.target.contains("patient=Patient%2Fpat-1003")
                || search.target.contains("patient=Patient/pat-1003"),
            "{search:?}"
        );
    }
    for (_, ci) in coverage_information(&fetched) {
        assert!(
            values(&ci, "info-needed").is_empty(),
            "the fetched conditions should decide: {ci}"
        );
    }
    // The same as when the client prefetched them.
    let mut prefetched = with_token.clone();
    prefetched["prefetch"]["conditions"] =
        serde_json::from_str(&fixture("fhir-server/Condition-pat-1003.json")).unwrap();
    prefetched.as_object_mut().unwrap().remove("fhirServer");
    prefetched
        .as_object_mut()
        .unwrap()
        .remove("fhirAuthorization");
    let reply = post(&url, &prefetched.to_string())?;
    assert_eq!(reply.status, 200, "{}", shown(&reply.body));
    assert_eq!(decided(&fetched), decided(&reply.json()?));

    // Without a token, or with a wrong one: the diagnoses are unknown, so the answer is
    // conditional and says what is needed.
    let mut without = with_token.clone();
    without.as_object_mut().unwrap().remove("fhirAuthorization");
    let mut wrong = with_token.clone();
    wrong["fhirAuthorization"]["access_token"] = json!("not-the-token");
    for (what, body) in [("without a token", without), ("with a wrong token", wrong)] {
        let reply = post(&url, &body.to_string())?;
        assert_eq!(reply.status, 200, "{what}: {}", shown(&reply.body));
        let answer = reply.json()?;
        let found = coverage_information(&answer);
        assert!(
            !found.is_empty(),
            "{what}: no coverage information: {answer}"
        );
        for (_, ci) in found {
            assert_eq!(values(&ci, "covered"), ["conditional"], "{what}: {ci}");
            assert!(
                !values(&ci, "info-needed").is_empty(),
                "{what}: conditional without info-needed: {ci}"
            );
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ replay

fn replay() -> Result<(), Failed> {
    let mut server = Server::start()?;
    replay_on(&mut server).map_err(|e| with_stderr(e, &server))
}

fn replay_on(server: &mut Server) -> Result<(), Failed> {
    let services = services_by_hook(&get(&server.url("/cds-services"))?.json()?)?;
    let fhir = FhirEndpoint::start();
    let mut answered = 0;
    for expect in &EXPECTED {
        let url = server.url(&format!("/cds-services/{}", services[expect.hook]));
        let reply = post(&url, &request(expect.file, Some(&fhir)).to_string())?;
        assert_eq!(reply.status, 200, "{}: {}", expect.file, shown(&reply.body));
        answered += 1;
    }
    // Two refused calls: a body that is not JSON, and a request without its patient.
    let url = server.url(&format!("/cds-services/{}", services["order-sign"]));
    let reply = post(&url, MALFORMED[0].1)?;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let mut no_patient = request("order-sign-covered.json", None);
    no_patient["context"]
        .as_object_mut()
        .unwrap()
        .remove("patientId");
    let reply = post(&url, &no_patient.to_string())?;
    assert_eq!(reply.status, 400, "{}", reply.body);
    server.stop();
    let audit = std::fs::read_to_string(&server.audit)
        .map_err(|e| format!("the audit log {}: {e}", server.audit.display()))?;
    let lines: Vec<&str> = audit.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() >= answered + 2,
        "the audit log has {} records for {} calls",
        lines.len(),
        answered + 2
    );
    for line in &lines {
        serde_json::from_str::<Value>(line).map_err(|e| format!("an audit record: {e}"))?;
    }
    let audit = server.audit.to_str().unwrap();
    let out = run::medpol(&["replay", audit, "policies", "--format", "json"], &root());
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "medpol replay's report is not JSON ({e}); it exited {:?}:\n{}\n{}",
            out.status.code(),
            run::text(&out.stdout),
            run::text(&out.stderr)
        )
    })?;
    eprintln!("medpol replay: {report}");
    assert!(
        out.status.success(),
        "medpol replay exited {:?}: {report}\n{}",
        out.status.code(),
        run::text(&out.stderr)
    );
    assert_eq!(report["differing"], json!([]), "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
    let skipped = report["skipped"].as_array().map_or(0, Vec::len);
    assert_eq!(
        report["calls"].as_u64().unwrap_or(0) as usize + skipped,
        lines.len(),
        "every call of the audit log is replayed or said to be skipped: {report}"
    );
    // The answered calls (the fetched conditions are in the log) and the refused one whose
    // request was JSON replay; only the body that is not JSON cannot.
    assert!(
        report["calls"].as_u64().unwrap_or(0) as usize > answered,
        "every answered call replays: {report}"
    );
    assert_eq!(
        skipped, 1,
        "only the body that is not JSON is skipped: {report}"
    );
    Ok(())
}

// ------------------------------------------------------------------ the validator

/// A Python that runs the validator: `.ci/run`'s, then `$MEDPOL_PYTHON`, then `python3`.
fn validator() -> Result<PathBuf, String> {
    let mut candidates = vec![root().join("target/ci-tools/py/bin/python")];
    if let Some(named) = std::env::var_os("MEDPOL_PYTHON") {
        candidates.push(PathBuf::from(named));
    }
    candidates.push(PathBuf::from("python3"));
    let script = root().join("tests/support/fhir_validate.py");
    for python in candidates {
        let ok = Command::new(&python)
            .arg(&script)
            .arg("--check-install")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(python);
        }
    }
    Err(
        "no Python with fhir.resources==6.4.0 (FHIR R4) and pydantic 1 (looked at \
         target/ci-tools/py/bin/python, $MEDPOL_PYTHON and python3); \
         `MEDPOL_CI_INSTALL=1 .ci/run` installs them"
            .into(),
    )
}

/// Validates each document (any JSON text; sent as one line); one result per document.
fn validate(python: &Path, documents: &[String]) -> Result<Vec<Value>, String> {
    let mut child = Command::new(python)
        .arg(root().join("tests/support/fhir_validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the validator: {e}"))?;
    let mut stdin = child.stdin.take().unwrap();
    let lines: Vec<String> = documents
        .iter()
        .map(|d| match serde_json::from_str::<Value>(d) {
            Ok(v) => v.to_string(),
            // Not JSON: sent as it is, on one line.
            Err(_) => d.replace(['\n', '\r'], " "),
        })
        .collect();
    let writer = std::thread::spawn(move || {
        for line in lines {
            if writeln!(stdin, "{line}").is_err() {
                break;
            }
        }
    });
    let stdout = child.stdout.take().unwrap();
    let results: Vec<Value> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    let _ = writer.join();
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() || results.len() != documents.len() {
        return Err(format!(
            "the validator exited {:?} with {} results for {} documents: {stderr}",
            status.code(),
            results.len(),
            documents.len()
        ));
    }
    Ok(results)
}

fn case_files(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/cases/crd").join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn valid_cases(python: &Path) -> Result<(), Failed> {
    let files = case_files("valid");
    assert!(!files.is_empty());
    let documents: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let results = validate(python, &documents)?;
    let refused: Vec<String> = files
        .iter()
        .zip(&results)
        .filter(|(_, r)| r["ok"] != true)
        .map(|(f, r)| format!("{}: {}", name(f), r["errors"]))
        .collect();
    assert!(
        refused.is_empty(),
        "valid cases refused:\n{}",
        refused.join("\n")
    );
    Ok(())
}

fn invalid_cases(python: &Path) -> Result<(), Failed> {
    let expected: BTreeMap<String, String> =
        serde_json::from_str(&fixture("invalid.expected.json")).unwrap();
    let files = case_files("invalid");
    let names: BTreeSet<String> = files.iter().map(|f| name(f)).collect();
    assert_eq!(
        names,
        expected.keys().cloned().collect::<BTreeSet<_>>(),
        "tests/cases/crd/invalid and invalid.expected.json list different cases"
    );
    let documents: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let results = validate(python, &documents)?;
    let mut wrong = Vec::new();
    for (file, result) in files.iter().zip(&results) {
        let file = name(file);
        let reason = &expected[&file];
        let errors: Vec<&str> = result["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // Each case breaks one rule, and is refused for it alone.
        if result["ok"] != false || errors.len() != 1 || !errors[0].contains(reason.as_str()) {
            wrong.push(format!(
                "{file}: expected one error with {reason:?}, got {result}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}

/// The FHIR resources of the request fixtures (context and prefetch) and of the endpoint's
/// Bundle are valid FHIR R4.
fn fixtures_valid(python: &Path) -> Result<(), Failed> {
    let mut documents = Vec::new();
    let mut places = Vec::new();
    for file in case_files("requests") {
        let request: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())?;
        let mut resources: Vec<(String, &Value)> = Vec::new();
        for (key, value) in request["context"].as_object().unwrap() {
            match value {
                Value::Object(o) if o.contains_key("resourceType") => {
                    resources.push((format!("context.{key}"), value));
                }
                Value::Array(items) => resources.extend(
                    items
                        .iter()
                        .filter(|v| v.get("resourceType").is_some())
                        .map(|v| (format!("context.{key}[]"), v)),
                ),
                _ => {}
            }
        }
        for (key, value) in request["prefetch"].as_object().unwrap() {
            resources.push((format!("prefetch.{key}"), value));
        }
        for (place, resource) in resources {
            documents.push(resource.to_string());
            places.push(format!("{} {place}", name(&file)));
        }
    }
    for file in case_files("fhir-server") {
        documents.push(std::fs::read_to_string(&file).unwrap());
        places.push(name(&file));
    }
    documents.push(many_conditions_request()["prefetch"]["conditions"].to_string());
    places.push("the 10,000 conditions".into());
    let results = validate(python, &documents)?;
    let refused: Vec<String> = places
        .iter()
        .zip(&results)
        .filter(|(_, r)| r["ok"] != true)
        .map(|(p, r)| format!("{p}: {}", r["errors"]))
        .collect();
    assert!(refused.is_empty(), "{}", refused.join("\n"));
    Ok(())
}

/// Every answer of the server (each fixture, the fetched and unfetched conditions, the bad
/// requests' OperationOutcomes) passes the validator.
fn answers_valid(python: &Path, shared: &SharedCell) -> Result<(), Failed> {
    let shared = shared
        .get_or_init(Shared::start)
        .as_ref()
        .map_err(|e| Failed::from(e.clone()))?;
    let fhir = FhirEndpoint::start();
    let mut documents = Vec::new();
    let mut places = Vec::new();
    for expect in &EXPECTED {
        let reply = post(
            &shared.service_url(expect.hook),
            &request(expect.file, Some(&fhir)).to_string(),
        )?;
        documents.push(reply.body);
        places.push(expect.file.to_string());
    }
    let mut without_token = request("order-sign-fetch-conditions.json", Some(&fhir));
    without_token
        .as_object_mut()
        .unwrap()
        .remove("fhirAuthorization");
    let reply = post(
        &shared.service_url("order-sign"),
        &without_token.to_string(),
    )?;
    documents.push(reply.body);
    places.push("conditions not fetched (no token)".into());
    for (what, body) in MALFORMED {
        let reply = post(&shared.service_url("order-sign"), body)?;
        documents.push(reply.body);
        places.push(format!("the OperationOutcome for a body {what}"));
    }
    // The DTR Questionnaires the answers name, as the service serves them.
    let mut questionnaires = BTreeSet::new();
    for document in &documents {
        if let Ok(answer) = serde_json::from_str::<Value>(document) {
            for (_, ci) in coverage_information(&answer) {
                questionnaires.extend(values(&ci, "questionnaire"));
            }
        }
    }
    for canonical in questionnaires {
        let url = canonical.split('|').next().unwrap_or_default();
        let reply = get(url)?;
        if reply.status != 200 {
            return Err(format!("GET {url}: {} {}", reply.status, shown(&reply.body)).into());
        }
        let questionnaire = reply.json()?;
        if questionnaire["resourceType"] != "Questionnaire"
            || questionnaire["url"].as_str() != Some(url)
        {
            return Err(format!("GET {url} is not the Questionnaire {canonical}").into());
        }
        documents.push(reply.body);
        places.push(format!("the Questionnaire {canonical}"));
    }
    let results = validate(python, &documents)?;
    let refused: Vec<String> = places
        .iter()
        .zip(&results)
        .filter(|(_, r)| r["ok"] != true)
        .map(|(p, r)| format!("{p}: {}", r["errors"]))
        .collect();
    assert!(refused.is_empty(), "{}", refused.join("\n"));
    Ok(())
}
