//! Units of measurement: reading a unit as written (a duration's word, `%` or a UCUM code of
//! the unit table, `crates/medpol-artifact/src/ucum.rs`) and the errors of units that do not
//! exist or measure something else.

use medpol_artifact::ucum::Ucum;

use super::{Checker, names};
use crate::ast;
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::source::Span;
use crate::types::{Family, Unit};

impl Checker<'_> {
    /// The unit `unit` names; an unknown one is reported (E0140) with the UCUM code to write
    /// when one is likely meant.
    pub(super) fn unit(&mut self, unit: &ast::Ident) -> Option<Unit> {
        if let Some(u) = Unit::parse(&unit.name) {
            return Some(u);
        }
        let durations = ["days", "weeks", "months", "years"];
        let mut d = Diagnostic::new(
            Code::UnknownUnit,
            format!("unknown unit `{}`", shown(&unit.name)),
        )
        .primary(unit.span, "not a unit of the unit table");
        d = if let Some(word) = Ucum::duration_word(&unit.name) {
            d.help(format!("durations keep their words: write `{word}`"))
        } else if let Some(code) = Ucum::suggest(&unit.name) {
            d.help(format!("write the UCUM code `{code}`"))
        } else if let Some(s) =
            names::suggest(&unit.name, durations.into_iter().chain(Ucum::codes()))
        {
            d.help(format!("did you mean `{s}`?"))
        } else {
            d.help(
                "write a UCUM code such as `kg`, `cm`, `kg/m2`, `ng/mL`, `deg` or `mm[Hg]`, a duration's unit or `%`",
            )
        };
        self.report(d);
        None
    }

    /// Reports a quantity whose unit measures another dimension than the one it is compared
    /// with or given for (E0141): `weight >= 170 cm`. `what` is the fact or value it meets,
    /// as written.
    pub(super) fn wrong_dimension(
        &mut self,
        (what, expected, expected_span): (&str, Unit, Option<Span>),
        (written, found, found_span): (&str, Unit, Span),
    ) {
        let mut d = Diagnostic::new(
            Code::WrongDimension,
            format!(
                "`{}` is {} but `{}` is {}",
                shown(what),
                expected.describe(),
                shown(written),
                found.describe()
            ),
        )
        .primary(found_span, found.describe());
        if let Some(span) = expected_span {
            d = d.secondary(span, expected.describe());
        }
        self.report(d.help(format!(
            "give it in `{}` or a unit that converts to it",
            expected.name()
        )));
    }
}

/// Whether two units are of different dimensions, where at least one is a measurement: no
/// conversion, not even `as`, relates them.
pub(super) fn different_dimensions(a: Unit, b: Unit) -> bool {
    let measure = |u: Unit| matches!(u.family(), Family::Measure(_));
    (measure(a) || measure(b)) && a.family() != b.family()
}
