//! Calendar dates: the `date` facts of policies (`service_date`, a fracture's date) and the
//! arithmetic on them. A date is kept as its day number (days since 1970-01-01, negative
//! before), so that comparing two dates and the days between them are plain integer
//! arithmetic, the same in the compiler and in the artifact evaluator.

use std::fmt;

use crate::num::Num;

/// A date of the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// The days of a month of a year.
fn month_days(year: u16, month: u8) -> u8 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// Reads `YYYY-MM-DD` (exactly so: four digits, two, two); `None` when the date is
    /// malformed or not on the calendar.
    pub fn parse(text: &str) -> Option<Date> {
        let written = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !written {
            return None;
        }
        let mut parts = text.split('-');
        let year: u16 = parts.next()?.parse().ok()?;
        let month: u8 = parts.next()?.parse().ok()?;
        let day: u8 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        (day <= month_days(year, month)).then_some(Date { year, month, day })
    }

    /// The day number: days since 1970-01-01 (the civil-days algorithm of H. Hinnant).
    pub fn days(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date of a day number; `None` outside the years 0 to 9999, which a date is written
    /// in.
    pub fn from_days(days: i64) -> Option<Date> {
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        if !(0..=9999).contains(&year) {
            return None;
        }
        Some(Date {
            year: u16::try_from(year).ok()?,
            month: u8::try_from(month).ok()?,
            day: u8::try_from(day).ok()?,
        })
    }

    /// The date of an exact number of days, when it is a whole number of a written year.
    pub fn from_num(days: Num) -> Option<Date> {
        if !days.is_integer() {
            return None;
        }
        Date::from_days(days.to_i64()?)
    }

    /// The day number as an exact number.
    pub fn num(self) -> Num {
        Num::from(self.days())
    }

    /// The calendar months completed from `self` to `later`, as an age is counted: from
    /// 2020-01-31 to 2020-02-29 none, to 2020-03-01 one. Negative when `later` is earlier
    /// (the months completed backwards, negated).
    pub fn months_until(self, later: Date) -> i64 {
        if later < self {
            return -later.months_until(self);
        }
        let months = (i64::from(later.year) - i64::from(self.year)) * 12 + i64::from(later.month)
            - i64::from(self.month);
        // A month is completed on the same day of the month, or on the month's last day when
        // it has no such day (from 31 January, the month ends on 28 or 29 February).
        let reached = later.day >= self.day || later.day == month_days(later.year, later.month);
        if reached { months } else { months - 1 }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    #[test]
    fn dates_are_checked_against_the_calendar() {
        assert!(Date::parse("2020-02-29").is_some());
        assert!(Date::parse("2021-02-29").is_none());
        assert!(Date::parse("2020-13-01").is_none());
        assert!(Date::parse("2020-06-31").is_none());
        assert!(Date::parse("2020-6-30").is_none());
        assert!(Date::parse("+020-06-30").is_none());
    }

    #[test]
    fn day_numbers_go_both_ways() {
        assert_eq!(d("1970-01-01").days(), 0);
        assert_eq!(d("2009-02-12").days() - d("2009-01-01").days(), 42);
        assert_eq!(d("1969-12-31").days(), -1);
        for days in [-719_528, -1, 0, 59, 60, 11_016, 2_932_896] {
            let date = Date::from_days(days).unwrap();
            assert_eq!(date.days(), days, "{date}");
        }
        assert_eq!(Date::from_days(-719_529), None);
        assert_eq!(Date::from_days(2_932_897), None);
    }

    #[test]
    fn months_are_counted_as_an_age_is() {
        assert_eq!(d("2020-01-31").months_until(d("2020-02-28")), 0);
        assert_eq!(d("2020-01-31").months_until(d("2020-02-29")), 1);
        assert_eq!(d("2020-01-15").months_until(d("2020-07-14")), 5);
        assert_eq!(d("2020-01-15").months_until(d("2020-07-15")), 6);
        assert_eq!(d("1948-03-01").months_until(d("2026-09-01")), 942);
        assert_eq!(d("2020-07-15").months_until(d("2020-01-15")), -6);
    }
}
