//! The wire protocol, for both sides: the SSH agent protocol (draft-miller-ssh-agent) with the
//! agent's own operations as extension messages named `NAME@apisec`. No I/O beyond the blocking
//! frame helpers the client uses; the server has its own async reader. [`decode`] turns a frame
//! into what the server answers and says who may send it; [`extension`], [`reply`] and
//! [`error`] are the agent's own messages, one type each. Specified byte for byte in
//! `docs/protocol.md`.

#[cfg(feature = "daemon")]
pub mod decode;
pub mod error;
pub mod extension;
pub mod frame;
pub mod reply;
pub mod wire;

#[cfg(feature = "daemon")]
pub use decode::{decode, Access, Decoded};
pub use error::*;
pub use extension::*;
pub use frame::{FrameError, MAX_FRAME};
pub use reply::*;
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

#[cfg(test)]
mod tests;
