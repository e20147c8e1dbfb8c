//! `medpol replay`: the calls of an audit log decided again, with the artifacts of today and
//! the logged date, hook instance, base URL and fetched values, through the server's own path
//! ([`decide::decide`]); and what changed in each response.

use std::collections::BTreeSet;
use std::io::{self, BufRead};

use medpol_artifact::date::Date;
use medpol_fhir::binding::Binding;
use medpol_fhir::crd::EXTENSION_URL;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::decide;
use crate::hook::reference_of;
use crate::shown;

/// A line of the log may be at most this long.
pub const MAX_LINE: usize = 16 << 20;

/// The next line of a reader, without its `\n` (and `\r`): `Ok(None)` at the end, `Err(n)`
/// for a line of `n` bytes, more than `max`, which is read past, not kept.
pub fn next_line(
    reader: &mut impl BufRead,
    max: usize,
) -> io::Result<Option<Result<Vec<u8>, usize>>> {
    let mut line = Vec::new();
    let mut length = 0usize;
    let mut any = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        any = true;
        let (part, used, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (buf.get(..i).unwrap_or_default(), i + 1, true),
            None => (buf, buf.len(), false),
        };
        length += part.len();
        if length <= max {
            line.extend_from_slice(part);
        }
        reader.consume(used);
        if end {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if length > max {
        return Ok(Some(Err(length)));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(Ok(line)))
}

/// One element of an order's coverage information that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The sub-extension's url (`covered`, `pa-needed`), prefixed by the Coverage when the
    /// order has coverage information for several.
    pub element: String,
    /// The value before and after; `None` when absent.
    pub old: Option<String>,
    pub new: Option<String>,
}

/// An order whose coverage information changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderDiff {
    /// `Type/id` of the order (or its type when it has no id).
    pub order: String,
    pub changes: Vec<Change>,
}

/// A policy whose artifact is not the one the call was answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyChange {
    pub policy: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// A call whose response differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallDiff {
    /// The line of the log (from 1).
    pub line: usize,
    pub service: String,
    #[serde(rename = "hookInstance")]
    pub hook_instance: Option<String>,
    /// The HTTP status, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<[u16; 2]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<OrderDiff>,
    /// The cards' summaries, when the cards changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards: Option<[Vec<String>; 2]>,
    /// An error's diagnostics, when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<[Option<String>; 2]>,
    /// The response changed in some other way (an order's other elements).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub other: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyChange>,
}

/// What replaying one line gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayed {
    /// The same response.
    Same,
    Differs(Box<CallDiff>),
    /// A call that cannot be decided again (its request was not JSON or not read).
    Skipped(String),
}

fn field<'a>(entry: &'a Map<String, Value>, key: &str) -> Result<&'a Value, String> {
    entry
        .get(key)
        .ok_or_else(|| format!("the record has no `{key}`"))
}

/// Replays one line of the log (`number` from 1). `Err`: the line is not an audit record.
pub fn replay_line(binding: &Binding, number: usize, line: &[u8]) -> Result<Replayed, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut entry) = value else {
        return Err("not a JSON object".into());
    };
    if let Some(error) = entry.get("request_error") {
        return Ok(Replayed::Skipped(format!(
            "the request was not read: {}",
            shown(error.as_str().unwrap_or_default())
        )));
    }
    let mut request = entry
        .remove("request")
        .ok_or("the record has no `request`")?;
    let entry = &entry;
    let service = field(entry, "service")?
        .as_str()
        .ok_or("`service` is not a string")?;
    let empty = Map::new();
    let fetched = match entry.get("fetched") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(f)) => f,
        Some(_) => return Err("`fetched` is not an object".into()),
    };
    let today = field(entry, "today")?
        .as_str()
        .and_then(Date::parse)
        .ok_or("`today` is not a date written YYYY-MM-DD")?;
    let base_url = entry
        .get("baseUrl")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let status = field(entry, "status")?
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or("`status` is not an HTTP status")?;
    let response = field(entry, "response")?;
    let answered = decide::decide(binding, service, &mut request, fetched, today, base_url);
    if answered.reply.status == status && &answered.reply.body == response {
        return Ok(Replayed::Same);
    }
    let mut diff = compare(response, &answered.reply.body);
    diff.line = number;
    diff.service = shown(service);
    diff.hook_instance = entry.get("hookInstance").and_then(Value::as_str).map(shown);
    if status != answered.reply.status {
        diff.status = Some([status, answered.reply.status]);
    }
    diff.policies = policy_changes(entry.get("policies"), binding);
    Ok(Replayed::Differs(Box::new(diff)))
}

