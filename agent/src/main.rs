//! `apisec-agent`: the daemon and its admin commands.
//!
//! Exit codes: 0 success; 1 the command failed (the message says why and what to do);
//! 2 bad usage (from the argument parser).

mod admin;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A Tab in a shell runs the binary with COMPLETE set: answered here, before anything else.
    apisec_agent::completion::answer_if_asked(
        <admin::args::Cli as clap::CommandFactory>::command,
        admin::completions::BIN,
    );
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
