//! Bitget API v2.
//!
//! Source: Bitget API docs, "Quick Start > Signature"
//! (https://www.bitget.com/api-doc/common/signature): `ACCESS-SIGN` is
//! base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + ["?" + queryString] + body)),
//! timestamp in milliseconds, sent with `ACCESS-KEY`, `ACCESS-TIMESTAMP`, `ACCESS-PASSPHRASE`.
//! The queryString signed is the decoded one (`SignedQuery::Decoded`).
//! Bitget publishes no example vector.

use super::common::{b64, passphrase, signed_digest, verify_path_login};
use crate::sign::login::{LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::request::decoded;
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery, Slot, STANDARD_METHODS};
use crate::sign::{Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat};

pub struct Bitget;

const ID: &str = "bitget";

/// `timestamp + METHOD + path ["?" + query] + body`: the path, the query and the body meet with
/// nothing between them.
const SHAPE: Shape = Shape {
    methods: STANDARD_METHODS,
    path_prefixes: &["/api/"],
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
    signed_query: SignedQuery::Decoded,
    hosts: &[],
    number_optional: false,
    delete_body: false,
};

impl Preset for Bitget {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        ID
    }

    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }

    fn needs_passphrase(&self) -> bool {
        true
    }

    /// https://www.bitget.com/api-doc/common/websocket-intro ("Login"): `timestamp + "GET" +
    /// "/user/verify"`, the timestamp in seconds.
    fn login_kinds(&self) -> &'static [LoginKind] {
        const KINDS: &[LoginKind] = &[LoginKind::plain(
            "private",
            "the private WebSocket (v2 and the unified account)",
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
        verify_path_login(ID, credentials, stamp.now_ms, "/user/verify")
    }

    fn sign(
        &self,
        request: &HttpRequest,
        credentials: &Credentials<'_>,
        stamp: &Stamp,
    ) -> Result<Signed, PresetError> {
        let method = request.method.as_str();
        let passphrase = passphrase(ID, credentials.passphrase)?;
        // Bitget signs the query decoded (its API docs' signature sample builds it with
        // `toQueryWithNoEncode`); the URL carries it as the client sends it.
        let query_part = if request.query.is_empty() {
            String::new()
        } else {
            format!("?{}", decoded::signed(ID, &request.query)?)
        };
        let signed_parts: &[&[u8]] = &[
            stamp.timestamp.as_bytes(),
            method.as_bytes(),
            request.path.as_bytes(),
            query_part.as_bytes(),
            &request.body,
        ];
        let mac = credentials.hmac(ID, KeyForm::AsShown, Hash::Sha256, signed_parts)?;
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers: vec![
                ("ACCESS-KEY", credentials.api_key.to_owned()),
                ("ACCESS-SIGN", b64(&mac)),
                ("ACCESS-TIMESTAMP", stamp.timestamp.clone()),
                ("ACCESS-PASSPHRASE", passphrase.to_owned()),
                ("Content-Type", "application/json".into()),
                ("locale", "en-US".into()),
            ],
            query_additions: vec![],
            query: request.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials<'static> {
        Credentials {
            api_key: "bg_0123456789abcdef",
            secret: b"6e8e2f3b1c0a4d5e9f7a8b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e",
            passphrase: Some(b"demo-passphrase"),
            signer: None,
            mac: None,
        }
    }

    /// Bitget publishes no vector. Independent computation with Python's standard library:
    /// ```text
    /// python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(
    ///  b"6e8e2f3b1c0a4d5e9f7a8b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e",
    ///  b"1700000000000GET/api/v2/spot/account/assets?coin=USDT",hashlib.sha256).digest()).decode())'
    /// ```
    #[test]
    fn get_with_query_matches_independent_computation() {
        let req = HttpRequest {
            method: "GET".into(),
            path: "/api/v2/spot/account/assets".into(),
            query: "coin=USDT".into(),
            body: vec![],
            ..Default::default()
        };
        let stamp = Stamp {
            timestamp: "1700000000000".into(),
            nonce: None,
        };
        let signed = Bitget.sign(&req, &creds(), &stamp).unwrap();
        let sign = &signed.headers[1];
        assert_eq!(sign.0, "ACCESS-SIGN");
        assert_eq!(sign.1, "jdglczCK4QaDNFdqYuXW6B6ZZc6fNCF6hes43WJ35sI=");
        assert_eq!(signed.headers[3].1, "demo-passphrase");
        assert_eq!(signed.query, "coin=USDT");
        // Debug output names the headers but never shows the passphrase travelling in one.
        let debug = format!("{signed:?}");
        assert!(debug.contains("ACCESS-PASSPHRASE") && !debug.contains("demo-passphrase"));
    }

    #[test]
    fn missing_passphrase_and_unknown_method_are_clear_errors() {
        use crate::sign::exchanges::common::test_support::SignChecked;
        let req = HttpRequest {
            method: "PATCH".into(),
            path: "/api/v2/spot/account/assets".into(),
            ..Default::default()
        };
        let stamp = Stamp {
            timestamp: "1".into(),
            nonce: None,
        };
        let err = Bitget.sign_checked(&req, &creds(), &stamp).unwrap_err();
        assert!(err.to_string().contains("PATCH"), "{err}");
        let mut c = creds();
        c.passphrase = None;
        let req = HttpRequest {
            method: "GET".into(),
            path: "/api/v2/spot/account/assets".into(),
            ..Default::default()
        };
        let err = Bitget.sign(&req, &c, &stamp).unwrap_err();
        assert_eq!(err, PresetError::MissingPassphrase { exchange: "bitget" });
    }
}
