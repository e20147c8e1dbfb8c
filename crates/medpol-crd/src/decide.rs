//! The answer to a call, given what the prefetch and the FHIR server gave: the one path both
//! the server and `medpol replay` take.
//!
//! [`begin`] reads the request ([`hook::parse`]), counts its resources, and puts the prefetch
//! into a [`Record`]; the [`Plan`] says what the record still lacks that the binding reads
//! (and, for `order-dispatch`, which orders the prefetch does not give). [`Pending::finish`]
//! takes what was fetched for the plan (nothing, in a call without a FHIR server) and answers
//! every order in scope with [`medpol_fhir::crd::answer`]. Both are pure: the same request,
//! fetched values, date and base URL give the same reply.
//!
//! What the prefetch gives, as CDS Hooks 2.0 has it:
//! - a key missing or `null`: the query counts as not made (fetched when it can be);
//! - an OperationOutcome: the client could not run the query; not made, and not fetched again
//!   (CDS Hooks: the outcome is there to spare the service the query);
//! - a searchset Bundle with a `next` link: only its first page; the whole query is fetched
//!   when it can be, else it counts as not made, since a partial list would read as "none";
//! - a resource of the wrong type: a 400.

use std::collections::BTreeMap;

use medpol_artifact::date::Date;
use medpol_fhir::binding::{Binding, Query};
use medpol_fhir::crd::{Context, EXTENSION_URL, answer};
use medpol_fhir::record::{Record, bundle_entries};
use serde_json::{Map, Value, json};

use crate::hook::{self, Call, Hook, Orders, reference_of};
use crate::reply::{IssueCode, Reply};
use crate::shown;

/// The label of the cards' source.
pub const SOURCE_LABEL: &str = "medpol coverage requirements";

/// The prefetch keys that may hold `order-dispatch`'s dispatched orders: CRD 2.2's
/// (`serviceRequests`, ...) and `orders`, each a Bundle (or one resource).
pub const ORDER_KEYS: [&str; 7] = [
    "orders",
    "serviceRequests",
    "deviceRequests",
    "medicationRequests",
    "nutritionOrders",
    "communicationRequests",
    "visionPrescriptions",
];

/// What the record lacks, to be fetched from the call's FHIR server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Prefetch key and the query (relative to the FHIR server) that gives it.
    pub queries: Vec<(&'static str, String)>,
    /// Dispatched orders (`Type/id`) the prefetch does not give.
    pub orders: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty() && self.orders.is_empty()
    }
}

/// A call read, its prefetch in the record, waiting for what is fetched.
#[derive(Debug)]
pub struct Pending<'a> {
    pub call: Call<'a>,
    record: Record,
    /// `order-dispatch`: the dispatched orders the prefetch gives, by reference.
    prefetched_orders: BTreeMap<String, Value>,
    /// What was noticed on the way (for the audit log).
    pub notes: Vec<String>,
    pub plan: Plan,
}

/// The reply and what was noticed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub reply: Reply,
    pub notes: Vec<String>,
}

/// The reply to a service id no service has.
pub fn unknown_service(id: &str) -> Reply {
    let ids: Vec<&str> = Hook::ALL.iter().map(|h| h.service_id()).collect();
    Reply::error(
        404,
        IssueCode::NotFound,
        format!(
            "no service `{}`; the services are {}",
            shown(id),
            ids.join(", ")
        ),
    )
}

fn is_operation_outcome(value: &Value) -> bool {
    value.get("resourceType").and_then(Value::as_str) == Some("OperationOutcome")
}

