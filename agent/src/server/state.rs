//! The agent's state, independent of the socket: its settings, the unsealed secrets it holds (in
//! locked memory) and when to forget them, and the ssh-agent style lock. The operations on it
//! live in [`super::ops`], one file each; every refusal they return is an [`ErrorReply`] that is
//! safe to send to the client: names and reasons, never secret bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::approval::{ApprovalRequest, Approver};
use crate::envelope::Recipient;
use crate::expiry::{expiry_state, ExpiryState};
use crate::peer::PeerInfo;
use crate::policy::rate::Limiter;
use crate::proto::{ErrorCode, ErrorReply};
use crate::sign;
use crate::store::{self, Store, Unsealed};
use crate::timefmt::unix_secs;
use crate::token::TokenHandle;

use super::nonces::NonceStore;

/// An unsealed secret and when to forget it.
pub struct Held {
    pub unsealed: Unsealed,
    /// The asymmetric key, for Ed25519 / P-256 API keys (in locked memory or on the token).
    pub signer: Option<Box<dyn sign::AsymmetricSigner + Send + Sync>>,
    /// The HMAC key on the token, for a secret added with `--in-token`.
    pub mac: Option<crate::token::TokenMacKey>,
    /// Unix seconds; `None` = kept until lock.
    pub forget_at: Option<u64>,
    /// SHA-256 of the sealed block it came from, to notice a rotation on reload.
    pub sealed_digest: [u8; 32],
    /// What judging its requests needs, worked out from its sealed policy once.
    pub plan: crate::policy::judge::Plan,
}

/// What `ssh-add -x` stored: a salted hash of the lock passphrase.
struct AgentLock {
    salt: [u8; 16],
    hash: [u8; 32],
}

pub struct AgentSettings {
    pub store: Store,
    /// The primary token's recipient: the stanza this agent unwraps.
    pub recipient: Recipient,
    pub token: TokenHandle,
    /// The backup tokens (`[[backup_tokens]]`), each with its recipient: tried in order when the
    /// primary token is absent.
    pub backup_tokens: Vec<(Recipient, TokenHandle)>,
    pub approver: Approver,
    /// Run with the notice whenever an unseal or a step-up waits for a touch or an approver
    /// (`[approval] notify`).
    pub notify: Option<std::path::PathBuf>,
    pub lifetime: Option<Duration>,
    /// Where the agent keeps state that must survive a restart (nonce marks).
    pub state_dir: std::path::PathBuf,
    /// The audit log; `None` only in tests that do not look at it.
    pub audit: Option<crate::audit::AuditLog>,
    /// The uids that may send the owner's messages: the agent's own and `[agent] admin_uids`.
    pub owners: Vec<u32>,
    /// Whether any admitted client may ask for an unseal (`[agent] clients_may_unlock`).
    pub clients_may_unlock: bool,
    /// Approvals may be answered over the socket by an admin, waiting this long at most
    /// (`[approval] over_socket`).
    pub over_socket: Option<Duration>,
    /// Refuse to sign while the audit log cannot be written (`[audit] on_failure`).
    pub audit_refuses: bool,
    /// The most connections one uid may hold (`[agent] max_connections_per_uid`).
    pub max_connections_per_uid: usize,
    /// The most requests of one uid waiting for an approval (`[approval] max_waiting_per_uid`).
    pub approvals_per_uid: usize,
    /// Run on unusual activity (`[alert] program`).
    pub alert: Option<std::path::PathBuf>,
}

pub struct Agent {
    settings: AgentSettings,
    nonces: NonceStore,
    held: Mutex<HashMap<String, Arc<Held>>>,
    lock: Mutex<Option<AgentLock>>,
    limiter: Mutex<Limiter>,
    approvals: crate::approval::Waiting,
    approved: super::approved::ApprovedPolicies,
    flights: super::flights::Flights,
    /// Requests waiting for an approval, per uid.
    approvals_by_uid: super::per_uid::PerUid,
    alerts: super::alerts::Alerts,
}

impl Agent {
    pub fn new(settings: AgentSettings) -> Self {
        Self {
            nonces: NonceStore::new(settings.state_dir.join("nonces")),
            approved: super::approved::ApprovedPolicies::new(&settings.state_dir),
            held: Mutex::new(HashMap::new()),
            lock: Mutex::new(None),
            approvals: crate::approval::Waiting::default(),
            limiter: Mutex::new(Default::default()),
            flights: Default::default(),
            approvals_by_uid: Default::default(),
            alerts: super::alerts::Alerts::new(settings.alert.clone(), &settings.state_dir),
            settings,
        }
    }

    pub fn settings(&self) -> &AgentSettings {
        &self.settings
    }

    /// Whether a client of `uid` may send a message of this access class.
    pub fn admits(&self, access: crate::proto::Access, uid: u32) -> bool {
        use crate::proto::Access;
        match access {
            Access::AnyClient => true,
            Access::Unseal => self.settings.clients_may_unlock || self.is_owner(uid),
            Access::OwnerOnly => self.is_owner(uid),
        }
    }

