//! A patient's facts, read from JSON or YAML and checked against an artifact's input schema.
//!
//! The syntax (see `docs/artifact.md`): one object, fact name to value. `true`/`false` for a
//! bool; a number (or a string holding one) for `int` and `decimal`; a string with its unit
//! for a duration (`"8 weeks"`, `"42 days"`, `"1 week"`) or a percentage (`"28.5%"`), or an
//! object `{"value": 8, "unit": "weeks"}`; the value's name for an enum; a code for a code; a
//! list of codes for a set of codes. `null` or leaving a fact out means it is not known.

use serde_json::Value;

use super::{Artifact, FactSchema, FactType};
use crate::codes::{CodeForm, System, parse_code};
use crate::tables::TableSet;
use crate::types::{Num, Unit};

/// A patient's facts bound to one artifact's schema: one slot per fact of the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub(crate) slots: Vec<Slot>,
    /// For each class of codes the artifact's `has` tests name: how many of the patient's codes
    /// lie in it.
    pub(crate) class_counts: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Slot {
    Missing,
    Bool(bool),
    /// In the fact's own unit.
    Num(Num),
    Enum(u32),
    /// For each code set of the artifact, whether the code is in it.
    Code(Vec<bool>),
    /// A set of codes: its classes are counted in `class_counts`.
    Codes,
}

/// Facts that do not fit the schema: nothing is evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactError {
    /// The fact at fault (none for input that is not an object at all).
    pub fact: Option<String>,
    pub message: String,
}

impl std::fmt::Display for FactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FactError {}

fn bad(fact: &str, message: String) -> FactError {
    FactError {
        fact: Some(fact.to_string()),
        message,
    }
}

impl Facts {
    /// No fact known.
    pub fn empty(artifact: &Artifact) -> Facts {
        Facts {
            slots: vec![Slot::Missing; artifact.document().facts.len()],
            class_counts: vec![0; artifact.classes.len()],
        }
    }

    /// Reads facts from JSON text (codes are checked for their format only).
    pub fn from_json(artifact: &Artifact, text: &str) -> Result<Facts, FactError> {
        Facts::from_json_in(artifact, text, None)
    }

    /// Reads facts from JSON text; with tables, each code must also be a billable code of the
    /// release the artifact was built against (when that release is among the tables and
    /// lists its whole system). Each fact is bound as it is read, in the order written.
    pub fn from_json_in(
        artifact: &Artifact,
        text: &str,
        tables: Option<&TableSet>,
    ) -> Result<Facts, FactError> {
        let mut error = None;
        let mut de = serde_json::Deserializer::from_str(text);
        let read = serde::Deserializer::deserialize_map(
            &mut de,
            Reader {
                artifact,
                tables,
                error: &mut error,
            },
        )
        .and_then(|facts| de.end().map(|()| facts));
        match (read, error) {
            (_, Some(e)) => Err(e),
            (Ok(facts), None) => Ok(facts),
            (Err(e), None) if e.classify() == serde_json::error::Category::Data => {
                Err(not_an_object())
            }
            (Err(e), None) => Err(FactError {
                fact: None,
                message: format!("the facts are not valid JSON: {e}"),
            }),
        }
    }

    /// Reads facts from YAML text, as [`Facts::from_json_in`] does JSON.
    pub fn from_yaml_in(
        artifact: &Artifact,
        text: &str,
        tables: Option<&TableSet>,
    ) -> Result<Facts, FactError> {
        let value: Value = serde_saphyr::from_str(text).map_err(|e| FactError {
            fact: None,
            message: format!("the facts are not valid YAML: {e}"),
        })?;
        Facts::from_value(artifact, &value, tables)
    }

    /// Binds a parsed JSON value (an object of facts) to the artifact's schema.
    pub fn from_value(
        artifact: &Artifact,
        value: &Value,
        tables: Option<&TableSet>,
    ) -> Result<Facts, FactError> {
        let Value::Object(map) = value else {
            return Err(not_an_object());
        };
        let mut facts = Facts::empty(artifact);
        for (name, v) in map {
            facts.bind_named(artifact, name, v, tables)?;
        }
        Ok(facts)
    }

