//! The agent's state and operations, independent of the socket: unsealed secrets (in locked
//! memory), the ssh-agent style lock, unlock / lock / status / sign / mac. Every operation returns
//! an [`ErrorReply`] that is safe to send to the client: names and reasons, never secret bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::approval::{ApprovalError, ApprovalRequest, Approver};
use crate::envelope::{self, Recipient, TokenIdentity};
use crate::keys::{KeyType, SoftKey};
use crate::peer::PeerInfo;
use crate::policy::{self, ExpiryState};
use crate::proto::{self, ErrorCode, ErrorReply};
use crate::sign;
use crate::store::{self, entry, Store, StoreError, Unsealed};
use crate::timefmt::unix_secs;
use crate::token::{TokenError, TokenHandle, TokenSigner};

use super::nonces::NonceStore;

/// An unsealed secret and when to forget it.
pub struct Held {
    pub unsealed: Unsealed,
    /// The asymmetric key, for Ed25519 / P-256 API keys (in locked memory or on the token).
    pub signer: Option<Box<dyn sign::AsymmetricSigner + Send + Sync>>,
    /// Unix seconds; `None` = kept until lock.
    pub forget_at: Option<u64>,
    /// SHA-256 of the sealed block it came from, to notice a rotation on reload.
    pub sealed_digest: [u8; 32],
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
    pub approver: Approver,
    /// Run with the notice whenever an unseal or a step-up waits for a touch or an approver
    /// (`[approval] notify`).
    pub notify: Option<std::path::PathBuf>,
    pub lifetime: Option<Duration>,
    /// Where the agent keeps state that must survive a restart (nonce marks).
    pub state_dir: std::path::PathBuf,
    /// The audit log; `None` only in tests that do not look at it.
    pub audit: Option<crate::audit::AuditLog>,
}

pub struct Agent {
    pub(super) settings: AgentSettings,
    pub(super) nonces: NonceStore,
    held: Mutex<HashMap<String, Arc<Held>>>,
    lock: Mutex<Option<AgentLock>>,
    pub(super) limiter: Mutex<crate::policy::rate::Limiter>,
}

fn store_error(e: StoreError) -> ErrorReply {
    let code = match &e {
        StoreError::NotFound { .. } => ErrorCode::NotFound,
        StoreError::InvalidName(_) => ErrorCode::BadRequest,
        StoreError::Damaged { .. } | StoreError::Tampered { .. } => ErrorCode::BadEntry,
        _ => ErrorCode::Internal,
    };
    ErrorReply::new(code, e.to_string())
}

/// The reply code of an approval that did not happen.
pub(super) fn approval_code(e: &ApprovalError) -> ErrorCode {
    match e {
        ApprovalError::Denied { .. } => ErrorCode::Denied,
        ApprovalError::Timeout { .. }
        | ApprovalError::Touch {
            timed_out: true, ..
        } => ErrorCode::Timeout,
        ApprovalError::Touch { .. } => ErrorCode::Token,
        _ => ErrorCode::Refused,
    }
}

fn approval_error(e: ApprovalError) -> ErrorReply {
    ErrorReply::new(approval_code(&e), e.to_string())
}

