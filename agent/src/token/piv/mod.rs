//! A wrapping key in a YubiKey PIV slot, used natively through pcscd (the `yubikey` crate), the
//! way age-plugin-yubikey uses it: unsealing is one GENERAL AUTHENTICATE ECDH on the card
//! (`piv::decrypt_data` with the peer's 65-byte point), which the card answers with the shared
//! x-coordinate, after the PIN and touch its policies demand.
//!
//! Facts this relies on (yubikey 0.8.0, checked against the virtual card in tests/vcard):
//! - a touch time-out answers 6982, which the crate reports as `AuthenticationError`, exactly as
//!   "PIN not verified"; VERIFY with an empty PIN tells them apart (Ok when verified);
//! - dropping a `YubiKey` resets the card, which forgets the PIN verification;
//! - after a removal every call fails with a PC/SC error; only a new handle helps.

pub mod card;
pub mod stock_plugin;

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use yubikey::piv::{self, AlgorithmId};
use yubikey::{Error as YkError, PinPolicy, YubiKey};
use zeroize::Zeroizing;

use super::{KeyHolder, TokenError, TouchNotice};
use crate::pin::PinSource;
use crate::sign::KeyAlgorithm;
use card::{SlotInfo, Touch};

/// How long a `cached` touch is known to last (YubiKey: 15 s); a little less, so the agent
/// rather announces a touch that is not needed than keeps quiet about one that is.
const CACHED_TOUCH: Duration = Duration::from_secs(14);

/// Which YubiKey and which slot (from the config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PivSpec {
    /// The card's serial; `None` = the only YubiKey connected.
    pub serial: Option<u32>,
    /// The slot number, e.g. 0x82.
    pub slot: u8,
    /// The touch policy `init` found on the key (the card's metadata is checked at connect).
    pub touch: Touch,
}

/// An open card whose slot holds the expected key.
struct Open {
    yk: YubiKey,
    serial: u32,
    info: SlotInfo,
    /// VERIFY succeeded in this card session (policy `once`).
    pin_verified: bool,
}

/// The agent's PIV key holder: opens the card lazily, verifies the PIN as the key's policy
/// requires, and reopens the card after a removal on the next request.
pub struct PivHolder {
    spec: PivSpec,
    pin: PinSource,
    /// The public key the config's recipient names: the slot must hold this key.
    expected: [u8; 65],
    /// The touch is the approval (no approver program): refuse a key that needs none.
    require_touch: bool,
    card: Option<Open>,
    /// SHA-256 of the last PIN the card refused, so it is never presented again by itself.
    refused_pin: Option<[u8; 32]>,
    /// When the last touch-approved operation succeeded (policy `cached`).
    last_touch: Option<Instant>,
}

impl PivHolder {
    pub fn new(spec: PivSpec, pin: PinSource, expected: [u8; 65], require_touch: bool) -> Self {
        Self {
            spec,
            pin,
            expected,
            require_touch,
            card: None,
            refused_pin: None,
            last_touch: None,
        }
    }

    fn slot_name(&self) -> String {
        card::slot_name(self.spec.slot)
    }

    fn connect(&mut self) -> Result<&mut Open, TokenError> {
        if self.card.is_none() {
            let mut yk = card::open(self.spec.serial)?;
            let serial = yk.serial().0;
            let info = card::slot_info(&mut yk, self.spec.slot)?;
            if info.point != self.expected {
                return Err(TokenError::PivKeyMismatch {
                    slot: self.slot_name(),
                    serial,
                });
            }
            if self.require_touch && !info.touch.needs_touch() {
                return Err(TokenError::PivNoTouch {
                    slot: self.slot_name(),
                    serial,
                });
            }
            // The approver trusts `touch = "always"` to mean a fresh touch per operation
            // (step-up); a card key that demands less must not pass for it.
            if self.spec.touch == card::Touch::Always && info.touch != card::Touch::Always {
                return Err(TokenError::PivTouchWeaker {
                    slot: self.slot_name(),
                    serial,
                    card: info.touch.to_string(),
                });
            }
            if info.touch != self.spec.touch {
                crate::warn!(
                    "the key in slot {} has touch policy {}, the config says {}; using the card's",
                    self.slot_name(),
                    info.touch,
                    self.spec.touch
                );
            }
            crate::info!(
                "opened the YubiKey (serial {serial}, firmware {}), slot {}",
                yk.version(),
                self.slot_name()
            );
            self.last_touch = None;
            self.card = Some(Open {
                yk,
                serial,
                info,
                pin_verified: false,
            });
        }
        Ok(self.card.as_mut().expect("opened above"))
    }

    /// Drops the handle after the card went away; the next request opens it again.
    fn lost(&mut self, serial: u32) -> TokenError {
        self.card = None;
        TokenError::CardRemoved { serial }
    }

    /// After a PC/SC failure: true when the card answers again at once (a stale handle, not a
    /// card pulled during the operation), so the request can go on.
    fn reopens(&mut self) -> bool {
        self.card = None;
        self.connect().is_ok()
    }

