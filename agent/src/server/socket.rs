//! The listening socket: a directory only the agent's uid can change (0700, or 0750 of the
//! socket group in the separated deployment), a socket 0600 (0660 of that group), a stale socket
//! from a crashed agent replaced, a live agent never displaced. The directory is created and
//! checked without following a symbolic link: in `/tmp` (the fallback when `XDG_RUNTIME_DIR` is
//! unset) another uid could plant one to have the agent listen, and its clients connect, where it
//! chooses.

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
        "the socket directory {0} is a symbolic link; refusing to follow it (another user may \
         have planted it): remove it, or choose another socket path"
    )]
    DirSymlink(PathBuf),
    #[error(
        "the socket directory {path} is owned by uid {owner}, not by this user (uid {me}); \
         refusing to use it: choose another socket path"
    )]
    DirOwner { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "the socket directory {path} can be used by others (mode {mode:o}); refusing to use it: \
         run `chmod {want:o} {path}` or choose another socket path"
    )]
    DirMode { path: PathBuf, mode: u32, want: u32 },
    #[error(
        "the socket directory {path} belongs to group {found}, not to the socket group {name} \
         (gid {gid}): run `chgrp {name} {path}`"
    )]
    DirGroup {
        path: PathBuf,
        found: u32,
        name: String,
        gid: u32,
    },
    #[error("cannot give {path} to the socket group {name}: {source} (is the agent's user a member of {name}?)")]
    Chown {
        path: PathBuf,
        name: String,
        source: io::Error,
    },
    #[error("an agent is already listening on {0}; stop it first (`apisec-agent stop`)")]
    InUse(PathBuf),
    #[error("cannot listen on {path}: {source}")]
    Bind { path: PathBuf, source: io::Error },
}

/// The group a socket is shared with: its gid and name (`[agent] socket_group`).
pub type SocketGroup = (u32, String);

fn chown_group(path: &Path, group: &SocketGroup) -> Result<(), SocketError> {
    std::os::unix::fs::lchown(path, None, Some(group.0)).map_err(|source| SocketError::Chown {
        path: path.to_owned(),
        name: group.1.clone(),
        source,
    })
}

