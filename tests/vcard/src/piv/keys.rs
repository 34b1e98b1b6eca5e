//! Asymmetric keys in slots: GENERATE ASYMMETRIC KEY PAIR (47), the Yubico
//! IMPORT KEY (FE), and GENERAL AUTHENTICATE (87) for ECDSA (tag 81) and
//! ECDH (tag 85), with PIN and touch policies enforced.

use super::{crypto, PivCard};
use crate::apdu::{sw, Command, Response};
use crate::state::SlotKey;
use crate::tlv;
use crate::touch::{self, touch_required};

pub const ALG_P256: u8 = 0x11;

pub const PIN_POLICY_DEFAULT: u8 = 0;
pub const PIN_POLICY_NEVER: u8 = 1;
pub const PIN_POLICY_ONCE: u8 = 2;
pub const PIN_POLICY_ALWAYS: u8 = 3;

const SLOT_SIGNATURE: u8 = 0x9c;
const TAG_PIN_POLICY: u32 = 0xaa;
const TAG_TOUCH_POLICY: u32 = 0xab;

/// Slots that can hold an asymmetric key: 9A, 9C, 9D, 9E and retired 82..95.
pub fn is_key_slot(slot: u8) -> bool {
    matches!(slot, 0x9a | 0x9c | 0x9d | 0x9e | 0x82..=0x95)
}

/// Resolves the policy bytes sent with GENERATE/IMPORT into what the card
/// stores; Default means Always for the signature slot, Once elsewhere, and
/// touch Never.
fn resolve_policies(slot: u8, pin: Option<&[u8]>, touch: Option<&[u8]>) -> Option<(u8, u8)> {
    let pin = match pin {
        None | Some([PIN_POLICY_DEFAULT]) if slot == SLOT_SIGNATURE => PIN_POLICY_ALWAYS,
        None | Some([PIN_POLICY_DEFAULT]) => PIN_POLICY_ONCE,
        Some([p @ PIN_POLICY_NEVER..=PIN_POLICY_ALWAYS]) => *p,
        Some(_) => return None,
    };
    let touch = match touch {
        None | Some([touch::TOUCH_DEFAULT]) => touch::TOUCH_NEVER,
        Some([t @ touch::TOUCH_NEVER..=touch::TOUCH_CACHED]) => *t,
        Some(_) => return None,
    };
    Some((pin, touch))
}

/// The public key as GENERATE returns it: 7F49 { 86 <04||x||y> }.
pub fn public_key_template(point: &[u8]) -> Vec<u8> {
    tlv::encode(&[0x7f, 0x49], &tlv::encode(&[0x86], point))
}

impl PivCard {
    pub(super) fn generate(&mut self, cmd: &Command) -> Response {
        if !self.session.mgm_authenticated {
            return Response::status(sw::SECURITY_STATUS);
        }
        if !is_key_slot(cmd.p2) {
            return Response::status(sw::WRONG_P1P2);
        }
        let Ok((outer, _)) = tlv::parse_one(&cmd.data) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        let Ok(params) = tlv::parse_all(outer.value) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        if outer.tag != 0xac || tlv::find(&params, 0x80) != Some(&[ALG_P256][..]) {
            // Only P-256 is emulated; the crate maps 6A80 to AlgorithmError.
            return Response::status(sw::INCORRECT_DATA);
        }
        let Some((pin_policy, touch_policy)) = resolve_policies(
            cmd.p2,
            tlv::find(&params, TAG_PIN_POLICY),
            tlv::find(&params, TAG_TOUCH_POLICY),
        ) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        let private_key = crypto::generate_p256();
        let point = crypto::p256_public_point(&private_key).expect("fresh key is valid");
        self.state.set_slot(
            cmd.p2,
            SlotKey {
                algorithm: ALG_P256,
                private_key,
                pin_policy,
                touch_policy,
                origin: 1,
            },
        );
        self.dirty = true;
        Response::ok(public_key_template(&point))
    }

