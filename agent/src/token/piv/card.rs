//! The YubiKey as the `yubikey` 0.8 crate sees it: finding the card, reading a slot's key and
//! policies (GET METADATA, firmware 5.2.3+), naming slots, and turning the crate's errors into
//! [`TokenError`]s that say what to do.

use std::fmt;

use yubikey::piv::{self, AlgorithmId, ManagementAlgorithmId, SlotId};
use yubikey::{Error as YkError, PinPolicy, Serial, TouchPolicy, YubiKey};

use crate::token::TokenError;

/// A slot's touch policy, as written in the config (`token.touch_policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    Never,
    Always,
    Cached,
}

impl Touch {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "never" => Some(Self::Never),
            "always" => Some(Self::Always),
            "cached" => Some(Self::Cached),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Always => "always",
            Self::Cached => "cached",
        }
    }

    /// Whether a key operation waits for a touch (so the touch can approve an unseal).
    pub fn needs_touch(self) -> bool {
        self != Self::Never
    }

    pub fn to_policy(self) -> TouchPolicy {
        match self {
            Self::Never => TouchPolicy::Never,
            Self::Always => TouchPolicy::Always,
            Self::Cached => TouchPolicy::Cached,
        }
    }

    /// `Default` cannot come back from GET METADATA (the card reports the effective policy);
    /// reading it as `never` is the safe side: the agent then does not count on a touch.
    fn from_policy(p: TouchPolicy) -> Self {
        match p {
            TouchPolicy::Always => Self::Always,
            TouchPolicy::Cached => Self::Cached,
            TouchPolicy::Never | TouchPolicy::Default => Self::Never,
        }
    }
}

impl fmt::Display for Touch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `"82"` -> 0x82. Only slots that hold a private key: 9a, 9c, 9d, 9e and the retired 82..95.
pub fn parse_slot(s: &str) -> Result<u8, String> {
    let bad = || {
        format!("{s:?} is not a PIV key slot: use 9a, 9c, 9d, 9e or a retired slot 82..95 (hex)")
    };
    let n = u8::from_str_radix(s.trim(), 16).map_err(|_| bad())?;
    match SlotId::try_from(n) {
        Ok(SlotId::Management(_) | SlotId::Attestation) | Err(_) => Err(bad()),
        Ok(_) => Ok(n),
    }
}

pub fn slot_id(slot: u8) -> SlotId {
    SlotId::try_from(slot).expect("slot numbers are checked by parse_slot")
}

pub fn slot_name(slot: u8) -> String {
    format!("{slot:02x}")
}

/// What a slot holds, from GET METADATA.
#[derive(Clone, Debug)]
pub struct SlotInfo {
    /// The public key, uncompressed SEC1.
    pub point: [u8; 65],
    pub pin_policy: PinPolicy,
    pub touch: Touch,
    pub generated_on_card: bool,
}

/// True when the card (or pcscd's view of it) is gone and the handle must be reopened.
pub fn card_gone(e: &YkError) -> bool {
    matches!(e, YkError::PcscError { .. })
}

/// The crate's error for `op`, in words.
pub fn yk_error(op: &str, e: YkError) -> TokenError {
    TokenError::Piv {
        op: op.to_owned(),
        reason: match e {
            YkError::PcscError { inner: Some(inner) } => format!("PC/SC: {inner}"),
            other => other.to_string(),
        },
    }
}

/// Opens the YubiKey with `serial`, or the only one connected.
pub fn open(serial: Option<u32>) -> Result<YubiKey, TokenError> {
    let result = match serial {
        Some(n) => YubiKey::open_by_serial(Serial(n)),
        None => YubiKey::open(),
    };
    result.map_err(|e| match e {
        YkError::NotFound => TokenError::PivNoCard {
            wanted: serial
                .map(|n| format!("with serial {n}"))
                .unwrap_or_else(|| "at all".into()),
            hint: if serial.is_some() {
                "; or fix token.serial in the config".into()
            } else {
                String::new()
            },
        },
        // `YubiKey::open` says "several cards" with a PC/SC error that has no inner error.
        YkError::PcscError { inner: None } if serial.is_none() => TokenError::PivSeveralCards,
        YkError::PcscError { inner: Some(inner) } => TokenError::PivPcscd(inner.to_string()),
        other => yk_error("opening the card", other),
    })
}

/// Reads the key in `slot`: it must be P-256, with policies reported (firmware 5.2.3+).
pub fn slot_info(yk: &mut YubiKey, slot: u8) -> Result<SlotInfo, TokenError> {
    let serial = yk.serial().0;
    let md = match piv::metadata(yk, slot_id(slot)) {
        Ok(md) => md,
        // 6A82 "not found" comes back as GenericError: an empty slot.
        Err(YkError::GenericError) => {
            return Err(TokenError::PivNoKey {
                slot: slot_name(slot),
                serial,
                hint: "create one with `apisec-agent init --yubikey --generate`".into(),
            })
        }
        Err(YkError::NotSupported) => {
            return Err(TokenError::NotSupported(format!(
                "the YubiKey (serial {serial}, firmware {}) does not support GET METADATA \
                 (firmware 5.2.3 or later needed); use kind = \"pkcs11\" with ykcs11 instead",
                yk.version()
            )))
        }
        Err(e) => return Err(yk_error("GET METADATA", e)),
    };
    if md.algorithm != ManagementAlgorithmId::Asymmetric(AlgorithmId::EccP256) {
        return Err(TokenError::BadKey(format!(
            "slot {} of the YubiKey (serial {serial}) holds a {:?} key; the agent needs EC P-256",
            slot_name(slot),
            md.algorithm
        )));
    }
    let (pin_policy, touch) = md.policy.ok_or_else(|| {
        TokenError::BadKey("the card did not report the key's PIN and touch policies".into())
    })?;
    let public = md
        .public
        .ok_or_else(|| TokenError::BadKey("the card did not report the public key".into()))?;
    let raw = public.subject_public_key.raw_bytes();
    let point: [u8; 65] = raw
        .try_into()
        .ok()
        .filter(|p: &[u8; 65]| p[0] == 0x04)
        .ok_or_else(|| {
            TokenError::BadKey(format!(
                "unexpected public key encoding ({} bytes)",
                raw.len()
            ))
        })?;
    Ok(SlotInfo {
        point,
        pin_policy,
        touch: Touch::from_policy(touch),
        generated_on_card: md.origin == Some(piv::Origin::Generated),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_key_slots_only() {
        assert_eq!(parse_slot("82"), Ok(0x82));
        assert_eq!(parse_slot("9a"), Ok(0x9a));
        assert_eq!(parse_slot("95"), Ok(0x95));
        for bad in ["9b", "f9", "80", "96", "zz", ""] {
            assert!(parse_slot(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn touch_policies_round_trip() {
        for t in [Touch::Never, Touch::Always, Touch::Cached] {
            assert_eq!(Touch::parse(t.as_str()), Some(t));
            assert_eq!(Touch::from_policy(t.to_policy()), t);
        }
        assert!(!Touch::Never.needs_touch() && Touch::Cached.needs_touch());
    }
}
