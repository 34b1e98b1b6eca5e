//! The config `init` writes (for a PKCS#11 token or a YubiKey slot alike): the token section
//! found or made, and what the flags say of the rest.

use std::path::Path;

use apisec_agent::config::{ApprovalSection, ConfigFile, TokenSection};

use super::args::InitArgs;
use super::CmdResult;

/// Writes a new config around `token`, with what the flags say of the rest.
pub fn write_config(config_path: &Path, token: TokenSection, a: &InitArgs) -> CmdResult {
    let recipient = token.recipient.clone();
    let file = ConfigFile {
        store: a.store.clone(),
        socket: a.socket.clone(),
        backup_recipients: vec![],
        token,
        approval: ApprovalSection {
            approver: a.approver.clone(),
            ..Default::default()
        },
        agent: Default::default(),
        audit: Default::default(),
        alert: Default::default(),
        backup_tokens: Vec::new(),
    };
    file.write(config_path)?;
    println!("wrote {}", config_path.display());
    println!("recipient: {recipient}");
    Ok(())
}
