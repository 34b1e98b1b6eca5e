//! Signing: exchange presets (request -> headers and query additions), the agent's clock, and the
//! raw MAC. Everything here is a pure function of its inputs; the server passes in the unsealed
//! secret and the time.

pub mod encoding;
pub mod endpoints;
pub mod exchanges;
pub mod login;
pub mod mac;
pub mod mac_key;
pub mod preset;
pub mod request;
pub mod shape;
pub mod time;

pub use preset::{
    AsymmetricSigner, Credentials, HttpRequest, KeyAlgorithm, Preset, PresetError, Signed, Stamp,
    TimeFormat,
};
pub use time::Freshness;

/// Why a request was not signed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error(transparent)]
    Preset(#[from] PresetError),
    #[error(transparent)]
    Time(#[from] time::StampError),
    #[error("no signing preset for exchange {0:?}; known: {known}", known = exchanges::ids().join(", "))]
    UnknownExchange(String),
    #[error("{0}")]
    Nonce(String),
}

/// The time side of one request: what the client sent, and the agent's clock and rules.
pub struct TimeContext<'a> {
    /// The client's timestamp in the exchange's form; empty when the agent should stamp.
    pub client_timestamp: &'a str,
    /// The client's nonce; empty when the agent should choose.
    pub client_nonce: &'a str,
    pub now_ms: u64,
    pub freshness: Freshness,
}

/// Signs `request`, in the canonical form of `exchange` (`request::check`), with that
/// exchange's preset: the agent stamps the time (or checks the client's against the freshness
/// window), then the preset computes the headers. `agent_nonce`
/// gives the agent's next nonce for this secret.
pub fn sign(
    exchange: &str,
    request: request::Canonical<'_>,
    credentials: &Credentials<'_>,
    time: &TimeContext<'_>,
    agent_nonce: &mut dyn FnMut() -> Result<u64, String>,
) -> Result<Signed, SignError> {
    let preset = exchanges::by_id(exchange)
        .ok_or_else(|| SignError::UnknownExchange(exchange.to_owned()))?;
    let algorithm = credentials.signer.map(|s| s.algorithm());
    if !preset.accepts_key(algorithm) {
        return Err(PresetError::KeyKind {
            exchange: preset.id(),
            needed: if algorithm.is_none() {
                "an asymmetric (Ed25519 or P-256) key"
            } else {
                "an HMAC secret"
            },
            have: match algorithm {
                None => "an HMAC secret",
                Some(KeyAlgorithm::Ed25519) => "an Ed25519 key",
                Some(KeyAlgorithm::P256) => "a P-256 key",
            },
        }
        .into());
    }
    if request.exchange() != preset.id() {
        return Err(PresetError::BadRequest {
            exchange: preset.id(),
            reason: format!("the request was checked for {}", request.exchange()),
        }
        .into());
    }
    let request = request.request();
    let stamp_at = time.now_ms + preset.timestamp_lead_ms();
    let timestamp = time::stamp(
        preset.time_format(),
        time.client_timestamp,
        stamp_at,
        time.freshness,
    )?;
    let nonce = if preset.wants_nonce() {
        Some(time::nonce(time.client_nonce, agent_nonce, time.freshness)?)
    } else if !time.client_nonce.is_empty() {
        // Dropped silently, the client would believe its nonce was signed.
        return Err(time::StampError::NonceNotSigned {
            exchange: preset.id(),
        }
        .into());
    } else {
        None
    };
    Ok(preset.sign(request, credentials, &Stamp { timestamp, nonce })?)
}

/// The kind `request` names among `preset`'s, or why not.
pub fn login_kind(
    preset: &dyn Preset,
    request: &login::LoginRequest,
) -> Result<&'static login::LoginKind, PresetError> {
    let kinds = preset.login_kinds();
    let Some(default) = kinds.first() else {
        return Err(PresetError::BadRequest {
            exchange: preset.id(),
            reason: format!(
                "{} has no WebSocket login: {}",
                preset.id(),
                preset.no_login()
            ),
        });
    };
    if request.kind.is_empty() {
        return Ok(default);
    }
    kinds
        .iter()
        .find(|k| k.name == request.kind)
        .ok_or_else(|| PresetError::BadRequest {
            exchange: preset.id(),
            reason: format!(
                "{} has no login kind {:?}; its kinds: {}",
                preset.id(),
                request.kind,
                kinds
                    .iter()
                    .map(|k| format!("{} ({})", k.name, k.what))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// Signs a login with `preset`: the kind checked, then the preset's own login.
pub fn login(
    preset: &dyn Preset,
    request: &login::LoginRequest,
    credentials: &Credentials<'_>,
    stamp: login::LoginStamp,
) -> Result<login::LoginMessage, PresetError> {
    let kind = login_kind(preset, request)?;
    if !request.challenge.is_empty() && !preset.login_takes_challenge() {
        return Err(PresetError::BadRequest {
            exchange: preset.id(),
            reason: format!(
                "{}'s login signs no challenge: leave --challenge out",
                preset.id()
            ),
        });
    }
    if !request.host.is_empty() && kind.host.is_empty() {
        return Err(PresetError::BadRequest {
            exchange: preset.id(),
            reason: format!(
                "{}'s {} login signs no host: leave --host out",
                preset.id(),
                kind.name
            ),
        });
    }
    preset.login(kind, request, credentials, stamp)
}
