//! `apisec-agent remove`: a secret out of the store, and out of a running agent's memory.

use std::path::Path;

use apisec_agent::store::Store;

use super::args::RemoveArgs;
use super::{load_config, notify_agent, CmdResult};

pub fn run(config_path: &Path, a: RemoveArgs) -> CmdResult {
    let config = load_config(config_path)?;
    Store::new(&config.store_dir).remove(&a.name)?;
    println!("removed {}", a.name);
    if let Some(pid) = notify_agent(&config, Some(&a.name)) {
        println!("the running agent (pid {pid}) forgot it");
    }
    Ok(())
}
