//! A virtual YubiKey PIV card for CI: emulates the PIV applet of a
//! YubiKey 5 (firmware 5.4.3, P-256 only) and plugs into a real pcscd via
//! vsmartcard's vpcd driver, with touch and card removal under test control.
#![forbid(unsafe_code)]

pub mod apdu;
pub mod control;
pub mod emulator;
pub mod piv;
pub mod state;
pub mod tlv;
pub mod touch;
pub mod transport;
pub mod vpcd;
