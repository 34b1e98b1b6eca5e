//! The agent owns time: it writes the timestamp itself, or accepts a client's value only within
//! the secret's freshness window, so a compromised bot cannot pre-sign requests for later use.

use std::fmt;

use super::TimeFormat;
use crate::timefmt;

/// How far a client-supplied timestamp may be from the agent's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    Window {
        millis: u64,
    },
    /// Any client timestamp and nonce (for replaying documented examples and tests).
    Off,
}

impl Freshness {
    pub const DEFAULT: Self = Self::Window { millis: 5000 };

    /// `off`, `5s`, `1500ms`, or a bare number of seconds.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "off" {
            return Ok(Self::Off);
        }
        let millis = if let Some(ms) = s.strip_suffix("ms") {
            ms.parse::<u64>().ok()
        } else {
            s.strip_suffix('s')
                .unwrap_or(s)
                .parse::<u64>()
                .ok()
                .and_then(|v| v.checked_mul(1000))
        };
        match millis {
            Some(m) if m > 0 && m <= 3_600_000 => Ok(Self::Window { millis: m }),
            _ => Err(format!(
                "freshness {s:?} is not 'off' or a window such as '5s' or '1500ms' (at most 3600s)"
            )),
        }
    }
}

impl fmt::Display for Freshness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::Window { millis } if millis % 1000 == 0 => write!(f, "{}s", millis / 1000),
            Self::Window { millis } => write!(f, "{millis}ms"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StampError {
    #[error("client timestamp {given:?} is not in this exchange's form ({expected})")]
    Malformed {
        given: String,
        expected: &'static str,
    },
    #[error(
        "client timestamp {given:?} is {skew_ms} ms away from the agent's clock, outside this \
         secret's freshness window of {window_ms} ms; send no timestamp and let the agent stamp it"
    )]
    Stale {
        given: String,
        skew_ms: u64,
        window_ms: u64,
    },
    #[error(
        "a client-chosen nonce is accepted only on a secret added with --freshness off; \
         send no nonce and let the agent choose it"
    )]
    NonceNotAllowed,
    #[error(
        "{exchange} requests carry no nonce: the agent signs them with the timestamp alone, so a \
         client nonce would be left out of the signature; send none"
    )]
    NonceNotSigned { exchange: &'static str },
}

fn expected(format: TimeFormat) -> &'static str {
    match format {
        TimeFormat::UnixMillis => "Unix milliseconds, e.g. 1700000000123",
        TimeFormat::UnixSeconds => "Unix seconds, e.g. 1700000000",
        TimeFormat::UnixSecondsDecimal => "Unix seconds with decimals, e.g. 1700000000.123",
        TimeFormat::Iso8601Millis => {
            "ISO 8601 UTC with milliseconds, e.g. 2020-12-08T09:08:57.715Z"
        }
    }
}

