//! `apisec-agent rotate`: replace a secret (and optionally its API key id), keeping its sealed
//! policy; a running agent switches to the new entry.

use std::io::IsTerminal;
use std::path::Path;

use apisec_agent::keys::KeyType;
use apisec_agent::sign::exchanges;
use apisec_agent::store::{entry, SecretMaterial, Store};
use apisec_agent::timefmt;

use super::args::RotateArgs;
use super::local_unseal::unseal_locally;
use super::new_entry::read_source;
use super::{load_config, notify_agent, CliError, CmdResult};

pub fn run(config_path: &Path, a: RotateArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let old_file = store.load(&a.name)?;
    let old = unseal_locally(&config, &old_file)?;
    let kind = old.meta.key_type.get();
    if !matches!(kind, Some(KeyType::Hmac | KeyType::TokenHmac)) {
        return Err(CliError::new(format!(
            "{} holds an asymmetric key; rotate replaces HMAC secrets",
            a.name
        ))
        .hint(
            "create a new key with `apisec-agent keygen`, register it, then remove the old entry",
        ));
    }
    let preset = exchanges::by_id(&old.meta.exchange).ok_or_else(|| {
        CliError::new(format!(
            "unknown exchange {:?} in the entry",
            old.meta.exchange
        ))
    })?;
    let secret = match &a.secret_file {
        Some(p) => read_source(p, "new secret")?,
        None if std::io::stdin().is_terminal() => {
            let s = zeroize::Zeroizing::new(
                rpassword::prompt_password("new secret (not shown): ")
                    .map_err(|e| CliError::new(e.to_string()))?,
            );
            zeroize::Zeroizing::new(s.as_bytes().to_vec())
        }
        None => {
            return Err(
                CliError::new("no new secret given and stdin is not a terminal")
                    .hint("pass --secret-file FILE, or --secret-file - to read it from stdin"),
            )
        }
    };
    preset.check_secret(&secret)?;
    let passphrase = match &a.passphrase_file {
        Some(p) => Some(read_source(p, "new passphrase")?),
        None => old
            .passphrase()
            .map(|p| zeroize::Zeroizing::new(p.to_vec())),
    };
    let now = apisec_agent::timefmt::unix_secs();
    let mut meta = old.meta.clone();
    if let Some(k) = &a.api_key {
        meta.api_key = k.clone();
    }
    meta.created = timefmt::iso8601_seconds(now);
    if meta.created <= old_file.created {
        // Two rotations within one second: the generation must still move forward, or the entry
        // rotated out could be put back as if it were the current one.
        std::thread::sleep(std::time::Duration::from_secs(1));
        meta.created = timefmt::iso8601_seconds(apisec_agent::timefmt::unix_secs());
    }
    if kind == Some(KeyType::TokenHmac) {
        // The new key is imported beside the old one, the entry replaced, then the old key
        // destroyed: a failure on the way leaves the old entry working.
        let retire = meta.token_key.clone().unwrap_or_default();
        let retired_copies = std::mem::take(&mut meta.token_copies);
        meta.token_key = Some(super::in_token::new_label(&a.name));
        super::in_token::import_and_store(
            &config,
            preset,
            &meta,
            &secret,
            passphrase.as_ref().map(|p| &p[..]),
            Some((&retire, &retired_copies)),
            |new_file| {
                let backup = store.replace(&old_file, &new_file)?;
                println!(
                    "rotated {} (policy kept; the new secret is on the token); the old entry is \
                     in {} (its key is destroyed: it cannot be restored)",
                    a.name,
                    backup.display()
                );
                Ok(())
            },
        )?;
        if let Some(pid) = notify_agent(&config, None) {
            println!("the running agent (pid {pid}) switched to the new secret");
        }
        return Ok(());
    }
    let mut new_file = entry::seal(
        &meta,
        &SecretMaterial {
            secret: &secret,
            passphrase: passphrase.as_ref().map(|p| &p[..]),
        },
        &config.seal_to(),
    )?;
    super::new_entry::attest_if_token_key(&config, &mut new_file)?;
    // Backup first, then the atomic replacement: a crash leaves the old entry or the new one.
    let backup = store.replace(&old_file, &new_file)?;
    println!(
        "rotated {} (policy kept); the old entry is in {}",
        a.name,
        backup.display()
    );
    if let Some(pid) = notify_agent(&config, None) {
        println!("the running agent (pid {pid}) switched to the new secret");
    }
    Ok(())
}
