//! The command line of `apisec-agent`, as clap definitions. Values are validated when the
//! commands convert them (durations, dates, exchange names), with messages naming the flag.

use std::path::PathBuf;

pub use super::audit::AuditCommand;
use clap::{Args, Parser, Subcommand};

use super::flag_values as values;

#[derive(Parser, Debug)]
#[command(
    name = "apisec-agent",
    version,
    about = "Keeps exchange API secrets sealed to a hardware token and signs requests for bots",
    long_about = "Keeps exchange API secrets sealed to a hardware token (PKCS#11: SoftHSM, YubiKey \
                  via ykcs11, HSMs) and serves signing requests over a Unix socket, so a bot never \
                  holds the secret. Secrets are unsealed only when an approver (or the token's \
                  touch) allows it.",
    after_help = "Examples:\n  \
      apisec-agent init --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --token-label apisec \\\n      \
        --key-label apisec-wrap --generate --pin-file ~/.config/apisec/pin\n  \
      apisec-agent add bitget-main --exchange bitget --api-key bg_123 --secret-file - < secret.txt\n  \
      eval \"$(apisec-agent start --approver contrib/approvers/zenity-confirm)\"\n  \
      apisec unlock bitget-main"
)]
pub struct Cli {
    /// Config file [default: $APISEC_CONFIG, else $XDG_CONFIG_HOME/apisec/config.toml] (not for
    /// `completions` and `man`, which read none)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Find or create the wrapping key (PKCS#11 token or YubiKey PIV slot) and write the config
    Init(InitArgs),
    /// Seal a new secret (needs neither the token nor a running agent)
    Add(AddArgs),
    /// List what the store holds (no secrets, no token, no touch)
    List(ListArgs),
    /// Create an asymmetric API key (Ed25519 or P-256) on the token and print its public key
    Keygen(KeygenArgs),
    /// Replace a secret (and optionally its API key id) keeping its policy; a running agent switches
    Rotate(RotateArgs),
    /// Check or read the audit log
    #[command(
        subcommand,
        after_help = "Examples:\n  apisec-agent audit verify\n  apisec-agent audit tail -n 50\n  apisec-agent audit tail -f --json"
    )]
    Audit(AuditCommand),
    /// Seal existing entries again to the current recipients (after adding a backup), keeping
    /// their secrets, policies and settings
    Reseal(super::reseal::ResealArgs),
    /// Backups: the recipients every entry is sealed to besides the token
    #[command(
        subcommand,
        after_help = "Examples:\n  rage-keygen -o key.txt && apisec-agent backup add-recipient age1...\n  apisec-agent backup list"
    )]
    Backup(BackupCommand),
    /// Remove a secret from the store (and from a running agent's memory)
    Remove(super::remove::RemoveArgs),
    /// Have the token attest an entry of a token-held key made before entries were attested
    /// (after you checked its policy), so that the agent uses it
    Attest(AttestArgs),
    /// Print how to recover entries without apisec-agent: the identity line to keep and the
    /// commands for stock rage + age-plugin-yubikey (YubiKey PIV)
    Recovery(RecoveryArgs),
    /// List an exchange's private endpoints as the agent classifies them (read, trade, transfer,
    /// admin)
    Endpoints(EndpointsArgs),
    /// Check what a secret's policy decides for a request, without signing it
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Start the agent in the background and print the shell lines that point clients at it
    Start(StartArgs),
    /// Run the agent in the foreground (for systemd, containers and tests)
    Run(RunArgs),
    /// Stop the running agent
    Stop(StopArgs),
    /// Set up the separated deployment (as root): the agent's own system user and group, its
    /// directories, the bots' group for the socket, and a check that no bot can write its files
    SetupSystem(SetupSystemArgs),
    /// Print the script that sets up completion in a shell (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Secret names complete from the store (of --config on the line, if any): \
        the script calls apisec-agent back at each Tab; make it again after an upgrade.\n\nExamples:\n  \
        apisec-agent completions bash > ~/.local/share/bash-completion/completions/apisec-agent\n  \
        apisec-agent completions zsh > ~/.zfunc/_apisec-agent\n  \
        apisec-agent completions fish > ~/.config/fish/completions/apisec-agent.fish"
    )]
    Completions(CompletionsArgs),
    /// Write man pages (roff) for apisec-agent and each of its subcommands
    #[command(
        after_help = "Example:\n  apisec-agent man ~/.local/share/man/man1 && man apisec-agent-start"
    )]
    Man(ManArgs),
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write the pages to (created if missing)
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  apisec-agent init --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \
    --token-label apisec --key-label apisec-wrap --generate --pin-file ~/.config/apisec/pin\n  \
    apisec-agent init --yubikey --generate --touch-policy cached --pin-file ~/.config/apisec/pin\n  \
    apisec-agent init --yubikey --slot 83          (use the P-256 key already in slot 83)\n\n\
    YubiKey: see docs/yubikey.md (pcscd, touch policy, PIN/PUK, management key)."
)]
pub struct InitArgs {
    /// Use a YubiKey PIV slot natively, through pcscd (instead of a PKCS#11 module)
    #[arg(long, conflicts_with_all = ["pkcs11_module", "token_label", "slot_id", "key_label"])]
    pub yubikey: bool,
    /// Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so)
    #[arg(long, value_name = "PATH", required_unless_present = "yubikey")]
    pub pkcs11_module: Option<PathBuf>,
    /// Label of the token to use
    #[arg(long, value_name = "LABEL", conflicts_with = "slot_id")]
    pub token_label: Option<String>,
    /// Slot id of the token to use (instead of --token-label)
    #[arg(long, value_name = "N")]
    pub slot_id: Option<u64>,
    /// Label of the wrapping key pair on the token: EC P-256, or RSA where the token cannot
    /// derive (ykcs11: the slot's name, e.g. "Retired Key 1")
    #[arg(long, value_name = "LABEL", required_unless_present = "yubikey")]
    pub key_label: Option<String>,
    /// With --yubikey: the YubiKey's serial (needed when several are connected)
    #[arg(long, value_name = "N", requires = "yubikey")]
    pub serial: Option<u32>,
    /// With --yubikey: the PIV slot, hex [default: 82, the first retired slot]
    #[arg(long, value_name = "SLOT", requires = "yubikey")]
    pub slot: Option<String>,
    /// With --yubikey --generate: when the key needs a touch [default: cached]
    #[arg(long, value_name = "always|cached|never", requires = "generate")]
    pub touch_policy: Option<String>,
    /// With --yubikey --generate: when the key needs the PIN [default: once]
    #[arg(long, value_name = "once|always|never", requires = "generate")]
    pub pin_policy: Option<String>,
    /// With --yubikey --generate: file holding the PIV management key (48 hex digits)
    /// [default: the factory key, else a prompt]
    #[arg(long, value_name = "FILE", requires = "generate")]
    pub management_key_file: Option<PathBuf>,
    /// With --yubikey: accept a key with touch policy never (nothing physical then approves)
    #[arg(long, requires = "yubikey")]
    pub allow_no_touch: bool,
    /// Create the key pair (refused if one with this label exists): EC P-256, or RSA-3072 where
    /// the token fails a trial ECDH (a FIPS-mode HSM, a token behind p11-kit server)
    #[arg(long)]
    pub generate: bool,
    /// Name of an environment variable holding the token PIN (for CI)
    #[arg(long, value_name = "VAR", conflicts_with = "pin_file")]
    pub pin_env: Option<String>,
    /// File (mode 0600) whose first line is the token PIN
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Approver program to record in the config (exit 0 approves an unseal)
    #[arg(long, value_name = "PROGRAM")]
    pub approver: Option<PathBuf>,
    /// Store directory to record in the config
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Socket path to record in the config
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Replace an existing config file
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "The secret is read from a no-echo prompt when stdin is a terminal, otherwise \
    from --secret-file ('-' = stdin). It is never taken as an argument or from the environment.\n\n\
    Examples:\n  apisec-agent add bitget-main --exchange bitget --api-key bg_123 \\\n    \
    --secret-file secret.txt --passphrase-file passphrase.txt --expires 2027-06-30\n  \
    apisec-agent add kraken-main --exchange kraken --api-key K --in-token   (the token MACs)"
)]
pub struct AddArgs {
    /// Name of the secret (letters, digits, '.', '_', '-')
    pub name: String,
    /// Exchange preset
    #[arg(long, value_name = "EXCHANGE", value_parser = values::exchange_ids())]
    pub exchange: String,
    /// The API key id the exchange issued with the secret (public)
    #[arg(long, value_name = "ID")]
    pub api_key: Option<String>,
    /// Read the secret from FILE ('-' = stdin)
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Read the passphrase from FILE ('-' = stdin)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Allow `apisec mac` (raw MAC over arbitrary bytes) with this secret
    #[arg(long)]
    pub allow_raw: bool,
    #[command(flatten)]
    pub entry: EntryArgs,
    /// Import an asymmetric API key: a PEM private key (Ed25519 or P-256) or Coinbase's key JSON
    /// ('-' = stdin)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["secret_file", "passphrase_file", "token_key"])]
    pub private_key_file: Option<PathBuf>,
    /// Use a key made on the token by `apisec-agent keygen` (its label, e.g. apisec-key:NAME)
    #[arg(long, value_name = "LABEL", conflicts_with_all = ["secret_file", "passphrase_file"])]
    pub token_key: Option<String>,
    /// The token key's type, with --token-key
    #[arg(long = "type", value_name = "ed25519|p256", default_value = "ed25519", value_parser = values::key_types())]
    pub key_type: String,
    /// Import the HMAC secret into the PKCS#11 token, which then computes every MAC (needs the
    /// token and its PIN, unlike a plain add; the entry seals only the passphrase)
    #[arg(long, conflicts_with_all = ["private_key_file", "token_key"])]
    pub in_token: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Without --api-key, keygen prints the public key and the `add` command to run \
    once the exchange has issued the API key id for it.\n\nExample:\n  \
    apisec-agent keygen binance-ed --exchange binance --type ed25519\n  \
    (register the printed public key at Binance, which shows the API key id)\n  \
    apisec-agent add binance-ed --exchange binance --api-key ID --token-key apisec-key:binance-ed"
)]
pub struct KeygenArgs {
    /// Name of the secret
    pub name: String,
    /// Exchange preset: binance, coinbase-advanced
    #[arg(long, value_name = "EXCHANGE")]
    pub exchange: String,
    /// Key type
    #[arg(long = "type", value_name = "ed25519|p256", value_parser = values::key_types())]
    pub key_type: String,
    /// The API key id, when the exchange already issued it: writes the store entry at once
    #[arg(long, value_name = "ID")]
    pub api_key: Option<String>,
    /// Generate the key in memory and seal it like a secret, instead of on the token
    #[arg(long)]
    pub in_memory: bool,
    #[command(flatten)]
    pub entry: EntryArgs,
}

