//! `apisec-agent keygen`: an asymmetric API key (Binance Ed25519, Coinbase CDP) made on the token,
//! where it can sign but never be read, or in memory and sealed like a secret.

use std::path::Path;

use apisec_agent::keys::{self, KeyType};
use apisec_agent::secret::LockedBytes;
use apisec_agent::sign::KeyAlgorithm;
use apisec_agent::store::{SecretMaterial, Store};
use apisec_agent::token::pkcs11;

use super::args::KeygenArgs;
use super::new_entry::{check_key_fits, token_label, with_session, write_entry};
use super::settings::entry::NewEntry;
use super::settings::values;
use super::{load_config, CliError, CmdResult};

pub fn run(config_path: &Path, a: KeygenArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let new = NewEntry::from_args(&store, &a.name, &a.exchange, &a.entry, false)?;
    let algorithm = values::key_algorithm(&a.key_type)?;
    check_key_fits(new.preset, algorithm)?;
    let api_key = a.api_key.clone().unwrap_or_default();
    let meta = |key_type| {
        // A raw MAC has no meaning for an asymmetric key, whatever a policy file says.
        let mut meta = new.meta(&a.name, &api_key, key_type);
        meta.allow_raw = false;
        meta
    };
    if a.in_memory {
        if a.api_key.is_none() {
            return Err(CliError::new("--in-memory needs --api-key: the key exists only in its sealed entry")
                .hint("make the key on the token (drop --in-memory), or import one with `add --private-key-file`"));
        }
        let secret = keys::generate(algorithm);
        let soft = keys::SoftKey::new(algorithm, LockedBytes::new(&secret))?;
        let public = soft.public_key()?;
        let mut meta = meta(KeyType::software(algorithm));
        meta.public_key = Some(hex::encode(&public));
        print_public(
            &a.exchange,
            algorithm,
            &public,
            "generated in memory and sealed",
        )?;
        return write_entry(
            &config,
            &meta,
            &SecretMaterial {
                secret: &secret,
                passphrase: None,
            },
        );
    }
    let label = token_label(&a.name);
    let public = with_session(&config, "create the key", |s| {
        Ok(pkcs11::generate_signing_key(s, &label, algorithm)?)
    })?;
    print_public(
        &a.exchange,
        algorithm,
        &public,
        &format!("generated on the token as {label:?}; the private key cannot leave the token"),
    )?;
    match a.api_key {
        Some(_) => {
            let mut meta = meta(KeyType::token(algorithm));
            meta.token_key = Some(label);
            meta.public_key = Some(hex::encode(&public));
            write_entry(
                &config,
                &meta,
                &SecretMaterial {
                    secret: b"",
                    passphrase: None,
                },
            )
        }
        None => {
            println!(
                "\nregister this public key at {}; with the API key id it gives you, run:\n  \
                 apisec-agent add {} --exchange {} --api-key ID --token-key {label} --type {}",
                a.exchange, a.name, a.exchange, a.key_type
            );
            Ok(())
        }
    }
}

fn print_public(exchange: &str, algorithm: KeyAlgorithm, public: &[u8], how: &str) -> CmdResult {
    let pem = keys::public_key_pem(algorithm, public)?;
    println!("{algorithm:?} key {how}");
    println!("public key (the form {exchange} asks for):");
    print!("{pem}");
    Ok(())
}
