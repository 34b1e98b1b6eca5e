use super::*;
use crate::pin::PinSource;
use crate::token::piv::card::Touch;
use crate::token::piv::PivSpec;

fn sample() -> String {
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let r = Recipient::from_sec1(&key.public_key().to_sec1_bytes()).unwrap();
    let r = r.to_string();
    format!(
        "[token]\nkind = \"pkcs11\"\nmodule = \"/m.so\"\ntoken_label = \"t\"\nkey_label = \"k\"\n\
         pin_env = \"PIN\"\nrecipient = \"{r}\"\n"
    )
}

#[test]
fn a_minimal_config_validates() {
    let c = ConfigFile::parse(&sample())
        .unwrap()
        .validate(Path::new("c.toml"));
    let c = c.unwrap();
    assert_eq!(c.approval_timeout, DEFAULT_APPROVAL_TIMEOUT);
    assert!(
        matches!(c.token, TokenConfig::Pkcs11 { pin: PinSource::Env(ref v), .. } if v == "PIN")
    );
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let text = sample() + "colour = \"blue\"\n";
    let err = ConfigFile::parse(&text).unwrap_err();
    assert!(err.contains("line 8") && err.contains("colour"), "{err}");
}

#[test]
fn a_piv_config_validates_and_its_touch_approves() {
    let text = sample().replace(
        "kind = \"pkcs11\"\nmodule = \"/m.so\"\ntoken_label = \"t\"\nkey_label = \"k\"\n",
        "kind = \"piv\"\nserial = 424242\nslot = \"83\"\ntouch_policy = \"cached\"\n",
    ) + "[approval]\nnotify = \"/bin/notify\"\n";
    let c = ConfigFile::parse(&text)
        .unwrap()
        .validate(Path::new("c.toml"))
        .unwrap();
    assert_eq!(
        c.token,
        TokenConfig::Piv {
            spec: PivSpec {
                serial: Some(424242),
                slot: 0x83,
                touch: Touch::Cached
            },
            pin: PinSource::Env("PIN".into())
        }
    );
    assert!(c.token.touch_approves());
    assert_eq!(c.notify, Some(PathBuf::from("/bin/notify")));
    let never = text.replace("\"cached\"", "\"never\"");
    let c = ConfigFile::parse(&never)
        .unwrap()
        .validate(Path::new("c.toml"));
    assert!(!c.unwrap().token.touch_approves());
    let bad = text.replace("slot = \"83\"", "slot = \"9b\"");
    let err = ConfigFile::parse(&bad)
        .unwrap()
        .validate(Path::new("c.toml"))
        .unwrap_err();
    assert!(err.to_string().contains("token.slot"), "{err}");
}

#[test]
fn contradictions_are_refused() {
    let text = sample().replace("pin_env = \"PIN\"", "pin_env = \"PIN\"\npin_file = \"/p\"");
    let err = ConfigFile::parse(&text)
        .unwrap()
        .validate(Path::new("c.toml"))
        .unwrap_err();
    assert!(err.to_string().contains("not both"), "{err}");
    assert!(parse_duration("0s").is_err());
    assert_eq!(parse_duration("8h").unwrap(), Duration::from_secs(8 * 3600));
}

/// A PIV slot holds P-256 keys: an RSA recipient beside `kind = "piv"`, for the token or a
/// backup token, is refused at load, naming the section.
#[test]
fn a_piv_token_with_an_rsa_recipient_is_refused() {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key =
        rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("envelope/rsa_test_key.pem")).unwrap();
    let rsa =
        crate::envelope::RsaRecipient::from_modulus(&key.n().to_bytes_be(), &key.e().to_bytes_be())
            .unwrap()
            .to_string();
    let p256 = sample()
        .lines()
        .find_map(|l| {
            l.strip_prefix("recipient = \"")
                .map(|r| r.trim_end_matches('"').to_owned())
        })
        .unwrap();
    let piv = "kind = \"piv\"\nslot = \"83\"\ntouch_policy = \"cached\"\n";
    let primary = format!("[token]\n{piv}pin_env = \"PIN\"\nrecipient = \"{rsa}\"\n");
    let e = ConfigFile::parse(&primary)
        .unwrap()
        .validate(Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("token.recipient is an RSA recipient"), "{e}");
    let backup = format!(
        "{}\n[[backup_tokens]]\n{piv}pin_env = \"PIN\"\nrecipient = \"{rsa}\"\n",
        sample()
    );
    let e = ConfigFile::parse(&backup)
        .unwrap()
        .validate(Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("backup_tokens[0].recipient is an RSA recipient"),
        "{e}"
    );
    // The same sections with a P-256 recipient, and an RSA one on a PKCS#11 token, load.
    let ok = format!("[token]\n{piv}pin_env = \"PIN\"\nrecipient = \"{p256}\"\n");
    assert!(ConfigFile::parse(&ok)
        .unwrap()
        .validate(Path::new("c.toml"))
        .is_ok());
    let pkcs11 = sample().replace(&p256, &rsa);
    assert!(ConfigFile::parse(&pkcs11)
        .unwrap()
        .validate(Path::new("c.toml"))
        .is_ok());
}
