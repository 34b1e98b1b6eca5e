//! A wrapping key on a PKCS#11 token: SoftHSM, YubiKey through ykcs11, network HSMs.
//!
//! Unsealing is one `C_DeriveKey` with `CKM_ECDH1_DERIVE`, `CKD_NULL` and the peer's raw 65-byte
//! point (accepted by SoftHSM 2.6 and ykcs11); the derived value is read from a session object that
//! is destroyed at once. A token that cannot derive has an RSA wrapping key instead, and unseals
//! with one `C_Decrypt` (`CKM_RSA_PKCS_OAEP`).
//!
//! - this file: which token ([`Pkcs11Spec`]), loading the module, finding the slot, logging in,
//!   and the token's errors (the PKCS#11 call that failed is named).
//! - [`objects`]: the keys on the token: the EC wrapping key, signing keys, ECDH, signatures.
//! - [`wrapping_key`]: the wrapping key of either kind (EC or RSA), RSA-OAEP, and the trial of
//!   the token that `init` chooses the kind by.
//! - [`secret_keys`]: HMAC keys on the token (`add --in-token`), and the sessions that MAC.
//! - [`holder`]: the agent's [`Pkcs11Holder`]: one session kept open, reopened when lost, and
//!   the sessions it opens for the pool of HMAC keys' MACs.

mod holder;
mod objects;
mod secret_keys;
mod wrapping_key;

pub use holder::Pkcs11Holder;
pub use objects::{find_signing_key, generate_signing_key, sign_with_key};
pub use secret_keys::{
    check_hmac_support, destroy_hmac_key, find_hmac_key, import_hmac_key, is_sealed_in,
    mac_with_key,
};
pub use wrapping_key::{
    destroy_generated, find_wrapping_key, generate_ec_key, generate_rsa_key, try_unwrap, Generated,
    WrapKey, RSA_MODULUS_BITS,
};

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::TokenError;

/// Which token and which key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Spec {
    pub module: PathBuf,
    pub token_label: Option<String>,
    pub slot_id: Option<u64>,
    pub key_label: String,
}

impl Pkcs11Spec {
    fn wanted(&self) -> String {
        match (&self.token_label, self.slot_id) {
            (Some(l), _) => format!("labelled {l:?}"),
            (None, Some(id)) => format!("in slot {id}"),
            (None, None) => "at all".into(),
        }
    }
}

