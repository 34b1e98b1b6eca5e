//! `apisec-agent init --yubikey`: use (or with --generate, create) a P-256 key in a YubiKey PIV
//! slot, and write a `kind = "piv"` config whose recipient is the `age1yubikey1...` string
//! age-plugin-yubikey prints for the same key.

use std::io::IsTerminal;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use apisec_agent::config::TokenSection;
use apisec_agent::envelope::Recipient;
use apisec_agent::token::piv::card::{self, SlotInfo, Touch};
use apisec_agent::token::piv::stock_plugin;
use apisec_agent::token::TokenError;
use yubikey::piv::{self, AlgorithmId, ManagementAlgorithmId, ManagementSlotId, SlotId};
use yubikey::{MgmKey, PinPolicy, YubiKey};
use zeroize::Zeroizing;

use super::args::InitArgs;
use super::settings::init::PivInit;
use super::{CliError, CmdResult};

pub fn run(config_path: &Path, a: InitArgs) -> CmdResult {
    let token = token_section(&a)?;
    super::init_config::write_config(config_path, token, &a)
}

/// The `[token]` section for the YubiKey slot the flags name: its key used (or generated, with
/// its slot certificate, with `--generate`), its recipient derived, what it means said. `init
/// --yubikey` writes it; `backup add-token --yubikey` appends it.
pub fn token_section(a: &InitArgs) -> Result<TokenSection, CliError> {
    let PivInit {
        slot,
        touch: wanted_touch,
        pin_policy,
    } = PivInit::from_args(a)?;
    if a.generate && wanted_touch == Touch::Never && !a.allow_no_touch {
        return Err(refuse_no_touch(slot));
    }
    let mut yk = card::open(a.serial)?;
    let serial = yk.serial().0;
    let info = if a.generate {
        generate(&mut yk, slot, pin_policy, wanted_touch, a)?
    } else {
        card::slot_info(&mut yk, slot)?
    };
    // Let go of the card before writing: ykman or the agent may want it next.
    drop(yk);
    if !info.touch.needs_touch() {
        if !a.allow_no_touch {
            return Err(refuse_no_touch(slot));
        }
        warn_no_touch(a.approver.is_some());
    }
    let recipient = Recipient::from_sec1(&info.point)
        .ok_or_else(|| CliError::new("the card returned a public key that is not on P-256"))?;
    println!(
        "YubiKey serial {serial}, slot {}, PIN policy {}, touch policy {}",
        card::slot_name(slot),
        pin_policy_name(info.pin_policy),
        info.touch
    );
    if info.touch.needs_touch() && a.approver.is_none() {
        println!("each unseal is approved by touching the YubiKey; no approver program is needed");
    }
    if info.touch == Touch::Always {
        println!(
            "note: with touch policy always, `apisec unlock a b c` costs three touches; \
             cached (one touch per 15 s) is easier for several secrets"
        );
    }
    Ok(TokenSection {
        kind: "piv".into(),
        serial: Some(serial),
        slot: Some(card::slot_name(slot)),
        touch_policy: Some(info.touch.as_str().into()),
        pin_env: a.pin_env.clone(),
        pin_file: a.pin_file.clone(),
        recipient: recipient.to_string(),
        ..Default::default()
    })
}

fn pin_policy_name(p: PinPolicy) -> &'static str {
    match p {
        PinPolicy::Never => "never",
        PinPolicy::Always => "always",
        PinPolicy::Once | PinPolicy::Default => "once",
    }
}

fn refuse_no_touch(slot: u8) -> CliError {
    CliError::new(format!(
        "the key in slot {} would have touch policy never: anyone who can run code as you could \
         then unseal every secret while the YubiKey is plugged in, without you noticing",
        card::slot_name(slot)
    ))
    .hint(
        "use a key with touch policy cached or always (--generate --touch-policy cached, in \
         another slot), or pass --allow-no-touch if you accept that",
    )
}

fn warn_no_touch(has_approver: bool) {
    eprintln!("!!! WARNING: touch policy never (--allow-no-touch) !!!");
    eprintln!("!!! Nothing physical approves an unseal: any program running as you, while the");
    eprintln!("!!! YubiKey is plugged in (and its PIN verified), can unseal every secret.");
    if has_approver {
        eprintln!("!!! Only the approver program stands between a request and your secrets.");
    } else {
        eprintln!("!!! No approver is configured either: the agent will refuse to unseal until");
        eprintln!("!!! you configure one ([approval] approver or --approver).");
    }
}

/// Creates a P-256 key in `slot` with the policies asked for; refuses to overwrite a key.
fn generate(
    yk: &mut YubiKey,
    slot: u8,
    pin_policy: PinPolicy,
    touch: Touch,
    a: &InitArgs,
) -> Result<SlotInfo, CliError> {
    let serial = yk.serial().0;
    match card::slot_info(yk, slot) {
        Err(TokenError::PivNoKey { .. }) => {}
        Ok(_) | Err(TokenError::BadKey(_)) => {
            return Err(CliError::new(format!(
                "slot {} of the YubiKey (serial {serial}) already holds a key; generating would \
                 destroy it (and every secret sealed to it)",
                card::slot_name(slot)
            ))
            .hint("drop --generate to use that key, or choose an empty slot with --slot"))
        }
        Err(e) => return Err(e.into()),
    }
    authenticate(yk, a)?;
    piv::generate(
        yk,
        card::slot_id(slot),
        AlgorithmId::EccP256,
        pin_policy,
        touch.to_policy(),
    )
    .map_err(|e| CliError::new(format!("generating the key on the YubiKey failed: {e}")))?;
    eprintln!(
        "generated an EC P-256 key in slot {} of the YubiKey (serial {serial})",
        card::slot_name(slot)
    );
    // Read back what the card recorded, rather than trusting what was asked.
    let info = card::slot_info(yk, slot)?;
    write_certificate(yk, slot, &info, a)?;
    Ok(info)
}

