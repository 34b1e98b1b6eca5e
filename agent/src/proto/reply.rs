//! Successful replies: `SSH_AGENT_EXTENSION_RESPONSE` (29): `string name || details`, one type
//! (or encoder and decoder) per extension.

use super::msg;
use super::wire::{Cursor, Out, WireError};
use super::{EXTENSIONS, EXT_SIGN};

/// Builds a type-29 frame: `string name || details`.
pub fn extension_response_frame(name: &str, details: &[u8]) -> Vec<u8> {
    extension_response_frame_with(name, details.len(), |o| o.buf.extend_from_slice(details))
}

/// Builds a type-29 frame whose details `write` appends, in one buffer (the length is filled in
/// at the end): the sign reply, on every signature, is not built and copied twice.
pub fn extension_response_frame_with(
    name: &str,
    details_hint: usize,
    write: impl FnOnce(&mut Out),
) -> Vec<u8> {
    let mut o = Out {
        buf: Vec::with_capacity(9 + name.len() + details_hint),
    };
    o.buf.extend_from_slice(&[0; 4]);
    o.u8(msg::EXTENSION_RESPONSE).text(name);
    write(&mut o);
    let len = (o.buf.len() - 4) as u32;
    o.buf[..4].copy_from_slice(&len.to_be_bytes());
    o.buf
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockedEntry {
    pub name: String,
    /// Unix seconds when the agent will forget it; 0 = only on lock.
    pub forget_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockReply {
    pub unlocked: Vec<UnlockedEntry>,
}

impl UnlockReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut o = Out::default();
        o.u32(self.unlocked.len() as u32);
        for e in &self.unlocked {
            o.text(&e.name).u64(e.forget_at);
        }
        o.buf
    }
    pub fn decode(details: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(details);
        let n = c.u32("unlock reply count")?;
        let mut unlocked = Vec::new();
        for _ in 0..n {
            unlocked.push(UnlockedEntry {
                name: c.text("unlock reply name")?.to_owned(),
                forget_at: c.u64("unlock reply forget_at")?,
            });
        }
        c.finish("unlock reply")?;
        Ok(Self { unlocked })
    }
}

/// `progress@apisec` details: one human-readable line ("touch your YubiKey ...").
pub fn encode_progress(message: &str) -> Vec<u8> {
    let mut o = Out::default();
    o.text(message);
    o.buf
}

pub fn decode_progress(details: &[u8]) -> Result<String, WireError> {
    let mut c = Cursor::new(details);
    let m = c.text("progress message")?.to_owned();
    c.finish("progress")?;
    Ok(m)
}

/// `lock@apisec`, `reload@apisec` replies: one count.
pub fn encode_count(n: u32) -> Vec<u8> {
    let mut o = Out::default();
    o.u32(n);
    o.buf
}

pub fn decode_count(details: &[u8]) -> Result<u32, WireError> {
    let mut c = Cursor::new(details);
    let n = c.u32("count")?;
    c.finish("count reply")?;
    Ok(n)
}

