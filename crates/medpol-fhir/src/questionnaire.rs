//! DTR questionnaires: the facts a pending decision needs as a FHIR R4 Questionnaire (one item
//! per fact, by its description, type, unit and allowed values), and a QuestionnaireResponse
//! read back as facts. A questionnaire's id names its policy and facts, so the service serves
//! any questionnaire it ever named without keeping it.

use medpol_artifact::{Artifact, FactSchema, FactType};
use serde_json::{Map, Value, json};

use crate::binding::{Binding, PolicyBinding, Source, duration_ucum};
use crate::{UCUM, shown};

/// The longest id FHIR allows.
const MAX_ID: usize = 64;

/// A policy id as it can stand in a FHIR id (`[A-Za-z0-9.-]`).
fn id_part(policy: &str) -> String {
    policy
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The questionnaire's id: the policy and a hexadecimal mask of its facts, or the policy
/// alone (every fact it can ask) when the mask would make the id too long.
pub fn id(artifact: &Artifact, facts: &[u32]) -> String {
    let base = id_part(artifact.policy_id());
    let mut nibbles: Vec<u8> = Vec::new();
    for &f in facts {
        let (i, bit) = ((f / 4) as usize, f % 4);
        if nibbles.len() <= i {
            nibbles.resize(i + 1, 0);
        }
        if let Some(n) = nibbles.get_mut(i) {
            *n |= 1 << bit;
        }
    }
    let mask: String = nibbles.iter().map(|n| format!("{n:x}")).collect();
    let id = format!("{base}.{mask}");
    if id.len() > MAX_ID || mask.is_empty() {
        base.chars().take(MAX_ID).collect()
    } else {
        id
    }
}

/// The questionnaire's canonical URL on the service.
pub fn canonical(artifact: &Artifact, facts: &[u32], base_url: &str) -> String {
    format!(
        "{}/fhir/Questionnaire/{}",
        base_url.trim_end_matches('/'),
        id(artifact, facts)
    )
}

/// The facts a questionnaire may ask: those read by a decision that the order does not give.
fn askable(policy: &PolicyBinding) -> Vec<u32> {
    policy
        .artifact
        .document()
        .facts
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            f.read
                && f.formula.is_none()
                && !matches!(
                    policy.source(*i as u32),
                    Some(Source::Order { .. } | Source::ServiceDate)
                )
        })
        .map(|(i, _)| i as u32)
        .collect()
}

/// The questionnaire an id names, when it names a policy of the binding and facts it can ask.
pub fn by_id(binding: &Binding, id: &str, base_url: &str) -> Option<Value> {
    if id.len() > MAX_ID {
        return None;
    }
    let (policy_part, mask) = match id.rsplit_once('.') {
        Some((p, m)) => (p, Some(m)),
        None => (id, None),
    };
    let policy = binding.policies().iter().find(|p| {
        id_part(p.policy_id())
            .chars()
            .take(MAX_ID)
            .collect::<String>()
            == policy_part
    })?;
    let askable = askable(policy);
    let facts: Vec<u32> = match mask {
        None => askable,
        Some(mask) => {
            let mut facts = Vec::new();
            for (i, c) in mask.chars().enumerate() {
                let n = c.to_digit(16)?;
                for bit in 0..4 {
                    if n & (1 << bit) != 0 {
                        let f = (i * 4) as u32 + bit;
                        if !askable.contains(&f) {
                            return None;
                        }
                        facts.push(f);
                    }
                }
            }
            if facts.is_empty() {
                return None;
            }
            facts
        }
    };
    Some(for_artifact(&policy.artifact, &facts, base_url))
}

/// The Questionnaire asking for the facts (indices into the artifact's facts).
pub fn for_artifact(artifact: &Artifact, facts: &[u32], base_url: &str) -> Value {
    let doc = artifact.document();
    let id = id(artifact, facts);
    let items: Vec<Value> = facts
        .iter()
        .filter_map(|&f| doc.facts.get(f as usize))
        .map(|f| item(artifact, f, &f.name))
        .collect();
    let title = format!("{}: information needed", doc.policy.title);
    json!({
        "resourceType": "Questionnaire",
        "id": id,
        "url": canonical(artifact, facts, base_url),
        "version": doc.policy.version,
        "name": format!("medpol_{}", id_part(artifact.policy_id()).replace(['-', '.'], "_")),
        "title": title,
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": "medpol",
        "description": format!(
            "The information policy `{}` needs to decide coverage, generated from its decision artifact ({}).",
            artifact.policy_id(),
            doc.hash
        ),
        "item": items,
    })
}

