//! A request as the server understands it, decoded from one frame without any I/O, and who may
//! send it ([`Access`]). The server's session loop and the fuzz targets decode with [`decode`].

use ssh_agent_lib::proto::Request;
use ssh_encoding::Decode;

use super::{msg, ApisecRequest, WireError};

/// A decoded request.
#[derive(Debug)]
pub enum Decoded {
    /// `SSH_AGENTC_REQUEST_IDENTITIES`.
    Identities,
    /// `SSH_AGENTC_REMOVE_ALL_IDENTITIES` (`ssh-add -D`).
    RemoveAll,
    /// `SSH_AGENTC_LOCK` with its passphrase (the caller zeroizes it).
    Lock(String),
    /// `SSH_AGENTC_UNLOCK` with its passphrase (the caller zeroizes it).
    Unlock(String),
    /// One of the agent's extensions.
    Apisec(ApisecRequest),
    /// One of the agent's extensions whose details do not parse: `bad-request`.
    Malformed(WireError),
    /// Anything else (unknown type or extension, a payload that is not the standard message):
    /// `SSH_AGENT_FAILURE`.
    Unknown,
}

/// Who may send a request. The server admits a connection by uid first; this says which of the
/// admitted clients may send which message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any admitted client: it reads or uses what its policy allows.
    AnyClient,
    /// Any admitted client unless the agent's settings reserve unsealing to its owner.
    Unseal,
    /// Only the agent's own uid or an admin uid: the message changes the agent for everyone
    /// (forgets, locks, reloads or stops it).
    OwnerOnly,
}

impl Decoded {
    /// The access class of this message.
    pub fn access(&self) -> Access {
        match self {
            Self::RemoveAll | Self::Lock(_) | Self::Unlock(_) => Access::OwnerOnly,
            Self::Apisec(req) => req.access(),
            Self::Identities | Self::Malformed(_) | Self::Unknown => Access::AnyClient,
        }
    }
}

impl ApisecRequest {
    /// The access class of this extension.
    pub fn access(&self) -> Access {
        match self {
            Self::Query | Self::Status(_) | Self::Sign(_) | Self::Mac(_) | Self::Login(_) => {
                Access::AnyClient
            }
            Self::Unlock(_) => Access::Unseal,
            Self::Lock(_) | Self::Reload | Self::Shutdown | Self::Approvals | Self::Answer(_) => {
                Access::OwnerOnly
            }
        }
    }
}

/// Decodes one frame's message (type byte first; never empty, `frame::check_len` sees to that):
/// the message type, then ssh-agent-lib's `Request::decode`, then `ApisecRequest::decode`.
pub fn decode(message: &[u8]) -> Decoded {
    let Some(&message_type) = message.first() else {
        return Decoded::Unknown;
    };
    match message_type {
        msg::REQUEST_IDENTITIES => Decoded::Identities,
        msg::REMOVE_ALL_IDENTITIES => Decoded::RemoveAll,
        msg::LOCK | msg::UNLOCK => match Request::decode(&mut &message[..]) {
            Ok(Request::Lock(pass)) => Decoded::Lock(pass),
            Ok(Request::Unlock(pass)) => Decoded::Unlock(pass),
            _ => Decoded::Unknown,
        },
        msg::EXTENSION => match Request::decode(&mut &message[..]) {
            Ok(Request::Extension(ext)) => {
                match ApisecRequest::decode(&ext.name, ext.details.as_ref()) {
                    Ok(Some(req)) => Decoded::Apisec(req),
                    Ok(None) => Decoded::Unknown,
                    Err(e) => Decoded::Malformed(e),
                }
            }
            _ => Decoded::Unknown,
        },
        _ => Decoded::Unknown,
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
