//! Bitfinex REST API v2, authenticated endpoints (`/v2/auth/*`).
//!
//! Source: Bitfinex API docs, "REST Auth Endpoints > Authentication" (headers bfx-nonce,
//! bfx-apikey, bfx-signature; signature payload `/api/` + path + nonce + body)
//! (https://docs.bitfinex.com/docs/rest-auth).

use super::common::*;
use crate::sign::preset::{deny, DenyEntry};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};

const EX: &str = "bitfinex";

#[derive(Debug, Clone, Copy, Default)]
pub struct Bitfinex;

/// Refused by default (docs/exchanges.md lists the sources).
const DENY: &[DenyEntry] = &[
    deny("POST", "/v2/auth/w/withdraw", "withdrawal"),
    deny(
        "POST",
        "/v2/auth/w/ext/wallets/withdrawals/request",
        "withdrawal",
    ),
    deny("POST", "/v2/auth/w/transfer", "transfer"),
    deny("POST", "/v2/auth/w/token", "API-key management"),
];

impl Preset for Bitfinex {
    fn deny_list(&self) -> &'static [DenyEntry] {
        DENY
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    /// Bitfinex rejects any nonce not greater than the key's previous one, so it comes from the
    /// agent's monotonic nonce, not from the (possibly repeated) millisecond timestamp.
    fn wants_nonce(&self) -> bool {
        true
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        // All authenticated v2 endpoints are POST.
        check_method(EX, &r.method, &["POST"], "POST")?;
        check_path(EX, &r.path)?;
        if !r.path.starts_with("/v2/auth/") {
            return Err(bad(
                EX,
                format!(
                    "path {:?} is not an authenticated v2 endpoint (/v2/auth/...)",
                    r.path
                ),
            ));
        }
        check_query(EX, &r.query)?;
        header_safe(EX, "api key", c.api_key)?;
        nonempty_secret(EX, c.secret)?;
        let nonce = stamped_nonce(EX, s.nonce.as_deref(), true)?;
        let sig = hex::encode(hmac_sha384(
            raw_key(c.secret),
            &[b"/api", r.path.as_bytes(), nonce.as_bytes(), &r.body],
        ));
        Ok(Signed {
            headers: headers(&[
                ("bfx-nonce", nonce),
                ("bfx-apikey", c.api_key),
                ("bfx-signature", &sig),
            ]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/bitfinex.rs"]
mod tests;
