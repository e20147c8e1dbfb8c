//! A patient's facts, set one by one or read from JSON (or YAML), and checked against an
//! artifact's input schema.
//!
//! The syntax (see `docs/artifact.md`): one object, fact name to value. `true`/`false` for a
//! bool; a number (or a string holding one) for `int` and `decimal`; a string with its unit
//! for a duration (`"8 weeks"`, `"42 days"`, `"1 week"`) or a percentage (`"28.5%"`), or an
//! object `{"value": 8, "unit": "weeks"}`; the value's name for an enum; a code for a code; a
//! list of codes for a set of codes. `null` or leaving a fact out means it is not known.
//!
//! JSON text is bound as it is read: each value goes straight to its fact's slot, without an
//! intermediate object, on a fast path for the shapes facts usually have; any other shape
//! takes the general path through a JSON value, which also words the errors.

use std::borrow::Cow;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Artifact, CodeStatus, FactSchema, FactType, Inner, Releases};
use crate::codes::{CodeForm, System, parse_code};
use crate::num::{Num, Unit};

/// What reading facts does with a key that is not a fact of the artifact (and not one of
/// [`Options::carry`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unknown {
    /// Refuse the facts, naming the key (and a fact it may be a misspelling of).
    #[default]
    Reject,
    /// Skip the key and its value.
    Ignore,
}

/// How facts are read.
#[derive(Clone, Default)]
pub struct Options {
    pub unknown: Unknown,
    /// Keys that are not facts but are carried, value and all, into [`Facts::carried`] (a
    /// claim id, say), so that a result can be matched to its input.
    pub carry: Vec<String>,
    /// Code tables to check codes against: each code must then also be a billable code of the
    /// release the artifact was built against, as far as that release can say (see
    /// [`Releases::status`]). Without them codes are checked for their format only.
    pub releases: Option<Arc<dyn Releases>>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("unknown", &self.unknown)
            .field("carry", &self.carry)
            .field("releases", &self.releases.is_some())
            .finish()
    }
}

/// A patient's facts bound to one artifact's schema: one slot per fact of the artifact. One
/// value can be read into again and again (each read starts from no facts known) without
/// allocating anew.
#[derive(Debug, Clone)]
pub struct Facts {
    pub(crate) inner: Arc<Inner>,
    options: Options,
    pub(crate) slots: Vec<Slot>,
    /// For each class of codes the artifact's `has` tests name: how many of the patient's codes
    /// lie in it.
    class_counts: Vec<u32>,
    /// The values of the keys of [`Options::carry`], in its order.
    carried: Vec<Option<Value>>,
    /// Code indices of the set of codes being bound, reused from one fact to the next.
    scratch: Vec<u32>,
    /// Codes in no set of the artifact that these facts have already accepted (format and,
    /// with releases, the release), by system: a batch meets the same codes again and again,
    /// and checking one allocates.
    accepted: [rustc_hash::FxHashSet<Box<str>>; 4],
    /// The fact at each position of the last object read: lines of a batch list their facts
    /// in one order, so the name at a position is first compared with the fact seen there.
    order: Vec<u32>,
}

/// At most this many accepted codes are remembered per system.
const ACCEPTED: usize = 10_000;

/// What binding needs to know of a fact, prepared once per artifact.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FactKind {
    pub(crate) ty: FactType,
    /// For a duration or percentage: the unit it is kept in.
    pub(crate) unit: Unit,
    /// For a code or set of codes: its system.
    pub(crate) system: Option<System>,
}

