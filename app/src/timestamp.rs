//! Turning stored UTC milliseconds into text. The server renders a UTC label (it cannot know the
//! reader's locale); the browser replaces it with the reader's local time after hydration.

/// Milliseconds since the Unix epoch, now.
#[cfg(feature = "ssr")]
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A UTC instant split into calendar fields.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

impl Civil {
    fn from_ms(ms: i64) -> Self {
        let secs = ms.div_euclid(1000);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: (rem % 3600) / 60,
            second: rem % 60,
            millis: ms.rem_euclid(1000),
        }
    }
}

/// `YYYY-MM-DD HH:MM UTC`, computed without a calendar library so both builds can share it.
pub fn utc_label(ms: i64) -> String {
    let c = Civil::from_ms(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.minute
    )
}

/// `HH:MM UTC`: a message's time of day, under a day separator.
pub fn utc_time_label(ms: i64) -> String {
    let c = Civil::from_ms(ms);
    format!("{:02}:{:02} UTC", c.hour, c.minute)
}

/// The UTC calendar day of `ms` as the number `YYYYMMDD`: equal for two instants on the same
/// day, and ordered as the days are.
pub fn utc_day(ms: i64) -> i64 {
    let c = Civil::from_ms(ms);
    c.year * 10_000 + i64::from(c.month) * 100 + i64::from(c.day)
}

/// `YYYY-MM-DD (UTC)`: a day separator's label before the browser names the day.
pub fn utc_day_label(ms: i64) -> String {
    let c = Civil::from_ms(ms);
    format!("{:04}-{:02}-{:02} (UTC)", c.year, c.month, c.day)
}

/// RFC 3339 in UTC with millisecond precision, for `<time datetime>` and exports.
pub fn rfc3339(ms: i64) -> String {
    let c = Civil::from_ms(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// Parses an RFC 3339 instant (`2024-01-01T12:00:00Z`, `2024-01-01T12:00:00.123+02:00`; a space
/// may replace the `T`) to UTC milliseconds. Digits past milliseconds are dropped.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let month = u32::try_from(month).ok()?;
    let day = u32::try_from(day).ok()?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = 19;
    let mut millis = 0;
    if b[rest] == b'.' {
        let start = rest + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start {
            return None;
        }
        let frac = &text[start..end.min(start + 3)];
        millis = frac.parse::<i64>().ok()? * 10_i64.pow(3 - frac.len() as u32);
        rest = end;
    }
    let offset_minutes = match &b[rest..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(rest + 1..rest + 3)?, num(rest + 4..rest + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) to days since 1970-01-01, the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m 1..=12 by construction.
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(utc_label(0), "1970-01-01 00:00 UTC");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T23:59:59.999Z, a leap day.
        assert_eq!(rfc3339(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(utc_label(1_709_251_199_999), "2024-02-29 23:59 UTC");
        // Before the epoch.
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn days_split_at_utc_midnight() {
        let last = 1_709_251_199_999; // 2024-02-29T23:59:59.999Z
        assert_eq!(utc_day(last), 20_240_229);
        assert_eq!(utc_day(last + 1), 20_240_301);
        assert_eq!(utc_day(last - 86_399_999), utc_day(last));
        assert!(utc_day(-1) < utc_day(0));
        assert_eq!(utc_day_label(last), "2024-02-29 (UTC)");
        assert_eq!(utc_time_label(last), "23:59 UTC");
    }

    #[test]
    fn parses_what_it_writes_and_common_variants() {
        for ms in [
            0,
            -1,
            1_709_251_199_999,
            1_704_110_400_000,
            253_402_300_799_999,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms), "{ms}");
        }
        assert_eq!(
            parse_rfc3339("2024-01-01T12:00:00Z"),
            Some(1_704_110_400_000)
        );
        assert_eq!(
            parse_rfc3339("2024-01-01 14:00:00+02:00"),
            Some(1_704_110_400_000)
        );
        assert_eq!(
            parse_rfc3339("2024-01-01T11:30:00.5-00:30"),
            Some(1_704_110_400_500)
        );
        assert_eq!(
            parse_rfc3339("2024-01-01T12:00:00.123456Z"),
            Some(1_704_110_400_123)
        );
        for bad in [
            "",
            "2024-01-01",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T12:00:00",
            "2024-01-01T12:00:00.Z",
            "yesterday",
            "2024-01-01T12:00:00+2:00",
            "2024-01-01T12:00:00Zjunk",
            "２024-01-01T12:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }
}
