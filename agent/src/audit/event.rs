//! A decision on its way to the log. The request path appends it, borrowed fields and all, to a
//! byte queue the writer thread drains: no allocation per decision, and no memory allocated on one
//! thread and freed on another (under load that made the tokio workers and the writer fight over
//! glibc's arena locks, a futex call every other signature).

use crate::peer::PeerInfo;

/// What was decided on: the `action` field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// `unlock@apisec`: a secret unsealed (or not).
    #[default]
    Unlock,
    /// `sign@apisec`.
    Sign,
    /// `mac@apisec`.
    Mac,
    /// `login@apisec`: a WebSocket login signed (or not).
    Login,
    /// `lock@apisec`: named or all unsealed secrets forgotten.
    Lock,
    /// `ssh-add -D`: every unsealed secret forgotten.
    RemoveAll,
    /// `ssh-add -x`.
    AgentLock,
    /// `ssh-add -X`.
    AgentUnlock,
    /// `reload@apisec`.
    Reload,
    /// `shutdown@apisec`.
    Shutdown,
    /// `answer@apisec`: an admin's answer to a waiting approval.
    Answer,
    /// An entry whose policy or generation differs from what was last approved, approved (or
    /// not) at unlock or reload.
    PolicyChange,
}

impl Action {
    /// The name written to the log (`audit verify` and `audit tail` read it back).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unlock => "unlock",
            Self::Sign => "sign",
            Self::Mac => "mac",
            Self::Login => "login",
            Self::Lock => "lock",
            Self::RemoveAll => "remove-all",
            Self::AgentLock => "agent-lock",
            Self::AgentUnlock => "agent-unlock",
            Self::Reload => "reload",
            Self::Shutdown => "shutdown",
            Self::Answer => "answer",
            Self::PolicyChange => "policy-change",
        }
    }
}

/// A decision to record; the writer adds `seq` and `prev`. Built with the constructors below,
/// then [`Event::allowed`] or [`Event::denied`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Event<'a> {
    pub action: Action,
    pub secret: Option<&'a str>,
    pub exchange: Option<&'a str>,
    pub method: Option<&'a str>,
    pub path: Option<&'a str>,
    /// SHA-256 of the request body, computed by the caller (no copy of the body travels).
    pub body_sha256: Option<[u8; 32]>,
    /// The class of the endpoint judged (`read`, ..., `login` for a signature that is one).
    pub class: Option<&'a str>,
    /// SHA-256 of the bytes the signature covers (the exchange's signed string, as the preset
    /// fed it to the MAC or the signing key): what was signed, not what the client named.
    pub signed_sha256: Option<[u8; 32]>,
    pub allowed: bool,
    pub reason: Option<&'a str>,
    pub approval: Option<&'a str>,
}

impl<'a> Event<'a> {
    /// A sign request for `secret` (its exchange once the secret is known to be held).
    pub fn sign(
        secret: &'a str,
        exchange: Option<&'a str>,
        method: &'a str,
        path: &'a str,
        body_sha256: [u8; 32],
    ) -> Self {
        Self {
            action: Action::Sign,
            secret: Some(secret),
            exchange,
            method: Some(method),
            path: Some(path),
            body_sha256: Some(body_sha256),
            ..Self::default()
        }
    }

    /// A login of `secret`, of kind `kind` (its exchange once the secret is known to be held).
    pub fn login(secret: &'a str, exchange: Option<&'a str>, kind: &'a str) -> Self {
        Self {
            action: Action::Login,
            secret: Some(secret),
            exchange,
            path: Some(kind),
            class: Some("login"),
            ..Self::default()
        }
    }

    /// An unseal of `secret`.
    pub fn unlock(secret: &'a str, exchange: &'a str) -> Self {
        Self {
            action: Action::Unlock,
            secret: Some(secret),
            exchange: Some(exchange),
            ..Self::default()
        }
    }

    /// A raw MAC with `algorithm` (recorded as the method) over data with this digest.
    pub fn mac(secret: &'a str, algorithm: &'a str, data_sha256: [u8; 32]) -> Self {
        Self {
            action: Action::Mac,
            secret: Some(secret),
            method: Some(algorithm),
            body_sha256: Some(data_sha256),
            ..Self::default()
        }
    }

    /// An operation on the whole agent (lock, remove-all, agent lock and unlock).
    pub fn agent(action: Action) -> Self {
        Self {
            action,
            ..Self::default()
        }
    }

    /// Allowed; `approval` says how, when a human or the token approved it.
    pub fn allowed(self, approval: Option<&'a str>) -> Self {
        Self {
            allowed: true,
            approval,
            ..self
        }
    }

    /// Refused, and why.
    pub fn denied(self, reason: &'a str) -> Self {
        Self {
            allowed: false,
            reason: Some(reason),
            ..self
        }
    }

