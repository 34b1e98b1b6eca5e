//! Who is on the other end of a connection: `SO_PEERCRED` uid, gid and pid, and the executable
//! read from `/proc/PID/exe`, for prompts, policy and the log.

use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
    pub exe: Option<PathBuf>,
}

impl PeerInfo {
    pub fn from_cred(uid: u32, gid: u32, pid: Option<i32>) -> Self {
        let exe = pid.and_then(|p| std::fs::read_link(format!("/proc/{p}/exe")).ok());
        Self { uid, gid, pid, exe }
    }

    /// `python3 (pid 4242, uid 1000)`.
    pub fn describe(&self) -> String {
        let name = self
            .exe
            .as_ref()
            .and_then(|e| e.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unknown program".into());
        match self.pid {
            Some(pid) => format!("{name} (pid {pid}, uid {})", self.uid),
            None => format!("{name} (uid {})", self.uid),
        }
    }
}