/// The settings every new entry takes, whether `add` or `keygen` makes it.
#[derive(Args, Debug)]
pub struct EntryArgs {
    /// Last day the secret may be used, YYYY-MM-DD (UTC)
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = values::date_arg)]
    pub expires: Option<String>,
    /// How far a client-supplied timestamp may be from the agent's clock: e.g. 5s (the default),
    /// or off
    #[arg(long, value_name = "SECONDS|off", value_parser = values::freshness_arg)]
    pub freshness: Option<String>,
    /// The secret's policy: a TOML file of client, request and rate rules (docs/policy.md)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  apisec-agent list\n  apisec-agent list --json")]
pub struct ListArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  apisec-agent endpoints bitget --class transfer\n  \
    apisec-agent endpoints binance --residual\n  apisec-agent endpoints binance --json"
)]
pub struct EndpointsArgs {
    /// Exchange preset
    #[arg(value_name = "EXCHANGE", value_parser = values::exchange_ids())]
    pub exchange: String,
    /// Only this class: read, trade, transfer or admin
    #[arg(long, value_name = "CLASS")]
    pub class: Option<String>,
    /// Only the transfer and admin endpoints no policy can refuse on an exchange that does not
    /// sign the endpoint (a harmless request's signature is also good for them); the key's
    /// permissions at the exchange must close them (docs/threat-model.md)
    #[arg(long)]
    pub residual: bool,
    /// Print JSON instead of lines
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Judge one request with the secret's policy as the agent would, and print the endpoint's
    /// class, the rule that decides and the decision (reads the store entry's clear copy of the
    /// policy; the agent enforces the sealed copy, which `list` shows is the same)
    #[command(
        after_help = "Exit status: 0 when the request would be signed (at once or after a \
        step-up approval), 1 when it would be refused or cannot be judged.\n\nExample:\n  \
        apisec-agent policy check bitget-main --method POST --path /api/v2/spot/wallet/withdrawal \\\n    \
        --body withdraw.json"
    )]
    Check(PolicyCheckArgs),
}