impl FactKind {
    pub(crate) fn of(schema: &FactSchema) -> FactKind {
        FactKind {
            ty: schema.ty,
            unit: quantity_unit(schema).unwrap_or(Unit::Day),
            system: schema.system.as_deref().and_then(System::parse),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Slot {
    Missing,
    Bool(bool),
    /// In the fact's own unit.
    Num(Num),
    Enum(u32),
    /// The code's index among the codes of the artifact's sets (none when it is in no set).
    Code(Option<u32>),
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

impl PartialEq for Facts {
    fn eq(&self, other: &Facts) -> bool {
        self.inner.id == other.inner.id
            && self.slots == other.slots
            && self.class_counts == other.class_counts
            && self.carried == other.carried
    }
}

impl Facts {
    /// No fact known, read with the default [`Options`].
    pub fn new(artifact: &Artifact) -> Facts {
        Facts::with_options(artifact, Options::default())
    }

    /// No fact known, read with these options.
    pub fn with_options(artifact: &Artifact, options: Options) -> Facts {
        let inner = Arc::clone(&artifact.inner);
        Facts {
            slots: vec![Slot::Missing; inner.doc.facts.len()],
            class_counts: vec![0; inner.classes.len()],
            carried: vec![None; options.carry.len()],
            scratch: Vec::new(),
            accepted: Default::default(),
            order: Vec::new(),
            options,
            inner,
        }
    }

    /// Reads facts from JSON text with the default options (codes are checked for their
    /// format only).
    pub fn from_json(artifact: &Artifact, text: &str) -> Result<Facts, FactError> {
        let mut facts = Facts::new(artifact);
        facts.read_json(text)?;
        Ok(facts)
    }

    /// Reads facts from a JSON value with the default options.
    pub fn from_value(artifact: &Artifact, value: &Value) -> Result<Facts, FactError> {
        let mut facts = Facts::new(artifact);
        facts.read_value(value)?;
        Ok(facts)
    }

    /// Forgets every fact (and carried value), keeping the memory for the next patient.
    pub fn clear(&mut self) {
        self.slots.fill(Slot::Missing);
        self.class_counts.fill(0);
        self.carried.fill(None);
    }

    /// The values of the carried keys that the last read found, as `(key, value)`.
    pub fn carried(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.options
            .carry
            .iter()
            .zip(&self.carried)
            .filter_map(|(k, v)| Some((k.as_str(), v.as_ref()?)))
    }

    /// Reads the facts of one patient from JSON text: one object of fact names and values.
    /// Each fact is bound as it is read, in the order written. On an error no fact is known.
    pub fn read_json(&mut self, text: &str) -> Result<(), FactError> {
        self.clear();
        let mut error = None;
        let mut de = serde_json::Deserializer::from_str(text);
        let read = de
            .deserialize_map(Reader {
                facts: self,
                error: &mut error,
            })
            .and_then(|()| de.end());
        let result = match (read, error) {
            (_, Some(e)) => Err(e),
            (Ok(()), None) => Ok(()),
            (Err(e), None) if e.classify() == serde_json::error::Category::Data => {
                Err(not_an_object())
            }
            (Err(e), None) => Err(FactError {
                fact: None,
                message: format!("the facts are not valid JSON: {e}"),
            }),
        };
        if result.is_err() {
            self.clear();
        }
        result
    }

    /// Reads the facts of one patient from a JSON value (an object of facts), as
    /// [`Facts::read_json`] reads text.
    pub fn read_value(&mut self, value: &Value) -> Result<(), FactError> {
        self.clear();
        let Value::Object(map) = value else {
            return Err(not_an_object());
        };
        let result = map
            .iter()
            .try_for_each(|(name, v)| self.bind_named(name, v));
        if result.is_err() {
            self.clear();
        }
        result
    }

    /// Reads the facts of one patient from YAML text, as [`Facts::read_json`] reads JSON.
    #[cfg(feature = "yaml")]
    pub fn read_yaml(&mut self, text: &str) -> Result<(), FactError> {
        let value: Value = serde_saphyr::from_str(text).map_err(|e| FactError {
            fact: None,
            message: format!("the facts are not valid YAML: {e}"),
        })?;
        self.read_value(&value)
    }

    /// Sets a `bool` fact.
    pub fn set_bool(&mut self, name: &str, value: bool) -> Result<(), FactError> {
        self.bind_named(name, &Value::Bool(value))
    }

    /// Sets an `int` or `decimal` fact.
    pub fn set_number(&mut self, name: &str, value: impl Into<Num>) -> Result<(), FactError> {
        let (index, schema) = self.schema(name)?;
        let n = value.into();
        match schema.ty {
            FactType::Int if !n.is_integer() => Err(bad(
                name,
                format!("fact `{name}` is a whole number, not `{n}`"),
            )),
            FactType::Int | FactType::Decimal => {
                self.put(index, Slot::Num(n));
                Ok(())
            }
            _ => Err(self.wrong_kind(&schema, "a number")),
        }
    }

    /// Sets a duration or percentage fact: an amount in a unit, converted exactly into the
    /// fact's own unit (weeks to days, years to months; months to days do not convert).
    pub fn set_quantity(
        &mut self,
        name: &str,
        amount: impl Into<Num>,
        unit: Unit,
    ) -> Result<(), FactError> {
        let (index, schema) = self.schema(name)?;
        let to = match quantity_unit(&schema) {
            Some(u) => u,
            None => return Err(self.wrong_kind(&schema, "an amount with a unit")),
        };
        let value = convert(name, amount.into(), unit, to)?;
        self.put(index, Slot::Num(value));
        Ok(())
    }

    /// Sets an enum fact to one of its values.
    pub fn set_enum(&mut self, name: &str, value: &str) -> Result<(), FactError> {
        self.bind_named(name, &Value::String(value.to_string()))
    }

    /// Sets a code fact (the code in any accepted spelling: `m80.08xa` is `M80.08XA`).
    pub fn set_code(&mut self, name: &str, code: &str) -> Result<(), FactError> {
        let (index, schema) = self.schema(name)?;
        if schema.ty != FactType::Code {
            return Err(self.wrong_kind(&schema, "one code"));
        }
        let code = self.code(index, code)?;
        self.put(index, Slot::Code(code));
        Ok(())
    }

    /// Sets a set-of-codes fact.
    pub fn set_codes<'c>(
        &mut self,
        name: &str,
        codes: impl IntoIterator<Item = &'c str>,
    ) -> Result<(), FactError> {
        let (index, schema) = self.schema(name)?;
        if schema.ty != FactType::Codes {
            return Err(self.wrong_kind(&schema, "a list of codes"));
        }
        self.scratch.clear();
        for text in codes {
            if let Some(c) = self.code(index, text)? {
                self.scratch.push(c);
            }
        }
        self.count_classes(index);
        Ok(())
    }

    /// Makes a fact unknown again.
    pub fn unset(&mut self, name: &str) -> Result<(), FactError> {
        let (index, _) = self.schema(name)?;
        self.put(index, Slot::Missing);
        Ok(())
    }

    /// Whether a fact is known.
    pub fn is_known(&self, name: &str) -> bool {
        self.inner
            .fact_index(name)
            .and_then(|i| self.slots.get(i as usize))
            .is_some_and(|s| *s != Slot::Missing)
    }

    /// The index of the fact named at a position of the object being read, trying the fact
    /// seen at that position last time before looking the name up.
    fn index_at(&mut self, position: usize, name: &str) -> Option<u32> {
        if let Some(&last) = self.order.get(position)
            && self
                .inner
                .doc
                .facts
                .get(last as usize)
                .is_some_and(|f| f.name == name)
        {
            return Some(last);
        }
        let index = self.inner.fact_index(name)?;
        if let Some(slot) = self.order.get_mut(position) {
            *slot = index;
        } else if self.order.len() == position && position < self.slots.len() {
            self.order.push(index);
        }
        Some(index)
    }

    /// A fact's name by index.
    fn name(&self, index: u32) -> &str {
        self.inner
            .doc
            .facts
            .get(index as usize)
            .map_or("", |f| f.name.as_str())
    }

    pub(crate) fn class_count(&self, class: u32) -> u32 {
        self.class_counts.get(class as usize).copied().unwrap_or(0)
    }

    /// A fact's index and schema, or the error for a name the artifact does not have.
    fn schema(&self, name: &str) -> Result<(u32, FactSchema), FactError> {
        match self.inner.fact_index(name) {
            Some(i) => match self.inner.doc.facts.get(i as usize) {
                Some(s) => Ok((i, s.clone())),
                None => Err(self.unknown_fact(name)),
            },
            None => Err(self.unknown_fact(name)),
        }
    }

    fn unknown_fact(&self, name: &str) -> FactError {
        let hint = self
            .inner
            .doc
            .facts
            .iter()
            .map(|f| (strsim::levenshtein(&f.name, name), f.name.as_str()))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, s)| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        bad(
            name,
            format!(
                "unknown fact `{}`: policy `{}` has no such fact{hint}",
                shorten(&name.escape_debug().to_string()),
                self.inner.doc.policy.id
            ),
        )
    }

    fn wrong_kind(&self, schema: &FactSchema, given: &str) -> FactError {
        let name = schema.name.as_str();
        let kind = match schema.ty {
            FactType::Bool => "`true` or `false`",
            FactType::Int => "a whole number",
            FactType::Decimal => "a number",
            FactType::Duration => "a duration",
            FactType::Percent => "a percentage",
            FactType::Enum => "one of its values",
            FactType::Code => "one code",
            FactType::Codes => "a list of codes",
        };
        bad(name, format!("fact `{name}` is {kind}, not {given}"))
    }

    /// Puts a value in a fact's slot; a set of codes is put by [`Facts::count_classes`].
    fn put(&mut self, index: u32, slot: Slot) {
        if let Some(s) = self.slots.get_mut(index as usize) {
            *s = slot;
        }
    }

    /// Binds a set-of-codes fact to the code indices in `scratch`: counts, for each class of
    /// the fact, how many distinct codes lie in it.
    fn count_classes(&mut self, index: u32) {
        self.scratch.sort_unstable();
        self.scratch.dedup();
        let inner = &self.inner;
        for (class, count) in inner.classes.iter().zip(&mut self.class_counts) {
            if class.fact == index {
                *count = 0;
            }
        }
        for &code in &self.scratch {
            for &class in inner.codes.classes(code) {
                if inner.classes.get(class as usize).map(|c| c.fact) == Some(index)
                    && let Some(count) = self.class_counts.get_mut(class as usize)
                {
                    *count += 1;
                }
            }
        }
        self.put(index, Slot::Codes);
    }

    /// A key of the facts with its value as JSON: a fact, a carried key, or an unknown key.
    fn bind_named(&mut self, name: &str, v: &Value) -> Result<(), FactError> {
        let Some(index) = self.inner.fact_index(name) else {
            return self.other_key(name, || Some(v.clone()));
        };
        self.bind_value_at(index, v)
    }

    /// The general path for the fact at `index`.
    fn bind_value_at(&mut self, index: u32, v: &Value) -> Result<(), FactError> {
        // The schema is shared with the artifact; a handle of its own lets the slots change.
        let inner = Arc::clone(&self.inner);
        match inner.doc.facts.get(index as usize) {
            Some(schema) => self.bind_value(index, schema, v),
            None => Ok(()),
        }
    }

    /// A key that is not a fact: carried, ignored or refused, as the options say.
    fn other_key(
        &mut self,
        name: &str,
        value: impl FnOnce() -> Option<Value>,
    ) -> Result<(), FactError> {
        if let Some(i) = self.options.carry.iter().position(|k| k == name) {
            if let Some(slot) = self.carried.get_mut(i) {
                *slot = value();
            }
            return Ok(());
        }
        match self.options.unknown {
            Unknown::Ignore => Ok(()),
            Unknown::Reject => Err(self.unknown_fact(name)),
        }
    }

    /// The general path: a fact's value as a JSON value.
    fn bind_value(&mut self, index: u32, schema: &FactSchema, v: &Value) -> Result<(), FactError> {
        let name = schema.name.as_str();
        if v.is_null() {
            self.put(index, Slot::Missing);
            return Ok(());
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
        let slot = match schema.ty {
            FactType::Bool => v
                .as_bool()
                .map(Slot::Bool)
                .ok_or_else(|| wrong("`true` or `false`"))?,
            FactType::Int | FactType::Decimal => {
                let n = plain_number(v).ok_or_else(|| wrong("a number"))?;
                if schema.ty == FactType::Int && !n.is_integer() {
                    return Err(wrong("a whole number"));
                }
                Slot::Num(n)
            }
            FactType::Duration | FactType::Percent => {
                let to = quantity_unit(schema).unwrap_or(Unit::Day);
                Slot::Num(quantity(name, v, to)?)
            }
            FactType::Enum => {
                let text = v.as_str().ok_or_else(|| wrong("one of its values"))?;
                Slot::Enum(enum_value(schema, text)?)
            }
            FactType::Code => {
                let text = v.as_str().ok_or_else(|| wrong("one code"))?;
                Slot::Code(self.code(index, text)?)
            }
            FactType::Codes => {
                let items = v.as_array().ok_or_else(|| wrong("a list of codes"))?;
                self.scratch.clear();
                for (position, item) in items.iter().enumerate() {
                    let text = item
                        .as_str()
                        .ok_or_else(|| not_a_code(name, position + 1, item))?;
                    if let Some(c) = self.code(index, text)? {
                        self.scratch.push(c);
                    }
                }
                self.count_classes(index);
                return Ok(());
            }
        };
        self.put(index, slot);
        Ok(())
    }

    /// A code checked for its system's format and, with releases, for being a billable code
    /// of the artifact's release: its index among the codes of the artifact's sets, if it is
    /// in one.
    fn code(&mut self, index: u32, text: &str) -> Result<Option<u32>, FactError> {
        let name = self.name(index);
        let Some(system) = self.inner.kinds.get(index as usize).and_then(|k| k.system) else {
            return Err(bad(name, format!("fact `{name}` has no code system")));
        };
        // The codes of the sets are in normal form (checked when the artifact was loaded):
        // a code written that way needs no other check; nor does one accepted before.
        if let Some(i) = self.inner.codes.get(system, text) {
            return Ok(Some(i));
        }
        let slot = System::ALL.iter().position(|s| *s == system).unwrap_or(0);
        if self.accepted.get(slot).is_some_and(|a| a.contains(text)) {
            return Ok(None);
        }
        let code = match parse_code(system, text) {
            Ok(CodeForm::Exact(c)) => c,
            Ok(CodeForm::Prefix(_)) => {
                return Err(bad(
                    name,
                    format!(
                        "fact `{name}`: `{}` is a pattern; a patient has whole codes",
                        shorten(&text.escape_debug().to_string())
                    ),
                ));
            }
            Err(e) => {
                return Err(bad(
                    name,
                    format!(
                        "fact `{name}`: `{}` is not a valid {} code: {}",
                        shorten(&text.escape_debug().to_string()),
                        system.display(),
                        e.reason
                    ),
                ));
            }
        };
        if let Some(i) = self.inner.codes.get(system, &code) {
            return Ok(Some(i));
        }
        self.check_release(name, system, &code)?;
        if let Some(accepted) = self.accepted.get_mut(slot)
            && accepted.len() < ACCEPTED
        {
            // As written: the same spelling is accepted at once next time.
            accepted.insert(text.into());
        }
        Ok(None)
    }

    /// Checks a code of no set against the release the artifact was built against, when the
    /// options give releases and that one is at hand.
    fn check_release(&self, name: &str, system: System, code: &str) -> Result<(), FactError> {
        let Some(releases) = &self.options.releases else {
            return Ok(());
        };
        let Some(release) = self
            .inner
            .doc
            .tables
            .iter()
            .find(|t| t.system == system.name())
            .map(|t| t.release.as_str())
        else {
            return Ok(());
        };
        let known = self
            .inner
            .known_codes
            .read()
            .is_ok_and(|k| k.get(&system).is_some_and(|s| s.contains(code)));
        if known {
            return Ok(());
        }
        match releases.status(system, release, code) {
            None => Ok(()),
            Some(CodeStatus::Billable) => {
                if let Ok(mut k) = self.inner.known_codes.write() {
                    let seen = k.entry(system).or_default();
                    if seen.len() < super::KNOWN_CODES {
                        seen.insert(code.to_string());
                    }
                }
                Ok(())
            }
            Some(CodeStatus::Heading) => Err(bad(
                name,
                format!("fact `{name}`: `{code}` is a heading in `{release}`, not a billable code"),
            )),
            Some(CodeStatus::Absent) => Err(bad(
                name,
                format!("fact `{name}`: `{code}` is not a code of `{release}`"),
            )),
        }
    }
}

/// An item of a list of codes that is not a string.
fn not_a_code(name: &str, position: usize, item: &Value) -> FactError {
    bad(
        name,
        format!(
            "fact `{name}` is a list of codes; its item {position} is `{}`, not a code",
            shorten(&item.to_string())
        ),
    )
}

fn not_an_object() -> FactError {
    FactError {
        fact: None,
        message: "the facts must be an object of fact names and values".to_string(),
    }
}

/// The unit a duration or percentage fact is kept in.
fn quantity_unit(schema: &FactSchema) -> Option<Unit> {
    match schema.ty {
        FactType::Percent => Some(Unit::Percent),
        FactType::Duration => Some(
            schema
                .unit
                .as_deref()
                .and_then(Unit::parse)
                .unwrap_or(Unit::Day),
        ),
        _ => None,
    }
}

fn enum_value(schema: &FactSchema, text: &str) -> Result<u32, FactError> {
    let name = schema.name.as_str();
    match schema.values.iter().position(|x| x == text) {
        Some(i) => Ok(i as u32),
        None => Err(bad(
            name,
            format!(
                "`{}` is not a value of fact `{name}`; its values are {}",
                shorten(&text.escape_debug().to_string()),
                schema.values.join(", ")
            ),
        )),
    }
}

/// Reads a JSON object of facts and binds each value as it comes; a fact that does not fit
/// stops the read with its error kept aside.
struct Reader<'a> {
    facts: &'a mut Facts,
    error: &'a mut Option<FactError>,
}

impl<'de> Visitor<'de> for Reader<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of fact names and values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let facts = self.facts;
        let mut position = 0;
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            let index = facts.index_at(position, &name);
            position += 1;
            let outcome = match index {
                Some(index) => match facts.inner.kinds.get(index as usize).copied() {
                    Some(kind) => map.next_value_seed(FactSeed { facts, index, kind })?,
                    None => {
                        map.next_value::<IgnoredAny>()?;
                        Ok(())
                    }
                },
                None if facts.options.carry.iter().any(|k| *k == *name) => {
                    let value: Value = map.next_value()?;
                    facts.other_key(&name, || Some(value))
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                    facts.other_key(&name, || None)
                }
            };
            if let Err(e) = outcome {
                *self.error = Some(e);
                return Err(serde::de::Error::custom("a fact does not fit the schema"));
            }
        }
        Ok(())
    }
}

