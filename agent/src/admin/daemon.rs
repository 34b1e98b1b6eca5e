//! `apisec-agent run` (foreground), `start` (background, prints shell lines like ssh-agent) and
//! `stop`.

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apisec_agent::approval::Approver;
use apisec_agent::client::Client;
use apisec_agent::config::{parse_duration, Config, TokenConfig};
use apisec_agent::server::{self, socket, Agent, AgentSettings};
use apisec_agent::store::Store;
use apisec_agent::token::piv::PivHolder;
use apisec_agent::token::pkcs11::Pkcs11Holder;
use apisec_agent::token::TokenHandle;
use apisec_agent::{hardening, info, warn};

use super::args::{DaemonArgs, RunArgs, StartArgs, StopArgs};
use super::{load_config, CliError, CmdResult};

fn socket_path(config: &Config, args: &DaemonArgs) -> PathBuf {
    args.socket.clone().unwrap_or_else(|| config.socket.clone())
}

/// The owner thread of the configured token. `touch_approves`: the card's touch is the approval.
pub fn spawn_token(config: &Config, touch_approves: bool) -> TokenHandle {
    match &config.token {
        TokenConfig::Pkcs11 { spec, pin } => {
            TokenHandle::spawn(Pkcs11Holder::new(spec.clone(), pin.clone()))
        }
        TokenConfig::Piv { spec, pin } => TokenHandle::spawn(PivHolder::new(
            spec.clone(),
            pin.clone(),
            config.recipients[0].uncompressed(),
            touch_approves,
        )),
    }
}

pub fn run(config_path: &Path, a: RunArgs) -> CmdResult {
    // Before any thread exists: this reads and clears LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES.
    let activated = socket::from_listen_fds().map_err(|e| {
        CliError::new(e.to_string()).hint("see docs/operations.md, \"Socket activation\"")
    })?;
    match hardening::harden_process() {
        Ok(_) => {}
        Err(e) => warn!("process hardening incomplete (core dumps or ptrace may be possible): {e}"),
    }
    hardening::raise_nofile_limit();
    let config = load_config(config_path)?;
    let args = a.daemon;
    // Root has CAP_IPC_LOCK; anyone else is bound by RLIMIT_MEMLOCK (often 64 KiB to 8 MiB).
    if hardening::current_uid() != 0 {
        if let Some(limit) = apisec_agent::secret::memlock_limit() {
            if limit < 1024 * 1024 {
                warn!(
                    "RLIMIT_MEMLOCK is {limit} bytes: each unsealed secret takes a locked page, so past \
                     {} secrets they may be swapped to disk; raise it (systemd: LimitMEMLOCK=, shell: ulimit -l)",
                    limit / 4096
                );
            }
        }
    }
    let approval_timeout = match &args.approval_timeout {
        Some(s) => {
            parse_duration(s).map_err(|e| CliError::new(format!("--approval-timeout: {e}")))?
        }
        None => config.approval_timeout,
    };
    // The card's touch is the approval when nothing else is configured; the key holder needs to
    // know it (it then refuses a key whose policy needs no touch).
    let touch_approves = !args.insecure_auto_approve
        && args.approver.is_none()
        && config.approver.is_none()
        && config.token.touch_approves();
    let token = spawn_token(&config, touch_approves);
    let approver = if args.insecure_auto_approve {
        warn!("--insecure-auto-approve: every unseal will be approved without asking anyone; development only");
        Approver::InsecureAuto
    } else {
        match args.approver.clone().or_else(|| config.approver.clone()) {
            Some(path) => Approver::Program {
                path,
                timeout: approval_timeout,
            },
            None if config.token.touch_approves() => {
                info!("no approver program: the YubiKey's touch approves each unseal");
                Approver::TokenTouch {
                    token: token.clone(),
                    fresh_touch: matches!(
                        &config.token,
                        TokenConfig::Piv { spec, .. } if spec.touch == apisec_agent::token::piv::card::Touch::Always
                    ),
                }
            }
            None => Approver::None,
        }
    };
    let lifetime = match &args.lifetime {
        Some(s) => Some(parse_duration(s).map_err(|e| CliError::new(format!("--lifetime: {e}")))?),
        None => config.lifetime,
    };
    let configured = socket_path(&config, &args);
    // With socket activation the socket belongs to the service manager: it is used as passed and
    // left in place at exit. Otherwise the agent binds (and at exit removes) the configured path.
    let (std_listener, socket_path, owned) = match activated {
        Some(a) => {
            let path = a.path.clone().unwrap_or_else(|| configured.clone());
            info!(
                "socket activation: using the listening socket passed as fd 3{} ({})",
                a.name.map(|n| format!(" named {n}")).unwrap_or_default(),
                path.display()
            );
            if a.path.as_ref().is_some_and(|p| *p != configured) {
                warn!(
                    "the passed socket is {}, the config's is {}: clients must be pointed at the \
                     passed one (APISEC_AUTH_SOCK)",
                    path.display(),
                    configured.display()
                );
            }
            (a.listener, path, false)
        }
        None => (socket::bind(&configured)?, configured, true),
    };
    let agent = Arc::new(Agent::new(AgentSettings {
        store: Store::new(&config.store_dir),
        recipient: config.recipients[0].clone(),
        token,
        approver,
        notify: config.notify.clone(),
        lifetime,
        state_dir: apisec_agent::paths::default_state_dir(),
        audit: Some(
            apisec_agent::audit::AuditLog::open(&config.audit_path).map_err(|e| {
                CliError::new(format!(
                    "cannot open the audit log {}: {e}",
                    config.audit_path.display()
                ))
            })?,
        ),
    }));
    let token = agent.token().clone();
    let mut allowed = vec![hardening::current_uid()];
    allowed.extend(config.allowed_uids.iter().copied());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the runtime: {e}")))?;
    let exiting = Arc::clone(&agent);
    let served = runtime.block_on(async move {
        let listener = tokio::net::UnixListener::from_std(std_listener).map_err(|e| {
            CliError::new(format!("cannot listen on {}: {e}", socket_path.display()))
        })?;
        spawn_housekeeping(Arc::clone(&agent))?;
        info!(
            "listening on {} (pid {})",
            socket_path.display(),
            std::process::id()
        );
        server::run(listener, Arc::clone(&agent), allowed, shutdown_signal()?).await;
        let forgotten = agent.forget(&[]);
        if owned {
            let _ = std::fs::remove_file(&socket_path);
            info!(
                "stopped; forgot {forgotten} unsealed secret(s) and removed {}",
                socket_path.display()
            );
        } else {
            info!(
                "stopped; forgot {forgotten} unsealed secret(s); {} stays with the service manager",
                socket_path.display()
            );
        }
        Ok::<(), CliError>(())
    });
    // Client tasks end here; blocking work still under way (an unseal waiting for its touch) is
    // given a moment, and the token thread finishes whatever job it has before shutting down.
    runtime.shutdown_timeout(Duration::from_secs(2));
    // After the sessions: a signature finished while the agent was stopping is still recorded.
    exiting.close_audit();
    if !token.shut_down(TOKEN_SHUTDOWN_PATIENCE) {
        warn!(
            "the token did not close its session within {} s; exiting anyway",
            TOKEN_SHUTDOWN_PATIENCE.as_secs()
        );
    }
    served
}

