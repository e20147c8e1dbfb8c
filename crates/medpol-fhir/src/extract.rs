//! A policy's facts read from a patient's FHIR record through the binding: facts as JSON, in
//! the form `medpol eval` reads (`docs/artifact.md`), so that the artifact's own reader checks
//! them. A value the record gives in a form the fact cannot take (a code of the wrong format,
//! a unit that does not convert) is left out with a note: one odd resource never stops an
//! answer, it leaves its fact missing.

use medpol_artifact::FactType;
use medpol_artifact::codes::{CodeForm, CodeItem, System, parse_code};
use medpol_artifact::date::Date;
use medpol_artifact::ucum::Ucum;
use serde_json::{Map, Value, json};

use crate::binding::{PolicyBinding, Query, Source, Within, duration_ucum};
use crate::record::Record;
use crate::{shown, system_of_uri};

/// Facts read from a record, and what was left out and why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    pub facts: Map<String, Value>,
    pub notes: Vec<String>,
}

/// What the facts are read for: the orders in question (their codes and date) and the
/// Coverage (its product line); `today` stands in for a date of service no order gives.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub orders: &'a [&'a Value],
    pub coverage: Option<&'a Value>,
    pub today: Date,
}

/// Reads every fact of the policy that has a source.
pub fn facts(policy: &PolicyBinding, record: &Record, subject: &Subject<'_>) -> Extracted {
    let mut out = Extracted::default();
    let service = service_date(subject.orders).unwrap_or(subject.today);
    for (index, fact) in policy.artifact.document().facts.iter().enumerate() {
        let Some(source) = policy.source(index as u32) else {
            continue;
        };
        let value = match source {
            Source::Condition {
                system,
                codes,
                clinical,
                verification,
            } => record.get(Query::Conditions).and_then(|found| {
                let kept = found.iter().filter(|c| {
                    status_ok(c.get("clinicalStatus"), clinical)
                        && status_ok(c.get("verificationStatus"), verification)
                });
                let read = codes_of(kept.filter_map(|c| c.get("code")), *system, &mut out.notes);
                codes_value(fact.ty, read, codes, false)
            }),
            Source::Procedure {
                system,
                codes,
                status,
            } => record.get(Query::Procedures).and_then(|found| {
                let kept = found.iter().filter(|p| {
                    p.get("status")
                        .and_then(Value::as_str)
                        .is_some_and(|s| status.iter().any(|w| w == s))
                });
                let read = codes_of(kept.filter_map(|p| p.get("code")), *system, &mut out.notes);
                codes_value(fact.ty, read, codes, false)
            }),
            Source::Order { system, codes } => {
                if subject.orders.is_empty() {
                    None
                } else {
                    let concepts = subject.orders.iter().flat_map(|o| order_concepts(o));
                    let read = codes_of(concepts, *system, &mut out.notes);
                    codes_value(fact.ty, read, codes, true)
                }
            }
            Source::Observation {
                codes,
                unit,
                within,
            } => record.get(Query::Observations).and_then(|found| {
                observation(
                    found,
                    codes,
                    unit.as_deref(),
                    *within,
                    service,
                    fact,
                    &mut out.notes,
                )
            }),
            Source::Coverage { class, values } => subject
                .coverage
                .or_else(|| record.get(Query::Coverage).and_then(|c| c.first()))
                .and_then(|c| {
                    coverage_value(c, class.as_deref(), values, &fact.name, &mut out.notes)
                }),
            Source::EncounterClass { values } => record
                .get(Query::Encounter)
                .and_then(|e| e.first())
                .and_then(|e| e.get("class"))
                .and_then(|class| {
                    let code = class.get("code").and_then(Value::as_str)?;
                    let system = class.get("system").and_then(Value::as_str).unwrap_or("");
                    let found = pick(values, &[code.to_string(), format!("{system}|{code}")]);
                    if found.is_none() {
                        out.notes.push(format!(
                            "fact `{}`: encounter class `{}` is not mapped to a value",
                            fact.name,
                            shown(code)
                        ));
                    }
                    found
                }),
            Source::BirthDate => record
                .get(Query::Patient)
                .and_then(|p| p.first())
                .and_then(|p| p.get("birthDate"))
                .and_then(Value::as_str)
                .and_then(|b| match Date::parse(b) {
                    Some(birth) => birth_value(fact.ty, fact.unit.as_deref(), birth, service),
                    None => {
                        out.notes.push(format!(
                            "fact `{}`: birth date `{}` is not a whole date",
                            fact.name,
                            shown(b)
                        ));
                        None
                    }
                }),
            Source::ServiceDate => Some(Value::String(service.to_string())),
        };
        if let Some(v) = value {
            out.facts.insert(fact.name.clone(), v);
        }
    }
    out
}

