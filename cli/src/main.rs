//! `apisec`: the companion client of apisec-agent, for people, scripts and bots.
//!
//! Exit codes: 0 success; 1 the agent refused or failed (the message says why); 2 bad usage;
//! 3 the agent cannot be reached; 4 the approval was denied or timed out; 5 the secret is sealed
//! or the agent is locked; `apisec exec`: 126/127 when the command cannot be run, else the
//! command's own status.

mod commands;
mod names;
mod output;
mod wait;

use std::process::ExitCode;

use apisec_agent::client::ClientError;
use apisec_agent::proto::ErrorCode;
use clap::Parser;

fn exit_code(e: &ClientError) -> u8 {
    match e {
        ClientError::Connect { .. } => 3,
        ClientError::Agent(r) => match r.code {
            ErrorCode::Denied | ErrorCode::Timeout => 4,
            ErrorCode::Sealed | ErrorCode::AgentLocked => 5,
            _ => 1,
        },
        _ => 1,
    }
}

fn main() -> ExitCode {
    // A Tab in a shell runs the binary with COMPLETE set: answered here, before anything else.
    apisec_agent::completion::answer_if_asked(
        <commands::Cli as clap::CommandFactory>::command,
        names::BIN,
    );
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(commands::Failure::Client(e)) => {
            eprintln!("apisec: {e}");
            if let ClientError::Connect { .. } = e {
                eprintln!(
                    "hint: start the agent with `eval \"$(apisec-agent start)\"`, or set \
                     APISEC_AUTH_SOCK to its socket"
                );
            }
            ExitCode::from(exit_code(&e))
        }
        Err(commands::Failure::Exec(program, e)) => {
            eprintln!("apisec: cannot run {program}: {e}");
            ExitCode::from(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            })
        }
        Err(commands::Failure::Usage(m)) => {
            eprintln!("apisec: {m}");
            ExitCode::from(2)
        }
        Err(commands::Failure::Io(m)) => {
            // A closed pipe (`apisec status | head -1`) is not an error.
            if m.kind() == std::io::ErrorKind::BrokenPipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("apisec: {m}");
            ExitCode::from(1)
        }
    }
}
