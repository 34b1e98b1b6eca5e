//! The audit log: one JSON line per decision (every [`Action`]: unlock, sign, mac, lock,
//! remove-all, agent-lock, agent-unlock). Each line carries its own hash (SHA-256 of the line
//! without it, which covers `prev`) and `prev`, the hash of the line before: an edited line fails its own hash, a deleted or moved line breaks `prev` and the
//! sequence numbers, and `audit verify` names the line where it happened. Never holds a secret:
//! requests are recorded by method, path and the SHA-256 of the body.
//!
//! The request path queues a decision ([`event`]); one thread writes the lines ([`line`]) and
//! fsyncs them ([`writer`]): at once when the log was quiet, at most every 50 ms under load. A
//! signature does not wait for the disk, and a crash can lose at most the last 50 ms of lines.

mod event;
mod file;
pub mod journal;
mod line;
mod writer;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use event::{Action, Event};
pub use writer::AuditLog;

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
    /// `/proc/PID/comm` of a client whose executable the agent could not read: a name the
    /// client chose itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// [`Action::as_str`]: `unlock`, `sign`, `mac`, `lock`, `remove-all`, `agent-lock`,
    /// `agent-unlock`, `reload`, `shutdown`, `answer`, `policy-change`.
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
    /// The class of the endpoint judged; `login` for a signature that is a login. Absent in
    /// records written before the endpoint tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// SHA-256 of the bytes the signature covers. Absent before the endpoint tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_sha256: Option<String>,
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
    /// hashed bytes from the line itself. (The writer makes the same bytes without serde.)
    pub fn seal_line(&mut self) -> String {
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

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks a log; `Err` names the first line that was edited, deleted, inserted or moved.
pub fn verify(text: &str) -> Result<usize, String> {
    verify_from(text, &Start::Genesis).map(|(n, _)| n)
}

/// Where a file's chain must start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// At the beginning: its first line's `prev` is the genesis value.
    Genesis,
    /// Where the previous file (a rotated log) ended: its last hash, and the next `seq`.
    After { prev: String, seq: u64 },
    /// Anywhere: the earlier files are gone (logrotate deleted them); checked from line 1 on.
    Anywhere,
}

/// Verifies the files of a rotated log, oldest first: each continues the chain of the one
/// before. Returns the number of lines; errors name the file (by its index in `texts`).
pub fn verify_files(texts: &[&str], first: Start) -> Result<usize, (usize, String)> {
    let mut start = first;
    let mut total = 0;
    for (i, text) in texts.iter().enumerate() {
        let (n, end) = verify_from(text, &start).map_err(|e| (i, e))?;
        total += n;
        if let Some(end) = end {
            start = end;
        }
    }
    Ok(total)
}

/// Verifies one file from `start`; returns its line count and where its chain ends (`None`
/// when it is empty).
fn verify_from(text: &str, start: &Start) -> Result<(usize, Option<Start>), String> {
    let (mut prev, mut expected_seq) = match start {
        Start::Genesis => (Some(GENESIS.to_owned()), None),
        Start::After { prev, seq } => (Some(prev.clone()), Some(Some(*seq))),
        Start::Anywhere => (None, None),
    };
    let mut count = 0;
    let mut last_seq = None;
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
        if prev.as_ref().is_some_and(|p| *p != record.prev) {
            return Err(if n == 1 && *start == Start::Genesis {
                "line 1: it does not start the chain: earlier lines were removed (a rotated \
                 log: pass the earlier files first, or --continues when they are gone)"
                    .to_string()
            } else if n == 1 {
                "line 1: it does not follow the last line of the file before it: a line is \
                 missing between the files, or they are out of order"
                    .to_string()
            } else {
                format!(
                    "line {n}: it does not follow line {}: line {} was edited or a line is missing",
                    n - 1,
                    n - 1
                )
            });
        }
        expected_seq = Some(record.seq.checked_add(1));
        last_seq = Some(record.seq);
        prev = Some(record.hash);
        count += 1;
    }
    let end = match (prev, last_seq) {
        (Some(prev), Some(seq)) => Some(Start::After {
            prev,
            seq: seq.wrapping_add(1),
        }),
        _ => None,
    };
    Ok((count, end))
}

/// One record as a human reads it, on one line: the fields clients chose (a path, a method) have
/// their control characters escaped, so `audit tail` cannot be made to move the terminal's
/// cursor or print a line of its own.
pub fn render(r: &Record) -> String {
    let who = match (&r.exe, r.pid) {
        (Some(exe), Some(pid)) => format!(
            "{} (pid {pid}, uid {})",
            exe.rsplit('/').next().unwrap_or(exe),
            r.uid
        ),
        (None, Some(pid)) if r.comm.is_some() => format!(
            "{:?} (a name the client chose; pid {pid}, uid {})",
            r.comm.as_deref().unwrap_or_default(),
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
    if let Some(class) = &r.class {
        s.push_str(&format!(" ({class})"));
    }
    s.push_str(&format!(" by {who}"));
    if let Some(a) = &r.approval {
        s.push_str(&format!(" [approval: {a}]"));
    }
    if let Some(reason) = &r.reason {
        s.push_str(&format!(": {reason}"));
    }
    let mut line = String::with_capacity(s.len());
    crate::log::push_escaped(&mut line, &s);
    line
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn write_three(path: &Path) {
        let log = AuditLog::open(path).unwrap();
        for i in 0..3 {
            log.record(
                &Event {
                    action: Action::Sign,
                    secret: Some(&format!("s{i}")),
                    allowed: true,
                    body_sha256: Some(Sha256::digest(b"{}").into()),
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

    #[test]
    fn render_keeps_a_record_on_one_line_whatever_the_client_sent() {
        let r = Record {
            method: Some("GET".into()),
            path: Some("/x\n2026-11-27 #9 ALLOWED sign\u{1b}[2J".into()),
            reason: Some("refused".into()),
            ..record(1, GENESIS)
        };
        let shown = render(&r);
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(
            shown.contains("GET /x\\n2026-11-27 #9 ALLOWED sign\\u{1b}[2J"),
            "{shown}"
        );
    }

    fn record(seq: u64, prev: &str) -> Record {
        Record {
            seq,
            time: "2026-11-27T00:00:00.000Z".into(),
            uid: 0,
            pid: None,
            exe: None,
            comm: None,
            action: "lock".into(),
            secret: None,
            exchange: None,
            method: None,
            path: None,
            body_sha256: None,
            class: None,
            signed_sha256: None,
            decision: "allowed".into(),
            reason: None,
            approval: None,
            prev: prev.to_owned(),
            hash: String::new(),
        }
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
            &Event {
                action: Action::Lock,
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
            &Event {
                action: Action::Lock,
                allowed: true,
                ..Default::default()
            },
            None,
        );
        log.close();
        assert_eq!(verify(&std::fs::read_to_string(&path).unwrap()), Ok(4));
    }
}
