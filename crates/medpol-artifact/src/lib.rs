//! Decision artifacts, format `medpol.decision/2`: what `medpol build` writes and what claims,
//! prior-authorization and decision-support systems load.
//!
//! This crate is all a program needs to load an artifact and decide with it; it does not
//! contain the compiler. An artifact holds one policy: its metadata, the input schema (the
//! facts its decisions read), the code sets it needs expanded against a named table release,
//! and each decision as a reduced decision diagram of binary tests with a source map.
//! `docs/artifact.md` describes the format, `docs/artifact.schema.json` is its JSON Schema
//! and `docs/embedding.md` shows how to use this crate.
//!
//! # Example
//!
//! ```
//! use medpol_artifact::{Artifact, Decided, Facts, num::Unit};
//!
//! // An artifact as `medpol build` writes it (normally read from a file).
//! let json = std::fs::read_to_string("../../tests/cases/build/tiny.json").unwrap();
//! let artifact = Artifact::from_json(&json).unwrap();
//! let coverage = artifact.decision("coverage").unwrap();
//!
//! // Facts set one by one, with their types: no strings to format.
//! let mut facts = Facts::new(&artifact);
//! facts.set_quantity("care", 8, Unit::Week).unwrap();
//! facts.set_bool("hospitalized", false).unwrap();
//! assert_eq!(coverage.decide(&facts), Decided::Rule { outcome: "covered", rule: "failed_care" });
//!
//! // Or read from JSON, checked against the input schema: a duration needs its unit.
//! facts.read_json(r#"{"care": "8 weeks", "hospitalized": false}"#).unwrap();
//! assert_eq!(coverage.decide(&facts).outcome(), Some("covered"));
//!
//! // Without the duration the outcome depends on what is missing: pending, never a guess.
//! facts.read_json(r#"{"hospitalized": false}"#).unwrap();
//! assert_eq!(coverage.decide(&facts), Decided::Pending);
//! let pending = coverage.evaluate(&facts);
//! assert_eq!(artifact.fact_names(&pending.needed), vec!["care"]);
//!
//! // Bad facts name the fact, and nothing is evaluated.
//! let err = facts.read_json(r#"{"care": "6"}"#).unwrap_err();
//! assert_eq!(err.fact.as_deref(), Some("care"));
//! ```
// Library code never panics on input, as in the compiler (`src/lib.rs`).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

pub mod codes;
pub mod date;
mod eval;
mod facts;
pub mod formula;
mod json;
mod lists;
pub mod machine;
pub mod num;
pub mod ucum;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use eval::{Evaluation, Step};
#[cfg(feature = "yaml")]
pub use facts::yaml_message;
pub use facts::{FactError, FactErrorKind, Facts, Options, Unknown};
pub use lists::window_start;

use codes::System;
use num::Num;

/// The format id of the artifacts this crate writes.
pub const FORMAT: &str = "medpol.decision/2";

/// The first format, still read: it is a subset of [`FORMAT`] (no date, measurement or list
/// facts, no declared ranges or documentation requirements, no tests of a difference of two
/// facts or of a count) with the same meaning.
pub const FORMAT_1: &str = "medpol.decision/1";

/// One policy compiled: the JSON document of an artifact, field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// [`FORMAT`], or [`FORMAT_1`] for an artifact of the first format.
    pub format: String,
    pub policy: PolicyMeta,
    /// The source files the source maps name, relative to the project folder, with `/`.
    pub files: Vec<String>,
    /// The code table release each code system's sets were expanded against.
    pub tables: Vec<TableRef>,
    /// The input schema: every fact the policy's decisions read.
    pub facts: Vec<FactSchema>,
    /// The records whose items the list facts hold (format 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordSchema>,
    /// The code sets the decisions test, expanded to sorted codes.
    pub code_sets: Vec<CodeSetDoc>,
    pub decisions: Vec<DecisionDoc>,
    /// `sha256:` and the hex SHA-256 of the document's canonical form (compact JSON of the
    /// document without this field).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMeta {
    pub id: String,
    pub title: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub related: Vec<String>,
    pub source: Loc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRef {
    pub system: String,
    pub release: String,
}

