//! Binance spot, HMAC API keys.
//!
//! Source: Binance Spot API docs, "Request security > SIGNED (TRADE and USER_DATA) endpoint
//! security" (https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security):
//! `signature` = hex(HMAC-SHA256(secret, totalParams)) where totalParams is the query string
//! concatenated with the request body; `timestamp` in milliseconds is a signed parameter; the key
//! id travels in `X-MBX-APIKEY`.
//!
//! The agent appends `timestamp` and then `signature` to the query, so the signature covers the
//! timestamp the agent chose. A query that starts with an empty `timestamp=` asks for the stamp
//! in that place instead (Binance takes the parameters in any order; ccxt puts the timestamp
//! first, and its adapter asks for the same string).
//!
//! Since 2026-01-15 Binance refuses a signature over a payload that is not percent-encoded
//! (CHANGELOG, 2025-12-17: "percent-encode payloads before computing signatures. Requests that
//! do not follow this order will be rejected with -1022 INVALID_SIGNATURE"; the same page:
//! "Any non-ASCII character must be percent-encoded before signing"). The agent decodes each
//! name and value and encodes it again (RFC 3986 unreserved characters kept, upper-case hex, a
//! space as `%20`: what the page's non-ASCII example and ccxt's `urlencode` give), signs that,
//! and returns the query and body to send, which the client must use.
//!
//! Ed25519 API keys (same page, "SIGNED Endpoint Example for POST /api/v3/order - Ed25519 Keys"):
//! the signature is base64(Ed25519(totalParams)), percent-encoded in the query.

use super::binance_ws;
use super::common::{b64, percent_encode, reencode_form, signed_digest, utf8};
use crate::sign::login::{LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery};
use crate::sign::{
    Credentials, HttpRequest, KeyAlgorithm, Preset, PresetError, Signed, Stamp, TimeFormat,
};

pub struct Binance;

const ID: &str = "binance";

/// `totalParams` (query, then body): no method, no path.
const SHAPE: Shape = Shape {
    // REST, and the WebSocket API's requests as `WS /ws-api/v3/METHOD` (`binance_ws`).
    methods: &["GET", "POST", "PUT", "DELETE", binance_ws::METHOD],
    path_prefixes: &[
        "/api/",
        "/sapi/",
        "/fapi/",
        "/dapi/",
        "/papi/",
        "/eapi/",
        binance_ws::PREFIX,
    ],
    query: Query::Any,
    body: Body::Form,
    covers: Covers::Parameters,
    adjacent: &[],
    // https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/request-security:
    // a WebSocket API request (session.logon included) signs its parameters with `apiKey`
    // among them; REST sends the key in a header, never as a parameter.
    login: Login {
        every_signature: None,
        params: &["apiKey"],
        // Binance does not say that session.logon refuses parameters beyond its own: any
        // WebSocket API request's signature may also log a whole session on.
        method: Some((
            binance_ws::METHOD,
            "binance signs a WebSocket API request's parameters with apiKey and timestamp among \
             them, as session.logon does, and does not say that session.logon refuses others: \
             the signature may also log a WebSocket API session on",
        )),
    },
    signed_query: SignedQuery::Reencoded,
    hosts: &[],
    number_optional: false,
    delete_body: false,
};

