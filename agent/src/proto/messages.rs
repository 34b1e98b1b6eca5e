//! One type per extension message, request and reply, each with `encode` and `decode`.
//! Requests travel as `SSH_AGENTC_EXTENSION` (27): `string name || details`; successful replies
//! as `SSH_AGENT_EXTENSION_RESPONSE` (29): `string name || details`; refusals as
//! `SSH_AGENT_EXTENSION_FAILURE` (28): `string code || string message`.

use super::frame;
use super::msg;
use super::wire::{Cursor, Out, WireError};

pub const EXT_UNLOCK: &str = "unlock@apisec";
pub const EXT_LOCK: &str = "lock@apisec";
pub const EXT_STATUS: &str = "status@apisec";
pub const EXT_SIGN: &str = "sign@apisec";
pub const EXT_MAC: &str = "mac@apisec";
pub const EXT_RELOAD: &str = "reload@apisec";
pub const EXT_SHUTDOWN: &str = "shutdown@apisec";
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
];

/// `unlock@apisec` flag: send `progress@apisec` frames before the final reply.
pub const UNLOCK_WANT_PROGRESS: u32 = 1;

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

#[derive(Clone, PartialEq, Eq)]
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
}

impl std::fmt::Debug for SignRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignRequest")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("body_len", &self.body.len())
            .finish()
    }
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

/// The agent's own operations, decoded from an extension message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApisecRequest {
    Query,
    Unlock(UnlockRequest),
    Lock(LockRequest),
    Status,
    Sign(SignRequest),
    Mac(MacRequest),
    Reload,
    Shutdown,
}

impl ApisecRequest {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Query => EXT_QUERY,
            Self::Unlock(_) => EXT_UNLOCK,
            Self::Lock(_) => EXT_LOCK,
            Self::Status => EXT_STATUS,
            Self::Sign(_) => EXT_SIGN,
            Self::Mac(_) => EXT_MAC,
            Self::Reload => EXT_RELOAD,
            Self::Shutdown => EXT_SHUTDOWN,
        }
    }

    /// The extension-specific details (what follows the name).
    pub fn encode_details(&self) -> Vec<u8> {
        let mut o = Out::default();
        match self {
            Self::Query | Self::Status | Self::Reload | Self::Shutdown => {}
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
            }
            Self::Mac(r) => {
                o.text(&r.name).text(&r.algorithm).bytes(&r.data);
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
            EXT_STATUS => Self::Status,
            EXT_RELOAD => Self::Reload,
            EXT_SHUTDOWN => Self::Shutdown,
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

/// Machine-readable reasons for a refusal; the CLI maps them to exit codes and remedies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request was malformed.
    BadRequest,
    /// No store entry of that name.
    NotFound,
    /// The secret is sealed: `apisec unlock NAME` first.
    Sealed,
    /// The approver (or the touch) said no.
    Denied,
    /// Nobody approved in time.
    Timeout,
    /// Policy refused the request (raw MAC off, stale timestamp, expired secret, ...).
    Refused,
    /// The store entry is damaged or was tampered with.
    BadEntry,
    /// The token failed (module missing, wrong PIN, token gone).
    Token,
    /// The agent was locked with `ssh-add -x`.
    AgentLocked,
    /// The signing preset rejected the request.
    Sign,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::NotFound => "not-found",
            Self::Sealed => "sealed",
            Self::Denied => "denied",
            Self::Timeout => "timeout",
            Self::Refused => "refused",
            Self::BadEntry => "bad-entry",
            Self::Token => "token",
            Self::AgentLocked => "agent-locked",
            Self::Sign => "sign",
            Self::Internal => "internal",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "bad-request" => Self::BadRequest,
            "not-found" => Self::NotFound,
            "sealed" => Self::Sealed,
            "denied" => Self::Denied,
            "timeout" => Self::Timeout,
            "refused" => Self::Refused,
            "bad-entry" => Self::BadEntry,
            "token" => Self::Token,
            "agent-locked" => Self::AgentLocked,
            "sign" => Self::Sign,
            _ => Self::Internal,
        }
    }
}

