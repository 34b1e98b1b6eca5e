//! Who approves an unseal: an approver program in the style of `SSH_ASKPASS` (exit 0 approves,
//! anything else denies, bounded by a time-out), the token's own touch sensor (a YubiKey slot
//! with touch policy always or cached: the card will not unseal without a touch), or, for
//! development only, an automatic approver that says so on every use. Without any of these,
//! unseal is refused with an error that says how to configure one.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

mod prompt;
mod slots;
mod waiting;

pub use prompt::{child_env, ApprovalRequest, StepUp};
pub use slots::Slots;
pub use waiting::Waiting;

use crate::envelope::WrappingKey;
use crate::token::{TokenError, TokenHandle};

/// The name users give for the development-only automatic approver.
pub const INSECURE_AUTO: &str = "insecure-auto-approve";

#[derive(Clone, Debug)]
pub enum Approver {
    Program {
        path: PathBuf,
        timeout: Duration,
        /// How many programs run at once (`[approval] max_running`), shared by every request.
        slots: std::sync::Arc<Slots>,
    },
    /// The card's touch approves. An unseal is itself a card operation the card waits on (its
    /// touch policy), so nothing more is asked for it. A request that must be approved on its
    /// own (a step-up) gets its own card operation, which only a fresh touch lets through; that
    /// needs touch policy `always` (`fresh_touch`): with `cached` a touch from the last 15 s
    /// would pass, proving nothing about this request. Chosen only for a PIV key whose policy
    /// needs a touch, which the key holder checks again on the card itself.
    TokenTouch {
        token: TokenHandle,
        fresh_touch: bool,
    },
    /// Approves everything. Development only; logs a warning on every use.
    InsecureAuto,
    /// Nothing configured: every unseal is refused.
    None,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ApprovalError {
    #[error(
        "no approver is configured and this token has no touch sensor, so unsealing is refused; \
         set [approval] approver = \"/path/to/program\" in the config or start the agent with \
         --approver PROGRAM (see docs/operations.md)"
    )]
    NotConfigured,
    #[error("the approver {program} denied the request ({status})")]
    Denied { program: String, status: String },
    #[error("the approver {program} gave no answer within {secs} s; the request was refused")]
    Timeout { program: String, secs: u64 },
    #[error("cannot run the approver {program}: {reason}")]
    Spawn { program: String, reason: String },
    #[error(
        "this request needs a fresh approval, and the card's touch policy is `cached` (one touch \
         covers 15 s, so it cannot prove a touch for this request): configure an approver program \
         ([approval] approver) or use a slot with touch policy `always`"
    )]
    TouchNotFresh,
    #[error("this request needs a fresh touch of the card: {reason}")]
    Touch { reason: String, timed_out: bool },
    #[error(
        "uid {uid} already has {max} requests waiting for approval; this one is refused until          they are answered ([approval] max_waiting_per_uid)"
    )]
    TooMany { uid: u32, max: usize },
}

impl Approver {
    /// An approver program, at most `max_running` of them at once.
    pub fn program(path: PathBuf, timeout: Duration, max_running: usize) -> Self {
        Self::Program {
            path,
            timeout,
            slots: std::sync::Arc::new(Slots::new(max_running)),
        }
    }

    /// Whether asking means waiting for someone (an approver program, which may ask a human):
    /// the agent then runs the notify program. The touch has its own notice, when the card
    /// really waits; the automatic approver and a missing approver answer at once.
    pub fn waits(&self, request: &ApprovalRequest<'_>) -> bool {
        match self {
            Self::Program { .. } => true,
            Self::TokenTouch { .. } => request.fresh,
            _ => false,
        }
    }

    pub fn is_token_touch(&self) -> bool {
        matches!(self, Self::TokenTouch { .. })
    }

    /// Asks for approval. Returns how it was approved, for the log.
    pub async fn ask(&self, request: &ApprovalRequest<'_>) -> Result<&'static str, ApprovalError> {
        match self {
            Self::None => Err(ApprovalError::NotConfigured),
            Self::TokenTouch { .. } if !request.fresh => Ok("the token's touch"),
            Self::TokenTouch {
                fresh_touch: false, ..
            } => Err(ApprovalError::TouchNotFresh),
            Self::TokenTouch { token, .. } => fresh_touch(token.clone()).await,
            Self::InsecureAuto => {
                crate::warn!(
                    "{INSECURE_AUTO}: approving without asking anyone: {} (development only)",
                    request.prompt()
                );
                Ok(INSECURE_AUTO)
            }
            Self::Program {
                path,
                timeout,
                slots,
            } => {
                let _slot = slots.acquire(request.client.uid).await;
                run_program(path, *timeout, request).await
            }
        }
    }
}

/// One card operation that the card performs only after a touch: an ECDH with a new random point
/// (its result is thrown away).
async fn fresh_touch(token: TokenHandle) -> Result<&'static str, ApprovalError> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let point = {
        let sk = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let mut out = [0u8; 65];
        out.copy_from_slice(sk.public_key().to_encoded_point(false).as_bytes());
        out
    };
    let result = tokio::task::spawn_blocking(move || token.ecdh(&point).map(|_| ()))
        .await
        .map_err(|_| ApprovalError::Touch {
            reason: "the touch task failed".into(),
            timed_out: false,
        })?;
    match result {
        Ok(()) => Ok("the token's touch"),
        Err(e) => Err(ApprovalError::Touch {
            timed_out: matches!(e, TokenError::TouchNotReceived { .. }),
            reason: e.to_string(),
        }),
    }
}

