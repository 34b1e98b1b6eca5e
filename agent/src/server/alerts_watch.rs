//! The alerts' decisions (see [`super`]): what is unusual, what was sent lately, and the alerts'
//! own rate limit. No I/O; the clock is passed in.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::log::escaped;
use crate::peer::PeerInfo;

/// The span over which refusals and rate-limit hits are counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Refusals of one uid within [`WINDOW`] that make a burst.
pub const REFUSAL_BURST: usize = 10;
/// Rate-limit hits of one uid within [`WINDOW`] that make a burst.
pub const RATE_LIMIT_BURST: usize = 20;
/// The same alert (kind, uid, secret) is not repeated sooner than this.
pub const REPEAT_AFTER: Duration = Duration::from_secs(600);
/// Alerts that may be sent at once.
pub const BURST: f64 = 10.0;
/// One more alert may be sent after each of these.
pub const REFILL: Duration = Duration::from_secs(60);

/// A refused request, as the alerts see it.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    pub secret: &'a str,
    /// The class the policy judged, when it judged.
    pub class: Option<&'a str>,
    /// Refused by a rate limit.
    pub rate_limited: bool,
    /// `METHOD path`, or the operation.
    pub request: &'a str,
    pub reason: &'a str,
}

/// What happened, for the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// `APISEC_ALERT`: `refused-transfer`, `refused-admin`, `owner-only`, `refusal-burst`,
    /// `rate-limit-burst`, `new-uid`.
    pub kind: &'static str,
    /// `$1`: what happened and who, without the request's details.
    pub line: String,
    /// Standard input: the line, then the details.
    pub details: String,
    pub secret: Option<String>,
    /// Who caused it (none for a summary).
    pub client: Option<PeerInfo>,
}

/// The decisions: counts, repeats, the alerts' own rate limit. No I/O.
#[derive(Default)]
pub struct Watch {
    refusals: HashMap<u32, VecDeque<Instant>>,
    rate_hits: HashMap<u32, VecDeque<Instant>>,
    /// When each alert (kind, uid, what) last went out.
    sent: HashMap<(&'static str, u32, String), Instant>,
    /// Per uid, and apart for refused transfer and admin requests: (tokens, when refilled).
    buckets: HashMap<(u32, bool), (f64, Instant)>,
    held_back: u64,
    last_summary: Option<Instant>,
}

/// Counts `now` into `times` (older than [`WINDOW`] dropped, and no more kept than a burst
/// needs, however fast they come); true when it makes `burst`.
fn count(times: &mut VecDeque<Instant>, now: Instant, burst: usize) -> bool {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
    times.push_back(now);
    while times.len() > burst {
        times.pop_front();
    }
    times.len() >= burst
}

impl Watch {
    /// The alerts a refusal raises (none, one, or a class alert and a burst).
    pub fn refused(&mut self, now: Instant, peer: &PeerInfo, r: &Refusal<'_>) -> Vec<Alert> {
        let mut out = Vec::new();
        let who = escaped(&peer.describe());
        let secret = escaped(r.secret);
        let details = format!(
            "request: {} for {secret}\nrefused: {}\n",
            escaped(r.request),
            escaped(r.reason)
        );
        if let Some(class @ ("transfer" | "admin")) = r.class {
            let kind = if class == "transfer" {
                "refused-transfer"
            } else {
                "refused-admin"
            };
            out.extend(self.raise(
                now,
                kind,
                format!("refused a {class} request for {secret} from {who}"),
                details.clone(),
                (Some(r.secret), r.request),
                peer,
            ));
        }
        let times = self.refusals.entry(peer.uid).or_default();
        if count(times, now, REFUSAL_BURST) {
            let n = times.len();
            out.extend(self.raise(
                now,
                "refusal-burst",
                format!("{n} requests refused within a minute, from {who}"),
                format!("the last one:\n{details}"),
                (None, ""),
                peer,
            ));
        }
        if r.rate_limited {
            let times = self.rate_hits.entry(peer.uid).or_default();
            if count(times, now, RATE_LIMIT_BURST) {
                let n = times.len();
                out.extend(self.raise(
                    now,
                    "rate-limit-burst",
                    format!("{n} requests hit rate limits within a minute, from {who}"),
                    format!("the last one:\n{details}"),
                    (None, ""),
                    peer,
                ));
            }
        }
        out
    }

