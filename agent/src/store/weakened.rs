//! What weakens an entry's guarantee by the owner's choice: the settings under which a
//! signature can be good for a request the policy did not judge (docs/threat-model.md). `add`,
//! `list` and `status` print these lines; this is their one source.

use super::spelled::Spelled;
use crate::policy::Policy;
use crate::sign::Freshness;

/// One line per weakening setting, empty for an entry with none.
pub fn notes(
    allow_raw: bool,
    freshness: &Spelled<Freshness>,
    policy: &Policy,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    if allow_raw {
        out.push(
            "allow_raw = true: `apisec mac` signs any bytes the client sends, which may be \
             any request; the policy does not judge them",
        );
    }
    if freshness.get() == Some(Freshness::Off) {
        out.push(
            "freshness = \"off\": the client picks the timestamp and nonce, so a signature \
             taken now can be used later, after a lock or revocation",
        );
    }
    if policy.allow_login {
        out.push(
            "allow_login = true: logins may be signed (WebSocket tokens, and every Deribit \
             signature), and a session opened with one makes requests the agent never sees",
        );
    }
    if !policy.default_deny {
        out.push(
            "default_deny = false: transfer, admin and unknown endpoints are signed unless a \
             rule refuses them",
        );
    }
    out
}

impl super::EntryMeta {
    pub fn weakened(&self) -> Vec<&'static str> {
        notes(self.allow_raw, &self.freshness, &self.policy)
    }
}

impl super::EntryFile {
    pub fn weakened(&self) -> Vec<&'static str> {
        notes(self.allow_raw, &self.freshness, &self.policy)
    }
}
