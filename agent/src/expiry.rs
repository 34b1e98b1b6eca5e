//! A secret's expiry date: where it stands, and the one note `list` and `apisec status` show
//! beside it. Client side too: the CLI shows the note from the date the agent reports.

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

/// The expiry column: `-` without a date, the date, and a warning from
/// [`EXPIRY_WARNING_DAYS`] before it and after it. A date that does not parse (a hand edit) is
/// shown as it is.
pub fn note(expires: Option<&str>, now_unix: u64) -> String {
    let Some(date) = expires.filter(|e| !e.is_empty()) else {
        return "-".into();
    };
    match expiry_state(Some(date), now_unix) {
        ExpiryState::NoExpiry | ExpiryState::Valid => date.into(),
        ExpiryState::Soon(days) => format!("{date} (in {days} days: rotate soon)"),
        ExpiryState::Expired => {
            format!("{date} (EXPIRED: rotate it with `apisec-agent rotate`)")
        }
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

    #[test]
    fn one_note_for_every_state() {
        let day = crate::timefmt::parse_date("2027-01-15").unwrap() as u64 * 86400;
        assert_eq!(note(None, day), "-");
        assert_eq!(note(Some(""), day), "-");
        assert_eq!(note(Some("soon-ish"), day), "soon-ish");
        assert_eq!(note(Some("2027-03-15"), day), "2027-03-15");
        assert_eq!(
            note(Some("2027-01-29"), day),
            "2027-01-29 (in 14 days: rotate soon)"
        );
        assert_eq!(note(Some("2027-01-30"), day), "2027-01-30");
        assert_eq!(
            note(Some("2027-01-14"), day),
            "2027-01-14 (EXPIRED: rotate it with `apisec-agent rotate`)"
        );
    }
}
