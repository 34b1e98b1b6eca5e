//! `apisec-agent list`: what the store holds, without the token.

use std::path::Path;

use apisec_agent::expiry;
use apisec_agent::store::Store;

use super::args::ListArgs;
use super::{load_config, CmdResult};

pub fn run(config_path: &Path, a: ListArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let store = Store::new(&config.store_dir);
    let mut rows = Vec::new();
    for name in store.names()? {
        rows.push((name.clone(), store.load(&name)));
    }
    if a.json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, r)| match r {
                Ok(f) => serde_json::json!({
                    "name": name,
                    "exchange": f.exchange,
                    "api_key": f.api_key,
                    "created": f.created,
                    "expires": f.expires,
                    "allow_raw": f.allow_raw,
                    "freshness": f.freshness,
                    "recipients": f.recipients,
                    "key_type": f.key_type,
                    "token_copies": f.token_copies,
                    "policy": f.policy,
                    "weakened_by": f.weakened(),
                }),
                Err(e) => serde_json::json!({ "name": name, "error": e.to_string() }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items).expect("json"));
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "the store {} is empty; add a secret with `apisec-agent add NAME --exchange ...`",
            store.dir().display()
        );
        return Ok(());
    }
    // Each column as wide as its widest value: API keys run to 64 characters (Binance) and
    // preset ids to 17 (coinbase-advanced), and a table cut to fixed widths would shift.
    let widest = |header: &str, lens: Vec<usize>| lens.into_iter().fold(header.len(), usize::max);
    let w_name = widest("NAME", rows.iter().map(|(name, _)| name.len()).collect());
    let w_ex = widest(
        "EXCHANGE",
        rows.iter()
            .flat_map(|(_, r)| r.as_ref().map(|f| f.exchange.len()))
            .collect(),
    );
    let w_key = widest(
        "API KEY",
        rows.iter()
            .flat_map(|(_, r)| r.as_ref().map(|f| f.api_key.len()))
            .collect(),
    );
    println!(
        "{:<w_name$} {:<w_ex$} {:<w_key$} {:<6} {:<9} EXPIRES",
        "NAME", "EXCHANGE", "API KEY", "RAW", "FRESHNESS"
    );
    for (name, r) in &rows {
        match r {
            Ok(f) => {
                println!(
                    "{:<w_name$} {:<w_ex$} {:<w_key$} {:<6} {:<9} {}",
                    name,
                    f.exchange,
                    f.api_key,
                    if f.allow_raw { "yes" } else { "no" },
                    f.freshness,
                    expiry::note(f.expires.as_deref(), apisec_agent::timefmt::unix_secs())
                );
                println!("{:<w_name$} policy: {}", "", f.policy.summary());
                let in_token = f.key_type.get() == Some(apisec_agent::keys::KeyType::TokenHmac);
                if in_token && f.token_copies.is_empty() {
                    println!(
                        "{:<w_name$} NO BACKUP: the secret is on the token only (added --in-token)",
                        ""
                    );
                } else if in_token {
                    println!(
                        "{:<w_name$} on the token and {} backup token(s)",
                        "",
                        f.token_copies.len()
                    );
                } else if f.recipients.len() < 2 {
                    println!(
                        "{:<w_name$} NO BACKUP: sealed to the token only (`apisec-agent backup list`)",
                        ""
                    );
                }
                for note in f.weakened() {
                    println!("{:<w_name$} WEAKENED: {note}", "");
                }
            }
            Err(e) => println!("{name:<w_name$} UNUSABLE: {e}"),
        }
    }
    Ok(())
}
