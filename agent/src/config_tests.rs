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
