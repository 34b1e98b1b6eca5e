//! `apisec-agent init`: find or create the wrapping key on the token, derive its age recipient,
//! write the config. A PKCS#11 token here; a YubiKey PIV slot in `init_piv.rs`.

use std::path::Path;

use apisec_agent::config::TokenSection;
use apisec_agent::envelope::Recipient;
use apisec_agent::pin::PinSource;
use apisec_agent::token::pkcs11::{self, Pkcs11Spec};
use apisec_agent::token::TokenError;

use super::args::InitArgs;
use super::settings::init::pin_source;
use super::{CliError, CmdResult};

pub fn run(config_path: &Path, a: InitArgs) -> CmdResult {
    if config_path.exists() && !a.force {
        return Err(CliError::new(format!(
            "a config already exists at {}",
            config_path.display()
        ))
        .hint("use --force to replace it, or --config FILE to write another one"));
    }
    if a.yubikey {
        return super::init_piv::run(config_path, a);
    }
    let token = token_section(&a)?;
    super::init_config::write_config(config_path, token, &a)
}

/// The `[token]` section for the PKCS#11 token the flags name: its key found (or generated with
/// `--generate`), its recipient derived. `init` writes it; `backup add-token` appends it.
pub fn token_section(a: &InitArgs) -> Result<TokenSection, CliError> {
    let (Some(module), Some(key_label)) = (a.pkcs11_module.clone(), a.key_label.clone()) else {
        return Err(CliError::new(
            "--pkcs11-module and --key-label are needed (or --yubikey)",
        ));
    };
    if a.touch_policy.is_some() || a.pin_policy.is_some() || a.management_key_file.is_some() {
        return Err(CliError::new(
            "--touch-policy, --pin-policy and --management-key-file are for --yubikey",
        )
        .hint("a PKCS#11 token's key policies are set with the token's own tools"));
    }
    let spec = Pkcs11Spec {
        module: module.clone(),
        token_label: a.token_label.clone(),
        slot_id: a.slot_id,
        key_label: key_label.clone(),
    };
    let pin_source = pin_source(a);
    let point = key_point(&spec, &pin_source, a.generate)?;
    let recipient = Recipient::from_sec1(&point).ok_or_else(|| {
        CliError::new("the token returned a public key that is not a valid P-256 point")
    })?;
    Ok(TokenSection {
        kind: "pkcs11".into(),
        module: Some(module),
        token_label: a.token_label.clone(),
        slot_id: a.slot_id,
        key_label: Some(key_label),
        pin_env: a.pin_env.clone(),
        pin_file: a.pin_file.clone(),
        recipient: recipient.to_string(),
        ..Default::default()
    })
}

/// The key's public point, generating the key pair first when asked.
fn key_point(spec: &Pkcs11Spec, pin: &PinSource, generate: bool) -> Result<Vec<u8>, CliError> {
    let ctx = pkcs11::load_module(&spec.module)?;
    let slot = pkcs11::find_slot(&ctx, spec)?;
    let session = ctx
        .open_rw_session(slot)
        .map_err(|e| CliError::new(format!("cannot open a session on the token: {e}")))?;
    let pin = pin.read("PIN of the PKCS#11 token for apisec-agent init")?;
    pkcs11::login(&ctx, slot, &session, &pin.to_auth_pin())?;
    match pkcs11::find_key(&session, &spec.key_label) {
        Ok((_, point)) if !generate => Ok(point),
        Ok(_) => Err(CliError::new(format!(
            "a key labelled {:?} already exists on the token",
            spec.key_label
        ))
        .hint("drop --generate to use it, or choose another --key-label")),
        Err(TokenError::KeyNotFound { .. }) if generate => {
            let point = pkcs11::generate_key(&session, &spec.key_label)?;
            eprintln!(
                "generated an EC P-256 key pair labelled {:?} on the token",
                spec.key_label
            );
            Ok(point)
        }
        Err(e) => Err(e.into()),
    }
}
