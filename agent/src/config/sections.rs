//! The `[approval]`, `[agent]` and `[alert]` sections of the config file, as written on disk.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSection {
    /// A program asked to approve each unseal (exit 0 approves), like `SSH_ASKPASS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<PathBuf>,
    /// How long the approver may take, e.g. `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// A program run (not waited for) whenever an unseal or a step-up waits for a human (an
    /// approver program, or a YubiKey touch), with the waiting client's line ("waiting for
    /// approval: ...", "touch your YubiKey ...") as its argument and the request's environment,
    /// e.g. to show a desktop notification or send a chat message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<PathBuf>,
    /// Whether admins (`[agent] admin_uids`, and the agent's own uid) may answer approvals over
    /// the socket (`apisec approvals`, `apisec approve ID`, `apisec deny ID`), beside the approver
    /// program or the touch: for the separated deployment, where the human is not the agent's
    /// user. Waits at most `timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_socket: Option<bool>,
    /// The most approver programs running at once (default 4); more requests wait their turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_running: Option<usize>,
    /// The most requests of one uid waiting for an approval at once (default 8): more are
    /// refused, so that one bot cannot bury the owner in prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_waiting_per_uid: Option<usize>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// Forget unsealed secrets this long after unsealing, e.g. `8h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<String>,
    /// Uids allowed to connect besides the agent's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_uids: Vec<u32>,
    /// Uids that may also send the owner's messages (lock, forget, reload, shut down, answer
    /// approvals); they may connect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_uids: Vec<u32>,
    /// The group the socket is shared with (the separated deployment): the socket's directory
    /// becomes 0750 and the socket 0660, both of that group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_group: Option<String>,
    /// Whether any admitted client may ask for an unseal (`apisec unlock`); `false` reserves it
    /// to the agent's uid and `admin_uids`. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients_may_unlock: Option<bool>,
    /// The most connections one uid may hold at once (default 128), so that one client holding
    /// connections cannot lock the others out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections_per_uid: Option<usize>,
    /// Where the agent keeps its state (nonce marks, and the audit log unless `[audit] path`);
    /// default `$XDG_STATE_HOME/apisec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
}

impl ApprovalSection {
    pub(super) fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl AgentSection {
    pub(super) fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `[alert]`: telling the owner about unusual activity as it happens (docs/operations.md).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AlertSection {
    /// A program run (not waited for) on a refused transfer or admin request, a refused
    /// owner-only operation, a burst of refusals or of rate-limit hits, and a client uid never
    /// seen before: a short line as its argument, the whole alert on its standard input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<PathBuf>,
}

impl AlertSection {
    pub(super) fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
