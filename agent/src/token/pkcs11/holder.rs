//! The agent's PKCS#11 key holder, run by the token actor.

use cryptoki::context::Pkcs11;
use cryptoki::session::Session;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::objects::{derive, find_signing_key, sign_on_token};
use super::secret_keys::Pkcs11MacSession;
use super::wrapping_key::{find_wrapping_key, rsa_oaep_decrypt, WrapKey};
use super::{ck, find_slot, load_module, login, session_lost, session_lost_reported, Pkcs11Spec};
use crate::envelope::Recipient;
use crate::pin::PinSource;
use crate::sign::KeyAlgorithm;
use crate::token::{KeyHolder, MacSession, TokenError};

/// The agent's PKCS#11 key holder: connects lazily (the agent starts without the token), logs in
/// once, keeps one session open (a token logs out when its last session closes).
pub struct Pkcs11Holder {
    spec: Pkcs11Spec,
    pin: PinSource,
    ctx: Option<Pkcs11>,
    session: Option<(Session, WrapKey)>,
    /// The wrapping key the config's recipient names: the token's key must be this one.
    expected: Recipient,
    /// The slot the session is on, where the pool's sessions are opened too.
    slot: Option<cryptoki::slot::Slot>,
    /// SHA-256 of the last PIN the token refused, so it is never presented again by itself.
    refused_pin: Option<[u8; 32]>,
}

impl Pkcs11Holder {
    pub fn new(spec: Pkcs11Spec, pin: PinSource, expected: Recipient) -> Self {
        Self {
            spec,
            pin,
            ctx: None,
            session: None,
            expected,
            slot: None,
            refused_pin: None,
        }
    }

    fn connect(&mut self) -> Result<(), TokenError> {
        if self.session.is_some() {
            return Ok(());
        }
        match self.connect_once() {
            Err(e) if self.ctx.is_some() && reload_may_help(&e) => {
                // A token pulled out and put back can leave the module's view of its slots stale
                // (SoftHSM keeps the slots of its C_Initialize, and fails on them after): the
                // module is initialized anew, once, and the token looked for again.
                if let Some(ctx) = self.ctx.take() {
                    super::release_module(&self.spec.module, ctx);
                }
                self.connect_once()
            }
            other => other,
        }
    }

