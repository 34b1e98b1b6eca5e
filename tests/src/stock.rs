//! The stock tools the agent's formats are checked against (`rage`, `age-plugin-yubikey`):
//! installed by `scripts/deps.sh` (the `cargo` lines of `scripts/deps.txt`, pinned, with
//! `cargo install --locked`) into `$APISEC_TOOLS_DIR`, by default `~/.cache/apisec-tools`, so
//! that a second run builds nothing.

use std::ffi::OsString;
use std::path::PathBuf;

/// Where `scripts/deps.sh` installs the pinned cargo tools.
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("APISEC_TOOLS_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/apisec-tools"),
    }
}

/// The installed stock tool `name`, checked to be there.
pub fn stock_tool(name: &str) -> PathBuf {
    let path = tools_dir().join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/deps.sh, which installs it with cargo install (pinned in \
         scripts/deps.txt)",
        path.display()
    );
    path
}

/// `PATH` with the tools first: rage finds its plugins (`age-plugin-*`) on it.
pub fn path_with_tools() -> OsString {
    let mut dirs = vec![tools_dir().join("bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).expect("a PATH")
}
