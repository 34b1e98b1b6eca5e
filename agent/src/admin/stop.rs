//! `apisec-agent stop`: ask the agent to shut down, and wait until its process has ended.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use apisec_agent::client::Client;
use apisec_agent::token::configured::SHUTDOWN_PATIENCE;

use super::args::StopArgs;
use super::{load_config, CliError, CmdResult};

/// Whether process `pid` has ended: gone, or a zombie its parent has not collected yet.
fn process_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the command name, which is in parentheses and may
        // itself hold spaces and parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

pub fn run(config_path: &Path, a: StopArgs) -> CmdResult {
    let socket_path = match (&a.socket, std::env::var_os(apisec_agent::paths::SOCKET_ENV)) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) if !s.is_empty() => PathBuf::from(s),
        _ => load_config(config_path)?.socket,
    };
    let mut client = Client::connect(&socket_path).map_err(|e| {
        CliError::new(e.to_string()).hint("is the agent running? (`apisec status` tells)")
    })?;
    let pid = client.status().map(|s| s.pid).ok();
    client.shutdown()?;
    // Done when the process has ended: after removing its socket it still closes the token, and
    // a card or session it holds is not free before that. Without its pid (an agent that did not
    // say), when the socket is gone.
    let done = || match pid {
        Some(pid) => process_ended(pid),
        None => !socket_path.exists(),
    };
    let patience = Duration::from_secs(5) + SHUTDOWN_PATIENCE;
    let deadline = Instant::now() + patience;
    while !done() {
        if Instant::now() >= deadline {
            return Err(CliError::new(format!(
                "the agent{} was asked to stop but is still running after {} s",
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
                patience.as_secs()
            ))
            .hint("its token may be hung; see its log, or end it with `kill`"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    match pid {
        Some(pid) => println!("stopped the agent (pid {pid})"),
        None => println!("stopped the agent"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::process_ended;
    use std::time::{Duration, Instant};

    #[test]
    fn a_running_process_has_not_ended_and_a_zombie_or_a_reaped_one_has() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(!process_ended(pid));
        child.kill().unwrap();
        // Not yet collected: a zombie, which `stop` must count as ended.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !process_ended(pid) {
            assert!(
                Instant::now() < deadline,
                "a killed child never counted as ended"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        assert!(stat.contains(") Z "), "{stat}");
        child.wait().unwrap();
        assert!(process_ended(pid));
    }
}
