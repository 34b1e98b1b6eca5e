//! `apisec-agent audit verify|tail`: check the audit log's hash chain, or read its last lines
//! (`tail`, and `tail -f`, live in [`super::audit_follow`]).

use std::path::{Path, PathBuf};

use apisec_agent::audit;

use super::{load_config, CliError, CmdResult};
use clap::Subcommand;

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

/// The log's lines against the journal's copies sent by the log file's owner (the agent's uid).
fn check_journal(log: &Path, texts: &[&str], export: Option<&Path>) -> CmdResult {
    use std::os::unix::fs::MetadataExt;
    let text = match export {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| CliError::new(format!("cannot read {}: {e}", f.display())))?,
        None => {
            let out = std::process::Command::new("journalctl")
                .args(["-o", "json", "--no-pager"])
                .arg(format!("SYSLOG_IDENTIFIER={}", audit::journal::IDENTIFIER))
                .output()
                .map_err(|e| CliError::new(format!("cannot run journalctl: {e}")))?;
            if !out.status.success() {
                return Err(CliError::new(format!(
                    "journalctl failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let uid = std::fs::metadata(log)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", log.display())))?
        .uid();
    let copies = audit::journal::parse_export(&text).map_err(CliError::new)?;
    let lines: Vec<&str> = texts.iter().flat_map(|t| t.lines()).collect();
    let n = audit::journal::check_against(&lines, &copies, uid)
        .map_err(|e| CliError::new(format!("{}: {e}", log.display())))?;
    let ignored = copies.iter().filter(|c| c.uid != Some(uid)).count();
    println!(
        "{n} line(s) match the journal's copies sent by uid {uid}{}",
        if ignored > 0 {
            format!(" ({ignored} copies from other uids ignored)")
        } else {
            String::new()
        }
    );
    Ok(())
}

pub fn run(config_path: &Path, command: AuditCommand) -> CmdResult {
    let path = |file: Option<std::path::PathBuf>| -> Result<std::path::PathBuf, CliError> {
        match file {
            Some(f) => Ok(f),
            None => Ok(load_config(config_path)?.audit_path),
        }
    };
    match command {
        AuditCommand::Verify {
            files,
            continues,
            journal,
            journal_file,
        } => {
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
            if journal || journal_file.is_some() {
                let last = files.last().expect("at least the log");
                check_journal(last, &refs, journal_file.as_deref())?;
            }
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
        AuditCommand::Tail {
            lines,
            follow,
            json,
            file,
        } => super::audit_follow::tail(&path(file)?, lines, follow, json),
    }
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain; report the first broken, missing or reordered line
    Verify {
        /// The log's files, oldest first [default: the config's audit path, after the files
        /// logrotate made of it (PATH.N ... PATH.1)]
        files: Vec<PathBuf>,
        /// The first file continues a chain whose earlier files are gone (rotated away): check
        /// from its first line instead of requiring the chain's start
        #[arg(long)]
        continues: bool,
        /// Also check the log against the copies the agent sent to the systemd journal
        /// (`[audit] journal = true`), read with journalctl; only copies whose _UID is the log
        /// file owner's are trusted
        #[arg(long)]
        journal: bool,
        /// As --journal, with the journal's entries from this file (`journalctl -o json
        /// SYSLOG_IDENTIFIER=apisec-agent-audit > FILE`) instead of journalctl
        #[arg(long, value_name = "FILE")]
        journal_file: Option<PathBuf>,
    },
    /// Print the last lines readably, and with -f every line as the agent writes it
    Tail {
        /// How many lines
        #[arg(short = 'n', default_value_t = 20)]
        lines: usize,
        /// Keep printing lines as they are written, following the log across rotation (a
        /// rename or a copy-and-truncate); until interrupted
        #[arg(short = 'f', long)]
        follow: bool,
        /// Print each record as the log's own JSON line, for a program to read
        #[arg(long)]
        json: bool,
        /// The log [default: the config's audit path]
        file: Option<PathBuf>,
    },
}