    /// The class the policy judged the request to be.
    pub fn judged(self, class: Option<&'a str>) -> Self {
        Self { class, ..self }
    }

    /// The digest of the bytes actually signed.
    pub fn signing(self, signed_sha256: [u8; 32]) -> Self {
        Self {
            signed_sha256: Some(signed_sha256),
            ..self
        }
    }

    /// A note on the outcome (`forgot 3 secret(s)`); empty means none.
    pub fn noting(self, note: &'a str) -> Self {
        Self {
            reason: (!note.is_empty()).then_some(note),
            ..self
        }
    }
}

/// An event read back from the queue: the event's fields, when it happened and who asked.
#[derive(Debug, PartialEq, Eq)]
pub struct Queued<'q> {
    pub time_ms: u64,
    pub uid: u32,
    pub pid: Option<i32>,
    pub exe: Option<&'q [u8]>,
    pub comm: Option<&'q str>,
    pub action: &'q str,
    pub secret: Option<&'q str>,
    pub exchange: Option<&'q str>,
    pub method: Option<&'q str>,
    pub path: Option<&'q str>,
    pub body_sha256: Option<&'q [u8; 32]>,
    pub class: Option<&'q str>,
    pub signed_sha256: Option<&'q [u8; 32]>,
    pub allowed: bool,
    pub reason: Option<&'q str>,
    pub approval: Option<&'q str>,
}

/// Length prefix of an absent field.
const ABSENT: u32 = u32::MAX;

/// The most of a text field the log keeps. Clients choose paths and methods (a frame may hold
/// 256 KiB), and refusal messages quote them: uncapped, one request could write a line longer
/// than the tail the agent reads back at start-up to continue the chain (`writer::TAIL`).
pub const MAX_TEXT: usize = 1024;

fn put(queue: &mut Vec<u8>, field: Option<&[u8]>) {
    match field {
        Some(bytes) => {
            // Exe paths (at most PATH_MAX), digests and capped text: far below 4 GiB.
            let len = u32::try_from(bytes.len()).unwrap_or(ABSENT - 1);
            queue.extend_from_slice(&len.to_le_bytes());
            queue.extend_from_slice(&bytes[..len as usize]);
        }
        None => queue.extend_from_slice(&ABSENT.to_le_bytes()),
    }
}

/// A text field, cut to [`MAX_TEXT`] bytes at a character boundary and marked when cut
/// (`…[300000 bytes]`, the full length), without allocating.
fn put_text(queue: &mut Vec<u8>, field: Option<&str>) {
    use std::io::Write;
    let Some(text) = field.filter(|t| t.len() > MAX_TEXT) else {
        return put(queue, field.map(str::as_bytes));
    };
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let len_at = queue.len();
    queue.extend_from_slice(&0u32.to_le_bytes());
    queue.extend_from_slice(&text.as_bytes()[..end]);
    let _ = write!(queue, "…[{} bytes]", text.len());
    let len = (queue.len() - len_at - 4) as u32;
    queue[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
}

/// Appends `event`, stamped with `time_ms` and its client, to `queue`.
pub fn encode(queue: &mut Vec<u8>, event: &Event<'_>, peer: Option<&PeerInfo>, time_ms: u64) {
    use std::os::unix::ffi::OsStrExt;
    let uid = peer.map_or_else(crate::hardening::current_uid, |p| p.uid);
    let pid = peer.and_then(|p| p.pid);
    queue.extend_from_slice(&time_ms.to_le_bytes());
    queue.extend_from_slice(&uid.to_le_bytes());
    queue.push(u8::from(pid.is_some()) | (u8::from(event.allowed) << 1));
    queue.extend_from_slice(&pid.unwrap_or(0).to_le_bytes());
    put(
        queue,
        peer.and_then(|p| p.exe.as_deref())
            .map(|e| e.as_os_str().as_bytes()),
    );
    put_text(queue, peer.and_then(|p| p.comm.as_deref()));
    put(queue, Some(event.action.as_str().as_bytes()));
    for field in [event.secret, event.exchange, event.method, event.path] {
        put_text(queue, field);
    }
    put(queue, event.body_sha256.as_ref().map(|d| &d[..]));
    put_text(queue, event.class);
    put(queue, event.signed_sha256.as_ref().map(|d| &d[..]));
    put_text(queue, event.reason);
    put_text(queue, event.approval);
}

/// Reads events back in the order they were queued.
pub struct Reader<'q> {
    rest: &'q [u8],
}

impl<'q> Reader<'q> {
    pub fn new(queue: &'q [u8]) -> Self {
        Self { rest: queue }
    }

    /// What could not be read back as an event (nothing, unless encoding and decoding disagree).
    pub fn unread(&self) -> usize {
        self.rest.len()
    }

