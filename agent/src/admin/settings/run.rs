//! The agent's settings: `apisec-agent run`'s flags over its config, decided in one place.

use std::path::PathBuf;
use std::time::Duration;

use apisec_agent::config::Config;

use super::super::args::DaemonArgs;
use super::super::CliError;
use super::values;

/// Who approves an unseal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// `--insecure-auto-approve`: nobody (development only).
    InsecureAuto,
    /// An approver program (the flag's, else the config's).
    Program { path: PathBuf, timeout: Duration },
    /// The YubiKey's touch; `fresh`: every use takes a touch of its own (touch policy always).
    TokenTouch { fresh: bool },
    /// Nothing is configured: unsealing is refused with the remedy.
    Nobody,
}

/// What `run` works with, once flags and config are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    pub approval: Approval,
    /// The card's touch is the approval: the key holder then refuses a key that needs no touch.
    pub touch_approves: bool,
    pub lifetime: Option<Duration>,
    pub socket: PathBuf,
}

impl RunSettings {
    /// A flag wins over the config's value; with no approver from either, a YubiKey whose touch
    /// policy needs a touch approves by that touch.
    pub fn resolve(config: &Config, flags: &DaemonArgs) -> Result<Self, CliError> {
        let approval_timeout = match &flags.approval_timeout {
            Some(s) => values::duration("--approval-timeout", s)?,
            None => config.approval_timeout,
        };
        let touch_approves = !flags.insecure_auto_approve
            && flags.approver.is_none()
            && config.approver.is_none()
            && config.token.touch_approves();
        let approval = if flags.insecure_auto_approve {
            Approval::InsecureAuto
        } else {
            match flags.approver.clone().or_else(|| config.approver.clone()) {
                Some(path) => Approval::Program {
                    path,
                    timeout: approval_timeout,
                },
                None if config.token.touch_approves() => Approval::TokenTouch {
                    fresh: config.token.touch_is_fresh(),
                },
                None => Approval::Nobody,
            }
        };
        let lifetime = match &flags.lifetime {
            Some(s) => Some(values::duration("--lifetime", s)?),
            None => config.lifetime,
        };
        Ok(Self {
            approval,
            touch_approves,
            lifetime,
            socket: socket(config, flags),
        })
    }
}

/// The socket: `--socket`, else the config's.
pub fn socket(config: &Config, flags: &DaemonArgs) -> PathBuf {
    flags
        .socket
        .clone()
        .unwrap_or_else(|| config.socket.clone())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use apisec_agent::config::ConfigFile;

    use super::*;

    /// A recipient made by `init` (tests/fixtures/compat/0.1.0).
    const RECIPIENT: &str =
        "age1yubikey1qfenvsv9yfjp2p43wksru7enel7me3306g3mjsl6x0yd73479ztkscsjdqd";

    fn config(token: &str, rest: &str) -> Config {
        let text = format!("socket = \"/run/c.sock\"\n{rest}\n[token]\n{token}recipient = \"{RECIPIENT}\"\npin_env = \"P\"\n");
        ConfigFile::parse(&text)
            .unwrap()
            .validate(Path::new("c.toml"))
            .unwrap()
    }

    const PKCS11: &str = "kind = \"pkcs11\"\nmodule = \"/m.so\"\nkey_label = \"k\"\n";
    const PIV_CACHED: &str = "kind = \"piv\"\ntouch_policy = \"cached\"\n";
    const PIV_ALWAYS: &str = "kind = \"piv\"\ntouch_policy = \"always\"\n";

    fn flags() -> DaemonArgs {
        DaemonArgs::default()
    }

    #[test]
    fn flags_win_over_the_config() {
        let c = config(
            PKCS11,
            "[approval]\napprover = \"/cfg/approve\"\ntimeout = \"30s\"\n[agent]\nlifetime = \"1h\"",
        );
        let from_config = RunSettings::resolve(&c, &flags()).unwrap();
        assert_eq!(
            from_config,
            RunSettings {
                approval: Approval::Program {
                    path: "/cfg/approve".into(),
                    timeout: Duration::from_secs(30)
                },
                touch_approves: false,
                lifetime: Some(Duration::from_secs(3600)),
                socket: "/run/c.sock".into(),
            }
        );
        let f = DaemonArgs {
            approver: Some("/flag/approve".into()),
            approval_timeout: Some("5s".into()),
            lifetime: Some("8h".into()),
            socket: Some("/run/f.sock".into()),
            ..flags()
        };
        assert_eq!(
            RunSettings::resolve(&c, &f).unwrap(),
            RunSettings {
                approval: Approval::Program {
                    path: "/flag/approve".into(),
                    timeout: Duration::from_secs(5)
                },
                touch_approves: false,
                lifetime: Some(Duration::from_secs(8 * 3600)),
                socket: "/run/f.sock".into(),
            }
        );
        let auto = DaemonArgs {
            insecure_auto_approve: true,
            ..flags()
        };
        assert_eq!(
            RunSettings::resolve(&c, &auto).unwrap().approval,
            Approval::InsecureAuto
        );
    }

    #[test]
    fn the_touch_approves_only_when_no_approver_is_configured() {
        let s = RunSettings::resolve(&config(PIV_CACHED, ""), &flags()).unwrap();
        assert_eq!(s.approval, Approval::TokenTouch { fresh: false });
        assert!(s.touch_approves);
        let s = RunSettings::resolve(&config(PIV_ALWAYS, ""), &flags()).unwrap();
        assert_eq!(s.approval, Approval::TokenTouch { fresh: true });
        let with_program = DaemonArgs {
            approver: Some("/a".into()),
            ..flags()
        };
        let s = RunSettings::resolve(&config(PIV_CACHED, ""), &with_program).unwrap();
        assert!(!s.touch_approves);
        assert!(matches!(s.approval, Approval::Program { .. }));
        let s = RunSettings::resolve(&config(PKCS11, ""), &flags()).unwrap();
        assert_eq!(s.approval, Approval::Nobody);
        assert!(!s.touch_approves);
        assert_eq!(s.lifetime, None);
    }

    #[test]
    fn a_bad_flag_is_named() {
        let bad = DaemonArgs {
            lifetime: Some("forever".into()),
            ..flags()
        };
        let e = RunSettings::resolve(&config(PKCS11, ""), &bad).unwrap_err();
        assert!(e.message.starts_with("--lifetime: "), "{}", e.message);
        let bad = DaemonArgs {
            approval_timeout: Some("0s".into()),
            ..flags()
        };
        let e = RunSettings::resolve(&config(PKCS11, ""), &bad).unwrap_err();
        assert!(
            e.message.starts_with("--approval-timeout: "),
            "{}",
            e.message
        );
    }
}
