//! The agent's own operations as extension requests (`SSH_AGENTC_EXTENSION`, 27:
//! `string name || details`), one type per message, each with `encode` and `decode`.

use super::frame;
use super::msg;
use super::wire::{Cursor, Out, WireError};

pub const EXT_UNLOCK: &str = "unlock@apisec";
pub const EXT_LOCK: &str = "lock@apisec";
pub const EXT_STATUS: &str = "status@apisec";
pub const EXT_SIGN: &str = "sign@apisec";
pub const EXT_MAC: &str = "mac@apisec";
/// A WebSocket login, stamped by the agent.
pub const EXT_LOGIN: &str = "login@apisec";
pub const EXT_RELOAD: &str = "reload@apisec";
pub const EXT_SHUTDOWN: &str = "shutdown@apisec";
/// The approvals waiting for an answer over the socket (`[approval] over_socket`).
pub const EXT_APPROVALS: &str = "approvals@apisec";
/// An admin's answer to one waiting approval.
pub const EXT_ANSWER: &str = "answer@apisec";
/// An interim reply to `unlock@apisec` while an approval or a touch is awaited (only when asked for).
pub const EXT_PROGRESS: &str = "progress@apisec";
/// The standard extension that lists the others (draft-miller-ssh-agent section 3.8.1).
pub const EXT_QUERY: &str = "query";

/// Every extension the agent answers, as reported by `query`.
pub const EXTENSIONS: &[&str] = &[
    EXT_QUERY,
    EXT_UNLOCK,
    EXT_LOCK,
    EXT_STATUS,
    EXT_SIGN,
    EXT_MAC,
    EXT_RELOAD,
    EXT_SHUTDOWN,
    EXT_APPROVALS,
    EXT_ANSWER,
    EXT_LOGIN,
];

/// `unlock@apisec` flag: send `progress@apisec` frames before the final reply.
pub const UNLOCK_WANT_PROGRESS: u32 = 1;

/// `status@apisec` flag: append each entry's notes (what weakens its policy) to the reply. A
/// request without flags gets the reply of 0.1.0, which an older client decodes.
pub const STATUS_WANT_NOTES: u32 = 1;

