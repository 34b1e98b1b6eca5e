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
//! them: the same alert (kind, uid, secret and request) is not repeated within [`REPEAT_AFTER`],
//! and each uid may raise at most [`BURST`] alerts at once, refilled one per [`REFILL`], its
//! refused transfer and admin requests counted apart from the rest (cheap alerts cannot use up
//! the ones that matter). The next alert sent says how many were held back, and so does a
//! summary at most once per [`REFILL`] ([`Alerts::summarize`]). The decisions live in [`Watch`]
//! (`alerts_watch.rs`), clock passed in, so they are tested without waiting.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::log::escaped;
use crate::peer::PeerInfo;

#[path = "alerts_watch.rs"]
mod watch;
pub use watch::{
    Alert, Refusal, Watch, BURST, RATE_LIMIT_BURST, REFILL, REFUSAL_BURST, REPEAT_AFTER, WINDOW,
};

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

    /// Sends the summary of held-back alerts when one is due (the agent's housekeeping calls
    /// this every second).
    pub fn summarize(&self) {
        if self.program.is_none() {
            return;
        }
        let summary = self.watch().summary(Instant::now());
        if let Some(a) = summary {
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
    let c = alert.client.as_ref();
    vec![
        ("APISEC_ALERT", alert.kind.to_owned()),
        ("APISEC_SECRETS", alert.secret.clone().unwrap_or_default()),
        (
            "APISEC_CLIENT_UID",
            c.map(|c| c.uid.to_string()).unwrap_or_default(),
        ),
        (
            "APISEC_CLIENT_PID",
            c.and_then(|c| c.pid)
                .map(|p| p.to_string())
                .unwrap_or_default(),
        ),
        (
            "APISEC_CLIENT_EXE",
            c.and_then(|c| c.exe.as_ref())
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
mod tests {
    use super::*;

    #[test]
    fn seen_uids_are_remembered_in_the_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("seen-uids");
        remember(&file, 1000).unwrap();
        remember(&file, 1001).unwrap();
        assert_eq!(read_seen(&file), HashSet::from([1000, 1001]));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