/// The date of service: the first order's occurrence (or an appointment's start).
pub fn service_date(orders: &[&Value]) -> Option<Date> {
    orders.iter().find_map(|o| {
        let text = o
            .get("occurrenceDateTime")
            .or_else(|| o.get("occurrencePeriod").and_then(|p| p.get("start")))
            .or_else(|| {
                o.get("occurrenceTiming")
                    .and_then(|t| t.get("event"))
                    .and_then(|e| e.get(0))
            })
            .or_else(|| o.get("start"))
            .or_else(|| o.get("dateWritten"))
            .and_then(Value::as_str)?;
        Date::parse(text.get(..10)?)
    })
}

/// The concepts that say what an order is.
pub fn order_concepts(order: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for key in ["code", "codeCodeableConcept", "medicationCodeableConcept"] {
        if let Some(c) = order.get(key) {
            out.push(c);
        }
    }
    if let Some(types) = order.get("serviceType").and_then(Value::as_array) {
        out.extend(types.iter());
    }
    out
}

fn status_ok(status: Option<&Value>, allowed: &[String]) -> bool {
    // A resource that does not say its status is taken as it is: FHIR makes the statuses
    // optional, and leaving it out would hide the record's own codes.
    let Some(codings) = status
        .and_then(|s| s.get("coding"))
        .and_then(Value::as_array)
    else {
        return true;
    };
    codings.iter().any(|c| {
        c.get("code")
            .and_then(Value::as_str)
            .is_some_and(|code| allowed.iter().any(|a| a == code))
    })
}

/// The codes of `system` in the concepts, in normal form, without repeats.
fn codes_of<'a>(
    concepts: impl Iterator<Item = &'a Value>,
    system: System,
    notes: &mut Vec<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for concept in concepts {
        let Some(codings) = concept.get("coding").and_then(Value::as_array) else {
            continue;
        };
        for coding in codings {
            let uri = coding.get("system").and_then(Value::as_str).unwrap_or("");
            if system_of_uri(uri) != Some(system) {
                continue;
            }
            let Some(code) = coding.get("code").and_then(Value::as_str) else {
                continue;
            };
            match normal_code(system, code) {
                Some(c) => {
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
                None => notes.push(format!(
                    "`{}` is not a valid {} code; left out",
                    shown(code),
                    system.display()
                )),
            }
        }
    }
    out
}

/// A code as records write it (ICD-10-CM without its dot, `M8008XA`) in normal form.
fn normal_code(system: System, code: &str) -> Option<String> {
    let code = code.trim();
    let dotted;
    let code = if system == System::Icd10Cm && !code.contains('.') && code.len() > 3 {
        dotted = format!("{}.{}", code.get(..3)?, code.get(3..)?);
        dotted.as_str()
    } else {
        code
    };
    match parse_code(system, code) {
        Ok(CodeForm::Exact(c)) => Some(c),
        _ => None,
    }
}

fn codes_value(ty: FactType, read: Vec<String>, items: &[CodeItem], whole: bool) -> Option<Value> {
    match ty {
        FactType::Codes => Some(Value::from(read)),
        FactType::Code => read.into_iter().next().map(Value::from),
        FactType::Bool => {
            if read.iter().any(|c| items.iter().any(|i| i.matches(c))) {
                Some(Value::Bool(true))
            } else if whole {
                // The order says all it is: a code it lacks, it lacks.
                Some(Value::Bool(false))
            } else {
                // A record without the code does not say the patient lacks the condition.
                None
            }
        }
        _ => None,
    }
}

