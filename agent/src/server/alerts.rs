//! Telling the owner about unusual activity as it happens, not only in the audit log read after
//! the fact: the `[alert] program` runs on
//!
//! - a refused `transfer` or `admin` request (the requests a compromised bot is after),
//! - a refused owner-only operation (a bot trying to forget, reload or shut down the agent),
//! - a burst of refusals from one uid ([`REFUSAL_BURST`] within [`WINDOW`]),
//! - a burst of rate-limit hits from one uid ([`RATE_LIMIT_BURST`] within [`WINDOW`]),
//! - a client uid never seen before (remembered in the state directory across restarts; the
//!   owner's uids are not reported).
//!
//! The contract is the notify program's (docs/operations.md): `$1` a short line without the
//! request's details (argv is readable by every uid), the whole alert on standard input, the
//! allow-listed environment plus `APISEC_ALERT` (what happened), `APISEC_SECRETS` and
//! `APISEC_CLIENT_UID`, `_PID`, `_EXE`. It is started and not waited for.
//!
//! Alerts are rate-limited themselves, so that a bot cannot flood the owner (or the program) with
//! them: one alert per kind, uid and secret within [`REPEAT_AFTER`], and at most [`BURST`]
//! alerts at once, refilled one per [`REFILL`]; the next alert sent says how many were held back.
//! The decisions live in [`Watch`], clock passed in, so they are tested without waiting.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
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
    pub client: PeerInfo,
}

/// The decisions: counts, repeats, the alerts' own rate limit. No I/O.
#[derive(Default)]
pub struct Watch {
    refusals: HashMap<u32, VecDeque<Instant>>,
    rate_hits: HashMap<u32, VecDeque<Instant>>,
    sent: HashMap<(&'static str, u32, String), Instant>,
    /// (tokens, when last refilled).
    bucket: Option<(f64, Instant)>,
    held_back: u64,
}

/// Counts `now` into `times` (older than [`WINDOW`] dropped); true when it makes `burst`.
fn count(times: &mut VecDeque<Instant>, now: Instant, burst: usize) -> bool {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
    times.push_back(now);
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
                Some(r.secret),
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
                None,
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
                    None,
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
            None,
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
            None,
            peer,
        )
    }

    /// An alert, unless the same one went out lately or the alerts' own limit holds it back.
    fn raise(
        &mut self,
        now: Instant,
        kind: &'static str,
        line: String,
        details: String,
        secret: Option<&str>,
        peer: &PeerInfo,
    ) -> Option<Alert> {
        let key = (kind, peer.uid, secret.unwrap_or_default().to_owned());
        if self
            .sent
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < REPEAT_AFTER)
        {
            return None;
        }
        let (tokens, since) = self.bucket.get_or_insert((BURST, now));
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
        if self.held_back > 0 {
            text.push_str(&format!(
                "\n{} earlier alert(s) were held back (at most {BURST} at once, then one a \
                 minute); the audit log has every decision\n",
                self.held_back
            ));
            self.held_back = 0;
        }
        Some(Alert {
            kind,
            line,
            details: text,
            secret: secret.map(str::to_owned),
            client: peer.clone(),
        })
    }
}

/// The alerts of one agent: the program, the decisions, the uids seen.
pub struct Alerts {
    program: Option<PathBuf>,
    seen_file: PathBuf,
    watch: Mutex<Watch>,
    /// Loaded from `seen_file` at the first connection.
    seen: Mutex<Option<HashSet<u32>>>,
}

impl Alerts {
    pub fn new(program: Option<PathBuf>, state_dir: &Path) -> Self {
        Self {
            program,
            seen_file: state_dir.join("seen-uids"),
            watch: Mutex::new(Watch::default()),
            seen: Mutex::new(None),
        }
    }

    fn watch(&self) -> std::sync::MutexGuard<'_, Watch> {
        self.watch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A refused request (sign, raw MAC).
    pub fn refused(&self, peer: &PeerInfo, refusal: &Refusal<'_>) {
        if self.program.is_none() {
            return;
        }
        let alerts = self.watch().refused(Instant::now(), peer, refusal);
        alerts.into_iter().for_each(|a| self.send(a));
    }

    /// A refused owner-only operation; it counts as a refusal too.
    pub fn owner_only(&self, peer: &PeerInfo, what: &str, reason: &str) {
        if self.program.is_none() {
            return;
        }
        let now = Instant::now();
        let mut watch = self.watch();
        let mut alerts: Vec<Alert> = watch.owner_only(now, peer, what).into_iter().collect();
        let refusal = Refusal {
            secret: "",
            class: None,
            rate_limited: false,
            request: what,
            reason,
        };
        alerts.extend(watch.refused(now, peer, &refusal));
        drop(watch);
        alerts.into_iter().for_each(|a| self.send(a));
    }

    /// A connection was admitted: a uid never seen before (and not an owner) raises an alert.
    pub fn connected(&self, peer: &PeerInfo, owner: bool) {
        if self.program.is_none() || owner {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let seen = seen.get_or_insert_with(|| read_seen(&self.seen_file));
        if !seen.insert(peer.uid) {
            return;
        }
        if let Err(e) = remember(&self.seen_file, peer.uid) {
            crate::warn!(
                "cannot record uid {} in {}: {e} (it will be reported again after a restart)",
                peer.uid,
                self.seen_file.display()
            );
        }
        let alert = self.watch().new_uid(Instant::now(), peer);
        if let Some(a) = alert {
            self.send(a);
        }
    }

    fn send(&self, alert: Alert) {
        let Some(program) = &self.program else {
            return;
        };
        crate::warn!("alert: {}", alert.line);
        super::notify::run_in_background(program, &alert.line, &alert.details, &alert_env(&alert));
    }
}

fn alert_env(alert: &Alert) -> Vec<(&'static str, String)> {
    let c = &alert.client;
    vec![
        ("APISEC_ALERT", alert.kind.to_owned()),
        ("APISEC_SECRETS", alert.secret.clone().unwrap_or_default()),
        ("APISEC_CLIENT_UID", c.uid.to_string()),
        (
            "APISEC_CLIENT_PID",
            c.pid.map(|p| p.to_string()).unwrap_or_default(),
        ),
        (
            "APISEC_CLIENT_EXE",
            c.exe
                .as_ref()
                .map(|e| escaped(&e.display().to_string()))
                .unwrap_or_default(),
        ),
    ]
}

fn read_seen(path: &Path) -> HashSet<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn remember(path: &Path, uid: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    writeln!(f, "{uid}")
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
