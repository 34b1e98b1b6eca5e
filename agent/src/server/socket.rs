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
