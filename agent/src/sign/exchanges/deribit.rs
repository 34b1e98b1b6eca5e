//! Deribit API v2 over HTTP, `deri-hmac-sha256` Authorization header.
//!
//! Source: Deribit API v2 docs, "Authentication > Additional authorization method -
//! deri-hmac-sha256" (https://docs.deribit.com/#authentication).

use super::common::*;
use crate::sign::login::{Json, LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery};

const EX: &str = "deribit";

#[derive(Debug, Clone, Copy, Default)]
pub struct Deribit;

/// `ts\nnonce\nMETHOD\nURI\nbody\n`: every part on its own line.
const SHAPE: Shape = Shape {
    methods: &["GET", "POST"],
    path_prefixes: &["/api/v2/"],
    query: Query::Any,
    body: Body::Json,
    covers: Covers::Endpoint {
        method: true,
        query: true,
        body: true,
        host: false,
    },
    adjacent: &[],
    // https://docs.deribit.com/#public-auth: grant_type=client_signature takes timestamp,
    // nonce and `data`, and signs `timestamp\nnonce\ndata`; the HTTP signature's string is
    // `timestamp\nnonce\nMETHOD\nURI\nbody\n`, which is that with data = the last three lines.
    login: Login {
        every_signature: Some(
            "every deribit signature is also a public/auth login (grant_type=client_signature, \
             with data = the request's method, URI and body), which yields an access token with \
             the key's whole scope",
        ),
        params: &[],
        method: None,
    },
    signed_query: SignedQuery::AsSent,
    hosts: &[],
    number_optional: false,
    delete_body: false,
};

impl Preset for Deribit {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    /// Deribit's nonce is a single-use random token next to the timestamp.
    fn wants_nonce(&self) -> bool {
        true
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    /// https://docs.deribit.com/#public-auth, `grant_type` `client_signature`: signature =
    /// hex(HMAC-SHA256(secret, timestamp + "\n" + nonce + "\n" + data)); `data` is the agent's
    /// and always empty: a client's could be an HTTP request's last three lines, making the
    /// login a REST signature (and every REST signature is already a login, `Shape::login`).
    fn login_kinds(&self) -> &'static [LoginKind] {
        const KINDS: &[LoginKind] = &[LoginKind::plain(
            "private",
            "a public/auth session (JSON-RPC over WebSocket)",
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
        let ts = stamp.now_ms.to_string();
        let nonce = stamp.nonce.to_string();
        let parts: &[&[u8]] = &[ts.as_bytes(), b"\n", nonce.as_bytes(), b"\n"];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, parts)?);
        let params = Json::new()
            .str("grant_type", "client_signature")
            .str("client_id", c.api_key)
            .raw("timestamp", &ts)
            .str("signature", &sig)
            .str("nonce", &nonce)
            .str("data", "")
            .done();
        Ok(LoginMessage {
            message: Json::new()
                .str("jsonrpc", "2.0")
                .raw("id", &nonce)
                .str("method", "public/auth")
                .raw("params", &params)
                .done(),
            fields: vec![
                ("client_id", c.api_key.to_owned()),
                ("timestamp", ts.clone()),
                ("signature", sig),
                ("nonce", nonce.clone()),
                ("data", String::new()),
            ],
            signed_sha256: signed_digest(parts),
        })
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "client id", c.api_key)?;
        // The id sits inside a comma-separated header value; a comma or '=' would let it forge
        // the other fields.
        if c.api_key.contains([',', '=', ' ']) {
            return Err(bad(EX, "the client id contains ',', '=' or a space"));
        }
        c.require_secret(EX)?;
        let nonce = stamped_nonce(EX, s.nonce.as_deref(), false)?;
        let uri = path_and_query(&r.path, &r.query);
        let signed_parts: &[&[u8]] = &[
            s.timestamp.as_bytes(),
            b"\n",
            nonce.as_bytes(),
            b"\n",
            r.method.as_bytes(),
            b"\n",
            uri.as_bytes(),
            b"\n",
            &r.body,
            b"\n",
        ];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, signed_parts)?);
        let auth = format!(
            "deri-hmac-sha256 id={},ts={},sig={},nonce={}",
            c.api_key, s.timestamp, sig, nonce
        );
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers: headers(&[("Authorization", &auth)]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/deribit.rs"]
mod tests;