    /// IMPORT KEY: P1 algorithm, P2 slot, data `06 <scalar>` [AA][AB].
    pub(super) fn import_key(&mut self, cmd: &Command) -> Response {
        if !self.session.mgm_authenticated {
            return Response::status(sw::SECURITY_STATUS);
        }
        if !is_key_slot(cmd.p2) {
            return Response::status(sw::WRONG_P1P2);
        }
        if cmd.p1 != ALG_P256 {
            return Response::status(sw::INCORRECT_DATA);
        }
        let Ok(params) = tlv::parse_all(&cmd.data) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        let Some(scalar) = tlv::find(&params, 0x06) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        if scalar.len() != 32 || crypto::p256_public_point(scalar).is_none() {
            return Response::status(sw::INCORRECT_DATA);
        }
        let Some((pin_policy, touch_policy)) = resolve_policies(
            cmd.p2,
            tlv::find(&params, TAG_PIN_POLICY),
            tlv::find(&params, TAG_TOUCH_POLICY),
        ) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        self.state.set_slot(
            cmd.p2,
            SlotKey {
                algorithm: ALG_P256,
                private_key: scalar.to_vec(),
                pin_policy,
                touch_policy,
                origin: 2,
            },
        );
        self.dirty = true;
        Response::status(sw::OK)
    }

    /// GENERAL AUTHENTICATE with a slot key: 7C { 82 00, 81 digest | 85 point }.
    pub(super) fn key_authenticate(&mut self, cmd: &Command) -> Response {
        if !is_key_slot(cmd.p2) {
            return Response::status(sw::WRONG_P1P2);
        }
        let Some(key) = self.state.slot(cmd.p2).cloned() else {
            return Response::status(sw::INCORRECT_DATA);
        };
        if cmd.p1 != key.algorithm {
            return Response::status(sw::INCORRECT_DATA);
        }
        let Ok((outer, _)) = tlv::parse_one(&cmd.data) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        let Ok(inner) = tlv::parse_all(outer.value) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        if outer.tag != 0x7c || tlv::find(&inner, 0x82) != Some(&[][..]) {
            return Response::status(sw::INCORRECT_DATA);
        }

        // Order as on the card: PIN policy, then input sanity, then the touch.
        let pin_ok = match key.pin_policy {
            PIN_POLICY_NEVER => true,
            PIN_POLICY_ALWAYS => self.session.pin_fresh,
            _ => self.session.pin_verified,
        };
        if !pin_ok {
            return Response::status(sw::SECURITY_STATUS);
        }
        enum Op<'a> {
            Sign(&'a [u8]),
            Ecdh(&'a [u8]),
        }
        let op = match (tlv::find(&inner, 0x81), tlv::find(&inner, 0x85)) {
            (Some(d), None) if d.len() <= 32 => Op::Sign(d),
            (None, Some(p)) if p.len() == 65 => Op::Ecdh(p),
            _ => return Response::status(sw::INCORRECT_DATA),
        };

        let now = self.clock.now();
        if touch_required(key.touch_policy, self.last_touch, now) {
            if !self.touch.wait_for_touch() {
                // A YubiKey that times out waiting for touch answers 6982.
                return Response::status(sw::SECURITY_STATUS);
            }
            self.last_touch = Some(self.clock.now());
        }
        if key.pin_policy == PIN_POLICY_ALWAYS {
            self.session.pin_fresh = false;
        }

        let result = match op {
            Op::Sign(digest) => crypto::p256_sign(&key.private_key, digest),
            Op::Ecdh(point) => crypto::p256_ecdh(&key.private_key, point),
        };
        match result {
            Some(out) => Response::ok(tlv::encode(&[0x7c], &tlv::encode(&[0x82], &out))),
            None => Response::status(sw::INCORRECT_DATA),
        }
    }
}
