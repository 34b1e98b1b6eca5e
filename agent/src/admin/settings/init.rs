//! `init`'s values: where the token PIN comes from, and for a YubiKey the slot and the policies
//! a generated key gets.

use apisec_agent::pin::PinSource;
use apisec_agent::token::piv::card::{self, Touch};
use yubikey::PinPolicy;

use super::super::args::InitArgs;
use super::super::CliError;

/// Where the PIN comes from, as the flags say (pinentry when neither is given).
pub fn pin_source(a: &InitArgs) -> PinSource {
    match (&a.pin_env, &a.pin_file) {
        (Some(v), _) => PinSource::Env(v.clone()),
        (None, Some(f)) => PinSource::File(f.clone()),
        (None, None) => PinSource::Pinentry("pinentry".into()),
    }
}

/// A YubiKey's slot, and the touch and PIN policies a key generated there gets.
pub struct PivInit {
    pub slot: u8,
    pub touch: Touch,
    pub pin_policy: PinPolicy,
}

impl PivInit {
    pub fn from_args(a: &InitArgs) -> Result<Self, CliError> {
        let slot = card::parse_slot(a.slot.as_deref().unwrap_or("82"))
            .map_err(|e| CliError::new(format!("--slot: {e}")))?;
        let touch = match a.touch_policy.as_deref() {
            None => Touch::Cached,
            Some(t) => Touch::parse(t).ok_or_else(|| {
                CliError::new(format!("--touch-policy {t:?}: use always, cached or never"))
            })?,
        };
        let pin_policy = match a.pin_policy.as_deref() {
            None | Some("once") => PinPolicy::Once,
            Some("always") => PinPolicy::Always,
            Some("never") => PinPolicy::Never,
            Some(p) => {
                return Err(CliError::new(format!(
                    "--pin-policy {p:?}: use once, always or never"
                )))
            }
        };
        Ok(Self {
            slot,
            touch,
            pin_policy,
        })
    }
}
