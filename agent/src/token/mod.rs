//! The key holder behind one owner thread. A PKCS#11 session is `Send` but not `Sync`, and a
//! token's login state is per process, so one thread owns the handle and every request comes to
//! it by channel (the pattern of yubikey-agent's `ensureYK`). The thread reconnects when the
//! token went away, and releases the token on request.

pub mod configured;
mod error;
mod mac_pool;
pub mod piv;
pub mod pkcs11;
pub mod quick_calls;

pub use configured::{spawn, TokenConfig};
pub use error::TokenError;
pub use mac_pool::{MacPool, MacSession, TokenMacKey};
pub use quick_calls::CallTimes;

use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::envelope::WrappingKey;
use crate::sign::{AsymmetricSigner, KeyAlgorithm};

/// What the waiting client is told before a card operation that needs a touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TouchNotice {
    pub serial: u32,
    /// Touch policy `cached`: one touch covers the operations of the next 15 seconds.
    pub cached: bool,
}

/// Something that holds the wrapping key and unwraps with it: ECDH (a P-256 key), or RSA-OAEP
/// decryption (an RSA key on a PKCS#11 token that cannot derive).
pub trait KeyHolder: Send + 'static {
    fn ecdh(&mut self, peer: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, TokenError>;
    /// See [`WrappingKey::rsa_oaep_decrypt`].
    fn rsa_oaep_decrypt(
        &mut self,
        ciphertext: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, TokenError> {
        let _ = ciphertext;
        Err(TokenError::NotSupported(
            "this token's wrapping key is P-256: it opens no RSA-OAEP stanza".into(),
        ))
    }
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
    /// A new session for HMAC keys on the token (`add --in-token`), logged in (the login is
    /// the token's, for every session), for the [`MacPool`].
    fn open_mac_session(&mut self) -> Result<Box<dyn MacSession>, TokenError> {
        Err(TokenError::NotSupported(
            "this token cannot hold HMAC keys: `add --in-token` needs a PKCS#11 token".into(),
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
    RsaOaepDecrypt {
        ciphertext: Vec<u8>,
        reply: mpsc::SyncSender<Result<Option<Zeroizing<Vec<u8>>>, TokenError>>,
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
    OpenMacSession {
        reply: mpsc::SyncSender<Result<Box<dyn MacSession>, TokenError>>,
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
    /// The sessions HMAC keys on the token MAC on, beside the owner thread's.
    macs: Arc<MacPool>,
    /// The owner thread, joined by [`TokenHandle::shut_down`].
    owner: Arc<Mutex<Option<thread::JoinHandle<()>>>>,
}

impl std::fmt::Debug for TokenHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHandle")
    }
}

/// How many token sessions MAC for HMAC keys on the token at once: clients signing together
/// beyond this wait for a session (SoftHSM and HSMs allow many; each is one open session).
pub const MAC_SESSIONS: usize = 8;

impl TokenHandle {
    /// Starts the owner thread for `holder`.
    pub fn spawn(holder: impl KeyHolder) -> Self {
        Self::spawn_with_mac_sessions(holder, MAC_SESSIONS)
    }

    /// [`TokenHandle::spawn`] with at most `mac_sessions` sessions for HMAC keys on the token.
    pub fn spawn_with_mac_sessions(mut holder: impl KeyHolder, mac_sessions: usize) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        let owner = thread::Builder::new()
            .name("token".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Ecdh { peer, reply } => {
                            let _ = reply.send(holder.ecdh(&peer));
                        }
                        Job::RsaOaepDecrypt { ciphertext, reply } => {
                            let _ = reply.send(holder.rsa_oaep_decrypt(&ciphertext));
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
                        Job::OpenMacSession { reply } => {
                            let _ = reply.send(holder.open_mac_session());
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
            macs: Arc::new(MacPool::new(mac_sessions)),
            owner: Arc::new(Mutex::new(Some(owner))),
        }
    }

    /// The HMAC of `data` with the token's HMAC key `label`, on a session of the pool (blocks
    /// until the token answers).
    pub fn mac(
        &self,
        label: &str,
        hash: crate::sign::mac_key::Hash,
        data: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        self.macs.mac(self, label, hash, data)
    }

    /// A new logged-in session from the owner thread, for the pool.
    pub(crate) fn open_mac_session(&self) -> Result<Box<dyn MacSession>, TokenError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Job::OpenMacSession { reply: tx })
            .map_err(|_| TokenError::ActorGone)?;
        rx.recv().map_err(|_| TokenError::ActorGone)?
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
        self.macs.clear();
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
        self.macs.clear();
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

impl WrappingKey for TokenHandle {
    type Error = TokenError;

    fn rsa_oaep_decrypt(
        &self,
        ciphertext: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, TokenError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Job::RsaOaepDecrypt {
                ciphertext: ciphertext.to_vec(),
                reply: tx,
            })
            .map_err(|_| TokenError::ActorGone)?;
        rx.recv().map_err(|_| TokenError::ActorGone)?
    }

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
