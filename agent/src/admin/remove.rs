//! `apisec-agent remove`: a secret out of the store (with its rotation backups, from which it
//! could otherwise be restored), and out of a running agent's memory.

use std::path::Path;

use apisec_agent::store::Store;

use clap::Args;

use super::{load_config, notify_agent, CmdResult};

#[derive(Args, Debug)]
#[command(
    after_help = "Revoke the API key at the exchange first; a running agent forgets the secret at \
    once.\n\nExample:\n  apisec-agent remove bitget-old"
)]
pub struct RemoveArgs {
    /// Name of the secret
    #[arg(add = super::name_candidates::existing_entry())]
    pub name: String,
    /// Keep the entry's rotation backups (STORE/backup/NAME.*.toml), from which the removed
    /// secret could be restored; by default they are removed with it
    #[arg(long)]
    pub keep_backups: bool,
}

pub fn run(config_path: &Path, a: RemoveArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let backups = store.backups_of(&a.name)?;
    // A secret on the token: its key object goes too (the entry first, so that the agent never
    // holds an entry whose key is gone).
    // (A damaged entry can still be removed: then no key is known to destroy.)
    let (token_key, token_copies) = store
        .load(&a.name)
        .ok()
        .filter(|f| f.key_type.get() == Some(apisec_agent::keys::KeyType::TokenHmac))
        .map(|f| (f.token_key, f.token_copies))
        .unwrap_or_default();
    store.remove(&a.name)?;
    println!("removed {}", a.name);
    if let Some(label) = &token_key {
        super::in_token::destroy_on_backups(&config, &token_copies, label);
        match super::in_token::destroy(&config, label) {
            Ok(true) => println!("destroyed its key {label:?} on the token"),
            Ok(false) => println!("its key {label:?} was no longer on the token"),
            Err(e) => {
                eprintln!("warning: {}", e.message);
                if let Some(hint) = &e.hint {
                    eprintln!("hint: {hint}");
                }
            }
        }
    }
    // The next entry of this name is a change the owner approves at its first unlock.
    let today = apisec_agent::timefmt::iso8601_seconds(apisec_agent::timefmt::unix_secs());
    if let Err(e) = apisec_agent::server::approved::ApprovedPolicies::new(&config.state_dir)
        .tombstone(&a.name, &today)
    {
        eprintln!(
            "warning: cannot mark {} removed in the agent's state ({}): {e}",
            a.name,
            config.state_dir.display()
        );
    }
    if a.keep_backups {
        for b in &backups {
            println!(
                "kept its rotation backup {} (it holds the old secret)",
                b.display()
            );
        }
    } else {
        for b in &backups {
            std::fs::remove_file(b).map_err(|e| apisec_agent::store::io_error(b.clone(), e))?;
            println!("removed its rotation backup {}", b.display());
        }
    }
    if let Some(pid) = notify_agent(&config, Some(&a.name)) {
        println!("the running agent (pid {pid}) forgot it");
    }
    Ok(())
}
