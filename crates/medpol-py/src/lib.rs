//! Python bindings of `medpol-artifact`: load a decision artifact (`medpol.decision/2`) and
//! decide with it from Python, exactly as `medpol eval` does.
//!
//! The native module is `medpol_artifact._native`; the package `medpol_artifact`
//! (`python/medpol_artifact`) re-exports it with its type stubs. Facts are read by the artifact
//! crate's own JSON reader: given as JSON text they are read as written; given as a dict they
//! are first written as JSON text (see `convert`). Nothing here panics on input: bad facts and
//! bad artifacts are Python exceptions (or, in a batch, error records).
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

mod convert;

use std::borrow::Cow;
use std::sync::Mutex;

use medpol_artifact::{
    Decided, Decision, Evaluation, FactSchema, FactType, Facts, Options, Unknown,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyError, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyModule};

use convert::Refused;

create_exception!(
    medpol_artifact,
    LoadError,
    PyValueError,
    "The artifact cannot be loaded; `kind` says why (syntax, format, schema, hash, invalid)."
);
create_exception!(
    medpol_artifact,
    FactError,
    PyValueError,
    "The facts are bad and nothing was evaluated; `kind` says why and `fact` names the fact."
);

/// Python's cyclic garbage collector, paused while a batch makes its results and started again
/// when it is done (if it was running). The results hold no reference cycles, but each is an
/// object the collector tracks, and as a batch's results pile up its full collections go over
/// all of them again and again: on 100,000 patients that took a third of the batch's time.
struct GcPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> PyResult<GcPause<'py>> {
        let gc = py.import("gc")?;
        if gc.call_method0("isenabled")?.is_truthy()? {
            gc.call_method0("disable")?;
            return Ok(GcPause { gc: Some(gc) });
        }
        Ok(GcPause { gc: None })
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            // `gc.enable()` does not fail; were it to, the collector would stay paused, which
            // loses no object.
            let _ = gc.call_method0("enable");
        }
    }
}

/// A batch is evaluated this many rows at a time.
const CHUNK: usize = 1024;

/// At most this many `Facts` are kept per artifact for reuse: one per thread deciding at once.
const POOLED: usize = 8;

/// A loaded artifact, ready to decide with. Shared freely between threads.
#[pyclass(frozen, module = "medpol_artifact")]
struct Artifact {
    core: medpol_artifact::Artifact,
    /// Facts kept between calls, by way of reading keys that are not facts (reject, ignore):
    /// reading facts reuses their memory, so a call allocates nothing for them.
    pools: [Mutex<Vec<Facts>>; 2],
}

/// One decision's result for one patient.
#[pyclass(frozen, module = "medpol_artifact")]
struct DecisionResult {
    artifact: medpol_artifact::Artifact,
    decision: usize,
    eval: Evaluation,
}

/// A test taken on a result's path, with the policy text it comes from.
#[pyclass(frozen, get_all, module = "medpol_artifact")]
struct Step {
    /// The node's index in the decision.
    node: u32,
    /// The fact it tests.
    fact: String,
    /// Whether the test held.
    holds: bool,
    /// The test as policy text (`conservative_care >= 6 weeks`).
    test: Option<String>,
    /// The policy text the test comes from (its first line).
    text: Option<String>,
    /// Whether `text` held, when the text is the test or its opposite in the author's words.
    text_holds: Option<bool>,
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    rule: Option<String>,
}

/// A row of a batch whose facts are bad: it is reported, and the batch goes on.
#[pyclass(frozen, get_all, module = "medpol_artifact")]
struct RowError {
    /// The row's index in the batch (from 0).
    index: usize,
    kind: String,
    fact: Option<String>,
    message: String,
}

/// A fact of the artifact's input schema.
#[pyclass(frozen, get_all, module = "medpol_artifact")]
#[derive(Clone)]
struct Fact {
    name: String,
    /// `bool`, `int`, `decimal`, `duration`, `percent`, `enum`, `code`, `codes`, `date`,
    /// `quantity` or `list`.
    r#type: String,
    unit: Option<String>,
    values: Vec<String>,
    system: Option<String>,
    /// The declared range, `(min, max)`, both included, as exact numbers in the fact's unit.
    range: Option<(String, String)>,
    description: Option<String>,
    /// Must be supported by clinical documentation.
    documentation: bool,
    /// Read by some decision (a declared fact no decision reads is accepted and changes nothing).
    read: bool,
    /// Computed from other facts by a formula; a value given for it is replaced.
    derived: bool,
    /// For a list: its items' record and the record's fields.
    record: Option<String>,
    fields: Vec<Fact>,
}

