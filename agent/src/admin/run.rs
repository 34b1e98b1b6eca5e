//! `apisec-agent run`: the agent in the foreground (for systemd, containers and tests): harden
//! the process, start the token's thread, bind (or take over) the socket, serve until a signal or
//! `shutdown@apisec`, then close everything in order.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use apisec_agent::approval::Approver;
use apisec_agent::server::{self, socket, Agent, AgentSettings};
use apisec_agent::store::Store;
use apisec_agent::token::{self, configured::SHUTDOWN_PATIENCE};
use apisec_agent::{hardening, info, warn};

use super::args::RunArgs;
use super::settings::run::{Approval, RunSettings};
use super::{load_config, CliError, CmdResult};

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
    // Still one thread: the PIN leaves the environment before any child could inherit it.
    config.token.pin_source().take_from_env();
    for (backup, _) in &config.backup_tokens {
        backup.pin_source().take_from_env();
    }
    let settings = RunSettings::resolve(&config, &args)?;
    if matches!(settings.approval, Approval::TokenTouch { .. }) {
        // The touch approves an unseal only on a card that waits for one: a backup token that
        // does not would unseal for any client with nobody asked.
        if let Some((_, r)) = config
            .backup_tokens
            .iter()
            .find(|(t, _)| !t.touch_approves())
        {
            return Err(CliError::new(format!(
                "the backup token {r} does not wait for a touch, and no approver program is \
                 configured: when the YubiKey is absent, it would unseal secrets with nobody \
                 asked"
            ))
            .hint(
                "set [approval] approver (it approves every unseal, whichever token opens it), \
                 or use backup YubiKeys with touch policy always or cached",
            ));
        }
    }
    let recipient = &config.recipients[0];
    let token = token::spawn(&config.token, recipient, settings.touch_approves);
    let backup_handles: Vec<_> = config
        .backup_tokens
        .iter()
        .map(|(t, r)| token::spawn(t, r, settings.touch_approves))
        .collect();
    let approver = match settings.approval {
        Approval::InsecureAuto => {
            warn!("--insecure-auto-approve: every unseal will be approved without asking anyone; development only");
            Approver::InsecureAuto
        }
        Approval::Program { path, timeout } => {
            Approver::program(path, timeout, config.approvers_at_once)
        }
        Approval::TokenTouch { fresh } => {
            info!("no approver program: the YubiKey's touch approves each unseal");
            Approver::TokenTouch {
                token: token.clone(),
                fresh_touch: fresh,
            }
        }
        Approval::Nobody => Approver::None,
    };
    let lifetime = settings.lifetime;
    let configured = settings.socket;
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
            (a.listener, path, None)
        }
        None => {
            let (listener, bound) = socket::bind(&configured, config.socket_group.as_ref())?;
            (listener, configured, Some(bound))
        }
    };
    let agent = Arc::new(Agent::new(AgentSettings {
        store: Store::new(&config.store_dir),
        recipient: recipient.clone(),
        token,
        backup_tokens: backup_handles
            .iter()
            .zip(&config.backup_tokens)
            .map(|(handle, (_, r))| (r.clone(), handle.clone()))
            .collect(),
        approver,
        notify: config.notify.clone(),
        lifetime,
        state_dir: config.state_dir.clone(),
        owners: std::iter::once(hardening::current_uid())
            .chain(config.admin_uids.iter().copied())
            .collect(),
        clients_may_unlock: config.clients_may_unlock,
        audit_refuses: config.audit_refuses,
        max_connections_per_uid: config.max_connections_per_uid,
        approvals_per_uid: config.approvals_per_uid,
        alert: config.alert.clone(),
        over_socket: config
            .approvals_over_socket
            .then_some(config.approval_timeout),
        audit: Some(
            apisec_agent::audit::AuditLog::open_with_journal(
                &config.audit_path,
                config.audit_journal.as_deref(),
            )
            .map_err(|e| {
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
    allowed.extend(config.admin_uids.iter().copied());
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
        if let Some(bound) = &owned {
            bound.remove();
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
    for token in std::iter::once(&token).chain(backup_handles.iter()) {
        if !token.shut_down(SHUTDOWN_PATIENCE) {
            warn!(
                "a token did not close its session within {} s; exiting anyway",
                SHUTDOWN_PATIENCE.as_secs()
            );
        }
    }
    served
}

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
                    let tokens: Vec<_> = agent.tokens().map(|(_, t)| t.clone()).collect();
                    let n = tokens.len();
                    let _ = tokio::task::spawn_blocking(move || {
                        tokens.iter().for_each(|t| t.release())
                    })
                    .await;
                    info!("SIGHUP: released the token(s) ({n}); each is reopened on its next use");
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
