//! What the owner last approved for each secret, kept in the agent's own state
//! (`STATE/approved/NAME.json`): the digest of the entry's policy and settings, its generation
//! (the creation time sealed with it), and, after `remove`, when it was removed. An entry that is
//! older than the approved one (a rolled-back copy), or whose policy or settings differ, is a
//! change that needs a fresh approval showing it, at unlock and at reload; an entry after a removal
//! (remove + add, a restore from a backup) too. What this protects depends on who can write the
//! state: in the separated deployment no bot can; for a single user it is as writable as the
//! store (docs/threat-model.md).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{atomic, EntryFile};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Approved {
    /// SHA-256 of the entry's policy and settings, hex.
    digest: String,
    /// The approved entry's creation time (its generation).
    created: String,
    /// The policy in one line, to show what changed.
    summary: String,
    /// Set by `remove`: when the name was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    removed: Option<String>,
}

/// How an entry stands against what was approved for its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Nothing was approved for the name yet, or this is what was approved (or a newer entry
    /// with the same policy and settings: a rotation).
    Approved,
    /// A change the owner must approve; says what changed.
    Changed(String),
}

/// The digest of what a policy change is about: the entry's policy and settings, not its secret,
/// key id or creation time (a rotation keeps them).
fn digest(file: &EntryFile) -> String {
    let bound = serde_json::to_vec(&(
        &file.exchange,
        file.allow_raw,
        &file.freshness,
        &file.key_type,
        &file.token_key,
        &file.public_key,
        &file.expires,
        &file.policy,
    ))
    .expect("an entry serializes");
    hex::encode(Sha256::digest(&bound))
}

/// What the digest covers, in one line, to show a change: the policy and the settings beside it
/// (a change of freshness or raw MAC alone is a change too).
fn describe(file: &EntryFile) -> String {
    format!(
        "{}; freshness {}; expires {}; raw MAC {}",
        file.policy.summary(),
        file.freshness.as_str(),
        file.expires.as_deref().unwrap_or("never"),
        if file.allow_raw { "allowed" } else { "off" }
    )
}

/// The approvals kept in `dir` (`STATE/approved`).
#[derive(Clone, Debug)]
pub struct ApprovedPolicies {
    dir: PathBuf,
}

impl ApprovedPolicies {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("approved"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn read(&self, name: &str) -> Result<Option<Approved>, String> {
        let path = self.path(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                format!(
                    "{} is damaged ({e}); remove it, and the next unlock of {name} is asked for \
                     as a change",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// How `file` stands against what was approved for its name. A damaged record is a change.
    pub fn standing(&self, file: &EntryFile) -> Standing {
        let approved = match self.read(&file.name) {
            Ok(Some(a)) => a,
            Ok(None) => return Standing::Approved,
            Err(why) => return Standing::Changed(why),
        };
        if let Some(when) = &approved.removed {
            return Standing::Changed(format!(
                "{} was removed on {when}; this entry (created {}) takes its place, with policy: {}",
                file.name,
                file.created,
                describe(file)
            ));
        }
        if file.created < approved.created {
            return Standing::Changed(format!(
                "this entry of {} was created {}, before the one last approved ({}): an older \
                 copy put back (a rollback, or a restore from a backup); its policy: {}",
                file.name,
                file.created,
                approved.created,
                describe(file)
            ));
        }
        if digest(file) != approved.digest {
            return Standing::Changed(format!(
                "the policy or settings of {} differ from those last approved: before: {}; now: {}",
                file.name,
                approved.summary,
                describe(file)
            ));
        }
        Standing::Approved
    }

    /// Records `file` as approved for its name.
    pub fn approve(&self, file: &EntryFile) -> std::io::Result<()> {
        self.write(
            &file.name,
            &Approved {
                digest: digest(file),
                created: file.created.clone(),
                summary: describe(file),
                removed: None,
            },
        )
    }

    /// Marks `name` removed (`apisec-agent remove`): the next entry of that name is a change.
    pub fn tombstone(&self, name: &str, when: &str) -> std::io::Result<()> {
        let mut record = match self.read(name) {
            Ok(Some(a)) => a,
            _ => Approved {
                digest: String::new(),
                created: String::new(),
                summary: String::new(),
                removed: None,
            },
        };
        record.removed = Some(when.to_owned());
        self.write(name, &record)
    }

    fn write(&self, name: &str, record: &Approved) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let text = serde_json::to_string(record).expect("a record serializes") + "\n";
        atomic::write(&self.path(name), text.as_bytes(), atomic::Mode::Replace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, created: &str, policy: &str) -> EntryFile {
        let (policy, _) = crate::policy::file::parse(policy).unwrap();
        EntryFile::parse(&format!(
            "format = {}\nname = \"{name}\"\nexchange = \"bitget\"\napi_key = \"k\"\n\
             created = \"{created}\"\nrecipients = []\nsealed = \"x\"\n",
            crate::store::entry::FORMAT_VERSION
        ))
        .map(|mut f| {
            f.policy = policy;
            f
        })
        .unwrap()
    }

    #[test]
    fn a_rollback_a_changed_policy_and_a_removal_are_changes_a_rotation_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let approved = ApprovedPolicies::new(dir.path());
        let tight = "[[rule]]\naction = \"deny\"\nclass = \"transfer\"\n";
        let open = "default_deny = false\n";
        let first = entry("bg", "2026-06-01T00:00:00Z", tight);
        assert_eq!(
            approved.standing(&first),
            Standing::Approved,
            "nothing approved yet"
        );
        approved.approve(&first).unwrap();
        assert_eq!(approved.standing(&first), Standing::Approved);
        // A rotation: newer, same policy.
        let rotated = entry("bg", "2026-07-01T00:00:00Z", tight);
        assert_eq!(approved.standing(&rotated), Standing::Approved);
        // A rollback: older, whatever its policy.
        let older = entry("bg", "2026-01-01T00:00:00Z", tight);
        assert!(
            matches!(approved.standing(&older), Standing::Changed(m) if m.contains("older copy"))
        );
        // Another policy.
        let widened = entry("bg", "2026-07-01T00:00:00Z", open);
        assert!(
            matches!(approved.standing(&widened), Standing::Changed(m) if m.contains("differ") && m.contains("before:"))
        );
        // Removed, then added again.
        approved.tombstone("bg", "2026-08-01").unwrap();
        assert!(
            matches!(approved.standing(&rotated), Standing::Changed(m) if m.contains("was removed on 2026-08-01"))
        );
        approved.approve(&widened).unwrap();
        assert_eq!(approved.standing(&widened), Standing::Approved);
        // A damaged record is a change, not a pass.
        std::fs::write(dir.path().join("approved/bg.json"), "{").unwrap();
        assert!(
            matches!(approved.standing(&widened), Standing::Changed(m) if m.contains("damaged"))
        );
    }
}
