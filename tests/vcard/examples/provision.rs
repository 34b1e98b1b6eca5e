//! Generates a P-256 key on the (virtual) YubiKey with the yubikey 0.8
//! crate, the way the agent would, and prints the public point in hex.
//! Used by scripts/ykcs11-check.sh to see what ykcs11 makes of such a key.
//!
//!   cargo run -j1 --example provision -- 82 once always

use yubikey::piv::{self, AlgorithmId, SlotId};
use yubikey::{MgmKey, PinPolicy, TouchPolicy, YubiKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let slot: SlotId = args.first().map(String::as_str).unwrap_or("82").parse()?;
    let pin = match args.get(1).map(String::as_str).unwrap_or("once") {
        "never" => PinPolicy::Never,
        "always" => PinPolicy::Always,
        _ => PinPolicy::Once,
    };
    let touch = match args.get(2).map(String::as_str).unwrap_or("never") {
        "always" => TouchPolicy::Always,
        "cached" => TouchPolicy::Cached,
        _ => TouchPolicy::Never,
    };
    let mut yk = YubiKey::open()?;
    yk.authenticate(MgmKey::default())?;
    let spki = piv::generate(&mut yk, slot, AlgorithmId::EccP256, pin, touch)?;
    println!("{}", hex::encode(spki.subject_public_key.raw_bytes()));
    Ok(())
}
