//! Kraken spot REST, private endpoints (`/0/private/*`).
//!
//! Source: Kraken "Spot REST Authentication" guide, section "Setting the API-Sign Parameter"
//! (https://docs.kraken.com/api/docs/guides/spot-rest-auth).

use super::common::*;
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Login, Query, Shape};

const EX: &str = "kraken";
const SECRET_FORM: &str =
    "Kraken secrets are base64 (the 88-character private key shown when the key was created); this one does not decode";

#[derive(Debug, Clone, Copy, Default)]
pub struct Kraken;

/// `path + SHA256(nonce + form body)`: the body hashed; the query is not signed.
const SHAPE: Shape = Shape {
    methods: &["POST"],
    path_prefixes: &["/0/private/"],
    query: Query::Never,
    body: Body::Form,
    covers: Covers::Endpoint {
        // Not in the signed string; the exchange serves these endpoints by POST only.
        method: false,
        query: false,
        body: true,
        host: false,
    },
    adjacent: &[],
    login: Login::NONE,
};

impl Preset for Kraken {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    fn wants_nonce(&self) -> bool {
        true
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        base64_secret(EX, secret, SECRET_FORM).map(drop)
    }
    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        // Every private spot endpoint is a form POST; the nonce lives in that form.
        header_safe(EX, "api key", c.api_key)?;
        let key = base64_secret(EX, c.secret, SECRET_FORM)?;
        let nonce = stamped_nonce(EX, s.nonce.as_deref(), true)?;

        let form = utf8(EX, "body", &r.body)?;
        let pairs = form_pairs(EX, "body", form)?;
        // The agent owns the nonce: a client-chosen one would bypass its monotonic counter.
        if pairs.iter().any(|(k, _)| *k == "nonce") {
            return Err(bad(
                EX,
                "the body already has a nonce; leave it out, the agent adds it",
            ));
        }
        // Put nonce first, as Kraken's own example does, so the published vector reproduces.
        let body = if form.is_empty() {
            format!("nonce={nonce}")
        } else {
            format!("nonce={nonce}&{form}")
        };
        let inner = sha256(&[nonce.as_bytes(), body.as_bytes()]);
        let signed_parts: &[&[u8]] = &[r.path.as_bytes(), &inner];
        let sig = b64(&hmac_sha512(&key, signed_parts));
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers: headers(&[("API-Key", c.api_key), ("API-Sign", &sig)]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: Some(body.into_bytes()),
        })
    }
}

#[cfg(test)]
#[path = "tests/kraken.rs"]
mod tests;
