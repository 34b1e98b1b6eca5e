//! The audit log: one JSON line per decision (unlock, sign, mac, lock). Each line carries its own
//! hash (SHA-256 of the line without it, which covers `prev`) and `prev`, the hash of the line
//! before: an edited line fails its own hash, a deleted or moved line breaks `prev` and the
//! sequence numbers, and `audit verify` names the line where it happened. Never holds a secret:
//! requests are recorded by method, path and the SHA-256 of the body.
//!
//! Lines are written by one thread that batches what arrived, writes it and fsyncs (at once when
//! the log was quiet, at most every 50 ms under load): a signature does not wait for the disk
//! (the hot path stays at socket speed), and a crash can lose at most the last 50 ms of lines.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::peer::PeerInfo;

/// Under load, the longest a line waits for its fsync.
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// The `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One decision.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub time: String,
    pub uid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// `unlock`, `sign`, `mac`, `lock`, `agent-lock`, `agent-unlock`.
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    /// `allowed` or `denied`.
    pub decision: String,
    /// Why: the rule that decided, or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How it was approved: `approver`, `step-up approver`, `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// The previous line's `hash`.
    pub prev: String,
    /// SHA-256 (hex) of this line serialized without this field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

impl Record {
    /// The line for this record: its JSON without `hash`, then `hash` (SHA-256 of that JSON)
    /// appended as the last field. One serialization per line, and `verify` can recover the
    /// hashed bytes from the line itself.
    fn seal_line(&mut self) -> String {
        self.hash.clear();
        let bare = serde_json::to_string(&*self).expect("records serialize");
        self.hash = hex_sha256(bare.as_bytes());
        format!("{},\"hash\":\"{}\"}}", &bare[..bare.len() - 1], self.hash)
    }
}

/// The bytes a line's hash covers: the line without its trailing `,"hash":"<64 hex>"`.
fn hashed_part(line: &str) -> Option<(String, &str)> {
    const SUFFIX_LEN: usize = ",\"hash\":\"\"}".len() + 64;
    if line.len() < SUFFIX_LEN || !line.ends_with("\"}") {
        return None;
    }
    // A byte offset, so it may fall inside a character (a hand-edited line): not a sealed line.
    let split = line.len() - SUFFIX_LEN;
    if !line.is_char_boundary(split) {
        return None;
    }
    let (head, tail) = line.split_at(split);
    let hash = tail.strip_prefix(",\"hash\":\"")?.strip_suffix("\"}")?;
    (hash.len() == 64).then(|| (format!("{head}}}"), hash))
}

/// A decision to record; the writer fills in `seq`, `time` and `prev`.
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub action: &'static str,
    pub secret: Option<String>,
    pub exchange: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    /// SHA-256 (hex) of the request body, computed by the caller (no copy of the body travels).
    pub body_sha256: Option<String>,
    pub allowed: bool,
    pub reason: Option<String>,
    pub approval: Option<String>,
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How much of the log's end is read at start-up to find its last line: the agent's start-up
/// must not grow with the log.
const TAIL: u64 = 64 * 1024;

/// Where the chain continues: the last complete line's `seq` and `hash`. A torn last line (the
/// agent died mid-write) is cut off first, so that new lines follow a valid one instead of
/// leaving `verify` stuck on a fragment forever.
fn resume(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, GENESIS.to_owned())),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let start = len.saturating_sub(TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail)?;
    if !tail.is_empty() && !tail.ends_with(b"\n") {
        let keep = tail
            .iter()
            .rposition(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        let torn = tail.len() - keep;
        f.set_len(start + keep as u64)?;
        f.sync_data()?;
        tail.truncate(keep);
        crate::warn!(
            "audit log {}: cut a torn last line of {torn} bytes (a crash mid-write)",
            path.display()
        );
    }
    let last = tail
        .split(|&b| b == b'\n')
        .rev()
        .find(|l| !l.is_empty())
        .and_then(|l| serde_json::from_slice::<Record>(l).ok());
    Ok(match last {
        Some(r) => (r.seq, r.hash),
        None => (0, GENESIS.to_owned()),
    })
}

