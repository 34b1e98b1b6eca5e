//! Refusals: `SSH_AGENT_EXTENSION_FAILURE` (28): `string code || string message`, the code one
//! the CLI maps to an exit status and a remedy.

use super::frame;
use super::msg;
use super::wire::{Cursor, Out};

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
