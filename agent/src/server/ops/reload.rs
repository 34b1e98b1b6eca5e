//! `reload@apisec`: re-read the store after `rotate` or `remove`, without a restart.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::approval::ApprovalRequest;
use crate::audit::{Action, Event};
use crate::peer::PeerInfo;
use crate::proto::ErrorReply;
use crate::store::StoreError;

use super::super::approved::Standing;
use super::super::state::Agent;
use super::unseal::unseal_held;

/// A held secret whose entry was rotated (newer, same policy and settings) switches to the new
/// entry (one token operation, no new approval). An entry whose policy or settings differ from
/// what the owner last approved, or that is older than that (a copy put back), switches only
/// after a fresh approval that shows the change; without it the agent keeps signing with the
/// entry it holds. A removed entry is forgotten. Returns the number of entries in the store.
pub async fn reload(agent: &Arc<Agent>, peer: &PeerInfo) -> Result<u32, ErrorReply> {
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
        if let Standing::Changed(why) = agent.approved().standing(&file) {
            if !approve_change(agent, &name, &file.exchange, &why, peer).await {
                continue;
            }
        }
        let approved_entry = file.clone();
        match unseal_held(agent, file, old.forget_at).await {
            Ok(held) => {
                agent.hold(&name, held);
                crate::info!("reload: {name} was rotated; now signing with the new entry");
                if let Err(e) = agent.approved().approve(&approved_entry) {
                    crate::warn!("cannot record {name}'s approved policy: {e}");
                }
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

/// Asks for the approval of a changed entry of a held secret; audits the answer. False: keep the
/// entry held now.
async fn approve_change(
    agent: &Agent,
    name: &str,
    exchange: &str,
    why: &str,
    peer: &PeerInfo,
) -> bool {
    let secrets = vec![(name.to_owned(), exchange.to_owned())];
    let changes = vec![why.to_owned()];
    let mut request = ApprovalRequest::unlock(&secrets, peer);
    request.action = "reload";
    request.changes = &changes;
    // Approved by someone shown the change: a fresh approval, never a cached touch.
    request.fresh = true;
    if agent.approval_waits(&request) {
        agent.notify_waiting(
            &format!("waiting for approval: {}", request.prompt()),
            &request,
        );
    }
    let asked = match agent.admit_approval(peer.uid) {
        Ok(admitted) => agent.ask_approval(&request, &admitted).await,
        Err(e) => Err(e),
    };
    match asked {
        Ok(how) => {
            crate::info!("reload: the change of {name} was approved by {how}: {why}");
            agent.audit(
                &Event::agent(Action::PolicyChange)
                    .allowed(Some(how))
                    .noting(why),
                Some(peer),
            );
            true
        }
        Err(e) => {
            crate::warn!(
                "reload: {name} changed and the change was not approved ({e}); still signing \
                 with the entry approved before: {why}"
            );
            let note = format!("{why}: not approved ({e}); the entry held before stays");
            agent.audit(
                &Event::agent(Action::PolicyChange).denied(&note),
                Some(peer),
            );
            false
        }
    }
}
