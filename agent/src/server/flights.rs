//! Unseals in flight. Every unlock waiting for the same secret shares one approval and one token
//! operation: one approver run, one touch, however many bots start at once. The first request for
//! a secret starts a flight (`ops::unlock` runs it as a task of its own); a request for a secret
//! already in flight joins it, gets the flight's progress lines, and waits for its outcome.
//!
//! A requester that hangs up leaves the flight (and its list: a client connecting and hanging up
//! in a loop costs nothing that stays); the others go on waiting. When the last one has gone while
//! the approval is still asked, the flight is abandoned (its approver killed, nothing unsealed for
//! nobody); once approved, the unseal finishes whoever still waits, so that a touch given is not
//! wasted.
//!
//! A requester may have asked for only some of a flight's secrets (another client asked for
//! `a, b`, it for `b`): it is sent a line naming only its own secrets, and its audit records are
//! of its own secrets, so that a flight never tells a client about an entry it did not name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch, Notify};

use crate::peer::PeerInfo;
use crate::proto::ErrorReply;

/// How a flight ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Every secret of the flight is held.
    Unsealed,
    Refused(ErrorReply),
}

struct Requester {
    id: u64,
    peer: PeerInfo,
    /// The flight's secrets it asked for.
    names: Vec<String>,
    /// Its progress lines; `None` when it asked for none.
    progress: Option<mpsc::UnboundedSender<String>>,
}

impl Requester {
    fn asked_for_all(&self, secrets: &[(String, String)]) -> bool {
        secrets.iter().all(|(n, _)| self.names.contains(n))
    }

    /// The line this requester is sent: the flight's own, or one naming only its secrets.
    fn line_for(&self, line: &str, secrets: &[(String, String)]) -> String {
        if self.asked_for_all(secrets) {
            line.to_owned()
        } else {
            format!(
                "waiting for the unlock of {}, which another request started",
                self.names.join(", ")
            )
        }
    }

    fn send(&self, line: String) {
        if let Some(tx) = &self.progress {
            let _ = tx.send(line);
        }
    }
}

#[derive(Default)]
struct FlightState {
    /// The requesters still waiting, in the order they came.
    requesters: Vec<Requester>,
    next_id: u64,
    /// Every request that joined, hung up or not (the gathering before an approval counts them).
    joins: usize,
    /// Approved: the unseal finishes even if every requester leaves.
    committed: bool,
    /// The line the requesters were last sent, for one that joins later.
    last_line: Option<String>,
}

/// One unseal in flight: its secrets, who waits for it, and its outcome once known.
pub struct Flight {
    /// (name, exchange) of each secret it unseals.
    pub secrets: Vec<(String, String)>,
    /// Who started it: named in the unseal's record when every requester has gone.
    pub starter: PeerInfo,
    state: Mutex<FlightState>,
    outcome: watch::Sender<Option<Outcome>>,
    /// Told when the last requester left before the approval came.
    abandoned: Notify,
}

impl Flight {
    fn state(&self) -> std::sync::MutexGuard<'_, FlightState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Who waits now, in the order they came; the first is the one an approval names first.
    pub fn requesters(&self) -> Vec<PeerInfo> {
        self.state()
            .requesters
            .iter()
            .map(|r| r.peer.clone())
            .collect()
    }

    /// Calls `f` with each requester waiting now for `name`, under the flight's lock (no copies:
    /// an unseal of a thousand secrets records each without a list per secret); how many.
    pub fn each_requester_of(&self, name: &str, mut f: impl FnMut(&PeerInfo)) -> usize {
        let state = self.state();
        let mut n = 0;
        for r in state
            .requesters
            .iter()
            .filter(|r| r.names.iter().any(|m| m == name))
        {
            f(&r.peer);
            n += 1;
        }
        n
    }

    /// How many requests have joined so far, hung up or not.
    pub fn joins(&self) -> usize {
        self.state().joins
    }

    /// Sends `line` to every requester that asked for progress (naming only its own secrets).
    pub fn tell(&self, line: &str) {
        let mut state = self.state();
        for r in &state.requesters {
            r.send(r.line_for(line, &self.secrets));
        }
        state.last_line = Some(line.to_owned());
    }

    /// Completes when the last requester left before the approval came.
    pub async fn abandoned(&self) {
        self.abandoned.notified().await
    }

    /// The approval came: from here the flight finishes whoever still waits. False when every
    /// requester has gone already (then nothing is to be unsealed).
    pub fn commit(&self) -> bool {
        let mut state = self.state();
        if state.requesters.is_empty() {
            return false;
        }
        state.committed = true;
        true
    }
}

/// Every unseal in flight, by secret name.
#[derive(Default)]
pub struct Flights {
    by_name: Mutex<HashMap<String, Arc<Flight>>>,
}

