//! Management-key (slot 9B) authentication with 3DES, the firmware < 5.7
//! default. Two flows, both via GENERAL AUTHENTICATE inside a 7C template:
//!
//! * mutual: host sends `80 00`; card answers `80 08 E(w)`; host sends
//!   `80 08 w` + `81 08 c`; card checks w and answers `82 08 E(c)`.
//! * external (one-sided): host sends `81 00`; card answers `81 08 c`;
//!   host sends `82 08 E(c)`.

use super::{crypto, PivCard};
use crate::apdu::{sw, Command, Response};
use crate::tlv;

pub const KEY_REF: u8 = 0x9b;
const ALGO_3DES: u8 = 0x03;
const TAG_DYN_AUTH: u8 = 0x7c;
const TAG_WITNESS: u32 = 0x80;
const TAG_CHALLENGE: u32 = 0x81;
const TAG_RESPONSE: u32 = 0x82;

/// What the card handed out in step one and expects back in step two.
#[derive(Debug, Clone)]
pub enum Pending {
    /// Mutual: the plaintext witness the host must decrypt and return.
    Witness([u8; 8]),
    /// External: the plaintext challenge the host must encrypt.
    Challenge([u8; 8]),
}

fn dyn_auth(tag: u8, value: &[u8]) -> Response {
    Response::ok(tlv::encode(&[TAG_DYN_AUTH], &tlv::encode(&[tag], value)))
}

impl PivCard {
    pub(super) fn mgm_authenticate(&mut self, cmd: &Command) -> Response {
        let pending = self.session.mgm_pending.take();
        if cmd.p1 != ALGO_3DES {
            return Response::status(sw::INCORRECT_P1P2);
        }
        let Ok((outer, _)) = tlv::parse_one(&cmd.data) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        let Ok(inner) = tlv::parse_all(outer.value) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        if outer.tag != u32::from(TAG_DYN_AUTH) {
            return Response::status(sw::INCORRECT_DATA);
        }
        let key = self.state.mgm_key.clone();
        let witness = tlv::find(&inner, TAG_WITNESS);
        let challenge = tlv::find(&inner, TAG_CHALLENGE);
        let response = tlv::find(&inner, TAG_RESPONSE);

        match (witness, challenge, response) {
            // Mutual, step 1: hand out an encrypted witness.
            (Some([]), None, _) => {
                let w = crypto::random8();
                let Some(enc) = crypto::tdes_encrypt(&key, &w) else {
                    return Response::status(sw::CONDITIONS_NOT_SATISFIED);
                };
                self.session.mgm_pending = Some(Pending::Witness(w));
                dyn_auth(0x80, &enc)
            }
            // Mutual, step 2: check the decrypted witness, prove ourselves.
            (Some(w), Some(c), _) if w.len() == 8 && c.len() == 8 => {
                let Some(Pending::Witness(expected)) = pending else {
                    return Response::status(sw::CONDITIONS_NOT_SATISFIED);
                };
                if w != expected {
                    self.session.mgm_authenticated = false;
                    return Response::status(sw::SECURITY_STATUS);
                }
                let c: [u8; 8] = c.try_into().expect("length checked");
                let Some(proof) = crypto::tdes_encrypt(&key, &c) else {
                    return Response::status(sw::CONDITIONS_NOT_SATISFIED);
                };
                self.session.mgm_authenticated = true;
                dyn_auth(0x82, &proof)
            }
            // External, step 1: hand out a plaintext challenge.
            (None, Some([]), None) => {
                let c = crypto::random8();
                self.session.mgm_pending = Some(Pending::Challenge(c));
                dyn_auth(0x81, &c)
            }
            // External, step 2: the host encrypted our challenge.
            (None, None, Some(r)) if r.len() == 8 => {
                let Some(Pending::Challenge(c)) = pending else {
                    return Response::status(sw::CONDITIONS_NOT_SATISFIED);
                };
                let ok = crypto::tdes_encrypt(&key, &c).is_some_and(|e| e[..] == *r);
                self.session.mgm_authenticated = ok;
                Response::status(if ok { sw::OK } else { sw::SECURITY_STATUS })
            }
            _ => Response::status(sw::INCORRECT_DATA),
        }
    }
}
