//! `unlock@apisec`: unseal the named secrets. Every request waiting for the same secret shares
//! one flight ([`crate::server::flights`], run by [`super::unlock_flight`]): one approval for the
//! whole flight (the approver program, or the card's touch per secret), then one token operation
//! per secret; each waiting client is told what it waits for.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::peer::PeerInfo;
use crate::proto::{self, ErrorCode, ErrorReply};
use crate::store::EntryFile;

use super::super::flights::Outcome;
use super::super::state::Agent;
use super::unlock_flight;

/// Unseals each named secret not already held, joining the unseals already in flight. `progress`
/// receives lines for the waiting client.
pub async fn unlock(
    agent: &Arc<Agent>,
    names: &[String],
    peer: &PeerInfo,
    progress: Option<mpsc::UnboundedSender<String>>,
) -> Result<proto::UnlockReply, ErrorReply> {
    agent.check_not_locked()?;
    if names.is_empty() {
        return Err(ErrorReply::new(
            ErrorCode::BadRequest,
            "name at least one secret to unlock",
        ));
    }
    // Read and check every entry before bothering a human.
    let mut todo: Vec<(String, EntryFile)> = Vec::new();
    for name in names {
        // An entry hidden from the asking uid does not exist for it, held or not.
        if let Some(held) = agent.held(name) {
            if agent.hidden_from(&held.unsealed.meta.policy, peer.uid) {
                return Err(agent.not_found(name));
            }
            continue;
        }
        if todo.iter().any(|(n, _)| n == name) {
            continue;
        }
        let file = agent.store().load(name)?;
        if agent.hidden_from(&file.policy, peer.uid) {
            return Err(agent.not_found(name));
        }
        todo.push((name.clone(), file));
    }
    if !todo.is_empty() {
        let secrets: Vec<(String, String)> = todo
            .iter()
            .map(|(n, f)| (n.clone(), f.exchange.clone()))
            .collect();
        // A new flight asks for an approval: counted against this uid's cap before it starts,
        // so that a uid at its cap is refused alone (a request joining a flight adds no prompt).
        let joined = agent
            .flights()
            .join(&secrets, peer, progress.as_ref(), || {
                agent.admit_approval(peer.uid)
            })
            .map_err(ErrorReply::from)?;
        if let Some((flight, admitted)) = joined.started {
            let files = todo
                .into_iter()
                .filter(|(n, _)| flight.secrets.iter().any(|(m, _)| m == n))
                .map(|(_, f)| f)
                .collect();
            unlock_flight::spawn(Arc::clone(agent), flight, files, admitted);
        }
        for ticket in &joined.tickets {
            if let Outcome::Refused(e) = ticket.outcome().await {
                if names.iter().all(|n| agent.held(n).is_some()) {
                    // Another request's secret failed; every one this client named is held.
                    break;
                }
                if !ticket.asked_for_all() {
                    // The flight was another request's: its reasons may name secrets this
                    // client did not (and may not see).
                    return Err(ErrorReply::new(
                        e.code,
                        format!(
                            "the unlock of {} did not complete: it was part of another \
                             request's unlock, which failed; ask again",
                            names.join(", ")
                        ),
                    ));
                }
                return Err(e);
            }
        }
    }
    // The approval and the token may have taken a while: an `ssh-add -x` meanwhile wins.
    agent.check_not_locked()?;
    let unlocked = names
        .iter()
        .map(|n| proto::UnlockedEntry {
            name: n.clone(),
            forget_at: agent.held(n).and_then(|h| h.forget_at).unwrap_or(0),
        })
        .collect();
    Ok(proto::UnlockReply { unlocked })
}