    fn connect_once(&mut self) -> Result<(), TokenError> {
        if self.ctx.is_none() {
            self.ctx = Some(load_module(&self.spec.module)?);
        }
        let ctx = self.ctx.as_ref().expect("set above");
        let slot = find_slot(ctx, &self.spec)?;
        let session = ctx.open_rw_session(slot).map_err(ck)?;
        let pin = self.pin.read(&format!(
            "PIN of the PKCS#11 token {} to unseal apisec secrets",
            self.spec.wanted()
        ))?;
        let digest: [u8; 32] = Sha256::digest(pin.expose_secret_bytes()).into();
        if self.refused_pin == Some(digest) {
            return Err(TokenError::PinRefusedBefore {
                source_name: self.pin.describe(),
            });
        }
        match login(ctx, slot, &session, &pin.to_auth_pin()) {
            Ok(()) => self.refused_pin = None,
            Err(e @ TokenError::PinIncorrect { .. }) => {
                self.refused_pin = Some(digest);
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let key = find_wrapping_key(&session, &self.spec.key_label)?;
        self.session = Some((session, key));
        self.slot = Some(slot);
        Ok(())
    }
}

impl Pkcs11Holder {
    /// The token's wrapping key is the one the config's recipient names: a key replaced under
    /// the config (of either kind) is named as such, not left to fail as a damaged entry. Checked
    /// where the key unseals, so what is already unlocked (in-token MACs, signing keys) keeps
    /// working whatever it is.
    fn check_key(&self, key: &WrapKey) -> Result<(), TokenError> {
        if key.recipient == self.expected {
            return Ok(());
        }
        let kind = |r: &Recipient| match r {
            Recipient::P256(_) => ("a", "P-256 key"),
            Recipient::Rsa(_) => ("an", "RSA key"),
        };
        let ((article, found), wanted) = (kind(&key.recipient), kind(&self.expected));
        Err(TokenError::Pkcs11KeyMismatch {
            label: self.spec.key_label.clone(),
            found: if found == wanted.1 {
                format!("another {found}")
            } else {
                format!("{article} {found}")
            },
            expected: format!("{} {}", wanted.0, wanted.1),
        })
    }
}

/// Whether the module's view of its slots may be stale: the token is missing, or the slot calls
/// fail (not a PIN, a key or a mechanism the token refused).
fn reload_may_help(e: &TokenError) -> bool {
    match e {
        TokenError::NoToken { .. } => true,
        TokenError::Pkcs11 { function, .. } => matches!(
            function.as_str(),
            "C_GetSlotList" | "C_GetTokenInfo" | "C_OpenSession" | "C_GetSlotInfo"
        ),
        _ => false,
    }
}

impl KeyHolder for Pkcs11Holder {
    fn ecdh(&mut self, peer: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, TokenError> {
        // One retry, on a fresh session, when the old one died (token re-inserted, HSM failover).
        for attempt in 0..2 {
            self.connect()?;
            let (session, key) = self.session.as_ref().expect("connected");
            self.check_key(key)?;
            match derive(session, key.handle, peer) {
                Ok(shared) => return Ok(shared),
                Err(e) if session_lost(&e) && attempt == 0 => {
                    self.session = None;
                }
                Err(e) => {
                    if session_lost(&e) {
                        self.session = None;
                    }
                    return Err(ck(e));
                }
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    fn rsa_oaep_decrypt(
        &mut self,
        ciphertext: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, TokenError> {
        for attempt in 0..2 {
            self.connect()?;
            let (session, key) = self.session.as_ref().expect("connected");
            self.check_key(key)?;
            match rsa_oaep_decrypt(session, key.handle, ciphertext) {
                Ok(plain) => return Ok(plain),
                Err(e) if session_lost(&e) && attempt == 0 => self.session = None,
                Err(e) => {
                    if session_lost(&e) {
                        self.session = None;
                    }
                    return Err(ck(e));
                }
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    fn sign(
        &mut self,
        label: &str,
        algorithm: KeyAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        for attempt in 0..2 {
            self.connect()?;
            let (session, _) = self.session.as_ref().expect("connected");
            // A token pulled out and put back fails the lookup first: reopen, as for the signing.
            let key = match find_signing_key(session, label, algorithm) {
                Ok((key, _)) => key,
                Err(e) if session_lost_reported(&e) => {
                    self.session = None;
                    if attempt == 0 {
                        continue;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            match sign_on_token(session, key, algorithm, message) {
                Ok(sig) => return Ok(sig),
                Err(e) if session_lost(&e) && attempt == 0 => self.session = None,
                Err(e) => {
                    if session_lost(&e) {
                        self.session = None;
                    }
                    return Err(ck(e));
                }
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    fn public_key(&mut self, label: &str, algorithm: KeyAlgorithm) -> Result<Vec<u8>, TokenError> {
        for attempt in 0..2 {
            self.connect()?;
            let (session, _) = self.session.as_ref().expect("connected");
            match find_signing_key(session, label, algorithm) {
                Ok((_, public)) => return Ok(public),
                Err(e) if session_lost_reported(&e) && attempt == 0 => self.session = None,
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    fn open_mac_session(&mut self) -> Result<Box<dyn MacSession>, TokenError> {
        // The owner's session may have died with the token (pulled out and put back): then log
        // in again on a fresh one, and open beside it.
        for attempt in 0..2 {
            self.connect()?;
            let ctx = self.ctx.as_ref().expect("connected");
            let slot = self.slot.expect("connected");
            match ctx.open_ro_session(slot) {
                Ok(session) => return Ok(Box::new(Pkcs11MacSession::new(session))),
                Err(_) if attempt == 0 => self.session = None,
                Err(e) => {
                    self.session = None;
                    return Err(ck(e));
                }
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    fn release(&mut self) {
        self.session = None;
    }

    fn shut_down(&mut self) {
        self.session = None;
        if let Some(ctx) = self.ctx.take() {
            super::release_module(&self.spec.module, ctx);
        }
    }
}
