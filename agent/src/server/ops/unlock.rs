//! `unlock@apisec`: unseal the named secrets. One approval for the whole request (the approver
//! program, or the card's touch per secret), then one token operation per secret; the waiting
//! client is told what it waits for.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::approval::ApprovalRequest;
use crate::audit::{Action, Event};
use crate::expiry::{expiry_state, ExpiryState};
use crate::peer::PeerInfo;
use crate::proto::{self, ErrorCode, ErrorReply};
use crate::timefmt::unix_secs;

use super::super::approved::Standing;
use super::super::notify;
use super::super::state::Agent;
use super::unseal::unseal_held;

/// Unseals each named secret not already held. `progress` receives lines for the waiting
/// client.
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
    let settings = agent.settings();
    let mut approved_by: Option<String> = None;
    // Read and check every entry before bothering a human.
    let mut todo = Vec::new();
    for name in names {
        // An entry hidden from the asking uid does not exist for it, held or not.
        if let Some(held) = agent.held(name) {
            if agent.hidden_from(&held.unsealed.meta.policy, peer.uid) {
                return Err(agent.not_found(name));
            }
            continue;
        }
        if todo.iter().any(|(n, _): &(String, _)| n == name) {
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
        // What changed since the owner last approved these secrets is part of what is approved.
        let changes: Vec<String> = todo
            .iter()
            .filter_map(|(_, f)| match agent.approved().standing(f) {
                Standing::Changed(why) => Some(why),
                Standing::Approved => None,
            })
            .collect();
        let mut request = ApprovalRequest::unlock(&secrets, peer);
        request.changes = &changes;
        // A change must be approved by someone who was shown it: not by a cached touch.
        request.fresh = !changes.is_empty();
        let prompt = request.prompt();
        // With the touch as approval, the touch line below is what the client waits for.
        let notice = format!("waiting for approval: {prompt}");
        if let (Some(tx), false) = (&progress, settings.approver.is_token_touch()) {
            let _ = tx.send(notice.clone());
        }
        if agent.approval_waits(&request) {
            agent.notify_waiting(&notice, &request);
        }
        let how = match agent.ask_approval(&request).await {
            Ok(how) => how,
            Err(e) => {
                crate::info!("unlock refused: {prompt}: {e}");
                let reason = e.to_string();
                for (name, exchange) in &secrets {
                    agent.audit(&Event::unlock(name, exchange).denied(&reason), Some(peer));
                }
                for change in &changes {
                    let note = format!("{change}: not approved ({reason})");
                    agent.audit(
                        &Event::agent(Action::PolicyChange).denied(&note),
                        Some(peer),
                    );
                }
                return Err(e.into());
            }
        };
        for change in &changes {
            agent.audit(
                &Event::agent(Action::PolicyChange)
                    .allowed(Some(how))
                    .noting(change),
                Some(peer),
            );
        }
        crate::info!("unlock approved by {how}: {prompt}");
        approved_by = Some(how.to_owned());
    }
    let mut done: Vec<String> = Vec::new();
    let total = todo.len();
    let mut touches = 0;
    for (name, file) in todo {
        let exchange = file.exchange.clone();
        touches += announce_touch(
            agent,
            &name,
            &exchange,
            peer,
            (touches + 1, total),
            &progress,
        )
        .await as usize;
        let approved_entry = file.clone();
        let mut held = unseal_held(agent, file, None).await.map_err(|mut e| {
            if !done.is_empty() {
                e.message = format!("{} (already unlocked: {})", e.message, done.join(", "));
            }
            crate::info!("unseal of {name} failed: {}", e.message);
            let refused = Event {
                approval: approved_by.as_deref(),
                ..Event::unlock(&name, &exchange).denied(&e.message)
            };
            agent.audit(&refused, Some(peer));
            e
        })?;
        if let ExpiryState::Soon(days) =
            expiry_state(held.unsealed.meta.expires.as_deref(), unix_secs())
        {
            crate::warn!("secret {name} expires in {days} day(s); rotate it soon");
        }
        // The approval and the token may have taken a while: an `ssh-add -x` meanwhile wins.
        agent.check_not_locked()?;
        // The lifetime starts when the secret is unsealed, not when the touch was asked for.
        held.forget_at = settings.lifetime.map(|l| unix_secs() + l.as_secs());
        agent.hold(&name, held);
        crate::info!("unsealed {name}");
        if let Err(e) = agent.approved().approve(&approved_entry) {
            crate::warn!("cannot record {name}'s approved policy in the agent's state: {e}");
        }
        if crate::secret::take_mlock_warning() {
            crate::warn!(
                "could not lock secret memory (RLIMIT_MEMLOCK is {} bytes): unsealed secrets may be \
                 written to swap; raise the limit (systemd: LimitMEMLOCK=, shell: ulimit -l)",
                crate::secret::memlock_limit().unwrap_or(0)
            );
        }
        agent.audit(
            &Event::unlock(&name, &exchange).allowed(approved_by.as_deref()),
            Some(peer),
        );
        done.push(name);
    }
    if total > 0 {
        // The decryption buffers (zeroized) were freed; hand the heap they grew back to the OS.
        // SAFETY: malloc_trim only releases free memory of glibc's own heap.
        unsafe { libc::malloc_trim(0) };
    }
    let unlocked = names
        .iter()
        .map(|n| proto::UnlockedEntry {
            name: n.clone(),
            forget_at: agent.held(n).and_then(|h| h.forget_at).unwrap_or(0),
        })
        .collect();
    Ok(proto::UnlockReply { unlocked })
}

/// Tells the client (and the notify program) when the coming card operation waits for a touch;
/// returns whether it does.
async fn announce_touch(
    agent: &Agent,
    name: &str,
    exchange: &str,
    peer: &PeerInfo,
    (index, total): (usize, usize),
    progress: &Option<mpsc::UnboundedSender<String>>,
) -> bool {
    let token = agent.token().clone();
    let Ok(Some(notice)) = tokio::task::spawn_blocking(move || token.touch_notice()).await else {
        return false;
    };
    let text = notify::touch_line(notice, name, index, total);
    crate::info!("{text}");
    if let Some(tx) = progress {
        let _ = tx.send(text.clone());
    }
    let secrets = [(name.to_owned(), exchange.to_owned())];
    agent.notify_waiting(&text, &ApprovalRequest::unlock(&secrets, peer));
    true
}