    fn bind_named(
        &mut self,
        artifact: &Artifact,
        name: &str,
        v: &Value,
        tables: Option<&TableSet>,
    ) -> Result<(), FactError> {
        let Some(index) = artifact.fact_index(name) else {
            let hint = artifact
                .document()
                .facts
                .iter()
                .map(|f| (strsim::levenshtein(&f.name, name), f.name.as_str()))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, s)| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(bad(
                name,
                format!(
                    "unknown fact `{}`: policy `{}` has no such fact{hint}",
                    name.escape_debug(),
                    artifact.policy_id()
                ),
            ));
        };
        let Some(schema) = artifact.document().facts.get(index as usize) else {
            return Ok(());
        };
        let slot = self.bind(artifact, schema, v, tables)?;
        if let Some(s) = self.slots.get_mut(index as usize) {
            *s = slot;
        }
        Ok(())
    }

    fn bind(
        &mut self,
        artifact: &Artifact,
        schema: &FactSchema,
        v: &Value,
        tables: Option<&TableSet>,
    ) -> Result<Slot, FactError> {
        let name = schema.name.as_str();
        if v.is_null() {
            return Ok(Slot::Missing);
        }
        let wrong = |expected: &str| {
            bad(
                name,
                format!(
                    "fact `{name}` is {expected}, not `{}`",
                    shorten(&v.to_string())
                ),
            )
        };
        match schema.ty {
            FactType::Bool => v
                .as_bool()
                .map(Slot::Bool)
                .ok_or_else(|| wrong("`true` or `false`")),
            FactType::Int | FactType::Decimal => {
                let n = plain_number(v).ok_or_else(|| wrong("a number"))?;
                if schema.ty == FactType::Int && !n.is_integer() {
                    return Err(wrong("a whole number"));
                }
                Ok(Slot::Num(n))
            }
            FactType::Duration | FactType::Percent => {
                let unit = match schema.ty {
                    FactType::Percent => Unit::Percent,
                    _ => schema
                        .unit
                        .as_deref()
                        .and_then(Unit::parse)
                        .unwrap_or(Unit::Day),
                };
                quantity(name, v, unit).map(Slot::Num)
            }
            FactType::Enum => {
                let text = v.as_str().ok_or_else(|| wrong("one of its values"))?;
                match schema.values.iter().position(|x| x == text) {
                    Some(i) => Ok(Slot::Enum(i as u32)),
                    None => Err(bad(
                        name,
                        format!(
                            "`{}` is not a value of fact `{name}`; its values are {}",
                            text.escape_debug(),
                            schema.values.join(", ")
                        ),
                    )),
                }
            }
            FactType::Code => {
                let text = v.as_str().ok_or_else(|| wrong("one code"))?;
                let code = code(artifact, schema, text, tables)?;
                Ok(Slot::Code(
                    artifact
                        .sets
                        .iter()
                        .map(|s| s.binary_search(&code).is_ok())
                        .collect(),
                ))
            }
            FactType::Codes => {
                let items = v.as_array().ok_or_else(|| wrong("a list of codes"))?;
                let mut codes = Vec::with_capacity(items.len());
                for item in items {
                    let text = item.as_str().ok_or_else(|| wrong("a list of codes"))?;
                    codes.push(code(artifact, schema, text, tables)?);
                }
                codes.sort();
                codes.dedup();
                let index = artifact.fact_index(name).unwrap_or(u32::MAX);
                for (class, count) in artifact.classes.iter().zip(&mut self.class_counts) {
                    if class.fact != index {
                        continue;
                    }
                    let member = |s: &u32, c: &String| {
                        artifact
                            .sets
                            .get(*s as usize)
                            .is_some_and(|set| set.binary_search(c).is_ok())
                    };
                    *count = codes
                        .iter()
                        .filter(|c| {
                            class.inside.iter().all(|s| member(s, c))
                                && !class.not_in.iter().any(|s| member(s, c))
                        })
                        .count() as u32;
                }
                Ok(Slot::Codes)
            }
        }
    }
}

fn not_an_object() -> FactError {
    FactError {
        fact: None,
        message: "the facts must be an object of fact names and values".to_string(),
    }
}

/// Reads a JSON object of facts and binds each as it comes, without building the object
/// first; a fact that does not fit stops the read with its error kept aside.
struct Reader<'a> {
    artifact: &'a Artifact,
    tables: Option<&'a TableSet>,
    error: &'a mut Option<FactError>,
}

impl<'de> serde::de::Visitor<'de> for Reader<'_> {
    type Value = Facts;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of fact names and values")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Facts, A::Error> {
        let mut facts = Facts::empty(self.artifact);
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            let value: Value = map.next_value()?;
            if let Err(e) = facts.bind_named(self.artifact, &name, &value, self.tables) {
                *self.error = Some(e);
                return Err(serde::de::Error::custom("a fact does not fit the schema"));
            }
        }
        Ok(facts)
    }
}

/// A fact name, borrowed from the text when it has no escapes.
struct Name<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a fact name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(std::borrow::Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(40).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}

/// A number given as a JSON number or a string holding one.
fn plain_number(v: &Value) -> Option<Num> {
    match v {
        Value::Number(n) => Num::parse(&n.to_string()).ok(),
        Value::String(s) => Num::parse(s.trim()).ok(),
        _ => None,
    }
}