/// `RvError::PinIncorrect` -> `CKR_PIN_INCORRECT`, the name users find in the PKCS#11 spec.
pub(super) fn rv_name(rv: &RvError) -> String {
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

pub(super) fn ck(e: CkError) -> TokenError {
    match e {
        CkError::Pkcs11(rv, function) => TokenError::Pkcs11 {
            function: format!("C_{function:?}"),
            rv: rv_name(&rv),
        },
        other => TokenError::Pkcs11 {
            function: "the PKCS#11 library".into(),
            rv: other.to_string(),
        },
    }
}

/// Return values after which the session is useless and a new one should be opened.
const SESSION_LOST: [RvError; 8] = [
    RvError::SessionHandleInvalid,
    RvError::SessionClosed,
    RvError::DeviceRemoved,
    RvError::TokenNotPresent,
    RvError::UserNotLoggedIn,
    RvError::DeviceError,
    RvError::KeyHandleInvalid,
    RvError::ObjectHandleInvalid,
];

/// True for errors after which the session is useless and a new one should be opened.
pub(super) fn session_lost(e: &CkError) -> bool {
    matches!(e, CkError::Pkcs11(rv, _) if SESSION_LOST.contains(rv))
}

/// [`session_lost`] for an error already reported as a [`TokenError`] (the key lookup's).
pub(super) fn session_lost_reported(e: &TokenError) -> bool {
    matches!(e, TokenError::Pkcs11 { rv, .. } if SESSION_LOST.iter().any(|lost| rv_name(lost) == *rv))
}

/// Loads and initializes a PKCS#11 module. `C_Initialize` may be called once per process, so the
/// agent keeps the one context of each module for its whole life, shared by every token of that
/// module (a primary and a backup token on one HSM, or two SoftHSM tokens).
pub fn load_module(module: &Path) -> Result<Pkcs11, TokenError> {
    let mut loaded = loaded();
    if let Some((_, ctx, users)) = loaded.iter_mut().find(|(path, _, _)| path == module) {
        *users += 1;
        return Ok(ctx.clone());
    }
    let ctx = initialize(module)?;
    loaded.push((module.to_owned(), ctx.clone(), 1));
    Ok(ctx)
}

/// Gives back a context [`load_module`] gave: the last user finalizes the module
/// (`C_Finalize`), so that the next load initializes it anew.
pub fn release_module(module: &Path, ctx: Pkcs11) {
    let mut loaded = loaded();
    let Some(i) = loaded.iter().position(|(path, _, _)| path == module) else {
        return;
    };
    loaded[i].2 -= 1;
    if loaded[i].2 > 0 {
        return;
    }
    loaded.remove(i);
    // Under the lock: a load meanwhile waits, and initializes the module anew after this.
    if let Err(e) = ctx.finalize() {
        crate::warn!("closing the PKCS#11 module {}: {e}", module.display());
    }
}

/// The modules loaded in this process: (path, context, how many users hold it).
fn loaded() -> std::sync::MutexGuard<'static, Vec<(std::path::PathBuf, Pkcs11, usize)>> {
    static LOADED: std::sync::Mutex<Vec<(std::path::PathBuf, Pkcs11, usize)>> =
        std::sync::Mutex::new(Vec::new());
    LOADED.lock().unwrap_or_else(|p| p.into_inner())
}

fn initialize(module: &Path) -> Result<Pkcs11, TokenError> {
    if !module.exists() {
        return Err(TokenError::ModuleLoad {
            module: module.to_owned(),
            reason: "no such file".into(),
        });
    }
    let ctx = Pkcs11::new(module).map_err(|e| TokenError::ModuleLoad {
        module: module.to_owned(),
        reason: e.to_string(),
    })?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| TokenError::ModuleLoad {
            module: module.to_owned(),
            reason: format!("C_Initialize failed: {}", ck(e)),
        })?;
    Ok(ctx)
}

/// Finds the slot holding the wanted token.
pub fn find_slot(ctx: &Pkcs11, spec: &Pkcs11Spec) -> Result<Slot, TokenError> {
    let slots = ctx.get_slots_with_token().map_err(ck)?;
    for slot in slots {
        if let Some(id) = spec.slot_id {
            if slot.id() == id {
                return Ok(slot);
            }
            continue;
        }
        match &spec.token_label {
            Some(label) => {
                let info = ctx.get_token_info(slot).map_err(ck)?;
                if info.label().trim_end() == label {
                    return Ok(slot);
                }
            }
            None => return Ok(slot),
        }
    }
    Err(TokenError::NoToken {
        wanted: spec.wanted(),
        module: spec.module.clone(),
    })
}

/// Logs in, telling a wrong PIN from a locked one and reporting what the token says of retries.
pub fn login(ctx: &Pkcs11, slot: Slot, session: &Session, pin: &AuthPin) -> Result<(), TokenError> {
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
            let retries = match ctx.get_token_info(slot) {
                Ok(i) if i.user_pin_locked() => "; the PIN is now locked".to_owned(),
                Ok(i) if i.user_pin_final_try() => {
                    "; one try is left before the PIN locks".to_owned()
                }
                Ok(i) if i.user_pin_count_low() => "; few tries are left".to_owned(),
                _ => String::new(),
            };
            Err(TokenError::PinIncorrect { retries })
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(TokenError::PinLocked),
        Err(e) => Err(ck(e)),
    }
}

#[cfg(test)]
mod tests;