fn fact_error(py: Python<'_>, kind: &str, fact: Option<&str>, message: &str) -> PyErr {
    let err = FactError::new_err(message.to_string());
    let value = err.value(py);
    match value
        .setattr("kind", kind)
        .and_then(|()| value.setattr("fact", fact))
    {
        Ok(()) => err,
        Err(e) => e,
    }
}

fn load_error(py: Python<'_>, e: &medpol_artifact::LoadError) -> PyErr {
    let err = LoadError::new_err(e.message.clone());
    match err.value(py).setattr("kind", e.kind.as_str()) {
        Ok(()) => err,
        Err(e) => e,
    }
}

/// One row of a batch read and evaluated: each decision's evaluation, or why the row is bad.
type RowOutcome = Result<Vec<(usize, Evaluation)>, Bad>;

/// Bad facts as the artifact crate or the conversion of a dict reports them.
enum Bad {
    Facts(medpol_artifact::FactError),
    Refused(Refused),
}

impl Bad {
    fn parts(&self) -> (&str, Option<&str>, &str) {
        match self {
            Bad::Facts(e) => (e.kind.as_str(), e.fact.as_deref(), &e.message),
            Bad::Refused(Refused::NotObject(m)) => ("not_object", None, m),
            Bad::Refused(Refused::Syntax(m)) => ("syntax", None, m),
            Bad::Refused(Refused::Value { fact, message }) => ("wrong_type", Some(fact), message),
        }
    }

    fn into_err(self, py: Python<'_>) -> PyErr {
        let (kind, fact, message) = self.parts();
        fact_error(py, kind, fact, message)
    }
}

fn unknown_of(unknown_facts: &str) -> PyResult<Unknown> {
    match unknown_facts {
        "reject" => Ok(Unknown::Reject),
        "ignore" => Ok(Unknown::Ignore),
        other => Err(PyValueError::new_err(format!(
            "unknown_facts must be \"reject\" or \"ignore\", not {other:?}"
        ))),
    }
}

impl Artifact {
    fn new(core: medpol_artifact::Artifact) -> Artifact {
        Artifact {
            core,
            pools: [Mutex::new(Vec::new()), Mutex::new(Vec::new())],
        }
    }

    /// One patient's facts as JSON text: a `str` or `bytes` as given, a mapping written as
    /// JSON for this artifact's schema.
    fn facts_text<'a>(&self, obj: &'a Bound<'_, PyAny>) -> PyResult<Result<Cow<'a, str>, Refused>> {
        Ok(match convert::text_of(obj)? {
            Some(text) => text,
            None => convert::facts_text(obj, &self.core)?.map(Cow::Owned),
        })
    }

    /// Runs `f` with facts bound to this artifact, taken from the pool (or made) and put back.
    fn with_facts<R>(&self, unknown: Unknown, f: impl FnOnce(&mut Facts) -> R) -> R {
        let pool = match unknown {
            Unknown::Reject => &self.pools[0],
            Unknown::Ignore => &self.pools[1],
        };
        let pooled = pool.lock().ok().and_then(|mut p| p.pop());
        let mut facts = pooled.unwrap_or_else(|| {
            let options = Options {
                unknown,
                ..Options::default()
            };
            Facts::with_options(&self.core, options)
        });
        let result = f(&mut facts);
        if let Ok(mut p) = pool.lock()
            && p.len() < POOLED
        {
            p.push(facts);
        }
        result
    }

    /// The decisions to run: all of them, or the one named.
    fn chosen(&self, decision: Option<&str>) -> PyResult<Option<usize>> {
        let Some(name) = decision else {
            return Ok(None);
        };
        match self.core.decisions().iter().position(|d| d.name() == name) {
            Some(i) => Ok(Some(i)),
            None => Err(PyKeyError::new_err(format!(
                "the policy `{}` has no decision `{name}`; it has {}",
                self.core.policy_id(),
                self.decision_names().join(", ")
            ))),
        }
    }

