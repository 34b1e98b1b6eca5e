//! The admin commands of `apisec-agent`, one file each (named for the command; `init_piv.rs` is
//! `init --yubikey`), over two shared rooms: [`settings`] (raw flags converted once into types)
//! and [`new_entry`] (reading a secret, sealing and writing an entry). [`args`] is the clap
//! definition.

pub mod add;
pub mod args;
pub mod attest;
pub mod audit;
pub mod audit_follow;
pub mod backup;
pub mod completions;
pub mod endpoints;
pub mod flag_values;
pub mod in_token;
pub mod init;
pub mod init_config;
pub mod init_piv;
pub mod keygen;
pub mod list;
pub mod local_unseal;
pub mod man;
pub mod name_candidates;
pub mod new_entry;
pub mod policy_check;
pub mod recovery;
pub mod remove;
pub mod reseal;
pub mod rotate;
pub mod run;
pub mod settings;
pub mod setup_system;
pub mod start;
pub mod stop;

use std::path::{Path, PathBuf};

use apisec_agent::config::{Config, ConfigFile};

/// A failed command: what went wrong, and optionally what to do about it.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        Self::new(e.to_string())
    }
}

pub type CmdResult = Result<(), CliError>;

pub fn config_path(flag: &Option<PathBuf>) -> PathBuf {
    flag.clone()
        .unwrap_or_else(apisec_agent::paths::default_config)
}

pub fn load_config(path: &Path) -> Result<Config, CliError> {
    Ok(ConfigFile::load(path)?.validate(path)?)
}

pub fn dispatch(cli: args::Cli) -> CmdResult {
    let config = config_path(&cli.config);
    match cli.command {
        args::Command::Init(a) => init::run(&config, a),
        args::Command::Add(a) => add::run(&config, a),
        args::Command::List(a) => list::run(&config, a),
        args::Command::Keygen(a) => keygen::run(&config, a),
        args::Command::Remove(a) => remove::run(&config, a),
        args::Command::Attest(a) => attest::run(&config, a),
        args::Command::Recovery(a) => recovery::run(&config, a),
        args::Command::Endpoints(a) => endpoints::run(a),
        args::Command::Policy(args::PolicyCommand::Check(a)) => policy_check::run(&config, a),
        args::Command::Rotate(a) => rotate::run(&config, a),
        args::Command::Audit(a) => audit::run(&config, a),
        args::Command::Backup(a) => backup::run(&config, a),
        args::Command::Reseal(a) => reseal::run(&config, a),
        args::Command::Start(a) => start::run(&config, a),
        args::Command::Run(a) => run::run(&config, a),
        args::Command::Stop(a) => stop::run(&config, a),
        args::Command::SetupSystem(a) => setup_system::run(a),
        args::Command::Completions(a) => completions::run(&cli.config, a),
        args::Command::Man(a) => man::run(&cli.config, a),
    }
}

/// Asks the human at the terminal `question` (`[y/N]`); refuses without asking when stdin is no
/// terminal (`hint`: how to go on, e.g. with `--yes`). `Err(refused)` unless the answer is yes.
pub fn ask_yes(question: &str, hint: &str, refused: &str) -> CmdResult {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(format!(
            "not going on without asking: stdin is not a terminal ({question})"
        ))
        .hint(hint));
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        return Err(CliError::new(refused));
    }
    Ok(())
}

/// Best effort: tell a running agent about a store change. Returns its pid when one answered.
pub fn notify_agent(config: &Config, forget: Option<&str>) -> Option<u32> {
    let socket = match std::env::var_os(apisec_agent::paths::SOCKET_ENV) {
        Some(s) if !s.is_empty() => PathBuf::from(s),
        _ => config.socket.clone(),
    };
    let mut client = apisec_agent::client::Client::connect(&socket).ok()?;
    if let Some(name) = forget {
        client.lock(&[name.to_owned()]).ok()?;
    }
    client.reload().ok()?;
    client.status().ok().map(|s| s.pid)
}