fn policy_changes(logged: Option<&Value>, binding: &Binding) -> Vec<PolicyChange> {
    let logged = logged.and_then(Value::as_object);
    let now: Map<String, Value> = binding
        .crd_policies()
        .map(|p| {
            (
                p.policy_id().to_string(),
                Value::String(p.artifact.document().hash.clone()),
            )
        })
        .collect();
    let ids: BTreeSet<&String> = now
        .keys()
        .chain(logged.into_iter().flat_map(|l| l.keys()))
        .collect();
    ids.into_iter()
        .filter_map(|id| {
            let old = logged
                .and_then(|l| l.get(id))
                .and_then(Value::as_str)
                .map(str::to_string);
            let new = now.get(id).and_then(Value::as_str).map(str::to_string);
            (old != new).then(|| PolicyChange {
                policy: shown(id),
                old,
                new,
            })
        })
        .collect()
}

/// The cards' summaries of a response.
fn summaries(response: &Value) -> Vec<String> {
    response
        .get("cards")
        .and_then(Value::as_array)
        .map(|cards| {
            cards
                .iter()
                .map(|c| {
                    c.get("summary")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The orders a response updates: name → the resource.
fn updated(response: &Value) -> Vec<(String, &Value)> {
    response
        .get("systemActions")
        .and_then(Value::as_array)
        .map(|actions| {
            actions
                .iter()
                .filter_map(|a| a.get("resource"))
                .enumerate()
                .map(|(i, r)| {
                    (
                        reference_of(r).unwrap_or_else(|| format!("resource {}", i + 1)),
                        r,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A sub-extension's value as text.
fn value_text(extension: &Value) -> String {
    let Some(object) = extension.as_object() else {
        return shown(&extension.to_string());
    };
    for (key, value) in object {
        if !key.starts_with("value") {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => value.to_string(),
            Value::Object(o) => match (
                o.get("reference"),
                o.get("code"),
                o.get("display"),
                o.get("text"),
            ) {
                (Some(Value::String(r)), ..) => r.clone(),
                (_, Some(Value::String(c)), ..) => c.clone(),
                (.., Some(Value::String(t))) | (_, _, Some(Value::String(t)), _) => t.clone(),
                _ => value.to_string(),
            },
            _ => value.to_string(),
        };
        return shown(&text);
    }
    let mut rest = object.clone();
    rest.remove("url");
    shown(&Value::Object(rest).to_string())
}

/// A coverage-information extension's elements: sub-extension url → values joined.
fn elements(extension: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for sub in extension
        .get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let url = sub
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("(no url)")
            .to_string();
        let text = value_text(sub);
        match out.iter_mut().find(|(u, _)| *u == url) {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(&text);
            }
            None => out.push((url, text)),
        }
    }
    out
}

/// An order's coverage-information extensions by their Coverage (`reference` text).
fn by_coverage(resource: Option<&Value>) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let list = resource
        .and_then(|r| r.get("extension"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("url").and_then(Value::as_str) == Some(EXTENSION_URL));
    for (i, ext) in list.enumerate() {
        let els = elements(ext);
        let coverage = els
            .iter()
            .find(|(u, _)| u == "coverage")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("extension {}", i + 1));
        let coverage = if out.iter().any(|(c, _)| *c == coverage) {
            format!("{coverage} ({})", i + 1)
        } else {
            coverage
        };
        out.push((coverage, els));
    }
    out
}

/// What differs between two responses, per order and element.
pub fn compare(old: &Value, new: &Value) -> CallDiff {
    let mut diff = CallDiff {
        line: 0,
        service: String::new(),
        hook_instance: None,
        status: None,
        orders: Vec::new(),
        cards: None,
        error: None,
        other: false,
        policies: Vec::new(),
    };
    let (old_cards, new_cards) = (summaries(old), summaries(new));
    if old.get("cards") != new.get("cards") {
        diff.cards = Some([old_cards, new_cards]);
    }
    let diagnostics = |v: &Value| {
        v.pointer("/issue/0/diagnostics")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (old_error, new_error) = (diagnostics(old), diagnostics(new));
    if old_error != new_error {
        diff.error = Some([old_error, new_error]);
    }
    let (old_orders, new_orders) = (updated(old), updated(new));
    let mut names: Vec<&String> = Vec::new();
    for (name, _) in old_orders.iter().chain(&new_orders) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for name in names {
        let before = old_orders.iter().find(|(n, _)| n == name).map(|(_, r)| *r);
        let after = new_orders.iter().find(|(n, _)| n == name).map(|(_, r)| *r);
        if before == after {
            continue;
        }
        let (b, a) = (by_coverage(before), by_coverage(after));
        let several = b.len().max(a.len()) > 1;
        let mut coverages: Vec<&String> = Vec::new();
        for (c, _) in b.iter().chain(&a) {
            if !coverages.contains(&c) {
                coverages.push(c);
            }
        }
        let mut changes = Vec::new();
        for coverage in coverages {
            let empty = Vec::new();
            let eb = b
                .iter()
                .find(|(c, _)| c == coverage)
                .map_or(&empty, |(_, e)| e);
            let ea = a
                .iter()
                .find(|(c, _)| c == coverage)
                .map_or(&empty, |(_, e)| e);
            let mut urls: Vec<&String> = Vec::new();
            for (u, _) in eb.iter().chain(ea) {
                if !urls.contains(&u) {
                    urls.push(u);
                }
            }
            for url in urls {
                let old = eb.iter().find(|(u, _)| u == url).map(|(_, v)| v.clone());
                let new = ea.iter().find(|(u, _)| u == url).map(|(_, v)| v.clone());
                if old != new {
                    let element = if several {
                        format!("{coverage} {url}")
                    } else {
                        url.clone()
                    };
                    changes.push(Change { element, old, new });
                }
            }
        }
        if changes.is_empty() {
            diff.other = true;
        } else {
            diff.orders.push(OrderDiff {
                order: shown(name),
                changes,
            });
        }
    }
    if diff.orders.is_empty() && diff.cards.is_none() && diff.error.is_none() && old != new {
        diff.other = true;
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(text: &[u8], max: usize) -> Vec<Result<Vec<u8>, usize>> {
        let mut reader = io::BufReader::with_capacity(4, text);
        let mut out = Vec::new();
        while let Some(line) = next_line(&mut reader, max).unwrap() {
            out.push(line);
        }
        out
    }

    #[test]
    fn reads_bounded_lines() {
        assert_eq!(
            lines(b"ab\r\n\nlonger line\nxyz", 5),
            vec![Ok(b"ab".to_vec()), Ok(vec![]), Err(11), Ok(b"xyz".to_vec())]
        );
        assert!(lines(b"", 5).is_empty());
        assert_eq!(lines(b"a\n", 5), vec![Ok(b"a".to_vec())]);
    }

    fn info(covered: &str, pa: &str) -> Value {
        json!({"url": EXTENSION_URL, "extension": [
            {"url": "coverage", "valueReference": {"reference": "Coverage/c1"}},
            {"url": "covered", "valueCode": covered},
            {"url": "pa-needed", "valueCode": pa},
            {"url": "date", "valueDate": "2026-12-07"},
        ]})
    }

    fn response(ext: Option<Value>) -> Value {
        match ext {
            None => json!({"cards": []}),
            Some(e) => json!({"cards": [], "systemActions": [{"type": "update", "description": "d",
                "resource": {"resourceType": "ServiceRequest", "id": "s1", "extension": [e]}}]}),
        }
    }

    #[test]
    fn names_the_changed_elements() {
        let diff = compare(
            &response(Some(info("conditional", "auth-needed"))),
            &response(Some(info("covered", "auth-needed"))),
        );
        assert_eq!(diff.orders.len(), 1);
        assert_eq!(diff.orders[0].order, "ServiceRequest/s1");
        assert_eq!(
            diff.orders[0].changes,
            vec![Change {
                element: "covered".into(),
                old: Some("conditional".into()),
                new: Some("covered".into())
            }]
        );
        assert!(diff.cards.is_none() && !diff.other);
        let gone = compare(&response(Some(info("covered", "no-auth"))), &response(None));
        assert_eq!(gone.orders[0].changes.len(), 4);
        assert_eq!(gone.orders[0].changes[1].new, None);
    }
}
