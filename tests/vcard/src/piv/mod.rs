//! The YubiKey PIV applet: dispatch and per-session security state.
//!
//! Split by job: `pin` (VERIFY, CHANGE REFERENCE, RESET RETRY), `mgm`
//! (management-key handshake), `keys` (GENERATE, IMPORT, key-slot GENERAL
//! AUTHENTICATE), `metadata` (GET METADATA), `objects` (GET/PUT DATA),
//! `admin` (Yubico vendor commands that change the card as a whole).

mod admin;
pub mod crypto;
mod keys;
mod metadata;
mod mgm;
mod objects;
mod pin;

use crate::apdu::{sw, Command, Response};
use crate::state::CardState;
use crate::touch::{Clock, TouchSensor};
use crate::transport::Applet;
use std::time::Duration;

/// PIV application identifier (NIST SP 800-73); selection matches on this prefix.
pub const PIV_AID: &[u8] = &[0xa0, 0x00, 0x00, 0x03, 0x08];
/// YubiKey management application; the yubikey crate selects it to "deauthenticate".
pub const MGMT_AID: &[u8] = &[0xa0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17];
/// YubiKey OTP application; selected by the crate only for YubiKey 4 serials.
pub const OTP_AID: &[u8] = &[0xa0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01];

mod ins {
    pub const SELECT: u8 = 0xa4;
    pub const VERIFY: u8 = 0x20;
    pub const CHANGE_REFERENCE: u8 = 0x24;
    pub const RESET_RETRY: u8 = 0x2c;
    pub const GENERATE: u8 = 0x47;
    pub const GENERAL_AUTHENTICATE: u8 = 0x87;
    pub const GET_DATA: u8 = 0xcb;
    pub const PUT_DATA: u8 = 0xdb;
    pub const SET_MGM_KEY: u8 = 0xff;
    pub const IMPORT_KEY: u8 = 0xfe;
    pub const GET_VERSION: u8 = 0xfd;
    pub const RESET: u8 = 0xfb;
    pub const SET_PIN_RETRIES: u8 = 0xfa;
    pub const GET_SERIAL: u8 = 0xf8;
    pub const GET_METADATA: u8 = 0xf7;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    /// Power-on state: no applet selected yet. Strict on purpose, so a
    /// backend that forgets to SELECT after a reset fails here as on hardware.
    Nothing,
    Piv,
    /// The management (or OTP) applet; PIV commands are not answered.
    Other,
}

/// Security state that a reset, power cycle or re-SELECT throws away.
#[derive(Debug, Clone)]
struct Session {
    selected: Selected,
    pin_verified: bool,
    /// PIN verified and not yet used by a PIN-policy-Always operation.
    pin_fresh: bool,
    mgm_authenticated: bool,
    mgm_pending: Option<mgm::Pending>,
}

impl Session {
    fn new() -> Self {
        Session {
            selected: Selected::Nothing,
            pin_verified: false,
            pin_fresh: false,
            mgm_authenticated: false,
            mgm_pending: None,
        }
    }

    fn clear_security(&mut self) {
        let selected = self.selected;
        *self = Session::new();
        self.selected = selected;
    }
}

/// The emulated card: persistent state plus the current session.
pub struct PivCard {
    state: CardState,
    session: Session,
    dirty: bool,
    touch: Box<dyn TouchSensor>,
    clock: Box<dyn Clock>,
    /// When the last touch was accepted; drives the Cached policy. Kept
    /// across resets because the window is time-based, not session-based.
    last_touch: Option<Duration>,
}

impl PivCard {
    pub fn new(state: CardState, touch: Box<dyn TouchSensor>, clock: Box<dyn Clock>) -> Self {
        PivCard {
            state,
            session: Session::new(),
            dirty: false,
            touch,
            clock,
            last_touch: None,
        }
    }

    pub fn state(&self) -> &CardState {
        &self.state
    }

    /// Reset / power cycle / reinsertion: back to "nothing selected, nothing verified".
    /// Forgets the last touch, as when the window of touch policy `cached` has passed.
    pub fn forget_touch(&mut self) {
        self.last_touch = None;
    }

    pub fn reset_session(&mut self) {
        self.session = Session::new();
    }

    /// True once after the persistent state changed, so the caller can save it.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    fn select(&mut self, cmd: &Command) -> Response {
        if cmd.p1 != 0x04 {
            return Response::status(sw::INCORRECT_P1P2);
        }
        let aid = cmd.data.as_slice();
        if aid.starts_with(PIV_AID) {
            // Re-selecting PIV drops PIN and management-key status; the
            // yubikey crate relies on this to read the retry counter.
            self.session = Session::new();
            self.session.selected = Selected::Piv;
            // Application property template: PIX of the PIV applet and its AID.
            let mut apt = vec![0x4f, 0x06, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x79, 0x07];
            apt.extend_from_slice(&crate::tlv::encode(&[0x4f], PIV_AID));
            return Response::ok(crate::tlv::encode(&[0x61], &apt));
        }
        if aid.starts_with(MGMT_AID) || aid.starts_with(OTP_AID) {
            self.session = Session::new();
            self.session.selected = Selected::Other;
            let [a, b, c] = self.state.version;
            return Response::ok(format!("Virtual mgmt - FW version {a}.{b}.{c}").into_bytes());
        }
        Response::status(sw::NOT_FOUND)
    }
}

impl Applet for PivCard {
    fn process(&mut self, cmd: &Command) -> Response {
        if cmd.cla & !0x10 != 0 {
            return Response::status(sw::CLA_NOT_SUPPORTED);
        }
        if cmd.ins == ins::SELECT {
            return self.select(cmd);
        }
        if self.session.selected != Selected::Piv {
            return Response::status(sw::INS_NOT_SUPPORTED);
        }
        // A half-done management handshake is abandoned by any other command.
        if cmd.ins != ins::GENERAL_AUTHENTICATE {
            self.session.mgm_pending = None;
        }
        match cmd.ins {
            ins::GET_VERSION => Response::ok(self.state.version.to_vec()),
            ins::GET_SERIAL => Response::ok(self.state.serial.to_be_bytes().to_vec()),
            ins::VERIFY => self.verify(cmd),
            ins::CHANGE_REFERENCE => self.change_reference(cmd),
            ins::RESET_RETRY => self.reset_retry(cmd),
            ins::GENERAL_AUTHENTICATE if cmd.p2 == mgm::KEY_REF => self.mgm_authenticate(cmd),
            ins::GENERAL_AUTHENTICATE => self.key_authenticate(cmd),
            ins::GENERATE => self.generate(cmd),
            ins::IMPORT_KEY => self.import_key(cmd),
            ins::GET_METADATA => self.metadata(cmd),
            ins::GET_DATA => self.get_data(cmd),
            ins::PUT_DATA => self.put_data(cmd),
            ins::SET_MGM_KEY => self.set_mgm_key(cmd),
            ins::SET_PIN_RETRIES => self.set_pin_retries(cmd),
            ins::RESET => self.factory_reset(cmd),
            _ => Response::status(sw::INS_NOT_SUPPORTED),
        }
    }
}

#[cfg(test)]
pub(crate) mod testkit;

#[cfg(test)]
mod tests;