/// A fact name, borrowed from the text when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor).map(Name)
    }
}

/// A string, borrowed from the text when it has no escapes.
struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }
}

/// Binds one fact's value as it is read. Its result is the fact's own error, if any; the
/// deserializer's errors (bad JSON) come out as such.
struct FactSeed<'a> {
    facts: &'a mut Facts,
    index: u32,
    kind: FactKind,
}

impl<'de> DeserializeSeed<'de> for FactSeed<'_> {
    type Value = Result<(), FactError>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl FactSeed<'_> {
    /// The general path, for a value of a shape the fast path does not take.
    fn general(self, v: &Value) -> Result<(), FactError> {
        self.facts.bind_value_at(self.index, v)
    }

    fn text(self, s: &str) -> Result<(), FactError> {
        let facts = &mut *self.facts;
        let slot = match self.kind.ty {
            FactType::Duration | FactType::Percent => {
                Slot::Num(quantity_text(facts.name(self.index), s, self.kind.unit)?)
            }
            FactType::Enum => match facts.inner.doc.facts.get(self.index as usize) {
                Some(schema) => Slot::Enum(enum_value(schema, s)?),
                None => Slot::Missing,
            },
            FactType::Code => Slot::Code(facts.code(self.index, s)?),
            _ => return self.general(&Value::String(s.to_string())),
        };
        self.facts.put(self.index, slot);
        Ok(())
    }
}

