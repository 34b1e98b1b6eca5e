//! `apisec-agent backup add-recipient|list`: the recipients every entry is sealed to besides the
//! token: another YubiKey's `age1yubikey1...` kept in a safe, or an offline age X25519 key
//! (`rage-keygen`, `age-keygen`) kept on paper or offline media, which stock `rage -d -i key.txt`
//! opens without any token. The config is edited in place (its comments and layout kept), and
//! checked whole before it is written.

use std::path::Path;

use apisec_agent::config::ConfigFile;
use apisec_agent::envelope::SealTo;
use apisec_agent::store::{atomic, Store};

use super::args::{BackupCommand, InitArgs};
use super::{load_config, CliError, CmdResult};

pub fn run(config_path: &Path, command: BackupCommand) -> CmdResult {
    match command {
        BackupCommand::AddRecipient { recipient } => add_recipient(config_path, &recipient),
        BackupCommand::AddToken(a) => add_token(config_path, &a),
        BackupCommand::List => list(config_path),
    }
}

fn add_recipient(config_path: &Path, recipient: &str) -> CmdResult {
    let parsed: SealTo = recipient.trim().parse().map_err(CliError::new)?;
    let recipient = parsed.to_string();
    let config = load_config(config_path)?;
    if config.seal_to().iter().any(|r| r.to_string() == recipient) {
        println!("{recipient} is already a recipient; nothing changed");
        return Ok(());
    }
    edit_config(config_path, |doc| {
        let fresh = !doc.contains_key("backup_recipients");
        doc.entry("backup_recipients")
            .or_insert_with(|| toml_edit::value(toml_edit::Array::new()))
            .as_array_mut()
            .ok_or_else(|| CliError::new("backup_recipients in the config is not a list"))?
            .push(recipient.as_str());
        if fresh {
            keep_header_on_top(doc, "backup_recipients");
        }
        Ok(())
    })?;
    println!(
        "added {recipient} to backup_recipients in {}",
        config_path.display()
    );
    match parsed {
        SealTo::Offline(_) => println!(
            "it opens entries without any token: keep its key file offline (paper, a USB stick \
             in a safe), never on this machine"
        ),
        SealTo::Token(_) => println!(
            "entries sealed to it open with that YubiKey, with stock rage + age-plugin-yubikey"
        ),
    }
    println!(
        "new entries are sealed to it; run `apisec-agent reseal` to seal the existing ones to it"
    );
    Ok(())
}

fn add_token(config_path: &Path, a: &InitArgs) -> CmdResult {
    if a.store.is_some() || a.socket.is_some() || a.approver.is_some() || a.force {
        return Err(CliError::new(
            "--store, --socket, --approver and --force are init's, not a backup token's",
        ));
    }
    let config = load_config(config_path)?;
    let section = if a.yubikey {
        super::init_piv::token_section(a)?
    } else {
        super::init::token_section(a)?
    };
    if config
        .seal_to()
        .iter()
        .any(|r| r.to_string() == section.recipient)
    {
        return Err(CliError::new(format!(
            "{} is already a recipient of this config (the same key)",
            section.recipient
        ))
        .hint("a backup token is another token, with its own key"));
    }
    let table: toml_edit::DocumentMut = toml::to_string(&section)
        .map_err(|e| CliError::new(e.to_string()))?
        .parse()
        .map_err(|e| CliError::new(format!("{e}")))?;
    edit_config(config_path, |doc| {
        doc.entry("backup_tokens")
            .or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .ok_or_else(|| CliError::new("backup_tokens in the config is not a list of tables"))?
            .push(table.as_table().clone());
        Ok(())
    })?;
    println!("added a backup token to {}", config_path.display());
    println!("recipient: {}", section.recipient);
    println!(
        "new entries are sealed to it; run `apisec-agent reseal` to seal the existing ones to it, \
         and restart the agent so that it unseals with it when the primary token is absent"
    );
    Ok(())
}

/// Edits the config file in place (its comments and layout kept): `edit` changes the document,
/// and the whole edited file must still be a valid config before it replaces the old one.
fn edit_config(
    config_path: &Path,
    edit: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<(), CliError>,
) -> CmdResult {
    let text = std::fs::read_to_string(config_path)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", config_path.display())))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| CliError::new(format!("{}: {e}", config_path.display())))?;
    edit(&mut doc)?;
    let edited = doc.to_string();
    ConfigFile::parse(&edited)
        .map_err(|e| CliError::new(format!("{}: {e}", config_path.display())))?
        .validate(config_path)?;
    // The file a symbolic link names is the config (the link stays), and it keeps its owner:
    // run as root for the agent's user (the separated deployment), it must stay that user's.
    let target = std::fs::canonicalize(config_path)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", config_path.display())))?;
    let owner = std::fs::metadata(&target).map(|m| {
        use std::os::unix::fs::MetadataExt;
        (m.uid(), m.gid())
    });
    atomic::write(&target, edited.as_bytes(), atomic::Mode::Replace)
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", target.display())))?;
    if let Ok((uid, gid)) = owner {
        if let Err(e) = std::os::unix::fs::chown(&target, Some(uid), Some(gid)) {
            eprintln!(
                "warning: {} could not be given back to uid {uid}: {e}; the agent's user must be \
                 able to read it",
                target.display()
            );
        }
    }
    Ok(())
}

/// A new top-level key is written before the first table, and the file's leading comments
/// belong to that table: they move to the new key, so that they stay at the top of the file.
fn keep_header_on_top(doc: &mut toml_edit::DocumentMut, key: &str) {
    let header = doc
        .iter_mut()
        .find_map(|(_, item)| item.as_table_mut())
        .and_then(|table| {
            let prefix = table.decor().prefix()?.as_str()?.to_owned();
            table.decor_mut().set_prefix("\n");
            Some(prefix)
        });
    if let (Some(header), Some(mut k)) = (header, doc.key_mut(key)) {
        k.leaf_decor_mut().set_prefix(header);
    }
}

fn list(config_path: &Path) -> CmdResult {
    let config = load_config(config_path)?;
    let wanted: Vec<String> = config.seal_to().iter().map(|r| r.to_string()).collect();
    println!("every new entry is sealed to:");
    for (i, r) in config.seal_to().iter().enumerate() {
        let what = match (i, r) {
            (0, _) => "the token (primary)",
            (_, SealTo::Token(_)) => "a backup token",
            (_, SealTo::Offline(_)) => "an offline key (stock rage -d -i KEY)",
        };
        println!("  {r}  {what}");
    }
    if config.backups() == 0 {
        println!(
            "warning: no backup: if the token is lost, so is every entry; add one with \
             `apisec-agent backup add-recipient` (docs/operations.md, \"Backups\")"
        );
    }
    let store = Store::new(&config.store_dir);
    let mut behind = Vec::new();
    for name in store.names()? {
        let Ok(file) = store.load(&name) else {
            continue;
        };
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|w| !file.recipients.contains(w))
            .collect();
        if !missing.is_empty() {
            behind.push((name, missing.len()));
        }
    }
    if behind.is_empty() {
        println!("every entry is sealed to all of them");
    } else {
        println!("entries sealed to fewer recipients (run `apisec-agent reseal`):");
        for (name, n) in behind {
            println!("  {name}: {n} missing");
        }
    }
    Ok(())
}