async fn run_program(
    path: &PathBuf,
    timeout: Duration,
    request: &ApprovalRequest<'_>,
) -> Result<&'static str, ApprovalError> {
    let program = path.display().to_string();
    let mut cmd = tokio::process::Command::new(path);
    cmd.arg(request.prompt());
    request.apply_env(&mut cmd, &[]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Its own process group, so a time-out kills whatever it started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| ApprovalError::Spawn {
        program: program.clone(),
        reason: e.to_string(),
    })?;
    if let Some(stdin) = child.stdin.take() {
        feed(stdin, request.full_text());
    }
    // Kills the approver's whole group when this future ends early or is dropped (the client hung
    // up, the agent shuts down): nothing it started outlives the request.
    struct GroupGuard(Option<u32>);
    impl Drop for GroupGuard {
        fn drop(&mut self) {
            if let Some(pgid) = self.0 {
                // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
                unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
            }
        }
    }
    let mut guard = GroupGuard(child.id());
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => {
            guard.0 = None;
            Ok("approver")
        }
        Ok(Ok(status)) => {
            drop(guard);
            Err(ApprovalError::Denied {
                program,
                status: match status.code() {
                    Some(c) => format!("exit status {c}"),
                    None => "killed by a signal".into(),
                },
            })
        }
        Ok(Err(e)) => Err(ApprovalError::Spawn {
            program,
            reason: e.to_string(),
        }),
        Err(_) => {
            drop(guard);
            let _ = child.wait().await;
            Err(ApprovalError::Timeout {
                program,
                secs: timeout.as_secs(),
            })
        }
    }
}

/// Writes the full prompt to a child's standard input and closes it, in the background: a
/// program that never reads it (or exits first) does not hold up the answer.
pub fn feed(mut stdin: tokio::process::ChildStdin, text: String) {
    use tokio::io::AsyncWriteExt;
    tokio::spawn(async move {
        let _ = stdin.write_all(text.as_bytes()).await;
        let _ = stdin.shutdown().await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::PeerInfo;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &std::path::Path, body: &str) -> PathBuf {
        let p = dir.join("approver");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        p
    }

    fn peer() -> PeerInfo {
        PeerInfo {
            uid: 1000,
            gid: 1000,
            pid: Some(4242),
            exe: Some("/usr/bin/freqtrade".into()),
            comm: None,
            cmdline: None,
        }
    }

    #[tokio::test]
    async fn exit_status_decides_and_prompt_names_everything() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let secrets = vec![("bitget-main".to_owned(), "bitget".to_owned())];
        let p = peer();
        let req = ApprovalRequest::unlock(&secrets, &p);
        let ok = script(
            dir.path(),
            &format!("echo \"$1|$APISEC_CLIENT_PID\" > {}", log.display()),
        );
        let a = Approver::program(ok, Duration::from_secs(5), 4);
        assert_eq!(a.ask(&req).await.unwrap(), "approver");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap().trim(),
            "unlock bitget-main (bitget), asked by freqtrade (pid 4242, uid 1000)|4242"
        );
        let deny = script(dir.path(), "exit 3");
        let a = Approver::program(deny, Duration::from_secs(5), 4);
        assert!(
            matches!(a.ask(&req).await, Err(ApprovalError::Denied { ref status, .. }) if status == "exit status 3")
        );
        assert_eq!(
            Approver::None.ask(&req).await,
            Err(ApprovalError::NotConfigured)
        );
    }

    /// Counts ECDHs, standing in for the card in this unit test only.
    struct CountingCard(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl crate::token::KeyHolder for CountingCard {
        fn ecdh(&mut self, _: &[u8; 65]) -> Result<zeroize::Zeroizing<[u8; 32]>, TokenError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(zeroize::Zeroizing::new([0; 32]))
        }
        fn sign(
            &mut self,
            _: &str,
            _: crate::sign::KeyAlgorithm,
            _: &[u8],
        ) -> Result<Vec<u8>, TokenError> {
            unreachable!("not used")
        }
        fn release(&mut self) {}
    }

    #[tokio::test]
    async fn the_touch_approves_an_unseal_as_is_and_a_step_up_with_its_own_card_operation() {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let token = TokenHandle::spawn(CountingCard(count.clone()));
        let secrets = vec![("x".to_owned(), "bitget".to_owned())];
        let p = peer();
        let mut req = ApprovalRequest::unlock(&secrets, &p);
        let always = Approver::TokenTouch {
            token: token.clone(),
            fresh_touch: true,
        };
        assert_eq!(always.ask(&req).await, Ok("the token's touch"));
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
        req.fresh = true;
        assert_eq!(always.ask(&req).await, Ok("the token's touch"));
        assert_eq!(
            count.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one card operation"
        );
        let cached = Approver::TokenTouch {
            token,
            fresh_touch: false,
        };
        assert_eq!(cached.ask(&req).await, Err(ApprovalError::TouchNotFresh));
    }

    #[tokio::test]
    async fn a_hanging_approver_times_out_and_its_children_die() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let hang = script(
            dir.path(),
            &format!("sleep 600 & echo $! > {}; wait", pidfile.display()),
        );
        let secrets = vec![("x".to_owned(), "bitget".to_owned())];
        let p = peer();
        let req = ApprovalRequest::unlock(&secrets, &p);
        let a = Approver::program(hang, Duration::from_millis(500), 4);
        assert!(matches!(
            a.ask(&req).await,
            Err(ApprovalError::Timeout { .. })
        ));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The grandchild was killed with its group (it may linger only as a zombie of init).
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            status.is_empty() || status.contains("State:\tZ"),
            "{status}"
        );
    }
}
