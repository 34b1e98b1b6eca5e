//! What can go wrong with a token, in words that say what to do.

use std::path::PathBuf;

use crate::pin::PinError;

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
        "no token {wanted} in any slot of {module}; `pkcs11-tool --module {module} -L` lists \
         them{}",
        remote_hint(.module)
    )]
    NoToken { wanted: String, module: PathBuf },
    #[error(
        "no wrapping key (an EC P-256 or RSA private key) labelled {label:?} on the token; \
         create one with \
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
    #[error(
        "no HMAC key labelled {label:?} on the token (the secret added there with --in-token): \
         the token is another one, or was reset, or the key deleted; put the right token in, or \
         add the secret again (`apisec-agent rotate NAME` with the exchange's secret)"
    )]
    HmacKeyNotFound { label: String },
    /// Every token holding a copy of a key (the main token, then the backups) is away: each
    /// one's reason, in that order.
    #[error("no token holding this key is there ({})", .0.join("; "))]
    NoneThere(Vec<String>),
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
        "the token's key labelled {label:?} is {found}, not the one the config's recipient names \
         ({expected}): the key on the token was replaced since `init`; put the original key back, \
         or open the entries with a backup token (secrets sealed to the old key cannot be opened \
         with another)"
    )]
    Pkcs11KeyMismatch {
        label: String,
        found: String,
        expected: String,
    },
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
            Self::NoToken { .. }
                | Self::ModuleLoad { .. }
                | Self::PivNoCard { .. }
                | Self::NoneThere(_)
        )
    }
}

impl TokenError {
    /// A PKCS#11 session that failed this way is useless (the token was pulled out, the HSM
    /// failed over, the login is gone): open another.
    pub fn is_session_lost(&self) -> bool {
        super::pkcs11::session_lost_reported(self)
    }
}

/// For p11-kit's client module, which sees no token while its server is unreachable: where to
/// look (docs/operations.md, "A token on another host").
fn remote_hint(module: &std::path::Path) -> &'static str {
    let client = module
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("p11-kit-client"));
    if client {
        " (this module reaches a token on another host: is `p11-kit server` running there, and \
         its socket forwarded to $P11_KIT_SERVER_ADDRESS or $XDG_RUNTIME_DIR/p11-kit/pkcs11?)"
    } else {
        ""
    }
}
