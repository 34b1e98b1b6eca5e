//! Kraken Futures (derivatives) REST API v3.
//!
//! Source: Kraken "Futures REST" guide, section "Authentication" (inputs PostData, Nonce,
//! endpointPath; "Authent" steps 1-5; "Upcoming Changes" table of 20 Feb 2024)
//! (https://docs.kraken.com/api/docs/guides/futures-rest/).

use super::common::*;
use crate::sign::login::{LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery, Slot, STANDARD_METHODS};

const EX: &str = "kraken-futures";
const SECRET_FORM: &str =
    "Kraken Futures secrets are base64 (as shown when the key was created); this one does not decode";
/// The HMAC is keyed with the secret decoded from base64.
const KEY: KeyForm = KeyForm::Base64(SECRET_FORM);

#[derive(Debug, Clone, Copy, Default)]
pub struct KrakenFutures;

/// `SHA256(postData + nonce + endpointPath)`: the parameters meet the agent's nonce, the nonce the path.
const SHAPE: Shape = Shape {
    methods: STANDARD_METHODS,
    // The trading API under /derivatives/api/; the history API (account log, executions,
    // orders, triggers) at /api/history/ on the same host, signed the same way.
    path_prefixes: &["/derivatives/api/", "/api/history/"],
    query: Query::NotWithBody,
    body: Body::Form,
    covers: Covers::Endpoint {
        // postData + nonce + path: the method is not in the signed string.
        method: false,
        query: true,
        body: true,
        host: false,
    },
    adjacent: &[Slot::Params, Slot::Number, Slot::Path],
    login: Login::NONE,
    signed_query: SignedQuery::AsSent,
    hosts: &[],
    number_optional: true,
    delete_body: false,
};

/// The endpointPath Kraken signs for a request path. The trading API's URL carries
/// /derivatives, its endpointPath does not; the history API's is the path itself. The prefix
/// is required on the trading API, so that `/api/v3/withdrawal` (which the table does not
/// know) cannot sign what `/derivatives/api/v3/withdrawal` does; the history API is refused
/// under /derivatives, where its endpointPath would be the same as at its own path.
fn endpoint_path(path: &str) -> Result<&str, PresetError> {
    let endpoint = endpoint_path_as_given(path)?;
    // The Nonce header is optional: without it, postData + endpointPath is all that is hashed,
    // and an endpointPath ending in another `/api/...` would sign that endpoint with the rest
    // of the path sent as postData.
    if endpoint[1..].contains("/api/") {
        return Err(bad(
            EX,
            format!(
                "path {path:?} holds a second /api/: Kraken also takes a request without a \
                 Nonce, whose signed string would make that a request to the path after it"
            ),
        ));
    }
    Ok(endpoint)
}

fn endpoint_path_as_given(path: &str) -> Result<&str, PresetError> {
    if path.starts_with("/api/history/") {
        return Ok(path);
    }
    match path.strip_prefix("/derivatives") {
        Some(endpoint) if endpoint.starts_with("/api/history/") => Err(bad(
            EX,
            format!(
                "path {path:?}: Kraken's history API is at {endpoint}, without /derivatives; \
                 send it there"
            ),
        )),
        Some(endpoint) if endpoint.starts_with("/api/") => Ok(endpoint),
        _ => Err(bad(
            EX,
            format!(
                "path {path:?} is not a Kraken Futures API path (/derivatives/api/... or \
                 /api/history/...)"
            ),
        )),
    }
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Preset for KrakenFutures {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    // The Nonce header is optional for Kraken Futures, and the Authent of a request without one
    // covers only postData and the endpoint: valid for ever, any number of times, for anyone who
    // saw it once. The agent stamps its own increasing nonce, so each signature is good once
    // (Kraken refuses a nonce not above the last it saw for the key). The price: requests sent in
    // parallel may reach Kraken out of order, and the late one is refused (docs/exchanges.md).
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
    /// https://docs.kraken.com/api/docs/guides/futures-websockets ("Sign challenge"): the
    /// `api_key`, `original_challenge` and `signed_challenge` fields of each private `subscribe`
    /// (its feed is the client's), signed_challenge = base64(HMAC-SHA512(decoded secret,
    /// SHA-256(challenge))). That is how a REST Authent is made from postData + nonce + path, so
    /// the challenge must be what Kraken sends, a UUID: no REST string (which holds `/api/`) is.
    fn login_kinds(&self) -> &'static [LoginKind] {
        const KINDS: &[LoginKind] = &[LoginKind::plain(
            "private",
            "the private feeds of the Futures WebSocket (orders, fills, balances)",
        )];
        KINDS
    }

    fn login_takes_challenge(&self) -> bool {
        true
    }

    fn login(
        &self,
        _kind: &LoginKind,
        request: &LoginRequest,
        c: &Credentials<'_>,
        _stamp: LoginStamp,
    ) -> Result<LoginMessage, PresetError> {
        header_safe(EX, "api key", c.api_key)?;
        let challenge = request.challenge.as_str();
        if challenge.is_empty() {
            return Err(bad(
                EX,
                "Kraken Futures' login signs the challenge its WebSocket sent (the reply to \
                 {\"event\":\"challenge\"}): pass it with --challenge",
            ));
        }
        if !is_uuid(challenge) {
            return Err(bad(
                EX,
                "the challenge must be a UUID, as Kraken sends it (8-4-4-4-12 hexadecimal \
                 digits): any other text could be a REST request's signed string",
            ));
        }
        c.check_key(EX, KEY)?;
        let digest = sha256(&[challenge.as_bytes()]);
        let parts: &[&[u8]] = &[&digest];
        let signed = b64(&c.hmac(EX, KEY, Hash::Sha512, parts)?);
        Ok(LoginMessage {
            fields: vec![
                ("api_key", c.api_key.to_owned()),
                ("original_challenge", challenge.to_owned()),
                ("signed_challenge", signed),
            ],
            message: String::new(),
            signed_sha256: signed_digest(parts),
        })
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        header_safe(EX, "api key", c.api_key)?;
        c.check_key(EX, KEY)?;
        let endpoint = endpoint_path(&r.path)?;
        // postData is "the parameters sent", wherever they travel. Signing both would not match
        // what Kraken recomputes, so a request must carry its parameters in one place.
        let post_data: &[u8] = match (r.query.is_empty(), r.body.is_empty()) {
            (_, true) => r.query.as_bytes(),
            (true, false) => &r.body,
            (false, false) => return Err(bad(
                EX,
                "parameters are in both the query and the body; Kraken Futures signs one postData",
            )),
        };
        // Always present when signed through the agent; absent only when a test replays ccxt,
        // which sends none.
        let nonce = match s.nonce.as_deref() {
            Some(n) => Some(stamped_nonce(EX, Some(n), true)?),
            None => None,
        };
        let digest = sha256(&[
            post_data,
            nonce.unwrap_or("").as_bytes(),
            endpoint.as_bytes(),
        ]);
        let signed_parts: &[&[u8]] = &[&digest];
        let sig = b64(&c.hmac(EX, KEY, Hash::Sha512, signed_parts)?);
        let mut h = headers(&[("APIKey", c.api_key), ("Authent", &sig)]);
        if let Some(n) = nonce {
            h.push(("Nonce", n.into()));
        }
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers: h,
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/kraken_futures.rs"]
mod tests;
