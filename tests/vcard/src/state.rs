//! The card's persistent state: what a real YubiKey keeps across power
//! cycles (PINs, counters, keys, data objects). Serialised as JSON so a
//! restarted emulator, or a test, can keep or inspect it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Factory-default PIV credentials (Yubico's documented defaults).
pub const DEFAULT_PIN: &[u8] = b"123456";
pub const DEFAULT_PUK: &[u8] = b"12345678";
pub const DEFAULT_MGM_KEY: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];
/// Yubico's default retry counters for PIN and PUK.
pub const DEFAULT_TRIES: u8 = 3;

/// A PIN or PUK with its retry counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The value without the 0xFF padding.
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
    pub max_tries: u8,
    pub tries_left: u8,
    /// Still the factory value (reported by GET METADATA tag 05).
    pub is_default: bool,
}

impl Reference {
    fn new(value: &[u8]) -> Self {
        Reference {
            value: value.to_vec(),
            max_tries: DEFAULT_TRIES,
            tries_left: DEFAULT_TRIES,
            is_default: true,
        }
    }
}

/// A private key in a slot with the policies fixed at generation/import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotKey {
    /// PIV algorithm id; only 0x11 (P-256) is emulated.
    pub algorithm: u8,
    /// P-256 private scalar, big-endian.
    #[serde(with = "hex_bytes")]
    pub private_key: Vec<u8>,
    /// Effective PIN policy (1 never, 2 once, 3 always; never 0 once stored).
    pub pin_policy: u8,
    /// Effective touch policy (1 never, 2 always, 3 cached).
    pub touch_policy: u8,
    /// 1 generated on card, 2 imported.
    pub origin: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardState {
    pub serial: u32,
    pub version: [u8; 3],
    pub pin: Reference,
    pub puk: Reference,
    #[serde(with = "hex_bytes")]
    pub mgm_key: Vec<u8>,
    pub mgm_key_is_default: bool,
    /// Keyed by slot number as two lowercase hex digits ("82", "9a").
    pub slots: BTreeMap<String, SlotKey>,
    /// PIV data objects keyed by object id in hex ("5fc10d"), value is the
    /// content of the 53 tag.
    pub objects: BTreeMap<String, String>,
}

impl CardState {
    /// A factory-fresh card. 5.4.3 is deliberately below 5.7, where the
    /// default management key turned into AES-192; the yubikey 0.8 crate
    /// speaks only 3DES.
    pub fn new(serial: u32) -> Self {
        CardState {
            serial,
            version: [5, 4, 3],
            pin: Reference::new(DEFAULT_PIN),
            puk: Reference::new(DEFAULT_PUK),
            mgm_key: DEFAULT_MGM_KEY.to_vec(),
            mgm_key_is_default: true,
            slots: BTreeMap::new(),
            objects: BTreeMap::new(),
        }
    }

    pub fn slot(&self, slot: u8) -> Option<&SlotKey> {
        self.slots.get(&format!("{slot:02x}"))
    }

    pub fn set_slot(&mut self, slot: u8, key: SlotKey) {
        self.slots.insert(format!("{slot:02x}"), key);
    }

    pub fn load(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Writes atomically (temp file + rename) so a crash never leaves a torn file.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let mut st = CardState::new(42);
        st.pin.tries_left = 1;
        st.set_slot(
            0x82,
            SlotKey {
                algorithm: 0x11,
                private_key: vec![7; 32],
                pin_policy: 2,
                touch_policy: 2,
                origin: 1,
            },
        );
        st.save(&path).unwrap();
        assert_eq!(CardState::load(&path).unwrap(), st);
    }
}
