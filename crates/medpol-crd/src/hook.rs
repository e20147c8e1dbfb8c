//! The four CDS Hooks services and the requests they take.
//!
//! A request is read into a [`Call`]: the hook's context checked against the hook's
//! definition (CDS Hooks 2.0, the hooks' 1.0 definitions as CRD 2.2 profiles them), and the
//! orders in scope picked out: every draft order for `order-sign`, the selected ones for
//! `order-select`, the Appointments for `appointment-book`, and for `order-dispatch` the
//! references to the dispatched orders, which the prefetch (CRD's `serviceRequests` and the
//! like, or `orders`) or the FHIR server gives. Every problem is a 400 reply with an
//! OperationOutcome.

use std::collections::BTreeMap;

use medpol_fhir::binding::Binding;
use medpol_fhir::record::bundle_entries;
use serde_json::{Map, Value, json};

use crate::reply::{IssueCode, Reply};
use crate::shown;

/// The hooks the service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    OrderSign,
    OrderSelect,
    OrderDispatch,
    AppointmentBook,
}

impl Hook {
    pub const ALL: [Hook; 4] = [
        Hook::OrderSign,
        Hook::OrderSelect,
        Hook::OrderDispatch,
        Hook::AppointmentBook,
    ];

    /// The hook's name in CDS Hooks.
    pub fn name(self) -> &'static str {
        match self {
            Hook::OrderSign => "order-sign",
            Hook::OrderSelect => "order-select",
            Hook::OrderDispatch => "order-dispatch",
            Hook::AppointmentBook => "appointment-book",
        }
    }

    /// The id of the service that answers the hook.
    pub fn service_id(self) -> &'static str {
        match self {
            Hook::OrderSign => "order-sign-crd",
            Hook::OrderSelect => "order-select-crd",
            Hook::OrderDispatch => "order-dispatch-crd",
            Hook::AppointmentBook => "appointment-book-crd",
        }
    }

    /// The hook a service id names.
    pub fn from_service_id(id: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.service_id() == id)
    }

    fn title(self) -> &'static str {
        match self {
            Hook::OrderSign => "Coverage requirements for orders being signed",
            Hook::OrderSelect => "Coverage requirements for orders being selected",
            Hook::OrderDispatch => "Coverage requirements for orders being dispatched",
            Hook::AppointmentBook => "Coverage requirements for appointments being booked",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Hook::OrderSign => {
                "Coverage information (covered, prior authorization, documentation and \
                 information needed) for each draft order, from the payer's coverage policies"
            }
            Hook::OrderSelect => {
                "Coverage information for each selected draft order, from the payer's \
                 coverage policies"
            }
            Hook::OrderDispatch => {
                "Coverage information for each order dispatched to a performer, from the \
                 payer's coverage policies"
            }
            Hook::AppointmentBook => {
                "Coverage information for each appointment being booked, from the payer's \
                 coverage policies"
            }
        }
    }

    /// The context fields that may stand in a prefetch token.
    fn tokens(self) -> &'static [&'static str] {
        match self {
            Hook::OrderSign | Hook::OrderSelect | Hook::AppointmentBook => {
                &["patientId", "encounterId", "userId"]
            }
            Hook::OrderDispatch => &["patientId", "performer"],
        }
    }
}

/// The prefetch templates of a hook's service: the binding's, less those naming a context
/// field the hook does not have (`order-dispatch` has no encounter).
pub fn prefetch(binding: &Binding, hook: Hook) -> BTreeMap<&'static str, String> {
    binding
        .prefetch()
        .into_iter()
        .filter(|(_, template)| {
            tokens_of(template).all(|t| {
                t.strip_prefix("context.")
                    .is_some_and(|f| hook.tokens().contains(&f))
            })
        })
        .collect()
}

/// The tokens (`context.patientId`) of a template.
fn tokens_of(template: &str) -> impl Iterator<Item = &str> {
    template
        .split("{{")
        .skip(1)
        .filter_map(|s| s.split_once("}}"))
        .map(|(t, _)| t.trim())
}

/// The discovery document (`GET /cds-services`).
pub fn discovery(binding: &Binding) -> Value {
    let services: Vec<Value> = Hook::ALL
        .into_iter()
        .map(|hook| {
            json!({
                "hook": hook.name(),
                "title": hook.title(),
                "description": hook.description(),
                "id": hook.service_id(),
                "prefetch": prefetch(binding, hook),
                "extension": {"davinci-crd.version": ["2.2"]},
            })
        })
        .collect();
    json!({ "services": services })
}

