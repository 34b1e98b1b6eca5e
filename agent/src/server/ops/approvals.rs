//! `approvals@apisec` and `answer@apisec`: an admin lists what waits for a human and answers it
//! (`[approval] over_socket`). Owner-only messages (`proto::Access`); each answer is audited with
//! the admin's uid.

use crate::audit::{Action, Event};
use crate::peer::PeerInfo;
use crate::proto::{self, AnswerRequest, ErrorCode, ErrorReply};

use super::super::state::Agent;

pub fn list(agent: &Agent) -> Result<Vec<u8>, ErrorReply> {
    if agent.settings().over_socket.is_none() {
        return Err(not_enabled());
    }
    Ok(proto::encode_approvals(&agent.waiting_approvals().list()))
}

pub fn answer(agent: &Agent, r: &AnswerRequest, peer: &PeerInfo) -> Result<Vec<u8>, ErrorReply> {
    if agent.settings().over_socket.is_none() {
        return Err(not_enabled());
    }
    let word = if r.approve { "approved" } else { "denied" };
    let waiting = agent.waiting_approvals();
    let line = waiting
        .list()
        .into_iter()
        .find(|a| a.id == r.id)
        .map(|a| a.line);
    if !waiting.answer(r.id, r.approve, peer.uid) {
        return Err(ErrorReply::new(
            ErrorCode::NotFound,
            format!(
                "no approval {} waits (answered already, given up by its client, or timed out); \
                 `apisec approvals` lists what waits",
                r.id
            ),
        ));
    }
    let note = format!("approval {} {word}: {}", r.id, line.unwrap_or_default());
    crate::info!("{note} by {}", peer.describe());
    let event = Event::agent(Action::Answer);
    let event = if r.approve {
        event.allowed(Some(&note))
    } else {
        event.denied(&note)
    };
    agent.audit(&event, Some(peer));
    Ok(Vec::new())
}

fn not_enabled() -> ErrorReply {
    ErrorReply::new(
        ErrorCode::Refused,
        "this agent takes no approvals over the socket: set [approval] over_socket = true in its \
         config (docs/operations.md, \"The separated deployment\")",
    )
}
