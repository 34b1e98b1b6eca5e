//! The audit log: one JSON line per decision (unlock, sign, mac, lock). Each line carries its own
//! hash (SHA-256 of the line without it, which covers `prev`) and `prev`, the hash of the line
//! before: an edited line fails its own hash, a deleted or moved line breaks `prev` and the
//! sequence numbers, and `audit verify` names the line where it happened. Never holds a secret:
//! requests are recorded by method, path and the SHA-256 of the body.
//!
//! Lines are written by one thread that batches what arrived, writes it and fsyncs: a signature
//! does not wait for the disk (the hot path stays at socket speed), and a crash can lose at most
//! the batch in flight.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::peer::PeerInfo;

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
    /// The hash this record should carry.
    fn compute_hash(&self) -> String {
        let mut bare = self.clone();
        bare.hash.clear();
        hex_sha256(
            serde_json::to_string(&bare)
                .expect("records serialize")
                .as_bytes(),
        )
    }
}

/// A decision to record; the writer fills in `seq`, `time` and `prev`.
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub action: &'static str,
    pub secret: Option<String>,
    pub exchange: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub body: Option<Vec<u8>>,
    pub allowed: bool,
    pub reason: Option<String>,
    pub approval: Option<String>,
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<(Event, Option<PeerInfo>)>,
    path: PathBuf,
}

impl AuditLog {
    /// Opens (creating 0600) the log and continues its chain from its last line.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let (mut seq, mut prev) = (0u64, GENESIS.to_owned());
        if let Ok(f) = File::open(path) {
            if let Some(last) = BufReader::new(f)
                .lines()
                .map_while(Result::ok)
                .filter(|l| !l.is_empty())
                .last()
            {
                if let Ok(r) = serde_json::from_str::<Record>(&last) {
                    seq = r.seq;
                    prev = r.hash;
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let (tx, rx) = mpsc::channel::<(Event, Option<PeerInfo>)>();
        std::thread::Builder::new()
            .name("audit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter());
                    let mut out = Vec::new();
                    for (event, peer) in batch {
                        seq += 1;
                        let mut record = to_record(event, peer, seq, &prev);
                        record.hash = record.compute_hash();
                        let line = serde_json::to_string(&record).expect("records serialize");
                        prev = record.hash;
                        out.extend_from_slice(line.as_bytes());
                        out.push(b'\n');
                    }
                    if let Err(e) = file.write_all(&out).and_then(|_| file.sync_data()) {
                        crate::warn!("cannot append to the audit log: {e}");
                    }
                }
            })?;
        Ok(Self {
            tx,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn record(&self, event: Event, peer: Option<&PeerInfo>) {
        let _ = self.tx.send((event, peer.cloned()));
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
        body_sha256: e.body.as_deref().map(hex_sha256),
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
    let mut expected_seq: Option<u64> = None;
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let record: Record = serde_json::from_str(line)
            .map_err(|e| format!("line {n}: not an audit record ({e})"))?;
        if record.hash != record.compute_hash() {
            return Err(format!(
                "line {n}: its content does not match its hash: the line was edited"
            ));
        }
        if let Some(want) = expected_seq {
            if record.seq != want {
                return Err(format!(
                    "line {n}: sequence number {} where {want} was expected: a line before it is \
                     missing, or lines were moved",
                    record.seq
                ));
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
        expected_seq = Some(record.seq + 1);
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
                    body: Some(b"{}".to_vec()),
                    ..Default::default()
                },
                None,
            );
        }
        drop(log);
        // The writer thread drains the channel before it exits; wait for the lines.
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
        drop(log);
        for _ in 0..200 {
            if std::fs::read_to_string(&path).unwrap().lines().count() == 4 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(verify(&std::fs::read_to_string(&path).unwrap()), Ok(4));
    }
}
