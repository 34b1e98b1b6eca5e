//! KuCoin REST (spot, margin and futures share the scheme), API key version 2.
//!
//! Source: KuCoin docs, "Authentication" (sections "Creating a Request", "Signing a Message",
//! and the passphrase note for key version 2)
//! (https://www.kucoin.com/docs-new/authentication).

use super::common::*;
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::request::decoded;
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery, Slot, STANDARD_METHODS};

const EX: &str = "kucoin";

/// Keys created since version 2 send the passphrase HMAC-signed with the secret. KuCoin's newer
/// universal SDK sends "3", which uses the same algorithm (see exchanges.md).
pub const KEY_VERSION: &str = "2";

#[derive(Debug, Clone, Copy, Default)]
pub struct Kucoin;

/// `timestamp + METHOD + endpoint ["?" + query] + body`: path, query and body meet.
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

impl Preset for Kucoin {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    fn needs_passphrase(&self) -> bool {
        true
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn no_login(&self) -> &'static str {
        "its private WebSocket takes a token from the REST call POST /api/v1/bullet-private (futures: on api-futures.kucoin.com; the unified account: /api/v2/bullet-private): sign that with `apisec sign`"
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        c.require_secret(EX)?;
        let pass = passphrase(EX, c.passphrase)?;
        // "the URL must use the content that has not been URL-encoded" (the docs' "Signing a
        // Message"): the query decoded, as sent otherwise.
        let endpoint = path_and_query(&r.path, &decoded::signed(EX, &r.query)?);
        let signed_parts: &[&[u8]] = &[
            s.timestamp.as_bytes(),
            r.method.as_bytes(),
            endpoint.as_bytes(),
            &r.body,
        ];
        let sig = b64(&c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, signed_parts)?);
        let signed_pass = b64(&c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, &[pass.as_bytes()])?);
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers: headers(&[
                ("KC-API-KEY", c.api_key),
                ("KC-API-SIGN", &sig),
                ("KC-API-TIMESTAMP", &s.timestamp),
                ("KC-API-PASSPHRASE", &signed_pass),
                ("KC-API-KEY-VERSION", KEY_VERSION),
            ]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/kucoin.rs"]
mod tests;
