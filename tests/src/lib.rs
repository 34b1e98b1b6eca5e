//! Fixtures for the end-to-end tests: a fresh SoftHSM token per test (its own `SOFTHSM2_CONF` in a
//! temp dir), a private HOME with XDG directories, a scripted approver, and helpers that run the
//! real `apisec-agent` and `apisec` binaries.
//!
//! The binaries are found next to the test executable (`target/debug/`); build them first with
//! `cargo build --workspace --bins --lib` (the README's test command does; `--lib` builds
//! `tests/faulty-pkcs11`, a PKCS#11 module that fails the calls a test names).
//!
//! Everything is re-exported here, so a test needs only `use apisec_tests::*;`. By file:
//!
//! - `env.rs`: the [`Env`] world of one test: temp dir, SoftHSM token, home and config, starting
//!   and stopping the agent, the scripted approver, waiting on the agent's log and audit log.
//! - `faulty.rs`: [`faulty_module`], SoftHSM behind a module that fails the calls a test names
//!   ([`Env::set_token_faults`]).
//! - `add.rs`: `apisec-agent add` as a builder, [`Env::secret`] … [`AddSecret::add`].
//! - `process.rs`: running commands and checking them: [`binary`], [`run_with_stdin`],
//!   [`as_nobody`], [`stdout`], [`stderr`], [`assert_ok`], [`assert_fails_with`], and helpers
//!   that run beside a test ([`spawn_for_first_line`], [`KillOnDrop`], [`SmallTmpfs`]).
//! - `wire.rs`: raw frames on the socket, built and read by hand: [`frames`], [`roundtrip_raw`],
//!   [`read_frame`].
//! - `memory.rs`: [`find_in_memory`], a secret searched for in a live process's memory.
//! - `signing.rs`: independent signatures ([`hmac_sha256`], [`bitget_sign`]), signing through
//!   the CLI ([`sign`], [`sign_json`], [`assert_cli_bitget_get_signs`], and its parts
//!   [`bitget_get_args`], [`assert_bitget_get_signed`]) and the headers it prints
//!   ([`parse_headers`], [`header`]).
//! - `wait.rs`: [`wait_until`], polling until something is ready.
//! - `completion.rs`: [`bash_tab`], a Tab pressed in a real bash with a binary's completion.
//! - `system_host.rs` (module): [`system_host::SystemHost`], the users, group and directories of
//!   the separated deployment, for the tests run as root.
//! - `units.rs`: [`Unit`], the systemd units of `contrib/systemd` read as systemd reads them.
//! - `terminal.rs`: [`Terminal`], a pseudo-terminal a test types on (password prompts).
//! - `soft_piv.rs`: a software age identity for the `piv-p256` stanza (the card tests).
//! - `vcard.rs`: the virtual YubiKey as a fixture (the card tests, with pcscd).
//! - `sshd.rs` (module): [`sshd::Sshd`], a private sshd on 127.0.0.1 and `ssh` to it, for the
//!   recipes that forward a socket over SSH (as root).
//! - `p11kit.rs` (module): [`p11kit::P11KitServer`], the test's token served by `p11-kit
//!   server` and reached through `p11-kit-client.so`, as a token on another host.

pub mod p11kit;
pub mod soft_piv;
pub mod sshd;
pub mod stock;
pub mod system_host;
pub mod units;
pub mod vcard;

mod add;
mod completion;
mod env;
mod faulty;
mod memory;
mod process;
mod signing;
mod terminal;
mod wait;
mod wire;

pub use add::AddSecret;
pub use completion::bash_tab;
pub use env::{softhsm_module, Env, KEY_LABEL, PIN, SO_PIN, TOKEN_LABEL};
pub use faulty::faulty_module;
pub use memory::find_in_memory;
pub use process::{
    as_nobody, as_other_uid, assert_fails_with, assert_ok, binary, run_with_stdin,
    spawn_for_first_line, stderr, stdout, systemd_verify_user, KillOnDrop, SmallTmpfs,
};
pub use signing::{
    assert_bitget_get_signed, assert_cli_bitget_get_signs, bitget_get_args, bitget_sign, header,
    hmac_sha256, parse_headers, random_hex_secret, sign, sign_assets, sign_json,
};
pub use terminal::Terminal;
pub use units::Unit;
pub use wait::wait_until;
pub use wire::{frames, read_frame, roundtrip_raw};
