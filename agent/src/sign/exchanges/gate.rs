//! Gate (gate.io) API v4.
//!
//! Source: Gate API v4 docs, "Authentication > API Signature string generation"
//! (https://www.gate.io/docs/developers/apiv4/en/#api-signature-string-generation).

use super::common::*;
use crate::sign::preset::{deny, DenyEntry};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};

const EX: &str = "gate";

#[derive(Debug, Clone, Copy, Default)]
pub struct Gate;

/// Refused by default (docs/exchanges.md lists the sources).
const DENY: &[DenyEntry] = &[
    deny("POST", "/api/v4/withdrawals", "withdrawal"),
    deny("DELETE", "/api/v4/withdrawals/*", "withdrawal"),
    deny("POST", "/api/v4/withdrawals/push", "withdrawal"),
    deny("POST", "/api/v4/wallet/transfers", "transfer"),
    deny("POST", "/api/v4/wallet/sub_account_transfers", "transfer"),
    deny(
        "POST",
        "/api/v4/wallet/sub_account_to_sub_account",
        "transfer",
    ),
    deny("POST", "/api/v4/sub_accounts", "sub-account"),
    deny("POST", "/api/v4/sub_accounts/*/lock", "sub-account"),
    deny("POST", "/api/v4/sub_accounts/*/unlock", "sub-account"),
    deny("POST", "/api/v4/sub_accounts/*/keys", "API-key management"),
    deny("PUT", "/api/v4/sub_accounts/*/keys/*", "API-key management"),
    deny(
        "DELETE",
        "/api/v4/sub_accounts/*/keys/*",
        "API-key management",
    ),
];

impl Preset for Gate {
    fn deny_list(&self) -> &'static [DenyEntry] {
        DENY
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixSeconds
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_method(
            EX,
            &r.method,
            &["GET", "POST", "PUT", "PATCH", "DELETE"],
            "GET, POST, PUT, PATCH, DELETE",
        )?;
        check_path(EX, &r.path)?;
        if !r.path.starts_with("/api/v4/") {
            return Err(bad(
                EX,
                format!("path {:?} is not an API v4 path (/api/v4/...)", r.path),
            ));
        }
        check_query(EX, &r.query)?;
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        nonempty_secret(EX, c.secret)?;
        // Gate hashes the body even when empty (sha512 of ""), so the line is never blank.
        let body_hash = sha512_hex(&r.body);
        let prehash = format!(
            "{}\n{}\n{}\n{}\n{}",
            r.method, r.path, r.query, body_hash, s.timestamp
        );
        let sig = hex::encode(hmac_sha512(raw_key(c.secret), &[prehash.as_bytes()]));
        Ok(Signed {
            headers: headers(&[
                ("KEY", c.api_key),
                ("Timestamp", &s.timestamp),
                ("SIGN", &sig),
            ]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/gate.rs"]
mod tests;
