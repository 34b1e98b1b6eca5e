//! Forgetting and locking: `lock@apisec` (named or all unsealed secrets), `ssh-add -D` (all),
//! and the ssh-agent lock `ssh-add -x` / `-X`, which also refuses unseal and signing until the
//! passphrase comes back.

use std::time::Duration;

use crate::audit::{Action, Event};
use crate::peer::PeerInfo;

use super::super::state::Agent;

/// How long a wrong `ssh-add -X` passphrase waits for its answer, as ssh-agent does: it slows
/// down guessing.
const WRONG_PASSPHRASE_DELAY: Duration = Duration::from_millis(500);

/// `lock@apisec`: forgets the named secrets (all when `names` is empty); returns how many.
pub fn lock(agent: &Agent, names: &[String], peer: &PeerInfo) -> u32 {
    let n = agent.forget(names);
    crate::info!("lock from {}: forgot {n} secret(s)", peer.describe());
    let note = format!("forgot {n} secret(s)");
    agent.audit(
        &Event::agent(Action::Lock).allowed(None).noting(&note),
        Some(peer),
    );
    n
}

/// `ssh-add -D`: forgets every unsealed secret.
pub fn remove_all(agent: &Agent, peer: &PeerInfo) {
    let n = agent.forget(&[]);
    crate::info!("ssh-add -D from {}: forgot {n} secret(s)", peer.describe());
    let note = format!("forgot {n} secret(s)");
    agent.audit(
        &Event::agent(Action::RemoveAll).allowed(None).noting(&note),
        Some(peer),
    );
}

/// `ssh-add -x`: true when the agent was not locked and now is.
pub fn agent_lock(agent: &Agent, passphrase: &[u8], peer: &PeerInfo) -> bool {
    let ok = agent.lock_agent(passphrase);
    agent.audit(&outcome(Action::AgentLock, ok), Some(peer));
    crate::info!(
        "agent lock from {}: {}",
        peer.describe(),
        if ok { "locked" } else { "already locked" }
    );
    ok
}

/// `ssh-add -X`: true when the passphrase matched. The caller answers a wrong one only after
/// [`slow_down_guessing`], with the passphrase already wiped.
pub fn agent_unlock(agent: &Agent, passphrase: &[u8], peer: &PeerInfo) -> bool {
    let ok = agent.unlock_agent(passphrase);
    agent.audit(&outcome(Action::AgentUnlock, ok), Some(peer));
    crate::info!(
        "agent unlock from {}: {}",
        peer.describe(),
        if ok { "unlocked" } else { "refused" }
    );
    ok
}

/// The wait before a wrong `ssh-add -X` passphrase is answered.
pub async fn slow_down_guessing() {
    tokio::time::sleep(WRONG_PASSPHRASE_DELAY).await;
}

fn outcome(action: Action, ok: bool) -> Event<'static> {
    Event {
        allowed: ok,
        ..Event::agent(action)
    }
}