/// `query` reply: the extension names (draft-miller-ssh-agent section 3.8.1).
pub fn encode_query_reply() -> Vec<u8> {
    let mut o = Out::default();
    o.text_list(EXTENSIONS);
    o.buf
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    pub name: String,
    pub exchange: String,
    pub api_key: String,
    pub unsealed: bool,
    /// `YYYY-MM-DD`, or empty when the secret does not expire.
    pub expires: String,
    /// Unix seconds when the agent forgets it; 0 when sealed or kept until lock.
    pub forget_at: u64,
    /// Empty when the entry is fine; otherwise why it cannot be used (damaged file, ...).
    pub problem: String,
    /// What weakens its policy by design (raw MAC allowed, no freshness window, no default
    /// refusals), one per line; sent only to a client that asked (`STATUS_WANT_NOTES`).
    pub notes: String,
    /// The recipients its sealed block is sealed to, as the entry file lists them; sent only to
    /// a client that asked (`STATUS_WANT_RECIPIENTS`), empty otherwise (and from older agents).
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReply {
    pub version: String,
    pub pid: u32,
    /// Locked with `ssh-add -x`.
    pub agent_locked: bool,
    pub entries: Vec<StatusEntry>,
}

impl StatusReply {
    /// The reply of 0.1.0: what a client that asked for no notes decodes.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_for(0)
    }

    /// The reply with what `flags` asked for appended after the fields an older client reads.
    pub fn encode_for(&self, flags: u32) -> Vec<u8> {
        let mut o = Out::default();
        o.text(&self.version)
            .u32(self.pid)
            .bool(self.agent_locked)
            .u32(self.entries.len() as u32);
        for e in &self.entries {
            o.text(&e.name)
                .text(&e.exchange)
                .text(&e.api_key)
                .bool(e.unsealed)
                .text(&e.expires)
                .u64(e.forget_at)
                .text(&e.problem);
        }
        // The recipients come after the notes, so asking for them brings the notes too.
        if flags & (super::STATUS_WANT_NOTES | super::STATUS_WANT_RECIPIENTS) != 0 {
            let notes: Vec<&str> = self.entries.iter().map(|e| e.notes.as_str()).collect();
            o.text_list(&notes);
        }
        if flags & super::STATUS_WANT_RECIPIENTS != 0 {
            let recipients: Vec<String> = self
                .entries
                .iter()
                .map(|e| e.recipients.join("\n"))
                .collect();
            let refs: Vec<&str> = recipients.iter().map(String::as_str).collect();
            o.text_list(&refs);
        }
        o.buf
    }

    /// Decodes either form; fields a newer agent appends after those known here are ignored.
    pub fn decode(details: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(details);
        let version = c.text("status version")?.to_owned();
        let pid = c.u32("status pid")?;
        let agent_locked = c.bool("status locked")?;
        let n = c.u32("status count")?;
        let mut entries = Vec::new();
        for _ in 0..n {
            entries.push(StatusEntry {
                name: c.text("status name")?.to_owned(),
                exchange: c.text("status exchange")?.to_owned(),
                api_key: c.text("status api key")?.to_owned(),
                unsealed: c.bool("status unsealed")?,
                expires: c.text("status expires")?.to_owned(),
                forget_at: c.u64("status forget_at")?,
                problem: c.text("status problem")?.to_owned(),
                notes: String::new(),
                recipients: Vec::new(),
            });
        }
        if !c.is_empty() {
            let notes = c.text_list("status notes")?;
            if notes.len() != entries.len() {
                return Err(WireError {
                    what: "status notes",
                    reason: "not one per entry",
                });
            }
            for (e, note) in entries.iter_mut().zip(notes) {
                e.notes = note.to_owned();
            }
        }
        if !c.is_empty() {
            let recipients = c.text_list("status recipients")?;
            if recipients.len() != entries.len() {
                return Err(WireError {
                    what: "status recipients",
                    reason: "not one list per entry",
                });
            }
            for (e, list) in entries.iter_mut().zip(recipients) {
                e.recipients = list.lines().map(str::to_owned).collect();
            }
        }
        Ok(Self {
            version,
            pid,
            agent_locked,
            entries,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignReply {
    pub headers: Vec<(String, String)>,
    pub query_additions: Vec<(String, String)>,
    /// The complete query string to send, without `?`.
    pub query: String,
    /// The body to send instead of the client's, when the preset had to change it.
    pub body: Option<Vec<u8>>,
}

impl SignReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut o = Out::default();
        self.write(&mut o);
        o.buf
    }

    /// The whole reply frame, built in one buffer.
    pub fn to_frame(&self) -> Vec<u8> {
        sign_reply_frame(
            &self.headers,
            &self.query_additions,
            &self.query,
            self.body.as_deref(),
        )
    }

    fn write(&self, o: &mut Out) {
        write_sign_reply(
            o,
            &self.headers,
            &self.query_additions,
            &self.query,
            self.body.as_deref(),
        );
    }

    pub fn decode(details: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(details);
        let headers = c.pair_list("sign reply headers")?;
        let query_additions = c.pair_list("sign reply query additions")?;
        let query = c.text("sign reply query")?.to_owned();
        let replaced = c.bool("sign reply body flag")?;
        let body = c.bytes("sign reply body")?.to_vec();
        c.finish("sign reply")?;
        Ok(Self {
            headers,
            query_additions,
            query,
            body: replaced.then_some(body),
        })
    }
}

fn write_sign_reply<N: AsRef<str>>(
    o: &mut Out,
    headers: &[(N, String)],
    query_additions: &[(String, String)],
    query: &str,
    body: Option<&[u8]>,
) {
    o.pair_list(headers)
        .pair_list(query_additions)
        .text(query)
        .bool(body.is_some())
        .bytes(body.unwrap_or_default());
}

/// A sign reply frame written from borrowed parts, in one buffer: the server writes its
/// signature's headers (whose names are static strings) without building a [`SignReply`] first.
pub fn sign_reply_frame<N: AsRef<str>>(
    headers: &[(N, String)],
    query_additions: &[(String, String)],
    query: &str,
    body: Option<&[u8]>,
) -> Vec<u8> {
    extension_response_frame_with(EXT_SIGN, 512, |o| {
        write_sign_reply(o, headers, query_additions, query, body)
    })
}

/// `login@apisec` reply: the login's fields in the exchange's order, then the message to send
/// (empty where the exchange defines fields only).
#[derive(Clone, PartialEq, Eq)]
pub struct LoginReply {
    pub fields: Vec<(String, String)>,
    pub message: String,
}

impl std::fmt::Debug for LoginReply {
    // Bitget, OKX and Coinbase Exchange send the passphrase in clear inside their logins.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginReply")
            .field(
                "fields",
                &self.fields.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("message_len", &self.message.len())
            .finish()
    }
}

impl LoginReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut o = Out::default();
        o.pair_list(&self.fields).text(&self.message);
        o.buf
    }

    pub fn decode(details: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(details);
        let fields = c.pair_list("login reply fields")?;
        let message = c.text("login reply message")?.to_owned();
        c.finish("login reply")?;
        Ok(Self { fields, message })
    }
}

