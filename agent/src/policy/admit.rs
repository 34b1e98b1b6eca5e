//! Who may use a secret, and how often: the client and rate checks of its policy, made before
//! any request rule (sign and raw MAC both start here).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use super::rate::Limiter;
use super::Policy;
use crate::peer::PeerInfo;

/// Why a client may not use a secret now. Every variant is a refusal the client can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdmitError {
    #[error("uid {uid} is not among the clients {secret}'s policy allows")]
    Uid { secret: String, uid: u32 },
    #[error("{exe} is not among the executables {secret}'s policy allows", exe = describe_exe(exe))]
    Executable {
        secret: String,
        exe: Option<PathBuf>,
    },
    #[error(
        "rate limit of {secret}: {per_second} requests/s, burst {burst}; retry in {wait:.2} s"
    )]
    Rate {
        secret: String,
        per_second: f64,
        burst: u32,
        wait: f64,
    },
    #[error(
        "per-client rate limit of {secret} for {client}: {per_second} requests/s, burst {burst}; \
         retry in {wait:.2} s"
    )]
    ClientRate {
        secret: String,
        client: String,
        per_second: f64,
        burst: u32,
        wait: f64,
    },
}

impl AdmitError {
    /// Refused by a rate limit (not by who the client is).
    pub fn is_rate_limit(&self) -> bool {
        matches!(self, Self::Rate { .. } | Self::ClientRate { .. })
    }
}

fn describe_exe(exe: &Option<PathBuf>) -> String {
    exe.as_ref()
        .map(|e| e.display().to_string())
        .unwrap_or_else(|| "an unknown program".into())
}

/// Checks `peer` against the clients `secret`'s policy allows, then takes one request from its
/// rate limits (the secret's, then the client's own).
pub fn admit(
    secret: &str,
    policy: &Policy,
    peer: &PeerInfo,
    limiter: &Mutex<Limiter>,
) -> Result<(), AdmitError> {
    if let Some(clients) = &policy.clients {
        if !clients.uids.is_empty() && !clients.uids.contains(&peer.uid) {
            return Err(AdmitError::Uid {
                secret: secret.to_owned(),
                uid: peer.uid,
            });
        }
        if !clients.executables.is_empty()
            && !peer
                .exe
                .as_ref()
                .is_some_and(|e| clients.executables.contains(e))
        {
            return Err(AdmitError::Executable {
                secret: secret.to_owned(),
                exe: peer.exe.clone(),
            });
        }
    }
    if let Some(rate) = &policy.rate {
        let now = Instant::now();
        let mut limiter = limiter.lock().expect("limiter poisoned");
        limiter
            .take(&format!("{secret}\u{0}"), rate.per_second, rate.burst, now)
            .map_err(|wait| AdmitError::Rate {
                secret: secret.to_owned(),
                per_second: rate.per_second,
                burst: rate.burst,
                wait,
            })?;
        if let (Some(per_second), Some(burst)) = (rate.per_client_per_second, rate.per_client_burst)
        {
            let client = format!(
                "{secret}\u{0}{}\u{0}{}",
                peer.uid,
                peer.exe
                    .as_ref()
                    .map(|e| e.display().to_string())
                    .unwrap_or_default()
            );
            limiter
                .take(&client, per_second, burst, now)
                .map_err(|wait| AdmitError::ClientRate {
                    secret: secret.to_owned(),
                    client: peer.describe(),
                    per_second,
                    burst,
                    wait,
                })?;
        }
    }
    Ok(())
}