/// Formats the agent's clock in an exchange's form.
pub fn format_now(format: TimeFormat, now_ms: u64) -> String {
    match format {
        TimeFormat::UnixMillis => now_ms.to_string(),
        TimeFormat::UnixSeconds => (now_ms / 1000).to_string(),
        TimeFormat::UnixSecondsDecimal => format!("{}.{:03}", now_ms / 1000, now_ms % 1000),
        TimeFormat::Iso8601Millis => timefmt::iso8601_millis(now_ms),
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a client's timestamp in an exchange's form into Unix milliseconds.
pub fn parse(format: TimeFormat, s: &str) -> Option<u64> {
    match format {
        TimeFormat::UnixMillis => digits(s),
        TimeFormat::UnixSeconds => digits(s)?.checked_mul(1000),
        TimeFormat::UnixSecondsDecimal => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
            let secs = digits(whole)?;
            let ms = if frac.is_empty() {
                0
            } else {
                if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                format!("{frac:0<3}")[..3].parse::<u64>().ok()?
            };
            secs.checked_mul(1000)?.checked_add(ms)
        }
        // The exact form the presets sign: an ISO 8601 time in another form (no milliseconds,
        // more digits) is refused here, with the form to use, not later by the preset.
        TimeFormat::Iso8601Millis if timefmt::iso8601_millis_shape(s) => {
            timefmt::parse_iso8601_millis(s)
        }
        TimeFormat::Iso8601Millis => None,
    }
}

/// The timestamp to sign with: the agent's clock when the client sent none, else the client's
/// value if it parses and lies within the freshness window (any value when freshness is off).
pub fn stamp(
    format: TimeFormat,
    client: &str,
    now_ms: u64,
    freshness: Freshness,
) -> Result<String, StampError> {
    if client.is_empty() {
        return Ok(format_now(format, now_ms));
    }
    let given = parse(format, client).ok_or_else(|| StampError::Malformed {
        given: client.to_owned(),
        expected: expected(format),
    })?;
    if let Freshness::Window { millis } = freshness {
        let skew_ms = given.abs_diff(now_ms);
        if skew_ms > millis {
            return Err(StampError::Stale {
                given: client.to_owned(),
                skew_ms,
                window_ms: millis,
            });
        }
    }
    Ok(client.to_owned())
}

/// The nonce to sign with. A client nonce only with freshness off (replaying documented examples);
/// otherwise the agent's own, from `agent_nonce` (the nonce store: strictly increasing).
pub fn nonce(
    client: &str,
    agent_nonce: &mut dyn FnMut() -> Result<u64, String>,
    freshness: Freshness,
) -> Result<String, super::SignError> {
    if client.is_empty() {
        return agent_nonce()
            .map(|n| n.to_string())
            .map_err(super::SignError::Nonce);
    }
    match freshness {
        Freshness::Off => Ok(client.to_owned()),
        Freshness::Window { .. } => Err(StampError::NonceNotAllowed.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_forms() {
        assert_eq!(Freshness::parse("off").unwrap(), Freshness::Off);
        assert_eq!(Freshness::parse("5s").unwrap(), Freshness::DEFAULT);
        assert_eq!(Freshness::parse("5").unwrap(), Freshness::DEFAULT);
        assert_eq!(
            Freshness::parse("1500ms").unwrap(),
            Freshness::Window { millis: 1500 }
        );
        assert!(Freshness::parse("0").is_err());
        assert!(Freshness::parse("soon").is_err());
        assert_eq!(Freshness::parse("1500ms").unwrap().to_string(), "1500ms");
    }

    const FIVE_S: Freshness = Freshness::Window { millis: 5000 };

    #[test]
    fn agent_stamps_when_client_sends_nothing() {
        assert_eq!(
            stamp(TimeFormat::UnixMillis, "", 1234, FIVE_S).unwrap(),
            "1234"
        );
        assert_eq!(
            stamp(
                TimeFormat::UnixSecondsDecimal,
                "",
                1_700_000_000_123,
                FIVE_S
            )
            .unwrap(),
            "1700000000.123"
        );
    }

    #[test]
    fn client_timestamp_within_window_is_kept_verbatim_and_stale_is_refused() {
        let now = 1_700_000_010_000;
        assert_eq!(
            stamp(TimeFormat::UnixMillis, "1700000006000", now, FIVE_S).unwrap(),
            "1700000006000"
        );
        let err = stamp(TimeFormat::UnixMillis, "1700000004999", now, FIVE_S).unwrap_err();
        assert!(
            matches!(err, StampError::Stale { skew_ms: 5001, .. }),
            "{err}"
        );
        assert!(stamp(TimeFormat::UnixMillis, "1", now, Freshness::Off).is_ok());
    }

    #[test]
    fn malformed_client_timestamp_names_the_form() {
        let err = stamp(TimeFormat::UnixMillis, "12a", 0, Freshness::Off).unwrap_err();
        assert!(err.to_string().contains("Unix milliseconds"), "{err}");
        assert_eq!(
            parse(TimeFormat::Iso8601Millis, "2020-12-08T09:08:57.715Z"),
            Some(1_607_418_537_715)
        );
        assert_eq!(parse(TimeFormat::UnixSecondsDecimal, "1.5"), Some(1500));
        // Valid ISO 8601, but not the form the exchange signs: refused with the form to use.
        for other_form in ["2020-12-08T09:08:57Z", "2020-12-08T09:08:57.715123Z"] {
            let err = stamp(TimeFormat::Iso8601Millis, other_form, 0, Freshness::Off).unwrap_err();
            assert!(
                err.to_string()
                    .contains("ISO 8601 UTC with milliseconds, e.g. 2020-12-08T09:08:57.715Z"),
                "{err}"
            );
        }
    }

    #[test]
    fn client_nonce_needs_freshness_off() {
        let mut agent = || Ok(2000);
        assert_eq!(nonce("", &mut agent, FIVE_S).unwrap(), "2000");
        assert_eq!(nonce("77", &mut agent, Freshness::Off).unwrap(), "77");
        assert_eq!(
            nonce("77", &mut agent, FIVE_S),
            Err(super::super::SignError::Time(StampError::NonceNotAllowed))
        );
    }
}
