//! `apisec-agent add`: seal a new secret to the store's recipients. Needs neither the token nor a
//! running agent. The secret comes from a no-echo prompt, a file or stdin: never from argv or the
//! environment, where other processes could read it.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use apisec_agent::config::Config;
use apisec_agent::keys::{self, KeyType};
use apisec_agent::policy::{self, ExpiryState, Policy};
use apisec_agent::secret::LockedBytes;
use apisec_agent::sign::exchanges;
use apisec_agent::sign::Freshness;
use apisec_agent::sign::KeyAlgorithm;
use apisec_agent::store::{self, entry, EntryMeta, SecretMaterial, Store};
use apisec_agent::timefmt;
use zeroize::Zeroizing;

use super::args::{AddArgs, EntryArgs};
use super::{load_config, notify_agent, CliError, CmdResult};

/// Reads a file ('-' = stdin), dropping one trailing newline.
pub fn read_source(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
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

/// What every new entry needs, checked: the preset, the freshness, the expiry, the policy.
pub struct Common {
    pub preset: &'static dyn apisec_agent::sign::Preset,
    pub freshness: Freshness,
    pub now: u64,
    pub expires: Option<String>,
    pub allow_raw: bool,
    pub policy: Policy,
}

/// A value given both by a flag and by the policy file must agree.
fn merge<T: PartialEq + std::fmt::Debug + Clone>(
    flag: Option<T>,
    file: Option<T>,
    what: &str,
) -> Result<Option<T>, CliError> {
    match (flag, file) {
        (Some(a), Some(b)) if a != b => Err(CliError::new(format!(
            "--{what} {a:?} contradicts {what} = {b:?} in the policy file; give it in one place"
        ))),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

pub fn check_common(
    store: &Store,
    name: &str,
    exchange: &str,
    entry_args: &EntryArgs,
    allow_raw: bool,
) -> Result<Common, CliError> {
    store::check_name(name)?;
    let (expires, freshness, policy_file) = (
        &entry_args.expires,
        &entry_args.freshness,
        &entry_args.policy,
    );
    let (policy, settings) = match policy_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::new(format!("cannot read the policy {}: {e}", path.display()))
            })?;
            policy::file::parse(&text)
                .map_err(|e| CliError::new(format!("policy {}: {e}", path.display())))?
        }
        None => (Policy::standard(), policy::file::EntrySettings::default()),
    };
    let expires = merge(expires.clone(), settings.expires, "expires")?;
    let freshness =
        merge(freshness.clone(), settings.freshness, "freshness")?.unwrap_or_else(|| "5s".into());
    let allow_raw =
        merge(allow_raw.then_some(true), settings.allow_raw, "allow-raw")?.unwrap_or(false);
    let expires = &expires;
    let freshness = freshness.as_str();
    let preset = exchanges::by_id(exchange).ok_or_else(|| {
        CliError::new(format!("unknown exchange {exchange:?}"))
            .hint(format!("known exchanges: {}", exchanges::ids().join(", ")))
    })?;
    let freshness =
        Freshness::parse(freshness).map_err(|e| CliError::new(format!("--freshness: {e}")))?;
    let now = timefmt::unix_secs();
    if let Some(exp) = expires {
        if timefmt::parse_date(exp).is_none() {
            return Err(CliError::new(format!(
                "--expires {exp:?} is not a date of the form YYYY-MM-DD"
            )));
        }
        if policy::expiry_state(Some(exp), now) == ExpiryState::Expired {
            return Err(CliError::new(format!("--expires {exp} is in the past")));
        }
    }
    if store.entry_path(name).exists() {
        return Err(store::StoreError::Exists(name.to_owned()).into());
    }
    Ok(Common {
        preset,
        freshness,
        now,
        expires: expires.clone(),
        allow_raw,
        policy,
    })
}

