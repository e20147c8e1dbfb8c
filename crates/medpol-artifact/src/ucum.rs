//! The units of measurements, by their UCUM codes (the Unified Code for Units of Measure, the
//! codes FHIR quantities carry): each with its dimension and its exact factor to the
//! dimension's base unit, so that `154 [lb_av]` converts exactly into kilograms. Durations and
//! percentages keep their own words (`weeks`, `%`, see [`crate::num::Unit`]); they are units of
//! the same table in the language's eyes, in dimensions of their own.
//!
//! The table lists the units coverage policies measure in; a code it does not list is an
//! unknown unit, with the listed code suggested for a common spelling (`lb` is `[lb_av]`).

use std::fmt;

use crate::num::Num;

/// Exponents of the base dimensions: mass (gram), length (metre), plane angle (degree) and
/// pressure (millimetre of mercury). UCUM counts the degree as dimensionless and the mm[Hg]
/// as mass, length and time; a policy never mixes them with other units, so each is a base
/// here and no conversion can mistake one for a plain number or a force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dim(pub [i8; 4]);

const MASS: Dim = Dim([1, 0, 0, 0]);
const LENGTH: Dim = Dim([0, 1, 0, 0]);
const AREA: Dim = Dim([0, 2, 0, 0]);
const VOLUME: Dim = Dim([0, 3, 0, 0]);
const MASS_PER_AREA: Dim = Dim([1, -2, 0, 0]);
const CONCENTRATION: Dim = Dim([1, -3, 0, 0]);
const ANGLE: Dim = Dim([0, 0, 1, 0]);
const PRESSURE: Dim = Dim([0, 0, 0, 1]);
impl Dim {
    /// Its name in messages: `a mass`, `a mass concentration`.
    pub fn describe(self) -> String {
        let named = [
            (MASS, "a mass"),
            (LENGTH, "a length"),
            (AREA, "an area"),
            (VOLUME, "a volume"),
            (MASS_PER_AREA, "a mass per area"),
            (CONCENTRATION, "a mass concentration"),
            (ANGLE, "an angle"),
            (PRESSURE, "a pressure"),
        ];
        if let Some((_, name)) = named.iter().find(|(d, _)| *d == self) {
            return (*name).to_string();
        }
        // A dimension no unit of the table has, as UCUM would write it in base units.
        let bases = ["g", "m", "deg", "mm[Hg]"];
        let mut text = String::new();
        for (base, exp) in bases.iter().zip(self.0) {
            if exp == 0 {
                continue;
            }
            if !text.is_empty() {
                text.push('.');
            }
            text.push_str(base);
            if exp != 1 {
                text.push_str(&exp.to_string());
            }
        }
        format!("a quantity in {text}")
    }
}

/// A unit of the table (an index into it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ucum(u8);

struct Def {
    code: &'static str,
    dim: Dim,
    /// The unit in the dimension's base unit, as a fraction.
    factor: (i128, i128),
}

const fn def(code: &'static str, dim: Dim, numer: i128, denom: i128) -> Def {
    Def {
        code,
        dim,
        factor: (numer, denom),
    }
}

/// The units, by dimension.
static TABLE: &[Def] = &[
    def("kg", MASS, 1000, 1),
    def("g", MASS, 1, 1),
    def("mg", MASS, 1, 1_000),
    def("ug", MASS, 1, 1_000_000),
    def("ng", MASS, 1, 1_000_000_000),
    // The avoirdupois pound and ounce, exactly as UCUM defines them.
    def("[lb_av]", MASS, 45_359_237, 100_000),
    def("[oz_av]", MASS, 28_349_523_125, 1_000_000_000),
    def("m", LENGTH, 1, 1),
    def("cm", LENGTH, 1, 100),
    def("mm", LENGTH, 1, 1_000),
    def("km", LENGTH, 1_000, 1),
    def("[in_i]", LENGTH, 254, 10_000),
    def("[ft_i]", LENGTH, 3_048, 10_000),
    def("m2", AREA, 1, 1),
    def("cm2", AREA, 1, 10_000),
    def("L", VOLUME, 1, 1_000),
    def("dL", VOLUME, 1, 10_000),
    def("mL", VOLUME, 1, 1_000_000),
    def("kg/m2", MASS_PER_AREA, 1_000, 1),
    def("g/m2", MASS_PER_AREA, 1, 1),
    // Mass concentrations, in grams per cubic metre.
    def("g/L", CONCENTRATION, 1_000, 1),
    def("g/dL", CONCENTRATION, 10_000, 1),
    def("mg/dL", CONCENTRATION, 10, 1),
    def("mg/L", CONCENTRATION, 1, 1),
    def("ug/mL", CONCENTRATION, 1, 1),
    def("ug/L", CONCENTRATION, 1, 1_000),
    def("ng/mL", CONCENTRATION, 1, 1_000),
    def("ng/L", CONCENTRATION, 1, 1_000_000),
    def("pg/mL", CONCENTRATION, 1, 1_000_000),
    def("deg", ANGLE, 1, 1),
    def("mm[Hg]", PRESSURE, 1, 1),
];