    fn decision_names(&self) -> Vec<&str> {
        self.core.decisions().iter().map(Decision::name).collect()
    }

    /// Reads one patient's facts and evaluates the decisions chosen.
    fn run(
        &self,
        facts: &mut Facts,
        text: &str,
        chosen: Option<usize>,
    ) -> Result<Vec<(usize, Evaluation)>, medpol_artifact::FactError> {
        facts.read_json(text)?;
        Ok(match chosen {
            Some(i) => self
                .core
                .decisions()
                .get(i)
                .map(|d| (i, d.evaluate(facts)))
                .into_iter()
                .collect(),
            None => self
                .core
                .decisions()
                .iter()
                .enumerate()
                .map(|(i, d)| (i, d.evaluate(facts)))
                .collect(),
        })
    }

    /// Reads and evaluates rows of a batch, in order, on `threads` threads (each a part of the
    /// rows, with facts of its own). `Err` when a thread panicked, which reading facts does not.
    fn evaluate_rows(
        &self,
        texts: Vec<Result<Cow<'_, str>, Refused>>,
        unknown: Unknown,
        chosen: Option<usize>,
        threads: usize,
    ) -> Result<Vec<RowOutcome>, String> {
        let evaluate = |part: Vec<Result<Cow<'_, str>, Refused>>| -> Vec<RowOutcome> {
            self.with_facts(unknown, |facts| {
                part.into_iter()
                    .map(|text| match text {
                        Ok(text) => self.run(facts, &text, chosen).map_err(Bad::Facts),
                        Err(refused) => Err(Bad::Refused(refused)),
                    })
                    .collect()
            })
        };
        if threads <= 1 || texts.len() < 2 {
            return Ok(evaluate(texts));
        }
        let per_thread = texts.len().div_ceil(threads);
        let mut parts = Vec::with_capacity(threads);
        let mut rest = texts;
        while rest.len() > per_thread {
            let tail = rest.split_off(per_thread);
            parts.push(rest);
            rest = tail;
        }
        parts.push(rest);
        std::thread::scope(|scope| {
            let workers: Vec<_> = parts
                .into_iter()
                .map(|part| scope.spawn(|| evaluate(part)))
                .collect();
            let mut outcomes = Vec::new();
            for worker in workers {
                outcomes.extend(
                    worker
                        .join()
                        .map_err(|_| "a thread of the batch panicked".to_string())?,
                );
            }
            Ok(outcomes)
        })
    }

    /// The Python value of one row's results: one result, or a list of all decisions'.
    fn results<'py>(
        &self,
        py: Python<'py>,
        evaluations: Vec<(usize, Evaluation)>,
        chosen: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut objects = Vec::with_capacity(evaluations.len());
        for (decision, eval) in evaluations {
            let result = DecisionResult {
                artifact: self.core.clone(),
                decision,
                eval,
            };
            objects.push(Bound::new(py, result)?.into_any());
        }
        match chosen {
            Some(_) => objects
                .pop()
                .ok_or_else(|| PyRuntimeError::new_err("the decision gave no result")),
            None => Ok(PyList::new(py, objects)?.into_any()),
        }
    }
}