impl Preset for Binance {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        ID
    }

    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }

    fn accepts_key(&self, algorithm: Option<KeyAlgorithm>) -> bool {
        matches!(algorithm, None | Some(KeyAlgorithm::Ed25519))
    }

    fn login_kinds(&self) -> &'static [LoginKind] {
        binance_ws::LOGINS
    }

    fn login(
        &self,
        kind: &LoginKind,
        _request: &LoginRequest,
        credentials: &Credentials<'_>,
        stamp: LoginStamp,
    ) -> Result<LoginMessage, PresetError> {
        binance_ws::login(kind, credentials, stamp)
    }

    fn sign(
        &self,
        request: &HttpRequest,
        credentials: &Credentials<'_>,
        stamp: &Stamp,
    ) -> Result<Signed, PresetError> {
        if request.method == binance_ws::METHOD {
            return binance_ws::sign(request, credentials, stamp);
        }
        if request.path.starts_with(binance_ws::PREFIX) {
            return Err(PresetError::BadRequest {
                exchange: ID,
                reason: format!(
                    "{} is a WebSocket API method: sign it with method {}",
                    request.path,
                    binance_ws::METHOD
                ),
            });
        }
        // An empty `timestamp=` first in the query is where the client wants the stamp.
        let (stamp_first, rest) = match request.query.strip_prefix("timestamp=") {
            Some("") => (true, ""),
            Some(rest) if rest.starts_with('&') => (true, &rest[1..]),
            _ => (false, request.query.as_str()),
        };
        let stamped_by_client = |part: &[u8]| {
            std::str::from_utf8(part).is_ok_and(|s| {
                s.split('&')
                    .any(|kv| kv.starts_with("timestamp=") || kv.starts_with("signature="))
            })
        };
        if stamped_by_client(rest.as_bytes()) || stamped_by_client(&request.body) {
            return Err(PresetError::BadRequest {
                exchange: ID,
                reason:
                    "the request already carries timestamp= or signature=; the agent adds both \
                     (an empty timestamp= first in the query says where; pass a client \
                     timestamp with --timestamp)"
                        .into(),
            });
        }
        let rest = reencode_form(ID, "query", rest)?;
        let rest = rest.as_str();
        let body = if request.body.is_empty() {
            Vec::new()
        } else {
            reencode_form(ID, "body", utf8(ID, "body", &request.body)?)?.into_bytes()
        };
        let stamp_param = format!("timestamp={}", stamp.timestamp);
        let mut query = match (stamp_first, rest.is_empty()) {
            (true, true) | (false, true) => stamp_param,
            (true, false) => format!("{stamp_param}&{rest}"),
            (false, false) => format!("{rest}&{stamp_param}"),
        };
        let signed_parts: &[&[u8]] = &[query.as_bytes(), &body];
        let signed_sha256 = signed_digest(signed_parts);
        let signature = match credentials.signer {
            None => {
                hex::encode(credentials.hmac(ID, KeyForm::AsShown, Hash::Sha256, signed_parts)?)
            }
            Some(signer) => {
                let mut total = query.clone().into_bytes();
                total.extend_from_slice(&body);
                let raw = signer.sign(&total).map_err(|reason| PresetError::Signer {
                    exchange: ID,
                    reason,
                })?;
                percent_encode(&b64(&raw))
            }
        };
        query.push_str("&signature=");
        query.push_str(&signature);
        Ok(Signed {
            headers: vec![("X-MBX-APIKEY", credentials.api_key.to_owned())],
            query_additions: vec![
                ("timestamp".into(), stamp.timestamp.clone()),
                ("signature".into(), signature),
            ],
            query,
            // Returned only when it differs, as the Kraken preset returns its body with the
            // nonce: an already encoded body is sent as it is.
            body: (body != request.body).then_some(body),
            signed_sha256,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance's published example, "SIGNED Endpoint Examples for POST /api/v3/order - HMAC
    /// Keys", Example 1 (all parameters in the query string), in the request-security page cited
    /// above. The key and secret are the ones the page publishes.
    #[test]
    fn published_example_1_query_string() {
        let creds = Credentials {
            api_key: "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            secret: b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
            passphrase: None,
            signer: None,
            mac: None,
        };
        let req = HttpRequest {
            method: "POST".into(),
            path: "/api/v3/order".into(),
            query: "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
                .into(),
            body: vec![],
            ..Default::default()
        };
        let stamp = Stamp {
            timestamp: "1499827319559".into(),
            nonce: None,
        };
        let signed = Binance.sign(&req, &creds, &stamp).unwrap();
        let expected = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
        assert_eq!(
            signed.query_additions[1],
            ("signature".into(), expected.into())
        );
        assert_eq!(
            signed.query,
            format!("{}&timestamp=1499827319559&signature={expected}", req.query)
        );
        assert_eq!(signed.headers, vec![("X-MBX-APIKEY", creds.api_key.into())]);
    }

    /// The same page's non-ASCII example (added with the 2026-01-15 change): the symbol
    /// `１２３４５６` percent-encoded as UTF-8 before signing. A client that sends it encoded in
    /// lower-case hex, or sends other characters unencoded, gets the same encoded payload back
    /// to send, signed as published.
    #[test]
    fn published_non_ascii_example_and_the_payload_is_encoded() {
        let creds = Credentials {
            api_key: "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            secret: b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
            passphrase: None,
            signer: None,
            mac: None,
        };
        let stamp = Stamp {
            timestamp: "1499827319559".into(),
            nonce: None,
        };
        let rest = "side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000";
        let published =
            format!("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&{rest}");
        let expected = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3";
        for query in [
            published.clone(),
            published.to_lowercase().replace(
                "side=buy&type=limit&timeinforce=gtc&quantity=1&price=0.1&recvwindow=5000",
                rest,
            ),
        ] {
            let req = HttpRequest {
                method: "POST".into(),
                path: "/api/v3/order".into(),
                query: query.clone(),
                ..Default::default()
            };
            let signed = Binance.sign(&req, &creds, &stamp).unwrap();
            assert_eq!(signed.query_additions[1].1, expected, "{query}");
            assert_eq!(
                signed.query,
                format!("{published}&timestamp=1499827319559&signature={expected}")
            );
        }
        // A form body is encoded too, and returned to be sent instead.
        let req = HttpRequest {
            method: "POST".into(),
            path: "/api/v3/order".into(),
            body: b"newClientOrderId=a,b:c@d".to_vec(),
            ..Default::default()
        };
        let signed = Binance.sign(&req, &creds, &stamp).unwrap();
        assert_eq!(
            signed.body.as_deref(),
            Some(&b"newClientOrderId=a%2Cb%3Ac%40d"[..])
        );
        let req = HttpRequest {
            body: b"newClientOrderId=abc".to_vec(),
            ..req
        };
        assert_eq!(Binance.sign(&req, &creds, &stamp).unwrap().body, None);
    }

    #[test]
    fn client_supplied_signature_or_timestamp_is_refused() {
        let creds = Credentials {
            api_key: "k",
            secret: b"s",
            passphrase: None,
            signer: None,
            mac: None,
        };
        let req = HttpRequest {
            method: "GET".into(),
            path: "/api/v3/account".into(),
            query: "timestamp=1".into(),
            body: vec![],
            ..Default::default()
        };
        let stamp = Stamp {
            timestamp: "2".into(),
            nonce: None,
        };
        assert!(matches!(
            Binance.sign(&req, &creds, &stamp),
            Err(PresetError::BadRequest { .. })
        ));
    }

    /// Ed25519 key: RFC 8410 section 10.3's example private key; the expected signature was
    /// computed independently with OpenSSL:
    /// `printf '%s' "$totalParams" | openssl pkeyutl -sign -inkey ed.pem -rawin | base64 -w0`.
    /// The parameters are those of Binance's Ed25519 example (request-security page cited above).
    #[test]
    fn ed25519_key_signs_total_params_in_base64() {
        let seed = hex::decode("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842")
            .unwrap();
        let key = crate::keys::SoftKey::new(
            KeyAlgorithm::Ed25519,
            crate::secret::LockedBytes::new(&seed),
        )
        .unwrap();
        let creds = Credentials {
            api_key: "ed-key",
            secret: b"",
            passphrase: None,
            signer: Some(&key),
            mac: None,
        };
        let req = HttpRequest {
            method: "POST".into(),
            path: "/api/v3/order".into(),
            query: "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&recvWindow=5000".into(),
            body: vec![],
            ..Default::default()
        };
        let stamp = Stamp {
            timestamp: "1668481559918".into(),
            nonce: None,
        };
        let signed = Binance.sign(&req, &creds, &stamp).unwrap();
        let expected = "dzew7gLjVAlsy7sNq8TpFjDwE3AQShQywfokgplBbfM0goKtlUA8PcXyhZPl16mJ/HXa4yYrNPGWhDOiAItNDw==";
        assert_eq!(signed.query_additions[1].1, percent_encode(expected));
        assert!(signed.query.ends_with(&format!(
            "&timestamp=1668481559918&signature={}",
            percent_encode(expected)
        )));
    }
}
