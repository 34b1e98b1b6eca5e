//! `apisec-agent remove`: a secret out of the store (with its rotation backups, from which it
//! could otherwise be restored), and out of a running agent's memory.

use std::path::Path;

use apisec_agent::store::Store;

use super::args::RemoveArgs;
use super::{load_config, notify_agent, CmdResult};

pub fn run(config_path: &Path, a: RemoveArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let backups = store.backups_of(&a.name)?;
    store.remove(&a.name)?;
    println!("removed {}", a.name);
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
