//! `apisec-agent`: the daemon and its admin commands.
//!
//! Exit codes: 0 success; 1 the command failed (the message says why and what to do);
//! 2 bad usage (from the argument parser).

mod admin;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = admin::args::Cli::parse();
    match admin::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apisec-agent: {}", e.message);
            if let Some(hint) = &e.hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(1)
        }
    }
}
