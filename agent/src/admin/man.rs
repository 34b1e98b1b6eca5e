//! `apisec-agent man [DIR]`: man pages generated from the clap definitions
//! ([`apisec_agent::manpages`], which `apisec man` uses too).

use clap::CommandFactory;

use super::args::{Cli, ManArgs};
use super::{CliError, CmdResult};

pub fn run(a: ManArgs) -> CmdResult {
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
