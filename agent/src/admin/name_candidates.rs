//! The secret names a shell completion offers for `apisec-agent rotate <Tab>` and the other
//! commands that take an existing entry: read from the store at each Tab.

use std::path::PathBuf;

use apisec_agent::completion;
use apisec_agent::store::Store;

use super::{config_path, load_config};

/// The entries of the store of the config on the line being completed (`--config`), else of the
/// default config. Nothing when the config or the store cannot be read: a completion prints no
/// errors.
pub fn secret_names() -> Vec<String> {
    let flag = completion::flag_on_line("config").map(PathBuf::from);
    let Ok(config) = load_config(&config_path(&flag)) else {
        return Vec::new();
    };
    Store::new(&config.store_dir).names().unwrap_or_default()
}

/// The argument extension that completes an existing entry's name.
pub fn existing_entry() -> completion::ArgValueCandidates {
    completion::names(secret_names)
}