/// Whether a searchset Bundle has more pages.
pub fn has_next(value: &Value) -> bool {
    value.get("resourceType").and_then(Value::as_str) == Some("Bundle")
        && value
            .get("link")
            .and_then(Value::as_array)
            .is_some_and(|links| {
                links
                    .iter()
                    .any(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
            })
}

/// Reads a request to the service `service_id` and moves its prefetch into a record (the
/// request keeps the rest: `prefetch` is left `null`, so that a prefetch of megabytes is not
/// held twice). `Err` is the reply to send (404, 400, 413).
pub fn begin<'a>(
    binding: &Binding,
    service_id: &str,
    request: &'a mut Value,
) -> Result<Pending<'a>, Reply> {
    let Some(hook) = Hook::from_service_id(service_id) else {
        return Err(unknown_service(service_id));
    };
    if hook::count_resources(request, crate::MAX_RESOURCES) > crate::MAX_RESOURCES {
        return Err(Reply::error(
            413,
            IssueCode::TooCostly,
            format!(
                "the request holds more than {} resources",
                crate::MAX_RESOURCES
            ),
        ));
    }
    let prefetch = request.get_mut("prefetch").map(Value::take);
    let request: &'a Value = request;
    let call = hook::parse(hook, request)?;
    let prefetch = match prefetch {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Err(Reply::bad(
                IssueCode::Structure,
                "`prefetch` is not an object",
            ));
        }
    };
    let mut record = Record::new();
    let mut notes = Vec::new();
    let mut outcomes: Vec<Query> = Vec::new();
    let mut prefetched_orders = BTreeMap::new();
    for (key, value) in prefetch {
        if value.is_null() {
            continue;
        }
        let Some(query) = Query::from_key(&key) else {
            if hook == Hook::OrderDispatch && ORDER_KEYS.contains(&key.as_str()) {
                if is_operation_outcome(&value) {
                    notes.push(format!("prefetch `{key}` is an OperationOutcome"));
                    continue;
                }
                let entries = if value.get("resourceType").and_then(Value::as_str) == Some("Bundle")
                {
                    bundle_entries(&value).map_err(|e| {
                        Reply::bad(IssueCode::Structure, format!("prefetch `{key}`: {e}"))
                    })?
                } else {
                    vec![&value]
                };
                for resource in entries {
                    if let Some(r) = reference_of(resource) {
                        prefetched_orders.insert(r, resource.clone());
                    }
                }
            }
            continue;
        };
        if is_operation_outcome(&value) {
            notes.push(format!(
                "prefetch `{key}` is an OperationOutcome: the client could not run the query"
            ));
            outcomes.push(query);
            continue;
        }
        if has_next(&value) {
            notes.push(format!("prefetch `{key}` is one page of several"));
            continue;
        }
        record
            .put(query, value)
            .map_err(|e| Reply::bad(IssueCode::Invalid, format!("prefetch {e}")))?;
    }
    let mut plan = Plan::default();
    if call.fhir_server.is_some() && call.access_token.is_some() {
        let templates = hook::prefetch(binding, hook);
        for query in binding.queries() {
            if record.has(query) || outcomes.contains(&query) {
                continue;
            }
            let Some(template) = templates.get(query.key()) else {
                continue;
            };
            match hook::fill(template, hook, call.context) {
                Some(path) => plan.queries.push((query.key(), path)),
                None => notes.push(format!(
                    "query `{}` needs a context value the call does not give",
                    query.key()
                )),
            }
        }
        if let Orders::Dispatched(refs) = &call.orders {
            for r in refs {
                if !prefetched_orders.contains_key(*r) && !plan.orders.iter().any(|p| p == r) {
                    plan.orders.push(r.to_string());
                }
            }
        }
    } else {
        let missing: Vec<&str> = binding
            .queries()
            .into_iter()
            .filter(|q| !record.has(*q))
            .map(Query::key)
            .collect();
        if !missing.is_empty() {
            notes.push(format!(
                "no FHIR server and token to fetch what the prefetch lacks: {}",
                missing.join(", ")
            ));
        }
    }
    Ok(Pending {
        call,
        record,
        prefetched_orders,
        notes,
        plan,
    })
}

/// Whether a fetched value is a failure (`{"error": "..."}`) rather than a resource.
pub fn fetch_error(value: &Value) -> Option<&str> {
    if value.get("resourceType").is_some() {
        return None;
    }
    value
        .get("error")
        .and_then(Value::as_str)
        .or(Some("not a resource"))
}

fn card(summary: &str, indicator: &str, detail: Option<String>) -> Value {
    let mut card = json!({
        "summary": summary,
        "indicator": indicator,
        "source": {"label": SOURCE_LABEL},
    });
    if let (Some(detail), Some(object)) = (detail, card.as_object_mut()) {
        object.insert("detail".into(), Value::String(detail));
    }
    card
}

