//! The token the config names, and starting its owner thread: what the agent (`run`) and the
//! admin commands that need the token (`rotate`, `keygen`) share.

use std::time::Duration;

use super::piv::{PivHolder, PivSpec};
use super::pkcs11::{Pkcs11Holder, Pkcs11Spec};
use super::TokenHandle;
use crate::envelope::Recipient;
use crate::pin::PinSource;

/// Which token, and where its PIN comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenConfig {
    Pkcs11 { spec: Pkcs11Spec, pin: PinSource },
    Piv { spec: PivSpec, pin: PinSource },
}

impl TokenConfig {
    /// True when the token's touch can stand in for an approver (PIV, touch always or cached).
    pub fn touch_approves(&self) -> bool {
        matches!(self, Self::Piv { spec, .. } if spec.touch.needs_touch())
    }

    /// Where its PIN comes from.
    pub fn pin_source(&self) -> &PinSource {
        match self {
            Self::Pkcs11 { pin, .. } | Self::Piv { pin, .. } => pin,
        }
    }

    /// True when every use of the key takes a touch of its own (PIV, touch `always`).
    pub fn touch_is_fresh(&self) -> bool {
        matches!(self, Self::Piv { spec, .. } if spec.touch == super::piv::card::Touch::Always)
    }
}

/// How long an exiting process waits for the token to close its session and unload.
pub const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(10);

/// Starts the owner thread of the configured token; `recipient` is the key the token must hold
/// (a PIV slot's key, or a PKCS#11 token's wrapping key, is checked against it).
/// `touch_approves`: the card's touch is the approval.
pub fn spawn(token: &TokenConfig, recipient: &Recipient, touch_approves: bool) -> TokenHandle {
    match token {
        TokenConfig::Pkcs11 { spec, pin } => TokenHandle::spawn(Pkcs11Holder::new(
            spec.clone(),
            pin.clone(),
            recipient.clone(),
        )),
        TokenConfig::Piv { spec, pin } => TokenHandle::spawn(PivHolder::new(
            spec.clone(),
            pin.clone(),
            recipient
                .p256()
                .expect("the config refuses a PIV token with a recipient that is not P-256")
                .uncompressed(),
            touch_approves,
        )),
    }
}