/// What the request path hands to the writer: decisions waiting for their line.
struct Pending {
    events: std::sync::Mutex<Vec<(Event, Option<PeerInfo>)>>,
    /// Woken only when the writer sleeps on an empty queue, so a busy agent pays no context
    /// switch per decision.
    wake: std::sync::Condvar,
    idle: std::sync::atomic::AtomicBool,
    closed: std::sync::atomic::AtomicBool,
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct AuditLog {
    pending: std::sync::Arc<Pending>,
    writer: std::sync::Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

/// How long the writer gathers a batch once woken.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

impl AuditLog {
    /// Opens (creating 0600) the log and continues its chain from its last line.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        use std::sync::atomic::Ordering;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let (mut seq, mut prev) = resume(path)?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let pending = std::sync::Arc::new(Pending {
            events: std::sync::Mutex::new(Vec::new()),
            wake: std::sync::Condvar::new(),
            idle: std::sync::atomic::AtomicBool::new(false),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        let shared = std::sync::Arc::clone(&pending);
        let writer = std::thread::Builder::new()
            .name("audit".into())
            .spawn(move || {
                // Lines are written in batches; fsync runs at once when the log was quiet, and at
                // most every SYNC_EVERY under load: every line is on disk within SYNC_EVERY (plus a
                // batch) of its decision, and a busy agent does not spend its time in the disk.
                let mut last_sync = std::time::Instant::now() - SYNC_EVERY;
                let mut dirty = false;
                loop {
                    let batch = {
                        let mut events = shared.events.lock().expect("audit queue poisoned");
                        while events.is_empty() && !shared.closed.load(Ordering::Acquire) {
                            let wait = if dirty {
                                SYNC_EVERY.saturating_sub(last_sync.elapsed())
                            } else {
                                std::time::Duration::from_secs(3600)
                            };
                            if dirty && wait.is_zero() {
                                break;
                            }
                            shared.idle.store(true, Ordering::Release);
                            events = shared
                                .wake
                                .wait_timeout(events, wait)
                                .expect("audit queue poisoned")
                                .0;
                            shared.idle.store(false, Ordering::Release);
                        }
                        std::mem::take(&mut *events)
                    };
                    if batch.is_empty() && shared.closed.load(Ordering::Acquire) && !dirty {
                        break;
                    }
                    if !batch.is_empty() {
                        let mut out = Vec::new();
                        for (event, peer) in batch {
                            // Wraps rather than panics on a log whose last line was edited to
                            // the largest sequence number (verify reports that log).
                            seq = seq.wrapping_add(1);
                            let mut record = to_record(event, peer, seq, &prev);
                            let line = record.seal_line();
                            prev = record.hash;
                            out.extend_from_slice(line.as_bytes());
                            out.push(b'\n');
                        }
                        if let Err(e) = file.write_all(&out) {
                            crate::warn!("cannot append to the audit log: {e}");
                        }
                        dirty = true;
                    }
                    if dirty && last_sync.elapsed() >= SYNC_EVERY {
                        if let Err(e) = file.sync_data() {
                            crate::warn!("cannot fsync the audit log: {e}");
                        }
                        last_sync = std::time::Instant::now();
                        dirty = false;
                    } else if !shared.closed.load(Ordering::Acquire) {
                        // Let more decisions gather before the next batch.
                        std::thread::sleep(GATHER);
                    }
                }
            })?;
        Ok(Self {
            pending,

            writer: std::sync::Arc::new(std::sync::Mutex::new(Some(writer))),
        })
    }

    pub fn record(&self, event: Event, peer: Option<&PeerInfo>) {
        use std::sync::atomic::Ordering;
        self.pending
            .events
            .lock()
            .expect("audit queue poisoned")
            .push((event, peer.cloned()));
        if self.pending.idle.load(Ordering::Acquire) {
            self.pending.wake.notify_one();
        }
    }
}

impl AuditLog {
    /// Writes and fsyncs what is pending, then stops the writer (the agent's shutdown).
    pub fn close(&self) {
        self.pending
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.pending.wake.notify_one();
        if let Some(handle) = self.writer.lock().expect("audit writer poisoned").take() {
            let _ = handle.join();
        }
    }
}

fn to_record(e: Event, peer: Option<PeerInfo>, seq: u64, prev: &str) -> Record {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Record {
        seq,
        time: crate::timefmt::iso8601_millis(now),
        uid: peer
            .as_ref()
            .map(|p| p.uid)
            .unwrap_or_else(crate::hardening::current_uid),
        pid: peer.as_ref().and_then(|p| p.pid),
        exe: peer
            .as_ref()
            .and_then(|p| p.exe.as_ref())
            .map(|e| e.display().to_string()),
        action: e.action.to_owned(),
        secret: e.secret,
        exchange: e.exchange,
        method: e.method,
        path: e.path,
        body_sha256: e.body_sha256,
        decision: if e.allowed { "allowed" } else { "denied" }.to_owned(),
        reason: e.reason,
        approval: e.approval,
        prev: prev.to_owned(),
        hash: String::new(),
    }
}

/// Checks a log; `Err` names the first line that was edited, deleted, inserted or moved.
pub fn verify(text: &str) -> Result<usize, String> {
    let mut prev = GENESIS.to_owned();
    let mut expected_seq: Option<Option<u64>> = None;
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let record: Record = serde_json::from_str(line)
            .map_err(|e| format!("line {n}: not an audit record ({e})"))?;
        let intact = hashed_part(line)
            .is_some_and(|(bare, hash)| hash == record.hash && hex_sha256(bare.as_bytes()) == hash);
        if !intact {
            return Err(format!(
                "line {n}: its content does not match its hash: the line was edited"
            ));
        }
        if let Some(want) = expected_seq {
            // `None`: the line before had the largest sequence number, which nothing can follow.
            if want != Some(record.seq) {
                return Err(match want {
                    Some(want) => format!(
                        "line {n}: sequence number {} where {want} was expected: a line before it \
                         is missing, or lines were moved",
                        record.seq
                    ),
                    None => format!(
                        "line {n}: it follows sequence number {}, the last there can be: the log \
                         was edited",
                        u64::MAX
                    ),
                });
            }
        }
        if record.prev != prev {
            return Err(if n == 1 {
                "line 1: it does not start the chain: earlier lines were removed".to_string()
            } else {
                format!(
                    "line {n}: it does not follow line {}: line {} was edited or a line is missing",
                    n - 1,
                    n - 1
                )
            });
        }
        expected_seq = Some(record.seq.checked_add(1));
        prev = record.hash;
        count += 1;
    }
    Ok(count)
}

