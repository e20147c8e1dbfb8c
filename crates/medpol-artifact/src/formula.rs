//! Derived values: a value computed from facts with `+ - * /` (`define bmi = weight / (height *
//! height)`), exactly, over rational numbers. One definition serves the compiler's interpreter
//! and the artifact's evaluator, so the two compute the same value from the same facts.

use serde::{Deserialize, Serialize};

use crate::num::Num;

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
        }
    }
}

/// A formula over facts (`F` names a fact: an id in the compiler, an index of the input schema
/// in an artifact) and exact numbers; each fact counts in its own unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Formula<F> {
    Fact(F),
    Number(Num),
    Op(Op, Box<Formula<F>>, Box<Formula<F>>),
}

/// Why a formula has no value for facts that are all known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormulaError {
    /// A divisor is zero.
    ZeroDivisor,
    /// A result is too large or too precise for an exact number.
    Overflow,
}

impl FormulaError {
    /// In words, for a message that names the derived value.
    pub fn describe(self) -> &'static str {
        match self {
            FormulaError::ZeroDivisor => "divides by zero",
            FormulaError::Overflow => "is too large or too precise to compute exactly",
        }
    }
}

impl<F: PartialEq> Formula<F> {
    /// The facts it reads, each once, in the order they are first written.
    pub fn facts(&self) -> Vec<&F> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a F>) {
        match self {
            Formula::Fact(f) => {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
            Formula::Number(_) => {}
            Formula::Op(_, a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }

    /// How many times it reads `fact`.
    fn reads(&self, fact: &F) -> usize {
        match self {
            Formula::Fact(f) => usize::from(f == fact),
            Formula::Number(_) => 0,
            Formula::Op(_, a, b) => a.reads(fact) + b.reads(fact),
        }
    }

    /// Its value for the facts `get` gives: `Ok(None)` when one it reads is missing (whatever
    /// the others are), an error when the known facts give no exact value.
    pub fn value(&self, get: &impl Fn(&F) -> Option<Num>) -> Result<Option<Num>, FormulaError> {
        if self.facts().into_iter().any(|f| get(f).is_none()) {
            return Ok(None);
        }
        self.compute(get).map(Some)
    }

    fn compute(&self, get: &impl Fn(&F) -> Option<Num>) -> Result<Num, FormulaError> {
        match self {
            Formula::Fact(f) => get(f).ok_or(FormulaError::Overflow),
            Formula::Number(n) => Ok(*n),
            Formula::Op(op, a, b) => {
                let (a, b) = (a.compute(get)?, b.compute(get)?);
                let result = match op {
                    Op::Add => a.checked_add(b),
                    Op::Sub => a.checked_sub(b),
                    Op::Mul => a.checked_mul(b),
                    Op::Div if b == Num::from_int(0) => return Err(FormulaError::ZeroDivisor),
                    Op::Div => a.checked_div(b),
                };
                result.ok_or(FormulaError::Overflow)
            }
        }
    }

    /// The value of `fact` that makes the formula `target`, the other facts being what `get`
    /// gives: found by undoing each operation on the way to the fact, so only when the formula
    /// reads it once (`weight` in `weight / (height * height)`, not `height`), and `None` when
    /// no exact value does (a zero factor, an overflow).
    pub fn solve(&self, fact: &F, target: Num, get: &impl Fn(&F) -> Option<Num>) -> Option<Num> {
        if self.reads(fact) != 1 {
            return None;
        }
        let mut node = self;
        let mut target = target;
        loop {
            match node {
                Formula::Fact(_) => return Some(target),
                Formula::Number(_) => return None,
                Formula::Op(op, a, b) => {
                    let left = a.reads(fact) == 1;
                    let other = if left { b } else { a }.compute(get).ok()?;
                    target = match (op, left) {
                        (Op::Add, _) => target.checked_sub(other)?,
                        (Op::Sub, true) => target.checked_add(other)?,
                        (Op::Sub, false) => other.checked_sub(target)?,
                        (Op::Mul, _) => target.checked_div(other)?,
                        (Op::Div, true) => target.checked_mul(other)?,
                        (Op::Div, false) => other.checked_div(target)?,
                    };
                    node = if left { a } else { b };
                }
            }
        }
    }

    /// The same formula with its facts renamed.
    pub fn map<G>(&self, rename: &impl Fn(&F) -> G) -> Formula<G> {
        match self {
            Formula::Fact(f) => Formula::Fact(rename(f)),
            Formula::Number(n) => Formula::Number(*n),
            Formula::Op(op, a, b) => {
                Formula::Op(*op, Box::new(a.map(rename)), Box::new(b.map(rename)))
            }
        }
    }
}

/// A formula as an artifact writes it: `{"fact": 0}`, `{"number": "1000"}`, `{"div": [A, B]}`
/// (and `add`, `sub`, `mul`), the facts by their index in the input schema and each number
/// exact, as thresholds are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FormulaDoc {
    Fact(u32),
    Number(String),
    Add(Box<FormulaDoc>, Box<FormulaDoc>),
    Sub(Box<FormulaDoc>, Box<FormulaDoc>),
    Mul(Box<FormulaDoc>, Box<FormulaDoc>),
    Div(Box<FormulaDoc>, Box<FormulaDoc>),
}

impl FormulaDoc {
    pub fn new(f: &Formula<u32>) -> FormulaDoc {
        match f {
            Formula::Fact(i) => FormulaDoc::Fact(*i),
            Formula::Number(n) => FormulaDoc::Number(n.to_string()),
            Formula::Op(op, a, b) => {
                let (a, b) = (Box::new(FormulaDoc::new(a)), Box::new(FormulaDoc::new(b)));
                match op {
                    Op::Add => FormulaDoc::Add(a, b),
                    Op::Sub => FormulaDoc::Sub(a, b),
                    Op::Mul => FormulaDoc::Mul(a, b),
                    Op::Div => FormulaDoc::Div(a, b),
                }
            }
        }
    }

    /// The formula it writes, or the number that is not one.
    pub fn formula(&self) -> Result<Formula<u32>, String> {
        let op = |op, a: &FormulaDoc, b: &FormulaDoc| {
            Ok(Formula::Op(
                op,
                Box::new(a.formula()?),
                Box::new(b.formula()?),
            ))
        };
        match self {
            FormulaDoc::Fact(i) => Ok(Formula::Fact(*i)),
            FormulaDoc::Number(text) => crate::parse_num(text)
                .map(Formula::Number)
                .ok_or_else(|| text.clone()),
            FormulaDoc::Add(a, b) => op(Op::Add, a, b),
            FormulaDoc::Sub(a, b) => op(Op::Sub, a, b),
            FormulaDoc::Mul(a, b) => op(Op::Mul, a, b),
            FormulaDoc::Div(a, b) => op(Op::Div, a, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Num {
        Num::parse(text).unwrap_or_else(|_| Num::from_int(0))
    }

    /// `w / (h * h)` over facts 0 and 1.
    fn bmi() -> Formula<u32> {
        let h = || Box::new(Formula::Fact(1));
        Formula::Op(
            Op::Div,
            Box::new(Formula::Fact(0)),
            Box::new(Formula::Op(Op::Mul, h(), h())),
        )
    }

    #[test]
    fn computes_exactly_and_reports_zero_and_missing() {
        let get =
            |values: [Option<Num>; 2]| move |f: &u32| values.get(*f as usize).copied().flatten();
        let f = bmi();
        assert_eq!(
            f.value(&get([Some(n("81")), Some(n("1.8"))])),
            Ok(Some(n("25")))
        );
        assert_eq!(f.value(&get([None, Some(n("0"))])), Ok(None));
        assert_eq!(
            f.value(&get([Some(n("81")), Some(n("0"))])),
            Err(FormulaError::ZeroDivisor)
        );
        assert_eq!(f.facts(), vec![&0, &1]);
    }

    #[test]
    fn solves_a_fact_read_once() {
        let known = |f: &u32| (*f == 1).then(|| n("2"));
        assert_eq!(bmi().solve(&0, n("35"), &known), Some(n("140")));
        assert_eq!(bmi().solve(&1, n("35"), &|_| Some(n("140"))), None);
        // The fact in a divisor: 10 / x = 4 gives 2.5.
        let f = Formula::Op(
            Op::Div,
            Box::new(Formula::Number(n("10"))),
            Box::new(Formula::Fact(0)),
        );
        assert_eq!(f.solve(&0, n("4"), &|_| None), Some(n("2.5")));
    }

    #[test]
    fn round_trips_through_its_document() {
        let doc = FormulaDoc::new(&bmi());
        let json = serde_json::to_string(&doc).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"div":[{"fact":0},{"mul":[{"fact":1},{"fact":1}]}]}"#
        );
        assert_eq!(doc.formula(), Ok(bmi()));
    }
}
