//! Exact numbers and the units of quantities.

use std::fmt;

use num_rational::Ratio;
use num_traits::{CheckedAdd, CheckedDiv, CheckedMul, CheckedSub, Signed, ToPrimitive, Zero};

pub use crate::ucum::{Dim, Ucum};

/// An exact number. Decimal literals are exact (`78.5` is 785/10); conversions between units
/// may make fractions that no decimal writes (a day is 1/30 of a month), so the value is a
/// fraction of two 128-bit integers, and every operation checks for overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Num(Ratio<i128>);

/// Why a number literal could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumError {
    Malformed,
    TooLarge,
}

/// Literals may have at most this many significant digits, and this many decimal places.
pub const MAX_DIGITS: usize = 30;

impl Num {
    pub fn from_int(n: i128) -> Num {
        Num(Ratio::from_integer(n))
    }

    pub fn ratio(numer: i128, denom: i128) -> Option<Num> {
        (denom != 0).then(|| Num(Ratio::new(numer, denom)))
    }

    /// Reads a decimal literal such as `-2.95`.
    pub fn parse(text: &str) -> Result<Num, NumError> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        // Byte searches: for a handful of characters they beat the general `char` search.
        let (int, frac) = split_at_byte(digits, b'.').unwrap_or((digits, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (digits.contains('.') && frac.is_empty())
        {
            return Err(NumError::Malformed);
        }
        // Significant digits: all but the leading zeros of the integer and fraction together.
        let leading = int.bytes().take_while(|b| *b == b'0').count();
        let leading = if leading == int.len() {
            leading + frac.bytes().take_while(|b| *b == b'0').count()
        } else {
            leading
        };
        let significant = int.len() + frac.len() - leading;
        if significant > MAX_DIGITS || frac.len() > MAX_DIGITS {
            return Err(NumError::TooLarge);
        }
        let mut numer: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            numer = numer
                .checked_mul(10)
                .and_then(|n| n.checked_add(i128::from(b - b'0')))
                .ok_or(NumError::TooLarge)?;
        }
        let exp = u32::try_from(frac.len()).map_err(|_| NumError::TooLarge)?;
        let denom = 10i128.checked_pow(exp).ok_or(NumError::TooLarge)?;
        if negative {
            numer = -numer;
        }
        if denom == 1 {
            // A whole number: nothing to reduce.
            return Ok(Num::from_int(numer));
        }
        Ok(Num(Ratio::new(numer, denom)))
    }

    pub fn checked_mul(self, other: Num) -> Option<Num> {
        self.0.checked_mul(&other.0).map(Num)
    }

    pub fn checked_add(self, other: Num) -> Option<Num> {
        self.0.checked_add(&other.0).map(Num)
    }

    pub fn checked_sub(self, other: Num) -> Option<Num> {
        self.0.checked_sub(&other.0).map(Num)
    }

    pub fn checked_div(self, other: Num) -> Option<Num> {
        if other.0.is_zero() {
            return None;
        }
        self.0.checked_div(&other.0).map(Num)
    }

    pub fn is_integer(self) -> bool {
        self.0.is_integer()
    }

    pub fn is_negative(self) -> bool {
        self.0.is_negative()
    }

    pub fn numer(self) -> i128 {
        *self.0.numer()
    }

    pub fn denom(self) -> i128 {
        *self.0.denom()
    }

    /// The integer part when the number is a whole number that fits.
    pub fn to_i64(self) -> Option<i64> {
        if self.is_integer() {
            self.0.to_integer().to_i64()
        } else {
            None
        }
    }

    pub fn floor(self) -> Num {
        Num(self.0.floor())
    }

    pub fn ceil(self) -> Num {
        Num(self.0.ceil())
    }
}

/// The text before and after the first `byte` (an ASCII character).
pub(crate) fn split_at_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == byte)?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

impl From<i64> for Num {
    fn from(n: i64) -> Num {
        Num::from_int(i128::from(n))
    }
}

impl From<i32> for Num {
    fn from(n: i32) -> Num {
        Num::from_int(i128::from(n))
    }
}

impl From<u32> for Num {
    fn from(n: u32) -> Num {
        Num::from_int(i128::from(n))
    }
}