/// A refusal: `SSH_AGENT_EXTENSION_FAILURE || string code || string message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ErrorReply {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorReply {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn to_frame(&self) -> Vec<u8> {
        let mut o = Out::default();
        o.text(self.code.as_str()).text(&self.message);
        frame::encode(msg::EXTENSION_FAILURE, &o.buf)
    }

    /// Decodes the body of a type-28 message. An empty body (a plain agent) still yields an error.
    pub fn decode(body: &[u8]) -> Self {
        let mut c = Cursor::new(body);
        match (c.text("code"), c.text("message")) {
            (Ok(code), Ok(message)) => Self::new(ErrorCode::parse(code), message),
            _ => Self::new(ErrorCode::Internal, "the agent refused the request"),
        }
    }
}

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
    pub fn encode(&self) -> Vec<u8> {
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
        o.buf
    }
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
            });
        }
        c.finish("status reply")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte-exact fixture, the same bytes as the example in docs/protocol.md.
    #[test]
    fn unlock_request_frame_is_pinned() {
        let req = ApisecRequest::Unlock(UnlockRequest {
            flags: UNLOCK_WANT_PROGRESS,
            names: vec!["bg".into()],
        });
        let expected = hex::decode(concat!(
            "00000020", // length 32
            "1b",       // SSH_AGENTC_EXTENSION
            "0000000d",
            "756e6c6f636b40617069736563", // "unlock@apisec"
            "00000001",                   // flags: want progress
            "00000001",
            "00000002",
            "6267", // ["bg"]
        ))
        .unwrap();
        assert_eq!(req.to_frame(), expected);
    }

    #[test]
    fn every_request_round_trips() {
        let all = [
            ApisecRequest::Query,
            ApisecRequest::Status,
            ApisecRequest::Reload,
            ApisecRequest::Shutdown,
            ApisecRequest::Unlock(UnlockRequest {
                flags: 0,
                names: vec!["a".into(), "b".into()],
            }),
            ApisecRequest::Lock(LockRequest { names: vec![] }),
            ApisecRequest::Sign(SignRequest {
                name: "n".into(),
                method: "POST".into(),
                path: "/p".into(),
                query: "a=1".into(),
                body: b"{}".to_vec(),
                timestamp: "1".into(),
                nonce: String::new(),
            }),
            ApisecRequest::Mac(MacRequest {
                name: "n".into(),
                algorithm: "hmac-sha256".into(),
                data: vec![0, 1, 2],
            }),
        ];
        for req in all {
            let details = req.encode_details();
            assert_eq!(
                ApisecRequest::decode(req.name(), &details).unwrap(),
                Some(req)
            );
        }
    }

    #[test]
    fn unknown_extension_is_none_and_trailing_bytes_are_errors() {
        assert_eq!(
            ApisecRequest::decode("nope@example.com", b"").unwrap(),
            None
        );
        let err = ApisecRequest::decode(EXT_STATUS, b"x").unwrap_err();
        assert_eq!(err.what, "status@apisec");
    }

    #[test]
    fn replies_round_trip() {
        let s = StatusReply {
            version: "0.1.0".into(),
            pid: 42,
            agent_locked: false,
            entries: vec![StatusEntry {
                name: "a".into(),
                exchange: "bitget".into(),
                api_key: "k".into(),
                unsealed: true,
                expires: "2027-01-01".into(),
                forget_at: 9,
                problem: String::new(),
            }],
        };
        assert_eq!(StatusReply::decode(&s.encode()).unwrap(), s);
        let r = SignReply {
            headers: vec![("A".into(), "b".into())],
            query_additions: vec![],
            query: "x=1".into(),
            body: Some(b"nonce=1".to_vec()),
        };
        assert_eq!(SignReply::decode(&r.encode()).unwrap(), r);
        // The one-buffer frame is the framed `string name || details`.
        let mut payload = (EXT_SIGN.len() as u32).to_be_bytes().to_vec();
        payload.extend_from_slice(EXT_SIGN.as_bytes());
        payload.extend_from_slice(&r.encode());
        let framed = frame::encode(msg::EXTENSION_RESPONSE, &payload);
        assert_eq!(r.to_frame(), framed);
        assert_eq!(extension_response_frame(EXT_SIGN, &r.encode()), framed);
        let e = ErrorReply::new(ErrorCode::Sealed, "sealed");
        let f = e.to_frame();
        assert_eq!(f[4], msg::EXTENSION_FAILURE);
        assert_eq!(ErrorReply::decode(&f[5..]), e);
    }
}
