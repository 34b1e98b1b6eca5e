//! Per-secret rules checked before every signature. The rules come from the sealed copy of the
//! entry's metadata, never from the clear copy a local user could edit.

pub mod glob;
#[cfg(feature = "daemon")]
pub mod rate;
#[cfg(feature = "daemon")]
pub mod rules;

#[cfg(feature = "daemon")]
pub use rules::{Decision, Policy};

use std::fmt;

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

/// Days before expiry from which `status`, `list` and the log warn.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Where a secret stands against its expiry date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryState {
    NoExpiry,
    Valid,
    /// Expires within [`EXPIRY_WARNING_DAYS`]; the number of whole days left.
    Soon(i64),
    Expired,
}

/// `expires` is a `YYYY-MM-DD` date: the secret is usable through the end of that day (UTC).
pub fn expiry_state(expires: Option<&str>, now_unix: u64) -> ExpiryState {
    let Some(day) = expires.and_then(crate::timefmt::parse_date) else {
        return ExpiryState::NoExpiry;
    };
    let today = (now_unix / 86400) as i64;
    if today > day {
        ExpiryState::Expired
    } else if day - today <= EXPIRY_WARNING_DAYS {
        ExpiryState::Soon(day - today)
    } else {
        ExpiryState::Valid
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

    #[test]
    fn expiry_boundaries() {
        let day = crate::timefmt::parse_date("2027-01-15").unwrap() as u64 * 86400;
        assert_eq!(
            expiry_state(Some("2027-01-15"), day + 86399),
            ExpiryState::Soon(0)
        );
        assert_eq!(
            expiry_state(Some("2027-01-15"), day + 86400),
            ExpiryState::Expired
        );
        assert_eq!(expiry_state(Some("2027-03-15"), day), ExpiryState::Valid);
        assert_eq!(expiry_state(None, day), ExpiryState::NoExpiry);
    }
}