/// Prepares the socket's directory: created (0700, or 0750 of the socket group) if missing,
/// without following a symbolic link in its last component; if it exists it must be a real
/// directory, ours, not writable by others, and of the socket group when there is one.
pub fn prepare_dir(socket: &Path, group: Option<&SocketGroup>) -> Result<(), SocketError> {
    let dir = socket
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| SocketError::NoParent(socket.to_owned()))?;
    let create_err = |source| SocketError::CreateDir {
        path: dir.to_owned(),
        source,
    };
    let want = if group.is_some() { 0o750 } else { 0o700 };
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(create_err)?;
        }
    }
    // mkdir itself never follows a link: it fails with EEXIST on anything already there, which
    // the checks below then judge.
    match fs::DirBuilder::new().mode(want).create(dir) {
        Ok(()) => {
            if let Some(g) = group {
                chown_group(dir, g)?;
                fs::set_permissions(dir, fs::Permissions::from_mode(want)).map_err(create_err)?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(create_err(e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(create_err)?;
    if meta.file_type().is_symlink() {
        return Err(SocketError::DirSymlink(dir.to_owned()));
    }
    if !meta.is_dir() {
        return Err(create_err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "it exists and is not a directory",
        )));
    }
    let me = crate::hardening::current_uid();
    if meta.uid() != me {
        return Err(SocketError::DirOwner {
            path: dir.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    let forbidden = if group.is_some() { 0o027 } else { 0o077 };
    if mode & forbidden != 0 {
        return Err(SocketError::DirMode {
            path: dir.to_owned(),
            mode,
            want,
        });
    }
    if let Some(g) = group {
        if meta.gid() != g.0 {
            return Err(SocketError::DirGroup {
                path: dir.to_owned(),
                found: meta.gid(),
                name: g.1.clone(),
                gid: g.0,
            });
        }
    }
    Ok(())
}

/// The socket file this agent bound, so that it removes only its own: another agent may have
/// replaced the file at the path since.
#[derive(Debug)]
pub struct Bound {
    pub path: PathBuf,
    dev_ino: Option<(u64, u64)>,
}

impl Bound {
    /// Removes the socket file if it is still the one bound.
    pub fn remove(&self) -> bool {
        let now = fs::symlink_metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if now.is_some() && now == self.dev_ino {
            return fs::remove_file(&self.path).is_ok();
        }
        false
    }
}

/// Binds the socket with mode 0600 (0660 of the socket group). A leftover socket nobody answers
/// on is removed first.
pub fn bind(
    socket: &Path,
    group: Option<&SocketGroup>,
) -> Result<(std::os::unix::net::UnixListener, Bound), SocketError> {
    prepare_dir(socket, group)?;
    if let Ok(meta) = fs::symlink_metadata(socket) {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(SocketError::InUse(socket.to_owned()));
        }
        if replaceable(meta.file_type()) {
            let _ = fs::remove_file(socket);
        }
    }
    let (mask, mode) = if group.is_some() {
        (0o117, 0o660)
    } else {
        (0o177, 0o600)
    };
    // SAFETY: umask cannot fail; the mask gives the socket its mode from its creation, no window.
    let old = unsafe { libc::umask(mask) };
    let result = std::os::unix::net::UnixListener::bind(socket);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = result.map_err(|source| SocketError::Bind {
        path: socket.to_owned(),
        source,
    })?;
    if let Some(g) = group {
        chown_group(socket, g)?;
    }
    let _ = fs::set_permissions(socket, fs::Permissions::from_mode(mode));
    listener
        .set_nonblocking(true)
        .map_err(|source| SocketError::Bind {
            path: socket.to_owned(),
            source,
        })?;
    let dev_ino = fs::symlink_metadata(socket)
        .ok()
        .map(|m| (m.dev(), m.ino()));
    Ok((
        listener,
        Bound {
            path: socket.to_owned(),
            dev_ino,
        },
    ))
}

/// Whether `bind` may replace what is at the path: a stale socket, or a regular file or link
/// left there; never a directory.
fn replaceable(t: fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    t.is_socket() || t.is_symlink() || t.is_file()
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

    fn mode_of(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn refuses_a_directory_others_can_use_and_binds_0600() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        let err = bind(&open.join("agent.sock"), None).unwrap_err();
        assert!(
            matches!(err, SocketError::DirMode { mode: 0o755, .. }),
            "{err}"
        );

        let sock = dir.path().join("private/agent.sock");
        let (listener, _) = bind(&sock, None).unwrap();
        assert_eq!(mode_of(&sock), 0o600);
        assert_eq!(mode_of(sock.parent().unwrap()), 0o700);
        // A live agent is never displaced.
        assert!(matches!(bind(&sock, None), Err(SocketError::InUse(_))));
        drop(listener);
        // A stale socket file is replaced.
        bind(&sock, None).unwrap();
    }

    #[test]
    fn a_planted_symlink_for_the_directory_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        // Ours, private, and still refused: the link could be swapped for another at any time.
        let target = dir.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o700)).unwrap();
        let planted = dir.path().join("apisec-1000");
        std::os::unix::fs::symlink(&target, &planted).unwrap();
        let err = bind(&planted.join("agent.sock"), None).expect_err("refused");
        assert!(matches!(err, SocketError::DirSymlink(_)), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(
            !target.join("agent.sock").exists(),
            "nothing was made through the link"
        );
    }

    #[test]
    fn a_socket_group_gets_a_0750_directory_and_a_0660_socket() {
        let dir = tempfile::tempdir().unwrap();
        // The process's own group: one it may always give files to.
        // SAFETY: getgid cannot fail.
        let gid = unsafe { libc::getgid() };
        let group = (gid, "own".to_owned());
        let sock = dir.path().join("shared/agent.sock");
        let (_listener, bound) = bind(&sock, Some(&group)).unwrap();
        assert_eq!(mode_of(&sock), 0o660);
        assert_eq!(mode_of(sock.parent().unwrap()), 0o750);
        assert_eq!(fs::metadata(&sock).unwrap().gid(), gid);
        // Removed only while it is still the socket this agent bound.
        assert!(bound.remove());
        assert!(!sock.exists());
        let (_again_listener, again) = bind(&sock, Some(&group)).unwrap();
        fs::remove_file(&sock).unwrap();
        fs::write(&sock, b"someone else's").unwrap();
        assert!(
            !again.remove(),
            "a file that replaced the socket is left alone"
        );
        assert!(sock.exists());
        // A group-writable directory is refused.
        fs::remove_file(&sock).unwrap();
        fs::set_permissions(sock.parent().unwrap(), fs::Permissions::from_mode(0o770)).unwrap();
        assert!(matches!(
            bind(&sock, Some(&group)),
            Err(SocketError::DirMode {
                mode: 0o770,
                want: 0o750,
                ..
            })
        ));
    }
}