/// A template with the context's values put in for its tokens; `None` when a token names a
/// field the context does not give as a string (no `encounterId`) or one that is not allowed.
/// The values are FHIR ids (checked when the call was read), so nothing needs escaping.
pub fn fill(template: &str, hook: Hook, context: &Map<String, Value>) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some((before, after)) = rest.split_once("{{") {
        out.push_str(before);
        let (token, after) = after.split_once("}}")?;
        let field = token.trim().strip_prefix("context.")?;
        if !hook.tokens().contains(&field) {
            return None;
        }
        let value = context.get(field)?.as_str()?;
        if !is_id(value) {
            return None;
        }
        out.push_str(value);
        rest = after;
    }
    out.push_str(rest);
    Some(out)
}

/// Whether a text is a FHIR id: 1 to 64 of letters, digits, `-` and `.`.
pub fn is_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Whether a text is a local reference `Type/id`.
pub fn is_reference(text: &str) -> bool {
    text.split_once('/').is_some_and(|(ty, id)| {
        ty.len() <= 64
            && ty.starts_with(|c: char| c.is_ascii_uppercase())
            && ty.bytes().all(|b| b.is_ascii_alphabetic())
            && is_id(id)
    })
}

/// The reference `Type/id` of a resource, when it has both.
pub fn reference_of(resource: &Value) -> Option<String> {
    let ty = resource.get("resourceType")?.as_str()?;
    let id = resource.get("id")?.as_str()?;
    Some(format!("{ty}/{id}"))
}

/// The orders a call is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Orders<'a> {
    /// Given in the context (draft orders, selected draft orders, appointments).
    Given(Vec<&'a Value>),
    /// Named by reference (`order-dispatch`'s `dispatchedOrders`), to be read from the
    /// prefetch or the FHIR server.
    Dispatched(Vec<&'a str>),
}

/// A request read and checked.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub hook: Hook,
    pub hook_instance: &'a str,
    pub context: &'a Map<String, Value>,
    pub patient_id: &'a str,
    pub encounter_id: Option<&'a str>,
    /// The FHIR server's base URL (http or https), without a final `/`.
    pub fhir_server: Option<&'a str>,
    pub access_token: Option<&'a str>,
    pub orders: Orders<'a>,
}

fn bad(code: IssueCode, message: String) -> Reply {
    Reply::bad(code, message)
}

fn required_str<'a>(object: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, Reply> {
    match object.get(key) {
        None | Some(Value::Null) => {
            Err(bad(IssueCode::Required, format!("`{at}{key}` is missing")))
        }
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(bad(IssueCode::Required, format!("`{at}{key}` is empty"))),
        Some(_) => Err(bad(
            IssueCode::Structure,
            format!("`{at}{key}` is not a string"),
        )),
    }
}

fn optional_str<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<&'a str>, Reply> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(
            IssueCode::Structure,
            format!("`{at}{key}` is not a string"),
        )),
    }
}

fn id_field<'a>(
    context: &'a Map<String, Value>,
    key: &str,
    required: bool,
) -> Result<Option<&'a str>, Reply> {
    let value = if required {
        Some(required_str(context, key, "context.")?)
    } else {
        optional_str(context, key, "context.")?
    };
    match value {
        Some(v) if !is_id(v) => Err(bad(
            IssueCode::Invalid,
            format!("`context.{key}` is not a FHIR id: `{}`", shown(v)),
        )),
        v => Ok(v),
    }
}

fn bundle<'a>(context: &'a Map<String, Value>, key: &str) -> Result<Vec<&'a Value>, Reply> {
    let value = match context.get(key) {
        None | Some(Value::Null) => {
            return Err(bad(
                IssueCode::Required,
                format!("`context.{key}` is missing"),
            ));
        }
        Some(v) => v,
    };
    let entries = bundle_entries(value)
        .map_err(|e| bad(IssueCode::Structure, format!("`context.{key}`: {e}")))?;
    for resource in &entries {
        if resource
            .get("resourceType")
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(bad(
                IssueCode::Structure,
                format!("`context.{key}` has an entry whose resource has no `resourceType`"),
            ));
        }
    }
    Ok(entries)
}

