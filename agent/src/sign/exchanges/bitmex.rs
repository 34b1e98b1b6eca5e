//! BitMEX REST API v1.
//!
//! Source: BitMEX "API Keys Usage" page, sections "Authenticating with an API Key" and "Full
//! sample calculation" (https://www.bitmex.com/app/apiKeysUsage).

use super::common::*;
use crate::sign::preset::{deny, DenyEntry};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};

const EX: &str = "bitmex";

#[derive(Debug, Clone, Copy, Default)]
pub struct Bitmex;

/// Refused by default (docs/exchanges.md lists the sources).
const DENY: &[DenyEntry] = &[
    deny("POST", "/api/v1/user/requestWithdrawal", "withdrawal"),
    deny("POST", "/api/v1/user/cancelWithdrawal", "withdrawal"),
    deny("POST", "/api/v1/user/confirmWithdrawal", "withdrawal"),
    deny("POST", "/api/v1/user/walletTransfer", "transfer"),
    deny("POST", "/api/v1/user/addSubaccount", "sub-account"),
    deny("POST", "/api/v1/user/updateSubaccount", "sub-account"),
    deny("POST", "/api/v1/address", "withdrawal"),
];

impl Preset for Bitmex {
    fn deny_list(&self) -> &'static [DenyEntry] {
        DENY
    }

    fn id(&self) -> &'static str {
        EX
    }
    /// BitMEX signs an expiry, not a send time: the stamp's timestamp is `api-expires`, whole
    /// seconds at which the request stops being valid (the agent stamps now + a few seconds).
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixSeconds
    }

    /// `api-expires` is a moment in the future; BitMEX's own examples allow a few seconds to a
    /// minute. A short lead keeps a captured request useless soon after.
    fn timestamp_lead_ms(&self) -> u64 {
        10_000
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_method(
            EX,
            &r.method,
            &["GET", "POST", "PUT", "DELETE"],
            "GET, POST, PUT, DELETE",
        )?;
        check_path(EX, &r.path)?;
        check_query(EX, &r.query)?;
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        nonempty_secret(EX, c.secret)?;
        let path = path_and_query(&r.path, &r.query);
        let sig = hex::encode(hmac_sha256(
            raw_key(c.secret),
            &[
                r.method.as_bytes(),
                path.as_bytes(),
                s.timestamp.as_bytes(),
                &r.body,
            ],
        ));
        Ok(Signed {
            headers: headers(&[
                ("api-expires", &s.timestamp),
                ("api-key", c.api_key),
                ("api-signature", &sig),
            ]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/bitmex.rs"]
mod tests;