impl fmt::Display for Num {
    /// Exact decimal form when there is one (`78.5`, `-2.95`), else a fraction (`1/30`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let numer = self.numer();
        let denom = self.denom();
        let mut d = denom;
        let mut digits = 0u32;
        while d % 10 == 0 {
            d /= 10;
            digits += 1;
        }
        let (mut twos, mut fives) = (0u32, 0u32);
        while d % 2 == 0 {
            d /= 2;
            twos += 1;
        }
        while d % 5 == 0 {
            d /= 5;
            fives += 1;
        }
        if d != 1 {
            return write!(f, "{numer}/{denom}");
        }
        let places = digits + twos.max(fives);
        let Some(scale) = 10i128.checked_pow(places) else {
            return write!(f, "{numer}/{denom}");
        };
        let Some(scaled) = numer.checked_mul(scale / denom) else {
            return write!(f, "{numer}/{denom}");
        };
        if places == 0 {
            return write!(f, "{scaled}");
        }
        let sign = if scaled < 0 { "-" } else { "" };
        let abs = scaled.unsigned_abs();
        let scale = scale.unsigned_abs();
        let frac = format!("{:0width$}", abs % scale, width = places as usize);
        write!(f, "{sign}{}.{}", abs / scale, frac.trim_end_matches('0'))
    }
}

/// A unit of a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    Day,
    Week,
    Month,
    Year,
    Percent,
    /// A unit of measurement by its UCUM code (`kg`, `kg/m2`, `ng/mL`).
    Ucum(Ucum),
}

/// Units within one family convert exactly; across families only by convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// days and weeks
    DayBased,
    /// months and years
    MonthBased,
    Percent,
    /// Measurements of one dimension (masses, lengths...).
    Measure(Dim),
}

impl Unit {
    /// The units with words of their own: the durations and `%` (the UCUM codes are listed by
    /// [`Ucum::codes`]).
    pub const ALL: &'static [Unit] = &[
        Unit::Day,
        Unit::Week,
        Unit::Month,
        Unit::Year,
        Unit::Percent,
    ];

    pub fn parse(text: &str) -> Option<Unit> {
        Some(match text {
            "day" | "days" => Unit::Day,
            "week" | "weeks" => Unit::Week,
            "month" | "months" => Unit::Month,
            "year" | "years" => Unit::Year,
            "percent" | "%" => Unit::Percent,
            _ => Unit::Ucum(Ucum::parse(text)?),
        })
    }

    /// The plural name, as in `duration<weeks>`.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Day => "days",
            Unit::Week => "weeks",
            Unit::Month => "months",
            Unit::Year => "years",
            Unit::Percent => "percent",
            Unit::Ucum(u) => u.code(),
        }
    }

    pub fn family(self) -> Family {
        match self {
            Unit::Day | Unit::Week => Family::DayBased,
            Unit::Month | Unit::Year => Family::MonthBased,
            Unit::Percent => Family::Percent,
            Unit::Ucum(u) => Family::Measure(u.dim()),
        }
    }

    /// One of this unit in its family's base unit (the smallest for durations).
    fn in_base(self) -> Num {
        match self {
            Unit::Week => Num::from_int(7),
            Unit::Year => Num::from_int(12),
            Unit::Day | Unit::Month | Unit::Percent => Num::from_int(1),
            Unit::Ucum(u) => u.factor(),
        }
    }

    /// The factor that turns an amount in `self` into an amount in `to`, when the two convert
    /// exactly (same family).
    pub fn exact_factor(self, to: Unit) -> Option<Num> {
        if self == to {
            return Some(Num::from_int(1));
        }
        (self.family() == to.family()).then(|| self.in_base().checked_div(to.in_base()))?
    }

    /// Whether amounts in it are never negative: durations, percentages and measurements
    /// other than angles.
    pub fn nonnegative(self) -> bool {
        match self {
            Unit::Ucum(u) => u.nonnegative(),
            _ => true,
        }
    }

    /// What the unit measures, for messages: `a duration in weeks`, `a mass in kg`.
    pub fn describe(self) -> String {
        match self {
            Unit::Percent => "a percentage".to_string(),
            Unit::Ucum(u) => format!("{} in {}", u.dim().describe(), u.code()),
            _ => format!("a duration in {}", self.name()),
        }
    }

    /// The factor for an explicit `as` conversion: exact within a family, and across the
    /// day/month families by the documented convention of 365 days a year, so a month is a
    /// twelfth of that (30 5/12 days). One convention for both keeps 12 months equal to a year
    /// on either side of a conversion.
    pub fn conventional_factor(self, to: Unit) -> Option<Num> {
        if let Some(f) = self.exact_factor(to) {
            return Some(f);
        }
        let days = |u: Unit| match u {
            Unit::Day => Some(Num::from_int(1)),
            Unit::Week => Some(Num::from_int(7)),
            Unit::Month => Num::ratio(365, 12),
            Unit::Year => Some(Num::from_int(365)),
            Unit::Percent | Unit::Ucum(_) => None,
        };
        days(self)?.checked_div(days(to)?)
    }
}

