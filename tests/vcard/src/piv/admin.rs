//! Yubico vendor commands that change the card as a whole: SET MANAGEMENT
//! KEY (FF), SET PIN RETRIES (FA) and RESET (FB).

use super::PivCard;
use crate::apdu::{sw, Command, Response};
use crate::state::{CardState, DEFAULT_PIN, DEFAULT_PUK};

impl PivCard {
    /// Data: 03 9B 18 <24-byte 3DES key>. Needs management-key auth.
    pub(super) fn set_mgm_key(&mut self, cmd: &Command) -> Response {
        if !self.session.mgm_authenticated {
            return Response::status(sw::SECURITY_STATUS);
        }
        match cmd.data.as_slice() {
            [0x03, 0x9b, 24, key @ ..] if key.len() == 24 => {
                self.state.mgm_key_is_default = key == crate::state::DEFAULT_MGM_KEY;
                self.state.mgm_key = key.to_vec();
                self.dirty = true;
                Response::status(sw::OK)
            }
            _ => Response::status(sw::INCORRECT_DATA),
        }
    }

    /// P1 = PIN tries, P2 = PUK tries. Needs management key and PIN, and
    /// (as on the YubiKey) puts PIN and PUK back to their defaults.
    pub(super) fn set_pin_retries(&mut self, cmd: &Command) -> Response {
        if !self.session.mgm_authenticated || !self.session.pin_verified {
            return Response::status(sw::SECURITY_STATUS);
        }
        if cmd.p1 == 0 || cmd.p2 == 0 || cmd.p1 > 15 || cmd.p2 > 15 {
            return Response::status(sw::INCORRECT_P1P2);
        }
        for (r, tries, value) in [
            (&mut self.state.pin, cmd.p1, DEFAULT_PIN),
            (&mut self.state.puk, cmd.p2, DEFAULT_PUK),
        ] {
            r.value = value.to_vec();
            r.max_tries = tries;
            r.tries_left = tries;
            r.is_default = true;
        }
        self.dirty = true;
        Response::status(sw::OK)
    }

    /// Factory reset of the PIV applet; only allowed once PIN and PUK are
    /// both blocked, exactly the YubiKey's rule.
    pub(super) fn factory_reset(&mut self, _cmd: &Command) -> Response {
        if self.state.pin.tries_left != 0 || self.state.puk.tries_left != 0 {
            return Response::status(sw::CONDITIONS_NOT_SATISFIED);
        }
        let fresh = CardState::new(self.state.serial);
        self.state = CardState {
            version: self.state.version,
            ..fresh
        };
        self.session.clear_security();
        self.dirty = true;
        Response::status(sw::OK)
    }
}
