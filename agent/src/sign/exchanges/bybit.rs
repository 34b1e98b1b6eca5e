//! Bybit API v5 REST (HMAC keys only).
//!
//! Source: Bybit v5 docs, "Integration Guidance > Authentication for API" (parameters for
//! authenticated endpoints; "POST/GET request" prehash rules)
//! (https://bybit-exchange.github.io/docs/v5/guide#authentication).

use super::common::*;
use crate::sign::login::{Json, LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::request::decoded;
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery};

const EX: &str = "bybit";

/// Bybit's documented default. It is part of the prehash, so it is fixed here rather than left to
/// each client; a client needing another window would need a preset option (see exchanges.md).
pub const RECV_WINDOW: &str = "5000";

#[derive(Debug, Clone, Copy, Default)]
pub struct Bybit;

/// `timestamp + key + recvWindow + payload` (a GET's query, a POST's body): no method, no path.
const SHAPE: Shape = Shape {
    methods: &["GET", "POST"],
    path_prefixes: &[],
    query: Query::ReadOnly,
    body: Body::Json,
    covers: Covers::Payload,
    adjacent: &[],
    login: Login::NONE,
    signed_query: SignedQuery::Decoded,
    hosts: &[],
    number_optional: false,
    delete_body: false,
};

impl Preset for Bybit {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)?;
        // Bybit also issues RSA keys (signature is then RSA-SHA256); this preset only does HMAC.
        if secret.windows(11).any(|w| w == b"PRIVATE KEY") {
            return Err(PresetError::BadSecret {
                exchange: EX,
                reason: "this is an RSA private key; the bybit preset signs with HMAC system-generated keys only",
            });
        }
        Ok(())
    }
    /// https://bybit-exchange.github.io/docs/v5/ws/connect ("Authentication"): `{"op":"auth",
    /// "args":[key, expires, hex(HMAC-SHA256(secret, "GET/realtime" + expires))]}`, expires in
    /// milliseconds; as ccxt.pro sends it (expires a string, ten seconds ahead).
    fn login_kinds(&self) -> &'static [LoginKind] {
        const KINDS: &[LoginKind] = &[LoginKind::plain(
            "private",
            "the private and trade WebSockets (v5)",
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
        if c.mac.is_none() {
            self.check_secret(c.secret)?;
        }
        let expires = (stamp.now_ms + 10_000).to_string();
        let parts: &[&[u8]] = &[b"GET/realtime", expires.as_bytes()];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, parts)?);
        let args = format!(
            "[{},{},{}]",
            crate::sign::login::text(c.api_key),
            crate::sign::login::text(&expires),
            crate::sign::login::text(&sig)
        );
        Ok(LoginMessage {
            message: Json::new().str("op", "auth").raw("args", &args).done(),
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
        if c.mac.is_none() {
            self.check_secret(c.secret)?;
        }
        // GET signs the query string, decoded (Bybit's official pybit signs the parameters
        // joined unencoded, `prepare_payload`, and so does ccxt); POST the raw JSON body; never
        // both.
        // A POST's body is signed as it stands, a GET's query decoded: a body holding '&' would
        // also be the signed string of a GET whose query decodes to it, with the parameters its
        // '&'s separate (and another endpoint, the payload being all Bybit signs).
        if r.method != "GET" && r.body.contains(&b'&') {
            return Err(bad(
                EX,
                "the body holds '&': Bybit signs a GET's decoded query and a POST's body alike, so \
                 it would also sign a GET with those parameters; write '&' in JSON strings as \
                 \\u0026",
            ));
        }
        let query;
        let payload: &[u8] = if r.method == "GET" {
            query = decoded::signed(EX, &r.query)?;
            query.as_bytes()
        } else {
            &r.body
        };
        let signed_parts: &[&[u8]] = &[
            s.timestamp.as_bytes(),
            c.api_key.as_bytes(),
            RECV_WINDOW.as_bytes(),
            payload,
        ];
        let mac = c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, signed_parts)?;
        let sig = hex::encode(mac);
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers: headers(&[
                ("X-BAPI-API-KEY", c.api_key),
                ("X-BAPI-TIMESTAMP", &s.timestamp),
                ("X-BAPI-SIGN", &sig),
                ("X-BAPI-RECV-WINDOW", RECV_WINDOW),
            ]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/bybit.rs"]
mod tests;
