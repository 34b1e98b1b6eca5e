//! HMAC keys on the token (`add --in-token`) MAC on a pool of token sessions, so that clients
//! signing at once are not queued behind the one session of the owner thread (which still does
//! everything else: logging in, the wrapping key's ECDH, opening these sessions). A PKCS#11
//! session may be used by one thread at a time and moved between threads; the login is the
//! token's, shared by every session of the process, so a new session needs no PIN.
//!
//! The calling thread (a blocking one: `block_in_place`) takes an idle session, or has the owner
//! open one while fewer than [`MacPool::new`]'s limit are open, else waits for one; uses it; and
//! gives it back. A session that failed as lost (or no longer finds the key) is dropped, the
//! token released, and the call tried once more on a fresh session, which the owner opens after
//! logging in again (a token pulled out and put back).
//! [`MacPool::clear`] (the owner's release) closes the idle sessions and marks those in use, so
//! that releasing the token really logs it out.

use std::sync::{Condvar, Mutex};

use super::quick_calls::run_blocking;
use super::{CallTimes, TokenError, TokenHandle};
use crate::sign::mac_key::{Hash, MacKey};

/// One token session that MACs with the key objects it finds by label.
pub trait MacSession: Send {
    fn mac(&mut self, label: &str, hash: Hash, data: &[u8]) -> Result<Vec<u8>, TokenError>;
}

pub struct MacPool {
    state: Mutex<PoolState>,
    /// How long the MACs took lately: whether the next may run on the asking thread.
    pub times: CallTimes,
    given_back: Condvar,
    limit: usize,
}

struct PoolState {
    idle: Vec<(u64, Box<dyn MacSession>)>,
    /// Sessions open: idle, in use, or being opened.
    open: usize,
    /// Raised by [`MacPool::clear`]: a session of an older generation is closed, not reused.
    generation: u64,
}

