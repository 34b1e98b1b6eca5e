//! The settings every new entry takes, whether `add` or `keygen` makes it: the preset, the
//! freshness window, the expiry and the policy, each given by a flag or by the policy file (and
//! then the two must agree).

use apisec_agent::expiry::{expiry_state, ExpiryState};
use apisec_agent::keys::KeyType;
use apisec_agent::policy::file::{self as policy_file, EntrySettings};
use apisec_agent::policy::Policy;
use apisec_agent::sign::{Freshness, Preset};
use apisec_agent::store::spelled::Spelled;
use apisec_agent::store::{self, EntryMeta, Store};
use apisec_agent::timefmt;

use super::super::args::EntryArgs;
use super::super::CliError;
use super::values;

/// What every new entry needs, checked.
pub struct NewEntry {
    pub preset: &'static dyn Preset,
    pub freshness: Freshness,
    /// When the entry is made (Unix seconds).
    pub now: u64,
    pub expires: Option<String>,
    pub allow_raw: bool,
    pub policy: Policy,
}

/// A value given both by a flag and by the policy file must agree.
fn merge<T: PartialEq + std::fmt::Debug + Clone>(
    flag: Option<T>,
    file: Option<T>,
    what: &str,
) -> Result<Option<T>, CliError> {
    match (flag, file) {
        (Some(a), Some(b)) if a != b => Err(CliError::new(format!(
            "--{what} {a:?} contradicts {what} = {b:?} in the policy file; give it in one place"
        ))),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

impl NewEntry {
    /// Checks the name (free in `store`), reads the policy file, merges its settings with the
    /// flags, and converts each value.
    pub fn from_args(
        store: &Store,
        name: &str,
        exchange: &str,
        args: &EntryArgs,
        allow_raw: bool,
    ) -> Result<Self, CliError> {
        store::check_name(name)?;
        let policy_text = match &args.policy {
            Some(path) => Some((
                path,
                std::fs::read_to_string(path).map_err(|e| {
                    CliError::new(format!("cannot read the policy {}: {e}", path.display()))
                })?,
            )),
            None => None,
        };
        let (policy, settings) = match &policy_text {
            Some((path, text)) => policy_file::parse(text)
                .map_err(|e| CliError::new(format!("policy {}: {e}", path.display())))?,
            None => (Policy::standard(), EntrySettings::default()),
        };
        let expires = merge(args.expires.clone(), settings.expires, "expires")?;
        let freshness = merge(args.freshness.clone(), settings.freshness, "freshness")?
            .unwrap_or_else(|| "5s".into());
        let allow_raw =
            merge(allow_raw.then_some(true), settings.allow_raw, "allow-raw")?.unwrap_or(false);
        let preset = values::preset(exchange)?;
        apisec_agent::policy::coverage::logins(&policy, preset.id(), preset.shape())
            .map_err(CliError::new)?;
        if let Some((path, text)) = &policy_text {
            // What the exchange's signature covers decides what a rule may test.
            policy_file::parse_for(text, preset.id(), preset.shape())
                .map_err(|e| CliError::new(format!("policy {}: {e}", path.display())))?;
        }
        let freshness =
            Freshness::parse(&freshness).map_err(|e| CliError::new(format!("--freshness: {e}")))?;
        let now = timefmt::unix_secs();
        if let Some(exp) = &expires {
            if timefmt::parse_date(exp).is_none() {
                return Err(CliError::new(format!(
                    "--expires {exp:?} is not a date of the form YYYY-MM-DD"
                )));
            }
            if expiry_state(Some(exp), now) == ExpiryState::Expired {
                return Err(CliError::new(format!("--expires {exp} is in the past")));
            }
        }
        if store.entry_path(name).exists() {
            return Err(store::StoreError::Exists(name.to_owned()).into());
        }
        Ok(Self {
            preset,
            freshness,
            now,
            expires,
            allow_raw,
            policy,
        })
    }

    /// The metadata of entry `name` with these settings.
    pub fn meta(&self, name: &str, api_key: &str, key_type: KeyType) -> EntryMeta {
        EntryMeta {
            name: name.to_owned(),
            exchange: self.preset.id().to_owned(),
            api_key: api_key.to_owned(),
            created: timefmt::iso8601_seconds(self.now),
            expires: self.expires.clone(),
            allow_raw: self.allow_raw,
            freshness: Spelled::new(self.freshness),
            key_type: Spelled::new(key_type),
            token_key: None,
            public_key: None,
            token_copies: Vec::new(),
            policy: self.policy.clone(),
        }
    }
}
