//! OKX API v5 REST.
//!
//! Source: OKX API v5 docs, "Overview > REST Authentication > Making Requests / Signature"
//! (https://www.okx.com/docs-v5/en/#overview-rest-authentication-signature).

use super::common::*;
use crate::sign::preset::{deny, DenyEntry};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};

const EX: &str = "okx";

#[derive(Debug, Clone, Copy, Default)]
pub struct Okx;

/// Refused by default (docs/exchanges.md lists the sources).
const DENY: &[DenyEntry] = &[
    deny("POST", "/api/v5/asset/withdrawal", "withdrawal"),
    deny("POST", "/api/v5/asset/withdrawal-lightning", "withdrawal"),
    deny("POST", "/api/v5/asset/cancel-withdrawal", "withdrawal"),
    deny("POST", "/api/v5/fiat/create-withdrawal", "withdrawal"),
    deny("POST", "/api/v5/fiat/cancel-withdrawal", "withdrawal"),
    deny("POST", "/api/v5/asset/transfer", "transfer"),
    deny("POST", "/api/v5/asset/subaccount/transfer", "transfer"),
    deny(
        "POST",
        "/api/v5/users/subaccount/create-subaccount",
        "sub-account",
    ),
    deny(
        "POST",
        "/api/v5/users/subaccount/set-transfer-out",
        "sub-account",
    ),
    deny(
        "POST",
        "/api/v5/users/subaccount/apikey",
        "API-key management",
    ),
    deny(
        "POST",
        "/api/v5/users/subaccount/modify-apikey",
        "API-key management",
    ),
    deny(
        "POST",
        "/api/v5/users/subaccount/delete-apikey",
        "API-key management",
    ),
    deny("*", "/api/v5/broker/**", "sub-account"),
];

impl Preset for Okx {
    fn deny_list(&self) -> &'static [DenyEntry] {
        DENY
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::Iso8601Millis
    }
    fn needs_passphrase(&self) -> bool {
        true
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_method(EX, &r.method, &["GET", "POST"], "GET, POST")?;
        check_path(EX, &r.path)?;
        check_query(EX, &r.query)?;
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        nonempty_secret(EX, c.secret)?;
        let pass = passphrase(EX, c.passphrase)?;
        // requestPath includes the query for GET; OKX documents the body as "" for GET.
        let request_path = path_and_query(&r.path, &r.query);
        let mac = hmac_sha256(
            raw_key(c.secret),
            &[
                s.timestamp.as_bytes(),
                r.method.as_bytes(),
                request_path.as_bytes(),
                &r.body,
            ],
        );
        let sig = b64(&mac);
        Ok(Signed {
            headers: headers(&[
                ("OK-ACCESS-KEY", c.api_key),
                ("OK-ACCESS-SIGN", &sig),
                ("OK-ACCESS-TIMESTAMP", &s.timestamp),
                ("OK-ACCESS-PASSPHRASE", pass),
            ]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/okx.rs"]
mod tests;
