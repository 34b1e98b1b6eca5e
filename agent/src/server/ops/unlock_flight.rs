//! Running one unseal flight ([`crate::server::flights`]) as a task of its own, so that it
//! outlives any one requester hanging up: gather the requests that come together, ask one
//! approval naming them, then one token operation per secret, each held as it is unsealed.
//! Every step is audited for each requester still waiting for that secret (the starter's name
//! when none is).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::approval::ApprovalRequest;
use crate::audit::{Action, Event};
use crate::expiry::{expiry_state, ExpiryState};
use crate::peer::PeerInfo;
use crate::proto::{ErrorCode, ErrorReply};
use crate::store::EntryFile;
use crate::timefmt::unix_secs;

use super::super::approved::Standing;
use super::super::flights::{Flight, Outcome};
use super::super::notify;
use super::super::per_uid::Counted;
use super::super::state::Agent;
use super::unseal::unseal_held;

/// Before asking a human, a new flight waits until requests have stopped joining for this
/// long, so that bots starting together are all in the one prompt...
const GATHER_QUIET: Duration = Duration::from_millis(50);
/// ...but no longer than this. A request joining later shares the approval all the same.
const GATHER_MAX: Duration = Duration::from_millis(500);

/// Finishes the flight however its task ends: with the outcome, or (a panic, the runtime
/// shutting down) with a refusal, so that no later unlock of its secrets waits for it forever.
struct Finish {
    agent: Arc<Agent>,
    flight: Arc<Flight>,
    outcome: Option<Outcome>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        let outcome = self.outcome.take().unwrap_or_else(|| {
            Outcome::Refused(ErrorReply::new(
                ErrorCode::Internal,
                "the unlock stopped inside the agent; ask again",
            ))
        });
        self.agent.flights().finish(&self.flight, outcome);
    }
}

/// Runs `flight` (admitted by `admitted`, the starter's count of approvals waiting) in a task of
/// its own.
pub fn spawn(agent: Arc<Agent>, flight: Arc<Flight>, files: Vec<EntryFile>, admitted: Counted) {
    tokio::spawn(async move {
        let mut finish = Finish {
            agent,
            flight,
            outcome: None,
        };
        let outcome = fly(&finish.agent, &finish.flight, files, admitted).await;
        // The decryption buffers (zeroized) were freed; hand the heap they grew back to the OS
        // before the requesters are answered.
        // SAFETY: malloc_trim only releases free memory of glibc's own heap.
        unsafe { libc::malloc_trim(0) };
        finish.outcome = Some(outcome);
    });
}

/// Waits while requests keep joining `flight` (see [`GATHER_QUIET`]).
async fn gather(flight: &Flight) {
    let start = Instant::now();
    let mut joined = flight.joins();
    while start.elapsed() < GATHER_MAX {
        tokio::time::sleep(GATHER_QUIET).await;
        let now = flight.joins();
        if now == joined {
            return;
        }
        joined = now;
    }
}

/// Records `event` (about secret `name`) once for every request that waits for it, or with the
/// starter's name when none does any more: the unseal is recorded either way.
fn audit_each(agent: &Agent, flight: &Flight, name: &str, event: &Event<'_>) {
    let waiting = flight.each_requester_of(name, |peer| agent.audit(event, Some(peer)));
    if waiting == 0 {
        let note = "every request for it hung up before the reply";
        let event = match event.reason {
            Some(_) => *event,
            None => event.noting(note),
        };
        agent.audit(&event, Some(&flight.starter));
    }
}

/// The refusal when every requester left before the approval came.
fn abandoned() -> Outcome {
    Outcome::Refused(ErrorReply::new(
        ErrorCode::Denied,
        "every client waiting for this unlock hung up",
    ))
}

/// One flight: the approval, then one token operation per secret.
async fn fly(
    agent: &Arc<Agent>,
    flight: &Flight,
    files: Vec<EntryFile>,
    admitted: Counted,
) -> Outcome {
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
    let probe = ApprovalRequest::unlock(secrets, &flight.starter);
    if agent.approval_waits(&probe) {
        gather(flight).await;
    }
    // Named: the requests still waiting (the starter may have hung up meanwhile).
    let requesters = flight.requesters();
    let Some(first) = requesters.first() else {
        return abandoned();
    };
    let mut request = ApprovalRequest::unlock(secrets, first);
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
    let asked = tokio::select! {
        asked = agent.ask_approval(&request, &admitted) => asked,
        // Nobody waits any more: the approver is killed (the future dropped), nothing unsealed.
        () = flight.abandoned() => return abandoned(),
    };
    drop(admitted);
    let how = match asked {
        Ok(how) => how,
        Err(e) => {
            crate::info!("unlock refused: {prompt}: {e}");
            let reason = e.to_string();
            for (name, exchange) in secrets {
                let refused = Event::unlock(name, exchange).denied(&reason);
                audit_each(agent, flight, name, &refused);
            }
            for change in &changes {
                let note = format!("{change}: not approved ({reason})");
                let refused = Event::agent(Action::PolicyChange).denied(&note);
                agent.audit(&refused, Some(first));
            }
            return Outcome::Refused(e.into());
        }
    };
    if !flight.commit() {
        return abandoned();
    }
    for change in &changes {
        let approved = Event::agent(Action::PolicyChange)
            .allowed(Some(how))
            .noting(change);
        agent.audit(&approved, Some(first));
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
    // Named in a touch's notice: the first request still waiting when the unseals begin.
    let asking = flight
        .requesters()
        .into_iter()
        .next()
        .unwrap_or_else(|| flight.starter.clone());
    for file in files {
        let (name, exchange) = (file.name.clone(), file.exchange.clone());
        touches += announce_touch(
            agent,
            flight,
            &name,
            &exchange,
            &asking,
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
                audit_each(agent, flight, &name, &refused);
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
        let allowed = Event::unlock(&name, &exchange).allowed(Some(approved_by));
        audit_each(agent, flight, &name, &allowed);
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
