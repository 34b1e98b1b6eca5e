//! `unlock@apisec`: unseal the named secrets. Every request waiting for the same secret shares
//! one flight ([`crate::server::flights`]): one approval for the whole flight (the approver
//! program, or the card's touch per secret), then one token operation per secret; each waiting
//! client is told what it waits for.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::approval::ApprovalRequest;
use crate::audit::{Action, Event};
use crate::expiry::{expiry_state, ExpiryState};
use crate::peer::PeerInfo;
use crate::proto::{self, ErrorCode, ErrorReply};
use crate::store::EntryFile;
use crate::timefmt::unix_secs;

use super::super::approved::Standing;
use super::super::flights::{Flight, Outcome};
use super::super::notify;
use super::super::state::Agent;
use super::unseal::unseal_held;

/// Before asking a human, a new flight waits until requests have stopped joining for this
/// long, so that bots starting together are all in the one prompt...
const GATHER_QUIET: Duration = Duration::from_millis(50);
/// ...but no longer than this. A request joining later shares the approval all the same.
const GATHER_MAX: Duration = Duration::from_millis(500);

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
        let joined = agent.flights().join(&secrets, peer, progress.as_ref());
        if let Some(flight) = joined.started.clone() {
            let files = todo
                .into_iter()
                .filter(|(n, _)| flight.secrets.iter().any(|(m, _)| m == n))
                .map(|(_, f)| f)
                .collect();
            // A task of its own: the flight outlives any one requester hanging up.
            let agent = Arc::clone(agent);
            tokio::spawn(async move {
                let outcome = tokio::select! {
                    outcome = fly(&agent, &flight, files) => outcome,
                    () = flight.abandoned() => Outcome::Refused(ErrorReply::new(
                        ErrorCode::Denied,
                        "every client waiting for this unlock hung up",
                    )),
                };
                // The decryption buffers (zeroized) were freed; hand the heap they grew back
                // to the OS before the requesters are answered.
                // SAFETY: malloc_trim only releases free memory of glibc's own heap.
                unsafe { libc::malloc_trim(0) };
                agent.flights().finish(&flight, outcome);
            });
        }
        for ticket in &joined.tickets {
            if let Outcome::Refused(e) = ticket.outcome().await {
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

/// Waits while requests keep joining `flight` (see [`GATHER_QUIET`]).
async fn gather(flight: &Flight) {
    let start = Instant::now();
    let mut joined = flight.joined();
    while start.elapsed() < GATHER_MAX {
        tokio::time::sleep(GATHER_QUIET).await;
        let now = flight.joined();
        if now == joined {
            return;
        }
        joined = now;
    }
}

/// Records `event` once for every request that waits for `flight`.
fn audit_each(agent: &Agent, flight: &Flight, event: &Event<'_>) {
    for peer in flight.requesters() {
        agent.audit(event, Some(&peer));
    }
}

/// One flight: the approval, then one token operation per secret.
async fn fly(agent: &Arc<Agent>, flight: &Flight, files: Vec<EntryFile>) -> Outcome {
    let settings = agent.settings();
    let secrets = &flight.secrets;
    // What changed since the owner last approved these secrets is part of what is approved.
    let changes: Vec<String> = files
        .iter()
        .filter_map(|f| match agent.approved().standing(f) {
            Standing::Changed(why) => Some(why),
            Standing::Approved => None,
        })
        .collect();
    let first = flight.requesters().remove(0);
    let probe = ApprovalRequest::unlock(secrets, &first);
    if agent.approval_waits(&probe) {
        gather(flight).await;
    }
    let requesters = flight.requesters();
    let mut request = ApprovalRequest::unlock(secrets, &requesters[0]);
    request.others = &requesters[1..];
    request.changes = &changes;
    // A change must be approved by someone who was shown it: not by a cached touch.
    request.fresh = !changes.is_empty();
    let prompt = request.prompt();
    // With the touch as approval, the touch line below is what the clients wait for.
    let notice = format!("waiting for approval: {prompt}");
    if !settings.approver.is_token_touch() {
        flight.tell(&notice);
    }
    if agent.approval_waits(&request) {
        agent.notify_waiting(&notice, &request);
    }
    let how = match agent.ask_approval(&request).await {
        Ok(how) => how,
        Err(e) => {
            crate::info!("unlock refused: {prompt}: {e}");
            let reason = e.to_string();
            for (name, exchange) in secrets {
                audit_each(
                    agent,
                    flight,
                    &Event::unlock(name, exchange).denied(&reason),
                );
            }
            for change in &changes {
                let note = format!("{change}: not approved ({reason})");
                let refused = Event::agent(Action::PolicyChange).denied(&note);
                agent.audit(&refused, Some(&requesters[0]));
            }
            return Outcome::Refused(e.into());
        }
    };
    flight.commit();
    for change in &changes {
        let approved = Event::agent(Action::PolicyChange)
            .allowed(Some(how))
            .noting(change);
        agent.audit(&approved, Some(&requesters[0]));
    }
    crate::info!("unlock approved by {how}: {prompt}");
    unseal_all(agent, flight, files, how).await
}

/// One token operation per secret of an approved flight, each secret held as it is unsealed.
async fn unseal_all(
    agent: &Arc<Agent>,
    flight: &Flight,
    files: Vec<EntryFile>,
    approved_by: &str,
) -> Outcome {
    let settings = agent.settings();
    let mut done: Vec<String> = Vec::new();
    let total = files.len();
    let mut touches = 0;
    let first = flight.requesters().remove(0);
    for file in files {
        let (name, exchange) = (file.name.clone(), file.exchange.clone());
        touches += announce_touch(
            agent,
            flight,
            &name,
            &exchange,
            &first,
            (touches + 1, total),
        )
        .await as usize;
        let approved_entry = file.clone();
        let mut held = match unseal_held(agent, file, None).await {
            Ok(held) => held,
            Err(mut e) => {
                if !done.is_empty() {
                    e.message = format!("{} (already unlocked: {})", e.message, done.join(", "));
                }
                crate::info!("unseal of {name} failed: {}", e.message);
                let refused = Event {
                    approval: Some(approved_by),
                    ..Event::unlock(&name, &exchange).denied(&e.message)
                };
                audit_each(agent, flight, &refused);
                return Outcome::Refused(e);
            }
        };
        if let ExpiryState::Soon(days) =
            expiry_state(held.unsealed.meta.expires.as_deref(), unix_secs())
        {
            crate::warn!("secret {name} expires in {days} day(s); rotate it soon");
        }
        if let Err(e) = agent.check_not_locked() {
            return Outcome::Refused(e);
        }
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
        audit_each(
            agent,
            flight,
            &Event::unlock(&name, &exchange).allowed(Some(approved_by)),
        );
        done.push(name);
    }
    Outcome::Unsealed
}

/// Tells the client (and the notify program) when the coming card operation waits for a touch;
/// returns whether it does.
async fn announce_touch(
    agent: &Agent,
    flight: &Flight,
    name: &str,
    exchange: &str,
    peer: &PeerInfo,
    (index, total): (usize, usize),
) -> bool {
    let token = agent.token().clone();
    let Ok(Some(notice)) = tokio::task::spawn_blocking(move || token.touch_notice()).await else {
        return false;
    };
    let text = notify::touch_line(notice, name, index, total);
    crate::info!("{text}");
    flight.tell(&text);
    let secrets = [(name.to_owned(), exchange.to_owned())];
    agent.notify_waiting(&text, &ApprovalRequest::unlock(&secrets, peer));
    true
}
