//! The config file (TOML, written by `apisec-agent init`): read and turned into one validated
//! [`Config`], or written after the same validation. Unknown keys are errors, so a typo is
//! caught, not ignored. The flags of `apisec-agent run` that override it are merged in one
//! place, the binary's `admin/settings/run.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::envelope::Recipient;
use crate::store::atomic;
use crate::token::TokenConfig;

mod sections;
mod token_section;
pub use sections::{AgentSection, AlertSection, ApprovalSection};
pub use token_section::TokenSection;

/// The file as written on disk.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where sealed entries live (default `$XDG_DATA_HOME/apisec/store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<PathBuf>,
    /// The agent's socket (default `$XDG_RUNTIME_DIR/apisec/agent.sock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<PathBuf>,
    /// More recipients every entry is sealed to: a backup token kept in a safe
    /// (`age1yubikey1...`), or an offline age X25519 key (`age1...`, recovery with stock rage).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backup_recipients: Vec<String>,
    pub token: TokenSection,
    /// More tokens, each with its own PIN source: entries are sealed to every one, and the agent
    /// unseals with the first that is present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backup_tokens: Vec<TokenSection>,
    #[serde(default, skip_serializing_if = "ApprovalSection::is_empty")]
    pub approval: ApprovalSection,
    #[serde(default, skip_serializing_if = "AgentSection::is_empty")]
    pub agent: AgentSection,
    #[serde(default, skip_serializing_if = "AuditSection::is_empty")]
    pub audit: AuditSection,
    #[serde(default, skip_serializing_if = "AlertSection::is_empty")]
    pub alert: AlertSection,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// The audit log (default `$XDG_STATE_HOME/apisec/audit.jsonl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `"refuse"` (the default): while the log cannot be written, signing is refused; `"warn"`:
    /// signing goes on and the decisions wait in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    /// Also send every line to the systemd journal (`audit verify --journal` checks the file
    /// against those copies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<bool>,
    /// The journal's native socket (default `/run/systemd/journal/socket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_socket: Option<PathBuf>,
}

impl AuditSection {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no config at {0}; create one with `apisec-agent init` (or point --config / APISEC_CONFIG at it)")]
    Missing(PathBuf),
    #[error("cannot read the config {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot create {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Everything the agent needs, checked.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub store_dir: PathBuf,
    pub socket: PathBuf,
    /// The primary token's recipient first, then the backup tokens'.
    pub recipients: Vec<Recipient>,
    /// Offline age X25519 recipients (`backup_recipients = ["age1..."]`): recovery keys the agent
    /// never uses.
    pub offline_recipients: Vec<age::x25519::Recipient>,
    /// More tokens the agent may unseal with (`[[backup_tokens]]`), each with its recipient, in
    /// the config's order: at unseal the first one present is used (docs/operations.md).
    pub backup_tokens: Vec<(TokenConfig, Recipient)>,
    pub token: TokenConfig,
    pub approver: Option<PathBuf>,
    pub approval_timeout: Duration,
    /// Run with the notice as argv[1] while a request waits (see [`ApprovalSection::notify`]).
    pub notify: Option<PathBuf>,
    pub lifetime: Option<Duration>,
    pub allowed_uids: Vec<u32>,
    pub admin_uids: Vec<u32>,
    /// The socket's group: its gid and name, resolved when the config is read.
    pub socket_group: Option<(u32, String)>,
    pub clients_may_unlock: bool,
    /// `[approval] over_socket`.
    pub approvals_over_socket: bool,
    /// `[agent] max_connections_per_uid`.
    pub max_connections_per_uid: usize,
    /// `[approval] max_running`.
    pub approvers_at_once: usize,
    /// `[approval] max_waiting_per_uid`.
    pub approvals_per_uid: usize,
    /// `[alert] program`.
    pub alert: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub audit_path: PathBuf,
    /// `[audit] on_failure = "refuse"` (the default).
    pub audit_refuses: bool,
    /// The journal socket every audit line is also sent to (`[audit] journal = true`).
    pub audit_journal: Option<PathBuf>,
}

pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(60);

/// `[agent] max_connections_per_uid` when the config does not say.
pub const DEFAULT_CONNECTIONS_PER_UID: usize = 128;
/// `[approval] max_running` when the config does not say.
pub const DEFAULT_APPROVERS_AT_ONCE: usize = 4;
/// `[approval] max_waiting_per_uid` when the config does not say.
pub const DEFAULT_APPROVALS_PER_UID: usize = 8;

/// A count from the config that must be at least one.
fn at_least_one(value: Option<usize>, key: &str, default: usize) -> Result<usize, String> {
    match value {
        Some(0) => Err(format!("{key} must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

/// Parses a duration such as `90s`, `15m`, `8h`, `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration such as 90s, 15m or 8h ({e})"))
        .and_then(|d| {
            if d.is_zero() {
                Err(format!("{s:?}: a duration must be more than zero"))
            } else {
                Ok(d)
            }
        })
}

impl Config {
    /// Everything a new entry is sealed to: the tokens' keys, then the offline ones.
    pub fn seal_to(&self) -> Vec<crate::envelope::SealTo> {
        use crate::envelope::SealTo;
        let tokens = self.recipients.iter().cloned().map(SealTo::Token);
        let offline = self.offline_recipients.iter().cloned().map(SealTo::Offline);
        tokens.chain(offline).collect()
    }

    /// How many recipients besides the primary token's open an entry sealed now.
    pub fn backups(&self) -> usize {
        self.recipients.len() - 1 + self.offline_recipients.len()
    }
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing(path.to_owned()))
            }
            Err(source) => {
                return Err(ConfigError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses the text; errors name the line and column.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: ")
                })
                .unwrap_or_default();
            format!("{at}{}", e.message())
        })
    }

    pub fn to_toml(&self) -> String {
        format!(
            "# apisec-agent configuration (see docs/formats.md).\n{}",
            toml::to_string(self).expect("config always serializes")
        )
    }

    /// Writes the config atomically to `path`, after validating it, so that `init` never leaves
    /// a config the agent rejects.
    pub fn write(&self, path: &Path) -> Result<(), ConfigError> {
        self.clone().validate(path)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ConfigError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        atomic::write(path, self.to_toml().as_bytes(), atomic::Mode::Replace).map_err(|source| {
            ConfigError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// Validates into a [`Config`].
    pub fn validate(self, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut recipients = vec![self
            .token
            .recipient
            .parse::<Recipient>()
            .map_err(|e| invalid(format!("token.recipient: {e}")))?];
        let mut offline_recipients = Vec::new();
        for r in &self.backup_recipients {
            match r
                .parse::<crate::envelope::SealTo>()
                .map_err(|e| invalid(format!("backup_recipients: {e}")))?
            {
                crate::envelope::SealTo::Token(t) => recipients.push(t),
                crate::envelope::SealTo::Offline(o) => offline_recipients.push(o),
            }
        }
        let token = self.token.to_config("token").map_err(&invalid)?;
        piv_needs_p256(&token, &recipients[0], "token").map_err(&invalid)?;
        let mut backup_tokens = Vec::new();
        for (i, t) in self.backup_tokens.iter().enumerate() {
            let key = format!("backup_tokens[{i}]");
            let recipient = t
                .recipient
                .parse::<Recipient>()
                .map_err(|e| invalid(format!("{key}.recipient: {e}")))?;
            let config = t.to_config(&key).map_err(&invalid)?;
            piv_needs_p256(&config, &recipient, &key).map_err(&invalid)?;
            recipients.push(recipient.clone());
            backup_tokens.push((config, recipient));
        }
        let approval_timeout = match &self.approval.timeout {
            Some(s) => parse_duration(s).map_err(|e| invalid(format!("approval.timeout: {e}")))?,
            None => DEFAULT_APPROVAL_TIMEOUT,
        };
        let lifetime = match &self.agent.lifetime {
            Some(s) => {
                Some(parse_duration(s).map_err(|e| invalid(format!("agent.lifetime: {e}")))?)
            }
            None => None,
        };
        let socket_group = match &self.agent.socket_group {
            Some(name) => Some((
                crate::accounts::group_id(name).ok_or_else(|| {
                    invalid(format!(
                        "agent.socket_group: no group {name:?} on this host (create it, e.g. \
                         `groupadd --system {name}`, or run `apisec-agent setup-system`)"
                    ))
                })?,
                name.clone(),
            )),
            None => None,
        };
        if let Some(uid) = self
            .agent
            .allowed_uids
            .iter()
            .find(|u| self.agent.admin_uids.contains(u))
        {
            return Err(invalid(format!(
                "agent: uid {uid} is in both allowed_uids and admin_uids: a bot that is also an \
                 admin could answer its own approvals; list each uid once (admins may connect)"
            )));
        }
        let audit_refuses = match self.audit.on_failure.as_deref() {
            None | Some("refuse") => true,
            Some("warn") => false,
            Some(other) => {
                return Err(invalid(format!(
                    "audit.on_failure: {other:?} is neither \"refuse\" nor \"warn\""
                )))
            }
        };
        let state_dir = self
            .agent
            .state_dir
            .clone()
            .unwrap_or_else(crate::paths::default_state_dir);
        Ok(Config {
            path: path.to_owned(),
            store_dir: self.store.unwrap_or_else(crate::paths::default_store),
            socket: self.socket.unwrap_or_else(crate::paths::default_socket),
            recipients,
            offline_recipients,
            token,
            backup_tokens,
            approver: self.approval.approver,
            approval_timeout,
            notify: self.approval.notify,
            lifetime,
            allowed_uids: self.agent.allowed_uids,
            admin_uids: self.agent.admin_uids,
            socket_group,
            clients_may_unlock: self.agent.clients_may_unlock.unwrap_or(true),
            approvals_over_socket: self.approval.over_socket.unwrap_or(false),
            max_connections_per_uid: at_least_one(
                self.agent.max_connections_per_uid,
                "agent.max_connections_per_uid",
                DEFAULT_CONNECTIONS_PER_UID,
            )
            .map_err(invalid)?,
            approvers_at_once: at_least_one(
                self.approval.max_running,
                "approval.max_running",
                DEFAULT_APPROVERS_AT_ONCE,
            )
            .map_err(invalid)?,
            approvals_per_uid: at_least_one(
                self.approval.max_waiting_per_uid,
                "approval.max_waiting_per_uid",
                DEFAULT_APPROVALS_PER_UID,
            )
            .map_err(invalid)?,
            alert: self.alert.program,
            audit_path: self
                .audit
                .path
                .unwrap_or_else(|| state_dir.join("audit.jsonl")),
            state_dir,
            audit_refuses,
            audit_journal: self.audit.journal.unwrap_or(false).then(|| {
                self.audit
                    .journal_socket
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(crate::audit::journal::DEFAULT_SOCKET))
            }),
        })
    }
}

/// A PIV slot holds a P-256 key: an RSA recipient beside `kind = "piv"` is a config that no
/// card can unseal (a hand edit, or a section copied from a PKCS#11 token).
fn piv_needs_p256(token: &TokenConfig, recipient: &Recipient, key: &str) -> Result<(), String> {
    if matches!(token, TokenConfig::Piv { .. }) && recipient.p256().is_none() {
        return Err(format!(
            "{key}.recipient is an RSA recipient, but kind = \"piv\" holds P-256 keys: \
             run `apisec-agent init --yubikey` again, or set the slot's age1yubikey1... recipient"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
