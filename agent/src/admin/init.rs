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
    let recipient = wrapping_recipient(&spec, &pin_source, a.generate)?;
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

/// The recipient of the token's wrapping key, generating the key pair first when asked. The
/// token is tried, not asked: a generated EC key that the token cannot derive with (a FIPS-mode
/// HSM, or a token behind `p11-kit server`) is taken back and an RSA key made instead.
fn wrapping_recipient(
    spec: &Pkcs11Spec,
    pin: &PinSource,
    generate: bool,
) -> Result<Recipient, CliError> {
    let ctx = pkcs11::load_module(&spec.module)?;
    let slot = pkcs11::find_slot(&ctx, spec)?;
    let session = ctx
        .open_rw_session(slot)
        .map_err(|e| CliError::new(format!("cannot open a session on the token: {e}")))?;
    let pin = pin.read("PIN of the PKCS#11 token for apisec-agent init")?;
    pkcs11::login(&ctx, slot, &session, &pin.to_auth_pin())?;
    let label = &spec.key_label;
    let key = match pkcs11::find_wrapping_key(&session, label) {
        Ok(key) if !generate => {
            pkcs11::try_unwrap(&session, &key).map_err(|e| {
                CliError::new(format!(
                    "the token cannot unseal with its key labelled {label:?}, {}: {e}",
                    key_kind(&key)
                ))
                .hint(if key.is_rsa() {
                    "choose another key, or --generate a new one with another --key-label"
                } else {
                    "--generate a key with another --key-label: where the token cannot derive, \
                     init makes an RSA key instead"
                })
            })?;
            key
        }
        Ok(_) => {
            return Err(CliError::new(format!(
                "a key labelled {label:?} already exists on the token"
            ))
            .hint("drop --generate to use it, or choose another --key-label"))
        }
        Err(TokenError::KeyNotFound { .. }) if generate => generate_usable(&session, label)?,
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "the token unseals with its key labelled {label:?}, {}: entries are sealed with {}",
        key_kind(&key),
        key.recipient.stanza_kind()
    );
    Ok(key.recipient)
}

/// An EC P-256 key pair if the token derives with it, else (the EC pair destroyed) an RSA one.
/// Only a failure of the mechanism itself means "cannot derive"; any other (the link cut, the
/// token gone) is the answer, with the EC pair taken back.
fn generate_usable(
    session: &cryptoki::session::Session,
    label: &str,
) -> Result<pkcs11::WrapKey, CliError> {
    let ec = pkcs11::generate_ec_key(session, label)?;
    eprintln!("generated an EC P-256 key pair labelled {label:?} on the token");
    let derive_failed = match pkcs11::try_unwrap(session, &ec.key) {
        Ok(()) => return Ok(ec.key),
        Err(e) => e,
    };
    pkcs11::destroy_generated(session, &ec)?;
    if !mechanism_refused(&derive_failed) {
        return Err(trial_failed(
            "ECDH with the new key",
            &derive_failed,
            "the key pair was",
        ));
    }
    eprintln!(
        "the token cannot derive with it ({derive_failed}): removed it, and generating an \
         RSA-{} key pair instead (a few seconds)",
        pkcs11::RSA_MODULUS_BITS
    );
    let rsa = pkcs11::generate_rsa_key(session, label)?;
    if let Err(decrypt_failed) = pkcs11::try_unwrap(session, &rsa.key) {
        let _ = pkcs11::destroy_generated(session, &rsa);
        if !mechanism_refused(&decrypt_failed) {
            return Err(trial_failed(
                "decryption with the new RSA key",
                &decrypt_failed,
                "both key pairs were",
            ));
        }
        return Err(CliError::new(format!(
            "the token can neither derive with an EC key ({derive_failed}) nor decrypt with an \
             RSA key ({decrypt_failed}): it cannot hold apisec's wrapping key"
        ))
        .hint("the agent needs CKM_ECDH1_DERIVE (with CKD_NULL) or CKM_RSA_PKCS_OAEP (SHA-1)"));
    }
    Ok(rsa.key)
}

/// A trial that failed otherwise than by the mechanism (the link cut, the token gone): that is
/// the answer, with what was taken back.
fn trial_failed(trial: &str, e: &TokenError, removed: &str) -> CliError {
    CliError::new(format!("the trial {trial} failed ({e}); {removed} removed"))
        .hint("check the token (and the link to it), then run init again")
}

/// Whether the token refused the operation itself (the mechanism or its parameters), rather
/// than failing otherwise; a result that differs from the same ECDH in software counts too.
fn mechanism_refused(e: &TokenError) -> bool {
    match e {
        TokenError::Pkcs11 { rv, .. } => matches!(
            rv.as_str(),
            "CKR_MECHANISM_INVALID"
                | "CKR_MECHANISM_PARAM_INVALID"
                | "CKR_FUNCTION_NOT_SUPPORTED"
                | "CKR_KEY_TYPE_INCONSISTENT"
                | "CKR_KEY_FUNCTION_NOT_PERMITTED"
                | "CKR_ARGUMENTS_BAD"
                | "CKR_TEMPLATE_INCONSISTENT"
                | "CKR_ATTRIBUTE_VALUE_INVALID"
        ),
        TokenError::BadKey(_) => true,
        _ => false,
    }
}

fn key_kind(key: &pkcs11::WrapKey) -> String {
    match &key.recipient {
        Recipient::P256(_) => "an EC P-256 key".into(),
        Recipient::Rsa(r) => format!("an RSA-{} key", r.bits()),
    }
}
