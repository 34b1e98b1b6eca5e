//! Secrets held on the PKCS#11 token (`add --in-token`, and their `rotate` and `remove`): the
//! bytes the exchange keys its HMAC with, imported as a sensitive, non-extractable key object
//! that may only sign; the adding process's copies wiped; the entry (which then seals only the
//! passphrase) attested by the token's own HMAC of its statement, so that an entry naming the
//! key with another policy is refused. Each token is one logged-in session: one PIN per token.

use apisec_agent::config::Config;
use apisec_agent::sign::mac_key::{mac_key_bytes, Hash, KeyForm, MacKey, MemoryMacKey};
use apisec_agent::sign::Preset;
use apisec_agent::store::{attest, entry, EntryFile, EntryMeta, SecretMaterial};
use apisec_agent::token::pkcs11;
use cryptoki::session::Session;

use super::new_entry::{with_session, with_session_on, with_token_session};
use super::{CliError, CmdResult};

/// The label of a new key object for entry `name`: a fresh suffix each time, so that a rotation
/// imports the new key beside the old one before the old one is destroyed.
pub fn new_label(name: &str) -> String {
    format!(
        "apisec-hmac:{name}:{}",
        hex::encode(rand::random::<[u8; 4]>())
    )
}

/// Imports the MAC key of `secret` as `meta.token_key` into the primary token and into every
/// PKCS#11 backup token that can take it (the entry records which: `token_copies`), checks each
/// token MACs as the agent would in memory, seals `meta` with `passphrase`, attests it with the
/// primary and hands the entry to `store`; if anything fails after the import, the new key
/// objects are destroyed again. Once stored, the key objects `retire` (the ones a rotation
/// replaces, and its copies) are destroyed.
pub fn import_and_store(
    config: &Config,
    preset: &dyn Preset,
    meta: &EntryMeta,
    secret: &[u8],
    passphrase: Option<&[u8]>,
    retire: Option<(&str, &[String])>,
    store: impl FnOnce(EntryFile) -> CmdResult,
) -> CmdResult {
    let (retire, retired_copies) = match retire {
        Some((label, copies)) => (Some(label), copies.to_vec()),
        None => (None, Vec::new()),
    };
    let label = meta
        .token_key
        .clone()
        .expect("an in-token entry names its key");
    let key = mac_key_bytes(preset.id(), secret, preset.mac_key_form())?;
    with_token_session(
        config,
        "import the secret into the token",
        |ctx, slot, session| {
            for hash in [preset.mac_hash(), Hash::Sha256] {
                pkcs11::check_hmac_support(ctx, slot, hash, key.len())?;
            }
            pkcs11::import_hmac_key(session, &label, &key)?;
            let mut meta = meta.clone();
            meta.token_copies = copy_to_backups(config, preset, &label, &key);
            let stored = check_and_store(session, preset, &meta, &key, passphrase, config, store);
            if stored.is_err() {
                let _ = pkcs11::destroy_hmac_key(session, &label);
                destroy_on_backups(config, &meta.token_copies, &label);
                return stored;
            }
            if let Some(old) = retire {
                say_destroyed("the token", old, pkcs11::destroy_hmac_key(session, old));
                destroy_on_backups(config, &retired_copies, old);
            }
            Ok(())
        },
    )
}

fn check_and_store(
    session: &Session,
    preset: &dyn Preset,
    meta: &EntryMeta,
    key: &[u8],
    passphrase: Option<&[u8]>,
    config: &Config,
    store: impl FnOnce(EntryFile) -> CmdResult,
) -> CmdResult {
    let label = meta.token_key.as_deref().expect("named");
    // The token's MAC must be the one the agent computes in memory (a token that truncates or
    // pads keys would sign every request wrongly).
    let probe = b"apisec-agent in-token check";
    let hash = preset.mac_hash();
    let on_token = pkcs11::mac_with_key(session, label, hash, probe)?;
    let in_memory = MemoryMacKey::new(preset.id(), key, KeyForm::AsShown)?
        .mac(hash, &[probe])
        .map_err(CliError::new)?;
    if !apisec_agent::secret::same_bytes(&on_token, &in_memory) {
        return Err(CliError::new(
            "the token's HMAC with the imported key differs from the exchange's; the key was \
             not kept: add the secret without --in-token",
        ));
    }
    if !pkcs11::is_sealed_in(session, label)? {
        return Err(CliError::new(
            "the token did not keep the imported key sensitive and non-extractable; the key \
             was not kept: add the secret without --in-token",
        ));
    }
    let mut file = entry::seal(
        meta,
        &SecretMaterial {
            secret: b"",
            passphrase,
        },
        &config.seal_to(),
    )?;
    let attestation = pkcs11::mac_with_key(session, label, Hash::Sha256, &attest::statement(meta))?;
    file.attestation = Some(attest::encode(&attestation));
    store(file)
}