    fn take(&mut self, n: usize) -> Option<&'q [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn field(&mut self) -> Option<Option<&'q [u8]>> {
        let len = u32::from_le_bytes(self.array()?);
        if len == ABSENT {
            return Some(None);
        }
        self.take(len as usize).map(Some)
    }

    /// A text field; everything queued as text came from a `&str`.
    fn text(&mut self) -> Option<Option<&'q str>> {
        match self.field()? {
            Some(bytes) => std::str::from_utf8(bytes).ok().map(Some),
            None => Some(None),
        }
    }
}

impl<'q> Iterator for Reader<'q> {
    type Item = Queued<'q>;

    /// `None` at the end of the queue (the queue holds only what `encode` wrote).
    fn next(&mut self) -> Option<Queued<'q>> {
        let time_ms = u64::from_le_bytes(self.array()?);
        let uid = u32::from_le_bytes(self.array()?);
        let [flags] = self.array()?;
        let pid = i32::from_le_bytes(self.array()?);
        Some(Queued {
            time_ms,
            uid,
            pid: (flags & 1 != 0).then_some(pid),
            allowed: flags & 2 != 0,
            exe: self.field()?,
            comm: self.text()?,
            action: self.text()?.unwrap_or(""),
            secret: self.text()?,
            exchange: self.text()?,
            method: self.text()?,
            path: self.text()?,
            body_sha256: match self.field()? {
                Some(d) => Some(d.try_into().ok()?),
                None => None,
            },
            class: self.text()?,
            signed_sha256: match self.field()? {
                Some(d) => Some(d.try_into().ok()?),
                None => None,
            },
            reason: self.text()?,
            approval: self.text()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_client_text_is_cut_at_a_character_and_marked() {
        let path = format!("/{}", "é".repeat(200_000));
        let reason = format!("path {path:?} is refused");
        let event = Event {
            action: Action::Sign,
            path: Some(&path),
            reason: Some(&reason),
            ..Default::default()
        };
        let mut queue = Vec::new();
        encode(&mut queue, &event, None, 1);
        let back = Reader::new(&queue).next().expect("the event reads back");
        let kept = back.path.unwrap();
        assert!(kept.len() <= MAX_TEXT + 20, "{}", kept.len());
        assert!(
            kept.ends_with(&format!("…[{} bytes]", path.len())),
            "{kept}"
        );
        assert!(path.starts_with(kept.split('…').next().unwrap()));
        assert!(back
            .reason
            .unwrap()
            .ends_with(&format!("…[{} bytes]", reason.len())));
        // Short text is kept whole.
        let short = Event {
            action: Action::Sign,
            path: Some("/api/v2/x"),
            ..Default::default()
        };
        queue.clear();
        encode(&mut queue, &short, None, 1);
        assert_eq!(Reader::new(&queue).next().unwrap().path, Some("/api/v2/x"));
    }

    #[test]
    fn events_come_back_as_they_were_queued() {
        let peer = PeerInfo {
            uid: 1000,
            gid: 1000,
            pid: Some(4242),
            exe: Some("/usr/bin/bot".into()),
            comm: None,
            cmdline: None,
        };
        let digest = [7u8; 32];
        let first = Event::sign(
            "bitget-main",
            Some("bitget"),
            "POST",
            "/api/v2/spot/trade/place-order",
            digest,
        )
        .judged(Some("trade"))
        .signing([9u8; 32])
        .allowed(Some("step-up approver (rule 2)"));
        let second = Event::agent(Action::Lock).noting("forgot 3 secret(s) \u{e9}\"\n");
        let mut queue = Vec::new();
        encode(&mut queue, &first, Some(&peer), 1_700_000_000_123);
        encode(&mut queue, &second, None, 5);
        let got: Vec<Queued<'_>> = Reader::new(&queue).collect();
        assert_eq!(
            got,
            vec![
                Queued {
                    time_ms: 1_700_000_000_123,
                    uid: 1000,
                    pid: Some(4242),
                    exe: Some(b"/usr/bin/bot"),
                    comm: None,
                    action: "sign",
                    secret: Some("bitget-main"),
                    exchange: Some("bitget"),
                    method: Some("POST"),
                    path: Some("/api/v2/spot/trade/place-order"),
                    body_sha256: Some(&digest),
                    class: Some("trade"),
                    signed_sha256: Some(&[9u8; 32]),
                    allowed: true,
                    reason: None,
                    approval: Some("step-up approver (rule 2)"),
                },
                Queued {
                    time_ms: 5,
                    uid: crate::hardening::current_uid(),
                    pid: None,
                    exe: None,
                    comm: None,
                    action: "lock",
                    secret: None,
                    exchange: None,
                    method: None,
                    path: None,
                    body_sha256: None,
                    class: None,
                    signed_sha256: None,
                    allowed: false,
                    reason: Some("forgot 3 secret(s) \u{e9}\"\n"),
                    approval: None,
                },
            ]
        );
    }
}
