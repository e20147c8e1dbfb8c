//! A patient's facts, set one by one or read from JSON (or YAML), and checked against an
//! artifact's input schema.
//!
//! The syntax (see `docs/artifact.md`): one object, fact name to value. `true`/`false` for a
//! bool; a number (or a string holding one) for `int` and `decimal`; a string with its unit
//! for a duration (`"8 weeks"`, `"42 days"`, `"1 week"`), a percentage (`"28.5%"`) or a
//! measurement (`"35 kg/m2"`, `"154 [lb_av]"`, by its UCUM code), or an object
//! `{"value": 8, "unit": "weeks"}`; the value's name for an enum; a code for a code; a
//! list of codes for a set of codes; `"2009-02-12"` for a date. `null` or leaving a fact out
//! means it is not known.
//!
//! JSON text is bound as it is read: each value goes straight to its fact's slot, without an
//! intermediate object, on a fast path for the shapes facts usually have; any other shape
//! takes the general path through a JSON value, which also words the errors.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use super::{Artifact, CodeStatus, FactSchema, FactType, Inner, Releases};
use crate::codes::{CodeForm, System, parse_code};
use crate::date::Date;
use crate::json;
use crate::num::{MAX_DIGITS, Num, NumError, Unit};

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
    /// A derived value the facts leave without a value, and why (see [`Facts::settled`]).
    undefined: Option<(u32, crate::formula::FormulaError)>,
    /// Codes in no set of the artifact that these facts have already accepted (format and,
    /// with releases, the release), by system: a batch meets the same codes again and again,
    /// and checking one allocates.
    accepted: [rustc_hash::FxHashSet<Box<str>>; 4],
    /// The fact at each position of the last object read: lines of a batch list their facts
    /// in one order, so the name at a position is first compared with the fact seen there.
    order: Vec<u32>,
    /// For each fact, the read that last gave it (a stamp) and where its key was: a fact
    /// given twice in one object is an error, found without clearing anything per read.
    seen: Vec<(u32, usize)>,
    stamp: u32,
    /// The keys that are not facts given in this read, with their places.
    others: Vec<(Box<str>, usize)>,
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
    /// For a number with a declared range: its ends, both included.
    pub(crate) range: Option<(Num, Num)>,
}

impl FactKind {
    pub(crate) fn of(schema: &FactSchema) -> FactKind {
        FactKind {
            ty: schema.ty,
            unit: quantity_unit(schema).unwrap_or(Unit::Day),
            system: schema.system.as_deref().and_then(System::parse),
            range: schema.range.as_ref().and_then(super::Range::bounds),
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
    /// A list: each item's fields, in the order of its record's fields.
    List(Vec<Vec<Slot>>),
}

/// Facts that do not fit the schema: nothing is evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactError {
    /// What is wrong, for programs: stable across releases, unlike the message.
    pub kind: FactErrorKind,
    /// The fact at fault (none for input that is not an object at all).
    pub fact: Option<String>,
    pub message: String,
}

/// What makes facts bad, as `tests/conformance/README.md` names the kinds: the same in every
/// implementation of the format, where messages are each implementation's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactErrorKind {
    /// Not JSON (or YAML), or not UTF-8.
    Syntax,
    /// Not an object of fact names and values.
    NotObject,
    /// A key given twice.
    DuplicateKey,
    /// A key that is not a fact of the policy.
    UnknownFact,
    /// A value of the wrong kind for its fact.
    WrongType,
    /// A duration or measurement without its unit.
    MissingUnit,
    /// A unit the unit table does not have.
    UnknownUnit,
    /// A unit of another dimension, or one that does not convert exactly.
    WrongUnit,
    /// Outside the declared range, negative, a percentage over 100, or too large to hold.
    OutOfRange,
    /// A date not written `YYYY-MM-DD` or not on the calendar.
    BadDate,
    /// A value an enum fact does not have.
    UnknownValue,
    /// A code malformed for its system, or a pattern.
    BadCode,
    /// A code the artifact's table release says is not billable (needs the release).
    NotBillable,
    /// A key of a list's item that is not a field of its record.
    UnknownField,
    /// A derived value's formula divides by zero or overflows for these facts.
    Derived,
    /// Input past its size limit.
    TooLarge,
}

