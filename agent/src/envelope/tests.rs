use super::*;

/// A software key standing in for a token in unit tests only.
struct SoftKey(p256::SecretKey);

impl WrappingKey for SoftKey {
    type Error = String;
    fn ecdh(&self, peer: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, String> {
        let peer = p256::PublicKey::from_sec1_bytes(peer).map_err(|e| e.to_string())?;
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), peer.as_affine());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(out)
    }
    fn rsa_oaep_decrypt(&self, _: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        Err("an EC key does no RSA".into())
    }
}

fn soft() -> (SoftKey, Recipient) {
    let sk = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let r = Recipient::from_sec1(&sk.public_key().to_sec1_bytes()).unwrap();
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
    assert_eq!(
        B64.decode(&stanzas[0].args[0]).unwrap(),
        r.p256().unwrap().tag()
    );
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
    let r = r.p256().unwrap();
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
        stanzas[0].args[0] = B64.encode(self.0.p256().unwrap().legacy_tag());
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
    impl WrappingKey for Broken {
        type Error = String;
        fn ecdh(&self, _: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, String> {
            Err("PIN incorrect".into())
        }
        fn rsa_oaep_decrypt(&self, _: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
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

/// An RSA key standing in for a token's in unit tests only (made with `openssl genrsa 2048`;
/// generating one in a debug build takes seconds).
struct SoftRsa(rsa::RsaPrivateKey);

const RSA_TEST_KEY: &str = include_str!("rsa_test_key.pem");

impl WrappingKey for SoftRsa {
    type Error = String;
    fn ecdh(&self, _: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, String> {
        Err("an RSA key does no ECDH".into())
    }
    fn rsa_oaep_decrypt(&self, ciphertext: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        Ok(self
            .0
            .decrypt(rsa::Oaep::new::<sha1::Sha1>(), ciphertext)
            .ok()
            .map(Zeroizing::new))
    }
}

fn soft_rsa() -> (SoftRsa, Recipient) {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_TEST_KEY).unwrap();
    let r = RsaRecipient::from_modulus(&key.n().to_bytes_be(), &key.e().to_bytes_be()).unwrap();
    (SoftRsa(key), Recipient::Rsa(r))
}

#[test]
fn rsa_seal_then_unseal_and_the_recipient_string_round_trips() {
    let (key, r) = soft_rsa();
    let s = r.to_string();
    assert!(s.starts_with("age1apisec-rsa1"), "{s}");
    assert_eq!(s.parse::<Recipient>().unwrap(), r);
    assert!(matches!(s.parse::<SealTo>().unwrap(), SealTo::Token(t) if t == r));
    let armored = seal(&[SealTo::Token(r.clone())], b"top secret").unwrap();
    assert_eq!(
        &unseal(&armored, &TokenIdentity::new(&r, &key)).unwrap()[..],
        b"top secret"
    );
    // An EC token among the recipients passes the RSA stanza by, and opens its own.
    let (ec_key, ec) = soft();
    let both = seal(&[SealTo::Token(r.clone()), SealTo::Token(ec.clone())], b"x").unwrap();
    assert_eq!(
        &unseal(&both, &TokenIdentity::new(&ec, &ec_key)).unwrap()[..],
        b"x"
    );
    assert_eq!(
        &unseal(&both, &TokenIdentity::new(&r, &key)).unwrap()[..],
        b"x"
    );
    assert!(matches!(
        unseal(&armored, &TokenIdentity::new(&ec, &ec_key)),
        Err(UnsealError::NotForThisKey)
    ));
}

/// The recipient's key and stanza body, checked with OpenSSL rather than the `rsa` crate that
/// made them: the recipient carries the key's SubjectPublicKeyInfo as `openssl pkey -pubout`
/// writes it, and `openssl pkeyutl` OAEP-SHA1-decrypts the stanza body to the file key.
#[test]
fn rsa_stanza_is_what_openssl_calls_oaep_sha1() {
    use bech32::FromBase32;
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("key.pem");
    std::fs::write(&pem, RSA_TEST_KEY).unwrap();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
        out.stdout
    };
    let spki = openssl(&[
        "pkey",
        "-in",
        pem.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
    ]);
    let (_, r) = soft_rsa();
    let (hrp, data, _) = bech32::decode(&r.to_string()).unwrap();
    assert_eq!(hrp, "age1apisec-rsa");
    assert_eq!(Vec::<u8>::from_base32(&data).unwrap(), spki);
    let (stanzas, _) = age::Recipient::wrap_file_key(&r, &FileKey::new(Box::new([9; 16]))).unwrap();
    assert_eq!(stanzas[0].tag, "apisec-rsa-oaep");
    assert_eq!(stanzas[0].args.len(), 1);
    let tag = &<sha2::Sha256 as sha2::Digest>::digest(&spki)[..4];
    assert_eq!(B64.decode(&stanzas[0].args[0]).unwrap(), tag);
    assert_eq!(stanzas[0].body.len(), 256);
    let body = dir.path().join("body");
    std::fs::write(&body, &stanzas[0].body).unwrap();
    let plain = openssl(&[
        "pkeyutl",
        "-decrypt",
        "-inkey",
        pem.to_str().unwrap(),
        "-in",
        body.to_str().unwrap(),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha1",
        "-pkeyopt",
        "rsa_mgf1_md:sha1",
    ]);
    assert_eq!(plain, [9; 16]);
}

#[test]
fn a_damaged_rsa_stanza_fails_its_integrity_check_and_short_keys_are_refused() {
    let (key, r) = soft_rsa();
    let armored = seal(&[SealTo::Token(r.clone())], b"x").unwrap();
    // The token refusing the ciphertext (OAEP's check) is a damaged entry, not a token failure.
    struct Refuses;
    impl WrappingKey for Refuses {
        type Error = String;
        fn ecdh(&self, _: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, String> {
            unreachable!()
        }
        fn rsa_oaep_decrypt(&self, _: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
            Ok(None)
        }
    }
    assert!(matches!(
        unseal(&armored, &TokenIdentity::new(&r, &Refuses)),
        Err(UnsealError::Integrity)
    ));
    assert!(unseal(&armored, &TokenIdentity::new(&r, &key)).is_ok());
    let e = RsaRecipient::from_modulus(&[0xc5; 128], &[1, 0, 1]).unwrap_err();
    assert!(e.contains("1024 bits") && e.contains("2048"), "{e}");
    let e = "age1apisec-rsa1qqqq".parse::<Recipient>().unwrap_err();
    assert!(e.contains("age1apisec-rsa1"), "{e}");
    let e = "age1xyz".parse::<Recipient>().unwrap_err();
    assert!(
        e.contains("age1yubikey1") && e.contains("age1apisec-rsa1"),
        "{e}"
    );
}