// ------------------------------------------------------------------ classes of values

// (This part cuts a number line into the classes of values that a set of thresholds tells
// apart; the compiler's analysis and the artifact evaluator both use it.)

/// One class of a numeric fact's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Region {
    /// Exactly this value.
    Point(Num),
    /// Strictly between the two values; `None` is unbounded.
    Between(Option<Num>, Option<Num>),
}

/// The classes of a numeric fact, with a value to show for each.
#[derive(Debug, Clone)]
pub struct NumericDomain {
    pub regions: Vec<Region>,
    /// A value inside each region, chosen to read well (a whole number where one fits).
    pub samples: Vec<Num>,
}

/// The kinds of number a fact holds, as far as its classes of values go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    Int,
    Decimal,
    /// A duration: never negative.
    Duration,
    /// A percentage: from 0 to 100.
    Percent,
    /// A measured amount (a mass, a length...): never negative.
    Amount,
    /// How many items of a list: a whole number, never negative.
    Count,
}

impl NumberKind {
    /// The bounds the kind puts on its values.
    fn bounds(self) -> (Option<Num>, Option<Num>) {
        match self {
            NumberKind::Percent => (Some(Num::from_int(0)), Some(Num::from_int(100))),
            NumberKind::Duration | NumberKind::Amount | NumberKind::Count => {
                (Some(Num::from_int(0)), None)
            }
            NumberKind::Int | NumberKind::Decimal => (None, None),
        }
    }
}

/// Cuts a numeric fact's domain at the given thresholds.
pub fn numeric(kind: NumberKind, thresholds: &[Num]) -> NumericDomain {
    numeric_within(kind, None, thresholds)
}

/// Cuts a numeric fact's domain at the given thresholds, within its declared range (both ends
/// included) when it has one: no class lies outside it.
pub fn numeric_within(
    kind: NumberKind,
    range: Option<(Num, Num)>,
    thresholds: &[Num],
) -> NumericDomain {
    let integer = matches!(kind, NumberKind::Int | NumberKind::Count);
    let (low, high) = kind.bounds();
    let (low, high) = match range {
        Some((a, b)) => (
            Some(low.map_or(a, |l| l.max(a))),
            Some(high.map_or(b, |h| h.min(b))),
        ),
        None => (low, high),
    };
    let mut cuts: Vec<Num> = thresholds
        .iter()
        .copied()
        .filter(|v| low.is_none_or(|l| *v >= l) && high.is_none_or(|h| *v <= h))
        .collect();
    cuts.extend(low);
    cuts.extend(high);
    cuts.sort();
    cuts.dedup();
    let mut regions = Vec::new();
    let mut samples = Vec::new();
    let mut push = |r: Region| {
        if let Some(s) = sample(&r, integer) {
            regions.push(r);
            samples.push(s);
        }
    };
    let first = cuts.first().copied();
    if low.is_none() {
        push(Region::Between(None, first));
    }
    for (i, &c) in cuts.iter().enumerate() {
        push(Region::Point(c));
        let next = cuts.get(i + 1).copied();
        if next.is_some() || high.is_none() {
            push(Region::Between(Some(c), next));
        }
    }
    NumericDomain { regions, samples }
}

/// A value strictly inside the region (or the point), or `None` when the region is empty for
/// the fact's kind of number.
fn sample(r: &Region, integer: bool) -> Option<Num> {
    let one = Num::from_int(1);
    match r {
        Region::Point(v) => (!integer || v.is_integer()).then_some(*v),
        Region::Between(None, None) => Some(Num::from_int(0)),
        // The next whole number above, or below.
        Region::Between(Some(a), None) => add(a.floor(), one),
        Region::Between(None, Some(b)) => sub(b.ceil(), one),
        Region::Between(Some(a), Some(b)) => {
            let mid = add(*a, *b)?.checked_div(Num::from_int(2))?;
            let rounded = mid.floor();
            if rounded > *a && rounded < *b {
                return Some(rounded);
            }
            let up = mid.ceil();
            if up > *a && up < *b {
                return Some(up);
            }
            (!integer).then_some(mid)
        }
    }
}

fn add(a: Num, b: Num) -> Option<Num> {
    let (n1, d1, n2, d2) = (a.numer(), a.denom(), b.numer(), b.denom());
    let numer = n1.checked_mul(d2)?.checked_add(n2.checked_mul(d1)?)?;
    Num::ratio(numer, d1.checked_mul(d2)?)
}

