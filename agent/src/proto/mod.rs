//! The wire protocol, for both sides: the SSH agent protocol (draft-miller-ssh-agent) with the
//! agent's own operations as extension messages named `NAME@apisec`. No I/O beyond the blocking
//! frame helpers the client uses; the server has its own async reader. [`request`] decodes a
//! frame into what the server answers and says who may send it. Specified byte for byte in
//! `docs/protocol.md`.

pub mod frame;
pub mod messages;
pub mod request;
pub mod wire;

pub use frame::{FrameError, MAX_FRAME};
pub use messages::*;
pub use request::{decode, Access, Decoded};
pub use wire::WireError;

/// Message numbers from draft-miller-ssh-agent section 6.1 that the agent uses.
pub mod msg {
    pub const FAILURE: u8 = 5;
    pub const SUCCESS: u8 = 6;
    pub const REQUEST_IDENTITIES: u8 = 11;
    pub const IDENTITIES_ANSWER: u8 = 12;
    pub const REMOVE_ALL_IDENTITIES: u8 = 19;
    pub const LOCK: u8 = 22;
    pub const UNLOCK: u8 = 23;
    pub const EXTENSION: u8 = 27;
    pub const EXTENSION_FAILURE: u8 = 28;
    pub const EXTENSION_RESPONSE: u8 = 29;
}