/// The slot certificate stock age-plugin-yubikey needs to see the key (`stock_plugin`): signed by
/// the new key itself, so it takes the PIN and, with touch policy always or cached, a touch.
fn write_certificate(
    yk: &mut YubiKey,
    slot: u8,
    info: &SlotInfo,
    a: &InitArgs,
) -> Result<(), CliError> {
    let source = super::settings::init::pin_source(a);
    eprintln!(
        "writing the slot certificate age-plugin-yubikey looks for: it is signed by the new key, \
         which takes the PIN (from {})",
        source.describe()
    );
    let pin = source
        .read("PIN of the YubiKey, to sign the new key's certificate")
        .map_err(|e| CliError::new(e.to_string()))?;
    yk.verify_pin(pin.expose_secret_bytes())
        .map_err(|e| CliError::new(format!("the YubiKey refused the PIN: {e}")))?;
    if info.touch.needs_touch() {
        eprintln!("touch the YubiKey now (its touch policy is {})", info.touch);
    }
    stock_plugin::write(yk, slot, &info.point, info.pin_policy, info.touch).map_err(|e| {
        CliError::new(format!("writing the slot certificate failed: {e}")).hint(
            "the key was generated on the card but no config was written: run init again \
             without --generate to use it, and add the certificate with ykman (docs/yubikey.md, \
             \"The slot certificate\")",
        )
    })?;
    eprintln!(
        "wrote the slot certificate (O=age-plugin-yubikey): `age-plugin-yubikey --identity` lists \
         this key"
    );
    Ok(())
}

/// Management-key authentication: the key file, else the factory key, else a prompt.
fn authenticate(yk: &mut YubiKey, a: &InitArgs) -> Result<(), CliError> {
    let version = yk.version();
    // Firmware 5.7 made AES-192 the default management key type; the 0.8 crate speaks 3DES only.
    if (version.major, version.minor) >= (5, 7) {
        let md = piv::metadata(yk, SlotId::Management(ManagementSlotId::Management));
        if !matches!(md, Ok(ref m) if m.algorithm == ManagementAlgorithmId::ThreeDes) {
            return Err(CliError::new(format!(
                "this YubiKey (firmware {version}) has an AES management key, which the yubikey \
                 0.8 crate the agent uses cannot authenticate with"
            ))
            .hint(
                "generate the key with ykman instead (`ykman piv keys generate --algorithm \
                 ECCP256 --pin-policy ONCE --touch-policy CACHED 82 pub.pem`), then run init \
                 --yubikey without --generate; see docs/yubikey.md",
            ));
        }
    }
    let from_file = match &a.management_key_file {
        Some(path) => Some(read_key_file(path)?),
        None => None,
    };
    let tried_default = from_file.is_none();
    // The factory key (010203..08 three times) when no file is given.
    let key: MgmKey = from_file.unwrap_or_default();
    match yk.authenticate(key) {
        Ok(()) => return Ok(()),
        Err(yubikey::Error::AuthenticationError) if tried_default => {}
        Err(e) => {
            return Err(
                CliError::new(format!("the YubiKey refused the management key: {e}"))
                    .hint("check the key (48 hex digits, 3DES) in --management-key-file"),
            )
        }
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            "the YubiKey refused the factory management key (it was changed)",
        )
        .hint("pass --management-key-file FILE holding the management key (48 hex digits)"));
    }
    let typed = Zeroizing::new(
        rpassword::prompt_password("PIV management key (48 hex digits, not shown): ")
            .map_err(|e| CliError::new(format!("cannot read the management key: {e}")))?,
    );
    let key = parse_key(&typed)?;
    yk.authenticate(key)
        .map_err(|e| CliError::new(format!("the YubiKey refused the management key: {e}")))
}

fn read_key_file(path: &Path) -> Result<MgmKey, CliError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CliError::new(format!(
            "the management key file {} can be read by others",
            path.display()
        ))
        .hint(format!("chmod 600 {}", path.display())));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?,
    );
    parse_key(&text)
}

fn parse_key(text: &str) -> Result<MgmKey, CliError> {
    let bad = || CliError::new("a PIV 3DES management key is 48 hex digits");
    let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| bad())?);
    if bytes.len() != 24 {
        return Err(bad());
    }
    MgmKey::from_bytes(&bytes[..]).map_err(|_| {
        CliError::new("that management key is a weak 3DES key, which the YubiKey library refuses")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_keys_are_48_hex_digits() {
        assert!(parse_key("010203040506070801020304050607080102030405060708\n").is_ok());
        assert!(parse_key("0102").is_err());
        assert!(parse_key("zz0203040506070801020304050607080102030405060708").is_err());
    }
}
