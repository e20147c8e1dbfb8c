//! The server's clock in UTC: today's date for the answers, and the time of an audit record.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use medpol_artifact::date::Date;

/// A moment as the service reads it: the date and the RFC 3339 time (UTC, milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    pub today: Date,
    pub time: String,
}

/// The current date and time in UTC; `None` when the clock is outside the years 1970 to 9999.
pub fn now() -> Option<Now> {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    at(since)
}

/// The date and time a duration after 1970-01-01T00:00:00Z.
pub fn at(since: Duration) -> Option<Now> {
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).ok()?;
    let today = Date::from_days(days)?;
    let of_day = secs % 86_400;
    let time = format!(
        "{today}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_millis()
    );
    Some(Now { today, time })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        let n = at(Duration::from_millis(1_796_688_000_123 + 3_723_000)).unwrap();
        assert_eq!(n.today.to_string(), "2026-12-08");
        assert_eq!(n.time, "2026-12-08T01:02:03.123Z");
        let epoch = at(Duration::ZERO).unwrap();
        assert_eq!(epoch.time, "1970-01-01T00:00:00.000Z");
    }
}
