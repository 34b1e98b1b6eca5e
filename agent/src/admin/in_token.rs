//! Secrets held on the PKCS#11 token (`add --in-token`, and their `rotate` and `remove`): the
//! bytes the exchange keys its HMAC with, imported as a sensitive, non-extractable key object
//! that may only sign; the adding process's copies wiped; the entry (which then seals only the
//! passphrase) attested by the token's own HMAC of its statement, so that an entry naming the
//! key with another policy is refused. Everything happens in one logged-in session: one PIN.

use apisec_agent::config::Config;
use apisec_agent::sign::mac_key::{mac_key_bytes, Hash, KeyForm, MacKey, MemoryMacKey};
use apisec_agent::sign::Preset;
use apisec_agent::store::{attest, entry, EntryFile, EntryMeta, SecretMaterial};
use apisec_agent::token::pkcs11;
use cryptoki::session::Session;

use super::new_entry::{with_session, with_token_session};
use super::{CliError, CmdResult};

/// The label of a new key object for entry `name`: a fresh suffix each time, so that a rotation
/// imports the new key beside the old one before the old one is destroyed.
pub fn new_label(name: &str) -> String {
    format!(
        "apisec-hmac:{name}:{}",
        hex::encode(rand::random::<[u8; 4]>())
    )
}

/// Imports the MAC key of `secret` as `meta.token_key`, checks the token MACs as the agent
/// would in memory, seals `meta` with `passphrase`, attests it and hands the entry to `store`;
/// if anything fails after the import, the new key object is destroyed again. Once stored, the
/// key object `retire` (the one a rotation replaces) is destroyed, in the same session.
pub fn import_and_store(
    config: &Config,
    preset: &dyn Preset,
    meta: &EntryMeta,
    secret: &[u8],
    passphrase: Option<&[u8]>,
    retire: Option<&str>,
    store: impl FnOnce(EntryFile) -> CmdResult,
) -> CmdResult {
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
            let stored = check_and_store(session, preset, meta, &key, passphrase, config, store);
            if stored.is_err() {
                let _ = pkcs11::destroy_hmac_key(session, &label);
                return stored;
            }
            if let Some(old) = retire {
                match pkcs11::destroy_hmac_key(session, old) {
                    Ok(true) => println!("destroyed the old key {old:?} on the token"),
                    Ok(false) => println!("the old key {old:?} was no longer on the token"),
                    Err(e) => eprintln!(
                        "warning: the old key {old:?} is left on the token ({e}); delete it with \
                     `pkcs11-tool --module MODULE --login --delete-object --type secrkey \
                     --label {old}`"
                    ),
                }
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