impl Agent {
    pub fn new(settings: AgentSettings) -> Self {
        Self {
            nonces: NonceStore::new(settings.state_dir.join("nonces")),
            settings,
            held: Mutex::new(HashMap::new()),
            lock: Mutex::new(None),
            limiter: Mutex::new(Default::default()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.settings.store
    }

    pub fn token(&self) -> &TokenHandle {
        &self.settings.token
    }

    fn check_not_locked(&self) -> Result<(), ErrorReply> {
        if self.lock.lock().expect("lock poisoned").is_some() {
            return Err(ErrorReply::new(
                ErrorCode::AgentLocked,
                "the agent is locked (ssh-add -x); unlock it with `ssh-add -X` first",
            ));
        }
        Ok(())
    }

    fn held(&self, name: &str) -> Option<Arc<Held>> {
        let mut map = self.held.lock().expect("held poisoned");
        let h = map.get(name)?.clone();
        if h.forget_at.is_some_and(|t| t <= unix_secs()) {
            map.remove(name);
            return None;
        }
        Some(h)
    }

    /// Unseals each named secret not already held: one approval for the whole request, then one
    /// token operation per secret. `progress` receives lines for the waiting client.
    pub async fn unlock(
        self: &Arc<Self>,
        names: &[String],
        peer: &PeerInfo,
        progress: Option<mpsc::UnboundedSender<String>>,
    ) -> Result<proto::UnlockReply, ErrorReply> {
        self.check_not_locked()?;
        if names.is_empty() {
            return Err(ErrorReply::new(
                ErrorCode::BadRequest,
                "name at least one secret to unlock",
            ));
        }
        let mut approved_by: Option<String> = None;
        // Read and check every entry before bothering a human.
        let mut todo = Vec::new();
        for name in names {
            if self.held(name).is_some() || todo.iter().any(|(n, _): &(String, _)| n == name) {
                continue;
            }
            let file = self.settings.store.load(name).map_err(store_error)?;
            todo.push((name.clone(), file));
        }
        if !todo.is_empty() {
            let secrets: Vec<(String, String)> = todo
                .iter()
                .map(|(n, f)| (n.clone(), f.exchange.clone()))
                .collect();
            let request = ApprovalRequest {
                action: "unlock",
                secrets: &secrets,
                client: peer,
                detail: None,
                fresh: false,
            };
            let prompt = request.prompt();
            // With the touch as approval, the touch line below is what the client waits for.
            let notice = format!("waiting for approval: {prompt}");
            if let (Some(tx), false) = (&progress, self.settings.approver.is_token_touch()) {
                let _ = tx.send(notice.clone());
            }
            if self.settings.approver.waits(&request) {
                self.notify_waiting(&notice, &request);
            }
            let how = match self.settings.approver.ask(&request).await {
                Ok(how) => how,
                Err(e) => {
                    crate::info!("unlock refused: {prompt}: {e}");
                    let reason = e.to_string();
                    for (name, exchange) in &secrets {
                        self.audit(
                            &unlock_event(name, exchange, false, Some(&reason), None),
                            Some(peer),
                        );
                    }
                    return Err(approval_error(e));
                }
            };
            crate::info!("unlock approved by {how}: {prompt}");
            approved_by = Some(how.to_owned());
        }
        let mut done: Vec<String> = Vec::new();
        let total = todo.len();
        let mut touches = 0;
        for (name, file) in todo {
            let exchange = file.exchange.clone();
            touches += self
                .announce_touch(&name, &exchange, peer, (touches + 1, total), &progress)
                .await as usize;
            let mut held = self.unseal_held(file, None).await.map_err(|mut e| {
                if !done.is_empty() {
                    e.message = format!("{} (already unlocked: {})", e.message, done.join(", "));
                }
                crate::info!("unseal of {name} failed: {}", e.message);
                self.audit(
                    &unlock_event(
                        &name,
                        &exchange,
                        false,
                        Some(&e.message),
                        approved_by.as_deref(),
                    ),
                    Some(peer),
                );
                e
            })?;
            if let ExpiryState::Soon(days) =
                policy::expiry_state(held.unsealed.meta.expires.as_deref(), unix_secs())
            {
                crate::warn!("secret {name} expires in {days} day(s); rotate it soon");
            }
            // The approval and the token may have taken a while: an `ssh-add -x` meanwhile wins.
            self.check_not_locked()?;
            // The lifetime starts when the secret is unsealed, not when the touch was asked for.
            held.forget_at = self.settings.lifetime.map(|l| unix_secs() + l.as_secs());
            self.held
                .lock()
                .expect("held poisoned")
                .insert(name.clone(), Arc::new(held));
            crate::info!("unsealed {name}");
            if crate::secret::take_mlock_warning() {
                crate::warn!(
                    "could not lock secret memory (RLIMIT_MEMLOCK is {} bytes): unsealed secrets may be \
                     written to swap; raise the limit (systemd: LimitMEMLOCK=, shell: ulimit -l)",
                    crate::secret::memlock_limit().unwrap_or(0)
                );
            }
            self.audit(
                &unlock_event(&name, &exchange, true, None, approved_by.as_deref()),
                Some(peer),
            );
            done.push(name);
        }
        if total > 0 {
            // The decryption buffers (zeroized) were freed; hand the heap they grew back to the OS.
            // SAFETY: malloc_trim only releases free memory of glibc's own heap.
            unsafe { libc::malloc_trim(0) };
        }
        let unlocked = names
            .iter()
            .map(|n| proto::UnlockedEntry {
                name: n.clone(),
                forget_at: self.held(n).and_then(|h| h.forget_at).unwrap_or(0),
            })
            .collect();
        Ok(proto::UnlockReply { unlocked })
    }

    /// Tells the client (and the notify program) when the coming card operation waits for a
    /// touch; returns whether it does.
    async fn announce_touch(
        &self,
        name: &str,
        exchange: &str,
        peer: &PeerInfo,
        (index, total): (usize, usize),
        progress: &Option<mpsc::UnboundedSender<String>>,
    ) -> bool {
        let token = self.settings.token.clone();
        let Ok(Some(notice)) = tokio::task::spawn_blocking(move || token.touch_notice()).await
        else {
            return false;
        };
        let text = super::touch::line(notice, name, index, total);
        crate::info!("{text}");
        if let Some(tx) = progress {
            let _ = tx.send(text.clone());
        }
        let secrets = [(name.to_owned(), exchange.to_owned())];
        self.notify_waiting(
            &text,
            &ApprovalRequest {
                action: "unlock",
                secrets: &secrets,
                client: peer,
                detail: None,
                fresh: false,
            },
        );
        true
    }

    /// Runs the notify program (`[approval] notify`), if one is set, for a request that now
    /// waits for a human: once per wait, with `text` (the waiting client's progress line).
    pub(super) fn notify_waiting(&self, text: &str, request: &ApprovalRequest<'_>) {
        if let Some(program) = &self.settings.notify {
            super::touch::notify(program, text, request);
        }
    }

    /// Unseals a store entry (on a blocking thread: the token may wait for a touch) into what
    /// the agent holds, with the signer its key type needs.
    async fn unseal_held(
        self: &Arc<Self>,
        file: store::EntryFile,
        forget_at: Option<u64>,
    ) -> Result<Held, ErrorReply> {
        let sealed_digest: [u8; 32] = Sha256::digest(file.sealed.as_bytes()).into();
        let this = Arc::clone(self);
        let unsealed = tokio::task::spawn_blocking(move || this.unseal_file(&file))
            .await
            .map_err(|_| ErrorReply::new(ErrorCode::Internal, "the unseal task failed"))??;
        let (unsealed, signer) = self.signer_for(unsealed)?;
        Ok(Held {
            unsealed,
            signer,
            forget_at,
            sealed_digest,
        })
    }

    /// One token operation: open the envelope, parse, compare the sealed metadata with the clear.
    fn unseal_file(&self, file: &store::EntryFile) -> Result<Unsealed, ErrorReply> {
        let result = self.unseal_file_inner(file);
        crate::secret::wipe_stack();
        result
    }

    fn unseal_file_inner(&self, file: &store::EntryFile) -> Result<Unsealed, ErrorReply> {
        let identity = TokenIdentity::new(&self.settings.recipient, &self.settings.token);
        let plaintext = envelope::unseal(&file.sealed, &identity).map_err(|e| match e {
            envelope::UnsealError::Token(t) => token_error(t),
            other => ErrorReply::new(
                ErrorCode::BadEntry,
                format!("store entry {:?}: {other}", file.name),
            ),
        })?;
        let unsealed = entry::parse_sealed(&plaintext).map_err(|reason| {
            ErrorReply::new(
                ErrorCode::BadEntry,
                format!("store entry {:?}: {reason}", file.name),
            )
        })?;
        store::check_untampered(file, &unsealed.meta).map_err(store_error)?;
        Ok(unsealed)
    }

    /// Builds the signer an asymmetric key needs; HMAC secrets need none.
    #[allow(clippy::type_complexity)]
    fn signer_for(
        &self,
        mut unsealed: Unsealed,
    ) -> Result<
        (
            Unsealed,
            Option<Box<dyn sign::AsymmetricSigner + Send + Sync>>,
        ),
        ErrorReply,
    > {
        let bad = |reason: String| ErrorReply::new(ErrorCode::BadEntry, reason);
        let key_type = KeyType::parse(&unsealed.meta.key_type)
            .ok_or_else(|| bad(format!("unknown key_type {:?}", unsealed.meta.key_type)))?;
        let signer: Option<Box<dyn sign::AsymmetricSigner + Send + Sync>> = match key_type {
            KeyType::Hmac => None,
            KeyType::Ed25519 | KeyType::P256 => {
                let algorithm = key_type.algorithm().expect("asymmetric");
                let material = unsealed.take_secret();
                Some(Box::new(SoftKey::new(algorithm, material).map_err(bad)?))
            }
            KeyType::TokenEd25519 | KeyType::TokenP256 => {
                let label = unsealed
                    .meta
                    .token_key
                    .clone()
                    .ok_or_else(|| bad("a token key entry without token_key".into()))?;
                Some(Box::new(TokenSigner {
                    handle: self.settings.token.clone(),
                    label,
                    algorithm: key_type.algorithm().expect("asymmetric"),
                }))
            }
        };
        Ok((unsealed, signer))
    }

    /// Flushes the audit log (at shutdown).
    pub fn close_audit(&self) {
        if let Some(log) = &self.settings.audit {
            log.close();
        }
    }

    /// Records a decision in the audit log.
    pub fn audit(&self, event: &crate::audit::Event<'_>, peer: Option<&PeerInfo>) {
        if let Some(log) = &self.settings.audit {
            log.record(event, peer);
        }
    }

    /// Re-reads the store: a held secret whose entry was rotated switches to the new entry (one
    /// token operation, no new approval: the secret was approved, and a sealed entry binds its
    /// metadata to a secret only its owner knows); a removed entry is forgotten. Returns the
    /// number of entries in the store.
    pub async fn reload(self: &Arc<Self>) -> Result<u32, ErrorReply> {
        let held: Vec<(String, Arc<Held>)> = self
            .held
            .lock()
            .expect("held poisoned")
            .iter()
            .map(|(n, h)| (n.clone(), Arc::clone(h)))
            .collect();
        for (name, old) in held {
            let file = match self.settings.store.load(&name) {
                Ok(f) => f,
                Err(StoreError::NotFound { .. }) => {
                    self.forget(std::slice::from_ref(&name));
                    crate::info!("reload: {name} was removed from the store; forgot it");
                    continue;
                }
                Err(e) => {
                    crate::warn!(
                        "reload: keeping the unsealed {name}: its entry cannot be read: {e}"
                    );
                    continue;
                }
            };
            let digest: [u8; 32] = Sha256::digest(file.sealed.as_bytes()).into();
            if digest == old.sealed_digest {
                continue;
            }
            match self.unseal_held(file, old.forget_at).await {
                Ok(held) => {
                    self.held
                        .lock()
                        .expect("held poisoned")
                        .insert(name.clone(), Arc::new(held));
                    crate::info!("reload: {name} was rotated; now signing with the new entry");
                }
                Err(e) => {
                    self.forget(std::slice::from_ref(&name));
                    crate::warn!("reload: {name} changed and its new entry cannot be unsealed ({}); forgot it", e.message);
                }
            }
        }
        let n = self.settings.store.names().map(|v| v.len()).unwrap_or(0) as u32;
        Ok(n)
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
        // Compare without an early exit, so timing says nothing about the passphrase.
        let diff = hash
            .iter()
            .zip(l.hash.iter())
            .fold(0u8, |a, (x, y)| a | (x ^ y));
        if diff == 0 {
            *lock = None;
            true
        } else {
            false
        }
    }

    pub fn status(&self) -> proto::StatusReply {
        let names = self.settings.store.names().unwrap_or_default();
        let mut entries = Vec::new();
        for name in names {
            let held = self.held(&name);
            let entry = match self.settings.store.load(&name) {
                Ok(f) => proto::StatusEntry {
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
                },
            };
            entries.push(entry);
        }
        proto::StatusReply {
            version: crate::VERSION.to_owned(),
            pid: std::process::id(),
            agent_locked: self.lock.lock().expect("lock poisoned").is_some(),
            entries,
        }
    }

    /// The held secret, or an error that says how to get it unsealed.
    pub(super) fn usable(&self, name: &str) -> Result<Arc<Held>, ErrorReply> {
        self.check_not_locked()?;
        store::check_name(name).map_err(store_error)?;
        let Some(held) = self.held(name) else {
            // Say whether it exists at all, so the remedy is right.
            return Err(match self.settings.store.load(name) {
                Ok(_) => ErrorReply::new(
                    ErrorCode::Sealed,
                    format!(
                        "secret {name:?} is sealed; unlock it first with `apisec unlock {name}`"
                    ),
                ),
                Err(e) => store_error(e),
            });
        };
        match policy::expiry_state(held.unsealed.meta.expires.as_deref(), unix_secs()) {
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

fn unlock_event<'a>(
    name: &'a str,
    exchange: &'a str,
    allowed: bool,
    reason: Option<&'a str>,
    approval: Option<&'a str>,
) -> crate::audit::Event<'a> {
    crate::audit::Event {
        action: "unlock",
        secret: Some(name),
        exchange: Some(exchange),
        allowed,
        reason,
        approval,
        ..Default::default()
    }
}

fn token_error(e: TokenError) -> ErrorReply {
    ErrorReply::new(ErrorCode::Token, e.to_string())
}
