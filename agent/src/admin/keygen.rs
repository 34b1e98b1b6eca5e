//! `apisec-agent keygen`: an asymmetric API key (Binance Ed25519, Coinbase CDP) made on the token,
//! where it can sign but never be read, or in memory and sealed like a secret.

use std::path::Path;

use apisec_agent::config::{Config, TokenConfig};
use apisec_agent::keys::{self, KeyType};
use apisec_agent::secret::LockedBytes;
use apisec_agent::sign::KeyAlgorithm;
use apisec_agent::store::{EntryMeta, SecretMaterial, Store};
use apisec_agent::timefmt;
use apisec_agent::token::pkcs11;

use super::add::{check_common, check_key_fits, write_entry};
use super::args::KeygenArgs;
use super::{load_config, CliError, CmdResult};

pub fn parse_type(s: &str) -> Result<KeyAlgorithm, CliError> {
    match s {
        "ed25519" => Ok(KeyAlgorithm::Ed25519),
        "p256" | "es256" => Ok(KeyAlgorithm::P256),
        other => Err(CliError::new(format!(
            "--type {other:?} is not ed25519 or p256"
        ))),
    }
}

/// The label a token key of entry `name` gets.
pub fn token_label(name: &str) -> String {
    format!("apisec-key:{name}")
}

/// Opens a logged-in session on the configured token.
fn with_session<T>(
    config: &Config,
    what: &str,
    f: impl FnOnce(&cryptoki::session::Session) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let (spec, pin) = match &config.token {
        TokenConfig::Pkcs11 { spec, pin } => (spec, pin),
        TokenConfig::Piv { .. } => {
            return Err(CliError::new(
                "keys held on the token are not supported with token.kind = \"piv\" yet",
            )
            .hint("use `keygen --in-memory`, or token.kind = \"pkcs11\" with ykcs11"))
        }
    };
    let ctx = pkcs11::load_module(&spec.module)?;
    let slot = pkcs11::find_slot(&ctx, spec)?;
    let session = ctx
        .open_rw_session(slot)
        .map_err(|e| CliError::new(format!("cannot open a session on the token: {e}")))?;
    let pin = pin.read(&format!("PIN of the PKCS#11 token, to {what}"))?;
    pkcs11::login(&ctx, slot, &session, &pin.to_auth_pin())?;
    f(&session)
}

/// The public key of a token key made by keygen.
pub fn token_public_key(
    config: &Config,
    label: &str,
    algorithm: KeyAlgorithm,
) -> Result<Vec<u8>, CliError> {
    with_session(config, "read the key's public half", |s| {
        Ok(pkcs11::find_signing_key(s, label, algorithm)?.1)
    })
}

pub fn run(config_path: &Path, a: KeygenArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let common = check_common(&store, &a.name, &a.exchange, &a.entry, false)?;
    let algorithm = parse_type(&a.key_type)?;
    check_key_fits(common.preset, algorithm)?;
    let mut meta = EntryMeta {
        name: a.name.clone(),
        exchange: common.preset.id().to_owned(),
        api_key: a.api_key.clone().unwrap_or_default(),
        created: timefmt::iso8601_seconds(common.now),
        expires: common.expires.clone(),
        allow_raw: false,
        freshness: common.freshness.to_string(),
        key_type: String::new(),
        token_key: None,
        public_key: None,
        policy: common.policy.clone(),
    };
    if a.in_memory {
        if a.api_key.is_none() {
            return Err(CliError::new("--in-memory needs --api-key: the key exists only in its sealed entry")
                .hint("make the key on the token (drop --in-memory), or import one with `add --private-key-file`"));
        }
        let secret = keys::generate(algorithm);
        let soft =
            keys::SoftKey::new(algorithm, LockedBytes::new(&secret)).map_err(CliError::new)?;
        let public = soft.public_key().map_err(CliError::new)?;
        meta.key_type = KeyType::software(algorithm).as_str().into();
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
            meta.key_type = KeyType::token(algorithm).as_str().into();
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
    let pem = keys::public_key_pem(algorithm, public).map_err(CliError::new)?;
    println!("{algorithm:?} key {how}");
    println!("public key (the form {exchange} asks for):");
    print!("{pem}");
    Ok(())
}
