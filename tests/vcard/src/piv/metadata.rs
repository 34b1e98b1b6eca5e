//! GET METADATA (Yubico extension, INS F7, firmware 5.3+). P2 names the
//! slot; the answer is a flat list of TLVs:
//! 01 algorithm, 02 PIN+touch policy, 03 origin, 04 public key (86 <point>),
//! 05 "still default", 06 retries (total, remaining).

use super::keys::is_key_slot;
use super::pin::{PIN_REF, PUK_REF};
use super::{crypto, mgm, PivCard};
use crate::apdu::{sw, Command, Response};
use crate::state::Reference;
use crate::tlv;

const ALG_PIN_PUK: u8 = 0xff;
const ALG_3DES: u8 = 0x03;
const ATTESTATION_SLOT: u8 = 0xf9;

fn reference_metadata(r: &Reference) -> Vec<u8> {
    let mut out = tlv::encode(&[0x01], &[ALG_PIN_PUK]);
    out.extend(tlv::encode(&[0x05], &[u8::from(r.is_default)]));
    out.extend(tlv::encode(&[0x06], &[r.max_tries, r.tries_left]));
    out
}

impl PivCard {
    pub(super) fn metadata(&mut self, cmd: &Command) -> Response {
        let slot = cmd.p2;
        match slot {
            PIN_REF => Response::ok(reference_metadata(&self.state.pin)),
            PUK_REF => Response::ok(reference_metadata(&self.state.puk)),
            mgm::KEY_REF => {
                let mut out = tlv::encode(&[0x01], &[ALG_3DES]);
                // PIN policy n/a (0), touch Never (1): the emulator has no
                // touch-protected management key.
                out.extend(tlv::encode(&[0x02], &[0x00, 0x01]));
                out.extend(tlv::encode(
                    &[0x05],
                    &[u8::from(self.state.mgm_key_is_default)],
                ));
                Response::ok(out)
            }
            s if is_key_slot(s) => {
                let Some(key) = self.state.slot(s) else {
                    return Response::status(sw::NOT_FOUND);
                };
                let Some(point) = crypto::p256_public_point(&key.private_key) else {
                    return Response::status(sw::NOT_FOUND);
                };
                let mut out = tlv::encode(&[0x01], &[key.algorithm]);
                out.extend(tlv::encode(&[0x02], &[key.pin_policy, key.touch_policy]));
                out.extend(tlv::encode(&[0x03], &[key.origin]));
                out.extend(tlv::encode(&[0x04], &tlv::encode(&[0x86], &point)));
                Response::ok(out)
            }
            // F9 holds Yubico's attestation key on hardware; the emulator
            // has none (ATTEST is unsupported), so report it as absent.
            ATTESTATION_SLOT => Response::status(sw::NOT_FOUND),
            _ => Response::status(sw::WRONG_P1P2),
        }
    }
}