/// One record as a human reads it.
pub fn render(r: &Record) -> String {
    let who = match (&r.exe, r.pid) {
        (Some(exe), Some(pid)) => format!(
            "{} (pid {pid}, uid {})",
            exe.rsplit('/').next().unwrap_or(exe),
            r.uid
        ),
        _ => format!("uid {}", r.uid),
    };
    let mut s = format!(
        "{} #{} {} {}",
        r.time,
        r.seq,
        r.decision.to_uppercase(),
        r.action
    );
    if let Some(secret) = &r.secret {
        s.push_str(&format!(" {secret}"));
    }
    if let (Some(m), Some(p)) = (&r.method, &r.path) {
        s.push_str(&format!(" {m} {p}"));
    }
    s.push_str(&format!(" by {who}"));
    if let Some(a) = &r.approval {
        s.push_str(&format!(" [approval: {a}]"));
    }
    if let Some(reason) = &r.reason {
        s.push_str(&format!(": {reason}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_three(path: &Path) {
        let log = AuditLog::open(path).unwrap();
        for i in 0..3 {
            log.record(
                Event {
                    action: "sign",
                    secret: Some(format!("s{i}")),
                    allowed: true,
                    body_sha256: Some(hex_sha256(b"{}")),
                    ..Default::default()
                },
                None,
            );
        }
        log.close();
        // The writer thread drains the queue before it exits; wait for the lines.
        for _ in 0..200 {
            if std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .count()
                == 3
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("lines not written");
    }

    fn record(seq: u64, prev: &str) -> Record {
        let mut r = to_record(
            Event {
                action: "lock",
                allowed: true,
                ..Default::default()
            },
            None,
            seq,
            prev,
        );
        r.hash.clear();
        r
    }

    /// Both panicked; found while writing the audit fuzz target (libFuzzer cannot forge a line's
    /// SHA-256, so these inputs were made by hand: fuzz/regressions/audit/).
    #[test]
    fn hostile_lines_are_errors_not_panics() {
        let mut last = record(u64::MAX, GENESIS);
        let line1 = last.seal_line();
        let line2 = record(0, &last.hash).seal_line();
        assert_eq!(verify(&line1), Ok(1));
        let err = verify(&format!("{line1}\n{line2}\n")).unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("the last there can be"),
            "{err}"
        );
        // The line's last 75 bytes start inside a two-byte character.
        let mut r = record(1, GENESIS);
        r.hash = "\u{e9}".repeat(40);
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.is_char_boundary(line.len() - 75));
        assert!(verify(&line).unwrap_err().contains("edited"));
    }

    #[test]
    fn chain_verifies_and_every_kind_of_edit_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        write_three(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(verify(&text), Ok(3));
        let lines: Vec<&str> = text.lines().collect();
        let edited = text.replace("\"s1\"", "\"sX\"");
        assert!(verify(&edited).unwrap_err().starts_with("line 2:"));
        let deleted = format!("{}\n{}\n", lines[0], lines[2]);
        assert!(verify(&deleted).unwrap_err().starts_with("line 2:"));
        let swapped = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[1]);
        assert!(verify(&swapped).unwrap_err().starts_with("line 2:"));
        // A reopened log continues the chain.
        let log = AuditLog::open(&path).unwrap();
        log.record(
            Event {
                action: "lock",
                allowed: true,
                ..Default::default()
            },
            None,
        );
        log.close();
        for _ in 0..200 {
            if std::fs::read_to_string(&path).unwrap().lines().count() == 4 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(verify(&std::fs::read_to_string(&path).unwrap()), Ok(4));
    }

    #[test]
    fn a_torn_last_line_is_cut_and_the_chain_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        write_three(&path);
        let whole = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{whole}{{\"seq\":4,\"ti")).unwrap();
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            whole,
            "the fragment was cut"
        );
        log.record(
            Event {
                action: "lock",
                allowed: true,
                ..Default::default()
            },
            None,
        );
        log.close();
        assert_eq!(verify(&std::fs::read_to_string(&path).unwrap()), Ok(4));
    }
}
