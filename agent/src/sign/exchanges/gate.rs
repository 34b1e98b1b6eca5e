//! Gate (gate.io) API v4.
//!
//! Source: Gate API v4 docs, "Authentication > API Signature string generation"
//! (https://www.gate.io/docs/developers/apiv4/en/#api-signature-string-generation).

use super::common::*;
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::request::decoded;
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery};

const EX: &str = "gate";

#[derive(Debug, Clone, Copy, Default)]
pub struct Gate;

/// `METHOD\npath\nquery\nSHA512(body)\ntimestamp`: every part on its own line, the body hashed.
const SHAPE: Shape = Shape {
    methods: &["GET", "POST", "PUT", "PATCH", "DELETE"],
    path_prefixes: &["/api/v4/"],
    query: Query::Any,
    body: Body::Json,
    covers: Covers::Endpoint {
        method: true,
        query: true,
        body: true,
        host: false,
    },
    adjacent: &[],
    login: Login::NONE,
    signed_query: SignedQuery::Decoded,
    hosts: &[],
};

impl Preset for Gate {
    fn shape(&self) -> &'static Shape {
        &SHAPE
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
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        nonempty_secret(EX, c.secret)?;
        // Gate hashes the body even when empty (sha512 of ""), so the line is never blank.
        let body_hash = sha512_hex(&r.body);
        // The query line is decoded: Gate's official SDK signs `unquote_plus(urlencode(query))`.
        let query = decoded::signed(EX, &r.query)?;
        let prehash = format!(
            "{}\n{}\n{}\n{}\n{}",
            r.method, r.path, query, body_hash, s.timestamp
        );
        let signed_parts: &[&[u8]] = &[prehash.as_bytes()];
        let sig = hex::encode(hmac_sha512(raw_key(c.secret), signed_parts));
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
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
