//! `apisec-agent completions SHELL`: the script that registers the binary's completion in a
//! shell ([`apisec_agent::completion`]): subcommands, flags and exchange ids from the clap
//! definitions, so it never drifts from the real flags, and secret names from the store, read
//! at each Tab ([`super::name_candidates`]).

use std::io;
use std::path::PathBuf;

use apisec_agent::completion;
use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs};
use super::CmdResult;

pub const BIN: &str = "apisec-agent";

pub fn run(config_flag: &Option<PathBuf>, a: CompletionsArgs) -> CmdResult {
    refuse_config_flag(config_flag, "completions");
    completion::write_registration(a.shell, BIN, &mut io::stdout())?;
    Ok(())
}

/// `--config` is global, so clap accepts it everywhere; on the commands that read no config it
/// would silently do nothing, so it is bad usage there (exit 2, clap's own text).
pub fn refuse_config_flag(config_flag: &Option<PathBuf>, command: &str) {
    if config_flag.is_some() {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--config is not used by `apisec-agent {command}`: it reads no config (the \
                     completion script finds the config at each Tab, from --config on the line \
                     being completed, else $APISEC_CONFIG or the default)"
                ),
            )
            .exit();
    }
}