/// Seals and writes a new entry, then tells a running agent.
pub fn write_entry(config: &Config, meta: &EntryMeta, material: &SecretMaterial<'_>) -> CmdResult {
    let store = Store::new(&config.store_dir);
    let file = entry::seal(meta, material, &config.recipients)?;
    store.create(&file)?;
    println!(
        "sealed {} ({}) to {} recipient(s): {}",
        meta.name,
        meta.exchange,
        config.recipients.len(),
        store.entry_path(&meta.name).display()
    );
    if let Some(pid) = notify_agent(config, None) {
        println!(
            "told the running agent (pid {pid}); unlock it with `apisec unlock {}`",
            meta.name
        );
    }
    Ok(())
}

pub fn run(config_path: &Path, a: AddArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let common = check_common(&store, &a.name, &a.exchange, &a.entry, a.allow_raw)?;
    let preset = common.preset;
    if a.secret_file.as_deref() == Some(Path::new("-"))
        && a.passphrase_file.as_deref() == Some(Path::new("-"))
    {
        return Err(CliError::new(
            "--secret-file and --passphrase-file cannot both be '-' (stdin)",
        ));
    }
    let mut meta = EntryMeta {
        name: a.name.clone(),
        exchange: preset.id().to_owned(),
        api_key: String::new(),
        created: timefmt::iso8601_seconds(common.now),
        expires: common.expires.clone(),
        allow_raw: common.allow_raw,
        freshness: common.freshness.to_string(),
        key_type: KeyType::Hmac.as_str().into(),
        token_key: None,
        public_key: None,
        policy: common.policy.clone(),
    };
    if let Some(path) = &a.private_key_file {
        let text = read_source(path, "private key")?;
        let text = std::str::from_utf8(&text)
            .map_err(|_| CliError::new("the private key file is not text"))?;
        let key = keys::import(text).map_err(CliError::new)?;
        check_key_fits(preset, key.algorithm)?;
        let soft = keys::SoftKey::new(key.algorithm, LockedBytes::new(&key.secret))
            .map_err(CliError::new)?;
        meta.api_key = a.api_key.clone().or(key.key_id.clone()).ok_or_else(|| {
            CliError::new("the key file names no key id").hint("pass --api-key ID")
        })?;
        meta.key_type = KeyType::software(key.algorithm).as_str().into();
        meta.public_key = Some(hex::encode(soft.public_key().map_err(CliError::new)?));
        return write_entry(
            &config,
            &meta,
            &SecretMaterial {
                secret: &key.secret,
                passphrase: None,
            },
        );
    }
    meta.api_key = match &a.api_key {
        Some(k) => k.clone(),
        None => {
            return Err(CliError::new(format!(
                "the {} preset sends an API key id with every request",
                preset.id()
            ))
            .hint("pass --api-key ID (the public key id the exchange shows beside the secret)"))
        }
    };
    if let Some(label) = &a.token_key {
        let algorithm = super::keygen::parse_type(&a.key_type)?;
        check_key_fits(preset, algorithm)?;
        let public = super::keygen::token_public_key(&config, label, algorithm)?;
        meta.key_type = KeyType::token(algorithm).as_str().into();
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
        let material = SecretMaterial {
            secret: &secret,
            passphrase: passphrase.as_ref().map(|p| &p[..]),
        };
        return write_entry(&config, &meta, &material);
    }
    Err(CliError::new(format!(
        "the {} preset signs with an asymmetric key, not an HMAC secret",
        preset.id()
    ))
    .hint("import one with --private-key-file FILE, or create one with `apisec-agent keygen`"))
}

/// Refuses a key the exchange's preset cannot sign with.
pub fn check_key_fits(
    preset: &dyn apisec_agent::sign::Preset,
    algorithm: KeyAlgorithm,
) -> CmdResult {
    if preset.accepts_key(Some(algorithm)) {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "the {} preset does not sign with {algorithm:?} keys",
            preset.id()
        )))
    }
}