/// The kind of value a fact takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactType {
    Bool,
    Int,
    Decimal,
    /// A duration in `unit` (`days`, `weeks`, `months`, `years`).
    Duration,
    /// A percentage, 0 to 100.
    Percent,
    /// One of `values`.
    Enum,
    /// One code of `system`.
    Code,
    /// A set of codes of `system`.
    Codes,
    /// A calendar date, written `2009-02-12`; thresholds are dates too.
    Date,
    /// A measurement in `unit`, a UCUM code of the unit table (`kg/m2`, `ng/mL`).
    Quantity,
    /// A list of items of `record` (format 2).
    List,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactSchema {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FactType,
    /// For a duration or a measurement: its unit; thresholds and values are in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// For an enum: its values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// For a code or set of codes: the code system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// For a list: its items' record (index into `records`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// For a number with a declared range: the values it can take, both ends included (in
    /// its unit). A value outside is refused, and evaluation splits a missing fact within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    /// `true` for a fact that must be supported by clinical documentation (`documented` in the
    /// policy): a consumer such as a Da Vinci CRD service lists it as documentation needed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub documentation: bool,
    /// `false` for a fact the policy declares that no decision reads: a value given for it
    /// is read and checked like any other, and changes no result.
    #[serde(default = "read_by_default", skip_serializing_if = "is_read")]
    pub read: bool,
    /// For a derived value (format 2): how it is computed from facts listed before it, in its
    /// unit. No patient gives it: a value given for it is replaced by the computed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula: Option<formula::FormulaDoc>,
    pub source: Loc,
}

/// A declared range of a numeric fact: exact numbers as thresholds are written (`10`, `-2.5`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: String,
    pub max: String,
}

