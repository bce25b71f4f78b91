//! Time: the [`Clock`] the protocol layers read and sleep on (the system's,
//! or a [`ManualClock`] in tests), and wall-clock timestamps in the form
//! JavaScript's `toISOString` gives.

use std::time::{SystemTime, UNIX_EPOCH};

mod monotonic;

pub use monotonic::{Clock, ManualClock};

/// Now, as `2026-11-25T23:46:09.215Z`.
pub fn now_iso() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    iso(ms)
}

/// Milliseconds since the Unix epoch as an ISO 8601 UTC timestamp.
pub fn iso(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// Parses what [`iso`] writes (JavaScript's `toISOString`, as `JSON.stringify`
/// writes a `Date`) back to milliseconds since the Unix epoch.
#[cfg(any(feature = "redis", test))]
pub fn parse_iso(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 24
        || !text.is_ascii()
        || &b[4..5] != b"-"
        || &b[7..8] != b"-"
        || &b[10..11] != b"T"
        || &b[13..14] != b":"
        || &b[16..17] != b":"
        || &b[19..20] != b"."
        || &b[23..] != b"Z"
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text[range];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let parsed = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + ms;
    // A day past the month's end (2026-02-30) does not print back the same.
    (iso(parsed) == text).then_some(parsed)
}

/// The day count from 1970-01-01 of a proleptic Gregorian date.
#[cfg(any(feature = "redis", test))]
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{iso, parse_iso};

    #[test]
    fn formats_like_javascript() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(1_795_650_369_215), "2026-11-25T23:46:09.215Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats() {
        for ms in [0, 951_782_400_000, 1_795_650_369_215, -1, 4_102_444_800_000] {
            assert_eq!(parse_iso(&iso(ms)), Some(ms), "{ms}");
        }
        for bad in [
            "",
            "2026-11-25T23:46:09.215",
            "2026-11-25T23:46:09Z",
            "2026-02-30T00:00:00.000Z",
            "2026-13-01T00:00:00.000Z",
            "2026-11-25T24:00:00.000Z",
            "2026-11-25 23:46:09.215Z",
            "+026-11-25T23:46:09.215Z",
            "2026-11-25T23:46:09.2é5Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }
}
