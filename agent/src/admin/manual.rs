//! `apisec-agent completions SHELL` and `apisec-agent man [DIR]`: shell completions and man pages
//! generated from the clap definitions, so they never drift from the real flags.

use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs, ManArgs};
use super::{CliError, CmdResult};

pub fn completions(a: CompletionsArgs) -> CmdResult {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_owned();
    clap_complete::generate(a.shell, &mut cmd, name, &mut io::stdout());
    Ok(())
}

pub fn man(a: ManArgs) -> CmdResult {
    let written = write_man_pages(Cli::command(), &a.dir).map_err(|e| {
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

/// One page per command and subcommand (`NAME.1`, `NAME-SUB.1`, ...), as clap_mangen names them;
/// returns the files written.
pub fn write_man_pages(cmd: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    fn walk(cmd: clap::Command, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            walk(sub, dir, out)?;
        }
        out.push(clap_mangen::Man::new(cmd).generate_to(dir)?);
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    walk(cmd, dir, &mut out)?;
    out.sort();
    Ok(out)
}
