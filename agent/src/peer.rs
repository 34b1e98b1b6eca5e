//! Who is on the other end of a connection: `SO_PEERCRED` uid, gid and pid, and the executable
//! read from `/proc/PID/exe`, for prompts, policy and the log. Across uids the agent cannot read
//! another process's `/proc/PID/exe`; it then has only `/proc/PID/comm`, a name the client
//! chooses itself (`prctl(PR_SET_NAME)`), and says so wherever it shows it.

use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
    pub exe: Option<PathBuf>,
    /// `/proc/PID/comm`, when the executable could not be read: chosen by the client.
    pub comm: Option<String>,
    /// `/proc/PID/cmdline` at connection time, its arguments joined by spaces and cut at
    /// [`CMDLINE_MAX`] characters: chosen by the client too, and shown as such. It tells the
    /// owner what `apisec exec --unlock NAME -- PROGRAM ...` will start.
    pub cmdline: Option<String>,
}

/// The most characters of a client's command line kept for the approver's prompt.
pub const CMDLINE_MAX: usize = 400;

fn read_cmdline(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.is_empty() {
        return None;
    }
    let joined = args.join(" ");
    Some(match joined.char_indices().nth(CMDLINE_MAX) {
        Some((at, _)) => format!("{}...", &joined[..at]),
        None => joined,
    })
}

impl PeerInfo {
    pub fn from_cred(uid: u32, gid: u32, pid: Option<i32>) -> Self {
        let exe = pid.and_then(|p| std::fs::read_link(format!("/proc/{p}/exe")).ok());
        let comm = match (&exe, pid) {
            (None, Some(p)) => std::fs::read_to_string(format!("/proc/{p}/comm"))
                .ok()
                .map(|c| c.trim_end_matches('\n').to_owned()),
            _ => None,
        };
        Self {
            uid,
            gid,
            pid,
            exe,
            comm,
            cmdline: pid.and_then(read_cmdline),
        }
    }

    /// `python3 (pid 4242, uid 1000)`.
    pub fn describe(&self) -> String {
        let name = self
            .exe
            .as_ref()
            .and_then(|e| e.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .or_else(|| {
                self.comm
                    .as_ref()
                    .map(|c| format!("{c:?} (a name the client chose)"))
            })
            .unwrap_or_else(|| "unknown program".into());
        match self.pid {
            Some(pid) => format!("{name} (pid {pid}, uid {})", self.uid),
            None => format!("{name} (uid {})", self.uid),
        }
    }
}
