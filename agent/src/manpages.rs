//! Man pages generated from a clap definition, so they never drift from the real flags: one home
//! for both binaries (`apisec-agent man DIR`, `apisec man DIR`), which is why it needs only the
//! `manpages` feature and nothing of the daemon.

use std::io;
use std::path::{Path, PathBuf};

/// One page per command and subcommand (`NAME.1`, `NAME-SUB.1`, ...), as clap_mangen names them;
/// returns the files written, sorted.
pub fn write(cmd: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
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
