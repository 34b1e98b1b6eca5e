//! The log file itself: opened for appending without following a symbolic link, and only when
//! it is a regular file of the agent's uid, mode 0600 (a link to `/dev/null`, or a file another
//! user can rewrite, would make the log worthless while signing went on).

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Refuses a log path that is not a regular file of ours, mode 0600 (a missing one is fine: it
/// is created so).
pub(super) fn check_existing(path: &Path) -> std::io::Result<()> {
    let refuse = |why: String| {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{}: {why}", path.display()),
        ))
    };
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if m.file_type().is_symlink() {
        return refuse(
            "is a symbolic link; the audit log must be a regular file (remove the link)".into(),
        );
    }
    if !m.file_type().is_file() {
        return refuse(
            "is not a regular file (a device such as /dev/null would discard every record); \
             remove it or point [audit] path at a file"
                .into(),
        );
    }
    let me = crate::hardening::current_uid();
    if m.uid() != me {
        return refuse(format!(
            "is owned by uid {}, not by the agent's uid {me}: whoever owns it can rewrite it",
            m.uid()
        ));
    }
    let mode = m.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return refuse(format!(
            "has mode {mode:o}; the audit log must be 0600: `chmod 600`"
        ));
    }
    Ok(())
}

/// Opens the log for appending, creating it 0600, never through a symbolic link.
pub(super) fn open_for_append(path: &Path) -> std::io::Result<std::fs::File> {
    check_existing(path)?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(file)
}
