//! `apisec-agent start`: the agent in the background (its own session, its log to a file), and
//! the shell lines that point clients at it, like ssh-agent.

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use apisec_agent::client::Client;

use super::args::StartArgs;
use super::settings::run::socket;
use super::{load_config, CliError, CmdResult};

/// Quotes a value for sh or csh.
fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub fn run(config_path: &Path, a: StartArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let socket_path = socket(&config, &a.daemon);
    if Client::connect(&socket_path).is_ok() {
        return Err(CliError::new(format!(
            "an agent is already listening on {}",
            socket_path.display()
        ))
        .hint("use it (export APISEC_AUTH_SOCK), or stop it first with `apisec-agent stop`"));
    }
    let log_path = a
        .log
        .clone()
        .unwrap_or_else(|| apisec_agent::paths::default_state_dir().join("agent.log"));
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|e| CliError::new(format!("cannot open the log {}: {e}", log_path.display())))?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::new(format!("cannot find my own executable: {e}")))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--config").arg(config_path).arg("run");
    if let Some(p) = &a.daemon.approver {
        cmd.arg("--approver").arg(p);
    }
    if a.daemon.insecure_auto_approve {
        cmd.arg("--insecure-auto-approve");
    }
    if let Some(t) = &a.daemon.approval_timeout {
        cmd.arg("--approval-timeout").arg(t);
    }
    if let Some(l) = &a.daemon.lifetime {
        cmd.arg("--lifetime").arg(l);
    }
    cmd.arg("--socket").arg(&socket_path);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| CliError::new(format!("cannot start the agent: {e}")))?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if Client::connect(&socket_path).is_ok() {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last: Vec<&str> = tail.lines().rev().take(3).collect();
            return Err(CliError::new(format!(
                "the agent exited at start ({status}): {}",
                last.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ))
            .hint(format!("its log is {}", log_path.display())));
        }
        if Instant::now() > deadline {
            return Err(
                CliError::new("the agent did not start listening within 10 s")
                    .hint(format!("its log is {}", log_path.display())),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let csh = a.csh || (!a.sh && std::env::var("SHELL").is_ok_and(|s| s.ends_with("csh")));
    let sock = shell_quote(&socket_path.display().to_string());
    if csh {
        println!("setenv APISEC_AUTH_SOCK {sock};");
        println!("setenv APISEC_AGENT_PID {pid};");
    } else {
        println!("APISEC_AUTH_SOCK={sock}; export APISEC_AUTH_SOCK;");
        println!("APISEC_AGENT_PID={pid}; export APISEC_AGENT_PID;");
    }
    println!("echo Agent pid {pid};");
    Ok(())
}
