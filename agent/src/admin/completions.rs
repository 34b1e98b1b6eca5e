//! `apisec-agent completions SHELL`: a shell completion script generated from the clap
//! definitions, so it never drifts from the real flags.

use std::io;

use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs};
use super::CmdResult;

pub fn run(a: CompletionsArgs) -> CmdResult {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_owned();
    clap_complete::generate(a.shell, &mut cmd, name, &mut io::stdout());
    Ok(())
}
