//! Exact numbers and the units of quantities.

use std::fmt;

use num_rational::Ratio;
use num_traits::{CheckedDiv, CheckedMul, Signed, ToPrimitive, Zero};

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
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (digits.contains('.') && frac.is_empty())
        {
            return Err(NumError::Malformed);
        }
        let all = format!("{int}{frac}");
        let significant = all.trim_start_matches('0').len();
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
        Ok(Num(Ratio::new(numer, denom)))
    }

    pub fn checked_mul(self, other: Num) -> Option<Num> {
        self.0.checked_mul(&other.0).map(Num)
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
}

/// Units within one family convert exactly; across families only by convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// days and weeks
    DayBased,
    /// months and years
    MonthBased,
    Percent,
}

impl Unit {
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
            _ => return None,
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
        }
    }

    pub fn family(self) -> Family {
        match self {
            Unit::Day | Unit::Week => Family::DayBased,
            Unit::Month | Unit::Year => Family::MonthBased,
            Unit::Percent => Family::Percent,
        }
    }

    /// How many of the family's smallest unit one of this unit is.
    fn in_base(self) -> i128 {
        match self {
            Unit::Week => 7,
            Unit::Year => 12,
            Unit::Day | Unit::Month | Unit::Percent => 1,
        }
    }

    /// The factor that turns an amount in `self` into an amount in `to`, when the two convert
    /// exactly (same family).
    pub fn exact_factor(self, to: Unit) -> Option<Num> {
        (self.family() == to.family()).then(|| Num::ratio(self.in_base(), to.in_base()))?
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
            Unit::Percent => None,
        };
        days(self)?.checked_div(days(to)?)
    }
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
}
