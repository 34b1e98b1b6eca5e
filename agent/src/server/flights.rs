//! Unseals in flight. Every unlock waiting for the same secret shares one approval and one token
//! operation: one approver run, one touch, however many bots start at once. The first request for
//! a secret starts a flight (`ops::unlock` runs it as a task of its own); a request for a secret
//! already in flight joins it, gets the flight's progress lines, and waits for its outcome.
//!
//! A requester that hangs up leaves the flight; the others go on waiting. When the last one has
//! gone while the approval is still asked, the flight is abandoned (its approver killed, nothing
//! unsealed for nobody); once approved, the unseal finishes whoever still waits, so that a touch
//! given is not wasted.

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
    peer: PeerInfo,
    /// Its progress lines; `None` when it asked for none or has hung up.
    progress: Option<mpsc::UnboundedSender<String>>,
}

#[derive(Default)]
struct FlightState {
    requesters: Vec<Requester>,
    /// Requesters still waiting.
    waiting: usize,
    /// Approved: the unseal finishes even if every requester leaves.
    committed: bool,
    /// The line the requesters were last sent, for one that joins later.
    last_line: Option<String>,
}

/// One unseal in flight: its secrets, who waits for it, and its outcome once known.
pub struct Flight {
    /// (name, exchange) of each secret it unseals.
    pub secrets: Vec<(String, String)>,
    state: Mutex<FlightState>,
    outcome: watch::Sender<Option<Outcome>>,
    /// Told when the last requester left before the approval came.
    abandoned: Notify,
}

impl Flight {
    fn state(&self) -> std::sync::MutexGuard<'_, FlightState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Who asked, in order: the first started the flight.
    pub fn requesters(&self) -> Vec<PeerInfo> {
        self.state()
            .requesters
            .iter()
            .map(|r| r.peer.clone())
            .collect()
    }

    /// How many requesters have joined so far (hung up or not).
    pub fn joined(&self) -> usize {
        self.state().requesters.len()
    }

    /// Sends `line` to every requester still waiting that asked for progress.
    pub fn tell(&self, line: &str) {
        let mut state = self.state();
        for r in &mut state.requesters {
            if let Some(tx) = &r.progress {
                if tx.send(line.to_owned()).is_err() {
                    r.progress = None;
                }
            }
        }
        state.last_line = Some(line.to_owned());
    }

    /// Whether requesters still wait (false once the last one has hung up).
    pub fn wanted(&self) -> bool {
        self.state().waiting > 0
    }

    /// Completes when the last requester has left before the approval came.
    pub async fn abandoned(&self) {
        self.abandoned.notified().await
    }

    /// The approval came: from here the flight finishes whoever still waits.
    pub fn commit(&self) {
        self.state().committed = true;
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
    index: usize,
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
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut by_name = self.flights.lock();
        let mut state = self.flight.state();
        state.waiting -= 1;
        state.requesters[self.index].progress = None;
        if state.waiting == 0 && !state.committed {
            // Nobody waits: a new request starts a new flight (and a new approval).
            by_name.retain(|_, f| !Arc::ptr_eq(f, &self.flight));
            self.flight.abandoned.notify_one();
        }
    }
}

/// What joining gave a requester: its tickets, and the flight it must start, if any.
pub struct Joined<'f> {
    pub tickets: Vec<Ticket<'f>>,
    /// A new flight for the secrets that none was unsealing yet; the caller runs it.
    pub started: Option<Arc<Flight>>,
}

impl Flights {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Flight>>> {
        self.by_name.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins the flights already unsealing any of `secrets`, and starts one for the rest.
    pub fn join(
        &self,
        secrets: &[(String, String)],
        peer: &PeerInfo,
        progress: Option<&mpsc::UnboundedSender<String>>,
    ) -> Joined<'_> {
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
        let started = (!fresh.is_empty()).then(|| {
            let (outcome, _) = watch::channel(None);
            let flight = Arc::new(Flight {
                secrets: fresh,
                state: Mutex::new(FlightState::default()),
                outcome,
                abandoned: Notify::new(),
            });
            for (name, _) in &flight.secrets {
                by_name.insert(name.clone(), Arc::clone(&flight));
            }
            flights.push(Arc::clone(&flight));
            flight
        });
        let tickets = flights
            .into_iter()
            .map(|flight| {
                let index = {
                    let mut state = flight.state();
                    let progress = progress.cloned();
                    if let (Some(tx), Some(line)) = (&progress, &state.last_line) {
                        let _ = tx.send(line.clone());
                    }
                    state.requesters.push(Requester {
                        peer: peer.clone(),
                        progress,
                    });
                    state.waiting += 1;
                    state.requesters.len() - 1
                };
                Ticket {
                    flights: self,
                    flight,
                    index,
                }
            })
            .collect();
        Joined { tickets, started }
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
