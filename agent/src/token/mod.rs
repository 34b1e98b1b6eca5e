//! The key holder behind one owner thread. A PKCS#11 session is `Send` but not `Sync`, and a
//! token's login state is per process, so one thread owns the handle and every request comes to
//! it by channel (the pattern of yubikey-agent's `ensureYK`). The thread reconnects when the
//! token went away, and releases the token on request.

pub mod configured;
pub mod piv;
pub mod pkcs11;

pub use configured::{spawn, TokenConfig};

use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::envelope::Ecdh;
use crate::pin::PinError;
use crate::sign::{AsymmetricSigner, KeyAlgorithm};

/// Why the token could not do what was asked. Names the PKCS#11 function and return value where
/// there is one, and says what to do.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error(
        "cannot load the PKCS#11 module {module}: {reason}; install it (SoftHSM on Debian: \
         apt-get install softhsm2) or fix token.module in the config"
    )]
    ModuleLoad { module: PathBuf, reason: String },
    #[error(
        "no token {wanted} in any slot of {module}; `pkcs11-tool --module {module} -L` lists them"
    )]
    NoToken { wanted: String, module: PathBuf },
    #[error(
        "no EC P-256 private key labelled {label:?} on the token; create one with \
         `apisec-agent init ... --key-label {label} --generate` (a YubiKey through ykcs11 names \
         a slot's key after the slot: \"Retired Key 1\" is slot 82)"
    )]
    KeyNotFound { label: String },
    #[error(
        "the token refused the PIN (CKR_PIN_INCORRECT){retries}; it is not retried automatically: \
         fix the PIN source, then unlock again"
    )]
    PinIncorrect { retries: String },
    #[error(
        "the PIN from {source_name} was already refused by the token; not trying it again, since \
         every try uses up one of the token's retries; fix it, then unlock again"
    )]
    PinRefusedBefore { source_name: String },
    #[error(
        "the token's user PIN is locked (CKR_PIN_LOCKED); unblock it with the SO PIN, e.g. \
         `pkcs11-tool --module MODULE --login --login-type so --init-pin`"
    )]
    PinLocked,
    #[error(transparent)]
    Pin(#[from] PinError),
    #[error("the token failed in {function}: {rv}")]
    Pkcs11 { function: String, rv: String },
    #[error("the token's key is not a P-256 key the agent can use: {0}")]
    BadKey(String),
    #[error("the token thread has stopped; restart the agent")]
    ActorGone,
    #[error(
        "no YubiKey {wanted} answers through pcscd; plug it in (`ykman list --serials` lists \
         what pcscd sees){hint}"
    )]
    PivNoCard { wanted: String, hint: String },
    #[error(
        "several YubiKeys are connected; set token.serial in the config to the one holding the \
         key (`ykman list --serials`)"
    )]
    PivSeveralCards,
    #[error("cannot reach pcscd, the smart-card service: {0}; start it (systemctl start pcscd)")]
    PivPcscd(String),
    #[error(
        "the YubiKey (serial {serial}) refused the PIN; {tries} tries left before the PIN blocks; \
         it is not retried automatically: fix the PIN source, then unlock again"
    )]
    PivPinIncorrect { serial: u32, tries: u8 },
    #[error(
        "the PIV PIN of the YubiKey (serial {serial}) is blocked (no tries left); unblock it with \
         the PUK: `ykman piv access unblock-pin` (if the PUK is blocked too, only \
         `ykman piv reset` helps, which destroys the key and every secret sealed only to it)"
    )]
    PivPinBlocked { serial: u32 },
    #[error(
        "the touch was not received: the YubiKey (serial {serial}) waited for a touch and timed \
         out (about 15 s); the secret stays sealed; unlock again and touch the YubiKey while it \
         blinks"
    )]
    TouchNotReceived { serial: u32 },
    #[error(
        "the YubiKey (serial {serial}) was removed, or pcscd lost it, during the operation; the \
         secret stays sealed; plug it back in and unlock again (no restart needed)"
    )]
    CardRemoved { serial: u32 },
    #[error("no key in slot {slot} of the YubiKey (serial {serial}); {hint}")]
    PivNoKey {
        slot: String,
        serial: u32,
        hint: String,
    },
    #[error(
        "the key in slot {slot} of the YubiKey (serial {serial}) is not the key the config's \
         recipient names (another YubiKey, or a key generated again?); set token.serial to the \
         right YubiKey, or run `apisec-agent init --yubikey` again (secrets sealed to the old \
         key cannot be opened with the new one)"
    )]
    PivKeyMismatch { slot: String, serial: u32 },
    #[error(
        "the key in slot {slot} of the YubiKey (serial {serial}) has touch policy never, but the \
         agent has no approver and relies on the touch to approve unseals; configure an approver \
         ([approval] approver) or use a key generated with --touch-policy cached"
    )]
    PivNoTouch { slot: String, serial: u32 },
    #[error(
        "the key in slot {slot} of the YubiKey (serial {serial}) has touch policy {card}, but the \
         config says always: step-up approvals by touch count on a fresh touch for each request, \
         which this key does not demand; set token.touch_policy = \"{card}\" in the config \
         (step-up by touch is then refused), or generate a key with --touch-policy always"
    )]
    PivTouchWeaker {
        slot: String,
        serial: u32,
        card: String,
    },
    #[error("the YubiKey failed in {op}: {reason}")]
    Piv { op: String, reason: String },
    #[error("{0}")]
    NotSupported(String),
}