impl MacPool {
    /// A pool of at most `limit` sessions (at least one).
    pub fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
                generation: 0,
            }),
            given_back: Condvar::new(),
            limit: limit.max(1),
            times: CallTimes::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The HMAC of `data` with the token key `label`, on a session of the pool. While the
    /// token answers quickly and a session is idle, on this thread (one such call at a time:
    /// [`CallTimes`]); anything that may take long (waiting for a session, opening one, logging
    /// in again after a lost session, a slow token) as a blocking call ([`run_blocking`]).
    pub fn mac(
        &self,
        owner: &TokenHandle,
        label: &str,
        hash: Hash,
        data: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        if let Some(slot) = self.times.inline_slot() {
            if let Some((generation, mut session)) = self.take_idle() {
                let result = self.timed(&mut *session, label, hash, data);
                drop(slot);
                match result {
                    Ok(mac) => {
                        self.give_back(generation, session);
                        return Ok(mac);
                    }
                    // Stale: the blocking path below logs in again.
                    Err(e) if needs_fresh_login(&e) => self.discard(session),
                    Err(e) => {
                        self.give_back(generation, session);
                        return Err(e);
                    }
                }
            }
        }
        run_blocking(|| self.mac_on_any_session(owner, label, hash, data))
    }

    fn mac_on_any_session(
        &self,
        owner: &TokenHandle,
        label: &str,
        hash: Hash,
        data: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        for attempt in 0..2 {
            let (generation, mut session) =
                self.take(owner).inspect_err(|_| self.times.forget())?;
            match self.timed(&mut *session, label, hash, data) {
                Ok(mac) => {
                    self.give_back(generation, session);
                    return Ok(mac);
                }
                // A lost session, or a key no longer found (a token pulled out and put back shows
                // either): every session of the pool, and the owner's, may be stale; start again
                // from a fresh login, once.
                Err(e) if needs_fresh_login(&e) => {
                    self.discard(session);
                    if attempt == 1 {
                        return Err(e);
                    }
                    owner.release();
                }
                Err(e) => {
                    self.give_back(generation, session);
                    return Err(e);
                }
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    /// One MAC on `session`, timed for [`CallTimes`].
    fn timed(
        &self,
        session: &mut dyn MacSession,
        label: &str,
        hash: Hash,
        data: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        let timing = self.times.start();
        let result = session.mac(label, hash, data);
        self.times.record(timing);
        if result.as_ref().is_err_and(needs_fresh_login) {
            self.times.forget();
        }
        result
    }

    /// An idle session, without waiting or opening one.
    fn take_idle(&self) -> Option<(u64, Box<dyn MacSession>)> {
        self.state().idle.pop()
    }

    fn take(&self, owner: &TokenHandle) -> Result<(u64, Box<dyn MacSession>), TokenError> {
        let mut state = self.state();
        loop {
            if let Some(idle) = state.idle.pop() {
                return Ok(idle);
            }
            if state.open < self.limit {
                state.open += 1;
                let generation = state.generation;
                drop(state);
                return match owner.open_mac_session() {
                    Ok(session) => Ok((generation, session)),
                    Err(e) => {
                        self.state().open -= 1;
                        self.given_back.notify_one();
                        Err(e)
                    }
                };
            }
            state = self
                .given_back
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    fn give_back(&self, generation: u64, session: Box<dyn MacSession>) {
        let mut state = self.state();
        if generation == state.generation {
            state.idle.push((generation, session));
        } else {
            state.open -= 1;
            drop(state);
            drop(session);
        }
        self.given_back.notify_one();
    }

    fn discard(&self, session: Box<dyn MacSession>) {
        self.state().open -= 1;
        drop(session);
        self.given_back.notify_one();
    }

    /// Closes the idle sessions; those in use are closed when given back. The next MAC logs in
    /// again, so it is not one to run inline.
    pub fn clear(&self) {
        self.times.forget();
        let idle = {
            let mut state = self.state();
            state.generation += 1;
            state.open -= state.idle.len();
            std::mem::take(&mut state.idle)
        };
        drop(idle);
        self.given_back.notify_all();
    }
}

/// A session that failed this way is stale, and so may be every session of the token's.
fn needs_fresh_login(e: &TokenError) -> bool {
    e.is_session_lost() || matches!(e, TokenError::HmacKeyNotFound { .. })
}

/// An HMAC key on the token, as the presets' [`MacKey`]: every MAC is one token operation, on
/// the first of `tokens` that is present (the primary, then the backup tokens holding a copy).
pub struct TokenMacKey {
    pub tokens: Vec<TokenHandle>,
    pub label: String,
    /// What no request may have this key MAC: the first bytes of the agent's own statements,
    /// which this key authenticates an entry with (`store::attest`). A MAC of such bytes would
    /// be an attestation for an entry of the requester's choosing.
    pub reserved: &'static [&'static [u8]],
}

impl TokenMacKey {
    /// The MAC of `data`: a token that is not there is passed over for the next; any other
    /// failure is the answer.
    pub fn mac_bytes(&self, hash: Hash, data: &[u8]) -> Result<Vec<u8>, TokenError> {
        let mut absences = Vec::new();
        for token in &self.tokens {
            match token.mac(&self.label, hash, data) {
                Ok(mac) => return Ok(mac),
                Err(e) if e.is_absent() => absences.push(e),
                Err(e) => return Err(e),
            }
        }
        // Every token that holds a copy is away: say where each was looked for, so that a
        // backup whose link dropped is not hidden behind the main token's absence.
        Err(match absences.len() {
            0 => TokenError::ActorGone,
            1 => absences.remove(0),
            _ => TokenError::NoneThere(
                absences
                    .iter()
                    .enumerate()
                    .map(|(i, e)| match i {
                        0 => format!("the main token: {e}"),
                        i => format!("backup token {i}: {e}"),
                    })
                    .collect(),
            ),
        })
    }
}

impl MacKey for TokenMacKey {
    /// Every MAC a preset or a raw MAC asks of the key; the entry's attestation is checked with
    /// [`TokenMacKey::mac_bytes`], the one way to MAC a reserved statement.
    fn mac(&self, hash: Hash, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
        let data = parts.concat();
        if self.reserved.iter().any(|prefix| data.starts_with(prefix)) {
            return Err(
                "refused: the bytes to MAC begin as the agent's own statements do, which this \
                 key authenticates store entries with"
                    .into(),
            );
        }
        self.mac_bytes(hash, &data).map_err(|e| match e {
            // The token answered, with an error: what failed, and what to do about it (an absent
            // token's error already says where to look).
            TokenError::Pkcs11 { .. } => format!(
                "{e}; this secret is held on the token (added with --in-token): check the token \
                 and the link to it, then ask again (each request tries the token afresh)"
            ),
            e => e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::sign::KeyAlgorithm;
    use crate::token::KeyHolder;
    use zeroize::Zeroizing;

    /// Sessions that MAC by echoing the label, count how many are open, and die on request.
    struct Holder {
        opened: Arc<AtomicUsize>,
    }

    struct Session {
        lose_next: Arc<AtomicUsize>,
        busy: Duration,
    }

    impl MacSession for Session {
        fn mac(&mut self, label: &str, _: Hash, data: &[u8]) -> Result<Vec<u8>, TokenError> {
            if self.lose_next.fetch_sub(1, Ordering::SeqCst) > 0 {
                return Err(TokenError::Pkcs11 {
                    function: "C_Sign".into(),
                    rv: "CKR_DEVICE_REMOVED".into(),
                });
            }
            self.lose_next.store(0, Ordering::SeqCst);
            std::thread::sleep(self.busy);
            Ok([label.as_bytes(), data].concat())
        }
    }

    static LOSE: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();

    impl KeyHolder for Holder {
        fn ecdh(&mut self, _: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, TokenError> {
            unreachable!()
        }
        fn sign(&mut self, _: &str, _: KeyAlgorithm, _: &[u8]) -> Result<Vec<u8>, TokenError> {
            unreachable!()
        }
        fn open_mac_session(&mut self) -> Result<Box<dyn MacSession>, TokenError> {
            self.opened.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(Session {
                lose_next: LOSE.get_or_init(Default::default).clone(),
                busy: Duration::from_millis(30),
            }))
        }
        fn release(&mut self) {}
    }

    #[test]
    fn a_mac_of_bytes_that_begin_as_a_reserved_statement_is_refused_however_they_are_cut() {
        let token = TokenHandle::spawn_with_mac_sessions(
            Holder {
                opened: Arc::new(AtomicUsize::new(0)),
            },
            1,
        );
        let key = TokenMacKey {
            tokens: vec![token],
            label: "k".into(),
            reserved: &[b"statement\0v1\0"],
        };
        for parts in [
            vec![b"statement\0v1\0entry".as_slice()],
            vec![b"state".as_slice(), b"ment\0v1", b"\0entry"],
            vec![b"".as_slice(), b"statement\0v1\0"],
        ] {
            let e = key.mac(Hash::Sha256, &parts).unwrap_err();
            assert!(e.contains("refused"), "{e}");
        }
        // Elsewhere in the bytes, or short of the whole prefix: MACed.
        assert_eq!(
            key.mac(Hash::Sha256, &[b"x statement\0v1\0"]).unwrap(),
            b"kx statement\0v1\0"
        );
        assert_eq!(
            key.mac(Hash::Sha256, &[b"statement\0v1"]).unwrap(),
            b"kstatement\0v1"
        );
        // The statement check itself goes through mac_bytes.
        assert_eq!(
            key.mac_bytes(Hash::Sha256, b"statement\0v1\0e").unwrap(),
            b"kstatement\0v1\0e"
        );
    }

    #[test]
    fn clients_at_once_get_sessions_of_their_own_up_to_the_limit_and_a_lost_one_is_replaced() {
        let opened = Arc::new(AtomicUsize::new(0));
        let token = TokenHandle::spawn_with_mac_sessions(
            Holder {
                opened: opened.clone(),
            },
            3,
        );
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let token = token.clone();
                std::thread::spawn(move || token.mac("k", Hash::Sha256, &[i]).unwrap())
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            assert_eq!(t.join().unwrap(), [b"k".as_slice(), &[i as u8]].concat());
        }
        assert_eq!(opened.load(Ordering::SeqCst), 3, "the limit is 3 sessions");
        // A session lost (the token pulled out): the call is tried again on a new one.
        LOSE.get_or_init(Default::default)
            .store(1, Ordering::SeqCst);
        assert_eq!(token.mac("k", Hash::Sha256, b"x").unwrap(), b"kx");
        assert!(
            opened.load(Ordering::SeqCst) >= 4,
            "a fresh session was opened"
        );
        // Released: the idle sessions are closed, the next call opens one again.
        let before = opened.load(Ordering::SeqCst);
        token.release();
        token.mac("k", Hash::Sha256, b"y").unwrap();
        assert_eq!(opened.load(Ordering::SeqCst), before + 1);
    }
}
