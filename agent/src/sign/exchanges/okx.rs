//! OKX API v5 REST.
//!
//! Source: OKX API v5 docs, "Overview > REST Authentication > Making Requests / Signature"
//! (https://www.okx.com/docs-v5/en/#overview-rest-authentication-signature).

use super::common::*;
use crate::sign::login::{LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery, Slot};

const EX: &str = "okx";

#[derive(Debug, Clone, Copy, Default)]
pub struct Okx;

/// `timestamp + METHOD + path ["?" + query] + body`: path, query and body meet.
const SHAPE: Shape = Shape {
    methods: &["GET", "POST"],
    path_prefixes: &["/api/v5/"],
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

impl Preset for Okx {
    fn shape(&self) -> &'static Shape {
        &SHAPE
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

    /// https://www.okx.com/docs-v5/en/#overview-websocket-login: `timestamp + "GET" +
    /// "/users/self/verify"`, the timestamp in seconds.
    fn login_kinds(&self) -> &'static [LoginKind] {
        const KINDS: &[LoginKind] = &[LoginKind::plain(
            "private",
            "the private and business WebSockets",
        )];
        KINDS
    }

    fn login(
        &self,
        _kind: &LoginKind,
        _request: &LoginRequest,
        credentials: &Credentials<'_>,
        stamp: LoginStamp,
    ) -> Result<LoginMessage, PresetError> {
        verify_path_login(EX, credentials, stamp.now_ms, "/users/self/verify")
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        c.require_secret(EX)?;
        let pass = passphrase(EX, c.passphrase)?;
        // requestPath includes the query for GET; OKX documents the body as "" for GET.
        let request_path = path_and_query(&r.path, &r.query);
        let signed_parts: &[&[u8]] = &[
            s.timestamp.as_bytes(),
            r.method.as_bytes(),
            request_path.as_bytes(),
            &r.body,
        ];
        let mac = c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, signed_parts)?;
        let sig = b64(&mac);
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
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
