//! Signing: exchange presets (request -> headers and query additions), the agent's clock, and the
//! raw MAC. Everything here is a pure function of its inputs; the server passes in the unsealed
//! secret and the time.

pub mod exchanges;
pub mod mac;
pub mod preset;
pub mod time;

pub use preset::{Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat};

use crate::policy::Freshness;

/// Why a request was not signed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error(transparent)]
    Preset(#[from] PresetError),
    #[error(transparent)]
    Time(#[from] time::StampError),
    #[error("no signing preset for exchange {0:?}; known: {known}", known = exchanges::ids().join(", "))]
    UnknownExchange(String),
}

/// Signs `request` with the preset of `exchange`: the agent stamps the time (or checks the
/// client's against `freshness`), then the preset computes the headers.
pub fn sign(
    exchange: &str,
    request: &HttpRequest,
    credentials: &Credentials<'_>,
    client_timestamp: &str,
    client_nonce: &str,
    now_ms: u64,
    freshness: Freshness,
) -> Result<Signed, SignError> {
    let preset = exchanges::by_id(exchange)
        .ok_or_else(|| SignError::UnknownExchange(exchange.to_owned()))?;
    let timestamp = time::stamp(preset.time_format(), client_timestamp, now_ms, freshness)?;
    let nonce = if preset.wants_nonce() {
        Some(time::nonce(client_nonce, now_ms, freshness)?)
    } else {
        None
    };
    Ok(preset.sign(request, credentials, &Stamp { timestamp, nonce })?)
}
