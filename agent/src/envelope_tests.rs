use super::*;

/// A software key standing in for a token in unit tests only.
struct SoftKey(p256::SecretKey);

impl Ecdh for SoftKey {
    type Error = String;
    fn ecdh(&self, peer: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, String> {
        let peer = p256::PublicKey::from_sec1_bytes(peer).map_err(|e| e.to_string())?;
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), peer.as_affine());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(out)
    }
}

fn soft() -> (SoftKey, Recipient) {
    let sk = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let r = Recipient(sk.public_key());
    (SoftKey(sk), r)
}

#[test]
fn seal_then_unseal() {
    let (key, r) = soft();
    let armored = seal(&[SealTo::Token(r.clone())], b"top secret").unwrap();
    assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    let id = TokenIdentity::new(&r, &key);
    assert_eq!(&unseal(&armored, &id).unwrap()[..], b"top secret");
}

#[test]
fn recipient_string_round_trips_and_stanza_is_piv_p256() {
    let (_, r) = soft();
    let s = r.to_string();
    assert!(s.starts_with("age1yubikey1"), "{s}");
    assert_eq!(s.parse::<Recipient>().unwrap(), r);
    let (stanzas, _) = age::Recipient::wrap_file_key(&r, &FileKey::new(Box::new([7; 16]))).unwrap();
    assert_eq!(stanzas[0].tag, "piv-p256");
    assert_eq!(B64.decode(&stanzas[0].args[0]).unwrap(), r.tag());
    assert_eq!(B64.decode(&stanzas[0].args[1]).unwrap().len(), 33);
    assert_eq!(stanzas[0].body.len(), 32);
}

/// age-plugin-yubikey's tag for a fixed point: private scalar 1, the generator.
#[test]
fn the_tag_is_age_plugin_yubikeys_for_a_fixed_point() {
    let g =
        hex::decode("036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296").unwrap();
    let r = Recipient::from_sec1(&g).unwrap();
    assert_eq!(
        r.to_string(),
        "age1yubikey1qd43050juykyy3lchnnw2caygre8wqmasyk7kvaq7jsnj3wcnrpfvpkgk82"
    );
    assert_eq!(B64.encode(r.tag()), "W6/4nQ");
    assert_eq!(B64.encode(r.legacy_tag()), "Z4SK+w");
}

/// Seals as releases before 0.2 did: the stanza addressed with the legacy tag.
struct LegacySealer(Recipient);

impl age::Recipient for LegacySealer {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let (mut stanzas, labels) = self.0.wrap_file_key(file_key)?;
        stanzas[0].args[0] = B64.encode(self.0.legacy_tag());
        Ok((stanzas, labels))
    }
}

#[test]
fn an_entry_sealed_with_the_legacy_tag_still_opens_and_says_so() {
    let (key, r) = soft();
    let legacy = LegacySealer(r.clone());
    let recipients: Vec<&dyn age::Recipient> = vec![&legacy];
    let encryptor = age::Encryptor::with_recipients(recipients.into_iter()).unwrap();
    let mut armored = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
            .unwrap();
    let mut w = encryptor.wrap_output(armor).unwrap();
    w.write_all(b"old entry").unwrap();
    w.finish().unwrap().finish().unwrap();
    let armored = String::from_utf8(armored).unwrap();
    let id = TokenIdentity::new(&r, &key);
    assert_eq!(&unseal(&armored, &id).unwrap()[..], b"old entry");
    assert!(id.opened_legacy_tag());
    assert!(has_legacy_tag(&armored, std::slice::from_ref(&r)));
    let current = seal(&[SealTo::Token(r.clone())], b"new entry").unwrap();
    let id = TokenIdentity::new(&r, &key);
    assert_eq!(&unseal(&current, &id).unwrap()[..], b"new entry");
    assert!(!id.opened_legacy_tag());
    assert!(!has_legacy_tag(&current, std::slice::from_ref(&r)));
}

#[test]
fn several_recipients_each_open_it_and_a_stranger_cannot() {
    let (k1, r1) = soft();
    let (k2, r2) = soft();
    let (k3, r3) = soft();
    let armored = seal(
        &[SealTo::Token(r1.clone()), SealTo::Token(r2.clone())],
        b"x",
    )
    .unwrap();
    assert_eq!(
        &unseal(&armored, &TokenIdentity::new(&r1, &k1)).unwrap()[..],
        b"x"
    );
    assert_eq!(
        &unseal(&armored, &TokenIdentity::new(&r2, &k2)).unwrap()[..],
        b"x"
    );
    assert!(matches!(
        unseal(&armored, &TokenIdentity::new(&r3, &k3)),
        Err(UnsealError::NotForThisKey)
    ));
}

#[test]
fn token_error_is_reported_as_such() {
    struct Broken;
    impl Ecdh for Broken {
        type Error = String;
        fn ecdh(&self, _: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, String> {
            Err("PIN incorrect".into())
        }
    }
    let (_, r) = soft();
    let armored = seal(&[SealTo::Token(r.clone())], b"x").unwrap();
    match unseal(&armored, &TokenIdentity::new(&r, &Broken)) {
        Err(UnsealError::Token(e)) => assert_eq!(e, "PIN incorrect"),
        other => panic!("{other:?}"),
    }
}