#[pymethods]
impl Artifact {
    /// Loads an artifact from its JSON text (`str` or UTF-8 `bytes`), checking its format,
    /// content hash and every index in it.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Artifact> {
        let text = match convert::text_of(text)? {
            Some(Ok(text)) => text.into_owned(),
            Some(Err(refused)) => {
                let message = match refused {
                    Refused::Syntax(m) | Refused::NotObject(m) => m,
                    Refused::Value { message, .. } => message,
                };
                let e = medpol_artifact::LoadError {
                    kind: medpol_artifact::LoadErrorKind::Syntax,
                    message,
                };
                return Err(load_error(py, &e));
            }
            None => {
                return Err(PyTypeError::new_err(format!(
                    "an artifact is JSON text (str or bytes), not `{}`",
                    convert::type_name(text)
                )));
            }
        };
        let loaded = py.detach(|| medpol_artifact::Artifact::from_json(&text));
        loaded.map(Artifact::new).map_err(|e| load_error(py, &e))
    }

    /// Loads an artifact from a file that `medpol build` wrote.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Artifact> {
        let bytes = py
            .detach(|| std::fs::read(&path))
            .map_err(|e| os_error(e, &path))?;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let e = medpol_artifact::LoadError {
                    kind: medpol_artifact::LoadErrorKind::Syntax,
                    message: format!(
                        "`{}` is not UTF-8 (at byte {})",
                        path.display(),
                        e.utf8_error().valid_up_to()
                    ),
                };
                return Err(load_error(py, &e));
            }
        };
        let loaded = py.detach(|| medpol_artifact::Artifact::from_json(&text));
        loaded.map(Artifact::new).map_err(|e| load_error(py, &e))
    }

    /// The artifact's JSON text, as `medpol build` writes it.
    fn to_json(&self) -> String {
        self.core.to_json()
    }

    #[getter]
    fn policy_id(&self) -> &str {
        self.core.policy_id()
    }

    #[getter]
    fn title(&self) -> &str {
        &self.core.document().policy.title
    }

    #[getter]
    fn version(&self) -> &str {
        &self.core.document().policy.version
    }

    #[getter]
    fn format(&self) -> &str {
        &self.core.document().format
    }

    /// `sha256:` and the hex SHA-256 of the artifact's canonical form.
    #[getter]
    fn hash(&self) -> &str {
        &self.core.document().hash
    }

    /// The decisions' names, in the artifact's order (the order of a result list).
    #[getter]
    fn decisions(&self) -> Vec<&str> {
        self.decision_names()
    }

    /// The input schema: every fact, in the artifact's order.
    #[getter]
    fn facts(&self) -> Vec<Fact> {
        let doc = self.core.document();
        doc.facts.iter().map(|f| fact_of(doc, f)).collect()
    }

    /// Decides for one patient. `facts` is JSON text (`str` or `bytes`, read exactly as
    /// `medpol eval` reads it) or a dict of fact names to values. Returns a list of results,
    /// one per decision in the artifact's order, or the one result of `decision`. Bad facts
    /// raise `FactError`; keys that are not facts are refused unless `unknown_facts="ignore"`.
    #[pyo3(signature = (facts, decision=None, *, unknown_facts="reject"))]
    fn decide<'py>(
        &self,
        py: Python<'py>,
        facts: &Bound<'py, PyAny>,
        decision: Option<&str>,
        unknown_facts: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let unknown = unknown_of(unknown_facts)?;
        let chosen = self.chosen(decision)?;
        let text = match self.facts_text(facts)? {
            Ok(text) => text,
            Err(refused) => return Err(Bad::Refused(refused).into_err(py)),
        };
        let evaluations = self
            .with_facts(unknown, |f| self.run(f, &text, chosen))
            .map_err(|e| Bad::Facts(e).into_err(py))?;
        self.results(py, evaluations, chosen)
    }

    /// Decides for many patients, each row as `decide` takes it, without holding the GIL while
    /// evaluating (on `threads` threads). Returns one item per row, in order: the row's results
    /// (a list of results, or the one result of `decision`), or a `RowError` for a row whose
    /// facts are bad; a bad row does not stop the batch.
    #[pyo3(signature = (rows, decision=None, *, unknown_facts="reject", threads=1))]
    fn decide_batch<'py>(
        &self,
        py: Python<'py>,
        rows: &Bound<'py, PyAny>,
        decision: Option<&str>,
        unknown_facts: &str,
        threads: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let unknown = unknown_of(unknown_facts)?;
        let chosen = self.chosen(decision)?;
        if threads == 0 {
            return Err(PyValueError::new_err("threads must be 1 or more"));
        }
        let out = PyList::empty(py);
        let mut rows = rows.try_iter()?;
        let _paused = GcPause::new(py)?;
        // On several threads a chunk waits for its slowest thread: larger chunks wait less often.
        let chunk = if threads == 1 {
            CHUNK
        } else {
            CHUNK * 16 * threads
        };
        // Rows are taken a chunk at a time: the chunk is evaluated without the GIL, then its
        // results become Python objects, so that what is held between the two stays small.
        let mut objects: Vec<Bound<'py, PyAny>> = Vec::with_capacity(chunk);
        loop {
            objects.clear();
            for row in rows.by_ref().take(chunk) {
                objects.push(row?);
            }
            if objects.is_empty() {
                return Ok(out);
            }
            // The rows' objects are held (so a `str`'s text stays put) while their text is
            // borrowed without the GIL.
            let mut texts: Vec<Result<Cow<'_, str>, Refused>> = Vec::with_capacity(objects.len());
            for obj in &objects {
                texts.push(self.facts_text(obj)?);
            }
            let outcomes = py
                .detach(|| self.evaluate_rows(texts, unknown, chosen, threads))
                .map_err(PyRuntimeError::new_err)?;
            for outcome in outcomes {
                match outcome {
                    Ok(evaluations) => out.append(self.results(py, evaluations, chosen)?)?,
                    Err(bad) => {
                        let (kind, fact, message) = bad.parts();
                        let error = RowError {
                            index: out.len(),
                            kind: kind.to_string(),
                            fact: fact.map(str::to_string),
                            message: message.to_string(),
                        };
                        out.append(Bound::new(py, error)?)?;
                    }
                }
            }
        }
    }

    /// What `medpol eval --explain` prints for one patient: each decision's result with the
    /// tests taken and the policy text they come from.
    #[pyo3(signature = (facts, decision=None, *, unknown_facts="reject"))]
    fn explain(
        &self,
        py: Python<'_>,
        facts: &Bound<'_, PyAny>,
        decision: Option<&str>,
        unknown_facts: &str,
    ) -> PyResult<String> {
        let unknown = unknown_of(unknown_facts)?;
        let chosen = self.chosen(decision)?;
        let text = match self.facts_text(facts)? {
            Ok(text) => text,
            Err(refused) => return Err(Bad::Refused(refused).into_err(py)),
        };
        let evaluations = self
            .with_facts(unknown, |f| self.run(f, &text, chosen))
            .map_err(|e| Bad::Facts(e).into_err(py))?;
        let mut out = String::new();
        for (decision, eval) in evaluations {
            let result = DecisionResult {
                artifact: self.core.clone(),
                decision,
                eval,
            };
            out.push_str(&result.explain()?);
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!(
            "Artifact(policy_id={}, decisions={})",
            repr(self.core.policy_id()),
            repr_list(&self.decision_names())
        )
    }
}

