//! One audit line, written straight into the writer's output buffer: the same JSON a [`Record`]
//! serializes to (field for field, in the same order), then `hash`, the SHA-256 of everything
//! before it closed with `}`. No intermediate record, no allocation per line.
//!
//! [`Record`]: super::Record

use std::io::Write;

use sha2::{Digest, Sha256};

use super::event::Queued;

fn string(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    // serde_json's own escaping, so that the line is exactly what `Record` would serialize to.
    serde_json::to_writer(&mut *out, value).expect("writing to a Vec cannot fail");
    out.push(b',');
}

fn optional(out: &mut Vec<u8>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        string(out, key, v);
    }
}

fn digest_field(out: &mut Vec<u8>, key: &str, digest: &[u8; 32]) {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(digest, &mut hex).expect("64 hex digits");
    string(out, key, std::str::from_utf8(&hex).expect("hex"));
}

/// Appends the line of `event` (with its newline) to `out` and returns its hash (hex).
pub fn append(out: &mut Vec<u8>, seq: u64, event: &Queued<'_>, prev: &str) -> [u8; 64] {
    let start = out.len();
    let _ = write!(out, "{{\"seq\":{seq},");
    out.extend_from_slice(b"\"time\":\"");
    let _ = crate::timefmt::write_iso8601_millis(out, event.time_ms);
    out.extend_from_slice(b"\",");
    let _ = write!(out, "\"uid\":{},", event.uid);
    if let Some(pid) = event.pid {
        let _ = write!(out, "\"pid\":{pid},");
    }
    if let Some(exe) = event.exe {
        string(out, "exe", &String::from_utf8_lossy(exe));
    }
    optional(out, "comm", event.comm);
    string(out, "action", event.action);
    optional(out, "secret", event.secret);
    optional(out, "exchange", event.exchange);
    optional(out, "method", event.method);
    optional(out, "path", event.path);
    if let Some(digest) = event.body_sha256 {
        digest_field(out, "body_sha256", digest);
    }
    optional(out, "class", event.class);
    if let Some(digest) = event.signed_sha256 {
        digest_field(out, "signed_sha256", digest);
    }
    string(
        out,
        "decision",
        if event.allowed { "allowed" } else { "denied" },
    );
    optional(out, "reason", event.reason);
    optional(out, "approval", event.approval);
    // Escaped too: after a restart it comes from the log's last line, which may have been edited.
    out.extend_from_slice(b"\"prev\":");
    serde_json::to_writer(&mut *out, prev).expect("writing to a Vec cannot fail");
    let hash = Sha256::new()
        .chain_update(&out[start..])
        .chain_update(b"}")
        .finalize();
    let mut hex = [0u8; 64];
    hex::encode_to_slice(hash, &mut hex).expect("64 hex digits");
    out.extend_from_slice(b",\"hash\":\"");
    out.extend_from_slice(&hex);
    out.extend_from_slice(b"\"}\n");
    hex
}

#[cfg(test)]
mod tests {
    use super::super::event::{self, Action, Event, Reader};
    use super::super::{verify, Record, GENESIS};
    use super::*;
    use crate::peer::PeerInfo;

    /// What the line must be: the record serialized by serde (without `hash`), then its hash.
    fn by_serde(q: &Queued<'_>, seq: u64, prev: &str) -> String {
        let own = |s: Option<&str>| s.map(str::to_owned);
        let mut record = Record {
            seq,
            time: crate::timefmt::iso8601_millis(q.time_ms),
            uid: q.uid,
            pid: q.pid,
            exe: q.exe.map(|e| String::from_utf8_lossy(e).into_owned()),
            comm: own(q.comm),
            action: q.action.to_owned(),
            secret: own(q.secret),
            exchange: own(q.exchange),
            method: own(q.method),
            path: own(q.path),
            body_sha256: q.body_sha256.map(hex::encode),
            class: own(q.class),
            signed_sha256: q.signed_sha256.map(hex::encode),
            decision: if q.allowed { "allowed" } else { "denied" }.to_owned(),
            reason: own(q.reason),
            approval: own(q.approval),
            prev: prev.to_owned(),
            hash: String::new(),
        };
        record.seal_line() + "\n"
    }

    #[test]
    fn lines_are_what_a_record_serializes_to_and_they_verify() {
        use std::os::unix::ffi::OsStrExt;
        let hostile =
            "quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7f} \u{e9} \u{1f600}";
        let peer = PeerInfo {
            uid: 1000,
            gid: 1000,
            pid: Some(77),
            // Not UTF-8: the log shows it as the lossy text, as before.
            exe: Some(std::ffi::OsStr::from_bytes(b"/opt/b\xffot").into()),
            comm: None,
            cmdline: None,
        };
        let events = [
            Event {
                action: Action::Sign,
                secret: Some("s1"),
                exchange: Some("bitget"),
                method: Some("POST"),
                path: Some("/api/v2/spot/trade/place-order"),
                body_sha256: Some([0xab; 32]),
                class: Some("trade"),
                signed_sha256: Some([0xcd; 32]),
                allowed: true,
                reason: None,
                approval: Some("step-up approver (rule 1)"),
            },
            Event {
                action: Action::Sign,
                secret: Some(hostile),
                path: Some(hostile),
                reason: Some(hostile),
                ..Default::default()
            },
            Event {
                action: Action::AgentLock,
                allowed: true,
                ..Default::default()
            },
        ];
        let mut queue = Vec::new();
        for (i, e) in events.iter().enumerate() {
            event::encode(
                &mut queue,
                e,
                (i != 2).then_some(&peer),
                1_764_000_000_000 + i as u64,
            );
        }
        let mut out = Vec::new();
        let mut expected = String::new();
        let mut prev = GENESIS.to_owned();
        for (i, q) in Reader::new(&queue).enumerate() {
            let seq = i as u64 + 1;
            expected.push_str(&by_serde(&q, seq, &prev));
            let hash = append(&mut out, seq, &q, &prev);
            prev = String::from_utf8(hash.to_vec()).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, expected);
        assert_eq!(verify(&text), Ok(3));
    }

    /// After a restart `prev` comes from the log's last line, which may have been edited: the new
    /// line must stay JSON whatever it holds (`verify` then reports the edited line).
    #[test]
    fn an_edited_prev_is_escaped() {
        let mut queue = Vec::new();
        event::encode(&mut queue, &Event::default(), None, 0);
        let q = Reader::new(&queue).next().unwrap();
        let mut out = Vec::new();
        append(&mut out, 2, &q, "ab\"c\\");
        let record: Record = serde_json::from_slice(out.trim_ascii_end()).unwrap();
        assert_eq!(record.prev, "ab\"c\\");
        assert_eq!(String::from_utf8(out).unwrap(), by_serde(&q, 2, "ab\"c\\"));
    }
}
