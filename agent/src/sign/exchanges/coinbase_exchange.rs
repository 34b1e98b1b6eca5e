//! Coinbase Exchange (formerly Coinbase Pro) REST API, HMAC keys.
//!
//! Source: Coinbase Exchange docs, "REST API > Authentication > Signing a Message"
//! (https://docs.cdp.coinbase.com/exchange/rest-api/authentication).

use super::common::*;
use crate::sign::login::{LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery, Slot, STANDARD_METHODS};

const EX: &str = "coinbase-exchange";
const SECRET_FORM: &str = "Coinbase Exchange secrets are base64 (as shown when the key was created); this one does not decode";
/// The HMAC is keyed with the secret decoded from base64.
const KEY: KeyForm = KeyForm::Base64(SECRET_FORM);

#[derive(Debug, Clone, Copy, Default)]
pub struct CoinbaseExchange;

/// `timestamp + METHOD + requestPath ["?" + query] + body`: path, query and body meet.
const SHAPE: Shape = Shape {
    methods: STANDARD_METHODS,
    path_prefixes: &[],
    query: Query::Any,
    body: Body::Json,
    covers: Covers::Endpoint {
        method: true,
        query: true,
        body: true,
        host: false,
    },
    adjacent: &[Slot::Path, Slot::QueryWithMark, Slot::Body],
    login: Login::NONE,
    signed_query: SignedQuery::AsSent,
    hosts: &[],
    number_optional: false,
    delete_body: false,
};

impl Preset for CoinbaseExchange {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixSecondsDecimal
    }
    fn needs_passphrase(&self) -> bool {
        true
    }
    fn mac_key_form(&self) -> KeyForm {
        KEY
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        base64_secret(EX, secret, SECRET_FORM).map(drop)
    }
    /// https://docs.cdp.coinbase.com/exchange/websocket-feed/authentication: the `signature`,
    /// `key`, `passphrase` and `timestamp` fields of a `subscribe` message (whose channels and
    /// products are the client's, and unsigned), signature = base64(HMAC-SHA256(decoded secret,
    /// timestamp + "GET" + "/users/self/verify")): exactly the REST signature of
    /// `GET /users/self/verify`, which the table therefore classes `login`.
    fn login_kinds(&self) -> &'static [LoginKind] {
        &[LoginKind {
            name: "private",
            what: "the authenticated WebSocket feed (the user channel and full feeds)",
            host: "",
            rest_twin: Some("/users/self/verify"),
        }]
    }

    fn login(
        &self,
        _kind: &LoginKind,
        _request: &LoginRequest,
        c: &Credentials<'_>,
        stamp: LoginStamp,
    ) -> Result<LoginMessage, PresetError> {
        header_safe(EX, "api key", c.api_key)?;
        c.check_key(EX, KEY)?;
        let pass = passphrase(EX, c.passphrase)?;
        let ts = (stamp.now_ms / 1000).to_string();
        let parts: &[&[u8]] = &[ts.as_bytes(), b"GET", b"/users/self/verify"];
        let sig = b64(&c.hmac(EX, KEY, Hash::Sha256, parts)?);
        Ok(LoginMessage {
            fields: vec![
                ("signature", sig),
                ("key", c.api_key.to_owned()),
                ("passphrase", pass.to_owned()),
                ("timestamp", ts.clone()),
            ],
            message: String::new(),
            signed_sha256: signed_digest(parts),
        })
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        c.check_key(EX, KEY)?;
        let pass = passphrase(EX, c.passphrase)?;
        let request_path = path_and_query(&r.path, &r.query);
        let signed_parts: &[&[u8]] = &[
            s.timestamp.as_bytes(),
            r.method.as_bytes(),
            request_path.as_bytes(),
            &r.body,
        ];
        let sig = b64(&c.hmac(EX, KEY, Hash::Sha256, signed_parts)?);
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers: headers(&[
                ("CB-ACCESS-KEY", c.api_key),
                ("CB-ACCESS-SIGN", &sig),
                ("CB-ACCESS-TIMESTAMP", &s.timestamp),
                ("CB-ACCESS-PASSPHRASE", pass),
            ]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/coinbase_exchange.rs"]
mod tests;