/// `status@apisec` flag: also append each entry's recipients (after the notes, which come with
/// it), so that a client can warn about an entry without a backup.
pub const STATUS_WANT_RECIPIENTS: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusRequest {
    pub flags: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockRequest {
    pub flags: u32,
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    /// Empty: forget every unsealed secret.
    pub names: Vec<String>,
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct SignRequest {
    pub name: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    /// Empty: the agent stamps its own clock.
    pub timestamp: String,
    /// Empty: the agent makes the nonce.
    pub nonce: String,
    /// The host the request goes to, for an exchange that signs it (HTX); empty: the preset's
    /// default host. A trailing field: sent only when set, so an older agent, which reads none,
    /// still takes every request that names no host.
    pub host: String,
}

impl std::fmt::Debug for SignRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignRequest")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("host", &self.host)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// `login@apisec`: one WebSocket login of secret `name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginRequest {
    pub name: String,
    /// Empty: the preset's default kind.
    pub kind: String,
    /// The server's challenge, for an exchange whose login signs one (Kraken Futures).
    pub challenge: String,
    /// Empty: the kind's default host (for a login that signs its host: HTX).
    pub host: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct MacRequest {
    pub name: String,
    /// `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub algorithm: String,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for MacRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacRequest")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// `answer@apisec`: approve (or deny) the waiting approval `id` (from `approvals@apisec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerRequest {
    pub id: u32,
    pub approve: bool,
}

/// The agent's own operations, decoded from an extension message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApisecRequest {
    Query,
    Unlock(UnlockRequest),
    Lock(LockRequest),
    Status(StatusRequest),
    Sign(SignRequest),
    Mac(MacRequest),
    Login(LoginRequest),
    Reload,
    Shutdown,
    Approvals,
    Answer(AnswerRequest),
}

impl ApisecRequest {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Query => EXT_QUERY,
            Self::Unlock(_) => EXT_UNLOCK,
            Self::Lock(_) => EXT_LOCK,
            Self::Status(_) => EXT_STATUS,
            Self::Sign(_) => EXT_SIGN,
            Self::Mac(_) => EXT_MAC,
            Self::Login(_) => EXT_LOGIN,
            Self::Reload => EXT_RELOAD,
            Self::Shutdown => EXT_SHUTDOWN,
            Self::Approvals => EXT_APPROVALS,
            Self::Answer(_) => EXT_ANSWER,
        }
    }

    /// The extension-specific details (what follows the name).
    pub fn encode_details(&self) -> Vec<u8> {
        let mut o = Out::default();
        match self {
            Self::Query | Self::Reload | Self::Shutdown | Self::Approvals => {}
            Self::Answer(r) => {
                o.u32(r.id).bool(r.approve);
            }
            // No flags, no details: what every agent since 0.1.0 reads.
            Self::Status(r) if r.flags == 0 => {}
            Self::Status(r) => {
                o.u32(r.flags);
            }
            Self::Unlock(r) => {
                o.u32(r.flags).text_list(&r.names);
            }
            Self::Lock(r) => {
                o.text_list(&r.names);
            }
            Self::Sign(r) => {
                o.text(&r.name)
                    .text(&r.method)
                    .text(&r.path)
                    .text(&r.query)
                    .bytes(&r.body)
                    .text(&r.timestamp)
                    .text(&r.nonce);
                if !r.host.is_empty() {
                    o.text(&r.host);
                }
            }
            Self::Mac(r) => {
                o.text(&r.name).text(&r.algorithm).bytes(&r.data);
            }
            Self::Login(r) => {
                o.text(&r.name)
                    .text(&r.kind)
                    .text(&r.challenge)
                    .text(&r.host);
            }
        }
        o.buf
    }

    /// The whole frame, ready to write.
    pub fn to_frame(&self) -> Vec<u8> {
        let mut o = Out::default();
        o.text(self.name());
        o.buf.extend_from_slice(&self.encode_details());
        frame::encode(msg::EXTENSION, &o.buf)
    }

    /// Decodes an extension's details. `Ok(None)`: not one of ours (the caller answers FAILURE).
    pub fn decode(name: &str, details: &[u8]) -> Result<Option<Self>, WireError> {
        let mut c = Cursor::new(details);
        let req = match name {
            EXT_QUERY => Self::Query,
            EXT_STATUS => Self::Status(StatusRequest {
                flags: if details.is_empty() {
                    0
                } else {
                    c.u32("status flags")?
                },
            }),
            EXT_RELOAD => Self::Reload,
            EXT_SHUTDOWN => Self::Shutdown,
            EXT_APPROVALS => Self::Approvals,
            EXT_ANSWER => Self::Answer(AnswerRequest {
                id: c.u32("answer id")?,
                approve: c.bool("answer approve")?,
            }),
            EXT_UNLOCK => Self::Unlock(UnlockRequest {
                flags: c.u32("unlock flags")?,
                names: owned(c.text_list("unlock names")?),
            }),
            EXT_LOCK => Self::Lock(LockRequest {
                names: owned(c.text_list("lock names")?),
            }),
            EXT_SIGN => Self::Sign(SignRequest {
                name: c.text("sign name")?.to_owned(),
                method: c.text("sign method")?.to_owned(),
                path: c.text("sign path")?.to_owned(),
                query: c.text("sign query")?.to_owned(),
                body: c.bytes("sign body")?.to_vec(),
                timestamp: c.text("sign timestamp")?.to_owned(),
                nonce: c.text("sign nonce")?.to_owned(),
                host: if c.is_empty() {
                    String::new()
                } else {
                    c.text("sign host")?.to_owned()
                },
            }),
            EXT_LOGIN => Self::Login(LoginRequest {
                name: c.text("login name")?.to_owned(),
                kind: c.text("login kind")?.to_owned(),
                challenge: c.text("login challenge")?.to_owned(),
                host: c.text("login host")?.to_owned(),
            }),
            EXT_MAC => Self::Mac(MacRequest {
                name: c.text("mac name")?.to_owned(),
                algorithm: c.text("mac algorithm")?.to_owned(),
                data: c.bytes("mac data")?.to_vec(),
            }),
            _ => return Ok(None),
        };
        c.finish(name_static(name))?;
        Ok(Some(req))
    }
}

fn owned(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(str::to_owned).collect()
}

fn name_static(name: &str) -> &'static str {
    EXTENSIONS
        .iter()
        .find(|n| **n == name)
        .copied()
        .unwrap_or("extension")
}