fn sub(a: Num, b: Num) -> Option<Num> {
    add(a, Num::ratio(-b.numer(), b.denom())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(t: &str) -> Num {
        Num::parse(t).unwrap()
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(n("78.5"), Num::ratio(157, 2).unwrap());
        assert!(n("-2.95") < n("-2.9"));
        assert_eq!(n("0.10"), n("0.1"));
        assert_eq!(n("-2.95").to_string(), "-2.95");
        assert_eq!(n("78.50").to_string(), "78.5");
        assert_eq!(Num::ratio(1, 30).unwrap().to_string(), "1/30");
        assert_eq!(Num::ratio(7, 4).unwrap().to_string(), "1.75");
        assert_eq!(n("42").to_string(), "42");
    }

    #[test]
    fn literals_are_bounded() {
        assert_eq!(Num::parse(&"9".repeat(31)), Err(NumError::TooLarge));
        assert!(Num::parse(&"9".repeat(30)).is_ok());
        assert!(
            Num::parse(&format!("0.{}1", "0".repeat(28))).is_ok(),
            "leading zeros are not significant"
        );
        assert_eq!(
            Num::parse(&format!("0.{}1", "0".repeat(30))),
            Err(NumError::TooLarge)
        );
        assert_eq!(Num::parse("1."), Err(NumError::Malformed));
    }

    #[test]
    fn weeks_and_days_convert_exactly_months_and_days_do_not() {
        assert_eq!(Unit::Week.exact_factor(Unit::Day), Some(Num::from_int(7)));
        assert_eq!(
            Unit::Year.exact_factor(Unit::Month),
            Some(Num::from_int(12))
        );
        assert_eq!(Unit::Month.exact_factor(Unit::Day), None);
        assert_eq!(
            Unit::Month.conventional_factor(Unit::Day),
            Num::ratio(365, 12)
        );
        let year_via_months = Unit::Year
            .exact_factor(Unit::Month)
            .and_then(|f| f.checked_mul(Unit::Month.conventional_factor(Unit::Day)?));
        assert_eq!(year_via_months, Unit::Year.conventional_factor(Unit::Day));
        assert_eq!(
            Unit::Day.conventional_factor(Unit::Year),
            Num::ratio(1, 365)
        );
        assert_eq!(Unit::Percent.conventional_factor(Unit::Day), None);
    }

    #[test]
    fn decimal_thresholds_leave_a_point_between_strict_comparisons() {
        let d = numeric(NumberKind::Decimal, &[n("78.5")]);
        assert_eq!(d.regions.len(), 3);
        assert_eq!(d.regions[1], Region::Point(n("78.5")));
        assert_eq!(d.samples, vec![n("78"), n("78.5"), n("79")]);
    }

    #[test]
    fn integers_drop_empty_intervals() {
        // `<= 5` and `>= 6`: for integers nothing lies between them.
        let d = numeric(NumberKind::Int, &[n("5"), n("6")]);
        assert_eq!(
            d.regions,
            vec![
                Region::Between(None, Some(n("5"))),
                Region::Point(n("5")),
                Region::Point(n("6")),
                Region::Between(Some(n("6")), None),
            ]
        );
        let dec = numeric(NumberKind::Decimal, &[n("5"), n("6")]);
        assert_eq!(dec.regions.len(), 5, "decimals keep (5, 6)");
        assert_eq!(dec.samples[2], n("5.5"));
    }

    #[test]
    fn a_declared_range_bounds_the_classes() {
        let d = numeric_within(NumberKind::Int, Some((n("0"), n("10"))), &[n("5"), n("11")]);
        assert_eq!(d.regions.first(), Some(&Region::Point(n("0"))));
        assert_eq!(d.regions.last(), Some(&Region::Point(n("10"))));
        assert!(d.samples.iter().all(|s| *s >= n("0") && *s <= n("10")));
        assert_eq!(d.samples, vec![n("0"), n("2"), n("5"), n("7"), n("10")]);
        let one = numeric_within(NumberKind::Decimal, Some((n("3"), n("3"))), &[n("1")]);
        assert_eq!(one.regions, vec![Region::Point(n("3"))]);
    }

    #[test]
    fn durations_start_at_zero_and_percentages_end_at_100() {
        let d = numeric(NumberKind::Duration, &[n("6")]);
        assert_eq!(d.regions.first(), Some(&Region::Point(n("0"))));
        assert_eq!(d.samples, vec![n("0"), n("3"), n("6"), n("7")]);
        let p = numeric(NumberKind::Percent, &[n("28.5"), n("150")]);
        assert_eq!(p.regions.last(), Some(&Region::Point(n("100"))));
        assert_eq!(p.regions.len(), 5);
    }
}
