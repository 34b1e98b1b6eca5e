//! `apisec-vcard`: run the virtual YubiKey against a local pcscd + vpcd.
#![forbid(unsafe_code)]

mod args;

use apisec_vcard::control::{ControlDir, FileTouch};
use apisec_vcard::emulator::Emulator;
use apisec_vcard::piv::PivCard;
use apisec_vcard::state::CardState;
use apisec_vcard::touch::{SystemClock, TouchSensor};
use std::process::ExitCode;

/// Without a control directory every touch is granted at once.
struct AlwaysTouched;

impl TouchSensor for AlwaysTouched {
    fn wait_for_touch(&mut self) -> bool {
        true
    }
}

fn main() -> ExitCode {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprint!("{msg}");
            return ExitCode::from(2);
        }
    };

    let mut state = match &args.state {
        Some(path) if path.exists() => match CardState::load(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("apisec-vcard: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        _ => CardState::new(args.serial.unwrap_or(args::DEFAULT_SERIAL)),
    };
    if let Some(serial) = args.serial {
        state.serial = serial;
    }

    let control = match &args.control {
        Some(dir) => match ControlDir::new(dir) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("apisec-vcard: cannot use {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let touch: Box<dyn TouchSensor> = match &control {
        Some(c) => Box::new(FileTouch::new(c.clone(), args.touch_timeout)),
        None => Box::new(AlwaysTouched),
    };

    eprintln!(
        "apisec-vcard: serial {} firmware {}.{}.{}",
        state.serial, state.version[0], state.version[1], state.version[2]
    );
    let card = PivCard::new(state, touch, Box::new(SystemClock::default()));
    let mut emulator =
        Emulator::new(card, args.state.clone(), control).with_min_removal(args.min_removal);
    emulator.run(&format!("{}:{}", args.host, args.port))
}
