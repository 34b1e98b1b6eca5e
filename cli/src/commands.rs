//! The `apisec` subcommands.

use std::io::{IsTerminal, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use apisec_agent::client::{Client, ClientError};
use apisec_agent::proto::{LoginRequest, SignRequest};
use clap::{Parser, Subcommand, ValueEnum};

use crate::names::secret;
use crate::output::{self, Format};

#[derive(Parser, Debug)]
#[command(
    name = "apisec",
    version,
    about = "Ask apisec-agent to unlock secrets and sign exchange requests",
    after_help = "The agent is found through $APISEC_AUTH_SOCK (set by `apisec-agent start`).\n\n\
        Exit codes: 0 ok; 1 refused or failed; 2 bad usage; 3 agent unreachable;\n\
        4 approval denied or timed out; 5 secret sealed or agent locked.\n\n\
        Examples:\n  apisec unlock bitget-main\n  \
        apisec sign bitget-main --method GET --path /api/v2/spot/account/assets --query coin=USDT\n  \
        apisec sign binance-main --method POST --path /api/v3/order --query 'symbol=BTCUSDT&side=BUY' --json\n  \
        printf 'data' | apisec mac raw-key --alg hmac-sha256"
)]
pub struct Cli {
    /// Socket of the agent [default: $APISEC_AUTH_SOCK] (not for `completions` and `man`, which
    /// talk to no agent)
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Unseal secrets; blocks until approved, denied or timed out
    #[command(
        after_help = "Prints at once what it waits for (the approver, or the YubiKey touch), with a \
        live indicator on a terminal; exits 4 when the approval is denied or times out.\n\n\
        Examples:\n  apisec unlock bitget-main\n  apisec unlock bitget-main binance-main"
    )]
    Unlock {
        /// Names of the secrets
        #[arg(required = true, add = secret())]
        names: Vec<String>,
    },
    /// Forget unsealed secrets (all of them when no name is given); they are zeroized
    #[command(after_help = "Examples:\n  apisec lock\n  apisec lock bitget-main")]
    Lock {
        /// Names of the secrets [default: all]
        #[arg(add = secret())]
        names: Vec<String>,
    },
    /// Show the agent's state and each secret: sealed or unsealed, expiry
    #[command(after_help = "Examples:\n  apisec status\n  apisec status --json")]
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Sign a request with a secret's exchange preset; prints the headers (and query) to send
    Sign(SignArgs),
    /// A WebSocket login for a secret whose policy allows logins; prints the message to send
    #[command(
        after_help = "Prints the exchange's authentication message (JSON, one line), stamped by \
            the agent; where the exchange defines fields only (Coinbase's subscribe, its JWT), one \
            'name: value' line per field. A login opens a session the agent never sees again, so it \
            needs allow_login = true in the secret's policy (docs/policy.md).\n\n\
            Examples:\n  apisec login bitget-main\n  apisec login htx-main --kind linear-swap\n  \
        apisec login kraken-futures-main --challenge c094497e-9b5f-40da-a122-3751c39b107f --json"
    )]
    Login {
        /// Name of the secret
        #[arg(add = secret())]
        name: String,
        /// The kind of login, for an exchange with several (docs/exchanges.md, "WebSocket logins")
        #[arg(long)]
        kind: Option<String>,
        /// The challenge the exchange's WebSocket sent (Kraken Futures: a UUID)
        #[arg(long)]
        challenge: Option<String>,
        /// The host the WebSocket is on, for a login that signs it (HTX)
        #[arg(long)]
        host: Option<String>,
        /// Print JSON: {"fields": {...}, "message": "..."}
        #[arg(long)]
        json: bool,
    },
    /// Unlock secrets if asked, then run COMMAND with APISEC_AUTH_SOCK pointing at the agent
    #[command(
        after_help = "The command replaces apisec (same pid), so signals reach it directly. \
        When an unlock is denied or times out the command is not started and the exit status says \
        why (4).\n\nExample:\n  apisec exec --unlock bitget-main -- freqtrade trade --config config.json"
    )]
    Exec {
        /// Secrets to unlock before starting the command (blocks until approved); repeat the
        /// flag or separate names with commas
        #[arg(long, value_name = "NAME", value_delimiter = ',', add = secret())]
        unlock: Vec<String>,
        /// The command and its arguments
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Raw MAC of stdin (only for secrets added with --allow-raw)
    #[command(
        after_help = "Example:\n  printf 'data' | apisec mac raw-key --alg hmac-sha256 --encoding base64"
    )]
    Mac {
        /// Name of the secret
        #[arg(add = secret())]
        name: String,
        /// hmac-sha256, hmac-sha384 or hmac-sha512
        #[arg(long, value_name = "ALG")]
        alg: String,
        #[arg(long, value_enum, default_value = "hex")]
        encoding: Encoding,
    },
    /// List the approvals waiting for an admin (agents with [approval] over_socket = true)
    #[command(
        after_help = "Each approval shows its id, how long it has waited and the whole prompt \
        (the request, every field). Only the agent's uid and [agent] admin_uids may list or \
        answer.\n\nExamples:\n  apisec approvals\n  apisec approvals --json"
    )]
    Approvals {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Approve a waiting approval (see `apisec approvals`)
    #[command(after_help = "Example:\n  apisec approve 3")]
    Approve {
        /// The approval's id
        id: u32,
    },
    /// Deny a waiting approval (see `apisec approvals`)
    #[command(after_help = "Example:\n  apisec deny 3")]
    Deny {
        /// The approval's id
        id: u32,
    },
    /// Print the script that sets up completion in a shell (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "The script calls apisec back at each Tab (with COMPLETE set), so \
        secret names complete from the agent at --socket on the line, else at $APISEC_AUTH_SOCK. \
        Generate it again after an upgrade.\n\nExamples:\n  \
        apisec completions bash > ~/.local/share/bash-completion/completions/apisec\n  \
        apisec completions zsh > ~/.zfunc/_apisec\n  \
        apisec completions fish > ~/.config/fish/completions/apisec.fish"
    )]
    Completions {
        /// The shell
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write man pages (roff) for apisec and each of its subcommands
    #[command(after_help = "Example:\n  apisec man ~/.local/share/man/man1 && man apisec-unlock")]
    Man {
        /// Directory to write the pages to (created if missing)
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Output (--format headers): one 'Name: value' line per header, then, when the \
    agent added query parameters, one line '?QUERY' with the complete query string to send, \
    then, when the agent replaced the body (Kraken's carries the nonce), an empty line and the \
    body to send.\n\
    Output (--format curl): curl arguments: -H per header, --url-query '+NAME=VALUE' per \
    parameter the agent added, --data-binary with the body when the agent replaced it; give \
    curl the URL with your own query.\n\n\
    Examples:\n  apisec sign bitget-main --method GET --path /api/v2/spot/account/assets --query coin=USDT\n  \
    apisec sign bitget-main --method POST --path /api/v2/spot/trade/place-order --body order.json --format curl\n  \
    apisec sign htx-main --host api.hbdm.com --method POST --path /linear-swap-api/v1/swap_account_info"
)]
struct SignArgs {
    /// Name of the secret
    #[arg(add = secret())]
    name: String,
    /// HTTP method: GET, POST, PUT, DELETE
    #[arg(long)]
    method: String,
    /// Request path, e.g. /api/v2/spot/account/assets
    #[arg(long)]
    path: String,
    /// Query string without '?', exactly as it will be sent
    #[arg(long, default_value = "")]
    query: String,
    /// Body: a file, or '-' for stdin
    #[arg(long, value_name = "FILE|-")]
    body: Option<PathBuf>,
    /// A client timestamp in the exchange's form (accepted only within the freshness window)
    #[arg(long)]
    timestamp: Option<String>,
    /// A client nonce (only on a secret added with --freshness off, for an exchange that signs one)
    #[arg(long)]
    nonce: Option<String>,
    /// The host the request goes to, for an exchange that signs it (htx: api.huobi.pro, the
    /// default, or api.hbdm.com for its contract APIs; see docs/exchanges.md); refused for an
    /// exchange that does not sign the host
    #[arg(long)]
    host: Option<String>,
    /// Same as --format json
    #[arg(long)]
    json: bool,
    #[arg(long, value_enum, default_value = "headers")]
    format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Encoding {
    Hex,
    Base64,
}

pub enum Failure {
    Client(ClientError),
    /// The command of `apisec exec` could not be started.
    Exec(String, std::io::Error),
    Usage(String),
    Io(std::io::Error),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Self::Client(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// `--socket` is global, so clap accepts it everywhere; on the commands that talk to no agent it
/// would silently do nothing, so it is bad usage there (exit 2, clap's own text).
fn refuse_socket_flag(socket: &Option<PathBuf>, command: &str) {
    use clap::CommandFactory;
    if socket.is_some() {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--socket is not used by `apisec {command}`: it talks to no agent (the \
                     completion script asks the agent at --socket on the line being completed, \
                     else at $APISEC_AUTH_SOCK)"
                ),
            )
            .exit();
    }
}

fn connect(socket: &Option<PathBuf>) -> Result<Client, ClientError> {
    match socket {
        Some(p) => Client::connect(p),
        None => Client::from_env(),
    }
}

fn read_body(path: &Option<PathBuf>) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    match path {
        None => {}
        Some(p) if p.as_os_str() == "-" => {
            std::io::stdin().lock().read_to_end(&mut body)?;
        }
        Some(p) => {
            body = std::fs::read(p)
                .map_err(|e| Failure::Usage(format!("cannot read --body {}: {e}", p.display())))?;
        }
    }
    Ok(body)
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Unlock { names } => {
            let mut client = connect(&cli.socket)?;
            let reply = crate::wait::unlock(&mut client, &names)?;
            for e in reply.unlocked {
                writeln!(
                    out,
                    "unlocked {}{}",
                    e.name,
                    output::forget_note(e.forget_at)
                )?;
            }
        }
        Command::Exec { unlock, command } => {
            let socket = match &cli.socket {
                Some(p) => p.clone(),
                None => apisec_agent::paths::client_socket(),
            };
            let socket = std::path::absolute(&socket).unwrap_or(socket);
            if !unlock.is_empty() {
                let mut client = Client::connect(&socket)?;
                let reply = crate::wait::unlock(&mut client, &unlock).inspect_err(|_| {
                    eprintln!("apisec: not starting {}: the unlock failed", command[0]);
                })?;
                for e in reply.unlocked {
                    eprintln!("unlocked {}{}", e.name, output::forget_note(e.forget_at));
                }
            }
            let err = std::process::Command::new(&command[0])
                .args(&command[1..])
                .env(apisec_agent::paths::SOCKET_ENV, &socket)
                .exec();
            return Err(Failure::Exec(command[0].clone(), err));
        }
        Command::Completions { shell } => {
            refuse_socket_flag(&cli.socket, "completions");
            apisec_agent::completion::write_registration(shell, crate::names::BIN, &mut out)?;
        }
        Command::Man { dir } => {
            use clap::CommandFactory;
            refuse_socket_flag(&cli.socket, "man");
            for p in apisec_agent::manpages::write(Cli::command(), &dir).map_err(|e| {
                Failure::Io(std::io::Error::new(
                    e.kind(),
                    format!("cannot write man pages to {}: {e}", dir.display()),
                ))
            })? {
                writeln!(out, "{}", p.display())?;
            }
        }
        Command::Lock { names } => {
            let n = connect(&cli.socket)?.lock(&names)?;
            writeln!(out, "forgot {n} unsealed secret(s)")?;
        }
        Command::Status { json } => {
            let status = connect(&cli.socket)?.status()?;
            output::status(&mut out, &status, json)?;
        }
        Command::Approvals { json } => {
            let waiting = connect(&cli.socket)?.approvals()?;
            output::approvals(&mut out, &waiting, json)?;
        }
        Command::Approve { id } => {
            connect(&cli.socket)?.answer(id, true)?;
            writeln!(out, "approved {id}")?;
        }
        Command::Deny { id } => {
            connect(&cli.socket)?.answer(id, false)?;
            writeln!(out, "denied {id}")?;
        }
        Command::Sign(a) => {
            let format = if a.json { Format::Json } else { a.format };
            let body = read_body(&a.body)?;
            let reply = connect(&cli.socket)?.sign(SignRequest {
                name: a.name,
                method: a.method,
                path: a.path.clone(),
                query: a.query.clone(),
                body,
                timestamp: a.timestamp.unwrap_or_default(),
                nonce: a.nonce.unwrap_or_default(),
                host: a.host.unwrap_or_default(),
            })?;
            output::signed(&mut out, &reply, &a.path, &a.query, format)?;
        }
        Command::Login {
            name,
            kind,
            challenge,
            host,
            json,
        } => {
            let reply = connect(&cli.socket)?.login(LoginRequest {
                name,
                kind: kind.unwrap_or_default(),
                challenge: challenge.unwrap_or_default(),
                host: host.unwrap_or_default(),
            })?;
            output::login(&mut out, &reply, json)?;
        }
        Command::Mac {
            name,
            alg,
            encoding,
        } => {
            if std::io::stdin().is_terminal() {
                eprintln!("apisec: reading the data to MAC from stdin (end with Ctrl-D)");
            }
            let mut data = Vec::new();
            std::io::stdin().lock().read_to_end(&mut data)?;
            let mac = connect(&cli.socket)?.mac(&name, &alg, &data)?;
            let text = match encoding {
                Encoding::Hex => output::hex(&mac),
                Encoding::Base64 => output::base64(&mac),
            };
            writeln!(out, "{text}")?;
        }
    }
    Ok(())
}