    /// VERIFY when the key's PIN policy asks for it now.
    fn ensure_pin(&mut self) -> Result<(), TokenError> {
        let open = self.card.as_mut().expect("connected");
        let needed = match open.info.pin_policy {
            PinPolicy::Never => false,
            PinPolicy::Always => true,
            PinPolicy::Once | PinPolicy::Default => !open.pin_verified,
        };
        if !needed {
            return Ok(());
        }
        let serial = open.serial;
        let pin = self.pin.read(&format!(
            "PIN of the YubiKey (serial {serial}) to unseal apisec secrets"
        ))?;
        let digest: [u8; 32] = Sha256::digest(pin.expose_secret_bytes()).into();
        if self.refused_pin == Some(digest) {
            return Err(TokenError::PinRefusedBefore {
                source_name: self.pin.describe(),
            });
        }
        let open = self.card.as_mut().expect("connected");
        match open.yk.verify_pin(pin.expose_secret_bytes()) {
            Ok(()) => {
                open.pin_verified = true;
                self.refused_pin = None;
                Ok(())
            }
            // A blocked PIN refuses every PIN, right or wrong: nothing to remember about this one.
            Err(YkError::WrongPin { tries: 0 } | YkError::PinLocked) => {
                Err(TokenError::PivPinBlocked { serial })
            }
            Err(YkError::WrongPin { tries }) => {
                self.refused_pin = Some(digest);
                Err(TokenError::PivPinIncorrect { serial, tries })
            }
            Err(YkError::SizeError) => Err(TokenError::Piv {
                op: "VERIFY".into(),
                reason: "a PIV PIN has at most 8 characters; fix the PIN source".into(),
            }),
            Err(e) if card::card_gone(&e) => Err(self.lost(serial)),
            Err(e) => Err(card::yk_error("VERIFY", e)),
        }
    }

    /// The card answered 6982 to the ECDH: PIN not verified, or no touch in time. `Ok(true)`
    /// means the PIN was the reason (verify again and retry).
    fn pin_was_missing(&mut self) -> Result<bool, TokenError> {
        let open = self.card.as_mut().expect("connected");
        let serial = open.serial;
        match open.info.pin_policy {
            // The PIN was verified right before (policy always) or is never asked: the touch it is.
            PinPolicy::Always | PinPolicy::Never => Ok(false),
            PinPolicy::Once | PinPolicy::Default => match open.yk.verify_pin(&[]) {
                Ok(()) => Ok(false),
                Err(YkError::WrongPin { .. }) => {
                    // Another program reset the card since our VERIFY.
                    open.pin_verified = false;
                    Ok(true)
                }
                // The card answered the ECDH a moment ago and now fails a harmless VERIFY: it
                // went away under us (pulled while it waited for the touch).
                Err(_) => Err(self.lost(serial)),
            },
        }
    }
}

impl KeyHolder for PivHolder {
    fn ecdh(&mut self, peer: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, TokenError> {
        let slot = card::slot_id(self.spec.slot);
        // At most one second pass for each reason: the card had forgotten our PIN verification,
        // or the handle was stale (card removed and put back between two requests).
        let (mut reverified, mut reopened) = (false, false);
        loop {
            self.connect()?;
            let serial = self.card.as_ref().expect("connected").serial;
            match self.ensure_pin() {
                Err(TokenError::CardRemoved { .. }) if !reopened && self.reopens() => {
                    reopened = true;
                    continue;
                }
                other => other?,
            }
            let open = self.card.as_mut().expect("connected");
            let touch = open.info.touch;
            match piv::decrypt_data(&mut open.yk, peer, AlgorithmId::EccP256, slot) {
                Ok(shared) if shared.len() == 32 => {
                    if open.info.pin_policy == PinPolicy::Always {
                        open.pin_verified = false;
                    }
                    if touch == Touch::Cached {
                        self.last_touch = Some(Instant::now());
                    }
                    let mut out = Zeroizing::new([0u8; 32]);
                    out.copy_from_slice(&shared);
                    return Ok(out);
                }
                Ok(shared) => {
                    return Err(TokenError::BadKey(format!(
                        "the card's ECDH answer has {} bytes, not 32",
                        shared.len()
                    )))
                }
                Err(YkError::AuthenticationError) => {
                    if self.pin_was_missing()? && !reverified {
                        reverified = true;
                        continue;
                    }
                    return Err(if touch.needs_touch() {
                        TokenError::TouchNotReceived { serial }
                    } else {
                        TokenError::Piv {
                            op: "ECDH".into(),
                            reason: "the card refused: security status not satisfied (6982)".into(),
                        }
                    });
                }
                Err(e) if card::card_gone(&e) => {
                    let lost = self.lost(serial);
                    if !reopened && self.reopens() {
                        reopened = true;
                        continue;
                    }
                    return Err(lost);
                }
                Err(e) => return Err(card::yk_error("ECDH (GENERAL AUTHENTICATE)", e)),
            }
        }
    }

    fn sign(&mut self, _: &str, _: KeyAlgorithm, _: &[u8]) -> Result<Vec<u8>, TokenError> {
        Err(TokenError::NotSupported(
            "signing with API keys held on the token is not supported on PIV yet; keep such a \
             key in memory (`apisec-agent keygen --in-memory`), or use token.kind = \"pkcs11\" \
             with ykcs11"
                .into(),
        ))
    }

    fn release(&mut self) {
        // Dropping the handle resets the card: the PIN is forgotten and ykman can use it.
        self.card = None;
        self.last_touch = None;
    }

    fn touch_notice(&mut self) -> Option<TouchNotice> {
        // When the card cannot be opened, the unseal that follows says why.
        let open = self.connect().ok()?;
        let serial = open.serial;
        match open.info.touch {
            Touch::Never => None,
            Touch::Always => Some(TouchNotice {
                serial,
                cached: false,
            }),
            Touch::Cached => match self.last_touch {
                Some(t) if t.elapsed() < CACHED_TOUCH => None,
                _ => Some(TouchNotice {
                    serial,
                    cached: true,
                }),
            },
        }
    }
}
