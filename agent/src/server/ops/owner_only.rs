//! A message the asking uid may not send (`proto::Access`): the owner's messages (lock, forget,
//! reload, shut down) from a uid that is neither the agent's nor an admin uid, and an unseal when
//! `[agent] clients_may_unlock = false`. Refused with the reason, logged and audited; the agent
//! goes on serving everyone else.

use zeroize::Zeroize;

use crate::audit::{Action, Event};
use crate::peer::PeerInfo;
use crate::proto::{frame, msg, Access, ApisecRequest, Decoded, ErrorCode, ErrorReply};

use super::super::state::Agent;

/// The reply to a refused message: `SSH_AGENT_FAILURE` for the SSH messages (their protocol has
/// no room for a reason), a `refused` error naming the rule for the agent's own.
pub fn refuse(decoded: Decoded, agent: &Agent, peer: &PeerInfo) -> Vec<u8> {
    let access = decoded.access();
    let (what, action, ssh) = match decoded {
        Decoded::RemoveAll => ("ssh-add -D (forget every secret)", Action::RemoveAll, true),
        Decoded::Lock(mut pass) => {
            pass.zeroize();
            ("ssh-add -x (lock the agent)", Action::AgentLock, true)
        }
        Decoded::Unlock(mut pass) => {
            pass.zeroize();
            ("ssh-add -X (unlock the agent)", Action::AgentUnlock, true)
        }
        Decoded::Apisec(ApisecRequest::Lock(_)) => ("lock (forget secrets)", Action::Lock, false),
        Decoded::Apisec(ApisecRequest::Reload) => ("reload", Action::Reload, false),
        Decoded::Apisec(ApisecRequest::Shutdown) => ("shutdown", Action::Shutdown, false),
        Decoded::Apisec(ApisecRequest::Unlock(_)) => ("unlock", Action::Unlock, false),
        Decoded::Apisec(ApisecRequest::Approvals) => {
            ("approvals (the approvals waiting)", Action::Answer, false)
        }
        Decoded::Apisec(ApisecRequest::Answer(_)) => {
            ("answer (an approval)", Action::Answer, false)
        }
        // Every other message is open to every admitted client.
        _ => ("this request", Action::Lock, false),
    };
    let owners = agent
        .settings()
        .owners
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let reason = match access {
        Access::Unseal => format!(
            "refused: uid {} may not unlock secrets: this agent's [agent] clients_may_unlock = \
             false reserves unlocking to its owner (uids {owners}); ask the owner to run \
             `apisec unlock`",
            peer.uid
        ),
        _ => format!(
            "refused: uid {} may not send {what}: it changes the agent for every client, so only \
             the agent's owner may (uids {owners}: the agent's own and [agent] admin_uids)",
            peer.uid
        ),
    };
    crate::warn!("{} from {}", reason, peer.describe());
    agent.audit(&Event::agent(action).denied(&reason), Some(peer));
    agent.alerts().owner_only(peer, what, &reason);
    if ssh {
        frame::encode(msg::FAILURE, &[])
    } else {
        ErrorReply::new(ErrorCode::Refused, reason).to_frame()
    }
}