impl<'de> Visitor<'de> for FactSeed<'_> {
    type Value = Result<(), FactError>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a fact's value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(if self.kind.ty == FactType::Bool {
            self.facts.put(self.index, Slot::Bool(b));
            Ok(())
        } else {
            self.general(&Value::Bool(b))
        })
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(match self.kind.ty {
            FactType::Int | FactType::Decimal => {
                self.facts
                    .put(self.index, Slot::Num(Num::from_int(i128::from(n))));
                Ok(())
            }
            _ => self.general(&Value::from(n)),
        })
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(match self.kind.ty {
            FactType::Int | FactType::Decimal => {
                self.facts
                    .put(self.index, Slot::Num(Num::from_int(i128::from(n))));
                Ok(())
            }
            _ => self.general(&Value::from(n)),
        })
    }

    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        Ok(self.general(&Value::from(n)))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(self.text(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self.text(s))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        self.facts.put(self.index, Slot::Missing);
        Ok(Ok(()))
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        self.facts.put(self.index, Slot::Missing);
        Ok(Ok(()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if self.kind.ty != FactType::Codes {
            let v = Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
            return Ok(self.general(&v));
        }
        self.facts.scratch.clear();
        // The first fault stops the binding; the rest of the list is still read, so that the
        // JSON after it is checked as JSON.
        let mut fault = None;
        let mut position = 0;
        while let Some(item) = seq.next_element::<Item<'de>>()? {
            position += 1;
            if fault.is_some() {
                continue;
            }
            match item {
                Item::Text(t) => match self.facts.code(self.index, &t) {
                    Ok(Some(c)) => self.facts.scratch.push(c),
                    Ok(None) => {}
                    Err(e) => fault = Some(e),
                },
                Item::Other(v) => {
                    fault = Some(not_a_code(self.facts.name(self.index), position, &v));
                }
            }
        }
        if let Some(e) = fault {
            return Ok(Err(e));
        }
        self.facts.count_classes(self.index);
        Ok(Ok(()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(self.general(&v))
    }
}

use serde::Deserialize;

/// An item of a list of codes: a string, or anything else (kept for the message).
enum Item<'de> {
    Text(Cow<'de, str>),
    Other(Value),
}

impl<'de> Deserialize<'de> for Item<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Item<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a code")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Item<'de>, E> {
                Ok(Item::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Item<'de>, E> {
                Ok(Item::Text(Cow::Owned(s.to_string())))
            }
            fn visit_bool<E>(self, b: bool) -> Result<Item<'de>, E> {
                Ok(Item::Other(Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Item<'de>, E> {
                Ok(Item::Other(Value::from(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Item<'de>, E> {
                Ok(Item::Other(Value::from(n)))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Item<'de>, E> {
                Ok(Item::Other(Value::from(n)))
            }
            fn visit_unit<E>(self) -> Result<Item<'de>, E> {
                Ok(Item::Other(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item<'de>, A::Error> {
                Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(Item::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Item<'de>, A::Error> {
                Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Item::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// At most 40 characters of a value for a message, so a long input is never echoed whole.
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

fn example(to: Unit) -> String {
    if to == Unit::Percent {
        "`\"28.5%\"`".to_string()
    } else {
        format!("`\"6 {}\"`", to.name())
    }
}

/// A duration or percentage with its unit, converted exactly into the fact's unit.
fn quantity(name: &str, v: &Value, to: Unit) -> Result<Num, FactError> {
    match v {
        Value::String(s) => quantity_text(name, s, to),
        Value::Object(o) => {
            let amount = o.get("value").and_then(plain_number).map(|n| n.to_string());
            let unit = o.get("unit").and_then(Value::as_str).unwrap_or("");
            match amount {
                Some(a) => quantity_parts(name, &a, unit, to),
                None => Err(bad(
                    name,
                    format!(
                        "fact `{name}` needs a number in `value`, such as `{{\"value\": 6, \"unit\": \"{}\"}}`",
                        to.name()
                    ),
                )),
            }
        }
        Value::Number(n) => quantity_parts(name, &n.to_string(), "", to),
        _ => Err(bad(
            name,
            format!(
                "fact `{name}` is a quantity with its unit, such as {}",
                example(to)
            ),
        )),
    }
}

/// A quantity written as text: `8 weeks`, `28.5%`.
fn quantity_text(name: &str, s: &str, to: Unit) -> Result<Num, FactError> {
    // The usual form, `8 weeks`: ASCII with one space and nothing to trim, split by bytes.
    if s.is_ascii()
        && let Some((amount, unit)) = crate::num::split_at_byte(s, b' ')
        && !amount.is_empty()
        && !unit.is_empty()
        && !amount.bytes().any(|b| b.is_ascii_whitespace())
        && !unit.bytes().any(|b| b.is_ascii_whitespace() || b == b'%')
    {
        return quantity_parts(name, amount, unit, to);
    }
    let s = s.trim();
    let (amount, unit) = if let Some(a) = s.strip_suffix('%') {
        (a.trim(), "%")
    } else {
        match s.split_once(char::is_whitespace) {
            Some((a, u)) => (a, u.trim()),
            None => (s, ""),
        }
    };
    quantity_parts(name, amount, unit, to)
}

fn quantity_parts(name: &str, amount: &str, unit: &str, to: Unit) -> Result<Num, FactError> {
    if unit.is_empty() {
        return Err(bad(
            name,
            format!(
                "fact `{name}` needs a unit: write {}, not `{}`",
                example(to),
                shorten(&amount.escape_debug().to_string())
            ),
        ));
    }
    let amount = crate::parse_num(amount).ok_or_else(|| {
        bad(
            name,
            format!(
                "fact `{name}`: `{}` is not a number",
                shorten(&amount.escape_debug().to_string())
            ),
        )
    })?;
    let from = Unit::parse(unit).ok_or_else(|| {
        bad(
            name,
            format!(
                "fact `{name}`: `{}` is not a unit (days, weeks, months, years or %)",
                shorten(&unit.escape_debug().to_string())
            ),
        )
    })?;
    convert(name, amount, from, to)
}

/// An amount converted exactly from one unit to the fact's, and checked for its range.
fn convert(name: &str, amount: Num, from: Unit, to: Unit) -> Result<Num, FactError> {
    let value = if from == to {
        // Most amounts come in the fact's own unit: no exact arithmetic to do.
        amount
    } else {
        scale(name, amount, from, to)?
    };
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

/// An amount in one unit in another of the same family.
fn scale(name: &str, amount: Num, from: Unit, to: Unit) -> Result<Num, FactError> {
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
    amount
        .checked_mul(factor)
        .ok_or_else(|| bad(name, format!("fact `{name}`: the value is too large")))
}