/// Common spellings that are not UCUM codes, with the code to write instead.
static SPELLINGS: &[(&str, &str)] = &[
    ("lb", "[lb_av]"),
    ("lbs", "[lb_av]"),
    ("pound", "[lb_av]"),
    ("pounds", "[lb_av]"),
    ("oz", "[oz_av]"),
    ("in", "[in_i]"),
    ("inch", "[in_i]"),
    ("inches", "[in_i]"),
    ("ft", "[ft_i]"),
    ("feet", "[ft_i]"),
    ("mmHg", "mm[Hg]"),
    ("mmhg", "mm[Hg]"),
    ("degree", "deg"),
    ("degrees", "deg"),
    ("mcg", "ug"),
    ("µg", "ug"),
    ("μg", "ug"),
    ("m²", "m2"),
    ("cc", "mL"),
    ("ml", "mL"),
    ("l", "L"),
    ("dl", "dL"),
    ("kg/m^2", "kg/m2"),
    ("kg/m²", "kg/m2"),
    ("mcg/L", "ug/L"),
    ("mcg/mL", "ug/mL"),
    ("kilogram", "kg"),
    ("kilograms", "kg"),
    ("gram", "g"),
    ("grams", "g"),
    ("metre", "m"),
    ("meter", "m"),
    ("centimeter", "cm"),
    ("centimeters", "cm"),
];

impl Ucum {
    /// The unit of a UCUM code (case matters, as in UCUM: `mL`, not `ml`).
    pub fn parse(code: &str) -> Option<Ucum> {
        TABLE
            .iter()
            .position(|d| d.code == code)
            .and_then(|i| u8::try_from(i).ok())
            .map(Ucum)
    }

    /// The UCUM code to write for a unit the table does not know: a common spelling
    /// (`lb`), or a code in the wrong case (`ML`).
    pub fn suggest(text: &str) -> Option<&'static str> {
        if let Some((_, code)) = SPELLINGS.iter().find(|(s, _)| *s == text) {
            return Some(code);
        }
        TABLE
            .iter()
            .find(|d| d.code.eq_ignore_ascii_case(text))
            .map(|d| d.code)
    }

    /// The word a duration is written with for its UCUM code (`wk` is `weeks`): durations keep
    /// their words in policies and facts.
    pub fn duration_word(code: &str) -> Option<&'static str> {
        Some(match code {
            "d" => "days",
            "wk" => "weeks",
            "mo" => "months",
            "a" => "years",
            _ => return None,
        })
    }

    /// Every code of the table, for help texts and completion.
    pub fn codes() -> impl Iterator<Item = &'static str> {
        TABLE.iter().map(|d| d.code)
    }

    fn def(self) -> &'static Def {
        // Only `parse` makes a `Ucum`, from an index of the table.
        TABLE.get(usize::from(self.0)).unwrap_or(&TABLE_FIRST)
    }

    pub fn code(self) -> &'static str {
        self.def().code
    }

    pub fn dim(self) -> Dim {
        self.def().dim
    }

    /// One of this unit in the dimension's base unit.
    pub fn factor(self) -> Num {
        let (n, d) = self.def().factor;
        Num::ratio(n, d).unwrap_or(Num::from_int(1))
    }

    /// Whether amounts in it are never negative: every dimension but the angle (a kyphosis
    /// angle or a curve may be measured in either direction).
    pub fn nonnegative(self) -> bool {
        self.dim() != ANGLE
    }
}

/// What [`Ucum::def`] falls back to; never reached, as every `Ucum` indexes the table.
static TABLE_FIRST: Def = def("kg", MASS, 1000, 1);

impl fmt::Display for Ucum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_case_sensitively_and_suggested() {
        assert!(Ucum::parse("kg/m2").is_some());
        assert!(Ucum::parse("ml").is_none());
        assert_eq!(Ucum::suggest("ml"), Some("mL"));
        assert_eq!(Ucum::suggest("lb"), Some("[lb_av]"));
        assert_eq!(Ucum::suggest("KG"), Some("kg"));
        assert_eq!(Ucum::suggest("furlong"), None);
        assert_eq!(Ucum::duration_word("wk"), Some("weeks"));
    }

    #[test]
    fn every_code_is_listed_once_and_the_table_fits_its_index() {
        let mut codes: Vec<&str> = Ucum::codes().collect();
        assert!(codes.len() <= usize::from(u8::MAX));
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len());
        for (_, code) in SPELLINGS {
            assert!(Ucum::parse(code).is_some(), "{code}");
        }
    }

    #[test]
    fn dimensions_are_named() {
        assert_eq!(MASS_PER_AREA.describe(), "a mass per area");
        assert_eq!(Dim([1, 1, 0, 0]).describe(), "a quantity in g.m");
    }
}