impl Range {
    /// The two ends as numbers; `None` when one is not a number or they are out of order.
    pub fn bounds(&self) -> Option<(Num, Num)> {
        let (min, max) = (parse_num(&self.min)?, parse_num(&self.max)?);
        (min <= max).then_some((min, max))
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn read_by_default() -> bool {
    true
}

fn is_read(read: &bool) -> bool {
    *read
}

/// A record: the fields each item of a list holds (format 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSchema {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Each field as a fact of one value (never a list or a set of codes); a `where` names
    /// them by index.
    pub fields: Vec<FactSchema>,
    pub source: Loc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSetDoc {
    /// The set's name; a set written in place has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub system: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Every code of the set, sorted, in normal form.
    pub codes: Vec<String>,
    pub source: Loc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionDoc {
    pub name: String,
    /// `unique`, `first` or `any`.
    pub hit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub outcomes: Vec<String>,
    /// Where evaluation starts.
    pub root: Ref,
    /// Tests; a node's children always come after it, so the diagram has no cycle.
    pub nodes: Vec<NodeDoc>,
    pub leaves: Vec<LeafDoc>,
    pub source: Loc,
    pub source_map: SourceMap,
}

/// A child of a node: another node or a leaf (indices into the decision's arrays).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ref {
    Node(u32),
    Leaf(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDoc {
    /// Index into the artifact's facts.
    pub fact: u32,
    pub test: Test,
    /// Where to go when the test holds.
    pub then: Ref,
    /// Where to go when it does not.
    #[serde(rename = "else")]
    pub otherwise: Ref,
}

/// What a node asks of its fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Test {
    /// A `bool` fact is true.
    IsTrue,
    /// A number compared with a threshold in the fact's own unit: `op` is `>=` or `>`; the
    /// value is exact (a decimal such as `78.5`, or a fraction such as `1/30`).
    Compare { op: String, value: String },
    /// An enum fact is one of these values.
    EnumIn { values: Vec<String> },
    /// A single-code fact is in a code set (index into `code_sets`).
    CodeIn { set: u32 },
    /// A set-of-codes fact has any (or all) codes of the class of codes that lie in every set
    /// of `in` and in no set of `not_in`.
    Has {
        quantifier: Quantifier,
        #[serde(rename = "in")]
        inside: Vec<u32>,
        not_in: Vec<u32>,
    },
    /// The difference of two facts of one kind, the node's fact minus `other` (an index into
    /// `facts`), each counted in `unit` when they have one (`days` for dates and for
    /// durations in days or weeks, `months` for durations in months or years), compared as
    /// `compare` compares: `op` is `>=` or `>`, `value` exact.
    Difference {
        other: u32,
        op: String,
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    /// How many items of a list fact meet `where` (every item without it), compared with a
    /// whole number: `op` is `>=` or `>` (format 2).
    Count {
        op: String,
        value: String,
        #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
        filter: Option<Cond>,
    },
}

/// A condition on one item of a list, over its record's fields (indices into the record's
/// `fields`), in three-valued logic: a missing field leaves a test unknown.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Cond {
    /// Always `value`.
    Const {
        value: bool,
    },
    /// Every one of `all` holds.
    And {
        all: Vec<Cond>,
    },
    /// One of `any` holds.
    Or {
        any: Vec<Cond>,
    },
    Not {
        not: Box<Cond>,
    },
    /// A `bool` field is true.
    IsTrue {
        field: u32,
    },
    /// A number field compared with a value in its own unit; `op` is one of `==`, `!=`, `<`,
    /// `<=`, `>`, `>=`.
    Compare {
        field: u32,
        op: String,
        value: String,
    },
    /// An enum field is one of these values.
    EnumIn {
        field: u32,
        values: Vec<String>,
    },
    /// A code field is in a code set (index into `code_sets`).
    CodeIn {
        field: u32,
        set: u32,
    },
    /// A date field lies within `amount` `unit` (`days` or `months`, months by the calendar)
    /// before the date fact `before` (an index into `facts`), both ends included.
    Window {
        field: u32,
        before: u32,
        amount: u32,
        unit: String,
    },
    /// A field compared with a fact of the patient (an index into `facts`) of the same type;
    /// enum values by name, with `==` or `!=`.
    FieldIs {
        field: u32,
        op: String,
        fact: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantifier {
    Any,
    All,
}

/// What a decision gives at the end of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LeafDoc {
    /// A rule decides.
    Rule { outcome: String, rule: String },
    /// No rule matches; the decision's `otherwise` gives the outcome.
    Otherwise { outcome: String },
    /// No rule matches and the decision has no `otherwise`.
    NoRule,
    /// Under `unique` or `any`, rules that disagree (or, under `unique`, several rules) match.
    Conflict {
        rules: Vec<String>,
        outcomes: Vec<String>,
    },
}

/// A place in the policy's source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loc {
    /// Index into the artifact's files.
    pub file: u32,
    /// 1-based.
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
    /// The rule this place belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The policy text there (one line at most, without a trailing comment).
    pub text: String,
    /// For a node: whether `text` holds exactly when the node's test does (`true`: the same
    /// condition in the author's words) or exactly when it does not (`false`: the author wrote
    /// the opposite, as `product in { medicare_hmo, medicare_ppo }` for a test of the other
    /// products). Absent when the text says more or less than the test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agrees: Option<bool>,
}

/// Where each node and leaf of a decision comes from, parallel to its `nodes` and `leaves`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceMap {
    pub nodes: Vec<Loc>,
    pub leaves: Vec<Loc>,
}

/// Why an artifact cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// What is wrong, for programs: stable across releases, unlike the message.
    pub kind: LoadErrorKind,
    pub message: String,
}

/// What makes an artifact unloadable, as `tests/conformance/README.md` names the kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadErrorKind {
    /// Not JSON.
    Syntax,
    /// A format id other than [`FORMAT`] and [`FORMAT_1`].
    Format,
    /// A field missing, unknown or of the wrong JSON kind.
    Schema,
    /// The content hash does not match.
    Hash,
    /// Any other broken rule of the format: an index out of range, a child before its node,
    /// tests out of the order evaluation needs, a first-format artifact using the second's
    /// features.
    Invalid,
}

