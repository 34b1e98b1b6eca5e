//! Kraken spot REST, private endpoints (`/0/private/*`).
//!
//! Source: Kraken "Spot REST Authentication" guide, section "Setting the API-Sign Parameter"
//! (https://docs.kraken.com/api/docs/guides/spot-rest-auth).

use super::common::*;
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery};

const EX: &str = "kraken";
const SECRET_FORM: &str =
    "Kraken secrets are base64 (the 88-character private key shown when the key was created); this one does not decode";
/// The HMAC is keyed with the secret decoded from base64.
const KEY: KeyForm = KeyForm::Base64(SECRET_FORM);

#[derive(Debug, Clone, Copy, Default)]
pub struct Kraken;

/// `path + SHA256(nonce + form body)`: the body hashed; the query is not signed.
const SHAPE: Shape = Shape {
    methods: &["POST"],
    path_prefixes: &["/0/private/"],
    query: Query::Never,
    // Form bodies, and JSON objects (AddOrderBatch, CancelOrderBatch, and any endpoint sent
    // with Content-Type: application/json).
    body: Body::FormOrJson,
    covers: Covers::Endpoint {
        // Not in the signed string; the exchange serves these endpoints by POST only.
        method: false,
        query: false,
        body: true,
        host: false,
    },
    adjacent: &[],
    login: Login::NONE,
    signed_query: SignedQuery::AsSent,
    hosts: &[],
    number_optional: false,
    delete_body: false,
};

const NONCE_IS_THE_AGENTS: &str = "the body already has a nonce; leave it out, the agent adds it";

/// A form body with the agent's nonce first, as Kraken's own example has it (so the published
/// vector reproduces). The agent owns the nonce: a client-chosen one would bypass its counter.
fn form_with_nonce(form: &str, nonce: &str) -> Result<String, PresetError> {
    if form_pairs(EX, "body", form)?
        .iter()
        .any(|(k, _)| *k == "nonce")
    {
        return Err(bad(EX, NONCE_IS_THE_AGENTS));
    }
    Ok(if form.is_empty() {
        format!("nonce={nonce}")
    } else {
        format!("nonce={nonce}&{form}")
    })
}

/// A JSON object body with `"nonce":"N"` as its first member and the client's bytes after it:
/// the nonce a string, as Kraken's official Go SDK (krakenfx/api-go) and ccxt send it (the
/// AddOrderBatch page's schema shows a number; Kraken takes both).
fn json_with_nonce(object: &str, nonce: &str) -> Result<String, PresetError> {
    let members: serde_json::Map<String, serde_json::Value> = serde_json::from_str(object)
        .map_err(|e| bad(EX, format!("the JSON body is not an object ({e})")))?;
    if members.contains_key("nonce") {
        return Err(bad(EX, NONCE_IS_THE_AGENTS));
    }
    json_without_ampersand(EX, object.as_bytes())?;
    let rest = object[1..].trim_start();
    Ok(if rest.starts_with('}') {
        format!("{{\"nonce\":\"{nonce}\"}}")
    } else {
        format!("{{\"nonce\":\"{nonce}\",{rest}")
    })
}

impl Preset for Kraken {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    fn wants_nonce(&self) -> bool {
        true
    }
    fn mac_key_form(&self) -> KeyForm {
        KEY
    }
    fn mac_hash(&self) -> Hash {
        Hash::Sha512
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        base64_secret(EX, secret, SECRET_FORM).map(drop)
    }
    fn no_login(&self) -> &'static str {
        "its private WebSocket (v2) takes a token from the REST call POST /0/private/GetWebSocketsToken: sign that with `apisec sign` (docs/exchanges.md, \"WebSocket logins\")"
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        // Every private spot endpoint is a POST of a form or a JSON object; the nonce lives in it.
        header_safe(EX, "api key", c.api_key)?;
        c.check_key(EX, KEY)?;
        let nonce = stamped_nonce(EX, s.nonce.as_deref(), true)?;
        let text = utf8(EX, "body", &r.body)?;
        let json = text.starts_with('{');
        let body = if json {
            json_with_nonce(text, nonce)?
        } else {
            form_with_nonce(text, nonce)?
        };
        let inner = sha256(&[nonce.as_bytes(), body.as_bytes()]);
        let signed_parts: &[&[u8]] = &[r.path.as_bytes(), &inner];
        let sig = b64(&c.hmac(EX, KEY, Hash::Sha512, signed_parts)?);
        let mut headers = headers(&[("API-Key", c.api_key), ("API-Sign", &sig)]);
        if json {
            headers.push(("Content-Type", "application/json".into()));
        }
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers,
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: Some(body.into_bytes()),
        })
    }
}

#[cfg(test)]
#[path = "tests/kraken.rs"]
mod tests;
