//! `apisec-agent attest NAME`: the token signs the statement of an entry for a token-held key
//! that was made before entries were attested (`store::attest`), once its owner has checked the
//! policy it carries. The agent refuses such an entry until then.

use std::path::Path;

use apisec_agent::store::{atomic, Store};

use super::args::AttestArgs;
use super::new_entry::attest_if_token_key;
use super::{load_config, notify_agent, CliError, CmdResult};

pub fn run(config_path: &Path, a: AttestArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let mut file = store.load(&a.name)?;
    if !file.key_type.get().is_some_and(|k| k.in_token()) {
        return Err(CliError::new(format!(
            "{} is not an entry of a token-held key; only those are attested",
            a.name
        )));
    }
    // Everything the attestation will vouch for, escaped (the entry may come from anyone).
    let e = apisec_agent::log::escaped;
    println!(
        "{}: {} key {} on the token, API key {}, created {}\n\
         expires: {}; freshness: {}; raw MAC: {}\npolicy: {}\n\
         check these against what you made: anyone with the token's recipient can seal such an \
         entry",
        e(&a.name),
        e(&file.exchange),
        e(file.token_key.as_deref().unwrap_or("?")),
        e(&file.api_key),
        e(&file.created),
        e(file.expires.as_deref().unwrap_or("never")),
        e(file.freshness.as_str()),
        if file.allow_raw { "allowed" } else { "off" },
        e(&file.policy.summary())
    );
    if !a.yes {
        super::ask_yes(
            "attest this entry with its token key?",
            "check the policy above, then run again with --yes",
            "not attested",
        )?;
    }
    attest_if_token_key(&config, &mut file)?;
    let path = store.entry_path(&a.name);
    atomic::write(&path, file.to_toml().as_bytes(), atomic::Mode::Replace)
        .map_err(|e| apisec_agent::store::io_error(path.clone(), e))?;
    println!("attested {} ({})", a.name, path.display());
    if let Some(pid) = notify_agent(&config, None) {
        println!("told the running agent (pid {pid})");
    }
    Ok(())
}
