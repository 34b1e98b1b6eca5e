//! The listening socket: a directory only we can use (0700, ours), a socket 0600, a stale socket
//! from a crashed agent replaced, a live agent never displaced.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("the socket path {0} has no parent directory")]
    NoParent(PathBuf),
    #[error("cannot create the socket directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error(
        "the socket directory {path} is owned by uid {owner}, not by this user (uid {me}); \
         refusing to use it: choose another socket path"
    )]
    DirOwner { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "the socket directory {path} can be used by others (mode {mode:o}); refusing to use it: \
         run `chmod 700 {path}` or choose another socket path"
    )]
    DirMode { path: PathBuf, mode: u32 },
    #[error("an agent is already listening on {0}; stop it first (`apisec-agent stop`)")]
    InUse(PathBuf),
    #[error("cannot listen on {path}: {source}")]
    Bind { path: PathBuf, source: io::Error },
}

/// Prepares the socket's directory: created 0700 if missing; if it exists it must be ours and
/// not writable or searchable by others.
pub fn prepare_dir(socket: &Path) -> Result<(), SocketError> {
    let dir = socket
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| SocketError::NoParent(socket.to_owned()))?;
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| SocketError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
    }
    let meta = fs::metadata(dir).map_err(|source| SocketError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let me = crate::hardening::current_uid();
    if meta.uid() != me {
        return Err(SocketError::DirOwner {
            path: dir.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SocketError::DirMode {
            path: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Binds the socket with mode 0600. A leftover socket nobody answers on is removed first.
pub fn bind(socket: &Path) -> Result<std::os::unix::net::UnixListener, SocketError> {
    prepare_dir(socket)?;
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(SocketError::InUse(socket.to_owned()));
        }
        let _ = fs::remove_file(socket);
    }
    // SAFETY: umask cannot fail; 0177 makes the socket 0600 from its creation, no window.
    let old = unsafe { libc::umask(0o177) };
    let result = std::os::unix::net::UnixListener::bind(socket);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = result.map_err(|source| SocketError::Bind {
        path: socket.to_owned(),
        source,
    })?;
    let _ = fs::set_permissions(socket, fs::Permissions::from_mode(0o600));
    listener
        .set_nonblocking(true)
        .map_err(|source| SocketError::Bind {
            path: socket.to_owned(),
            source,
        })?;
    Ok(listener)
}

/// The first file descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: i32 = 3;

/// A listening socket handed over by socket activation.
pub struct Activated {
    pub listener: std::os::unix::net::UnixListener,
    /// The socket's path (from the socket itself), when it has one.
    pub path: Option<PathBuf>,
    /// `LISTEN_FDNAMES`, when it was set (systemd: the .socket unit's name or `FileDescriptorName=`).
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("socket activation: LISTEN_FDS={0:?} is not a number")]
    BadCount(String),
    #[error(
        "socket activation: {0} sockets were passed (LISTEN_FDS={0}); the agent listens on exactly \
         one: give its .socket unit a single ListenStream="
    )]
    NotOne(usize),
    #[error("socket activation: fd 3 {0}")]
    Unusable(String),
}

/// Takes the listening socket passed the way systemd passes it: `LISTEN_PID` is our pid and
/// `LISTEN_FDS` is 1, so fd 3 is the socket (`LISTEN_FDNAMES` optional). The socket must be a Unix
/// stream socket in listening state; it is made close-on-exec and non-blocking. The variables are
/// removed from the environment in every case, so no child (approver, notify program) inherits
/// them. `Ok(None)`: nothing was passed to this process; bind the configured path instead.
///
/// Call this before any thread starts: it changes the environment.
pub fn from_listen_fds() -> Result<Option<Activated>, ActivationError> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let names = std::env::var("LISTEN_FDNAMES").ok();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let for_us = pid
        .as_deref()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let Some(fds) = fds.filter(|_| for_us) else {
        return Ok(None);
    };
    let count: usize = fds
        .trim()
        .parse()
        .map_err(|_| ActivationError::BadCount(fds.clone()))?;
    match count {
        0 => return Ok(None),
        1 => {}
        n => return Err(ActivationError::NotOne(n)),
    }
    let fd = LISTEN_FDS_START;
    check_listening_unix_stream(fd).map_err(ActivationError::Unusable)?;
    // SAFETY: fcntl on a descriptor checked above; only flags change.
    unsafe {
        let fdflags = libc::fcntl(fd, libc::F_GETFD);
        if fdflags < 0 || libc::fcntl(fd, libc::F_SETFD, fdflags | libc::FD_CLOEXEC) < 0 {
            return Err(ActivationError::Unusable(format!(
                "cannot be made close-on-exec: {}",
                io::Error::last_os_error()
            )));
        }
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(ActivationError::Unusable(format!(
                "cannot be made non-blocking: {}",
                io::Error::last_os_error()
            )));
        }
    }
    // SAFETY: fd 3 was passed to us for this purpose, is a listening Unix stream socket (checked)
    // and nothing else in this process owns it.
    let listener =
        unsafe { <std::os::unix::net::UnixListener as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(Path::to_owned));
    let name = names.filter(|n| !n.is_empty());
    Ok(Some(Activated {
        listener,
        path,
        name,
    }))
}

/// Checks that `fd` is an open Unix stream socket in listening state; the reason when not.
fn check_listening_unix_stream(fd: i32) -> Result<(), String> {
    // SAFETY: fstat and getsockopt write only into the local buffers passed, of the right sizes.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return Err(format!("is not open: {}", io::Error::last_os_error()));
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Err("is not a socket".into());
        }
        let int_opt = |level: i32, name: i32| -> Result<i32, String> {
            let mut v: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            if libc::getsockopt(
                fd,
                level,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            ) != 0
            {
                return Err(format!("cannot be queried: {}", io::Error::last_os_error()));
            }
            Ok(v)
        };
        if int_opt(libc::SOL_SOCKET, libc::SO_DOMAIN)? != libc::AF_UNIX {
            return Err("is not a Unix socket (use ListenStream=/path, not a port)".into());
        }
        if int_opt(libc::SOL_SOCKET, libc::SO_TYPE)? != libc::SOCK_STREAM {
            return Err("is not a stream socket (use ListenStream=, not ListenDatagram=)".into());
        }
        if int_opt(libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? == 0 {
            return Err("is not listening (set Accept=no in the .socket unit)".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_directory_others_can_use_and_binds_0600() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        let err = bind(&open.join("agent.sock")).unwrap_err();
        assert!(
            matches!(err, SocketError::DirMode { mode: 0o755, .. }),
            "{err}"
        );

        let sock = dir.path().join("private/agent.sock");
        let listener = bind(&sock).unwrap();
        let mode = fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(sock.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        // A live agent is never displaced.
        assert!(matches!(bind(&sock), Err(SocketError::InUse(_))));
        drop(listener);
        // A stale socket file is replaced.
        bind(&sock).unwrap();
    }
}