impl FactErrorKind {
    /// The kind's stable name: `wrong_unit`.
    pub fn as_str(self) -> &'static str {
        match self {
            FactErrorKind::Syntax => "syntax",
            FactErrorKind::NotObject => "not_object",
            FactErrorKind::DuplicateKey => "duplicate_key",
            FactErrorKind::UnknownFact => "unknown_fact",
            FactErrorKind::WrongType => "wrong_type",
            FactErrorKind::MissingUnit => "missing_unit",
            FactErrorKind::UnknownUnit => "unknown_unit",
            FactErrorKind::WrongUnit => "wrong_unit",
            FactErrorKind::OutOfRange => "out_of_range",
            FactErrorKind::BadDate => "bad_date",
            FactErrorKind::UnknownValue => "unknown_value",
            FactErrorKind::BadCode => "bad_code",
            FactErrorKind::NotBillable => "not_billable",
            FactErrorKind::UnknownField => "unknown_field",
            FactErrorKind::Derived => "derived",
            FactErrorKind::TooLarge => "too_large",
        }
    }
}

use FactErrorKind as Kind;

impl std::fmt::Display for FactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FactError {}

fn bad(kind: Kind, fact: &str, message: String) -> FactError {
    FactError {
        kind,
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
            undefined: None,
            accepted: Default::default(),
            order: Vec::new(),
            seen: vec![(0, 0); inner.doc.facts.len()],
            stamp: 0,
            others: Vec::new(),
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
        self.undefined = None;
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
        let result = read_object(self, text).and_then(|()| self.settled());
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
            .try_for_each(|(name, v)| self.bind_named(name, v))
            .and_then(|()| self.settled());
        if result.is_err() {
            self.clear();
        }
        result
    }

    /// Reads the facts of one patient from YAML text, as [`Facts::read_json`] reads JSON.
    #[cfg(feature = "yaml")]
    pub fn read_yaml(&mut self, text: &str) -> Result<(), FactError> {
        let value: Value = serde_saphyr::from_str(text).map_err(|e| {
            let place = e
                .location()
                .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            FactError {
                kind: Kind::Syntax,
                fact: None,
                message: format!("the facts are not valid YAML: {}{place}", yaml_message(&e)),
            }
        })?;
        self.read_value(&value)
    }

    /// Sets a `bool` fact. Each setter computes the derived values again, and reports one the
    /// facts now leave without a value (see [`Facts::settled`]).
    pub fn set_bool(&mut self, name: &str, value: bool) -> Result<(), FactError> {
        self.bind_named(name, &Value::Bool(value))?;
        self.settled()
    }

    /// Sets an `int` or `decimal` fact.
    pub fn set_number(&mut self, name: &str, value: impl Into<Num>) -> Result<(), FactError> {
        let (index, schema) = self.schema(name)?;
        let n = value.into();
        match schema.ty {
            FactType::Int if !n.is_integer() => Err(bad(
                Kind::WrongType,
                name,
                format!("fact `{name}` is a whole number, not `{n}`"),
            )),
            FactType::Int | FactType::Decimal => {
                let n = self.within(index, n)?;
                self.put(index, Slot::Num(n));
                self.settled()
            }
            _ => Err(self.wrong_kind(&schema, "a number")),
        }
    }

    /// Sets a duration, percentage or measurement fact: an amount in a unit, converted exactly
    /// into the fact's own unit (weeks to days, years to months, `[lb_av]` to `kg`; months to
    /// days, and units of different dimensions, do not convert).
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
        let value = self.within(index, value)?;
        self.put(index, Slot::Num(value));
        self.settled()
    }

    /// Sets a date fact.
    pub fn set_date(&mut self, name: &str, date: Date) -> Result<(), FactError> {
        let (index, schema) = self.schema(name)?;
        if schema.ty != FactType::Date {
            return Err(self.wrong_kind(&schema, "a date"));
        }
        self.put(index, Slot::Num(date.num()));
        self.settled()
    }

    /// Sets an enum fact to one of its values.
    pub fn set_enum(&mut self, name: &str, value: &str) -> Result<(), FactError> {
        self.bind_named(name, &Value::String(value.to_string()))?;
        self.settled()
    }

    /// Sets a code fact (the code in any accepted spelling: `m80.08xa` is `M80.08XA`).
    pub fn set_code(&mut self, name: &str, code: &str) -> Result<(), FactError> {
        let (index, schema) = self.schema(name)?;
        if schema.ty != FactType::Code {
            return Err(self.wrong_kind(&schema, "one code"));
        }
        let code = self.code(index, code)?;
        self.put(index, Slot::Code(code));
        self.settled()
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
        self.settled()
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
                .is_some_and(|f| json::same(f.name.as_bytes(), name.as_bytes()))
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
            Kind::UnknownFact,
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
            FactType::Quantity => "a measurement with its unit",
            FactType::Enum => "one of its values",
            FactType::Code => "one code",
            FactType::Codes => "a list of codes",
            FactType::List => "a list of items",
            FactType::Date => "a date",
        };
        bad(
            Kind::WrongType,
            name,
            format!("fact `{name}` is {kind}, not {given}"),
        )
    }

    /// Puts a value in a fact's slot; a set of codes is put by [`Facts::count_classes`].
    fn put(&mut self, index: u32, slot: Slot) {
        if let Some(s) = self.slots.get_mut(index as usize) {
            *s = slot;
        }
        if !self.inner.derived.is_empty() {
            self.derive();
        }
    }

    /// Computes the derived values from the facts set (in schema order, so one that reads
    /// another sees it computed): a missing input leaves it missing, and a formula without a
    /// value (a zero divisor) leaves it missing and is remembered for [`Facts::settled`].
    fn derive(&mut self) {
        let inner = Arc::clone(&self.inner);
        self.undefined = None;
        for (index, formula) in &inner.derived {
            let slots = &self.slots;
            let number = |f: &u32| match slots.get(*f as usize) {
                Some(Slot::Num(n)) => Some(*n),
                _ => None,
            };
            let slot = match formula.value(&number) {
                Ok(Some(n)) => Slot::Num(n),
                Ok(None) => Slot::Missing,
                // A derived value no decision reads holds nothing up.
                Err(e) => {
                    if inner.doc.facts.get(*index as usize).is_some_and(|f| f.read) {
                        self.undefined.get_or_insert((*index, e));
                    }
                    Slot::Missing
                }
            };
            if let Some(s) = self.slots.get_mut(*index as usize) {
                *s = slot;
            }
        }
    }

    /// The facts as set, or the error of a derived value their values leave without one
    /// (`bmi` with a height of 0): then nothing is to be evaluated.
    pub fn settled(&self) -> Result<(), FactError> {
        let Some((index, error)) = self.undefined else {
            return Ok(());
        };
        let name = self
            .inner
            .doc
            .facts
            .get(index as usize)
            .map_or("", |f| f.name.as_str());
        Err(FactError {
            kind: Kind::Derived,
            fact: Some(name.to_string()),
            message: format!(
                "the derived value `{name}` {} for these facts",
                error.describe()
            ),
        })
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
        let slot = match schema.ty {
            FactType::Codes => {
                let items = v
                    .as_array()
                    .ok_or_else(|| wrong_value(name, "a list of codes", v))?;
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
            FactType::List => self.list(schema, v)?,
            _ => match self.scalar(schema, v)? {
                Slot::Num(n) => Slot::Num(self.within(index, n)?),
                other => other,
            },
        };
        self.put(index, slot);
        Ok(())
    }

    /// The value of a fact (or a field) of one value, as a JSON value (not null).
    fn scalar(&mut self, schema: &FactSchema, v: &Value) -> Result<Slot, FactError> {
        let name = schema.name.as_str();
        let wrong = |expected: &str| wrong_value(name, expected, v);
        Ok(match schema.ty {
            FactType::Bool => v
                .as_bool()
                .map(Slot::Bool)
                .ok_or_else(|| wrong("`true` or `false`"))?,
            FactType::Int | FactType::Decimal => {
                let n = match number_of(v) {
                    Some(Ok(n)) => n,
                    Some(Err(_)) => {
                        return Err(bad(
                            Kind::OutOfRange,
                            name,
                            format!(
                                "fact `{name}`: `{}` has more than {MAX_DIGITS} digits, more than a number of facts can hold",
                                shorten(&v.to_string())
                            ),
                        ));
                    }
                    None => return Err(wrong("a number")),
                };
                if schema.ty == FactType::Int && !n.is_integer() {
                    return Err(wrong("a whole number"));
                }
                Slot::Num(n)
            }
            FactType::Duration | FactType::Percent | FactType::Quantity => {
                let to = quantity_unit(schema).unwrap_or(Unit::Day);
                Slot::Num(quantity(name, v, to)?)
            }
            FactType::Enum => {
                let text = v.as_str().ok_or_else(|| wrong("one of its values"))?;
                Slot::Enum(enum_value(schema, text)?)
            }
            FactType::Code => {
                let text = v.as_str().ok_or_else(|| wrong("one code"))?;
                let system = schema.system.as_deref().and_then(System::parse);
                Slot::Code(self.code_in(name, system, text)?)
            }
            FactType::Date => {
                let text = v
                    .as_str()
                    .ok_or_else(|| wrong("a date such as `2009-02-12`"))?;
                Slot::Num(date_value(name, text)?)
            }
            FactType::Codes => return Err(wrong("a list of codes")),
            FactType::List => return Err(wrong("a list of items")),
        })
    }

    /// A list: an array of objects, each with (some of) the record's fields. Errors name the
    /// list, the item (from 1) and the field.
    fn list(&mut self, schema: &FactSchema, v: &Value) -> Result<Slot, FactError> {
        let name = schema.name.as_str();
        let inner = Arc::clone(&self.inner);
        let Some(record) = schema
            .record
            .and_then(|r| inner.doc.records.get(r as usize))
        else {
            return Err(bad(
                Kind::WrongType,
                name,
                format!("fact `{name}` has no record"),
            ));
        };
        let items = v
            .as_array()
            .ok_or_else(|| wrong_value(name, "a list of items", v))?;
        let mut out = Vec::with_capacity(items.len());
        for (position, item) in items.iter().enumerate() {
            let at = position + 1;
            let Value::Object(map) = item else {
                return Err(bad(
                    Kind::WrongType,
                    name,
                    format!(
                        "fact `{name}`: item {at} is `{}`, not an object of the fields of `{}`",
                        shorten(&item.to_string()),
                        record.name
                    ),
                ));
            };
            let mut slots = vec![Slot::Missing; record.fields.len()];
            for (key, value) in map {
                let Some(f) = record.fields.iter().position(|f| f.name == *key) else {
                    let names: Vec<String> = record
                        .fields
                        .iter()
                        .map(|f| format!("`{}`", f.name))
                        .collect();
                    return Err(bad(
                        Kind::UnknownField,
                        name,
                        format!(
                            "fact `{name}`: item {at} has `{}`, which is not a field of `{}`; its fields are {}",
                            shorten(&key.escape_debug().to_string()),
                            record.name,
                            names.join(", ")
                        ),
                    ));
                };
                let (Some(field), Some(slot)) = (record.fields.get(f), slots.get_mut(f)) else {
                    continue;
                };
                if value.is_null() {
                    continue;
                }
                *slot = self.scalar(field, value).map_err(|e| {
                    let of_field = e.message.replacen(
                        &format!("fact `{}`", field.name),
                        &format!("field `{}`", field.name),
                        1,
                    );
                    // The field's error, of its kind, placed in the list.
                    bad(
                        e.kind,
                        name,
                        format!("fact `{name}`, item {at}: {of_field}"),
                    )
                })?;
            }
            out.push(slots);
        }
        Ok(Slot::List(out))
    }

    /// A number of fact `index` checked against the fact's declared range, if it has one.
    fn within(&self, index: u32, n: Num) -> Result<Num, FactError> {
        let Some((low, high)) = self.inner.kinds.get(index as usize).and_then(|k| k.range) else {
            return Ok(n);
        };
        if low <= n && n <= high {
            return Ok(n);
        }
        let name = self.name(index);
        let unit = match self.inner.kinds.get(index as usize) {
            Some(k) if k.ty == FactType::Percent => "%".to_string(),
            Some(k) if matches!(k.ty, FactType::Duration | FactType::Quantity) => {
                format!(" {}", k.unit.name())
            }
            _ => String::new(),
        };
        Err(bad(
            Kind::OutOfRange,
            name,
            format!("fact `{name}` is declared from {low}{unit} to {high}{unit}, not {n}{unit}"),
        ))
    }

    /// A code checked for its system's format and, with releases, for being a billable code
    /// of the artifact's release: its index among the codes of the artifact's sets, if it is
    /// in one.
    fn code(&mut self, index: u32, text: &str) -> Result<Option<u32>, FactError> {
        let system = self.inner.kinds.get(index as usize).and_then(|k| k.system);
        let inner = Arc::clone(&self.inner);
        let name = inner
            .doc
            .facts
            .get(index as usize)
            .map_or("", |f| f.name.as_str());
        self.code_in(name, system, text)
    }

    /// [`Facts::code`] for a fact or field named `name` of `system`.
    fn code_in(
        &mut self,
        name: &str,
        system: Option<System>,
        text: &str,
    ) -> Result<Option<u32>, FactError> {
        let Some(system) = system else {
            return Err(bad(
                Kind::WrongType,
                name,
                format!("fact `{name}` has no code system"),
            ));
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
                    Kind::BadCode,
                    name,
                    format!(
                        "fact `{name}`: `{}` is a pattern; a patient has whole codes",
                        shorten(&text.escape_debug().to_string())
                    ),
                ));
            }
            Err(e) => {
                return Err(bad(
                    Kind::BadCode,
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
                Kind::NotBillable,
                name,
                format!("fact `{name}`: `{code}` is a heading in `{release}`, not a billable code"),
            )),
            Some(CodeStatus::Absent) => Err(bad(
                Kind::NotBillable,
                name,
                format!("fact `{name}`: `{code}` is not a code of `{release}`"),
            )),
        }
    }
}