impl LoadErrorKind {
    /// The kind's stable name: `hash`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadErrorKind::Syntax => "syntax",
            LoadErrorKind::Format => "format",
            LoadErrorKind::Schema => "schema",
            LoadErrorKind::Hash => "hash",
            LoadErrorKind::Invalid => "invalid",
        }
    }
}

impl LoadError {
    /// An artifact that breaks a rule of the format ([`LoadErrorKind::Invalid`]).
    pub fn invalid(message: String) -> LoadError {
        LoadError {
            kind: LoadErrorKind::Invalid,
            message,
        }
    }

    fn of(kind: LoadErrorKind, message: String) -> LoadError {
        LoadError { kind, message }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

impl Document {
    /// The SHA-256 of the canonical form: compact JSON without the `hash` field.
    pub fn content_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash.clear();
        // Serialising plain data with string keys cannot fail.
        let bytes = serde_json::to_vec(&unhashed).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256:");
        for b in digest {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// The artifact file's text: pretty JSON with the content hash filled in, ending in a
    /// newline. The same document always gives the same bytes.
    pub fn to_json(&self) -> String {
        let mut doc = self.clone();
        doc.hash = self.content_hash();
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// What a code table release says of a code, for checking a patient's codes against the
/// release an artifact was built against (see [`Options::releases`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStatus {
    /// A code that can be billed.
    Billable,
    /// A heading: a category with codes below it, not billable itself.
    Heading,
    /// Not in the release.
    Absent,
}

/// Code table releases a program has at hand (the medpol compiler implements this for its
/// shipped and imported tables).
pub trait Releases: Send + Sync {
    /// What `release` of `system` says of `code` (in normal form); `None` when the release is
    /// not at hand, or does not list the code and does not list every code of its kind (a
    /// partial table), so that the code is checked for its format only.
    fn status(&self, system: System, release: &str, code: &str) -> Option<CodeStatus>;
}

/// A loaded artifact, ready to evaluate. Cloning it is cheap: clones share the prepared
/// artifact, so each thread or request can hold its own.
#[derive(Debug, Clone)]
pub struct Artifact {
    inner: Arc<Inner>,
}

/// What [`Artifact`] shares between its clones and the [`Facts`] bound to it.
#[derive(Debug)]
pub(crate) struct Inner {
    /// Tells the facts of one loaded artifact from another's.
    pub(crate) id: u64,
    pub(crate) doc: Document,
    pub(crate) decisions: Vec<Decision>,
    /// What binding needs of each fact, in the order of the input schema.
    pub(crate) kinds: Vec<facts::FactKind>,
    /// The derived values, in the order of the input schema: each is computed from facts
    /// before it whenever a fact is set.
    pub(crate) derived: Vec<(u32, formula::Formula<u32>)>,
    pub(crate) codes: eval::CodeIndex,
    /// The classes of codes the `has` tests name.
    pub(crate) classes: Vec<eval::Class>,
    /// Each fact's index by name: facts are looked up once per fact of each patient.
    pub(crate) by_name: rustc_hash::FxHashMap<Box<str>, u32>,
    /// Codes outside the artifact's sets already found billable in the release, by system: a
    /// table lookup decodes part of the table, and a batch meets the same codes again and
    /// again.
    pub(crate) known_codes: std::sync::RwLock<KnownCodes>,
}

/// At most this many known codes are remembered per artifact.
pub(crate) const KNOWN_CODES: usize = 100_000;

pub(crate) type KnownCodes = std::collections::HashMap<System, std::collections::HashSet<String>>;

/// One decision of a loaded artifact.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The artifact it belongs to ([`Inner::id`]).
    pub(crate) artifact: u64,
    pub(crate) index: usize,
    pub(crate) doc: DecisionDoc,
    pub(crate) nodes: Vec<eval::Node>,
    /// The facts of the variables the tests read, by variable (with the second fact of a
    /// difference): a missing fact is split over its variables' classes of values.
    pub(crate) vars: Vec<(u32, Option<u32>)>,
    /// For each variable that is a count of a list, the facts of the patient its condition
    /// reads (a window's date, a fact a field is compared with).
    pub(crate) var_outer: Vec<Vec<u32>>,
    /// For each fact that is a derived value, the facts given by patients it is computed
    /// from (through other derived values): what a missing derived value waits for.
    pub(crate) inputs: std::sync::Arc<Vec<Vec<u32>>>,
    pub(crate) root: u32,
    /// For each leaf, what counts as "the same result" when facts are missing.
    pub(crate) keys: Vec<eval::Key>,
}

/// What a decision gives a patient, as [`Decision::decide`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided<'a> {
    /// A rule decides.
    Rule { outcome: &'a str, rule: &'a str },
    /// Several rules could decide, depending on facts the patient lacks, and all give this
    /// outcome.
    Outcome { outcome: &'a str },
    /// No rule matches; the decision's `otherwise` gives the outcome.
    Otherwise { outcome: &'a str },
    /// No rule matches and the decision has no `otherwise`.
    NoRule,
    /// Under `unique` or `any`, rules that disagree (or, under `unique`, several rules) match.
    Conflict {
        rules: &'a [String],
        outcomes: &'a [String],
    },
    /// The result depends on facts the patient lacks ([`Decision::evaluate`] names them).
    Pending,
}

impl<'a> Decided<'a> {
    /// The outcome, when the patient has one.
    pub fn outcome(&self) -> Option<&'a str> {
        match *self {
            Decided::Rule { outcome, .. }
            | Decided::Outcome { outcome }
            | Decided::Otherwise { outcome } => Some(outcome),
            Decided::NoRule | Decided::Conflict { .. } | Decided::Pending => None,
        }
    }

    /// The rule that decides, when one rule does.
    pub fn rule(&self) -> Option<&'a str> {
        match *self {
            Decided::Rule { rule, .. } => Some(rule),
            _ => None,
        }
    }
}

impl Artifact {
    /// Reads an artifact's JSON, checks its format, its content hash and that every index in
    /// it is in range, and prepares its decisions for evaluation.
    pub fn from_json(text: &str) -> Result<Artifact, LoadError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| LoadError::of(LoadErrorKind::Syntax, format!("not valid JSON: {e}")))?;
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != FORMAT && format != FORMAT_1 {
            return Err(LoadError::of(
                LoadErrorKind::Format,
                format!(
                    "not a `{FORMAT}` artifact (format `{}`)",
                    format.escape_debug()
                ),
            ));
        }
        let doc: Document = serde_json::from_value(value).map_err(|e| {
            LoadError::of(
                LoadErrorKind::Schema,
                format!("not a valid `{FORMAT}` artifact: {e}"),
            )
        })?;
        let expected = doc.content_hash();
        if doc.hash != expected {
            return Err(LoadError::of(
                LoadErrorKind::Hash,
                format!(
                    "the content hash does not match: the file says `{}`, its content gives `{expected}`",
                    doc.hash.escape_debug()
                ),
            ));
        }
        Artifact::new(doc)
    }