/// Imports `key` as `label` into each PKCS#11 backup token that takes it, checking its MAC;
/// the recipients of those that hold it. One that cannot (absent, another kind, no mechanism)
/// is said, and left out.
fn copy_to_backups(config: &Config, preset: &dyn Preset, label: &str, key: &[u8]) -> Vec<String> {
    let mut copies = Vec::new();
    for (token, recipient) in &config.backup_tokens {
        let what = format!("copy the secret into the backup token {recipient}");
        let copied = with_session_on(token, &what, |ctx, slot, session| {
            for hash in [preset.mac_hash(), Hash::Sha256] {
                pkcs11::check_hmac_support(ctx, slot, hash, key.len())?;
            }
            pkcs11::import_hmac_key(session, label, key)?;
            let probe = b"apisec-agent in-token check";
            let on_token = pkcs11::mac_with_key(session, label, preset.mac_hash(), probe);
            let in_memory = MemoryMacKey::new(preset.id(), key, KeyForm::AsShown)?
                .mac(preset.mac_hash(), &[probe])
                .map_err(CliError::new)?;
            if !on_token.is_ok_and(|m| apisec_agent::secret::same_bytes(&m, &in_memory)) {
                let _ = pkcs11::destroy_hmac_key(session, label);
                return Err(CliError::new("its HMAC differs from the exchange's"));
            }
            Ok(())
        });
        match copied {
            Ok(()) => {
                println!("copied the secret into the backup token {recipient}");
                copies.push(recipient.to_string());
            }
            Err(e) => eprintln!(
                "warning: the backup token {recipient} holds no copy of the secret: {}",
                e.message
            ),
        }
    }
    copies
}

/// Destroys `label` on the backup tokens among `copies`, saying what is left where it cannot.
pub fn destroy_on_backups(config: &Config, copies: &[String], label: &str) {
    for (token, recipient) in &config.backup_tokens {
        if !copies.contains(&recipient.to_string()) {
            continue;
        }
        let what = format!("destroy the secret's key on the backup token {recipient}");
        let done = with_session_on(token, &what, |_, _, session| {
            Ok(pkcs11::destroy_hmac_key(session, label)?)
        })
        .map_err(|e| e.message);
        say_destroyed(&format!("the backup token {recipient}"), label, done);
    }
}

fn say_destroyed(token: &str, label: &str, done: Result<bool, impl std::fmt::Display>) {
    match done {
        Ok(true) => println!("destroyed the key {label:?} on {token}"),
        Ok(false) => println!("the key {label:?} was no longer on {token}"),
        Err(e) => eprintln!(
            "warning: the key {label:?} is left on {token} ({e}); delete it there with \
             `pkcs11-tool --module MODULE --login --delete-object --type secrkey --label {label}`"
        ),
    }
}

/// Destroys the key object `label` on the configured token; what is left is said when the
/// token cannot be reached.
pub fn destroy(config: &Config, label: &str) -> Result<bool, CliError> {
    with_session(config, "destroy the secret's key on the token", |session| {
        Ok(pkcs11::destroy_hmac_key(session, label)?)
    })
    .map_err(|e| {
        CliError::new(format!(
            "the secret's key {label:?} is left on the token: {}",
            e.message
        ))
        .hint(format!(
            "with the token present, delete it with `pkcs11-tool --module MODULE --login \
             --delete-object --type secrkey --label {label}`"
        ))
    })
}
