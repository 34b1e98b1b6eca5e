//! Coinbase Advanced Trade (CDP API keys): a JWT per request, signed with the key's ES256 (P-256)
//! or EdDSA (Ed25519) private key, sent as `Authorization: Bearer <jwt>`.
//!
//! Source: Coinbase Developer Platform, "API Key Authentication"
//! (https://docs.cdp.coinbase.com/advanced-trade/docs/rest-api-auth) and the official
//! `coinbase-advanced-py` SDK's `jwt_generator.py`: header `{"alg", "kid": key name, "nonce",
//! "typ": "JWT"}`; claims `{"sub": key name, "iss": "cdp", "nbf": now, "exp": now + 120,
//! "uri": "METHOD host/path"}`; the uri carries no query. ECDSA signatures are randomized, so no
//! fixed vector can exist: the tests decode the JWT, compare header and claims exactly, and verify
//! the signature with the public key.

use base64::Engine;

use super::common::signed_digest;
use crate::sign::login::{LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::shape::{Body, Covers, Host, Login, Query, Shape, SignedQuery, STANDARD_METHODS};
use crate::sign::{
    Credentials, HttpRequest, KeyAlgorithm, Preset, PresetError, Signed, Stamp, TimeFormat,
};

pub struct CoinbaseAdvanced;

const ID: &str = "coinbase-advanced";
/// The host the `uri` claim names: the JWT is bound to it.
pub const HOST: &str = "api.coinbase.com";
/// Lifetime of one JWT, as Coinbase's SDK sets it.
const LIFETIME_SECS: u64 = 120;

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT whose `uri` claim is `METHOD host/path`: neither the query nor the body is signed.
const SHAPE: Shape = Shape {
    methods: STANDARD_METHODS,
    path_prefixes: &["/api/v3/brokerage/", "/v2/"],
    query: Query::Any,
    body: Body::Json,
    covers: Covers::Endpoint {
        method: true,
        query: false,
        body: false,
        host: true,
    },
    adjacent: &[],
    login: Login::NONE,
    signed_query: SignedQuery::AsSent,
    hosts: &[Host {
        name: HOST,
        table: None,
    }],
    number_optional: false,
    delete_body: false,
};

/// A CDP JWT and its signing input: the claims of Coinbase's `jwt_generator.py`, with the `uri`
/// claim for REST (`build_rest_jwt`) and without it for the WebSocket (`build_ws_jwt`).
fn jwt(
    credentials: &Credentials<'_>,
    now: u64,
    nonce: &str,
    uri: Option<&str>,
) -> Result<(String, String), PresetError> {
    let signer = credentials.signer.ok_or(PresetError::KeyKind {
        exchange: ID,
        needed: "a CDP key (ES256 or Ed25519)",
        have: "an HMAC secret",
    })?;
    let alg = match signer.algorithm() {
        KeyAlgorithm::P256 => "ES256",
        KeyAlgorithm::Ed25519 => "EdDSA",
    };
    let header = serde_json::json!({
        "alg": alg,
        "kid": credentials.api_key,
        "nonce": nonce,
        "typ": "JWT",
    });
    let mut claims = serde_json::json!({
        "sub": credentials.api_key,
        "iss": "cdp",
        "nbf": now,
        "exp": now + LIFETIME_SECS,
    });
    if let Some(uri) = uri {
        claims["uri"] = serde_json::Value::from(uri);
    }
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature =
        signer
            .sign(signing_input.as_bytes())
            .map_err(|reason| PresetError::Signer {
                exchange: ID,
                reason,
            })?;
    Ok((
        format!("{signing_input}.{}", b64url(&signature)),
        signing_input,
    ))
}

impl Preset for CoinbaseAdvanced {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        ID
    }

    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixSeconds
    }

    fn wants_nonce(&self) -> bool {
        true
    }

    fn accepts_key(&self, algorithm: Option<KeyAlgorithm>) -> bool {
        algorithm.is_some()
    }

    /// https://docs.cdp.coinbase.com/advanced-trade/docs/ws-auth: the `jwt` field of a
    /// subscribe message (its channel and products are the client's), a JWT without the `uri`
    /// claim that binds a REST one to its request; Coinbase's SDK `build_ws_jwt`.
    fn login_kinds(&self) -> &'static [LoginKind] {
        const KINDS: &[LoginKind] = &[LoginKind::plain(
            "private",
            "the user channel of the Advanced Trade WebSocket",
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
        let (jwt, signing_input) = jwt(
            credentials,
            stamp.now_ms / 1000,
            &format!("{:032x}", stamp.nonce),
            None,
        )?;
        Ok(LoginMessage {
            fields: vec![("jwt", jwt)],
            message: String::new(),
            signed_sha256: signed_digest(&[signing_input.as_bytes()]),
        })
    }

    fn sign(
        &self,
        request: &HttpRequest,
        credentials: &Credentials<'_>,
        stamp: &Stamp,
    ) -> Result<Signed, PresetError> {
        let now: u64 = stamp
            .timestamp
            .parse()
            .map_err(|_| PresetError::BadRequest {
                exchange: ID,
                reason: "the timestamp must be Unix seconds".into(),
            })?;
        let nonce = stamp.nonce.clone().unwrap_or_default();
        let uri = format!("{} {HOST}{}", request.method, request.path);
        let (jwt, signing_input) = jwt(credentials, now, &nonce, Some(&uri))?;
        Ok(Signed {
            headers: vec![("Authorization", format!("Bearer {jwt}"))],
            query_additions: vec![],
            query: request.query.clone(),
            body: None,
            signed_sha256: signed_digest(&[signing_input.as_bytes()]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SoftKey;
    use crate::secret::LockedBytes;

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    }

    fn sign_with(key: &SoftKey) -> (String, Vec<String>) {
        let creds = Credentials {
            api_key: "organizations/org-id/apiKeys/key-id",
            secret: b"",
            passphrase: None,
            signer: Some(key),
            mac: None,
        };
        let req = HttpRequest {
            method: "GET".into(),
            path: "/api/v3/brokerage/accounts".into(),
            query: "limit=5".into(),
            body: vec![],
            ..Default::default()
        };
        let stamp = Stamp {
            timestamp: "1700000000".into(),
            nonce: Some("1700000000123456".into()),
        };
        let signed = CoinbaseAdvanced.sign(&req, &creds, &stamp).unwrap();
        assert_eq!(signed.query, "limit=5");
        let auth = &signed.headers[0];
        assert_eq!(auth.0, "Authorization");
        let jwt = auth.1.strip_prefix("Bearer ").unwrap().to_owned();
        let parts = jwt.split('.').map(str::to_owned).collect();
        (jwt, parts)
    }

    #[test]
    fn es256_jwt_has_the_documented_claims_and_verifies() {
        use p256::ecdsa::signature::Verifier;
        let secret = crate::keys::generate(KeyAlgorithm::P256);
        let key = SoftKey::new(KeyAlgorithm::P256, LockedBytes::new(&secret)).unwrap();
        let (_, parts) = sign_with(&key);
        assert_eq!(
            decode(&parts[0]),
            serde_json::json!({"alg": "ES256", "kid": "organizations/org-id/apiKeys/key-id", "nonce": "1700000000123456", "typ": "JWT"})
        );
        assert_eq!(
            decode(&parts[1]),
            serde_json::json!({"sub": "organizations/org-id/apiKeys/key-id", "iss": "cdp", "nbf": 1700000000u64,
                "exp": 1700000120u64, "uri": "GET api.coinbase.com/api/v3/brokerage/accounts"})
        );
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.public_key().unwrap()).unwrap();
        let sig = p256::ecdsa::Signature::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&parts[2])
                .unwrap(),
        )
        .unwrap();
        vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn eddsa_jwt_verifies() {
        use ed25519_dalek::Verifier;
        let secret = crate::keys::generate(KeyAlgorithm::Ed25519);
        let key = SoftKey::new(KeyAlgorithm::Ed25519, LockedBytes::new(&secret)).unwrap();
        let (_, parts) = sign_with(&key);
        assert_eq!(decode(&parts[0])["alg"], "EdDSA");
        let pk: [u8; 32] = key.public_key().unwrap().try_into().unwrap();
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
        let sig: [u8; 64] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&parts[2])
            .unwrap()
            .try_into()
            .unwrap();
        vk.verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .unwrap();
    }

    #[test]
    fn an_hmac_secret_is_refused() {
        let creds = Credentials {
            api_key: "k",
            secret: b"s",
            passphrase: None,
            signer: None,
            mac: None,
        };
        let req = HttpRequest {
            method: "GET".into(),
            path: "/api/v3/brokerage/accounts".into(),
            ..Default::default()
        };
        let stamp = Stamp {
            timestamp: "1".into(),
            nonce: Some("n".into()),
        };
        assert!(matches!(
            CoinbaseAdvanced.sign(&req, &creds, &stamp),
            Err(PresetError::KeyKind { .. })
        ));
    }
}
