//! What the prefetch lacks, read from the hook's FHIR server with the call's token.
//!
//! Every query of a plan runs at once; each request has a time limit and a size limit, a
//! searchset is followed through its `next` links (on the same server only, so the token goes
//! nowhere else) up to a number of pages, and the whole call's fetching has a deadline and a
//! bound on bytes and resources. A failure is an `{"error": "..."}` in place of the value: the
//! query counts as not made, and the answer waits for the facts it would have given.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Client;
use reqwest::header::ACCEPT;
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::decide::Plan;
use crate::hook::reference_of;

/// The bounds of one call's fetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// One request, from connecting to the end of its body.
    pub request_time: Duration,
    /// All of a call's fetching.
    pub call_time: Duration,
    /// One response's body.
    pub response_bytes: usize,
    /// All responses of a call.
    pub call_bytes: usize,
    /// Pages of one search.
    pub pages: usize,
    /// Resources of a call, the request's included.
    pub resources: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            request_time: Duration::from_secs(3),
            call_time: Duration::from_secs(10),
            response_bytes: 16 << 20,
            call_bytes: 64 << 20,
            pages: 20,
            resources: crate::MAX_RESOURCES,
        }
    }
}

/// The HTTP client the service fetches with: no redirects (a token is never sent on to
/// another address), a time limit per request.
pub fn client(limits: &Limits) -> reqwest::Result<Client> {
    Client::builder()
        .timeout(limits.request_time)
        .connect_timeout(limits.request_time)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("medpol-crd/", env!("CARGO_PKG_VERSION")))
        .build()
}

struct Shared {
    client: Client,
    server: String,
    token: String,
    limits: Limits,
    bytes: AtomicUsize,
    resources: AtomicUsize,
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect to the FHIR server".into()
    } else if e.is_redirect() {
        "redirected".into()
    } else {
        let text = e.to_string();
        crate::shown(&text)
    }
}

impl Shared {
    async fn get(&self, url: &str) -> Result<Value, String> {
        let max = self.limits.response_bytes;
        let mut response = self
            .client
            .get(url)
            .bearer_auth(&self.token)
            .header(ACCEPT, "application/fhir+json")
            .send()
            .await
            .map_err(|e| describe(&e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the FHIR server answered {}", status.as_u16()));
        }
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(format!("the response is larger than {max} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| describe(&e.without_url()))?
        {
            if body.len() + chunk.len() > max {
                return Err(format!("the response is larger than {max} bytes"));
            }
            let total = self.bytes.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len();
            if total > self.limits.call_bytes {
                return Err(format!(
                    "the call's responses are larger than {} bytes",
                    self.limits.call_bytes
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| format!("the response is not JSON: {e}"))?;
        let count = crate::hook::count_resources(&value, self.limits.resources);
        let total = self.resources.fetch_add(count, Ordering::Relaxed) + count;
        if total > self.limits.resources {
            return Err(format!(
                "the call holds more than {} resources",
                self.limits.resources
            ));
        }
        Ok(value)
    }

    /// A query: one resource, or a searchset with its pages joined into one Bundle.
    async fn query(&self, path: &str) -> Result<Value, String> {
        let first = self.get(&format!("{}/{path}", self.server)).await?;
        if first.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return Ok(first);
        }
        let mut page = first.clone();
        let mut entries: Vec<Value> = Vec::new();
        let mut pages = 1;
        loop {
            match page.get("entry") {
                None => {}
                Some(Value::Array(list)) => entries.extend(list.iter().cloned()),
                Some(_) => return Err("a page's `entry` is not a list".into()),
            }
            let Some(next) = next_link(&page) else { break };
            if pages >= self.limits.pages {
                return Err(format!(
                    "the search has more than {} pages",
                    self.limits.pages
                ));
            }
            if !next.starts_with(&format!("{}/", self.server))
                && !next.starts_with(&format!("{}?", self.server))
            {
                return Err("a `next` link leads off the FHIR server".into());
            }
            page = self.get(&next).await?;
            if page.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                return Err("a `next` page is not a Bundle".into());
            }
            pages += 1;
        }
        let mut out = first;
        if let Some(object) = out.as_object_mut() {
            object.remove("link");
            object.insert("entry".into(), Value::Array(entries));
        }
        Ok(out)
    }

    /// One dispatched order, by reference.
    async fn read(&self, reference: &str) -> Result<Value, String> {
        let value = self.get(&format!("{}/{reference}", self.server)).await?;
        if reference_of(&value).as_deref() != Some(reference) {
            return Err(format!(
                "the FHIR server gave no `{}`",
                crate::shown(reference)
            ));
        }
        Ok(value)
    }
}

/// The `next` link of a searchset page.
fn next_link(page: &Value) -> Option<String> {
    page.get("link")?
        .as_array()?
        .iter()
        .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))?
        .get("url")?
        .as_str()
        .map(str::to_string)
}

fn error(message: impl Into<String>) -> Value {
    json!({ "error": message.into() })
}

/// Runs a plan against a FHIR server: key (query key or order reference) → value or
/// `{"error": "..."}`, one for each item of the plan. `resources` is how many the request
/// already holds.
pub async fn fetch(
    client: &Client,
    server: &str,
    token: &str,
    plan: &Plan,
    limits: &Limits,
    resources: usize,
) -> Map<String, Value> {
    let shared = Arc::new(Shared {
        client: client.clone(),
        server: server.trim_end_matches('/').to_string(),
        token: token.to_string(),
        limits: *limits,
        bytes: AtomicUsize::new(0),
        resources: AtomicUsize::new(resources),
    });
    let mut out = Map::new();
    let mut tasks = JoinSet::new();
    for (key, path) in &plan.queries {
        out.insert(key.to_string(), error("not fetched in time"));
        let (shared, key, path) = (shared.clone(), key.to_string(), path.clone());
        tasks.spawn(async move {
            let value = shared.query(&path).await;
            (key, value)
        });
    }
    for reference in &plan.orders {
        out.insert(reference.clone(), error("not fetched in time"));
        let (shared, reference) = (shared.clone(), reference.clone());
        tasks.spawn(async move {
            let value = shared.read(&reference).await;
            (reference, value)
        });
    }
    let deadline = Instant::now() + limits.call_time;
    loop {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(Ok((key, value)))) => {
                out.insert(key, value.unwrap_or_else(error));
            }
            Ok(Some(Err(_))) => {}
            Ok(None) => break,
            Err(_) => {
                tasks.abort_all();
                break;
            }
        }
    }
    out
}