    /// The alert for a refused owner-only operation.
    pub fn owner_only(&mut self, now: Instant, peer: &PeerInfo, what: &str) -> Option<Alert> {
        let who = escaped(&peer.describe());
        self.raise(
            now,
            "owner-only",
            format!("refused {} from {who}: only the owner may", escaped(what)),
            String::new(),
            (None, what),
            peer,
        )
    }

    /// The alert for a uid connecting for the first time.
    pub fn new_uid(&mut self, now: Instant, peer: &PeerInfo) -> Option<Alert> {
        let who = escaped(&peer.describe());
        let exe = peer
            .exe
            .as_ref()
            .map(|e| escaped(&e.display().to_string()))
            .unwrap_or_else(|| "unknown".into());
        self.raise(
            now,
            "new-uid",
            format!("a client uid never seen before connected: {who}"),
            format!("program: {exe}\n"),
            (None, ""),
            peer,
        )
    }

    /// An alert, unless the same one (kind, uid, secret and `what`) went out lately or the uid's
    /// own limit holds it back.
    fn raise(
        &mut self,
        now: Instant,
        kind: &'static str,
        line: String,
        details: String,
        (secret, what): (Option<&str>, &str),
        peer: &PeerInfo,
    ) -> Option<Alert> {
        let key = (
            kind,
            peer.uid,
            format!("{}\0{what}", secret.unwrap_or_default()),
        );
        if self
            .sent
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < REPEAT_AFTER)
        {
            return None;
        }
        let class_alert = matches!(kind, "refused-transfer" | "refused-admin");
        let (tokens, since) = self
            .buckets
            .entry((peer.uid, class_alert))
            .or_insert((BURST, now));
        let refilled = now.duration_since(*since).as_secs_f64() / REFILL.as_secs_f64();
        *tokens = (*tokens + refilled).min(BURST);
        *since = now;
        if *tokens < 1.0 {
            self.held_back += 1;
            crate::warn!("alert held back (too many alerts): {line}");
            return None;
        }
        *tokens -= 1.0;
        self.sent
            .retain(|_, t| now.duration_since(*t) < REPEAT_AFTER);
        self.sent.insert(key, now);
        let mut text = format!("apisec-agent alert: {line}\n\n{details}");
        text.push_str(&format!("client: {}\n", escaped(&peer.describe())));
        text.push_str(&self.held_back_note());
        Some(Alert {
            kind,
            line,
            details: text,
            secret: secret.map(str::to_owned),
            client: Some(peer.clone()),
        })
    }

    /// How many alerts were held back since the last one said so (and now it is said).
    fn held_back_note(&mut self) -> String {
        if self.held_back == 0 {
            return String::new();
        }
        let note = format!(
            "\n{} earlier alert(s) were held back (at most {BURST} at once per uid, then one a \
             minute); the audit log has every decision\n",
            self.held_back
        );
        self.held_back = 0;
        note
    }

    /// A summary of the alerts held back, at most once per [`REFILL`], when no alert since has
    /// said how many.
    pub fn summary(&mut self, now: Instant) -> Option<Alert> {
        if self.held_back == 0
            || self
                .last_summary
                .is_some_and(|t| now.duration_since(t) < REFILL)
        {
            return None;
        }
        self.last_summary = Some(now);
        let line = format!(
            "{} alert(s) were held back (too many at once)",
            self.held_back
        );
        let details = format!("apisec-agent alert: {line}\n{}", self.held_back_note());
        Some(Alert {
            kind: "held-back",
            line,
            details,
            secret: None,
            client: None,
        })
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
