//! Bitfinex REST API v2, authenticated endpoints (`/v2/auth/*`).
//!
//! Source: Bitfinex API docs, "REST Auth Endpoints > Authentication" (headers bfx-nonce,
//! bfx-apikey, bfx-signature; signature payload `/api/` + path + nonce + body)
//! (https://docs.bitfinex.com/docs/rest-auth).

use super::common::*;
use crate::sign::login::{Json, LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery, Slot};

const EX: &str = "bitfinex";

#[derive(Debug, Clone, Copy, Default)]
pub struct Bitfinex;

/// `/api + path + nonce + body`: the path meets the agent's nonce, the nonce the body.
const SHAPE: Shape = Shape {
    methods: &["POST"],
    path_prefixes: &["/v2/auth/"],
    query: Query::Never,
    body: Body::Json,
    covers: Covers::Endpoint {
        // Not in the signed string; the exchange serves these endpoints by POST only.
        method: false,
        query: false,
        body: true,
        host: false,
    },
    adjacent: &[Slot::Path, Slot::Number, Slot::Body],
    login: Login::NONE,
    signed_query: SignedQuery::AsSent,
    hosts: &[],
    number_optional: false,
    delete_body: false,
};

impl Preset for Bitfinex {
    fn shape(&self) -> &'static Shape {
        &SHAPE
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
    fn mac_hash(&self) -> Hash {
        Hash::Sha384
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    /// https://docs.bitfinex.com/docs/ws-auth: `{"event":"auth", "apiKey", "authSig",
    /// "authPayload": "AUTH" + nonce, "authNonce"}`, authSig = hex(HMAC-SHA384(secret,
    /// authPayload)); members in ccxt.pro's order. The nonce is the agent's, from the same
    /// counter as its REST nonces (Bitfinex wants them increasing per key). No REST string
    /// starts with "AUTH" (they start with "/api/").
    fn login_kinds(&self) -> &'static [LoginKind] {
        const KINDS: &[LoginKind] = &[LoginKind::plain(
            "private",
            "the authenticated WebSocket channel (orders, positions, wallets)",
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
        let nonce = stamp.nonce.to_string();
        let payload = format!("AUTH{nonce}");
        let parts: &[&[u8]] = &[payload.as_bytes()];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha384, parts)?);
        Ok(LoginMessage {
            message: Json::new()
                .str("apiKey", c.api_key)
                .str("authSig", &sig)
                .raw("authNonce", &nonce)
                .str("authPayload", &payload)
                .str("event", "auth")
                .done(),
            fields: vec![
                ("apiKey", c.api_key.to_owned()),
                ("authSig", sig),
                ("authNonce", nonce.clone()),
                ("authPayload", payload.clone()),
            ],
            signed_sha256: signed_digest(parts),
        })
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        // All authenticated v2 endpoints are POST.
        header_safe(EX, "api key", c.api_key)?;
        c.require_secret(EX)?;
        let nonce = stamped_nonce(EX, s.nonce.as_deref(), true)?;
        let signed_parts: &[&[u8]] = &[b"/api", r.path.as_bytes(), nonce.as_bytes(), &r.body];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha384, signed_parts)?);
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
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
