//! Default locations, XDG-style, shared by the agent and the CLI.

use std::path::PathBuf;

/// The environment variable that names the agent's socket (like `SSH_AUTH_SOCK`).
pub const SOCKET_ENV: &str = "APISEC_AUTH_SOCK";
/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "APISEC_CONFIG";

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() && PathBuf::from(&v).is_absolute() => PathBuf::from(v),
        _ => home().join(fallback),
    }
}

/// `$XDG_CONFIG_HOME/apisec/config.toml`, or `$APISEC_CONFIG`.
pub fn default_config() -> PathBuf {
    match std::env::var_os(CONFIG_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => xdg("XDG_CONFIG_HOME", ".config").join("apisec/config.toml"),
    }
}

/// `$XDG_DATA_HOME/apisec/store`.
pub fn default_store() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share").join("apisec/store")
}

/// `$XDG_STATE_HOME/apisec`: the agent's log and other state.
pub fn default_state_dir() -> PathBuf {
    xdg("XDG_STATE_HOME", ".local/state").join("apisec")
}

/// `$XDG_RUNTIME_DIR/apisec/agent.sock`; where that is unset, `/tmp/apisec-UID/agent.sock` (the
/// agent creates that directory 0700 and refuses it if someone else owns it).
pub fn default_socket() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(v) if !v.is_empty() => PathBuf::from(v).join("apisec/agent.sock"),
        // SAFETY: getuid cannot fail.
        _ => PathBuf::from(format!("/tmp/apisec-{}/agent.sock", unsafe {
            libc::getuid()
        })),
    }
}

/// The socket a client should use: `$APISEC_AUTH_SOCK`, else the default.
pub fn client_socket() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => default_socket(),
    }
}