/// A value of the wrong kind for a fact.
fn wrong_value(name: &str, expected: &str, v: &Value) -> FactError {
    bad(
        Kind::WrongType,
        name,
        format!(
            "fact `{name}` is {expected}, not `{}`",
            shorten(&v.to_string())
        ),
    )
}

/// An item of a list of codes that is not a string.
fn not_a_code(name: &str, position: usize, item: &Value) -> FactError {
    bad(
        Kind::WrongType,
        name,
        format!(
            "fact `{name}` is a list of codes; its item {position} is `{}`, not a code",
            shorten(&item.to_string())
        ),
    )
}

fn not_an_object() -> FactError {
    FactError {
        kind: Kind::NotObject,
        fact: None,
        message: "the facts must be an object of fact names and values".to_string(),
    }
}

/// The unit a duration or percentage fact is kept in.
fn quantity_unit(schema: &FactSchema) -> Option<Unit> {
    match schema.ty {
        FactType::Percent => Some(Unit::Percent),
        FactType::Duration | FactType::Quantity => Some(
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
    match schema
        .values
        .iter()
        .position(|x| json::same(x.as_bytes(), text.as_bytes()))
    {
        Some(i) => Ok(i as u32),
        None => Err(bad(
            Kind::UnknownValue,
            name,
            format!(
                "`{}` is not a value of fact `{name}`; its values are {}",
                shorten(&text.escape_debug().to_string()),
                schema.values.join(", ")
            ),
        )),
    }
}

/// Reads a JSON object of facts and binds each value as it comes. A JSON fault is an error at
/// its place; a fact that does not fit stops the read with its own error.
fn read_object(facts: &mut Facts, text: &str) -> Result<(), FactError> {
    let mut r = json::Reader::new(text);
    let syntax = |e| not_json(text, e);
    if r.peek() != Some(b'{') {
        // Valid JSON of another kind is "not an object"; anything else is a syntax error.
        r.value().and_then(|_| r.end()).map_err(syntax)?;
        return Err(not_an_object());
    }
    r.expect(b'{', "expected `{`").map_err(syntax)?;
    facts.stamp = facts.stamp.wrapping_add(1);
    if facts.stamp == 0 {
        // The stamps went round: forget every earlier read's marks.
        facts.seen.fill((0, 0));
        facts.stamp = 1;
    }
    facts.others.clear();
    let mut position = 0;
    if !r.eat(b'}') {
        loop {
            r.peek();
            let key_at = r.at();
            // The fact this position had in the last object, when the key is written the same.
            let predicted = facts.order.get(position).copied().filter(|&i| {
                let inner = &facts.inner;
                inner
                    .doc
                    .facts
                    .get(i as usize)
                    .is_some_and(|f| r.key_is(&f.name))
            });
            let (index, name) = match predicted {
                // The name, as written, lies just after the key's opening quote.
                Some(i) => (
                    Some(i),
                    Cow::Borrowed(
                        text.get(key_at + 1..key_at + 1 + facts.name(i).len())
                            .unwrap_or_default(),
                    ),
                ),
                None => {
                    let name = r.key().map_err(syntax)?;
                    (facts.index_at(position, &name), name)
                }
            };
            position += 1;
            match index {
                Some(index) => {
                    facts.first_time(text, index, &name, key_at)?;
                    facts.read_fact(&mut r, index, text)?;
                }
                None => {
                    facts.first_other(text, &name, key_at)?;
                    let raw = r.value().map_err(syntax)?;
                    facts.other_key(&name, || serde_json::from_str(raw).ok())?;
                }
            }
            if r.eat(b',') {
                continue;
            }
            r.expect(b'}', "expected `,` or `}`").map_err(syntax)?;
            break;
        }
    }
    r.end().map_err(syntax)
}

impl Facts {
    /// Marks a fact as given at `at` in this read; a fact given before is an error naming
    /// both places.
    fn first_time(
        &mut self,
        text: &str,
        index: u32,
        name: &str,
        at: usize,
    ) -> Result<(), FactError> {
        let Some(seen) = self.seen.get_mut(index as usize) else {
            return Ok(());
        };
        if seen.0 == self.stamp {
            return Err(given_twice(text, name, seen.1, at));
        }
        *seen = (self.stamp, at);
        Ok(())
    }

    /// As [`Facts::first_time`], for a key that is not a fact.
    fn first_other(&mut self, text: &str, name: &str, at: usize) -> Result<(), FactError> {
        if let Some((_, before)) = self.others.iter().find(|(n, _)| **n == *name) {
            return Err(given_twice(text, name, *before, at));
        }
        if self.others.len() < OTHERS {
            self.others.push((name.into(), at));
        }
        Ok(())
    }

    /// Reads the value of the fact at `index` and binds it: the usual shapes straight into the
    /// slot, any other through a JSON value.
    fn read_fact(
        &mut self,
        r: &mut json::Reader<'_>,
        index: u32,
        text: &str,
    ) -> Result<(), FactError> {
        let syntax = |e| not_json(text, e);
        let Some(kind) = self.inner.kinds.get(index as usize).copied() else {
            return r.value().map(|_| ()).map_err(syntax);
        };
        match r.peek() {
            Some(b'"') => {
                let s = r.string().map_err(syntax)?;
                self.text_value(index, kind, &s)
            }
            Some(b'[') if kind.ty == FactType::Codes => self.code_list(r, index, text),
            Some(b'[') if kind.ty == FactType::List => {
                // Items of plain values go straight to their slots; anything else (and every
                // mistake, so that it is worded once) is read again on the general path.
                let start = *r;
                match self.item_list(r, index) {
                    Some(slot) => {
                        self.put(index, slot);
                        Ok(())
                    }
                    None => {
                        *r = start;
                        let raw = r.value().map_err(syntax)?;
                        self.raw_value(index, raw)
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let n = r.number().map_err(syntax)?;
                // A whole number that fits 64 bits is exact as it is; any other number is
                // read as serde_json reads it, so that both ways agree.
                let whole = n
                    .parse::<i64>()
                    .ok()
                    .map(i128::from)
                    .or_else(|| n.parse::<u64>().ok().map(i128::from));
                match whole {
                    Some(w) if matches!(kind.ty, FactType::Int | FactType::Decimal) => {
                        let n = self.within(index, Num::from_int(w))?;
                        self.put(index, Slot::Num(n));
                        Ok(())
                    }
                    _ => self.raw_value(index, n),
                }
            }
            Some(b't' | b'f' | b'n') => {
                let slot = match r.literal().map_err(syntax)? {
                    json::Literal::Null => Slot::Missing,
                    lit if kind.ty == FactType::Bool => Slot::Bool(lit == json::Literal::True),
                    lit => {
                        return self.bind_value_at(index, &Value::Bool(lit == json::Literal::True));
                    }
                };
                self.put(index, slot);
                Ok(())
            }
            _ => {
                let raw = r.value().map_err(syntax)?;
                self.raw_value(index, raw)
            }
        }
    }

    /// The general path for a value the reader has checked as JSON.
    fn raw_value(&mut self, index: u32, raw: &str) -> Result<(), FactError> {
        // The reader checked the text as JSON; serde_json refuses only numbers past the range
        // of a 64-bit float.
        let v: Value = serde_json::from_str(raw).map_err(|_| {
            let name = self.name(index);
            bad(
                Kind::OutOfRange,
                name,
                format!(
                    "fact `{name}`: the number `{}` is out of range",
                    shorten(raw)
                ),
            )
        })?;
        self.bind_value_at(index, &v)
    }

    /// A value given as a string: a quantity with its unit, an enum value, a code.
    fn text_value(&mut self, index: u32, kind: FactKind, s: &str) -> Result<(), FactError> {
        let slot = match kind.ty {
            FactType::Duration | FactType::Percent | FactType::Quantity => {
                let n = quantity_text(self.name(index), s, kind.unit)?;
                Slot::Num(self.within(index, n)?)
            }
            FactType::Enum => match self.inner.doc.facts.get(index as usize) {
                Some(schema) => Slot::Enum(enum_value(schema, s)?),
                None => Slot::Missing,
            },
            FactType::Code => Slot::Code(self.code(index, s)?),
            FactType::Date => Slot::Num(date_value(self.name(index), s)?),
            _ => return self.bind_value_at(index, &Value::String(s.to_string())),
        };
        self.put(index, slot);
        Ok(())
    }

    /// A list of items at its `[`, each an object of the record's fields with strings,
    /// whole numbers, `true`, `false` or `null`, read into slots as it goes; `None` at the
    /// first thing that is not so, or not a right value for its field.
    fn item_list(&mut self, r: &mut json::Reader<'_>, index: u32) -> Option<Slot> {
        let inner = Arc::clone(&self.inner);
        let record = inner
            .doc
            .facts
            .get(index as usize)?
            .record
            .and_then(|x| inner.doc.records.get(x as usize))?;
        r.expect(b'[', "expected `[`").ok()?;
        let mut items = Vec::new();
        if r.eat(b']') {
            return Some(Slot::List(items));
        }
        loop {
            r.expect(b'{', "expected `{`").ok()?;
            let mut slots = vec![Slot::Missing; record.fields.len()];
            if !r.eat(b'}') {
                loop {
                    let key = r.key().ok()?;
                    let f = record
                        .fields
                        .iter()
                        .position(|x| json::same(x.name.as_bytes(), key.as_bytes()))?;
                    let field = record.fields.get(f)?;
                    let slot = match r.peek()? {
                        b'"' => {
                            let text = r.string().ok()?;
                            self.field_text(field, &text)?
                        }
                        b'-' | b'0'..=b'9' => {
                            let n: i64 = r.number().ok()?.parse().ok()?;
                            match field.ty {
                                FactType::Int | FactType::Decimal => {
                                    Slot::Num(Num::from_int(i128::from(n)))
                                }
                                _ => return None,
                            }
                        }
                        _ => match (r.literal().ok()?, field.ty) {
                            (json::Literal::Null, _) => Slot::Missing,
                            (json::Literal::True, FactType::Bool) => Slot::Bool(true),
                            (json::Literal::False, FactType::Bool) => Slot::Bool(false),
                            _ => return None,
                        },
                    };
                    *slots.get_mut(f)? = slot;
                    if r.eat(b',') {
                        continue;
                    }
                    r.expect(b'}', "expected `,` or `}`").ok()?;
                    break;
                }
            }
            items.push(slots);
            if r.eat(b',') {
                continue;
            }
            r.expect(b']', "expected `,` or `]`").ok()?;
            return Some(Slot::List(items));
        }
    }

    /// A field's value given as a string, as the general path reads it; `None` when it is not
    /// one (the general path then words the mistake).
    fn field_text(&mut self, field: &FactSchema, text: &str) -> Option<Slot> {
        let name = field.name.as_str();
        Some(match field.ty {
            FactType::Duration | FactType::Percent | FactType::Quantity => {
                let unit = quantity_unit(field).unwrap_or(Unit::Day);
                Slot::Num(quantity_text(name, text, unit).ok()?)
            }
            FactType::Enum => Slot::Enum(enum_value(field, text).ok()?),
            FactType::Code => {
                let system = field.system.as_deref().and_then(System::parse);
                Slot::Code(self.code_in(name, system, text).ok()?)
            }
            FactType::Date => Slot::Num(date_value(name, text).ok()?),
            _ => return None,
        })
    }

    /// A list of codes, at its `[`: each code is checked and looked up as it is read.
    fn code_list(
        &mut self,
        r: &mut json::Reader<'_>,
        index: u32,
        text: &str,
    ) -> Result<(), FactError> {
        let syntax = |e| not_json(text, e);
        r.expect(b'[', "expected `[`").map_err(syntax)?;
        self.scratch.clear();
        let mut position = 0;
        if !r.eat(b']') {
            loop {
                position += 1;
                if r.peek() == Some(b'"') {
                    let code = r.string().map_err(syntax)?;
                    if let Some(c) = self.code(index, &code)? {
                        self.scratch.push(c);
                    }
                } else {
                    let raw = r.value().map_err(syntax)?;
                    let item: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
                    return Err(not_a_code(self.name(index), position, &item));
                }
                if r.eat(b',') {
                    continue;
                }
                r.expect(b']', "expected `,` or `]`").map_err(syntax)?;
                break;
            }
        }
        self.count_classes(index);
        Ok(())
    }
}

/// At most this many keys that are not facts are remembered per read, to find one given twice.
const OTHERS: usize = 64;

fn not_json(text: &str, e: json::JsonError) -> FactError {
    let message = if e.at >= text.trim_end().len() {
        format!(
            "the facts are not valid JSON: the text ends early ({})",
            e.what
        )
    } else {
        format!(
            "the facts are not valid JSON: {} at {}",
            e.what,
            json::place(text, e.at)
        )
    };
    FactError {
        kind: Kind::Syntax,
        fact: None,
        message,
    }
}

fn given_twice(text: &str, name: &str, first: usize, second: usize) -> FactError {
    FactError {
        kind: Kind::DuplicateKey,
        fact: Some(name.to_string()),
        message: format!(
            "`{}` is given twice, at {} and at {}",
            shorten(&name.escape_debug().to_string()),
            json::place(text, first),
            json::place(text, second)
        ),
    }
}

/// A YAML error in plain words, without its place (callers give it): the library's own text
/// names its options ("set DuplicateKeyPolicy in Options"), which a reader of the file cannot
/// act on, and can quote the input at any length.
#[cfg(feature = "yaml")]
pub fn yaml_message(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error;
    use serde_saphyr::budget::BudgetBreach;
    match err.without_snippet() {
        Error::DuplicateMappingKey { key: Some(key), .. } => {
            format!(
                "`{}` is given twice",
                shorten(&key.escape_debug().to_string())
            )
        }
        Error::DuplicateMappingKey { key: None, .. } => "a key is given twice".to_string(),
        Error::MultipleDocuments { .. } => {
            "it holds more than one YAML document (a `---` line starts another)".to_string()
        }
        Error::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => "lists and maps are nested too deeply".to_string(),
        Error::Budget { .. } => {
            "the YAML is too large or too complex to read (too many values, aliases or anchors)"
                .to_string()
        }
        other => {
            // The library's words for users, without the location it appends.
            let text = other.render_with_formatter(&serde_saphyr::UserMessageFormatter);
            let text = match text.rfind(" at line ") {
                Some(i) => text.get(..i).unwrap_or(&text),
                None => &text,
            };
            // It may quote a value: a bounded part, on one line.
            let one_line: String = text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            shorten_to(&one_line, 160)
        }
    }
}

/// At most 40 characters of a value for a message, so a long input is never echoed whole.
fn shorten(text: &str) -> String {
    shorten_to(text, 40)
}

fn shorten_to(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_string(),
    }
}

/// A number given as a JSON number or a string holding one.
/// A date fact's value: a date on the calendar, written `YYYY-MM-DD`, as its day number.
fn date_value(name: &str, text: &str) -> Result<Num, FactError> {
    Date::parse(text).map(Date::num).ok_or_else(|| {
        bad(
            Kind::BadDate,
            name,
            format!(
                "fact `{name}` is a date such as `2009-02-12`, not `{}`",
                shorten(&text.escape_debug().to_string())
            ),
        )
    })
}

fn plain_number(v: &Value) -> Option<Num> {
    number_of(v).and_then(Result::ok)
}

/// The number a JSON value holds: none for a value that is no number; an error for one
/// past what a number of facts can hold. A JSON number that is not a whole number of 64 bits
/// is the 64-bit float nearest to it, whose shortest form may be written with an exponent
/// (`1e-7`, `1.2345678901234568e41`): that is expanded into plain digits first.
fn number_of(v: &Value) -> Option<Result<Num, NumError>> {
    match v {
        Value::Number(n) => {
            let text = n.to_string();
            Some(match expand_exponent(&text) {
                Some(plain) => Num::parse(&plain),
                None => Num::parse(&text),
            })
        }
        Value::String(s) => Num::parse(s.trim()).ok().map(Ok),
        _ => None,
    }
}

/// `1.5e-3` as `0.0015` and `12e2` as `1200`; none for text without an exponent. The text is
/// a 64-bit float's, so its exponent lies within ±324 and the digits written out stay short.
fn expand_exponent(text: &str) -> Option<String> {
    let (mantissa, exp) = text.split_once(['e', 'E'])?;
    let exp: i64 = exp.trim_start_matches('+').parse().ok()?;
    if exp.unsigned_abs() > 400 {
        return None;
    }
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    // The position of the decimal point in `digits` after the shift.
    let point = int.len() as i64 + exp;
    let mut out = String::from(if negative { "-" } else { "" });
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat(point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.push_str(&"0".repeat(point as usize - digits.len()));
    } else {
        let (whole, part) = digits.split_at(point as usize);
        out.push_str(whole);
        out.push('.');
        out.push_str(part);
    }
    Some(out)
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
                    Kind::WrongType,
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
            Kind::WrongType,
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
            Kind::MissingUnit,
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
            Kind::WrongType,
            name,
            format!(
                "fact `{name}`: `{}` is not a number",
                shorten(&amount.escape_debug().to_string())
            ),
        )
    })?;
    let from = Unit::parse(unit).ok_or_else(|| {
        let hint = match (
            crate::ucum::Ucum::duration_word(unit),
            crate::ucum::Ucum::suggest(unit),
        ) {
            (Some(word), _) => format!("; durations keep their words: write `{word}`"),
            (None, Some(code)) => format!("; write the UCUM code `{code}`"),
            (None, None) => String::new(),
        };
        bad(Kind::UnknownUnit,
            name,
            format!(
                "fact `{name}`: `{}` is not a unit (days, weeks, months, years, % or a UCUM code such as kg){hint}",
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
    if value.is_negative() && to.nonnegative() {
        return Err(bad(
            Kind::OutOfRange,
            name,
            format!("fact `{name}` cannot be negative"),
        ));
    }
    if to == Unit::Percent && value > Num::from_int(100) {
        return Err(bad(
            Kind::OutOfRange,
            name,
            format!("fact `{name}` is a percentage, at most 100%"),
        ));
    }
    Ok(value)
}

/// An amount in one unit in another of the same family.
fn scale(name: &str, amount: Num, from: Unit, to: Unit) -> Result<Num, FactError> {
    let factor = from.exact_factor(to).ok_or_else(|| {
        let measure = |u: Unit| matches!(u, Unit::Ucum(_));
        let message = if measure(from) || measure(to) {
            format!(
                "fact `{name}` is {}; `{}` is {}",
                to.describe(),
                from.name(),
                from.describe()
            )
        } else {
            format!(
                "fact `{name}` is in {}; {} do not convert exactly to it",
                to.name(),
                from.name()
            )
        };
        bad(Kind::WrongUnit, name, message)
    })?;
    amount.checked_mul(factor).ok_or_else(|| {
        bad(
            Kind::OutOfRange,
            name,
            format!("fact `{name}`: the value is too large"),
        )
    })
}
