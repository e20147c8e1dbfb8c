//! Python values to JSON text, for facts given as a dict.
//!
//! Facts are read by the artifact crate from JSON text, and a dict is written as that text, so
//! that a dict and the same facts written by hand are read alike. The crate reads a JSON number
//! as the nearest 64-bit float (as its shortest decimal) and a number in a string with every
//! digit; so a `float` is written as a number (the reader gets the same double back, read as
//! `repr` prints it), and an `int` too while it fits 64 bits. A `Decimal`, and an `int` past
//! 64 bits, keep every digit where the artifact reads a number from a string: as the value of
//! an `int` or `decimal` fact or record field, and as the `value` of a `{"value", "unit"}`
//! object; elsewhere they are numbers, and the fact refuses them as it refuses any number. A
//! `date` is written `YYYY-MM-DD`, an infinity as `1e400` (a number past any double, as a JSON
//! text would give one). Anything else (a `datetime`, a NaN, an object of another type) is
//! refused as a value of the wrong type for its fact: nothing is guessed.

use std::fmt::Write as _;

use medpol_artifact::num::Num;
use medpol_artifact::{Artifact, Document, FactSchema, FactType, RecordSchema};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString,
    PyTuple, PyType,
};

/// Nesting deeper than this is refused: facts are at most an object of lists of objects, and a
/// list that holds itself must not recurse without end.
const MAX_DEPTH: usize = 32;

/// Why a Python value has no JSON text: `fact` is the top-level key it was given under.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Not a mapping, or a key that is not a string: not an object of facts.
    NotObject(String),
    /// A value of a type with no JSON form, under the fact `fact`.
    Value { fact: String, message: String },
    /// Text that is not UTF-8 (bytes, or a `str` with lone surrogates).
    Syntax(String),
}

static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Where a value sits, as far as writing a number exactly is concerned.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// The value of a fact or of a record's field.
    Fact(&'a FactSchema),
    /// An item of a list fact.
    Item(&'a RecordSchema),
    /// The `value` of a `{"value", "unit"}` object.
    Amount,
    /// Anywhere else (under a key that is not a fact, in a list of codes, ...).
    Other,
}

impl Place<'_> {
    /// Whether the artifact reads a number given here from a string, every digit kept.
    fn numeric(self) -> bool {
        match self {
            Place::Fact(f) => matches!(f.ty, FactType::Int | FactType::Decimal),
            Place::Amount => true,
            Place::Item(_) | Place::Other => false,
        }
    }
}

/// The place of each element of a list at `place`.
fn element<'a>(doc: &'a Document, place: Place<'a>) -> Place<'a> {
    match place {
        Place::Fact(f) if f.ty == FactType::List => f
            .record
            .and_then(|r| doc.records.get(r as usize))
            .map_or(Place::Other, Place::Item),
        _ => Place::Other,
    }
}

/// The place of the value under `key` of an object at `place`.
fn member<'a>(place: Place<'a>, key: &str) -> Place<'a> {
    match place {
        Place::Item(record) => record
            .fields
            .iter()
            .find(|f| f.name == key)
            .map_or(Place::Other, Place::Fact),
        Place::Fact(f)
            if key == "value"
                && matches!(
                    f.ty,
                    FactType::Duration | FactType::Percent | FactType::Quantity
                ) =>
        {
            Place::Amount
        }
        _ => Place::Other,
    }
}

/// The JSON text of one patient's facts given as a `dict` (or another mapping), for the
/// artifact that is to read them.
pub(crate) fn facts_text(
    obj: &Bound<'_, PyAny>,
    artifact: &Artifact,
) -> PyResult<Result<String, Refused>> {
    let doc = artifact.document();
    let mut out = String::with_capacity(256);
    let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = if let Ok(dict) = obj.cast::<PyDict>() {
        dict.iter().collect()
    } else if obj.hasattr("items")? && obj.hasattr("__getitem__")? {
        let mut items = Vec::new();
        for item in obj.call_method0("items")?.try_iter()? {
            items.push(item?.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?);
        }
        items
    } else {
        return Ok(Err(Refused::NotObject(format!(
            "the facts must be JSON text or a mapping of fact names to values, not `{}`",
            type_name(obj)
        ))));
    };
    out.push('{');
    for (i, (key, value)) in items.iter().enumerate() {
        let Ok(key) = key.cast::<PyString>() else {
            return Ok(Err(Refused::NotObject(format!(
                "a fact's name must be a string, not `{}`",
                type_name(key)
            ))));
        };
        let Ok(name) = key.to_str() else {
            return Ok(Err(Refused::Syntax(
                "a fact's name is not valid UTF-8 (it holds a lone surrogate)".to_string(),
            )));
        };
        if i > 0 {
            out.push(',');
        }
        write_string(&mut out, name);
        out.push(':');
        let place = artifact
            .fact_index(name)
            .and_then(|i| doc.facts.get(i as usize))
            .map_or(Place::Other, Place::Fact);
        if let Err(message) = write_value(&mut out, value, doc, place, 0)? {
            return Ok(Err(Refused::Value {
                fact: name.to_string(),
                message: format!("fact `{name}`: {message}"),
            }));
        }
    }
    out.push('}');
    Ok(Ok(out))
}