/// How long an exiting agent waits for the token to close its session and unload.
pub(super) const TOKEN_SHUTDOWN_PATIENCE: Duration = Duration::from_secs(10);

/// Lifetime sweeps, SIGUSR1 (forget everything) and SIGHUP (release the token).
fn spawn_housekeeping(agent: Arc<Agent>) -> Result<(), CliError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut usr1 = signal(SignalKind::user_defined1()).map_err(CliError::from)?;
    let mut hup = signal(SignalKind::hangup()).map_err(CliError::from)?;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    for name in agent.forget_expired() {
                        info!("lifetime over: forgot {name}");
                    }
                }
                _ = usr1.recv() => {
                    let n = agent.forget(&[]);
                    info!("SIGUSR1: forgot {n} unsealed secret(s)");
                }
                _ = hup.recv() => {
                    let token = agent.token().clone();
                    let _ = tokio::task::spawn_blocking(move || token.release()).await;
                    info!("SIGHUP: released the token; it is reopened on the next unseal");
                }
            }
        }
    });
    Ok(())
}

fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(CliError::from)?;
    let mut int = signal(SignalKind::interrupt()).map_err(CliError::from)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = int.recv() => info!("SIGINT: shutting down"),
        }
    })
}

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

pub fn start(config_path: &Path, a: StartArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let socket_path = socket_path(&config, &a.daemon);
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

pub fn stop(config_path: &Path, a: StopArgs) -> CmdResult {
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
    let patience = Duration::from_secs(5) + TOKEN_SHUTDOWN_PATIENCE;
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
