//! What stock age-plugin-yubikey needs and prints: its slot certificate, and its identity line.
//!
//! The slot certificate: the plugin sees a slot only if it
//! holds a certificate, lists it (`--identity`, `--list`) only if the subject's O is
//! `age-plugin-yubikey`, and reads the key's PIN and touch policies from a private extension
//! (OID 1.3.6.1.4.1.41482.3.8, two bytes: PIN never 1 / once 2 / always 3, touch never 1 /
//! always 2 / cached 3), facts from age-plugin-yubikey 0.5.1 `src/builder.rs` and `src/util.rs`.
//! `init --yubikey --generate` writes such a certificate, self-signed by the card key, so that the
//! stock tools recover the agent's entries without any step of ours (docs/yubikey.md).

use der::asn1::{GeneralizedTime, UtcTime};
use der::oid::{AssociatedOid, ObjectIdentifier};
use der::{DateTime, Decode, Encode, Length, Writer};
use p256::pkcs8::EncodePublicKey;
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};
use yubikey::certificate::Certificate;
use yubikey::{PinPolicy, YubiKey};

use super::card::{self, Touch};

/// The identity line age-plugin-yubikey prints for a slot (`--identity`) and rage reads with
/// `-i`: bech32 (not bech32m) under `age-plugin-yubikey-`, upper case, of the card's serial
/// (4 bytes, little-endian), the slot (0x82..0x95) and the stanza tag (age-plugin-yubikey 0.5.1
/// `src/key.rs`, `Stub`). It names the key; it is no secret.
pub fn identity_line(serial: u32, slot: u8, recipient: &crate::envelope::P256Recipient) -> String {
    use bech32::ToBase32;
    let mut data = serial.to_le_bytes().to_vec();
    data.push(slot);
    data.extend_from_slice(&recipient.tag());
    bech32::encode(
        "age-plugin-yubikey-",
        data.to_base32(),
        bech32::Variant::Bech32,
    )
    .expect("a short fixed-size payload encodes")
    .to_uppercase()
}

/// age-plugin-yubikey's policy extension.
pub const POLICY_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.41482.3.8");

/// The subject: listed by age-plugin-yubikey (O), named for what made it (CN).
pub const SUBJECT: &str = "CN=apisec-agent,OU=apisec-agent,O=age-plugin-yubikey";

/// The two policy bytes, as the extension's whole value.
struct PolicyExtension([u8; 2]);

impl AssociatedOid for PolicyExtension {
    const OID: ObjectIdentifier = POLICY_OID;
}

impl Encode for PolicyExtension {
    fn encoded_len(&self) -> der::Result<Length> {
        Ok(Length::new(2))
    }

    // The extension's OCTET STRING holds the two bytes themselves, not a DER value.
    fn encode(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

impl AsExtension for PolicyExtension {
    fn critical(&self, _: &Name, _: &[Extension]) -> bool {
        false
    }
}

/// The extension's bytes for a key's policies.
pub fn policy_bytes(pin: PinPolicy, touch: Touch) -> [u8; 2] {
    let pin = match pin {
        PinPolicy::Never => 1,
        PinPolicy::Once | PinPolicy::Default => 2,
        PinPolicy::Always => 3,
    };
    let touch = match touch {
        Touch::Never => 1,
        Touch::Always => 2,
        Touch::Cached => 3,
    };
    [pin, touch]
}

/// Writes the certificate of the P-256 key in `slot` (its uncompressed `point`), self-signed by
/// that key: the PIN must have been verified and the management key authenticated, and the card
/// waits for a touch when the key's policy asks for one.
pub fn write(
    yk: &mut YubiKey,
    slot: u8,
    point: &[u8],
    pin: PinPolicy,
    touch: Touch,
) -> Result<(), String> {
    let public = p256::PublicKey::from_sec1_bytes(point)
        .map_err(|_| "the slot's public key is not on P-256".to_owned())?;
    let spki_der = public.to_public_key_der().map_err(|e| e.to_string())?;
    let spki =
        SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes()).map_err(|e| e.to_string())?;
    let subject: Name = SUBJECT.parse().map_err(|e: der::Error| e.to_string())?;
    // A positive 20-byte serial, as RFC 5280 allows at most.
    let mut serial = rand::random::<[u8; 20]>();
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let serial = SerialNumber::new(&serial).map_err(|e| e.to_string())?;
    let now = UtcTime::from_system_time(std::time::SystemTime::now()).map_err(|e| e.to_string())?;
    let forever = DateTime::new(9999, 12, 31, 23, 59, 59).map_err(|e| e.to_string())?;
    let validity = Validity {
        not_before: Time::UtcTime(now),
        not_after: Time::GeneralTime(GeneralizedTime::from_date_time(forever)),
    };
    let policies = PolicyExtension(policy_bytes(pin, touch));
    Certificate::generate_self_signed::<_, p256::NistP256>(
        yk,
        card::slot_id(slot),
        serial,
        validity,
        subject,
        spki,
        |builder| {
            builder
                .add_extension(&policies)
                .map_err(|_| der::Error::from(der::ErrorKind::Failed))
        },
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_extension_is_age_plugin_yubikeys() {
        let subject: Name = SUBJECT.parse().unwrap();
        let ext = PolicyExtension(policy_bytes(PinPolicy::Once, Touch::Cached))
            .to_extension(&subject, &[])
            .unwrap();
        // age-plugin-yubikey 0.5.1 writes `30 10 06 0A 2B 06 01 04 01 82 C4 0A 03 08 04 02 PP TT`.
        assert_eq!(
            hex::encode(ext.to_der().unwrap()),
            "3010060a2b0601040182c40a0308040202 03".replace(' ', "")
        );
        assert_eq!(policy_bytes(PinPolicy::Always, Touch::Always), [3, 2]);
        assert_eq!(policy_bytes(PinPolicy::Never, Touch::Never), [1, 1]);
    }

    #[test]
    fn the_identity_line_round_trips_serial_slot_and_tag() {
        use bech32::FromBase32;
        let g = hex::decode("036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
            .unwrap();
        let r = crate::envelope::P256Recipient::from_sec1(&g).unwrap();
        let line = identity_line(12345678, 0x82, &r);
        assert!(line.starts_with("AGE-PLUGIN-YUBIKEY-1"), "{line}");
        let (hrp, data, variant) = bech32::decode(&line.to_lowercase()).unwrap();
        assert_eq!(
            (hrp.as_str(), variant),
            ("age-plugin-yubikey-", bech32::Variant::Bech32)
        );
        let bytes = Vec::<u8>::from_base32(&data).unwrap();
        assert_eq!(&bytes[..4], &12345678u32.to_le_bytes());
        assert_eq!(bytes[4], 0x82);
        assert_eq!(&bytes[5..], &r.tag());
    }

    #[test]
    fn the_subject_is_listed_by_age_plugin_yubikey() {
        let subject: Name = SUBJECT.parse().unwrap();
        // O first, as age-plugin-yubikey writes it; each attribute in a set of its own.
        let der = subject.to_der().unwrap();
        let o = b"age-plugin-yubikey";
        let at = der.windows(o.len()).position(|w| w == o).unwrap();
        let cn = der.windows(6).position(|w| w == b"apisec").unwrap();
        assert!(at < cn, "{}", hex::encode(&der));
        // UTF8String (tag 0x0c) for the organisation.
        assert_eq!(der[at - 2], 0x0c, "{}", hex::encode(&der));
    }
}