fn references<'a>(context: &'a Map<String, Value>, key: &str) -> Result<Vec<&'a str>, Reply> {
    let list = match context.get(key) {
        None | Some(Value::Null) => {
            return Err(bad(
                IssueCode::Required,
                format!("`context.{key}` is missing"),
            ));
        }
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(bad(
                IssueCode::Structure,
                format!("`context.{key}` is not a list"),
            ));
        }
    };
    if list.is_empty() {
        return Err(bad(
            IssueCode::Required,
            format!("`context.{key}` is empty"),
        ));
    }
    if list.len() > crate::MAX_RESOURCES {
        return Err(Reply::error(
            413,
            IssueCode::TooCostly,
            format!(
                "`context.{key}` names more than {} orders",
                crate::MAX_RESOURCES
            ),
        ));
    }
    list.iter()
        .map(|v| match v.as_str() {
            Some(r) if is_reference(r) => Ok(r),
            Some(r) => Err(bad(
                IssueCode::Invalid,
                format!(
                    "`context.{key}` holds `{}`, not a reference `Type/id`",
                    shown(r)
                ),
            )),
            None => Err(bad(
                IssueCode::Structure,
                format!("`context.{key}` holds a value that is not a string"),
            )),
        })
        .collect()
}

/// Reads a request to a service (its `prefetch` only checked to be an object). `Err` is the reply to send: 400 for a request that breaks
/// the rules, 413 for one naming too many orders.
pub fn parse(hook: Hook, request: &Value) -> Result<Call<'_>, Reply> {
    let Some(object) = request.as_object() else {
        return Err(bad(
            IssueCode::Structure,
            "the request is not a JSON object".into(),
        ));
    };
    let named = required_str(object, "hook", "")?;
    if named != hook.name() {
        return Err(bad(
            IssueCode::Invalid,
            format!(
                "service `{}` answers hook `{}`, not `{}`",
                hook.service_id(),
                hook.name(),
                shown(named)
            ),
        ));
    }
    let hook_instance = required_str(object, "hookInstance", "")?;
    let context = match object.get("context") {
        None | Some(Value::Null) => {
            return Err(bad(IssueCode::Required, "`context` is missing".into()));
        }
        Some(Value::Object(c)) => c,
        Some(_) => {
            return Err(bad(
                IssueCode::Structure,
                "`context` is not an object".into(),
            ));
        }
    };
    let fhir_server = match optional_str(object, "fhirServer", "")? {
        None => None,
        Some(url) => Some(server_url(url)?),
    };
    let access_token = match object.get("fhirAuthorization") {
        None | Some(Value::Null) => None,
        Some(Value::Object(auth)) => {
            Some(required_str(auth, "access_token", "fhirAuthorization.")?)
        }
        Some(_) => {
            return Err(bad(
                IssueCode::Structure,
                "`fhirAuthorization` is not an object".into(),
            ));
        }
    };
    if !matches!(
        object.get("prefetch"),
        None | Some(Value::Null | Value::Object(_))
    ) {
        return Err(bad(
            IssueCode::Structure,
            "`prefetch` is not an object".into(),
        ));
    }
    let patient_id = id_field(context, "patientId", true)?.unwrap_or_default();
    let encounter_id = match hook {
        Hook::OrderDispatch => None,
        _ => id_field(context, "encounterId", false)?,
    };
    let orders = match hook {
        Hook::OrderSign => Orders::Given(bundle(context, "draftOrders")?),
        Hook::AppointmentBook => Orders::Given(bundle(context, "appointments")?),
        Hook::OrderSelect => {
            let drafts = bundle(context, "draftOrders")?;
            let selections = references(context, "selections")?;
            let mut chosen = Vec::new();
            for s in selections {
                match drafts
                    .iter()
                    .find(|d| reference_of(d).as_deref() == Some(s))
                {
                    Some(d) => chosen.push(*d),
                    None => {
                        return Err(bad(
                            IssueCode::Invalid,
                            format!(
                                "selection `{}` is not among `context.draftOrders`",
                                shown(s)
                            ),
                        ));
                    }
                }
            }
            Orders::Given(chosen)
        }
        Hook::OrderDispatch => {
            required_str(context, "performer", "context.")?;
            match context.get("fulfillmentTasks") {
                None | Some(Value::Null | Value::Array(_)) => {}
                Some(_) => {
                    return Err(bad(
                        IssueCode::Structure,
                        "`context.fulfillmentTasks` is not a list".into(),
                    ));
                }
            }
            Orders::Dispatched(references(context, "dispatchedOrders")?)
        }
    };
    Ok(Call {
        hook,
        hook_instance,
        context,
        patient_id,
        encounter_id,
        fhir_server,
        access_token,
        orders,
    })
}

