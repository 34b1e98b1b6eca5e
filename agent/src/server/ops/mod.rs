//! The agent's operations, one file each, named for the message they answer. Each takes the
//! agent's [state](super::state) and the client's request and returns the reply or an
//! [`ErrorReply`](crate::proto::ErrorReply); none touches the socket (the session does).

pub mod approvals;
pub mod lock;
pub mod login;
pub mod mac;
pub mod owner_only;
pub mod reload;
pub mod sign;
pub mod status;
pub mod unlock;
mod unlock_flight;
mod unseal;
