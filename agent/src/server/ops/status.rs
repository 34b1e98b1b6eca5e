//! `status@apisec`: the store entries the asking uid may use, whether each is unsealed and until
//! when, and the agent's own version, pid and lock. Clear metadata only: no touch, no secret.
//! The agent's uid and `admin_uids` see every entry; another uid only those whose policy admits
//! it (no `[clients] uids`, or its uid among them).

use crate::peer::PeerInfo;
use crate::proto;

use super::super::state::Agent;

pub fn status(agent: &Agent, peer: &PeerInfo) -> proto::StatusReply {
    let store = agent.store();
    let names = store.names().unwrap_or_default();
    let owner = agent.is_owner(peer.uid);
    let mut entries = Vec::new();
    for name in names {
        let held = agent.held(&name);
        let loaded = store.load(&name);
        let visible = match &loaded {
            Ok(f) => !agent.hidden_from(&f.policy, peer.uid),
            Err(_) => owner,
        };
        if !visible {
            continue;
        }
        let entry = match loaded {
            Ok(f) => proto::StatusEntry {
                recipients: backed_by(&f),
                notes: f.weakened().join("\n"),
                name: name.clone(),
                exchange: f.exchange,
                api_key: f.api_key,
                unsealed: held.is_some(),
                expires: f.expires.unwrap_or_default(),
                forget_at: held.as_ref().and_then(|h| h.forget_at).unwrap_or(0),
                problem: String::new(),
            },
            Err(e) => proto::StatusEntry {
                name: name.clone(),
                exchange: String::new(),
                api_key: String::new(),
                unsealed: held.is_some(),
                expires: String::new(),
                forget_at: 0,
                problem: e.to_string(),
                notes: String::new(),
                recipients: Vec::new(),
            },
        };
        entries.push(entry);
    }
    proto::StatusReply {
        version: crate::VERSION.to_owned(),
        pid: std::process::id(),
        agent_locked: agent.is_locked(),
        entries,
    }
}

/// The tokens and keys an entry can be used with, for the status's "no backup" note: the
/// recipients its block is sealed to, but for a secret held on the token (`--in-token`) the
/// primary token and the backup tokens holding a copy of its key, since only they can MAC.
fn backed_by(f: &crate::store::EntryFile) -> Vec<String> {
    if f.key_type.get() != Some(crate::keys::KeyType::TokenHmac) {
        return f.recipients.clone();
    }
    f.recipients
        .iter()
        .take(1)
        .chain(f.token_copies.iter())
        .cloned()
        .collect()
}