/// A FHIR server's base URL: http or https, with a host, no query or fragment; the final `/`
/// dropped.
fn server_url(url: &str) -> Result<&str, Reply> {
    let invalid = || {
        bad(
            IssueCode::Invalid,
            format!("`fhirServer` is not an http or https URL: `{}`", shown(url)),
        )
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid())?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err(invalid());
    }
    Ok(url.trim_end_matches('/'))
}

/// How many resources (objects with a `resourceType`) a value holds, counting up to
/// `limit + 1` at most.
pub fn count_resources(value: &Value, limit: usize) -> usize {
    let mut count = 0;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(o) => {
                if o.get("resourceType").is_some_and(Value::is_string) {
                    count += 1;
                    if count > limit {
                        return count;
                    }
                }
                stack.extend(o.values().filter(|v| v.is_object() || v.is_array()));
            }
            Value::Array(a) => stack.extend(a.iter().filter(|v| v.is_object() || v.is_array())),
            _ => {}
        }
    }
    count
}

/// Masks a request for the audit log: the access token replaced by `***` (one that is not a
/// string, or is empty, is kept, so that replaying the call refuses it too). Gives the token.
pub fn mask(request: &mut Value) -> Option<String> {
    let token = request
        .get_mut("fhirAuthorization")
        .and_then(Value::as_object_mut)
        .and_then(|a| a.get_mut("access_token"))
        .filter(|t| t.as_str().is_some_and(|t| !t.is_empty()))?;
    match std::mem::replace(token, Value::String("***".into())) {
        Value::String(t) => Some(t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(ty: &str, id: &str) -> Value {
        json!({"resource": {"resourceType": ty, "id": id, "status": "draft"}})
    }

    fn sign() -> Value {
        json!({
            "hook": "order-sign",
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "fhirServer": "https://fhir.example.org/r4/",
            "fhirAuthorization": {"access_token": "secret", "token_type": "Bearer"},
            "context": {
                "userId": "Practitioner/1",
                "patientId": "pat-1",
                "encounterId": "enc.1",
                "draftOrders": {"resourceType": "Bundle", "entry": [
                    draft("ServiceRequest", "a"), draft("DeviceRequest", "b"), {"fullUrl": "x"}
                ]}
            },
            "prefetch": {"patient": null}
        })
    }

    fn error(reply: Reply) -> (u16, String, String) {
        let issue = &reply.body["issue"][0];
        (
            reply.status,
            issue["code"].as_str().unwrap().to_string(),
            issue["diagnostics"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn reads_order_sign() {
        let request = sign();
        let call = parse(Hook::OrderSign, &request).unwrap();
        assert_eq!(call.patient_id, "pat-1");
        assert_eq!(call.encounter_id, Some("enc.1"));
        assert_eq!(call.fhir_server, Some("https://fhir.example.org/r4"));
        assert_eq!(call.access_token, Some("secret"));
        let Orders::Given(orders) = &call.orders else {
            panic!()
        };
        assert_eq!(orders.len(), 2);
    }

    #[test]
    fn order_select_takes_the_selections() {
        let mut request = sign();
        request["hook"] = json!("order-select");
        request["context"]["selections"] = json!(["DeviceRequest/b"]);
        let call = parse(Hook::OrderSelect, &request).unwrap();
        let Orders::Given(orders) = &call.orders else {
            panic!()
        };
        assert_eq!(orders.len(), 1);
        assert_eq!(reference_of(orders[0]).as_deref(), Some("DeviceRequest/b"));
        request["context"]["selections"] = json!(["DeviceRequest/zz"]);
        let (status, code, message) = error(parse(Hook::OrderSelect, &request).unwrap_err());
        assert_eq!((status, code.as_str()), (400, "invalid"));
        assert_eq!(
            message,
            "selection `DeviceRequest/zz` is not among `context.draftOrders`"
        );
        request["context"]
            .as_object_mut()
            .unwrap()
            .remove("selections");
        let (_, code, message) = error(parse(Hook::OrderSelect, &request).unwrap_err());
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("required", "`context.selections` is missing")
        );
    }

    #[test]
    fn order_dispatch_names_references() {
        let request = json!({
            "hook": "order-dispatch", "hookInstance": "h",
            "context": {"patientId": "p", "performer": "Organization/o",
                        "dispatchedOrders": ["ServiceRequest/1", "MedicationRequest/2"]}
        });
        let call = parse(Hook::OrderDispatch, &request).unwrap();
        assert_eq!(
            call.orders,
            Orders::Dispatched(vec!["ServiceRequest/1", "MedicationRequest/2"])
        );
        let mut bad_ref = request.clone();
        bad_ref["context"]["dispatchedOrders"] = json!(["../etc/passwd"]);
        let (_, code, message) = error(parse(Hook::OrderDispatch, &bad_ref).unwrap_err());
        assert_eq!(code, "invalid");
        assert_eq!(
            message,
            "`context.dispatchedOrders` holds `../etc/passwd`, not a reference `Type/id`"
        );
        let mut no_performer = request.clone();
        no_performer["context"]
            .as_object_mut()
            .unwrap()
            .remove("performer");
        let (_, _, message) = error(parse(Hook::OrderDispatch, &no_performer).unwrap_err());
        assert_eq!(message, "`context.performer` is missing");
    }

    #[test]
    fn refuses_what_breaks_the_rules() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Edit, &str, &str)> = vec![
            (
                Box::new(|r| r["hook"] = json!("order-select")),
                "invalid",
                "service `order-sign-crd` answers hook `order-sign`, not `order-select`",
            ),
            (
                Box::new(|r| {
                    r.as_object_mut().unwrap().remove("hookInstance");
                }),
                "required",
                "`hookInstance` is missing",
            ),
            (
                Box::new(|r| r["context"]["patientId"] = json!("a/b")),
                "invalid",
                "`context.patientId` is not a FHIR id: `a/b`",
            ),
            (
                Box::new(|r| r["context"]["patientId"] = json!(7)),
                "structure",
                "`context.patientId` is not a string",
            ),
            (
                Box::new(|r| r["context"]["draftOrders"] = json!([])),
                "structure",
                "`context.draftOrders`: not a FHIR Bundle (no `\"resourceType\": \"Bundle\"`)",
            ),
            (
                Box::new(|r| r["fhirServer"] = json!("file:///etc")),
                "invalid",
                "`fhirServer` is not an http or https URL: `file:///etc`",
            ),
            (
                Box::new(|r| r["fhirAuthorization"] = json!({"token_type": "Bearer"})),
                "required",
                "`fhirAuthorization.access_token` is missing",
            ),
            (
                Box::new(|r| r["context"] = json!("x".repeat(500))),
                "structure",
                "`context` is not an object",
            ),
        ];
        for (change, code, message) in cases {
            let mut request = sign();
            change(&mut request);
            let (status, c, m) = error(parse(Hook::OrderSign, &request).unwrap_err());
            assert_eq!((status, c.as_str(), m.as_str()), (400, code, message));
        }
        let long = json!({"hook": "x".repeat(1000), "hookInstance": "h", "context": {}});
        let (_, _, m) = error(parse(Hook::OrderSign, &long).unwrap_err());
        assert!(m.len() < 140, "{m}");
        let (_, _, m) = error(parse(Hook::OrderSign, &json!([1])).unwrap_err());
        assert_eq!(m, "the request is not a JSON object");
    }

    #[test]
    fn fills_templates() {
        let request = sign();
        let context = request["context"].as_object().unwrap();
        assert_eq!(
            fill(
                "Coverage?patient={{context.patientId}}&status=active",
                Hook::OrderSign,
                context
            )
            .as_deref(),
            Some("Coverage?patient=pat-1&status=active")
        );
        assert_eq!(
            fill(
                "Encounter/{{ context.encounterId }}",
                Hook::OrderSign,
                context
            )
            .as_deref(),
            Some("Encounter/enc.1")
        );
        let mut without = context.clone();
        without.remove("encounterId");
        assert_eq!(
            fill(
                "Encounter/{{context.encounterId}}",
                Hook::OrderSign,
                &without
            ),
            None
        );
        assert_eq!(
            fill(
                "Encounter/{{context.encounterId}}",
                Hook::OrderDispatch,
                context
            ),
            None
        );
        // userId is `Practitioner/1`, not an id.
        assert_eq!(fill("{{context.userId}}", Hook::OrderSign, context), None);
        assert_eq!(fill("x{{context.patientId", Hook::OrderSign, context), None);
    }

    #[test]
    fn counts_resources_and_masks_the_token() {
        let request = sign();
        assert_eq!(count_resources(&request, 100), 3);
        assert_eq!(count_resources(&request, 1), 2);
        let mut m = request.clone();
        assert_eq!(mask(&mut m).as_deref(), Some("secret"));
        assert_eq!(m["fhirAuthorization"]["access_token"], "***");
        assert_eq!(m["fhirAuthorization"]["token_type"], "Bearer");
        assert!(!m.to_string().contains("secret"));
    }
}