/// One requester's place in a flight; leaving (however the request ends) is dropping it.
pub struct Ticket<'f> {
    flights: &'f Flights,
    flight: Arc<Flight>,
    id: u64,
}

impl Ticket<'_> {
    /// The flight's outcome, once it has one.
    pub async fn outcome(&self) -> Outcome {
        let mut rx = self.flight.outcome.subscribe();
        let outcome = rx.wait_for(Option::is_some).await.map(|o| o.clone());
        match outcome {
            Ok(Some(outcome)) => outcome,
            // The flight's task ended without an outcome: the agent is shutting down.
            _ => Outcome::Refused(ErrorReply::new(
                crate::proto::ErrorCode::Internal,
                "the unseal was cancelled (the agent is shutting down)",
            )),
        }
    }

    /// Whether this requester asked for every secret of its flight.
    pub fn asked_for_all(&self) -> bool {
        let state = self.flight.state();
        state
            .requesters
            .iter()
            .find(|r| r.id == self.id)
            .is_some_and(|r| r.asked_for_all(&self.flight.secrets))
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut by_name = self.flights.lock();
        let mut state = self.flight.state();
        state.requesters.retain(|r| r.id != self.id);
        if state.requesters.is_empty() && !state.committed {
            // Nobody waits: a new request starts a new flight (and a new approval).
            by_name.retain(|_, f| !Arc::ptr_eq(f, &self.flight));
            self.flight.abandoned.notify_one();
        }
    }
}

/// What joining gave a requester: its tickets, and the flight it must start, if any, with what
/// admitted it.
pub struct Joined<'f, A> {
    pub tickets: Vec<Ticket<'f>>,
    /// A new flight for the secrets that none was unsealing yet; the caller runs it.
    pub started: Option<(Arc<Flight>, A)>,
}

impl Flights {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Flight>>> {
        self.by_name.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins the flights already unsealing any of `secrets`, and starts one for the rest if
    /// `admit` lets this requester start one (it is asked only then; its `Err` is returned with
    /// nothing joined).
    pub fn join<A, E>(
        &self,
        secrets: &[(String, String)],
        peer: &PeerInfo,
        progress: Option<&mpsc::UnboundedSender<String>>,
        admit: impl FnOnce() -> Result<A, E>,
    ) -> Result<Joined<'_, A>, E> {
        let mut by_name = self.lock();
        let mut flights: Vec<Arc<Flight>> = Vec::new();
        let mut fresh: Vec<(String, String)> = Vec::new();
        for secret in secrets {
            match by_name.get(&secret.0) {
                Some(f) if !flights.iter().any(|g| Arc::ptr_eq(f, g)) => {
                    flights.push(Arc::clone(f))
                }
                Some(_) => {}
                None => fresh.push(secret.clone()),
            }
        }
        let started = if fresh.is_empty() {
            None
        } else {
            let admitted = admit()?;
            let (outcome, _) = watch::channel(None);
            let flight = Arc::new(Flight {
                secrets: fresh,
                starter: peer.clone(),
                state: Mutex::new(FlightState::default()),
                outcome,
                abandoned: Notify::new(),
            });
            for (name, _) in &flight.secrets {
                by_name.insert(name.clone(), Arc::clone(&flight));
            }
            flights.push(Arc::clone(&flight));
            Some((flight, admitted))
        };
        let tickets = flights
            .into_iter()
            .map(|flight| {
                let id = {
                    let mut state = flight.state();
                    let names = secrets
                        .iter()
                        .filter(|(n, _)| flight.secrets.iter().any(|(m, _)| m == n))
                        .map(|(n, _)| n.clone())
                        .collect();
                    let requester = Requester {
                        id: state.next_id,
                        peer: peer.clone(),
                        names,
                        progress: progress.cloned(),
                    };
                    if let Some(line) = &state.last_line {
                        requester.send(requester.line_for(line, &flight.secrets));
                    }
                    state.requesters.push(requester);
                    state.next_id += 1;
                    state.joins += 1;
                    state.next_id - 1
                };
                Ticket {
                    flights: self,
                    flight,
                    id,
                }
            })
            .collect();
        Ok(Joined { tickets, started })
    }

    /// Ends `flight` with `outcome`: told to every requester, and its secrets no longer in
    /// flight (a later request finds them held, or starts anew).
    pub fn finish(&self, flight: &Arc<Flight>, outcome: Outcome) {
        self.lock().retain(|_, f| !Arc::ptr_eq(f, flight));
        flight.outcome.send_replace(Some(outcome));
    }
}

#[cfg(test)]
#[path = "flights_tests.rs"]
mod tests;