#[derive(Args, Debug)]
pub struct PolicyCheckArgs {
    /// Name of the secret
    #[arg(add = super::name_candidates::existing_entry())]
    pub name: String,
    /// HTTP method
    #[arg(long, value_name = "METHOD")]
    pub method: String,
    /// Request path, e.g. /api/v2/spot/account/assets
    #[arg(long, value_name = "PATH")]
    pub path: String,
    /// Query string without '?', exactly as it will be sent
    #[arg(long, value_name = "QUERY", default_value = "")]
    pub query: String,
    /// Body: a file, or '-' for stdin
    #[arg(long, value_name = "FILE|-")]
    pub body: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  apisec-agent recovery\n  apisec-agent recovery bitget-main")]
pub struct RecoveryArgs {
    /// The entry the commands recover [default: NAME, to fill in]
    #[arg(add = super::name_candidates::existing_entry())]
    pub name: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Shows the entry's policy and asks before the token signs (--yes: do not \
    ask). Only an entry whose policy you recognise should be attested: anyone with the token's \
    public recipient could have sealed it.\n\nExample:\n  apisec-agent attest binance-ed"
)]
pub struct AttestArgs {
    /// Name of the entry
    #[arg(add = super::name_candidates::existing_entry())]
    pub name: String,
    /// Attest without asking (the policy is still printed)
    #[arg(long)]
    pub yes: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct DaemonArgs {
    /// Approver program asked before each unseal (overrides the config)
    #[arg(long, value_name = "PROGRAM")]
    pub approver: Option<PathBuf>,
    /// DEVELOPMENT ONLY: approve every unseal without asking anyone (warns on every use)
    #[arg(long, conflicts_with = "approver")]
    pub insecure_auto_approve: bool,
    /// How long the approver may take before the request is refused, e.g. 60s (overrides the config)
    #[arg(long, value_name = "DURATION", value_parser = values::duration_arg)]
    pub approval_timeout: Option<String>,
    /// Forget unsealed secrets this long after unsealing, e.g. 8h (overrides the config)
    #[arg(long, value_name = "DURATION", value_parser = values::duration_arg)]
    pub lifetime: Option<String>,
    /// Socket path (overrides the config)
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  eval \"$(apisec-agent start --approver ~/bin/zenity-confirm --lifetime 8h)\"\n  \
    eval \"$(apisec-agent start)\"          (a YubiKey whose touch approves)\n\n\
    As a systemd user service instead: contrib/systemd/ and docs/operations.md."
)]
pub struct StartArgs {
    #[command(flatten)]
    pub daemon: DaemonArgs,
    /// Print sh commands (the default unless $SHELL ends in csh)
    #[arg(short = 's', conflicts_with = "csh")]
    pub sh: bool,
    /// Print csh commands
    #[arg(short = 'c')]
    pub csh: bool,
    /// Log file of the background agent [default: $XDG_STATE_HOME/apisec/agent.log]
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Socket activation: when started with a listening Unix socket passed the way \
    systemd passes it (LISTEN_PID = this process, LISTEN_FDS=1, the socket as fd 3), the agent \
    serves on that socket instead of binding the configured path, and leaves it in place at exit \
    (contrib/systemd/apisec-agent.socket).\n\nExamples:\n  \
    apisec-agent run --approver ~/bin/zenity-confirm\n  \
    systemctl --user enable --now apisec-agent.socket"
)]
pub struct RunArgs {
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Run as root; run it again at any time: it changes only what is missing \
    or wrong, and refuses (exit 1, naming the path) a layout where another user could write the \
    agent's files. When the config exists (after `init`, run as the agent's user) it also writes \
    the [agent] keys (socket_group, allowed_uids, admin_uids, state_dir).\n\n\
    Example:\n  sudo apisec-agent setup-system --bot freqtrade --admin alice\n  \
    sudo -u apisec apisec-agent --config /var/lib/apisec/config.toml init ... \\\n    \
    --store /var/lib/apisec/store --socket /run/apisec/agent.sock\n  \
    sudo apisec-agent setup-system --bot freqtrade --admin alice"
)]
pub struct SetupSystemArgs {
    /// The agent's system user (created if missing)
    #[arg(long, default_value = "apisec", value_name = "USER")]
    pub user: String,
    /// The group the socket is shared with (created if missing); the bots are added to it
    #[arg(long, default_value = "apisec-clients", value_name = "GROUP")]
    pub group: String,
    /// The agent's home and state directory (0700, the agent's user)
    #[arg(long, default_value = "/var/lib/apisec", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// The socket's directory (0750, the agent's user and the socket group)
    #[arg(long, default_value = "/run/apisec", value_name = "DIR")]
    pub socket_dir: PathBuf,
    /// A bot's user: added to the socket group and to [agent] allowed_uids (repeatable)
    #[arg(long = "bot", value_name = "USER")]
    pub bots: Vec<String>,
    /// An owner's user: added to the socket group and to [agent] admin_uids; may lock, reload,
    /// stop the agent and answer approvals (repeatable)
    #[arg(long = "admin", value_name = "USER")]
    pub admins: Vec<String>,
    /// Only check the layout; change nothing
    #[arg(long)]
    pub check: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  apisec-agent stop\n  apisec-agent stop --socket /run/user/1000/apisec/agent.sock"
)]
pub struct StopArgs {
    /// Socket of the agent to stop [default: $APISEC_AUTH_SOCK, else the config's]
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "The old entry is kept in STORE/backup/ until you remove it.\n\nExample:\n  \
    apisec-agent rotate bitget-main --api-key bg_new --secret-file new-secret.txt \\\n    \
    --passphrase-file new-passphrase.txt"
)]
pub struct RotateArgs {
    /// Name of the secret
    #[arg(add = super::name_candidates::existing_entry())]
    pub name: String,
    /// The new API key id (default: keep the old one)
    #[arg(long, value_name = "ID")]
    pub api_key: Option<String>,
    /// Read the new secret from FILE ('-' = stdin); default: a no-echo prompt
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Read the new passphrase from FILE ('-' = stdin); default: keep the old one
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Seal new entries (and, after `apisec-agent reseal`, the existing ones) also to RECIPIENT:
    /// an age X25519 key (age1..., from rage-keygen or age-keygen; keep the key file offline) or
    /// another YubiKey's age1yubikey1... (from its `init --yubikey`, or age-plugin-yubikey)
    AddRecipient {
        /// The recipient: age1... or age1yubikey1...
        recipient: String,
    },
    /// Add a backup token the agent unseals with when the primary one is absent, and seal new
    /// entries (and, after `apisec-agent reseal`, the existing ones) to it too: the token flags
    /// of `init` (--pkcs11-module ... --key-label ..., or --yubikey --serial N ...; --generate to
    /// make its key), each token with its own PIN source
    AddToken(Box<InitArgs>),
    /// List what entries are sealed to, and the entries sealed to less than that
    List,
}