/// An I/O error as Python's `OSError` (its subclass by errno) naming the file.
fn os_error(e: std::io::Error, path: &std::path::Path) -> PyErr {
    match e.raw_os_error() {
        Some(code) => {
            let message = e.to_string();
            let message = message.trim_end_matches(&format!(" (os error {code})"));
            PyOSError::new_err((code, message.to_string(), path.display().to_string()))
        }
        None => e.into(),
    }
}

fn fact_of(doc: &medpol_artifact::Document, f: &FactSchema) -> Fact {
    let record = f.record.and_then(|r| doc.records.get(r as usize));
    Fact {
        name: f.name.clone(),
        r#type: fact_type(f.ty).to_string(),
        unit: f.unit.clone(),
        values: f.values.clone(),
        system: f.system.clone(),
        range: f.range.as_ref().map(|r| (r.min.clone(), r.max.clone())),
        description: f.description.clone(),
        documentation: f.documentation,
        read: f.read,
        derived: f.formula.is_some(),
        record: record.map(|r| r.name.clone()),
        fields: record
            .map(|r| r.fields.iter().map(|field| fact_of(doc, field)).collect())
            .unwrap_or_default(),
    }
}

fn fact_type(ty: FactType) -> &'static str {
    match ty {
        FactType::Bool => "bool",
        FactType::Int => "int",
        FactType::Decimal => "decimal",
        FactType::Duration => "duration",
        FactType::Percent => "percent",
        FactType::Enum => "enum",
        FactType::Code => "code",
        FactType::Codes => "codes",
        FactType::Date => "date",
        FactType::Quantity => "quantity",
        FactType::List => "list",
    }
}

impl DecisionResult {
    fn decision_ref(&self) -> PyResult<&Decision> {
        self.artifact
            .decisions()
            .get(self.decision)
            .ok_or_else(|| PyRuntimeError::new_err("a result of a decision the artifact lacks"))
    }