fn item(artifact: &Artifact, fact: &FactSchema, link: &str) -> Value {
    let mut out = Map::new();
    let mut text = fact
        .description
        .clone()
        .unwrap_or_else(|| fact.name.replace('_', " "));
    if fact.documentation {
        text.push_str(" (the record must document it)");
    }
    out.insert("linkId".into(), json!(link));
    out.insert("text".into(), json!(text));
    let mut extensions: Vec<Value> = Vec::new();
    let (min, max) = fact
        .range
        .as_ref()
        .map(|r| (Some(r.min.clone()), Some(r.max.clone())))
        .unwrap_or((None, None));
    let bound = |url: &str, kind: &str, v: &str| -> Option<Value> {
        let n: serde_json::Number = v.parse().ok()?;
        Some(json!({"url": url, kind: n}))
    };
    let ty = match fact.ty {
        FactType::Bool => "boolean",
        FactType::Int => {
            extensions.extend(min.as_deref().and_then(|v| {
                bound(
                    "http://hl7.org/fhir/StructureDefinition/minValue",
                    "valueInteger",
                    v,
                )
            }));
            extensions.extend(max.as_deref().and_then(|v| {
                bound(
                    "http://hl7.org/fhir/StructureDefinition/maxValue",
                    "valueInteger",
                    v,
                )
            }));
            "integer"
        }
        FactType::Decimal => {
            extensions.extend(min.as_deref().and_then(|v| {
                bound(
                    "http://hl7.org/fhir/StructureDefinition/minValue",
                    "valueDecimal",
                    v,
                )
            }));
            extensions.extend(max.as_deref().and_then(|v| {
                bound(
                    "http://hl7.org/fhir/StructureDefinition/maxValue",
                    "valueDecimal",
                    v,
                )
            }));
            "decimal"
        }
        FactType::Percent => {
            extensions.push(json!({
                "url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unit",
                "valueCoding": {"system": UCUM, "code": "%", "display": "%"}
            }));
            "decimal"
        }
        FactType::Quantity | FactType::Duration => {
            let units: Vec<&str> = match (fact.ty, fact.unit.as_deref()) {
                (FactType::Duration, Some("days" | "weeks")) => vec!["d", "wk"],
                (FactType::Duration, Some(_)) => vec!["mo", "a"],
                (_, Some(u)) => vec![u],
                _ => Vec::new(),
            };
            // The fact's own unit first: what a form shows unless the user picks another.
            let own = fact
                .unit
                .as_deref()
                .and_then(|u| duration_ucum(u).or(Some(u)));
            let mut units = units;
            units.sort_by_key(|u| Some(*u) != own);
            for u in units {
                extensions.push(json!({
                    "url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption",
                    "valueCoding": {"system": UCUM, "code": u, "display": u}
                }));
            }
            "quantity"
        }
        FactType::Enum => {
            out.insert(
                "answerOption".into(),
                Value::Array(
                    fact.values
                        .iter()
                        .map(
                            |v| json!({"valueCoding": {"code": v, "display": v.replace('_', " ")}}),
                        )
                        .collect(),
                ),
            );
            "choice"
        }
        FactType::Code | FactType::Codes => {
            if fact.ty == FactType::Codes {
                out.insert("repeats".into(), json!(true));
            }
            let system = fact
                .system
                .as_deref()
                .and_then(medpol_artifact::codes::System::parse);
            if let Some(s) = system {
                out.insert(
                    "text".into(),
                    json!(format!("{text} ({} codes)", s.display())),
                );
            }
            "open-choice"
        }
        FactType::Date => "date",
        FactType::List => {
            out.insert("repeats".into(), json!(true));
            let fields: Vec<Value> = fact
                .record
                .and_then(|r| artifact.document().records.get(r as usize))
                .map(|r| {
                    r.fields
                        .iter()
                        .map(|field| {
                            item(artifact, field, &format!("{}.{}", fact.name, field.name))
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.insert("item".into(), Value::Array(fields));
            "group"
        }
    };
    out.insert("type".into(), json!(ty));
    if !extensions.is_empty() {
        out.insert("extension".into(), Value::Array(extensions));
    }
    Value::Object(out)
}

/// A QuestionnaireResponse's answers as facts (the JSON `medpol eval` reads): each item's
/// `linkId` names a fact of the artifact. Items without answers stay missing.
pub fn facts_from_response(
    artifact: &Artifact,
    response: &Value,
) -> Result<Map<String, Value>, String> {
    if response.get("resourceType").and_then(Value::as_str) != Some("QuestionnaireResponse") {
        return Err(
            "not a QuestionnaireResponse (no `\"resourceType\": \"QuestionnaireResponse\"`)".into(),
        );
    }
    let mut out = Map::new();
    let items = response
        .get("item")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let doc = artifact.document();
    for item in items {
        let link = item.get("linkId").and_then(Value::as_str).unwrap_or("");
        let Some(fact) = doc.facts.iter().find(|f| f.name == link) else {
            return Err(format!(
                "item `{}` names no fact of policy `{}`",
                shown(link),
                artifact.policy_id()
            ));
        };
        if fact.ty == FactType::List {
            let fields = fact
                .record
                .and_then(|r| doc.records.get(r as usize))
                .map(|r| r.fields.as_slice())
                .unwrap_or(&[]);
            let mut list = Vec::new();
            // A repeated group is one item per repetition, or one item whose answers repeat.
            for group in std::iter::once(item) {
                let mut record = Map::new();
                for sub in group
                    .get("item")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let link = sub.get("linkId").and_then(Value::as_str).unwrap_or("");
                    let name = link
                        .strip_prefix(&format!("{}.", fact.name))
                        .unwrap_or(link);
                    let Some(field) = fields.iter().find(|f| f.name == name) else {
                        return Err(format!(
                            "item `{}` names no field of `{}`",
                            shown(link),
                            fact.name
                        ));
                    };
                    if let Some(v) = answer(field, sub)? {
                        record.insert(field.name.clone(), v);
                    }
                }
                if !record.is_empty() {
                    list.push(Value::Object(record));
                }
            }
            match out.get_mut(&fact.name) {
                Some(Value::Array(existing)) => existing.extend(list),
                _ => {
                    out.insert(fact.name.clone(), Value::Array(list));
                }
            }
            continue;
        }
        if let Some(v) = answer(fact, item)? {
            out.insert(fact.name.clone(), v);
        }
    }
    Ok(out)
}

/// One item's answers as a fact's value (`None` when it has none).
fn answer(fact: &FactSchema, item: &Value) -> Result<Option<Value>, String> {
    let answers: Vec<&Value> = item
        .get("answer")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let wrong = |what: &str| {
        format!(
            "the answer to `{}` is {what}, not what the fact takes",
            fact.name
        )
    };
    if fact.ty == FactType::Codes {
        let mut codes = Vec::new();
        for a in &answers {
            codes.push(code_answer(a).ok_or_else(|| wrong("not a code"))?);
        }
        return Ok((!answers.is_empty()).then(|| Value::from(codes)));
    }
    let Some(a) = answers.first() else {
        return Ok(None);
    };
    if answers.len() > 1 {
        return Err(format!(
            "`{}` takes one answer, and has {}",
            fact.name,
            answers.len()
        ));
    }
    let number = |a: &Value| -> Option<String> {
        a.get("valueDecimal")
            .or_else(|| a.get("valueInteger"))
            .and_then(|v| v.as_number())
            .map(|n| n.to_string())
    };
    Ok(Some(match fact.ty {
        FactType::Bool => a
            .get("valueBoolean")
            .filter(|v| v.is_boolean())
            .cloned()
            .ok_or_else(|| wrong("not true or false"))?,
        FactType::Int | FactType::Decimal => {
            Value::String(number(a).ok_or_else(|| wrong("not a number"))?)
        }
        FactType::Percent => Value::String(format!(
            "{}%",
            number(a).ok_or_else(|| wrong("not a number"))?
        )),
        FactType::Quantity | FactType::Duration => {
            let q = a
                .get("valueQuantity")
                .ok_or_else(|| wrong("not a quantity"))?;
            let value = q
                .get("value")
                .and_then(Value::as_number)
                .ok_or_else(|| wrong("a quantity without a value"))?;
            let unit = q
                .get("code")
                .or_else(|| q.get("unit"))
                .and_then(Value::as_str)
                .ok_or_else(|| wrong("a quantity without a unit"))?;
            let unit = if fact.ty == FactType::Duration {
                match unit {
                    "d" => "days",
                    "wk" => "weeks",
                    "mo" => "months",
                    "a" => "years",
                    other => other,
                }
            } else {
                unit
            };
            json!({"value": value.to_string(), "unit": unit})
        }
        FactType::Enum | FactType::Code => {
            Value::String(code_answer(a).ok_or_else(|| wrong("not a code"))?)
        }
        FactType::Date => a
            .get("valueDate")
            .filter(|v| v.is_string())
            .cloned()
            .ok_or_else(|| wrong("not a date"))?,
        FactType::Codes | FactType::List => return Ok(None),
    }))
}

fn code_answer(a: &Value) -> Option<String> {
    a.get("valueCoding")
        .and_then(|c| c.get("code"))
        .or_else(|| a.get("valueString"))
        .and_then(Value::as_str)
        .map(str::to_string)
}
