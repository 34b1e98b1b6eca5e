//! BitMEX REST API v1.
//!
//! Source: BitMEX "API Keys Usage" page, sections "Authenticating with an API Key" and "Full
//! sample calculation" (https://www.bitmex.com/app/apiKeysUsage).

use super::common::*;
use crate::sign::login::{Json, LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery, Slot, STANDARD_METHODS};

const EX: &str = "bitmex";

#[derive(Debug, Clone, Copy, Default)]
pub struct Bitmex;

/// `METHOD + path ["?" + query] + expires + body`: the query (or path) meets the agent's expiry, the expiry the body.
const SHAPE: Shape = Shape {
    methods: STANDARD_METHODS,
    path_prefixes: &["/api/v1/"],
    query: Query::Any,
    body: Body::Json,
    covers: Covers::Endpoint {
        method: true,
        query: true,
        body: true,
        host: false,
    },
    adjacent: &[Slot::Path, Slot::QueryWithMark, Slot::Number, Slot::Body],
    login: Login::NONE,
    signed_query: SignedQuery::AsSent,
    hosts: &[],
    number_optional: false,
    delete_body: true,
};

impl Preset for Bitmex {
    fn shape(&self) -> &'static Shape {
        &SHAPE
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
    /// https://www.bitmex.com/app/wsAPI#API-Keys: `{"op":"authKeyExpires","args":[key,
    /// expires, hex(HMAC-SHA256(secret, "GET/realtime" + expires))]}`, expires in seconds (ccxt
    /// 4.5.83 sends milliseconds; BitMEX documents seconds). The signed string is a REST one of
    /// `GET /realtime`, outside the preset's REST prefix.
    fn login_kinds(&self) -> &'static [LoginKind] {
        const KINDS: &[LoginKind] = &[LoginKind::plain(
            "private",
            "the realtime WebSocket's private topics",
        )];
        KINDS
    }

    fn login(
        &self,
        _kind: &LoginKind,
        _request: &LoginRequest,
        c: &Credentials<'_>,
        stamp: LoginStamp,
    ) -> Result<LoginMessage, PresetError> {
        header_safe(EX, "api key", c.api_key)?;
        let expires = ((stamp.now_ms + self.timestamp_lead_ms()) / 1000).to_string();
        let parts: &[&[u8]] = &[b"GET/realtime", expires.as_bytes()];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, parts)?);
        let args = format!(
            "[{},{expires},{}]",
            crate::sign::login::text(c.api_key),
            crate::sign::login::text(&sig)
        );
        Ok(LoginMessage {
            message: Json::new()
                .str("op", "authKeyExpires")
                .raw("args", &args)
                .done(),
            fields: vec![
                ("apiKey", c.api_key.to_owned()),
                ("expires", expires.clone()),
                ("signature", sig),
            ],
            signed_sha256: signed_digest(parts),
        })
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        c.require_secret(EX)?;
        // BitMEX takes form bodies too (endpoints/tables/bitmex.txt, from its swagger.json).
        json_without_ampersand(EX, &r.body)?;
        let path = path_and_query(&r.path, &r.query);
        let signed_parts: &[&[u8]] = &[
            r.method.as_bytes(),
            path.as_bytes(),
            s.timestamp.as_bytes(),
            &r.body,
        ];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, signed_parts)?);
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
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
