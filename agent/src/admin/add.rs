//! `apisec-agent add`: seal a new secret to the store's recipients. Needs neither the token nor a
//! running agent. The secret comes from a no-echo prompt, a file or stdin: never from argv or the
//! environment, where other processes could read it.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use apisec_agent::policy::{self, ExpiryState, Freshness};
use apisec_agent::sign::exchanges;
use apisec_agent::store::{self, entry, EntryMeta, SecretMaterial, Store};
use apisec_agent::timefmt;
use zeroize::Zeroizing;

use super::args::AddArgs;
use super::{load_config, notify_agent, CliError, CmdResult};

/// Reads a file ('-' = stdin), dropping one trailing newline.
fn read_source(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut buf = Zeroizing::new(Vec::new());
    let result = if path == Path::new("-") {
        std::io::stdin().lock().read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut buf))
    };
    result.map_err(|e| {
        CliError::new(format!(
            "cannot read the {what} from {}: {e}",
            path.display()
        ))
    })?;
    if buf.ends_with(b"\n") {
        buf.pop();
        if buf.ends_with(b"\r") {
            buf.pop();
        }
    }
    if buf.is_empty() {
        return Err(CliError::new(format!(
            "the {what} read from {} is empty",
            path.display()
        )));
    }
    Ok(buf)
}

fn prompt_hidden(prompt: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let s = Zeroizing::new(
        rpassword::prompt_password(prompt)
            .map_err(|e| CliError::new(format!("cannot read from the terminal: {e}")))?,
    );
    if s.is_empty() {
        return Err(CliError::new("nothing was entered"));
    }
    Ok(Zeroizing::new(s.as_bytes().to_vec()))
}

/// The secret or passphrase: from FILE if given, else a no-echo prompt on a terminal.
fn obtain(file: &Option<PathBuf>, what: &str, flag: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    match file {
        Some(p) => read_source(p, what),
        None if std::io::stdin().is_terminal() => prompt_hidden(&format!("{what} (not shown): ")),
        None => Err(
            CliError::new(format!("no {what} given and stdin is not a terminal")).hint(format!(
                "pass {flag} FILE, or {flag} - to read it from stdin"
            )),
        ),
    }
}

pub fn run(config_path: &Path, a: AddArgs) -> CmdResult {
    let config = load_config(config_path)?;
    store::check_name(&a.name)?;
    let preset = exchanges::by_id(&a.exchange).ok_or_else(|| {
        CliError::new(format!("unknown exchange {:?}", a.exchange))
            .hint(format!("known exchanges: {}", exchanges::ids().join(", ")))
    })?;
    let freshness =
        Freshness::parse(&a.freshness).map_err(|e| CliError::new(format!("--freshness: {e}")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if let Some(exp) = &a.expires {
        if timefmt::parse_date(exp).is_none() {
            return Err(CliError::new(format!(
                "--expires {exp:?} is not a date of the form YYYY-MM-DD"
            )));
        }
        if policy::expiry_state(Some(exp), now) == ExpiryState::Expired {
            return Err(CliError::new(format!("--expires {exp} is in the past")));
        }
    }
    if a.secret_file.as_deref() == Some(Path::new("-"))
        && a.passphrase_file.as_deref() == Some(Path::new("-"))
    {
        return Err(CliError::new(
            "--secret-file and --passphrase-file cannot both be '-' (stdin)",
        ));
    }
    let store = Store::new(&config.store_dir);
    if store.entry_path(&a.name).exists() {
        return Err(store::StoreError::Exists(a.name.clone()).into());
    }
    let api_key = match &a.api_key {
        Some(k) => k.clone(),
        None => {
            return Err(CliError::new(format!(
                "the {} preset sends an API key id with every request",
                preset.id()
            ))
            .hint("pass --api-key ID (the public key id the exchange shows beside the secret)"))
        }
    };
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
    let meta = EntryMeta {
        name: a.name.clone(),
        exchange: preset.id().to_owned(),
        api_key,
        created: timefmt::iso8601_seconds(now),
        expires: a.expires.clone(),
        allow_raw: a.allow_raw,
        freshness: freshness.to_string(),
    };
    let material = SecretMaterial {
        secret: &secret,
        passphrase: passphrase.as_ref().map(|p| &p[..]),
    };
    let file = entry::seal(&meta, &material, &config.recipients)?;
    store.create(&file)?;
    println!(
        "sealed {} ({}) to {} recipient(s): {}",
        a.name,
        preset.id(),
        config.recipients.len(),
        store.entry_path(&a.name).display()
    );
    if let Some(pid) = notify_agent(&config, None) {
        println!(
            "told the running agent (pid {pid}); unlock it with `apisec unlock {}`",
            a.name
        );
    }
    Ok(())
}
