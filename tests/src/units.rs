//! The systemd units of `contrib/systemd`, read as systemd reads them (`Key=value` lines, `#`
//! comments, a key repeated), so that the tests run each unit's own commands, paths and
//! settings instead of copies of them.

use std::path::{Path, PathBuf};

pub struct Unit {
    pub path: PathBuf,
    entries: Vec<(String, String)>,
}

impl Unit {
    /// `contrib/systemd/NAME` of the checkout.
    pub fn contrib(name: &str) -> Self {
        Self::read(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../contrib/systemd")
                .join(name),
        )
    }

    pub fn read(path: &Path) -> Self {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Self {
            path: path.to_owned(),
            entries,
        }
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The one value of `key`.
    pub fn one(&self, key: &str) -> String {
        let all = self.all(key);
        assert_eq!(
            all.len(),
            1,
            "{} has {} {key}= lines",
            self.path.display(),
            all.len()
        );
        all.into_iter().next().unwrap()
    }

    /// `Environment=NAME=VALUE` lines as pairs.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.all("Environment")
            .iter()
            .flat_map(|v| v.split_whitespace())
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("NAME=VALUE");
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }
}

/// A user unit's specifiers as systemd expands them: `%t` the runtime directory, `%h` the home.
pub fn expand_user(value: &str, runtime_dir: &Path, home: &Path) -> String {
    value
        .replace("%t", &runtime_dir.display().to_string())
        .replace("%h", &home.display().to_string())
}

/// A command line of a unit as argv, the installed programs (`/usr/local/bin/NAME`, where
/// `cargo install` or a hand install puts them) taken from `bin_dir` instead.
pub fn command_line(value: &str, bin_dir: &Path) -> Vec<String> {
    value
        .split_whitespace()
        .map(|w| match w.strip_prefix("/usr/local/bin/") {
            Some(name) => bin_dir.join(name).display().to_string(),
            None => w.to_owned(),
        })
        .collect()
}

/// An octal mode setting (`SocketMode=0600`).
pub fn mode(value: &str) -> u32 {
    u32::from_str_radix(value, 8).unwrap_or_else(|_| panic!("{value:?} is not an octal mode"))
}
