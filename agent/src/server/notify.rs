//! Telling the human, at once, that a request waits for them: the card waits for a touch, or an
//! approver program was asked. The waiting client gets a progress line and the optional notify
//! program (`[approval] notify`) runs with the same text; it is started and not waited for, so a
//! slow notifier never delays anything.

use std::path::Path;
use std::process::Stdio;

use crate::approval::ApprovalRequest;
use crate::token::TouchNotice;

/// "touch your YubiKey (serial N) to unlock NAME", with "(touch i of n)" when every secret of
/// the request costs a touch of its own.
pub fn touch_line(notice: TouchNotice, name: &str, index: usize, total: usize) -> String {
    let mut text = format!(
        "touch your YubiKey (serial {}) to unlock {name}",
        notice.serial
    );
    if notice.cached {
        text.push_str(" (one touch covers the next 15 s)");
    } else if total > 1 {
        text.push_str(&format!(" (touch {index} of {total})"));
    }
    text
}

/// Runs `program TEXT` in the background: `TEXT` the short line (no request details; argv is
/// readable by every uid), the full prompt on its standard input as the approver gets it, the
/// approver's environment (`APISEC_ACTION`, `APISEC_SECRETS`, `APISEC_EXCHANGES`,
/// `APISEC_CLASS`, `APISEC_CLIENT_*`, `APISEC_REQUESTS`, and `APISEC_NOTICE`: the text).
/// Failures are logged, never fatal.
pub fn notify(program: &Path, text: &str, request: &ApprovalRequest<'_>) {
    let mut env = request.env();
    env.push(("APISEC_NOTICE", text.to_owned()));
    run_in_background(program, text, &request.full_text(), &env);
}

/// Starts `program LINE` with `input` on its standard input, the allow-listed environment and
/// `env`, and does not wait for it (it is reaped in the background, so it never lingers as a
/// zombie). The notify and the alert programs both run this way.
pub fn run_in_background(program: &Path, line: &str, input: &str, env: &[(&'static str, String)]) {
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg(line);
    crate::approval::child_env(&mut cmd);
    cmd.envs(env.iter().map(|(k, v)| (*k, v)));
    let spawned = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            if let Some(stdin) = child.stdin.take() {
                crate::approval::feed(stdin, input.to_owned());
            }
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(e) => crate::warn!("cannot run {}: {e}", program.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_touches_only_when_each_secret_needs_one() {
        let always = TouchNotice {
            serial: 7,
            cached: false,
        };
        assert_eq!(
            touch_line(always, "bg", 1, 1),
            "touch your YubiKey (serial 7) to unlock bg"
        );
        assert_eq!(
            touch_line(always, "b", 2, 3),
            "touch your YubiKey (serial 7) to unlock b (touch 2 of 3)"
        );
        let cached = TouchNotice {
            serial: 7,
            cached: true,
        };
        assert!(
            touch_line(cached, "b", 1, 3).ends_with("unlock b (one touch covers the next 15 s)")
        );
    }
}
