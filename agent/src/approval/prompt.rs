//! What an approver is shown, and through which channel. The contract (docs/operations.md):
//!
//! - standard input: the full prompt, UTF-8, one request, ending at end of file: the action,
//!   the secrets, who asks, and for a step-up the request with every field whole (a long value
//!   as a digest in the list and in full below it), the endpoint's class and the rule;
//! - `$1`: a short line without request details (argv is readable by every uid on the host);
//! - the environment: an allow-list (the `APISEC_*` variables below, and what a desktop
//!   dialog needs), nothing else the agent has, so no PIN variable reaches a child.
//!
//! Everything a client chose (paths, field names and values, its program's name) is escaped:
//! control characters, and the format characters that reorder or hide text (bidi overrides,
//! zero-width marks), so a prompt reads as the request is.

use sha2::{Digest, Sha256};

use crate::log::escaped;
use crate::peer::PeerInfo;

/// A value longer than this is listed as its digest, and shown in full below the list.
const INLINE_VALUE: usize = 80;

/// The variables of the agent's own environment a child keeps: what a desktop dialog or a
/// terminal prompt needs to appear, and nothing more.
const PASSED_THROUGH: &[&str] = &[
    "HOME",
    "PATH",
    "LANG",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "GPG_TTY",
];

/// The request a step-up approval is about.
#[derive(Debug, Clone)]
pub struct StepUp<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The class of the endpoint (`transfer`, ...), `None` when the table does not know it.
    pub class: Option<&'a str>,
    /// What the endpoint does, from the table.
    pub what: &'a str,
    /// Why a fresh approval is needed: the rule, and what else the signature is good for.
    pub why: &'a str,
    /// The request's fields as the exchange reads them, in the order the exchange's table of
    /// them sorts (by name).
    pub fields: Vec<(String, String)>,
}

/// What is being approved.
pub struct ApprovalRequest<'a> {
    /// `unlock` or `sign`.
    pub action: &'a str,
    /// (name, exchange) of each secret concerned.
    pub secrets: &'a [(String, String)],
    pub client: &'a PeerInfo,
    /// The other requests waiting for the same unseal (merged unlocks), in the order they came.
    pub others: &'a [PeerInfo],
    /// For a step-up: the request.
    pub step_up: Option<StepUp<'a>>,
    /// This one request must be approved by itself (a step-up), not by an earlier approval.
    pub fresh: bool,
    /// What changed since the owner last approved these secrets (a rolled-back entry, another
    /// policy, a name removed and added again): shown, so that the approval covers it.
    pub changes: &'a [String],
}

impl<'a> ApprovalRequest<'a> {
    /// An unseal of `secrets` asked by `client`: no request, any earlier approval may stand.
    pub fn unlock(secrets: &'a [(String, String)], client: &'a PeerInfo) -> Self {
        Self {
            action: "unlock",
            secrets,
            client,
            others: &[],
            step_up: None,
            fresh: false,
            changes: &[],
        }
    }
}

fn client_line(client: &PeerInfo) -> String {
    let mut s = client.describe();
    if let Some(exe) = &client.exe {
        s.push_str(&format!(", {}", exe.display()));
    }
    escaped(&s)
}

/// The most lines the other requesters take in a prompt; the rest are counted per uid.
const LISTED_REQUESTERS: usize = 20;

/// The other requesters, one line each, a client asking over several connections once with
/// their count: `python3 (pid 7, uid 1000, /usr/bin/python3.11), 299 requests`; past
/// [`LISTED_REQUESTERS`] lines, `and 40 more requests from uid 1001` (a prompt stays short
/// however many processes a bot starts).
fn others_lines(others: &[PeerInfo]) -> Vec<String> {
    let mut seen: Vec<(&PeerInfo, usize)> = Vec::new();
    for peer in others {
        match seen
            .iter_mut()
            .find(|(p, _)| p.uid == peer.uid && p.pid == peer.pid)
        {
            Some((_, n)) => *n += 1,
            None => seen.push((peer, 1)),
        }
    }
    let mut lines: Vec<String> = seen
        .iter()
        .take(LISTED_REQUESTERS)
        .map(|(peer, n)| match n {
            1 => client_line(peer),
            n => format!("{}, {n} requests", client_line(peer)),
        })
        .collect();
    let mut rest: Vec<(u32, usize)> = Vec::new();
    for (peer, n) in seen.iter().skip(LISTED_REQUESTERS) {
        match rest.iter_mut().find(|(uid, _)| *uid == peer.uid) {
            Some((_, count)) => *count += n,
            None => rest.push((peer.uid, *n)),
        }
    }
    for (uid, n) in rest {
        lines.push(format!("and {n} more request(s) from uid {uid}"));
    }
    lines
}

