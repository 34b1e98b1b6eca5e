//! GET DATA (CB) and PUT DATA (DB) on PIV data objects (certificates,
//! CHUID, Yubico admin data...). Objects are opaque bytes to the card.

use super::PivCard;
use crate::apdu::{sw, Command, Response};
use crate::tlv;

/// The discovery object is fixed by the card, not stored.
const DISCOVERY_ID: &[u8] = &[0x7e];
/// Largest object a YubiKey 5 accepts (about 3 KB of certificate).
const MAX_OBJECT: usize = 3052;
const NO_SPACE: u16 = 0x6a84;

fn discovery() -> Vec<u8> {
    let mut v = tlv::encode(
        &[0x4f],
        &[
            0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
        ],
    );
    // PIN usage policy: PIV PIN only.
    v.extend(tlv::encode(&[0x5f, 0x2f], &[0x40, 0x00]));
    tlv::encode(&[0x7e], &v)
}

/// Object id from the 5C tag at the front of a GET/PUT DATA body.
fn object_id(data: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let (tlv, rest) = tlv::parse_one(data).ok()?;
    (tlv.tag == 0x5c && matches!(tlv.value.len(), 1 | 3)).then(|| (tlv.value.to_vec(), rest))
}

impl PivCard {
    pub(super) fn get_data(&mut self, cmd: &Command) -> Response {
        if (cmd.p1, cmd.p2) != (0x3f, 0xff) {
            return Response::status(sw::INCORRECT_P1P2);
        }
        let Some((id, _)) = object_id(&cmd.data) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        if id == DISCOVERY_ID {
            return Response::ok(discovery());
        }
        match self.state.objects.get(&hex::encode(&id)) {
            Some(content) => {
                let content = hex::decode(content).unwrap_or_default();
                Response::ok(tlv::encode(&[0x53], &content))
            }
            None => Response::status(sw::NOT_FOUND),
        }
    }

    pub(super) fn put_data(&mut self, cmd: &Command) -> Response {
        if !self.session.mgm_authenticated {
            return Response::status(sw::SECURITY_STATUS);
        }
        if (cmd.p1, cmd.p2) != (0x3f, 0xff) {
            return Response::status(sw::INCORRECT_P1P2);
        }
        let Some((id, rest)) = object_id(&cmd.data) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        let Ok((content, _)) = tlv::parse_one(rest) else {
            return Response::status(sw::INCORRECT_DATA);
        };
        if content.tag != 0x53 || id == DISCOVERY_ID {
            return Response::status(sw::INCORRECT_DATA);
        }
        if content.value.len() > MAX_OBJECT {
            return Response::status(NO_SPACE);
        }
        let key = hex::encode(&id);
        if content.value.is_empty() {
            // An empty 53 deletes the object.
            self.state.objects.remove(&key);
        } else {
            self.state.objects.insert(key, hex::encode(content.value));
        }
        self.dirty = true;
        Response::status(sw::OK)
    }
}
