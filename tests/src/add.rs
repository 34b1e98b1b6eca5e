//! `apisec-agent add`, put together one named part at a time:
//!
//! ```ignore
//! env.secret("bg", "bitget")
//!     .api_key("k")
//!     .secret_bytes(b"...")
//!     .passphrase(b"...")
//!     .args(&["--freshness", "off"])
//!     .add()
//! ```

use std::fs;
use std::process::Output;

use crate::env::Env;

impl Env {
    /// Starts an `apisec-agent add NAME --exchange EXCHANGE`; set its API key and secret (and a
    /// passphrase and more flags if it needs them), then run it with [`AddSecret::add`].
    pub fn secret<'a>(&'a self, name: &'a str, exchange: &'a str) -> AddSecret<'a> {
        AddSecret {
            env: self,
            name,
            exchange,
            api_key: None,
            secret: None,
            passphrase: None,
            args: Vec::new(),
        }
    }
}

/// An `apisec-agent add` being put together by [`Env::secret`].
#[must_use = "nothing is added until `.add()`"]
pub struct AddSecret<'a> {
    env: &'a Env,
    name: &'a str,
    exchange: &'a str,
    api_key: Option<&'a str>,
    secret: Option<&'a [u8]>,
    passphrase: Option<&'a [u8]>,
    args: Vec<&'a str>,
}

impl<'a> AddSecret<'a> {
    /// `--api-key KEY` (required).
    pub fn api_key(mut self, key: &'a str) -> Self {
        self.api_key = Some(key);
        self
    }

    /// The secret itself (required), given to the agent in a file (`--secret-file`).
    pub fn secret_bytes(mut self, secret: &'a [u8]) -> Self {
        self.secret = Some(secret);
        self
    }

    /// The exchange's passphrase, given in a file (`--passphrase-file`); none when not called.
    pub fn passphrase(mut self, passphrase: &'a [u8]) -> Self {
        self.passphrase = Some(passphrase);
        self
    }

    /// More arguments after the others (`--policy FILE`, `--freshness off`, `--allow-raw`, ...).
    pub fn args(mut self, args: &[&'a str]) -> Self {
        self.args.extend_from_slice(args);
        self
    }

    /// Writes the secret (and the passphrase) to files and runs `apisec-agent add`; the files are
    /// removed after.
    #[track_caller]
    pub fn add(self) -> Output {
        let Self {
            env,
            name,
            exchange,
            api_key,
            secret,
            passphrase,
            args: extra,
        } = self;
        let api_key = api_key.expect("`.api_key(..)` before `.add()`");
        let secret = secret.expect("`.secret_bytes(..)` before `.add()`");
        let secret_file = env.root().join(format!("{name}.secret"));
        fs::write(&secret_file, secret).unwrap();
        let mut args = vec![
            "add",
            name,
            "--exchange",
            exchange,
            "--api-key",
            api_key,
            "--secret-file",
            secret_file.to_str().unwrap(),
        ];
        let pass_file = env.root().join(format!("{name}.passphrase"));
        if let Some(p) = passphrase {
            fs::write(&pass_file, p).unwrap();
            args.extend(["--passphrase-file", pass_file.to_str().unwrap()]);
        }
        args.extend(extra);
        let out = env.agent(&args);
        // The plaintext files exist only for the duration of `add`, as a careful user would do.
        let _ = fs::remove_file(&secret_file);
        let _ = fs::remove_file(&pass_file);
        out
    }
}