impl TokenError {
    /// The token is not there (not plugged in, deleted, its module missing): found out before
    /// any PIN is asked for, so that another configured token may be tried. A card that is there
    /// but busy (held by another program, pcscd failing) is not absent: the next token is not
    /// tried behind the owner's back.
    pub fn is_absent(&self) -> bool {
        matches!(
            self,
            Self::NoToken { .. } | Self::ModuleLoad { .. } | Self::PivNoCard { .. }
        )
    }
}

/// What the waiting client is told before a card operation that needs a touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TouchNotice {
    pub serial: u32,
    /// Touch policy `cached`: one touch covers the operations of the next 15 seconds.
    pub cached: bool,
}

/// Something that holds the wrapping key and can do ECDH with it.
pub trait KeyHolder: Send + 'static {
    fn ecdh(&mut self, peer: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, TokenError>;
    /// Signs with an API key that lives on the token (`apisec-agent keygen`).
    fn sign(
        &mut self,
        label: &str,
        algorithm: KeyAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, TokenError>;
    /// The public half of a signing key on the token, as the token itself holds it: what a
    /// store entry's attestation is checked with (never the entry's own copy).
    fn public_key(&mut self, label: &str, algorithm: KeyAlgorithm) -> Result<Vec<u8>, TokenError> {
        let _ = (label, algorithm);
        Err(TokenError::BadKey(
            "this token holds no signing keys the agent made".into(),
        ))
    }
    /// Closes sessions and lets other programs use the token; the next request reconnects.
    fn release(&mut self);
    /// Releases the token and unloads what the holder loaded, for good: the agent is exiting.
    fn shut_down(&mut self) {
        self.release();
    }
    /// Whether the next key operation will wait for a touch, and on which device. Asked right
    /// before each unseal so the waiting client hears it at once.
    fn touch_notice(&mut self) -> Option<TouchNotice> {
        None
    }
}

enum Job {
    Ecdh {
        peer: [u8; 65],
        reply: mpsc::SyncSender<Result<Zeroizing<[u8; 32]>, TokenError>>,
    },
    Sign {
        label: String,
        algorithm: KeyAlgorithm,
        message: Vec<u8>,
        reply: mpsc::SyncSender<Result<Vec<u8>, TokenError>>,
    },
    PublicKey {
        label: String,
        algorithm: KeyAlgorithm,
        reply: mpsc::SyncSender<Result<Vec<u8>, TokenError>>,
    },
    Release {
        reply: mpsc::SyncSender<()>,
    },
    ShutDown,
    TouchNotice {
        reply: mpsc::SyncSender<Option<TouchNotice>>,
    },
}

/// A cheap, cloneable handle to the token's owner thread. Calls block: use them off the async
/// runtime (`spawn_blocking`).
#[derive(Clone)]
pub struct TokenHandle {
    jobs: mpsc::Sender<Job>,
    /// The owner thread, joined by [`TokenHandle::shut_down`].
    owner: Arc<Mutex<Option<thread::JoinHandle<()>>>>,
}

impl std::fmt::Debug for TokenHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHandle")
    }
}