    fn decided(&self) -> PyResult<Decided<'_>> {
        Ok(self.decision_ref()?.decided(&self.eval))
    }

    fn steps(&self) -> PyResult<Vec<Step>> {
        let d = self.decision_ref()?;
        let doc = self.artifact.document();
        Ok(self
            .eval
            .path
            .iter()
            .map(|s| {
                let loc = d.document().source_map.nodes.get(s.node as usize);
                Step {
                    node: s.node,
                    fact: self
                        .artifact
                        .fact_names(&[s.fact])
                        .first()
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    holds: s.holds,
                    test: d.describe_test(&self.artifact, s.node),
                    text: loc.map(|l| l.text.clone()),
                    text_holds: loc.and_then(|l| l.agrees).map(|a| a == s.holds),
                    file: loc.and_then(|l| doc.files.get(l.file as usize)).cloned(),
                    line: loc.map(|l| l.line),
                    column: loc.map(|l| l.column),
                    rule: loc.and_then(|l| l.rule.clone()),
                }
            })
            .collect())
    }
}

fn result_kind(d: &Decided<'_>) -> &'static str {
    match d {
        Decided::Rule { .. } => "rule",
        Decided::Outcome { .. } => "outcome",
        Decided::Otherwise { .. } => "otherwise",
        Decided::NoRule => "no_rule",
        Decided::Conflict { .. } => "conflict",
        Decided::Pending => "pending",
    }
}

/// A string as Python's `repr` writes it (in single quotes), for the classes' reprs.
fn repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            // Controls (U+0000 to U+009F) as Python writes them.
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn repr_list(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|s| repr(s)).collect();
    format!("[{}]", items.join(", "))
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[pymethods]
impl DecisionResult {
    /// The decision's name.
    #[getter]
    fn decision(&self) -> PyResult<&str> {
        Ok(self.decision_ref()?.name())
    }

    /// `rule`, `outcome`, `otherwise`, `no_rule`, `conflict` or `pending`.
    #[getter]
    fn result(&self) -> PyResult<&'static str> {
        Ok(result_kind(&self.decided()?))
    }

    /// Whether the facts decide the result (not pending).
    #[getter]
    fn is_decided(&self) -> bool {
        self.eval.is_decided()
    }

    /// The outcome (with `rule`, `outcome` and `otherwise`).
    #[getter]
    fn outcome(&self) -> PyResult<Option<&str>> {
        Ok(self.decided()?.outcome())
    }

    /// The rule that decides (with `rule`).
    #[getter]
    fn rule(&self) -> PyResult<Option<&str>> {
        Ok(self.decided()?.rule())
    }

    /// With `conflict`: the rules that match.
    #[getter]
    fn rules(&self) -> PyResult<Vec<&str>> {
        Ok(match self.decided()? {
            Decided::Conflict { rules, .. } => rules.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        })
    }

    /// With `conflict`: the outcomes of the rules that match.
    #[getter]
    fn outcomes(&self) -> PyResult<Vec<&str>> {
        Ok(match self.decided()? {
            Decided::Conflict { outcomes, .. } => outcomes.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        })
    }

    /// With `pending`: the missing facts the result depends on, in the artifact's order.
    #[getter]
    fn needed(&self) -> Vec<&str> {
        self.artifact.fact_names(&self.eval.needed)
    }

    /// The leaves some completion of the missing facts reaches, ascending.
    #[getter]
    fn leaves(&self) -> Vec<u32> {
        self.eval.leaves.clone()
    }

    /// The tests taken from the root, up to the leaf or the first test of a missing fact.
    #[getter]
    fn path(&self) -> PyResult<Vec<Step>> {
        self.steps()
    }

    /// The facts declared `documentation: true` the result rests on, in the artifact's order.
    #[getter]
    fn documentation(&self) -> Vec<&str> {
        self.artifact.documentation(&self.eval)
    }

    /// The result as a dict in the shape of the conformance vectors' results: `decision`,
    /// `result`, `outcome` and `rule` when there are, `rules` and `outcomes` for a conflict,
    /// `needed` when pending, `leaves`, `path` (each `{"node", "holds"}`) and `documentation`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = self.decided()?;
        let out = PyDict::new(py);
        out.set_item("decision", self.decision_ref()?.name())?;
        out.set_item("result", result_kind(&d))?;
        if let Some(outcome) = d.outcome() {
            out.set_item("outcome", outcome)?;
        }
        if let Some(rule) = d.rule() {
            out.set_item("rule", rule)?;
        }
        if let Decided::Conflict { rules, outcomes } = d {
            out.set_item("rules", rules)?;
            out.set_item("outcomes", outcomes)?;
        }
        if let Decided::Pending = d {
            out.set_item("needed", self.needed())?;
        }
        out.set_item("leaves", &self.eval.leaves)?;
        let path = PyList::empty(py);
        for s in &self.eval.path {
            let step = PyDict::new(py);
            step.set_item("node", s.node)?;
            step.set_item("holds", s.holds)?;
            path.append(step)?;
        }
        out.set_item("path", path)?;
        out.set_item("documentation", self.artifact.documentation(&self.eval))?;
        Ok(out)
    }

    /// The result as `medpol eval --explain` prints it.
    fn explain(&self) -> PyResult<String> {
        let name = self.decision_ref()?.name();
        let mut out = match self.decided()? {
            Decided::Pending => format!("{name}: pending: needs {}\n", quoted(&self.needed())),
            Decided::Conflict { rules, .. } => {
                let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
                format!("{name}: conflict: rules {} all match\n", quoted(&rules))
            }
            Decided::NoRule => format!("{name}: no rule applies\n"),
            Decided::Rule { outcome, rule } => format!("{name}: {outcome} by rule `{rule}`\n"),
            Decided::Otherwise { outcome } => format!("{name}: {outcome} by `otherwise`\n"),
            Decided::Outcome { outcome } => {
                format!("{name}: {outcome} (the rule depends on missing facts)\n")
            }
        };
        for s in self.steps()? {
            let yes = |holds: bool| if holds { "yes" } else { "no " };
            let file = s.file.as_deref().unwrap_or("?");
            let line = s.line.unwrap_or(0);
            let text = s.text.as_deref().unwrap_or("");
            // The author's condition and which way it went where the text says the test in
            // other words or its opposite; else the test and the text it comes from.
            out.push_str(&match s.text_holds {
                Some(holds) => format!("  {} {text}  ({file}:{line})\n", yes(holds)),
                None => format!(
                    "  {} {}  ({file}:{line}: `{text}`)\n",
                    yes(s.holds),
                    s.test.as_deref().unwrap_or(&s.fact)
                ),
            });
        }
        let documentation = self.artifact.documentation(&self.eval);
        if !documentation.is_empty() {
            out.push_str(&format!(
                "  documentation needed: {}\n",
                quoted(&documentation)
            ));
        }
        Ok(out)
    }

    fn __repr__(&self) -> PyResult<String> {
        let d = self.decided()?;
        let mut out = format!(
            "DecisionResult(decision={}, result={}",
            repr(self.decision_ref()?.name()),
            repr(result_kind(&d))
        );
        if let Some(outcome) = d.outcome() {
            out.push_str(&format!(", outcome={}", repr(outcome)));
        }
        if let Some(rule) = d.rule() {
            out.push_str(&format!(", rule={}", repr(rule)));
        }
        let needed = self.needed();
        if !needed.is_empty() {
            out.push_str(&format!(", needed={}", repr_list(&needed)));
        }
        out.push(')');
        Ok(out)
    }
}

#[pymethods]
impl Step {
    fn __repr__(&self) -> String {
        format!(
            "Step(node={}, fact={}, holds={})",
            self.node,
            repr(&self.fact),
            if self.holds { "True" } else { "False" }
        )
    }
}

#[pymethods]
impl RowError {
    /// The error as a dict: `{"index", "kind", "fact", "message"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        out.set_item("index", self.index)?;
        out.set_item("kind", &self.kind)?;
        out.set_item("fact", &self.fact)?;
        out.set_item("message", &self.message)?;
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!(
            "RowError(index={}, kind={}, fact={}, message={})",
            self.index,
            repr(&self.kind),
            self.fact.as_deref().map_or("None".to_string(), repr),
            repr(&self.message)
        )
    }
}

#[pymethods]
impl Fact {
    fn __repr__(&self) -> String {
        format!(
            "Fact(name={}, type={})",
            repr(&self.name),
            repr(&self.r#type)
        )
    }
}

/// The native module; `medpol_artifact` re-exports it.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{Artifact, DecisionResult, Fact, FactError, LoadError, RowError, Step};
}