fn observation(
    found: &[Value],
    codes: &[(String, String)],
    unit: Option<&str>,
    within: Option<Within>,
    service: Date,
    fact: &medpol_artifact::FactSchema,
    notes: &mut Vec<String>,
) -> Option<Value> {
    let matches = |o: &&Value| {
        let status_ok = o
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| matches!(s, "final" | "amended" | "corrected"));
        let coded = o
            .get("code")
            .and_then(|c| c.get("coding"))
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    let s = c.get("system").and_then(Value::as_str).unwrap_or("");
                    let k = c.get("code").and_then(Value::as_str).unwrap_or("");
                    codes.iter().any(|(ws, wk)| ws == s && wk == k)
                })
            });
        status_ok && coded
    };
    let earliest = match within {
        None => None,
        Some(Within::Days(n)) => Date::from_days(service.days() - n),
        Some(Within::Months(n)) => service.add_months(-n),
    };
    // The latest observation on or before the date of service (and within the window).
    let mut best: Option<(Date, &Value)> = None;
    for o in found.iter().filter(matches) {
        let Some(date) = observation_date(o) else {
            continue;
        };
        if date > service || earliest.is_some_and(|e| date < e) {
            continue;
        }
        if best.is_none_or(|(d, _)| date >= d) {
            best = Some((date, o));
        }
    }
    let (date, o) = best?;
    let value = match fact.ty {
        FactType::Date => return Some(Value::String(date.to_string())),
        FactType::Bool => return o.get("valueBoolean").filter(|v| v.is_boolean()).cloned(),
        _ => o
            .get("valueQuantity")
            .or_else(|| o.get("valueInteger").map(|_| o))
            .and_then(|q| q.get("value").or_else(|| q.get("valueInteger")))?,
    };
    let number = match value {
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let given = o
        .get("valueQuantity")
        .and_then(|q| q.get("code").or_else(|| q.get("unit")))
        .and_then(Value::as_str);
    let note = |what: &str| {
        format!(
            "fact `{}`: the observation's unit `{}` {what}",
            fact.name,
            shown(given.unwrap_or(""))
        )
    };
    match fact.ty {
        FactType::Int | FactType::Decimal => {
            let unitless = |u: &str| u == "1" || u.starts_with('{');
            let fits = |g: &str| Some(g) == unit || (unit.is_none_or(unitless) && unitless(g));
            if given.is_some_and(|g| !fits(g)) {
                notes.push(note("is not the unitless value the binding reads"));
                return None;
            }
            Some(Value::String(number))
        }
        FactType::Percent => {
            if given.is_some_and(|g| g != "%") {
                notes.push(note("is not `%`"));
                return None;
            }
            Some(Value::String(format!("{number}%")))
        }
        FactType::Quantity => {
            let g = given.or(unit)?;
            let own = fact.unit.as_deref().and_then(Ucum::parse)?;
            match Ucum::parse(g) {
                Some(u) if u.dim() == own.dim() => Some(json!({"value": number, "unit": g})),
                _ => {
                    notes.push(note("does not convert to the fact's unit"));
                    None
                }
            }
        }
        FactType::Duration => {
            let g = given.or(unit)?;
            let word = match g {
                "d" => "days",
                "wk" => "weeks",
                "mo" => "months",
                "a" => "years",
                _ => {
                    notes.push(note("is not a duration of days, weeks, months or years"));
                    return None;
                }
            };
            let own = fact.unit.as_deref().and_then(duration_ucum);
            let same_family = matches!(
                (own, g),
                (Some("d" | "wk"), "d" | "wk") | (Some("mo" | "a"), "mo" | "a")
            );
            if !same_family {
                notes.push(note("does not convert exactly to the fact's unit"));
                return None;
            }
            Some(json!({"value": number, "unit": word}))
        }
        _ => None,
    }
}

fn observation_date(o: &Value) -> Option<Date> {
    let text = o
        .get("effectiveDateTime")
        .or_else(|| o.get("effectivePeriod").and_then(|p| p.get("start")))
        .or_else(|| o.get("effectiveInstant"))
        .or_else(|| o.get("issued"))
        .and_then(Value::as_str)?;
    Date::parse(text.get(..10)?)
}

fn pick(values: &[(String, Vec<String>)], keys: &[String]) -> Option<Value> {
    values
        .iter()
        .find(|(_, codes)| codes.iter().any(|c| keys.contains(c)))
        .map(|(v, _)| Value::String(v.clone()))
}

fn coverage_value(
    coverage: &Value,
    class: Option<&str>,
    values: &[(String, Vec<String>)],
    fact: &str,
    notes: &mut Vec<String>,
) -> Option<Value> {
    let keys: Vec<String> = match class {
        Some(class) => coverage
            .get("class")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| {
                c.get("type")
                    .and_then(|t| t.get("coding"))
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.get("code").and_then(Value::as_str) == Some(class))
                    })
            })
            .filter_map(|c| c.get("value").and_then(Value::as_str))
            .map(str::to_string)
            .collect(),
        None => coverage
            .get("type")
            .and_then(|t| t.get("coding"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let code = c.get("code").and_then(Value::as_str)?;
                let system = c.get("system").and_then(Value::as_str).unwrap_or("");
                Some([code.to_string(), format!("{system}|{code}")])
            })
            .flatten()
            .collect(),
    };
    let found = pick(values, &keys);
    if found.is_none() {
        notes.push(format!(
            "fact `{fact}`: the coverage's {} {} not mapped to a value",
            match class {
                Some(c) => format!("`{}` class", shown(c)),
                None => "type".to_string(),
            },
            match keys.first() {
                Some(k) => format!("`{}` is", shown(k)),
                None => "is missing, so".to_string(),
            }
        ));
    }
    found
}

fn birth_value(ty: FactType, unit: Option<&str>, birth: Date, service: Date) -> Option<Value> {
    match ty {
        FactType::Date => Some(Value::String(birth.to_string())),
        FactType::Duration => {
            if birth > service {
                return None;
            }
            // An age is counted as the policy counts it: calendar months (or days) completed.
            Some(match unit? {
                "months" | "years" => {
                    json!({"value": birth.months_until(service), "unit": "months"})
                }
                _ => json!({"value": service.days() - birth.days(), "unit": "days"}),
            })
        }
        _ => None,
    }
}