/// Writes one value; `Ok(Err(message))` when it has no JSON form.
fn write_value(
    out: &mut String,
    v: &Bound<'_, PyAny>,
    doc: &Document,
    place: Place<'_>,
    depth: usize,
) -> PyResult<Result<(), String>> {
    let py = v.py();
    if v.is_none() {
        out.push_str("null");
    } else if let Ok(b) = v.cast::<PyBool>() {
        // Before `int`: `bool` is a subclass of it.
        out.push_str(if b.is_true() { "true" } else { "false" });
    } else if let Ok(s) = v.cast::<PyString>() {
        match s.to_str() {
            Ok(s) => write_string(out, s),
            Err(_) => {
                return Ok(Err(
                    "a string with a lone surrogate is not UTF-8".to_string()
                ));
            }
        }
    } else if let Ok(int) = v.cast::<PyInt>() {
        let digits = int.str()?;
        let digits = digits.to_str()?;
        if int.extract::<i64>().is_err() {
            write_exact(out, digits, place);
        } else {
            out.push_str(digits);
        }
    } else if let Ok(f) = v.cast::<PyFloat>() {
        let f = f.value();
        if f.is_nan() {
            return Ok(Err("NaN is not a number a fact can have".to_string()));
        }
        if f.is_infinite() {
            // As JSON text would write a number past any double (`1e400` reads as infinity in
            // Python): the artifact refuses it as too large, or as not the fact's type.
            out.push_str(if f > 0.0 { "1e400" } else { "-1e400" });
            return Ok(Ok(()));
        }
        // The shortest decimal that reads back as the same double, as `repr` prints it (with
        // an exponent for very large or small magnitudes: `1e300`, `1e-7`): the reader gets
        // this double back.
        let _ = write!(out, "{f:?}");
    } else if v.is_instance(DECIMAL.import(py, "decimal", "Decimal")?)? {
        if v.call_method0("is_nan")?.is_truthy()? {
            return Ok(Err(format!("{} is not a number a fact can have", v.str()?)));
        }
        if v.call_method0("is_infinite")?.is_truthy()? {
            // As a float's infinity is written.
            let negative = v.call_method0("is_signed")?.is_truthy()?;
            out.push_str(if negative { "-1e400" } else { "1e400" });
            return Ok(Ok(()));
        }
        // Plain digits (`100` for `1E+2`), as the artifact reads numbers; past any number a
        // fact can hold, the exponent form, which it refuses as too large.
        let adjusted: i64 = v.call_method0("adjusted")?.extract()?;
        let text = if adjusted.abs() <= 400 {
            v.call_method1("__format__", ("f",))?
        } else {
            v.str()?.into_any()
        };
        write_exact(out, text.cast::<PyString>()?.to_str()?, place);
    } else if v.is_instance(DATETIME.import(py, "datetime", "datetime")?)? {
        return Ok(Err(
            "a datetime is not a date: give `value.date()` for the day".to_string(),
        ));
    } else if v.is_instance(DATE.import(py, "datetime", "date")?)? {
        write_string(
            out,
            v.call_method0("isoformat")?.cast::<PyString>()?.to_str()?,
        );
    } else if depth >= MAX_DEPTH {
        return Ok(Err(format!("values nested more than {MAX_DEPTH} deep")));
    } else if v.cast::<PyList>().is_ok()
        || v.cast::<PyTuple>().is_ok()
        || v.cast::<PySet>().is_ok()
        || v.cast::<PyFrozenSet>().is_ok()
    {
        out.push('[');
        for (i, item) in v.try_iter()?.enumerate() {
            if i > 0 {
                out.push(',');
            }
            if let Err(message) = write_value(out, &item?, doc, element(doc, place), depth + 1)? {
                return Ok(Err(message));
            }
        }
        out.push(']');
    } else if let Ok(dict) = v.cast::<PyDict>() {
        out.push('{');
        for (i, (key, value)) in dict.iter().enumerate() {
            let Ok(key) = key.cast::<PyString>() else {
                return Ok(Err(format!(
                    "a key of an object must be a string, not `{}`",
                    type_name(&key)
                )));
            };
            let Ok(key) = key.to_str() else {
                return Ok(Err("a key with a lone surrogate is not UTF-8".to_string()));
            };
            if i > 0 {
                out.push(',');
            }
            write_string(out, key);
            out.push(':');
            if let Err(message) = write_value(out, &value, doc, member(place, key), depth + 1)? {
                return Ok(Err(message));
            }
        }
        out.push('}');
    } else if v.hasattr("__index__")? {
        // An integer of another type (NumPy's `int64`, say): its value, all digits.
        let index = py.import("operator")?.call_method1("index", (v,))?;
        out.push_str(index.str()?.to_str()?);
    } else {
        return Ok(Err(format!(
            "a Python `{}` has no JSON form (give str, int, float, Decimal, bool, None, date, \
             a list or a dict)",
            type_name(v)
        )));
    }
    Ok(Ok(()))
}

/// A number that a 64-bit float may not hold: in a string where the artifact reads one from a
/// string and can hold it, every digit kept; else a number (which the artifact refuses, as too
/// large or as not the fact's type, as it would written by hand).
fn write_exact(out: &mut String, digits: &str, place: Place<'_>) {
    if place.numeric() && Num::parse(digits).is_ok() {
        write_string(out, digits);
    } else {
        out.push_str(digits);
    }
}

/// A JSON string literal.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Facts or an artifact given as text: a `str`, or UTF-8 `bytes`. `Ok(None)` for another type.
pub(crate) fn text_of<'a>(
    obj: &'a Bound<'_, PyAny>,
) -> PyResult<Option<Result<std::borrow::Cow<'a, str>, Refused>>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(s.to_str().map(Into::into).map_err(|_| {
            Refused::Syntax("the text is not valid UTF-8 (it holds a lone surrogate)".to_string())
        })));
    }
    let bytes: Vec<u8> = if let Ok(b) = obj.cast::<PyBytes>() {
        b.as_bytes().to_vec()
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        b.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(String::from_utf8(bytes).map(Into::into).map_err(
        |e| {
            Refused::Syntax(format!(
                "the text is not valid UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ))
        },
    )))
}

pub(crate) fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string())
}