impl TokenHandle {
    /// Starts the owner thread for `holder`.
    pub fn spawn(mut holder: impl KeyHolder) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        let owner = thread::Builder::new()
            .name("token".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Ecdh { peer, reply } => {
                            let _ = reply.send(holder.ecdh(&peer));
                        }
                        Job::Sign {
                            label,
                            algorithm,
                            message,
                            reply,
                        } => {
                            let _ = reply.send(holder.sign(&label, algorithm, &message));
                        }
                        Job::PublicKey {
                            label,
                            algorithm,
                            reply,
                        } => {
                            let _ = reply.send(holder.public_key(&label, algorithm));
                        }
                        Job::Release { reply } => {
                            holder.release();
                            let _ = reply.send(());
                        }
                        Job::TouchNotice { reply } => {
                            let _ = reply.send(holder.touch_notice());
                        }
                        Job::ShutDown => {
                            holder.shut_down();
                            return;
                        }
                    }
                }
                holder.shut_down();
            })
            .expect("spawning the token thread");
        Self {
            jobs,
            owner: Arc::new(Mutex::new(Some(owner))),
        }
    }

    /// Signs with the token key `label` (blocks until the token answers).
    pub fn sign(
        &self,
        label: &str,
        algorithm: KeyAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Job::Sign {
                label: label.to_owned(),
                algorithm,
                message: message.to_vec(),
                reply: tx,
            })
            .map_err(|_| TokenError::ActorGone)?;
        rx.recv().map_err(|_| TokenError::ActorGone)?
    }

    /// See [`KeyHolder::public_key`] (blocks until the token answers).
    pub fn public_key(&self, label: &str, algorithm: KeyAlgorithm) -> Result<Vec<u8>, TokenError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Job::PublicKey {
                label: label.to_owned(),
                algorithm,
                reply: tx,
            })
            .map_err(|_| TokenError::ActorGone)?;
        rx.recv().map_err(|_| TokenError::ActorGone)?
    }

    /// See [`KeyHolder::touch_notice`] (blocks while the holder connects).
    pub fn touch_notice(&self) -> Option<TouchNotice> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs.send(Job::TouchNotice { reply: tx }).ok()?;
        rx.recv().ok().flatten()
    }

    pub fn release(&self) {
        let (tx, rx) = mpsc::sync_channel(1);
        if self.jobs.send(Job::Release { reply: tx }).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Closes the token's sessions and unloads its module on the owner thread, and waits (at most
    /// `patience`) until that thread has ended. Call it before the process exits: SoftHSM's
    /// OpenSSL state torn down by the exit handlers while the owner thread still closes its
    /// session, or still runs its thread-exit cleanup, crashes the exit (SIGABRT or SIGSEGV in
    /// about 1 of 100 exits under load). Returns false when the thread did not end in time (a hung
    /// network HSM); later calls on this handle then fail with `ActorGone`.
    pub fn shut_down(&self, patience: Duration) -> bool {
        let Some(owner) = self.owner.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return true;
        };
        let _ = self.jobs.send(Job::ShutDown);
        let deadline = Instant::now() + patience;
        while !owner.is_finished() {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        // Finished means the holder is gone; join also waits for the thread-exit cleanup.
        let _ = owner.join();
        true
    }
}

impl Ecdh for TokenHandle {
    type Error = TokenError;

