//! VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER for PIN (80) / PUK (81).

use super::PivCard;
use crate::apdu::{sw, Command, Response};
use crate::state::Reference;

pub const PIN_REF: u8 = 0x80;
pub const PUK_REF: u8 = 0x81;
/// PIN and PUK travel padded with 0xFF to 8 bytes.
const PADDED_LEN: usize = 8;
/// Reference data not found (unknown key reference in P2).
const REF_NOT_FOUND: u16 = 0x6a88;

/// Strips the 0xFF padding; PIV PINs/PUKs are 6 to 8 bytes.
fn unpad(block: &[u8]) -> Option<&[u8]> {
    if block.len() != PADDED_LEN {
        return None;
    }
    let len = block.iter().position(|b| *b == 0xff).unwrap_or(PADDED_LEN);
    let value = &block[..len];
    (len >= 6 && block[len..].iter().all(|b| *b == 0xff)).then_some(value)
}

/// Checks `candidate` against a reference, counting down on a mismatch and
/// refilling the counter on a match. Returns the status word to send on failure.
fn check(reference: &mut Reference, candidate: &[u8]) -> Result<(), u16> {
    if reference.tries_left == 0 {
        return Err(sw::AUTH_BLOCKED);
    }
    if reference.value == candidate {
        reference.tries_left = reference.max_tries;
        Ok(())
    } else {
        reference.tries_left -= 1;
        Err(sw::verify_failed(reference.tries_left))
    }
}

impl PivCard {
    pub(super) fn verify(&mut self, cmd: &Command) -> Response {
        // P1=FF: "reset security status" of the PIN (SP 800-73-4 3.2.1).
        if cmd.p1 == 0xff && cmd.data.is_empty() {
            self.session.pin_verified = false;
            self.session.pin_fresh = false;
            return Response::status(sw::OK);
        }
        if cmd.p1 != 0 {
            return Response::status(sw::INCORRECT_P1P2);
        }
        if cmd.p2 != PIN_REF {
            return Response::status(REF_NOT_FOUND);
        }
        if cmd.data.is_empty() {
            // Status query: does not spend a try.
            return Response::status(match self.state.pin.tries_left {
                0 => sw::AUTH_BLOCKED,
                _ if self.session.pin_verified => sw::OK,
                n => sw::verify_failed(n),
            });
        }
        let before = self.state.pin.tries_left;
        // A malformed PIN block still costs a try on a blocked-aware card;
        // treating it as a wrong PIN keeps the counter honest.
        let result = match unpad(&cmd.data) {
            Some(pin) => check(&mut self.state.pin, pin),
            None if self.state.pin.tries_left == 0 => Err(sw::AUTH_BLOCKED),
            None => return Response::status(sw::INCORRECT_DATA),
        };
        self.dirty |= self.state.pin.tries_left != before;
        match result {
            Ok(()) => {
                self.session.pin_verified = true;
                self.session.pin_fresh = true;
                Response::status(sw::OK)
            }
            Err(status) => {
                self.session.pin_verified = false;
                self.session.pin_fresh = false;
                Response::status(status)
            }
        }
    }

    /// Data: current value (8, padded) || new value (8, padded).
    pub(super) fn change_reference(&mut self, cmd: &Command) -> Response {
        let reference = match cmd.p2 {
            PIN_REF => &mut self.state.pin,
            PUK_REF => &mut self.state.puk,
            _ => return Response::status(REF_NOT_FOUND),
        };
        if cmd.data.len() != 2 * PADDED_LEN {
            return Response::status(sw::INCORRECT_DATA);
        }
        let (Some(old), Some(new)) = (unpad(&cmd.data[..8]), unpad(&cmd.data[8..])) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        let new = new.to_vec();
        let result = check(reference, old);
        self.dirty = true;
        if let Err(status) = result {
            return Response::status(status);
        }
        reference.value = new;
        reference.is_default = false;
        Response::status(sw::OK)
    }

    /// Data: PUK (8, padded) || new PIN (8, padded); unblocks the PIN.
    pub(super) fn reset_retry(&mut self, cmd: &Command) -> Response {
        if cmd.p2 != PIN_REF {
            return Response::status(REF_NOT_FOUND);
        }
        if cmd.data.len() != 2 * PADDED_LEN {
            return Response::status(sw::INCORRECT_DATA);
        }
        let (Some(puk), Some(new_pin)) = (unpad(&cmd.data[..8]), unpad(&cmd.data[8..])) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        let new_pin = new_pin.to_vec();
        let result = check(&mut self.state.puk, puk);
        self.dirty = true;
        if let Err(status) = result {
            return Response::status(status);
        }
        self.state.pin.value = new_pin;
        self.state.pin.is_default = false;
        self.state.pin.tries_left = self.state.pin.max_tries;
        Response::status(sw::OK)
    }
}

#[cfg(test)]
mod tests {
    use super::unpad;

    #[test]
    fn unpad_accepts_six_to_eight_digit_pins() {
        assert_eq!(unpad(b"123456\xff\xff"), Some(&b"123456"[..]));
        assert_eq!(unpad(b"12345678"), Some(&b"12345678"[..]));
        assert_eq!(unpad(b"12345\xff\xff\xff"), None);
        assert_eq!(unpad(b"123456\xff1"), None);
        assert_eq!(unpad(b"123456"), None);
    }
}
