//! A `[token]` (or `[[backup_tokens]]`) section: which token, its key, where its PIN comes from.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::pin::PinSource;
use crate::token::piv::card::{self, Touch};
use crate::token::piv::PivSpec;
use crate::token::pkcs11::Pkcs11Spec;
use crate::token::TokenConfig;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenSection {
    /// `pkcs11`, or `piv` (a YubiKey PIV slot, natively through pcscd).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_label: Option<String>,
    /// `piv`: the YubiKey's serial (needed when several are connected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
    /// `piv`: the key's slot, hex (e.g. "82").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// `piv`: the key's touch policy (`always`, `cached`, `never`), as `init` found it; with
    /// `always` or `cached` and no approver, the touch approves each unseal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch_policy: Option<String>,
    /// Name of an environment variable holding the PIN (CI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_env: Option<String>,
    /// A 0600 file whose first line is the PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_file: Option<PathBuf>,
    /// The pinentry program used when neither pin_env nor pin_file is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinentry: Option<String>,
    /// The age recipient of the token's key, derived at `init`: sealing needs only this.
    pub recipient: String,
}

impl TokenSection {
    /// The token this section names, checked; `key` names the section in errors (`token`,
    /// `backup_tokens[1]`).
    pub(super) fn to_config(&self, key: &str) -> Result<TokenConfig, String> {
        let t = self;
        let pin = match (&t.pin_env, &t.pin_file) {
            (Some(_), Some(_)) => return Err(format!("{key}: set pin_env or pin_file, not both")),
            (Some(v), None) => PinSource::Env(v.clone()),
            (None, Some(f)) => PinSource::File(f.clone()),
            (None, None) => {
                PinSource::Pinentry(t.pinentry.clone().unwrap_or_else(|| "pinentry".into()))
            }
        };
        let token = match t.kind.as_str() {
            "pkcs11" => {
                let module = t
                    .module
                    .clone()
                    .ok_or_else(|| format!("{key}.module is required for kind = \"pkcs11\""))?;
                let key_label = t
                    .key_label
                    .clone()
                    .ok_or_else(|| format!("{key}.key_label is required for kind = \"pkcs11\""))?;
                if t.token_label.is_some() && t.slot_id.is_some() {
                    return Err(format!("{key}: set token_label or slot_id, not both"));
                }
                TokenConfig::Pkcs11 {
                    spec: Pkcs11Spec {
                        module,
                        token_label: t.token_label.clone(),
                        slot_id: t.slot_id,
                        key_label,
                    },
                    pin,
                }
            }
            "piv" => {
                if t.module.is_some() || t.key_label.is_some() || t.token_label.is_some() {
                    return Err(format!(
                        "{key}: module, token_label and key_label are for kind = \"pkcs11\"; \
                     kind = \"piv\" uses serial and slot"
                    ));
                }
                let slot = card::parse_slot(t.slot.as_deref().unwrap_or("82"))
                    .map_err(|e| format!("{key}.slot: {e}"))?;
                let touch = t.touch_policy.as_deref().ok_or_else(|| {
                    format!("{key}.touch_policy is required for kind = \"piv\" (init writes it)")
                })?;
                let touch = Touch::parse(touch).ok_or_else(|| {
                    format!(
                        "{key}.touch_policy = {touch:?}: use \"always\", \"cached\" or \"never\""
                    )
                })?;
                TokenConfig::Piv {
                    spec: PivSpec {
                        serial: t.serial,
                        slot,
                        touch,
                    },
                    pin,
                }
            }
            other => {
                return Err(format!(
                    "{key}.kind = {other:?} is not supported; use \"pkcs11\" or \"piv\""
                ))
            }
        };
        Ok(token)
    }
}