impl ApprovalRequest<'_> {
    /// Every uid the approval answers, the first requester's first, comma-separated.
    fn client_uids(&self) -> String {
        let mut uids = vec![self.client.uid];
        for peer in self.others {
            if !uids.contains(&peer.uid) {
                uids.push(peer.uid);
            }
        }
        uids.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `asked by X`, with how many more requests wait for the same approval.
    fn asked_by(&self) -> String {
        let who = escaped(&self.client.describe());
        match self.others.len() {
            0 => format!("asked by {who}"),
            1 => format!("asked by {who} and 1 more request (listed on standard input)"),
            n => format!("asked by {who} and {n} more requests (listed on standard input)"),
        }
    }

    fn secret_list(&self) -> String {
        let list = self
            .secrets
            .iter()
            .map(|(n, e)| format!("{n} ({e})"))
            .collect::<Vec<_>>()
            .join(", ");
        escaped(&list)
    }

    /// `$1`, the waiting client's progress line and the log: no request details.
    /// `unlock bg (bitget), asked by python3 (pid 4242, uid 1000)`,
    /// `sign bg (bitget): a transfer request, asked by ...; the request is on standard input`.
    pub fn prompt(&self) -> String {
        let who = self.asked_by();
        match &self.step_up {
            Some(s) => format!(
                "{} {}: {} request, {who}; the request is on standard input",
                self.action,
                self.secret_list(),
                match s.class {
                    Some(c) => format!("a {c}"),
                    None => "an unclassified".to_owned(),
                }
            ),
            None if !self.changes.is_empty() => format!(
                "{} {}, {who}; what changed since the last approval is on standard input",
                self.action,
                self.secret_list()
            ),
            None => format!("{} {}, {who}", self.action, self.secret_list()),
        }
    }

    /// The approver's standard input.
    pub fn full_text(&self) -> String {
        let mut out = String::from("apisec-agent asks for approval\n\n");
        out.push_str(&format!("{} {}\n", self.action, self.secret_list()));
        out.push_str(&format!("asked by {}\n", client_line(self.client)));
        if let Some(cmdline) = &self.client.cmdline {
            // Under `apisec exec --unlock NAME -- PROGRAM`, the program it will start.
            out.push_str(&format!(
                "  its command line (as it set it): {}\n",
                escaped(cmdline)
            ));
        }
        // What changed comes before the other requesters: however many there are, it stays in
        // view (and inside a cut listing).
        if !self.changes.is_empty() {
            out.push_str("\nchanged since the last approval:\n");
            for c in self.changes {
                out.push_str(&format!("  - {}\n", escaped(c)));
            }
        }
        let others = others_lines(self.others);
        if !others.is_empty() {
            out.push_str(&format!(
                "\nalso waiting for this unseal ({} more requests):\n",
                self.others.len()
            ));
            for line in others {
                out.push_str(&format!("  - {line}\n"));
            }
        }
        let Some(s) = &self.step_up else {
            return out;
        };
        out.push_str(&format!(
            "\nrequest: {} {}\n",
            escaped(s.method),
            escaped(s.path)
        ));
        out.push_str(&format!(
            "endpoint class: {}\n",
            match s.class {
                Some(c) if s.what.is_empty() => c.to_owned(),
                Some(c) => format!("{c} ({})", escaped(s.what)),
                None => "not in the exchange's table".to_owned(),
            }
        ));
        out.push_str(&format!("why it needs this approval: {}\n", escaped(s.why)));
        out.push_str(&format!("fields ({}):\n", s.fields.len()));
        let mut long = Vec::new();
        for (k, v) in &s.fields {
            if v.chars().count() > INLINE_VALUE {
                let digest = hex::encode(&Sha256::digest(v.as_bytes())[..8]);
                out.push_str(&format!(
                    "  {} = <{} bytes, sha256 {digest}...; in full below>\n",
                    escaped(k),
                    v.len()
                ));
                long.push((k, v));
            } else {
                out.push_str(&format!("  {} = \"{}\"\n", escaped(k), escaped(v)));
            }
        }
        for (k, v) in long {
            out.push_str(&format!("\n{}, in full:\n\"{}\"\n", escaped(k), escaped(v)));
        }
        out
    }

    /// The `APISEC_*` variables: `APISEC_ACTION` (unlock or sign), `APISEC_SECRETS` and
    /// `APISEC_EXCHANGES` (comma-separated, in the same order), `APISEC_CLASS` (a step-up's
    /// endpoint class, else empty), `APISEC_CLIENT_UID`, `APISEC_CLIENT_PID`,
    /// `APISEC_CLIENT_EXE` (the requesting program: the first, when several wait for one
    /// unseal), `APISEC_REQUESTS` (how many requests the approval answers), `APISEC_CLIENT_UIDS`
    /// (every uid it answers for, comma-separated).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let names: Vec<&str> = self.secrets.iter().map(|(n, _)| n.as_str()).collect();
        let exchanges: Vec<&str> = self.secrets.iter().map(|(_, e)| e.as_str()).collect();
        let client = self.client;
        vec![
            ("APISEC_ACTION", self.action.to_owned()),
            ("APISEC_SECRETS", names.join(",")),
            ("APISEC_EXCHANGES", exchanges.join(",")),
            (
                "APISEC_CLASS",
                self.step_up
                    .as_ref()
                    .and_then(|s| s.class)
                    .unwrap_or_default()
                    .to_owned(),
            ),
            ("APISEC_CLIENT_UID", client.uid.to_string()),
            (
                "APISEC_CLIENT_PID",
                client.pid.map(|p| p.to_string()).unwrap_or_default(),
            ),
            (
                "APISEC_CLIENT_EXE",
                client
                    .exe
                    .as_ref()
                    .map(|e| escaped(&e.display().to_string()))
                    .unwrap_or_default(),
            ),
            ("APISEC_REQUESTS", (1 + self.others.len()).to_string()),
            ("APISEC_CLIENT_UIDS", self.client_uids()),
        ]
    }

    /// Gives `cmd` the child environment: cleared, then the allow-list, then the `APISEC_*`
    /// variables (and `extra`).
    pub fn apply_env(&self, cmd: &mut tokio::process::Command, extra: &[(&'static str, String)]) {
        child_env(cmd);
        cmd.envs(self.env());
        cmd.envs(extra.iter().map(|(k, v)| (*k, v)));
    }
}

/// Clears `cmd`'s environment, then gives it the allow-list of the agent's own: what every
/// program the agent starts (approver, notify, alert) may see.
pub fn child_env(cmd: &mut tokio::process::Command) {
    cmd.env_clear();
    for name in PASSED_THROUGH {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
}

#[cfg(test)]
#[path = "prompt_tests.rs"]
mod tests;
