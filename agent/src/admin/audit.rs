//! `apisec-agent audit verify|tail`: check the audit log's hash chain, or read its last lines.

use std::path::Path;

use apisec_agent::audit;

use super::args::AuditCommand;
use super::{load_config, CliError, CmdResult};

pub fn run(config_path: &Path, command: AuditCommand) -> CmdResult {
    let path = |file: Option<std::path::PathBuf>| -> Result<std::path::PathBuf, CliError> {
        match file {
            Some(f) => Ok(f),
            None => Ok(load_config(config_path)?.audit_path),
        }
    };
    match command {
        AuditCommand::Verify { file } => {
            let p = path(file)?;
            let text = std::fs::read_to_string(&p)
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", p.display())))?;
            let n =
                audit::verify(&text).map_err(|e| CliError::new(format!("{}: {e}", p.display())))?;
            println!("{}: {n} lines, chain intact", p.display());
            Ok(())
        }
        AuditCommand::Tail { lines, file } => {
            let p = path(file)?;
            let text = std::fs::read_to_string(&p)
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", p.display())))?;
            let all: Vec<&str> = text.lines().collect();
            for line in &all[all.len().saturating_sub(lines)..] {
                match serde_json::from_str::<audit::Record>(line) {
                    Ok(r) => println!("{}", audit::render(&r)),
                    Err(_) => println!("(unreadable line) {line}"),
                }
            }
            Ok(())
        }
    }
}
