//! `apisec-agent man [DIR]`: man pages generated from the clap definitions
//! ([`apisec_agent::manpages`], which `apisec man` uses too).

use clap::CommandFactory;

use super::args::{Cli, ManArgs};
use std::path::PathBuf;

use super::{CliError, CmdResult};

pub fn run(config_flag: &Option<PathBuf>, a: ManArgs) -> CmdResult {
    super::completions::refuse_config_flag(config_flag, "man");
    let written = apisec_agent::manpages::write(Cli::command(), &a.dir).map_err(|e| {
        CliError::new(format!(
            "cannot write man pages to {}: {e}",
            a.dir.display()
        ))
    })?;
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}
