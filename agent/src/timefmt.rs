//! The wall clock, and calendar arithmetic for UTC timestamps without a time-zone database (the
//! agent only ever speaks UTC). Days-from-civil after Howard Hinnant's public-domain algorithm
//! description.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch; zero for a clock set before 1970 (then every expiry and freshness
/// check errs on the side of "not yet").
fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// Seconds since the Unix epoch.
pub fn unix_secs() -> u64 {
    since_epoch().as_secs()
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> u64 {
    since_epoch().as_millis() as u64
}

/// Microseconds since the Unix epoch.
pub fn unix_micros() -> u64 {
    since_epoch().as_micros() as u64
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso8601_seconds(unix: u64) -> String {
    let days = (unix / 86400) as i64;
    let rem = unix % 86400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` from milliseconds.
/// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` to `out`: [`iso8601_millis`] without allocating (the audit
/// writer stamps every line).
pub fn write_iso8601_millis(out: &mut impl std::io::Write, unix_ms: u64) -> std::io::Result<()> {
    let unix = unix_ms / 1000;
    let rem = unix % 86400;
    let (y, m, d) = civil_from_days((unix / 86400) as i64);
    write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso8601_millis(unix_ms: u64) -> String {
    let mut out = Vec::with_capacity(24);
    write_iso8601_millis(&mut out, unix_ms).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("ASCII digits and separators")
}

/// Parses `YYYY-MM-DD` into a day number, checking the date exists.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[0..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

fn seconds_shape(b: &[u8]) -> bool {
    b.len() == 19
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// `2020-12-08T09:08:57` exactly: no fraction, no zone (HTX's form). Only the shape.
pub fn iso8601_seconds_shape(ts: &str) -> bool {
    seconds_shape(ts.as_bytes())
}

/// `2020-12-08T09:08:57.715Z` exactly: the form the exchanges that use ISO 8601 sign. Only the
/// shape; [`parse_iso8601_millis`] reads the value.
pub fn iso8601_millis_shape(ts: &str) -> bool {
    let b = ts.as_bytes();
    b.len() == 24
        && seconds_shape(&b[..19])
        && b[19] == b'.'
        && b[20..23].iter().all(u8::is_ascii_digit)
        && b[23] == b'Z'
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` into Unix milliseconds.
pub fn parse_iso8601_millis(s: &str) -> Option<u64> {
    let rest = s.strip_suffix('Z')?;
    let (date, time) = rest.split_once('T')?;
    let days = parse_date(date)?;
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, b),
        None => (time, ""),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let h: u64 = parts[0].parse().ok()?;
    let mi: u64 = parts[1].parse().ok()?;
    let se: u64 = parts[2].parse().ok()?;
    if h > 23 || mi > 59 || se > 60 || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let ms = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}")[..3].parse::<u64>().ok()?
    };
    let secs = u64::try_from(days).ok()? * 86400 + h * 3600 + mi * 60 + se;
    Some(secs * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_shapes_are_exact() {
        assert!(iso8601_millis_shape("2020-12-08T09:08:57.715Z"));
        assert!(iso8601_seconds_shape("2020-12-08T09:08:57"));
        for not_millis in [
            "2020-12-08T09:08:57Z",
            "2020-12-08T09:08:57.7150Z",
            "2020-12-08T09:08:57,715Z",
            "2020-12-08T09:08:57.71xZ",
            "2020-12-08 09:08:57.715Z",
            // 24 bytes with a multi-byte character where the fraction goes: no panic, no match.
            "2020-12-08T09:08:57\u{e9}.7Z",
            "2020-12-08T09:08:\u{e9}7.715Z",
        ] {
            assert!(!iso8601_millis_shape(not_millis), "{not_millis}");
        }
        assert_eq!("2020-12-08T09:08:57\u{e9}.7Z".len(), 24);
        assert!(!iso8601_seconds_shape("2020-12-08T09:08:5"));
        assert!(!iso8601_seconds_shape("2020-12-08T09:08:57Z"));
    }

    #[test]
    fn known_dates() {
        assert_eq!(iso8601_seconds(0), "1970-01-01T00:00:00Z");
        // 2020-12-08T09:08:57.715Z is OKX's documented example timestamp.
        assert_eq!(
            iso8601_millis(1_607_418_537_715),
            "2020-12-08T09:08:57.715Z"
        );
        assert_eq!(
            parse_iso8601_millis("2020-12-08T09:08:57.715Z"),
            Some(1_607_418_537_715)
        );
        assert_eq!(parse_date("2024-02-29"), Some(19782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-13-01"), None);
    }
}
