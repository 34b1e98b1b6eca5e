//! The store: one file per secret under a 0700 directory, `NAME.toml` (mode 0600), written
//! atomically. See `entry.rs` for the format and `docs/formats.md` for the user's view.

pub mod atomic;
pub mod attest;
pub mod entry;
pub mod spelled;
pub mod unseal;
pub mod weakened;

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use entry::{EntryFile, EntryMeta, SecretMaterial, Unsealed};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{0:?} is not a valid secret name: use 1 to 64 letters, digits, '.', '_' or '-', \
         starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("no secret named {name:?} in {dir}; `apisec-agent list` shows what the store holds")]
    NotFound { name: String, dir: PathBuf },
    #[error(
        "a secret named {0:?} already exists; to give it a new secret, use \
         `apisec-agent rotate {0}` (its policy and name are kept)"
    )]
    Exists(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the disk holding {path} is full; nothing was changed (the old entry, if any, is intact): \
         free some space and try again"
    )]
    NoSpace { path: PathBuf },
    #[error("store entry {path} is damaged: {reason}; restore it from a backup or remove it")]
    Damaged { path: PathBuf, reason: String },
    #[error(
        "store entry {name:?} was altered: its clear {fields} differ(s) from the sealed copy, so \
         the agent refuses it; restore the file from a backup or add the secret again",
        fields = fields.join(", ")
    )]
    Tampered {
        name: String,
        fields: Vec<&'static str>,
    },
}

/// An I/O error, with a full disk told apart (it has its own remedy).
pub fn io_error(path: PathBuf, source: io::Error) -> StoreError {
    if source.raw_os_error() == Some(libc::ENOSPC) || source.raw_os_error() == Some(libc::EDQUOT) {
        StoreError::NoSpace { path }
    } else {
        StoreError::Io { path, source }
    }
}

/// Checks a secret name: it becomes a file name, so no separators, no leading dot.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(name.to_owned()))
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
        let path = path.to_owned();
        move |source| io_error(path, source)
    }

    /// Creates the directory 0700 if missing, and tightens it if it is wider.
    pub fn ensure_dir(&self) -> Result<(), StoreError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(self.io(&self.dir))?;
        let meta = fs::metadata(&self.dir).map_err(self.io(&self.dir))?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
                .map_err(self.io(&self.dir))?;
        }
        Ok(())
    }

    pub fn entry_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.toml"))
    }

    /// The names of every entry file, sorted. A missing directory is an empty store.
    pub fn names(&self) -> Result<Vec<String>, StoreError> {
        let read = match fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(self.io(&self.dir)(e)),
        };
        let mut names = Vec::new();
        for item in read {
            let item = item.map_err(self.io(&self.dir))?;
            let file = item.file_name().to_string_lossy().into_owned();
            if atomic::is_temp_name(&file) {
                continue;
            }
            if let Some(name) = file.strip_suffix(".toml") {
                if check_name(name).is_ok() {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Reads and parses one entry, checking that the file's name and its `name` field agree.
    pub fn load(&self, name: &str) -> Result<EntryFile, StoreError> {
        check_name(name)?;
        let path = self.entry_path(name);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    name: name.to_owned(),
                    dir: self.dir.clone(),
                })
            }
            Err(e) => return Err(self.io(&path)(e)),
        };
        let damaged = |reason: String| StoreError::Damaged {
            path: path.clone(),
            reason,
        };
        let text = String::from_utf8(text).map_err(|_| damaged("it is not UTF-8 text".into()))?;
        let file = EntryFile::parse(&text).map_err(damaged)?;
        if file.name != name {
            return Err(StoreError::Tampered {
                name: name.to_owned(),
                fields: vec!["name"],
            });
        }
        Ok(file)
    }

    /// Writes a new entry; refuses to replace an existing one.
    pub fn create(&self, file: &EntryFile) -> Result<(), StoreError> {
        check_name(&file.name)?;
        self.ensure_dir()?;
        let path = self.entry_path(&file.name);
        match atomic::write(&path, file.to_toml().as_bytes(), atomic::Mode::CreateNew) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(StoreError::Exists(file.name.clone()))
            }
            Err(e) => Err(self.io(&path)(e)),
        }
    }

    /// Replaces the entry `old` with `new` (same name), keeping `old` in its backup file first:
    /// a crash at any moment leaves the old entry or the new one, and the old one is kept either
    /// way. Returns the backup's path.
    pub fn replace(&self, old: &EntryFile, new: &EntryFile) -> Result<PathBuf, StoreError> {
        check_name(&new.name)?;
        let first = self.backup_path(&old.name, &old.created);
        let backup_dir = first
            .parent()
            .expect("a backup path has a directory")
            .to_owned();
        fs::create_dir_all(&backup_dir).map_err(self.io(&backup_dir))?;
        let text = old.to_toml();
        let mut backup = first.clone();
        for n in 1.. {
            match atomic::write(&backup, text.as_bytes(), atomic::Mode::CreateNew) {
                Ok(()) => break,
                // Kept already (a run killed after its backup): the same bytes are there.
                Err(e)
                    if e.kind() == io::ErrorKind::AlreadyExists
                        && fs::read(&backup).is_ok_and(|b| b == text.as_bytes()) =>
                {
                    break
                }
                // Another entry of the same name and generation was kept there: a name of its own.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    backup = first.with_extension(format!("{n}.toml"));
                }
                Err(e) => return Err(self.io(&backup)(e)),
            }
        }
        let target = self.entry_path(&new.name);
        atomic::write(&target, new.to_toml().as_bytes(), atomic::Mode::Replace)
            .map_err(self.io(&target))?;
        Ok(backup)
    }

    /// Where `rotate` keeps the entry it replaced: `STORE/backup/NAME.STAMP.toml`, STAMP the old
    /// entry's creation time without separators.
    pub fn backup_path(&self, name: &str, created: &str) -> PathBuf {
        let stamp: String = created
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        self.dir.join("backup").join(format!("{name}.{stamp}.toml"))
    }

    /// The rotation backups of `name` (not those of a name that merely starts with it).
    pub fn backups_of(&self, name: &str) -> Result<Vec<PathBuf>, StoreError> {
        check_name(name)?;
        let dir = self.dir.join("backup");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&dir)(e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(self.io(&dir))?;
            let file = e.file_name();
            let Some(file) = file.to_str() else { continue };
            let stamp = file
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('.'))
                .and_then(|r| r.strip_suffix(".toml"));
            if stamp.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()))
            {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes an entry (and fsyncs the directory).
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        let path = self.entry_path(name);
        match fs::remove_file(&path) {
            Ok(()) => atomic::sync_dir(&self.dir).map_err(self.io(&self.dir)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound {
                name: name.to_owned(),
                dir: self.dir.clone(),
            }),
            Err(e) => Err(self.io(&path)(e)),
        }
    }
}

/// Compares an entry's clear metadata with its sealed copy.
pub fn check_untampered(file: &EntryFile, sealed: &EntryMeta) -> Result<(), StoreError> {
    let fields = file.meta().differences(sealed);
    if fields.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Tampered {
            name: file.name.clone(),
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["bitget-main", "a", "A.b_c-1"] {
            check_name(good).unwrap();
        }
        for bad in ["", ".hidden", "a/b", "../x", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