    /// Prepares a document for evaluation (the compiler calls this on what it builds).
    pub fn new(doc: Document) -> Result<Artifact, LoadError> {
        eval::prepare(doc).map(|inner| Artifact {
            inner: Arc::new(inner),
        })
    }

    pub fn document(&self) -> &Document {
        &self.inner.doc
    }

    /// The artifact file's text (see [`Document::to_json`]).
    pub fn to_json(&self) -> String {
        self.inner.doc.to_json()
    }

    pub fn policy_id(&self) -> &str {
        &self.inner.doc.policy.id
    }

    pub fn decisions(&self) -> &[Decision] {
        &self.inner.decisions
    }

    pub fn decision(&self, name: &str) -> Option<&Decision> {
        self.inner.decisions.iter().find(|d| d.doc.name == name)
    }

    /// The index of a fact of the input schema.
    pub fn fact_index(&self, name: &str) -> Option<u32> {
        self.inner.fact_index(name)
    }

    /// The names of the facts among `facts` (indices) that must be supported by clinical
    /// documentation, in the order of the input schema.
    pub fn documentation_needed(&self, facts: impl IntoIterator<Item = u32>) -> Vec<&str> {
        let mut indices: Vec<u32> = facts
            .into_iter()
            .filter(|f| {
                self.inner
                    .doc
                    .facts
                    .get(*f as usize)
                    .is_some_and(|s| s.documentation)
            })
            .collect();
        indices.sort_unstable();
        indices.dedup();
        self.fact_names(&indices)
    }