pub fn encode_mac_reply(mac: &[u8]) -> Vec<u8> {
    let mut o = Out::default();
    o.bytes(mac);
    o.buf
}

pub fn decode_mac_reply(details: &[u8]) -> Result<Vec<u8>, WireError> {
    let mut c = Cursor::new(details);
    let mac = c.bytes("mac reply")?.to_vec();
    c.finish("mac reply")?;
    Ok(mac)
}

/// One approval waiting for an answer (`approvals@apisec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingApproval {
    pub id: u32,
    /// The short line (`sign bg (bitget): a transfer request, asked by ...`).
    pub line: String,
    /// The whole prompt, as the approver program reads it.
    pub prompt: String,
    /// How long it has waited, in seconds.
    pub waited_secs: u32,
}

/// `approvals@apisec` reply: `uint32 n`, then per approval `uint32 id, string line, string
/// prompt, uint32 waited_secs`.
pub fn encode_approvals(list: &[WaitingApproval]) -> Vec<u8> {
    let mut o = Out::default();
    o.u32(list.len() as u32);
    for a in list {
        o.u32(a.id).text(&a.line).text(&a.prompt).u32(a.waited_secs);
    }
    o.buf
}

pub fn decode_approvals(details: &[u8]) -> Result<Vec<WaitingApproval>, WireError> {
    let mut c = Cursor::new(details);
    let n = c.u32("approvals count")?;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(WaitingApproval {
            id: c.u32("approval id")?,
            line: c.text("approval line")?.to_owned(),
            prompt: c.text("approval prompt")?.to_owned(),
            waited_secs: c.u32("approval waited")?,
        });
    }
    c.finish("approvals reply")?;
    Ok(out)
}
