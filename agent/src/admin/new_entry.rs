//! What making a new entry needs besides its settings: reading the secret (a file, stdin or a
//! no-echo prompt, never an argument), the public half of a key on the token, and sealing and
//! writing the entry (then telling a running agent).

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use apisec_agent::config::Config;
use apisec_agent::sign::{KeyAlgorithm, Preset};
use apisec_agent::store::{entry, EntryMeta, SecretMaterial, Store};
use apisec_agent::token::pkcs11;
use apisec_agent::token::TokenConfig;
use zeroize::Zeroizing;

use super::{notify_agent, CliError, CmdResult};

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
pub fn obtain(
    file: &Option<PathBuf>,
    what: &str,
    flag: &str,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
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

/// Refuses a key the exchange's preset cannot sign with.
pub fn check_key_fits(preset: &dyn Preset, algorithm: KeyAlgorithm) -> CmdResult {
    if preset.accepts_key(Some(algorithm)) {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "the {} preset does not sign with {algorithm:?} keys",
            preset.id()
        )))
    }
}

/// The label a token key of entry `name` gets.
pub fn token_label(name: &str) -> String {
    format!("apisec-key:{name}")
}

/// Runs `f` in a logged-in session on the configured PKCS#11 token.
pub fn with_session<T>(
    config: &Config,
    what: &str,
    f: impl FnOnce(&cryptoki::session::Session) -> Result<T, CliError>,
) -> Result<T, CliError> {
    with_token_session(config, what, |_, _, session| f(session))
}

/// [`with_session`], `f` told the module's context and the token's slot too.
pub fn with_token_session<T>(
    config: &Config,
    what: &str,
    f: impl FnOnce(
        &cryptoki::context::Pkcs11,
        cryptoki::slot::Slot,
        &cryptoki::session::Session,
    ) -> Result<T, CliError>,
) -> Result<T, CliError> {
    with_session_on(&config.token, what, f)
}

/// [`with_token_session`] on `token`, one of the config's (the primary or a backup).
pub fn with_session_on<T>(
    token: &TokenConfig,
    what: &str,
    f: impl FnOnce(
        &cryptoki::context::Pkcs11,
        cryptoki::slot::Slot,
        &cryptoki::session::Session,
    ) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let (spec, pin) = match token {
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
    f(&ctx, slot, &session)
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

/// For an entry of a token-held key: the token key signs the entry's statement
/// (`store::attest`), without which the agent will not use the entry. Other entries: nothing.
pub fn attest_if_token_key(config: &Config, file: &mut entry::EntryFile) -> CmdResult {
    let meta = file.meta();
    let Some(key_type) = meta.key_type.get() else {
        return Ok(());
    };
    if !key_type.in_token() {
        return Ok(());
    }
    let label = meta
        .token_key
        .clone()
        .ok_or_else(|| CliError::new("a token key entry without token_key"))?;
    let statement = apisec_agent::store::attest::statement(&meta);
    let signature = with_session(config, "attest the entry with its token key", |s| {
        Ok(match key_type.algorithm() {
            Some(algorithm) => pkcs11::sign_with_key(s, &label, algorithm, &statement)?,
            // An HMAC key on the token attests with its MAC (`add --in-token`).
            None => pkcs11::mac_with_key(
                s,
                &label,
                apisec_agent::sign::mac_key::Hash::Sha256,
                &statement,
            )?,
        })
    })?;
    file.attestation = Some(apisec_agent::store::attest::encode(&signature));
    Ok(())
}

/// Seals and writes a new entry, then tells a running agent.
pub fn write_entry(config: &Config, meta: &EntryMeta, material: &SecretMaterial<'_>) -> CmdResult {
    let mut file = entry::seal(meta, material, &config.seal_to())?;
    attest_if_token_key(config, &mut file)?;
    store_entry(config, meta, file)
}

/// Writes a sealed (and, for a token-held key, attested) new entry, says what it holds and what
/// it lacks, then tells a running agent.
pub fn store_entry(config: &Config, meta: &EntryMeta, file: entry::EntryFile) -> CmdResult {
    let store = Store::new(&config.store_dir);
    store.create(&file)?;
    println!(
        "sealed {} ({}) to {} recipient(s): {}",
        meta.name,
        meta.exchange,
        file.recipients.len(),
        store.entry_path(&meta.name).display()
    );
    if meta.key_type.get() == Some(apisec_agent::keys::KeyType::TokenHmac)
        && meta.token_copies.is_empty()
    {
        eprintln!(
            "warning: {}'s key is on the token only (no backup token holds it): if the token is \
             lost, so is this secret; keep a way to issue a new API key at the exchange",
            meta.name
        );
    } else if config.backups() == 0 {
        eprintln!(
            "warning: {} is sealed to one token only: if it is lost, so is this secret; add a \
             backup (`apisec-agent backup add-recipient` or `backup add-token`, then \
             `apisec-agent reseal`)",
            meta.name
        );
    }
    for note in meta.weakened() {
        eprintln!("warning: {} is weakened by choice: {note}", meta.name);
    }
    let separated = config.socket_group.is_some()
        || !config.allowed_uids.is_empty()
        || !config.admin_uids.is_empty();
    if separated
        && meta
            .policy
            .clients
            .as_ref()
            .is_some_and(|c| !c.executables.is_empty())
    {
        eprintln!(
            "warning: {}'s policy names [clients] executables, but this agent serves other uids: \
             it cannot read another uid's /proc/PID/exe, so a client of another uid is refused \
             as an unknown executable; the check is for the single-user set-up (name the bots' \
             uids in [clients] uids instead)",
            meta.name
        );
    }
    if let Some(pid) = notify_agent(config, None) {
        println!(
            "told the running agent (pid {pid}); unlock it with `apisec unlock {}`",
            meta.name
        );
    }
    Ok(())
}
