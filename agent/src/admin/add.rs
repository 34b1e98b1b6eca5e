//! `apisec-agent add`: seal a new secret to the store's recipients. Needs neither the token nor a
//! running agent. The secret comes from a no-echo prompt, a file or stdin: never from argv or the
//! environment, where other processes could read it.

use std::path::Path;

use apisec_agent::keys::{self, KeyType};
use apisec_agent::secret::LockedBytes;
use apisec_agent::store::{SecretMaterial, Store};

use super::args::AddArgs;
use super::in_token;
use super::new_entry::{
    check_key_fits, obtain, read_source, store_entry, token_public_key, write_entry,
};
use super::settings::entry::NewEntry;
use super::settings::values;
use super::{load_config, CliError, CmdResult};

pub fn run(config_path: &Path, a: AddArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let new = NewEntry::from_args(&store, &a.name, &a.exchange, &a.entry, a.allow_raw)?;
    let preset = new.preset;
    if a.secret_file.as_deref() == Some(Path::new("-"))
        && a.passphrase_file.as_deref() == Some(Path::new("-"))
    {
        return Err(CliError::new(
            "--secret-file and --passphrase-file cannot both be '-' (stdin)",
        ));
    }
    if let Some(path) = &a.private_key_file {
        let text = read_source(path, "private key")?;
        let text = std::str::from_utf8(&text)
            .map_err(|_| CliError::new("the private key file is not text"))?;
        let key = keys::import(text)?;
        check_key_fits(preset, key.algorithm)?;
        let soft = keys::SoftKey::new(key.algorithm, LockedBytes::new(&key.secret))?;
        let api_key = a.api_key.clone().or(key.key_id.clone()).ok_or_else(|| {
            CliError::new("the key file names no key id").hint("pass --api-key ID")
        })?;
        let mut meta = new.meta(&a.name, &api_key, KeyType::software(key.algorithm));
        meta.public_key = Some(hex::encode(soft.public_key()?));
        return write_entry(
            &config,
            &meta,
            &SecretMaterial {
                secret: &key.secret,
                passphrase: None,
            },
        );
    }
    let Some(api_key) = &a.api_key else {
        return Err(CliError::new(format!(
            "the {} preset sends an API key id with every request",
            preset.id()
        ))
        .hint("pass --api-key ID (the public key id the exchange shows beside the secret)"));
    };
    if let Some(label) = &a.token_key {
        let algorithm = values::key_algorithm(&a.key_type)?;
        check_key_fits(preset, algorithm)?;
        let public = token_public_key(&config, label, algorithm)?;
        let mut meta = new.meta(&a.name, api_key, KeyType::token(algorithm));
        meta.token_key = Some(label.clone());
        meta.public_key = Some(hex::encode(public));
        return write_entry(
            &config,
            &meta,
            &SecretMaterial {
                secret: b"",
                passphrase: None,
            },
        );
    }
    if a.in_token && !preset.accepts_key(None) {
        return Err(CliError::new(format!(
            "--in-token imports an HMAC secret, and the {} preset signs with an asymmetric key",
            preset.id()
        ))
        .hint("`apisec-agent keygen` makes that key on the token"));
    }
    if preset.accepts_key(None) {
        let secret = obtain(&a.secret_file, "secret", "--secret-file")?;
        preset.check_secret(&secret)?;
        let passphrase = if preset.needs_passphrase() || a.passphrase_file.is_some() {
            Some(obtain(
                &a.passphrase_file,
                "passphrase",
                "--passphrase-file",
            )?)
        } else {
            None
        };
        if a.in_token {
            let mut meta = new.meta(&a.name, api_key, KeyType::TokenHmac);
            meta.token_key = Some(in_token::new_label(&a.name));
            return in_token::import_and_store(
                &config,
                preset,
                &meta,
                &secret,
                passphrase.as_ref().map(|p| &p[..]),
                None,
                // The entry as made (with the backup tokens that took a copy).
                |file| store_entry(&config, &file.meta(), file),
            );
        }
        let material = SecretMaterial {
            secret: &secret,
            passphrase: passphrase.as_ref().map(|p| &p[..]),
        };
        return write_entry(
            &config,
            &new.meta(&a.name, api_key, KeyType::Hmac),
            &material,
        );
    }
    Err(CliError::new(format!(
        "the {} preset signs with an asymmetric key, not an HMAC secret",
        preset.id()
    ))
    .hint("import one with --private-key-file FILE, or create one with `apisec-agent keygen`"))
}