    fn ecdh(&self, peer: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, TokenError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Job::Ecdh {
                peer: *peer,
                reply: tx,
            })
            .map_err(|_| TokenError::ActorGone)?;
        rx.recv().map_err(|_| TokenError::ActorGone)?
    }
}

/// An API key on the token, as a signer for the presets: every signature is one token operation.
pub struct TokenSigner {
    pub handle: TokenHandle,
    pub label: String,
    pub algorithm: KeyAlgorithm,
}

impl AsymmetricSigner for TokenSigner {
    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.handle
            .sign(&self.label, self.algorithm, message)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::TokenError;

    #[test]
    fn only_a_token_that_is_not_there_is_absent() {
        let module = std::path::PathBuf::from("/x.so");
        assert!(TokenError::NoToken {
            wanted: "t".into(),
            module: module.clone()
        }
        .is_absent());
        assert!(TokenError::ModuleLoad {
            module,
            reason: "no such file".into()
        }
        .is_absent());
        // pcscd failing, or the card held by another program: not a reason to use another token.
        assert!(!TokenError::PivPcscd("SCARD_E_SHARING_VIOLATION".into()).is_absent());
        assert!(!TokenError::PinLocked.is_absent());
    }

    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Records whether it was shut down; its ECDH says when it starts and takes as long as it is
    /// told to.
    struct SlowHolder {
        shut_down: Arc<AtomicBool>,
        ecdh_started: mpsc::Sender<()>,
        ecdh_takes: Duration,
    }

    impl KeyHolder for SlowHolder {
        fn ecdh(&mut self, _: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, TokenError> {
            let _ = self.ecdh_started.send(());
            thread::sleep(self.ecdh_takes);
            Ok(Zeroizing::new([7; 32]))
        }
        fn sign(&mut self, _: &str, _: KeyAlgorithm, _: &[u8]) -> Result<Vec<u8>, TokenError> {
            Err(TokenError::NotSupported("not in this test".into()))
        }
        fn release(&mut self) {}
        fn shut_down(&mut self) {
            self.shut_down.store(true, Ordering::SeqCst);
        }
    }

    fn spawn(ecdh_takes: Duration) -> (TokenHandle, Arc<AtomicBool>, mpsc::Receiver<()>) {
        let flag = Arc::new(AtomicBool::new(false));
        let (ecdh_started, started) = mpsc::channel();
        let handle = TokenHandle::spawn(SlowHolder {
            shut_down: flag.clone(),
            ecdh_started,
            ecdh_takes,
        });
        (handle, flag, started)
    }

    #[test]
    fn shut_down_ends_the_owner_thread_and_later_calls_say_it_is_gone() {
        let (token, shut, _) = spawn(Duration::ZERO);
        assert_eq!(*token.ecdh(&[4; 65]).unwrap(), [7; 32]);
        assert!(token.shut_down(Duration::from_secs(10)));
        assert!(shut.load(Ordering::SeqCst), "the holder was not shut down");
        assert!(matches!(token.ecdh(&[4; 65]), Err(TokenError::ActorGone)));
        // A second call (another clone of the handle) has nothing left to do.
        assert!(token.clone().shut_down(Duration::ZERO));
    }

    #[test]
    fn shut_down_finishes_the_job_under_way_first_and_gives_up_after_its_patience() {
        let (token, shut, started) = spawn(Duration::from_millis(600));
        let busy = token.clone();
        let under_way = thread::spawn(move || busy.ecdh(&[4; 65]));
        started
            .recv_timeout(Duration::from_secs(10))
            .expect("the ECDH job started");
        assert!(!token.shut_down(Duration::from_millis(50)));
        assert!(!shut.load(Ordering::SeqCst));
        assert_eq!(*under_way.join().unwrap().unwrap(), [7; 32]);
        // The thread reached the shut-down job after the ECDH.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !shut.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the holder was never shut down");
            thread::sleep(Duration::from_millis(5));
        }
    }
}
