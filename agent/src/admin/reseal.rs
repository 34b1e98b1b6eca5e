//! `apisec-agent reseal [NAME...]`: seal existing entries again to the config's current
//! recipients (after `backup add-recipient`, or to replace the tag of an entry from 0.1), keeping
//! each one's secret, policy and settings. Each entry is unsealed once with the token (its PIN,
//! and a touch where the card's policy asks for one), sealed anew with a new generation (its
//! creation time), then replaces the old entry after a backup of it: `kill -9` at any moment
//! leaves every entry whole, with the old recipients or the new. A running agent is told.

use std::path::Path;

use apisec_agent::store::{entry, EntryFile, SecretMaterial, Store};
use apisec_agent::timefmt;
use clap::Args;

use super::local_unseal::unseal_locally;
use super::new_entry::attest_if_token_key;
use super::{load_config, notify_agent, CmdResult};

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  apisec-agent reseal\n  apisec-agent reseal bitget-main --yes")]
pub struct ResealArgs {
    /// The entries to seal again [default: every entry sealed to other recipients than the
    /// config's]
    #[arg(add = super::name_candidates::existing_entry())]
    pub names: Vec<String>,
    /// Seal every entry again, even those already sealed to the current recipients
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// Do not ask before unsealing (the list is still printed)
    #[arg(long)]
    pub yes: bool,
}

pub fn run(config_path: &Path, a: ResealArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let wanted: Vec<String> = config.seal_to().iter().map(|r| r.to_string()).collect();
    let names = if a.names.is_empty() {
        store.names()?
    } else {
        a.names.clone()
    };
    let mut todo: Vec<EntryFile> = Vec::new();
    for name in names {
        let file = store.load(&name)?;
        if file.key_type.get().is_some_and(|k| k.in_token()) {
            // Its key lives on the token only: another recipient could open nothing of use, and
            // sealing it again would have the token attest it anew (`attest` is for that).
            println!("{name}: skipped (a key held on the token: nothing to seal for a backup)");
            continue;
        }
        let current = file.recipients.len() == wanted.len()
            && wanted.iter().all(|w| file.recipients.contains(w))
            && !apisec_agent::envelope::has_legacy_tag(&file.sealed, &config.recipients);
        if a.all || !a.names.is_empty() || !current {
            todo.push(file);
        }
    }
    if todo.is_empty() {
        println!("every entry is sealed to the current recipients; nothing to do");
        return Ok(());
    }
    println!("sealing again to {} recipient(s):", wanted.len());
    for w in &wanted {
        println!("  {w}");
    }
    println!(
        "entries ({}): {}",
        todo.len(),
        todo.iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !a.yes {
        // The owner's go-ahead: each entry is unsealed in this process.
        super::ask_yes(
            "unseal each of them with the token and seal it again?",
            "check the list above, then run again with --yes",
            "nothing resealed",
        )?;
    }
    for (done, old_file) in todo.iter().enumerate() {
        let old = unseal_locally(&config, old_file)
            .map_err(|e| e.hint(progress_hint(done, todo.len())))?;
        let mut meta = old.meta.clone();
        // A new generation: a copy of the old entry put back later is seen as a rollback.
        meta.created = timefmt::iso8601_seconds(timefmt::unix_secs());
        if meta.created <= old_file.created {
            // Two reseals within one second: the generation must still move forward.
            std::thread::sleep(std::time::Duration::from_secs(1));
            meta.created = timefmt::iso8601_seconds(timefmt::unix_secs());
        }
        let material = SecretMaterial {
            secret: old.secret(),
            passphrase: old.passphrase(),
        };
        let mut new_file = entry::seal(&meta, &material, &config.seal_to())?;
        attest_if_token_key(&config, &mut new_file)?;
        let backup = store.replace(old_file, &new_file)?;
        println!(
            "resealed {} to {} recipient(s); the old entry is in {}",
            old_file.name,
            new_file.recipients.len(),
            backup.display()
        );
    }
    if let Some(pid) = notify_agent(&config, None) {
        println!("told the running agent (pid {pid})");
    }
    Ok(())
}

fn progress_hint(done: usize, total: usize) -> String {
    format!(
        "{done} of {total} entries were resealed before this one; run `apisec-agent reseal` again \
         for the rest (each entry is whole, sealed to the old recipients or the new)"
    )
}
