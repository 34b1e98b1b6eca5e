//! A copy of every audit line in the systemd journal (`[audit] journal = true`), sent over the
//! journal's native socket (`[audit] journal_socket`, `/run/systemd/journal/socket` by default;
//! a test points it at its own receiver). The journal records the sender's uid itself (`_UID`),
//! so `apisec-agent audit verify --journal` can check the file against copies the file's writer
//! could not rewrite afterwards, trusting only those whose `_UID` is the agent's: a log re-chained
//! with a record removed verifies on its own, but not against the journal.
//!
//! Native protocol (systemd's `sd_journal_sendv`): one datagram per entry, `FIELD=value\n` per
//! field; a value holding a newline would need the binary form, and an audit line has none.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// The journal's native socket.
pub const DEFAULT_SOCKET: &str = "/run/systemd/journal/socket";

/// The identifier the agent's audit copies carry (`SYSLOG_IDENTIFIER`).
pub const IDENTIFIER: &str = "apisec-agent-audit";

pub struct Journal {
    socket: UnixDatagram,
    path: PathBuf,
    warned: bool,
}

impl Journal {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        // A busy journal must not stall the audit writer (and with it the log): a copy that
        // cannot be sent at once is dropped and warned about.
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket,
            path: path.to_owned(),
            warned: false,
        })
    }

    /// Sends one audit line (without its newline) with its `seq` and `hash`.
    pub fn send(&mut self, line: &[u8], seq: u64, hash: &[u8]) {
        let mut msg = Vec::with_capacity(line.len() + 160);
        msg.extend_from_slice(b"SYSLOG_IDENTIFIER=");
        msg.extend_from_slice(IDENTIFIER.as_bytes());
        msg.extend_from_slice(b"\nPRIORITY=6\nAPISEC_AUDIT_SEQ=");
        msg.extend_from_slice(seq.to_string().as_bytes());
        msg.extend_from_slice(b"\nAPISEC_AUDIT_HASH=");
        msg.extend_from_slice(hash);
        msg.extend_from_slice(b"\nMESSAGE=");
        msg.extend_from_slice(line.strip_suffix(b"\n").unwrap_or(line));
        msg.push(b'\n');
        match self.socket.send(&msg) {
            Ok(_) => self.warned = false,
            Err(e) if !self.warned => {
                self.warned = true;
                crate::warn!(
                    "cannot send the audit copy to the journal at {}: {e}; the file still has it",
                    self.path.display()
                );
            }
            Err(_) => {}
        }
    }
}

/// One audit copy read back from the journal (`journalctl -o json`): the sender's uid as the
/// journal recorded it, and the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalCopy {
    pub uid: Option<u32>,
    pub seq: u64,
    pub line: String,
}

/// Reads `journalctl -o json` output (one JSON object per line); entries of other identifiers
/// are skipped.
pub fn parse_export(text: &str) -> Result<Vec<JournalCopy>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("journal line {}: not JSON ({e})", i + 1))?;
        if v["SYSLOG_IDENTIFIER"] != IDENTIFIER {
            continue;
        }
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        let (Some(seq), Some(message)) = (text("APISEC_AUDIT_SEQ"), text("MESSAGE")) else {
            return Err(format!(
                "journal line {}: an audit copy without its fields",
                i + 1
            ));
        };
        out.push(JournalCopy {
            uid: text("_UID").and_then(|u| u.parse().ok()),
            seq: seq
                .parse()
                .map_err(|_| format!("journal line {}: APISEC_AUDIT_SEQ {seq:?}", i + 1))?,
            line: message,
        });
    }
    Ok(out)
}

/// Checks the log's lines (all files, in order) against the journal's copies sent by `uid`:
/// every such copy must be in the log, line for line, at its `seq`. Returns how many matched.
pub fn check_against(
    log_lines: &[&str],
    copies: &[JournalCopy],
    uid: u32,
) -> Result<usize, String> {
    use std::collections::HashMap;
    let mut by_seq: HashMap<u64, &str> = HashMap::new();
    for line in log_lines {
        if let Ok(r) = serde_json::from_str::<super::Record>(line) {
            by_seq.insert(r.seq, line);
        }
    }
    if !copies.iter().any(|c| c.uid == Some(uid)) {
        return Err(format!(
            "the journal holds no audit copies sent by uid {uid}: is [audit] journal = true, and \
             may you read the journal (the systemd-journal or adm group)?"
        ));
    }
    let mut matched = 0;
    for c in copies.iter().filter(|c| c.uid == Some(uid)) {
        match by_seq.get(&c.seq) {
            Some(line) if *line == c.line => matched += 1,
            Some(_) => {
                return Err(format!(
                    "line with seq {} differs from the journal's copy: the log was rewritten \
                     (re-chained, edited, or a line removed before it)",
                    c.seq
                ))
            }
            None => {
                return Err(format!(
                    "the journal has a line with seq {} that the log lacks: a line was removed \
                     (or its file rotated away: pass the rotated files too)",
                    c.seq
                ))
            }
        }
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(uid: &str, seq: u64, message: &str) -> String {
        serde_json::json!({
            "SYSLOG_IDENTIFIER": IDENTIFIER,
            "_UID": uid,
            "APISEC_AUDIT_SEQ": seq.to_string(),
            "MESSAGE": message,
        })
        .to_string()
    }

    #[test]
    fn copies_are_checked_by_seq_and_only_the_agents_uid_is_trusted() {
        let line = r#"{"seq":1,"time":"t","uid":5,"action":"lock","decision":"allowed","prev":"0","hash":"h"}"#;
        let other = "{\"SYSLOG_IDENTIFIER\":\"sshd\",\"MESSAGE\":\"x\"}";
        let text = [export("5", 1, line), export("7", 2, "forged"), other.into()].join("\n");
        let copies = parse_export(&text).unwrap();
        assert_eq!(copies.len(), 2, "other identifiers are skipped");
        assert_eq!(check_against(&[line], &copies, 5), Ok(1));
        assert!(check_against(&[], &copies, 5)
            .unwrap_err()
            .contains("lacks"));
        let edited = line.replace("lock", "sign");
        assert!(check_against(&[&edited], &copies, 5)
            .unwrap_err()
            .contains("differs"));
        assert!(parse_export("{").is_err());
        // No copy from the agent's uid at all is not a pass (no access to the journal, or the
        // copies dropped).
        assert!(check_against(&[line], &copies, 9)
            .unwrap_err()
            .contains("no audit copies sent by uid 9"));
    }
}
