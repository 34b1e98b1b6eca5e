//! Per-secret rules checked before every signature. The rules come from the sealed copy of the
//! entry's metadata, never from the clear copy a local user could edit.
//!
//! - [`admit`]: which clients may use a secret, and its rate limits.
//! - [`rules`]: the policy's types and the decision on one request.
//! - [`fields`]: the request fields a rule can test, read as the exchange reads them.
//! - [`file`]: the TOML policy file, parsed and checked.
//! - [`glob`], [`rate`]: path patterns; token buckets.

#[cfg(feature = "daemon")]
pub mod admit;
#[cfg(feature = "daemon")]
pub mod fields;
#[cfg(feature = "daemon")]
pub mod file;
pub mod glob;
#[cfg(feature = "daemon")]
pub mod rate;
#[cfg(feature = "daemon")]
pub mod rules;

#[cfg(feature = "daemon")]
pub use rules::{Decision, Policy};

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
