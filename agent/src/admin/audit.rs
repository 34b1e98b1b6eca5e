//! `apisec-agent audit verify|tail`: check the audit log's hash chain, or read its last lines.

use std::path::Path;

use apisec_agent::audit;

use super::args::AuditCommand;
use super::{load_config, CliError, CmdResult};

/// The log and the uncompressed files logrotate made of it, oldest first: PATH.N, ..., PATH.1,
/// PATH.
fn with_rotated(log: &Path) -> Vec<std::path::PathBuf> {
    let mut rotated = Vec::new();
    for n in 1.. {
        let p = std::path::PathBuf::from(format!("{}.{n}", log.display()));
        if !p.exists() {
            break;
        }
        rotated.push(p);
    }
    rotated.reverse();
    rotated.push(log.to_owned());
    rotated
}

pub fn run(config_path: &Path, command: AuditCommand) -> CmdResult {
    let path = |file: Option<std::path::PathBuf>| -> Result<std::path::PathBuf, CliError> {
        match file {
            Some(f) => Ok(f),
            None => Ok(load_config(config_path)?.audit_path),
        }
    };
    match command {
        AuditCommand::Verify { files, continues } => {
            let files = if files.is_empty() {
                with_rotated(&path(None)?)
            } else {
                files
            };
            let texts = files
                .iter()
                .map(|p| {
                    std::fs::read_to_string(p)
                        .map_err(|e| CliError::new(format!("cannot read {}: {e}", p.display())))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let first = if continues {
                audit::Start::Anywhere
            } else {
                audit::Start::Genesis
            };
            let n = audit::verify_files(&refs, first)
                .map_err(|(i, e)| CliError::new(format!("{}: {e}", files[i].display())))?;
            match files.as_slice() {
                [one] => println!("{}: {n} lines, chain intact", one.display()),
                all => println!(
                    "{}: {n} lines in {} files, chain intact across them",
                    all.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    all.len()
                ),
            }
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