/// A duration or percentage with its unit, converted exactly into the fact's unit.
fn quantity(name: &str, v: &Value, to: Unit) -> Result<Num, FactError> {
    let example = if to == Unit::Percent {
        "`\"28.5%\"`".to_string()
    } else {
        format!("`\"6 {}\"`", to.name())
    };
    let (amount, unit) = match v {
        Value::String(s) => {
            let s = s.trim();
            let (amount, unit) = if let Some(a) = s.strip_suffix('%') {
                (a.trim(), "%")
            } else {
                match s.split_once(char::is_whitespace) {
                    Some((a, u)) => (a, u.trim()),
                    None => (s, ""),
                }
            };
            (amount.to_string(), unit.to_string())
        }
        Value::Object(o) => {
            let amount = o.get("value").and_then(plain_number).map(|n| n.to_string());
            let unit = o.get("unit").and_then(Value::as_str).unwrap_or("");
            match amount {
                Some(a) => (a, unit.to_string()),
                None => {
                    return Err(bad(
                        name,
                        format!(
                            "fact `{name}` needs a number in `value`, such as `{{\"value\": 6, \"unit\": \"{}\"}}`",
                            to.name()
                        ),
                    ));
                }
            }
        }
        Value::Number(n) => (n.to_string(), String::new()),
        _ => {
            return Err(bad(
                name,
                format!("fact `{name}` is a quantity with its unit, such as {example}"),
            ));
        }
    };
    if unit.is_empty() {
        return Err(bad(
            name,
            format!("fact `{name}` needs a unit: write {example}, not `{amount}`"),
        ));
    }
    let amount = crate::artifact::parse_num(&amount).ok_or_else(|| {
        bad(
            name,
            format!("fact `{name}`: `{}` is not a number", amount.escape_debug()),
        )
    })?;
    let from = Unit::parse(&unit).ok_or_else(|| {
        bad(
            name,
            format!(
                "fact `{name}`: `{}` is not a unit (days, weeks, months, years or %)",
                unit.escape_debug()
            ),
        )
    })?;
    let factor = from.exact_factor(to).ok_or_else(|| {
        bad(
            name,
            format!(
                "fact `{name}` is in {}; {} do not convert exactly to it",
                to.name(),
                from.name()
            ),
        )
    })?;
    let value = amount
        .checked_mul(factor)
        .ok_or_else(|| bad(name, format!("fact `{name}`: the value is too large")))?;
    if value.is_negative() {
        return Err(bad(name, format!("fact `{name}` cannot be negative")));
    }
    if to == Unit::Percent && value > Num::from_int(100) {
        return Err(bad(
            name,
            format!("fact `{name}` is a percentage, at most 100%"),
        ));
    }
    Ok(value)
}

/// A code in normal form, checked for its system's format and, with tables, for being a
/// billable code of the artifact's release.
fn code(
    artifact: &Artifact,
    schema: &FactSchema,
    text: &str,
    tables: Option<&TableSet>,
) -> Result<String, FactError> {
    let name = schema.name.as_str();
    let Some(system) = schema.system.as_deref().and_then(System::parse) else {
        return Err(bad(name, format!("fact `{name}` has no code system")));
    };
    let code = match parse_code(system, text) {
        Ok(CodeForm::Exact(c)) => c,
        Ok(CodeForm::Prefix(_)) => {
            return Err(bad(
                name,
                format!(
                    "fact `{name}`: `{}` is a pattern; a patient has whole codes",
                    text.escape_debug()
                ),
            ));
        }
        Err(e) => {
            return Err(bad(
                name,
                format!(
                    "fact `{name}`: `{}` is not a valid {} code: {}",
                    text.escape_debug(),
                    system.display(),
                    e.reason
                ),
            ));
        }
    };
    // A code of one of the artifact's sets was expanded from the release: it is known.
    let in_a_set = artifact
        .document()
        .code_sets
        .iter()
        .zip(&artifact.sets)
        .any(|(s, codes)| s.system == system.name() && codes.binary_search(&code).is_ok());
    if in_a_set {
        return Ok(code);
    }
    let release = artifact
        .document()
        .tables
        .iter()
        .find(|t| t.system == system.name())
        .map(|t| t.release.as_str());
    let known = |code: &str| {
        artifact
            .known_codes
            .lock()
            .is_ok_and(|k| k.get(&system).is_some_and(|s| s.contains(code)))
    };
    if let (Some(tables), Some(release)) = (tables, release)
        && !known(&code)
        && let Some(table) = tables.get(release)
        && table.coverage() == "*"
    {
        match table.lookup(&code) {
            Some(e) if e.is_billable() => {
                if let Ok(mut k) = artifact.known_codes.lock() {
                    let seen = k.entry(system).or_default();
                    if seen.len() < super::KNOWN_CODES {
                        seen.insert(code.clone());
                    }
                }
            }
            Some(_) => {
                return Err(bad(
                    name,
                    format!(
                        "fact `{name}`: `{code}` is a heading in `{release}`, not a billable code"
                    ),
                ));
            }
            None => {
                return Err(bad(
                    name,
                    format!("fact `{name}`: `{code}` is not a code of `{release}`"),
                ));
            }
        }
    }
    Ok(code)
}