    /// Whether asking for `request`'s approval means waiting for a human (then the notify
    /// program runs).
    pub fn approval_waits(&self, request: &crate::approval::ApprovalRequest<'_>) -> bool {
        self.settings.over_socket.is_some() || self.settings.approver.waits(request)
    }

    /// Counts one more request of `uid` waiting for an approval, or refuses it when the uid has
    /// `[approval] max_waiting_per_uid` waiting already. Held for as long as it waits.
    pub fn admit_approval(
        &self,
        uid: u32,
    ) -> Result<super::per_uid::Counted, crate::approval::ApprovalError> {
        let max = self.settings.approvals_per_uid;
        self.approvals_by_uid
            .admit(uid, max)
            .ok_or(crate::approval::ApprovalError::TooMany { uid, max })
    }

    /// Asks for an approval (admitted by [`Agent::admit_approval`]): the approver (or the
    /// touch), and admins over the socket when the config allows it; says how it was approved.
    pub async fn ask_approval(
        &self,
        request: &crate::approval::ApprovalRequest<'_>,
        _admitted: &super::per_uid::Counted,
    ) -> Result<&'static str, crate::approval::ApprovalError> {
        match self.settings.over_socket {
            Some(timeout) => {
                self.approvals
                    .ask(&self.settings.approver, request, timeout)
                    .await
            }
            None => self.settings.approver.ask(request).await,
        }
    }

    /// The unseals in flight, which every unlock of the same secret joins.
    pub fn flights(&self) -> &super::flights::Flights {
        &self.flights
    }

    /// Telling the owner about unusual activity.
    pub fn alerts(&self) -> &super::alerts::Alerts {
        &self.alerts
    }

    /// What the owner last approved for each secret.
    pub fn approved(&self) -> &super::approved::ApprovedPolicies {
        &self.approved
    }

    /// The approvals an admin may answer over the socket.
    pub fn waiting_approvals(&self) -> &crate::approval::Waiting {
        &self.approvals
    }

    /// The agent's own uid, or one of `admin_uids`.
    pub fn is_owner(&self, uid: u32) -> bool {
        self.settings.owners.contains(&uid)
    }

    pub fn store(&self) -> &Store {
        &self.settings.store
    }

    pub fn token(&self) -> &TokenHandle {
        &self.settings.token
    }

    /// Every token the agent may unseal with, primary first: (its recipient, the token).
    pub fn tokens(&self) -> impl Iterator<Item = (&Recipient, &TokenHandle)> {
        std::iter::once((&self.settings.recipient, &self.settings.token))
            .chain(self.settings.backup_tokens.iter().map(|(r, t)| (r, t)))
    }

    /// The agent's nonces, strictly increasing per secret across restarts.
    pub fn nonces(&self) -> &NonceStore {
        &self.nonces
    }

    /// The rate limits' buckets, shared by every connection.
    pub fn limiter(&self) -> &Mutex<Limiter> {
        &self.limiter
    }

    pub fn is_locked(&self) -> bool {
        self.lock.lock().expect("lock poisoned").is_some()
    }

    /// Refuses while `ssh-add -x` holds the agent locked.
    pub fn check_not_locked(&self) -> Result<(), ErrorReply> {
        if self.is_locked() {
            return Err(ErrorReply::new(
                ErrorCode::AgentLocked,
                "the agent is locked (ssh-add -x); unlock it with `ssh-add -X` first",
            ));
        }
        Ok(())
    }

    /// The held secret `name`, unless its lifetime is over (then it is forgotten now).
    pub fn held(&self, name: &str) -> Option<Arc<Held>> {
        let mut map = self.held.lock().expect("held poisoned");
        let h = map.get(name)?.clone();
        if h.forget_at.is_some_and(|t| t <= unix_secs()) {
            map.remove(name);
            return None;
        }
        Some(h)
    }

    /// Every held secret, for a pass over them that may wait (reload).
    pub fn held_now(&self) -> Vec<(String, Arc<Held>)> {
        self.held
            .lock()
            .expect("held poisoned")
            .iter()
            .map(|(n, h)| (n.clone(), Arc::clone(h)))
            .collect()
    }

    /// Holds `held` as `name`, replacing (and so zeroizing) what was held under that name.
    pub fn hold(&self, name: &str, held: Held) {
        self.held
            .lock()
            .expect("held poisoned")
            .insert(name.to_owned(), Arc::new(held));
    }

    /// Forgets the named secrets (all when `names` is empty); returns how many were held.
    pub fn forget(&self, names: &[String]) -> u32 {
        let mut map = self.held.lock().expect("held poisoned");
        let n = if names.is_empty() {
            let n = map.len();
            map.clear();
            n
        } else {
            names.iter().filter(|n| map.remove(*n).is_some()).count()
        };
        // Dropping the last Arc zeroizes and unmaps the locked pages.
        n as u32
    }

    /// Forgets secrets whose lifetime is over; returns their names.
    pub fn forget_expired(&self) -> Vec<String> {
        let now = unix_secs();
        let mut map = self.held.lock().expect("held poisoned");
        let gone: Vec<String> = map
            .iter()
            .filter(|(_, h)| h.forget_at.is_some_and(|t| t <= now))
            .map(|(n, _)| n.clone())
            .collect();
        for n in &gone {
            map.remove(n);
        }
        gone
    }

    /// `ssh-add -x`: forget everything and refuse unseal and signing until `ssh-add -X`.
    /// False when the agent was already locked.
    pub fn lock_agent(&self, passphrase: &[u8]) -> bool {
        let mut lock = self.lock.lock().expect("lock poisoned");
        if lock.is_some() {
            return false;
        }
        let salt: [u8; 16] = rand::random();
        let hash = Sha256::new()
            .chain_update(salt)
            .chain_update(passphrase)
            .finalize()
            .into();
        *lock = Some(AgentLock { salt, hash });
        drop(lock);
        self.forget(&[]);
        true
    }

    /// `ssh-add -X`: true when the passphrase matches.
    pub fn unlock_agent(&self, passphrase: &[u8]) -> bool {
        let mut lock = self.lock.lock().expect("lock poisoned");
        let Some(l) = lock.as_ref() else {
            return false;
        };
        let hash: [u8; 32] = Sha256::new()
            .chain_update(l.salt)
            .chain_update(passphrase)
            .finalize()
            .into();
        if crate::secret::same_bytes(&hash, &l.hash) {
            *lock = None;
            true
        } else {
            false
        }
    }

    /// Runs the notify program (`[approval] notify`), if one is set, for a request that now
    /// waits for a human: once per wait, with `text` (the waiting client's progress line).
    pub fn notify_waiting(&self, text: &str, request: &ApprovalRequest<'_>) {
        if let Some(program) = &self.settings.notify {
            super::notify::notify(program, text, request);
        }
    }

    /// Flushes the audit log (at shutdown).
    pub fn close_audit(&self) {
        if let Some(log) = &self.settings.audit {
            log.close();
        }
    }

    /// With `[audit] on_failure = "refuse"`: an error while the log cannot be written, so that
    /// nothing is signed that the log would not show.
    pub fn check_audit(&self) -> Result<(), ErrorReply> {
        let Some(log) = &self.settings.audit else {
            return Ok(());
        };
        match log.failure() {
            Some(why) if self.settings.audit_refuses => Err(ErrorReply::new(
                ErrorCode::Refused,
                format!(
                    "the audit log cannot be written ({why}); signing is refused until it can \
                     (free space, or fix the log's path; [audit] on_failure = \"warn\" signs \
                     anyway)"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Records a decision in the audit log.
    pub fn audit(&self, event: &crate::audit::Event<'_>, peer: Option<&PeerInfo>) {
        if let Some(log) = &self.settings.audit {
            log.record(event, peer);
        }
    }

    /// Whether an entry with this policy is hidden from `uid`: its `[clients] uids` leave the
    /// uid out, and the uid is not an owner. To such a uid the entry does not exist (status,
    /// sign, mac, unlock all say so alike), so that it learns neither its name nor its state.
    pub fn hidden_from(&self, policy: &crate::policy::Policy, uid: u32) -> bool {
        !self.is_owner(uid)
            && policy
                .clients
                .as_ref()
                .is_some_and(|c| !c.uids.is_empty() && !c.uids.contains(&uid))
    }

    /// The reply for an entry that does not exist, or is hidden from the asking uid.
    pub fn not_found(&self, name: &str) -> ErrorReply {
        store::StoreError::NotFound {
            name: name.to_owned(),
            dir: self.settings.store.dir().to_owned(),
        }
        .into()
    }

    /// The held secret, or an error that says how to get it unsealed. To a uid whose entry's
    /// policy does not admit it, the entry does not exist, held or not, as in `status`.
    pub fn usable(&self, name: &str, uid: u32) -> Result<Arc<Held>, ErrorReply> {
        self.check_not_locked()?;
        self.check_audit()?;
        store::check_name(name)?;
        let Some(held) = self.held(name) else {
            // Say whether it exists at all, so the remedy is right.
            return Err(match self.settings.store.load(name) {
                Ok(f) if self.hidden_from(&f.policy, uid) => self.not_found(name),
                Ok(_) => ErrorReply::new(
                    ErrorCode::Sealed,
                    format!(
                        "secret {name:?} is sealed; unlock it first with `apisec unlock {name}`"
                    ),
                ),
                Err(e) => e.into(),
            });
        };
        if self.hidden_from(&held.unsealed.meta.policy, uid) {
            return Err(self.not_found(name));
        }
        match expiry_state(held.unsealed.meta.expires.as_deref(), unix_secs()) {
            ExpiryState::Expired => Err(ErrorReply::new(
                ErrorCode::Refused,
                format!(
                    "secret {name:?} expired on {}; create a new API key at the exchange, then \
                     `apisec-agent remove {name}` and `apisec-agent add {name} ...` with it",
                    held.unsealed.meta.expires.as_deref().unwrap_or("?")
                ),
            )),
            _ => Ok(held),
        }
    }
}
