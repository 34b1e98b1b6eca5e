//! `reload@apisec`: re-read the store after `rotate` or `remove`, without a restart.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::proto::ErrorReply;
use crate::store::StoreError;

use super::super::state::Agent;
use super::unseal::unseal_held;

/// A held secret whose entry was rotated switches to the new entry (one token operation, no new
/// approval: the secret was approved, and a sealed entry binds its metadata to a secret only its
/// owner knows); a removed entry is forgotten. Returns the number of entries in the store.
pub async fn reload(agent: &Arc<Agent>) -> Result<u32, ErrorReply> {
    for (name, old) in agent.held_now() {
        let file = match agent.store().load(&name) {
            Ok(f) => f,
            Err(StoreError::NotFound { .. }) => {
                agent.forget(std::slice::from_ref(&name));
                crate::info!("reload: {name} was removed from the store; forgot it");
                continue;
            }
            Err(e) => {
                crate::warn!("reload: keeping the unsealed {name}: its entry cannot be read: {e}");
                continue;
            }
        };
        let digest: [u8; 32] = Sha256::digest(file.sealed.as_bytes()).into();
        if digest == old.sealed_digest {
            continue;
        }
        match unseal_held(agent, file, old.forget_at).await {
            Ok(held) => {
                agent.hold(&name, held);
                crate::info!("reload: {name} was rotated; now signing with the new entry");
            }
            Err(e) => {
                agent.forget(std::slice::from_ref(&name));
                crate::warn!(
                    "reload: {name} changed and its new entry cannot be unsealed ({}); forgot it",
                    e.message
                );
            }
        }
    }
    let n = agent.store().names().map(|v| v.len()).unwrap_or(0) as u32;
    Ok(n)
}
