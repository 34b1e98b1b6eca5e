//! Gate (gate.io) API v4.
//!
//! Source: Gate API v4 docs, "Authentication > API Signature string generation"
//! (https://www.gate.io/docs/developers/apiv4/en/#api-signature-string-generation).

use super::common::*;
use crate::sign::login::{Json, LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
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
    number_optional: false,
    delete_body: false,
};

/// The WebSocket API logins (Gate's "WebSocket API", `spot.login` / `futures.login`): a
/// session that places and cancels orders over the socket without more signatures.
const API_LOGINS: &[&str] = &["spot.login", "futures.login"];

/// Gate's private WebSocket channels (https://www.gate.io/docs/developers/apiv4/ws/en/), each
/// subscribed with its own signature, then the API logins.
const LOGINS: &[LoginKind] = &[
    LoginKind::plain("spot.orders", "spot: order updates"),
    LoginKind::plain("spot.orders_v2", "spot: order updates (v2)"),
    LoginKind::plain("spot.usertrades", "spot: own trades"),
    LoginKind::plain("spot.usertrades_v2", "spot: own trades (v2)"),
    LoginKind::plain("spot.balances", "spot: balances"),
    LoginKind::plain("spot.margin_balances", "margin balances"),
    LoginKind::plain("spot.funding_balances", "funding balances"),
    LoginKind::plain("spot.cross_balances", "cross-margin balances"),
    LoginKind::plain("spot.priceorders", "spot: price-triggered orders"),
    LoginKind::plain("futures.orders", "futures: order updates"),
    LoginKind::plain("futures.usertrades", "futures: own trades"),
    LoginKind::plain("futures.liquidates", "futures: liquidations"),
    LoginKind::plain("futures.auto_deleverages", "futures: auto-deleveraging"),
    LoginKind::plain("futures.position_closes", "futures: position closes"),
    LoginKind::plain("futures.balances", "futures: balances"),
    LoginKind::plain(
        "futures.reduce_risk_limits",
        "futures: risk-limit reductions",
    ),
    LoginKind::plain("futures.positions", "futures: positions"),
    LoginKind::plain("futures.autoorders", "futures: price-triggered orders"),
    LoginKind::plain("options.orders", "options: order updates"),
    LoginKind::plain("options.usertrades", "options: own trades"),
    LoginKind::plain("options.liquidates", "options: liquidations"),
    LoginKind::plain("options.user_settlements", "options: settlements"),
    LoginKind::plain("options.position_closes", "options: position closes"),
    LoginKind::plain("options.balances", "options: balances"),
    LoginKind::plain("options.positions", "options: positions"),
    LoginKind::plain(
        "spot.login",
        "a spot WebSocket API session (orders over the socket)",
    ),
    LoginKind::plain(
        "futures.login",
        "a futures WebSocket API session (orders over the socket)",
    ),
];

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
    fn mac_hash(&self) -> Hash {
        Hash::Sha512
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    /// A private channel's `subscribe`: auth SIGN = hex(HMAC-SHA512(secret, "channel=" + channel +
    /// "&event=subscribe&time=" + time)), the channel one of [`LOGINS`] (the kind), the event
    /// fixed; the payload (currency pairs, contracts) is the client's and unsigned. An API login:
    /// signature = hex(HMAC-SHA512(secret, "api\n" + channel + "\n{}\n" + time)), as ccxt.pro
    /// sends it. Neither string has the lines of a REST one (METHOD, path, query, body hash).
    fn login_kinds(&self) -> &'static [LoginKind] {
        LOGINS
    }

    fn login(
        &self,
        kind: &LoginKind,
        _request: &LoginRequest,
        c: &Credentials<'_>,
        stamp: LoginStamp,
    ) -> Result<LoginMessage, PresetError> {
        header_safe(EX, "api key", c.api_key)?;
        c.require_secret(EX)?;
        let time = (stamp.now_ms / 1000).to_string();
        if API_LOGINS.contains(&kind.name) {
            let signed = format!("api\n{}\n{{}}\n{time}", kind.name);
            let parts: &[&[u8]] = &[signed.as_bytes()];
            let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha512, parts)?);
            let id = stamp.nonce.to_string();
            let payload = Json::new()
                .str("req_id", &id)
                .str("timestamp", &time)
                .str("api_key", c.api_key)
                .str("signature", &sig)
                .raw("req_param", "{}")
                .done();
            return Ok(LoginMessage {
                message: Json::new()
                    .str("id", &id)
                    .raw("time", &time)
                    .str("channel", kind.name)
                    .str("event", "api")
                    .raw("payload", &payload)
                    .done(),
                fields: vec![
                    ("channel", kind.name.to_owned()),
                    ("timestamp", time.clone()),
                    ("api_key", c.api_key.to_owned()),
                    ("signature", sig),
                ],
                signed_sha256: signed_digest(parts),
            });
        }
        let signed = format!("channel={}&event=subscribe&time={time}", kind.name);
        let parts: &[&[u8]] = &[signed.as_bytes()];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha512, parts)?);
        let auth = Json::new()
            .str("method", "api_key")
            .str("KEY", c.api_key)
            .str("SIGN", &sig)
            .done();
        Ok(LoginMessage {
            message: Json::new()
                .raw("time", &time)
                .str("channel", kind.name)
                .str("event", "subscribe")
                .raw("auth", &auth)
                .done(),
            fields: vec![
                ("time", time.clone()),
                ("channel", kind.name.to_owned()),
                ("event", "subscribe".to_owned()),
                ("KEY", c.api_key.to_owned()),
                ("SIGN", sig),
            ],
            signed_sha256: signed_digest(parts),
        })
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        c.require_secret(EX)?;
        // Gate hashes the body even when empty (sha512 of ""), so the line is never blank.
        let body_hash = sha512_hex(&r.body);
        // The query line is decoded: Gate's official SDK signs `unquote_plus(urlencode(query))`.
        let query = decoded::signed(EX, &r.query)?;
        let prehash = format!(
            "{}\n{}\n{}\n{}\n{}",
            r.method, r.path, query, body_hash, s.timestamp
        );
        let signed_parts: &[&[u8]] = &[prehash.as_bytes()];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha512, signed_parts)?);
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
