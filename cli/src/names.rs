//! Shell completion of `apisec`: the script it prints, and the secret names a Tab offers, which
//! are the running agent's (the bot's user may not read the store; the agent shows it what it
//! serves).

use std::path::PathBuf;
use std::time::Duration;

use apisec_agent::client::Client;
use apisec_agent::completion;

/// The command the completion scripts call back.
pub const BIN: &str = "apisec";

/// A Tab must not hang on an agent that does not answer.
const AGENT_TIMEOUT: Duration = Duration::from_millis(500);

/// The names of the secrets of the agent at `--socket` on the line being completed, else at
/// `$APISEC_AUTH_SOCK` or the default socket. Nothing when no agent answers: a completion
/// prints no errors.
pub fn agent_names() -> Vec<String> {
    let socket = completion::flag_on_line("socket")
        .map(PathBuf::from)
        .unwrap_or_else(apisec_agent::paths::client_socket);
    let Ok(mut client) = Client::connect(&socket) else {
        return Vec::new();
    };
    if client.set_timeout(Some(AGENT_TIMEOUT)).is_err() {
        return Vec::new();
    }
    match client.status() {
        Ok(status) => status.entries.into_iter().map(|e| e.name).collect(),
        Err(_) => Vec::new(),
    }
}

/// The argument extension that completes a secret's name.
pub fn secret() -> completion::ArgValueCandidates {
    completion::names(agent_names)
}