    /// The facts an evaluation rests on (tested on its path, tested on every path a missing
    /// fact leaves open, or still needed) that must be supported by clinical documentation,
    /// by name in the order of the input schema.
    pub fn documentation(&self, e: &Evaluation) -> Vec<&str> {
        self.documentation_needed(
            e.path
                .iter()
                .map(|s| s.fact)
                .chain(e.tested.iter().copied())
                .chain(e.needed.iter().copied()),
        )
    }

    /// The names of facts given by index (as in [`Evaluation::needed`]).
    pub fn fact_names(&self, facts: &[u32]) -> Vec<&str> {
        facts
            .iter()
            .filter_map(|&f| self.inner.doc.facts.get(f as usize))
            .map(|f| f.name.as_str())
            .collect()
    }

    /// A file of the source map (`None` for an index the artifact does not have).
    pub fn file(&self, index: u32) -> Option<&str> {
        self.inner.doc.files.get(index as usize).map(String::as_str)
    }
}

impl Inner {
    pub(crate) fn fact_index(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }
}

impl Decision {
    pub fn name(&self) -> &str {
        &self.doc.name
    }

    pub fn document(&self) -> &DecisionDoc {
        &self.doc
    }

    /// The decision's index in the artifact.
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn leaf(&self, leaf: u32) -> Option<&LeafDoc> {
        self.doc.leaves.get(leaf as usize)
    }

    /// The outcome of a decided evaluation (none for a pending one, a conflict or no rule).
    pub fn outcome_of(&self, e: &Evaluation) -> Option<&str> {
        self.decided(e).outcome()
    }

    /// The rule that decided, when one rule did (a decided evaluation whose missing facts
    /// leave the outcome but not the rule open has none).
    pub fn rule_of(&self, e: &Evaluation) -> Option<&str> {
        self.decided(e).rule()
    }

    /// What an evaluation gives, as [`Decision::decide`] says it.
    pub fn decided(&self, e: &Evaluation) -> Decided<'_> {
        if !e.is_decided() {
            return Decided::Pending;
        }
        match e.leaves.as_slice() {
            [leaf] => self.decided_leaf(*leaf),
            // Several leaves with one key: the same outcome by different rules.
            [first, ..] => match self.leaf(*first) {
                Some(LeafDoc::Rule { outcome, .. } | LeafDoc::Otherwise { outcome }) => {
                    Decided::Outcome { outcome }
                }
                _ => self.decided_leaf(*first),
            },
            [] => Decided::Pending,
        }
    }

    fn decided_leaf(&self, leaf: u32) -> Decided<'_> {
        match self.leaf(leaf) {
            Some(LeafDoc::Rule { outcome, rule }) => Decided::Rule { outcome, rule },
            Some(LeafDoc::Otherwise { outcome }) => Decided::Otherwise { outcome },
            Some(LeafDoc::NoRule) => Decided::NoRule,
            Some(LeafDoc::Conflict { rules, outcomes }) => Decided::Conflict { rules, outcomes },
            None => {
                debug_assert!(
                    false,
                    "leaf {leaf} of decision `{}` is out of range",
                    self.doc.name
                );
                Decided::Pending
            }
        }
    }
}

/// Reads a threshold as the artifact writes it: a decimal (`78.5`) or a fraction (`1/30`).
pub fn parse_num(text: &str) -> Option<Num> {
    match num::split_at_byte(text, b'/') {
        Some((n, d)) => {
            let n = Num::parse(n).ok()?;
            let d = Num::parse(d).ok()?;
            if d == Num::from_int(0) {
                return None;
            }
            n.checked_div(d)
        }
        None => Num::parse(text).ok(),
    }
}

/// The examples of `docs/embedding.md`, run as doctests so that the guide stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/embedding.md")]
struct EmbeddingGuide;