/// Coverage information for a secondary hook (`order-select`): without the clinical and
/// administrative documentation needs (CRD hook-19: that information is asked for later in the
/// process), and without the questionnaires and documentation purposes when no documentation
/// need is left (CRD's invariant q1: a questionnaire only with doc-needed).
pub fn secondary(extension: &mut Value) {
    let Some(subs) = extension.get_mut("extension").and_then(Value::as_array_mut) else {
        return;
    };
    let is = |s: &Value, url: &str| s.get("url").and_then(Value::as_str) == Some(url);
    subs.retain(|s| {
        !(is(s, "doc-needed")
            && matches!(
                s.get("valueCode").and_then(Value::as_str),
                Some("clinical" | "admin")
            ))
    });
    if !subs.iter().any(|s| is(s, "doc-needed")) {
        subs.retain(|s| !is(s, "questionnaire") && !is(s, "doc-purpose"));
    }
}

/// The coverage reference of a coverage-information extension.
fn coverage_of(extension: &Value) -> Option<&Value> {
    extension
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some("coverage"))?
        .get("valueReference")
}

/// The order with the new coverage-information extensions: those already on it for the same
/// Coverage replaced, every other extension kept (CRD: an update changes nothing else).
pub fn with_extensions(order: &Value, new: &[Value]) -> Value {
    let mut out = order.clone();
    let covered: Vec<Option<&Value>> = new.iter().map(coverage_of).collect();
    let mut list: Vec<Value> = order
        .get("extension")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter(|e| {
                    !(e.get("url").and_then(Value::as_str) == Some(EXTENSION_URL)
                        && covered.contains(&coverage_of(e)))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    list.extend(new.iter().cloned());
    if let Some(object) = out.as_object_mut() {
        object.insert("extension".into(), Value::Array(list));
    }
    out
}

impl Pending<'_> {
    /// Answers the call with what was fetched for its plan: query key → the query's result, or
    /// `{"error": "..."}`; dispatched order reference → the order, or `{"error": "..."}`.
    /// Anything else in `fetched` is left out.
    pub fn finish(
        mut self,
        binding: &Binding,
        fetched: &Map<String, Value>,
        today: Date,
        base_url: &str,
    ) -> Answered {
        for (key, _) in &self.plan.queries {
            let (Some(query), Some(value)) = (Query::from_key(key), fetched.get(*key)) else {
                continue;
            };
            if let Some(e) = fetch_error(value) {
                self.notes.push(format!("fetching `{key}` failed: {e}"));
                continue;
            }
            if let Err(e) = self.record.put(query, value.clone()) {
                self.notes.push(format!("fetched {e}"));
            }
        }
        let call = &self.call;
        let mut unread: Vec<&str> = Vec::new();
        let orders: Vec<&Value> = match &call.orders {
            Orders::Given(list) => list.clone(),
            Orders::Dispatched(refs) => refs
                .iter()
                .filter_map(|r| {
                    let found = self.prefetched_orders.get(*r).or_else(|| {
                        fetched
                            .get(*r)
                            .filter(|_| self.plan.orders.iter().any(|p| p == r))
                            .filter(|v| reference_of(v).as_deref() == Some(*r))
                    });
                    if found.is_none() {
                        unread.push(r);
                    }
                    found
                })
                .collect(),
        };
        let mut cards = Vec::new();
        let mut actions = Vec::new();
        let coverages = self.record.get(Query::Coverage);
        let active = coverages.map(|list| {
            list.iter()
                .filter(|c| {
                    c.get("status")
                        .and_then(Value::as_str)
                        .is_none_or(|s| s == "active")
                })
                .count()
        });
        // CRD (hook-13): a call whose Coverage cannot be read, or that has none or several
        // active, is a 400 with an OperationOutcome.
        let refused = match active {
            None => Some(
                "the patient's Coverage could not be read: the prefetch has no `coverage` and \
                 the service could not query the FHIR server",
            ),
            Some(0) => Some("the patient has no active Coverage"),
            Some(1) => None,
            Some(_) => Some("the patient has several active Coverages; CRD answers for one"),
        };
        if let Some(why) = refused {
            return Answered {
                reply: Reply::bad(IssueCode::Required, why),
                notes: self.notes,
            };
        }
        let ctx = Context {
            today,
            base_url,
            hook_instance: call.hook_instance,
        };
        for order in &orders {
            let mut answered = answer(binding, &self.record, order, &ctx);
            if call.hook == Hook::OrderSelect {
                answered.extensions.iter_mut().for_each(secondary);
            }
            let name = reference_of(order).unwrap_or_else(|| {
                order
                    .get("resourceType")
                    .and_then(Value::as_str)
                    .unwrap_or("resource")
                    .to_string()
            });
            self.notes
                .extend(answered.notes.iter().map(|n| format!("{name}: {n}")));
            if answered.extensions.is_empty() {
                continue;
            }
            let updated = with_extensions(order, &answered.extensions);
            if &updated == *order {
                self.notes
                    .push(format!("{name}: coverage information unchanged"));
                continue;
            }
            actions.push(json!({
                "type": "update",
                "description": format!("Record coverage information for {name}"),
                "resource": updated,
            }));
        }
        if !unread.is_empty() {
            let shown_refs: Vec<String> = unread
                .iter()
                .take(3)
                .map(|r| format!("`{}`", shown(r)))
                .collect();
            let more = if unread.len() > 3 {
                format!(" and {} more", unread.len() - 3)
            } else {
                String::new()
            };
            let summary = if unread.len() == 1 {
                "No coverage information for a dispatched order that could not be read".to_string()
            } else {
                format!(
                    "No coverage information for {} dispatched orders that could not be read",
                    unread.len()
                )
            };
            cards.push(card(
                &summary,
                "warning",
                Some(format!("Not read: {}{more}.", shown_refs.join(", "))),
            ));
        }
        let mut body = json!({ "cards": cards });
        if !actions.is_empty()
            && let Some(object) = body.as_object_mut()
        {
            object.insert("systemActions".into(), Value::Array(actions));
        }
        Answered {
            reply: Reply::ok(body),
            notes: self.notes,
        }
    }
}

/// A call decided without fetching: `begin`, then `finish` with what was fetched then. This is
/// `medpol replay`'s path.
pub fn decide(
    binding: &Binding,
    service_id: &str,
    request: &mut Value,
    fetched: &Map<String, Value>,
    today: Date,
    base_url: &str,
) -> Answered {
    match begin(binding, service_id, request) {
        Ok(pending) => pending.finish(binding, fetched, today, base_url),
        Err(reply) => Answered {
            reply,
            notes: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(url: &str, code: &str) -> Value {
        json!({"url": url, "valueCode": code})
    }

    #[test]
    fn secondary_hooks_ask_for_no_documentation() {
        let mut ext = json!({"url": EXTENSION_URL, "extension": [
            sub("covered", "conditional"), sub("doc-needed", "clinical"), sub("doc-purpose", "withpa"),
            sub("info-needed", "OTH"), {"url": "questionnaire", "valueCanonical": "http://x/q"},
        ]});
        secondary(&mut ext);
        let urls: Vec<&str> = ext["extension"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["url"].as_str().unwrap())
            .collect();
        assert_eq!(urls, ["covered", "info-needed"]);
        let mut kept = json!({"url": EXTENSION_URL, "extension": [
            sub("doc-needed", "patient"), sub("doc-needed", "admin"),
            {"url": "questionnaire", "valueCanonical": "http://x/q"},
        ]});
        secondary(&mut kept);
        assert_eq!(kept["extension"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn replaces_the_coverage_information_of_the_same_coverage() {
        let coverage = |c: &str| json!({"url": "coverage", "valueReference": {"reference": c}});
        let info = |c: &str, code: &str| json!({"url": EXTENSION_URL, "extension": [coverage(c), sub("covered", code)]});
        let order = json!({"resourceType": "ServiceRequest", "id": "s", "extension": [
            {"url": "http://example.org/x", "valueString": "kept"},
            info("Coverage/a", "conditional"), info("Coverage/b", "covered"),
        ]});
        let updated = with_extensions(&order, &[info("Coverage/a", "covered")]);
        assert_eq!(
            updated["extension"],
            json!([{"url": "http://example.org/x", "valueString": "kept"},
                   info("Coverage/b", "covered"), info("Coverage/a", "covered")])
        );
        let bare = json!({"resourceType": "ServiceRequest", "id": "s"});
        assert_eq!(
            with_extensions(&bare, &[info("Coverage/a", "covered")])["extension"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
