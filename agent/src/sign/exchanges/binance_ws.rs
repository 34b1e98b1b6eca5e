//! Binance's WebSocket API (`wss://ws-api.binance.com/ws-api/v3`): each request's parameters
//! signed, `apiKey` and `timestamp` among them, sorted by name and **not** percent-encoded
//! (https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/request-security,
//! "SIGNED request security": "Sort all parameters alphabetically by name"; its sample: "no
//! percent encoding here!"). A client asks for one as method `WS` and path
//! `/ws-api/v3/METHOD` (`/ws-api/v3/order.place`), its parameters in the query as it would send
//! them in a REST query (percent-encoded); the table classes each method as it does REST
//! endpoints, `session.logon` and `userDataStream.subscribe.signature` as logins.

use super::common::{b64, bad, form_pairs, signed_digest};
use crate::sign::encoding::form_decode;
use crate::sign::login::{Json, LoginKind, LoginMessage, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::{Credentials, HttpRequest, PresetError, Signed, Stamp};

const ID: &str = "binance";

/// The pseudo-method of a WebSocket API request.
pub const METHOD: &str = "WS";

/// The path prefix of a WebSocket API request: the API's own path, then the method's name.
pub const PREFIX: &str = "/ws-api/v3/";

/// The names the agent adds; a client's own would bypass its clock or key.
const AGENT_PARAMS: [&str; 3] = ["apiKey", "timestamp", "signature"];

/// The sorted `k=v&...` payload of a request's parameters (decoded) with the agent's key and
/// stamp, and its signature (hex for HMAC, base64 for Ed25519).
pub fn signature(
    params: &[(String, String)],
    credentials: &Credentials<'_>,
    timestamp: &str,
) -> Result<(String, String), PresetError> {
    let mut all: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.push(("apiKey", credentials.api_key));
    all.push(("timestamp", timestamp));
    all.sort_by(|a, b| a.0.cmp(b.0));
    let payload = all
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let signature = match credentials.signer {
        None => hex::encode(credentials.hmac(
            ID,
            KeyForm::AsShown,
            Hash::Sha256,
            &[payload.as_bytes()],
        )?),
        Some(signer) => {
            b64(&signer
                .sign(payload.as_bytes())
                .map_err(|reason| PresetError::Signer {
                    exchange: ID,
                    reason,
                })?)
        }
    };
    Ok((payload, signature))
}

/// The WebSocket logins: the user data stream's subscription, and a session logon (which
/// Binance takes from Ed25519 keys only). Both sign `apiKey=K&timestamp=T` and nothing else: the
/// method is not signed, so with an Ed25519 key either one is also the other, and a session
/// logged on places orders without more signatures.
pub const LOGINS: &[LoginKind] = &[
    LoginKind::plain("user-data", "the user data stream over the WebSocket API (userDataStream.subscribe.signature)"),
    LoginKind::plain("session", "a WebSocket API session (session.logon; Ed25519 keys): requests after it need no signature"),
];

/// One login of `kind`: `{"id", "method", "params": {"apiKey", "timestamp", "signature"}}`.
pub fn login(
    kind: &LoginKind,
    credentials: &Credentials<'_>,
    stamp: LoginStamp,
) -> Result<LoginMessage, PresetError> {
    let method = if kind.name == "session" {
        if credentials.signer.is_none() {
            return Err(bad(
                ID,
                "Binance takes session.logon from Ed25519 keys only; an HMAC key logs in with \
                 --kind user-data",
            ));
        }
        "session.logon"
    } else {
        "userDataStream.subscribe.signature"
    };
    let timestamp = stamp.now_ms.to_string();
    let (payload, signature) = signature(&[], credentials, &timestamp)?;
    let params = Json::new()
        .str("apiKey", credentials.api_key)
        .raw("timestamp", &timestamp)
        .str("signature", &signature)
        .done();
    Ok(LoginMessage {
        message: Json::new()
            .str("id", &stamp.nonce.to_string())
            .str("method", method)
            .raw("params", &params)
            .done(),
        fields: vec![
            ("apiKey", credentials.api_key.to_owned()),
            ("timestamp", timestamp.clone()),
            ("signature", signature),
        ],
        signed_sha256: signed_digest(&[payload.as_bytes()]),
    })
}

/// Signs one WebSocket API request (`sign@apisec` with method `WS`).
pub fn sign(
    request: &HttpRequest,
    credentials: &Credentials<'_>,
    stamp: &Stamp,
) -> Result<Signed, PresetError> {
    if !request.path.starts_with(PREFIX) || request.path.len() == PREFIX.len() {
        return Err(bad(
            ID,
            format!(
                "a WebSocket API request's path is {PREFIX}METHOD (e.g. {PREFIX}order.place), \
                 not {:?}",
                request.path
            ),
        ));
    }
    if !request.body.is_empty() {
        return Err(bad(
            ID,
            "a WebSocket API request carries its parameters in the query, not a body",
        ));
    }
    let mut params = Vec::new();
    for (k, v) in form_pairs(ID, "query", &request.query)? {
        if AGENT_PARAMS.contains(&k) {
            return Err(bad(
                ID,
                format!(
                    "the request already has {k}; the agent adds apiKey, timestamp and signature"
                ),
            ));
        }
        let value = form_decode(v).ok_or_else(|| {
            bad(
                ID,
                format!("the value of {k:?} does not decode to UTF-8 text"),
            )
        })?;
        // Signed unencoded: an '&' or '=' would read as other parameters in the signed string
        // (which, being parameters only, is also a REST request's), a '%' as an escape there.
        if let Some(c) = value.chars().find(|c| matches!(c, '&' | '=' | '%')) {
            return Err(bad(
                ID,
                format!(
                    "the value of {k:?} decodes to one holding '{c}': a WebSocket API request is \
                     signed unencoded, where that reads as other parameters (or an escape); send \
                     values without '&', '=' or '%'"
                ),
            ));
        }
        params.push((k.to_owned(), value));
    }
    let (payload, signature) = signature(&params, credentials, &stamp.timestamp)?;
    Ok(Signed {
        signed_sha256: signed_digest(&[payload.as_bytes()]),
        headers: Vec::new(),
        query_additions: vec![
            ("apiKey".into(), credentials.api_key.to_owned()),
            ("timestamp".into(), stamp.timestamp.clone()),
            ("signature".into(), signature.clone()),
        ],
        // The parameters as signed (sorted, decoded), for the client's JSON `params`.
        query: format!("{payload}&signature={signature}"),
        body: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    const SECRET: &[u8] = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    /// The WebSocket API request-security page's HMAC examples (order.place), ASCII and
    /// non-ASCII (`１２３４５６`, signed unencoded): the client sends its parameters in any order,
    /// percent-encoded as in a REST query.
    #[test]
    fn published_examples_reproduce() {
        let c = Credentials {
            api_key: KEY,
            secret: SECRET,
            passphrase: None,
            signer: None,
            mac: None,
        };
        let stamp = Stamp {
            timestamp: "1645423376532".into(),
            nonce: None,
        };
        for (query, want) in [
            (
                "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01000000&price=52000.00&recvWindow=100",
                "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
            ),
            (
                "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1.00000000&price=0.10000000&recvWindow=5000",
                "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd",
            ),
        ] {
            let r = HttpRequest {
                method: METHOD.into(),
                path: "/ws-api/v3/order.place".into(),
                query: query.into(),
                ..Default::default()
            };
            let s = sign(&r, &c, &stamp).unwrap();
            assert_eq!(s.query_additions[2].1, want, "{query}");
            assert!(s.query.starts_with(&format!("apiKey={KEY}&price=")), "{}", s.query);
        }
        let r = HttpRequest {
            method: METHOD.into(),
            path: "/ws-api/v3/order.place".into(),
            query: "apiKey=x&symbol=BTCUSDT".into(),
            ..Default::default()
        };
        assert!(sign(&r, &c, &stamp)
            .unwrap_err()
            .to_string()
            .contains("already has apiKey"));
        // Signed unencoded, a value holding '&' would be the parameters of a REST withdrawal
        // in the signed string (which Binance's REST takes for a query as it stands).
        for query in [
            "newClientOrderId=x%26coin%3DUSDT%26address%3DTXyz%26amount%3D1000&symbol=BTCUSDT",
            "price=1%26quantity%3D1000&symbol=BTCUSDT",
            "price=1%2541",
        ] {
            let r = HttpRequest {
                method: METHOD.into(),
                path: "/ws-api/v3/order.test".into(),
                query: query.into(),
                ..Default::default()
            };
            let e = sign(&r, &c, &stamp).unwrap_err().to_string();
            assert!(e.contains("signed unencoded"), "{query}: {e}");
        }
    }
}
