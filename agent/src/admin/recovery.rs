//! `apisec-agent recovery [NAME]`: how to open an entry without apisec-agent, with the tools
//! users already trust. For a YubiKey PIV slot the sealed block is an age file that stock `rage`
//! with `age-plugin-yubikey` decrypts (the format is the plugin's own, `envelope.rs`); this prints
//! the identity line to keep and the exact commands. For a PKCS#11 token no stock tool can, and
//! it says so, with what to do instead.

use std::path::Path;

use apisec_agent::config::Config;
use apisec_agent::token::piv::{card, stock_plugin};
use apisec_agent::token::TokenConfig;

use super::args::RecoveryArgs;
use super::{load_config, CliError, CmdResult};

/// The stock tools' versions this recovery was tested with (tests/tests/stock_age.rs).
pub const RAGE: &str = "0.12.1";
pub const AGE_PLUGIN_YUBIKEY: &str = "0.5.1";

pub fn run(config_path: &Path, a: RecoveryArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let name = a.name.as_deref().unwrap_or("NAME");
    if let Some(n) = &a.name {
        // The entry must exist; its path is the store's.
        apisec_agent::store::Store::new(&config.store_dir).load(n)?;
    }
    match &config.token {
        TokenConfig::Piv { spec, .. } => {
            let serial = match spec.serial {
                Some(s) => s,
                // The config may leave it out (the only YubiKey connected): ask the card.
                None => {
                    card::open(None)
                        .map_err(|e| {
                            CliError::new(format!("cannot read the YubiKey's serial: {e}"))
                                .hint("connect the YubiKey, or set serial in the config's [token]")
                        })?
                        .serial()
                        .0
                }
            };
            let recipient = config.recipients[0]
                .p256()
                .expect("the config refuses a PIV token with a recipient that is not P-256");
            let identity = stock_plugin::identity_line(serial, spec.slot, recipient);
            print_piv(&config, serial, spec.slot, &identity, name);
            Ok(())
        }
        TokenConfig::Pkcs11 { spec, .. } => {
            print_pkcs11(&config, &spec.module.display().to_string());
            Ok(())
        }
    }
}

fn print_piv(config: &Config, serial: u32, slot: u8, identity: &str, name: &str) {
    let entry = apisec_agent::store::Store::new(&config.store_dir).entry_path(name);
    println!(
        "Recovery with stock tools, without apisec-agent: YubiKey serial {serial}, PIV slot {} \
         (age-plugin-yubikey slot {}).",
        card::slot_name(slot),
        slot - 0x81
    );
    println!();
    println!("Keep this identity line with your backups (it names the card and slot; it is not a");
    println!("secret: the YubiKey and its PIN are what open the entries):");
    println!();
    println!("  {identity}");
    println!();
    println!("To recover the entry {name} on any machine, with the YubiKey plugged in:");
    println!();
    println!("  cargo install --locked rage@{RAGE} age-plugin-yubikey@{AGE_PLUGIN_YUBIKEY}");
    println!("  umask 077    # what rage writes below holds the secret: for your eyes only");
    println!("  echo '{identity}' > identity.txt");
    println!(
        "  sed -n '/^-----BEGIN AGE ENCRYPTED FILE-----$/,/^-----END AGE ENCRYPTED FILE-----$/p' \\"
    );
    println!("      '{}' > {name}.age", entry.display());
    println!("  rage -d -i identity.txt -o {name}.sealed {name}.age");
    println!();
    println!(
        "rage asks for the YubiKey's PIN (through pinentry when there is one) and the card for"
    );
    println!("a touch when its touch policy says so. {name}.sealed is the sealed plaintext");
    println!(
        "(docs/formats.md, \"Sealed plaintext\"): the line apisec-sealed-v1, then the entry's"
    );
    println!(
        "settings as JSON, the secret and the passphrase, each after a 4-byte length; `strings"
    );
    println!("{name}.sealed` shows them. Delete it once the secret is where it must go.");
    println!();
    println!("`age-plugin-yubikey --identity` prints the same line when the slot holds the");
    println!("certificate `apisec-agent init --yubikey --generate` wrote (docs/yubikey.md).");
}

fn print_pkcs11(config: &Config, module: &str) {
    println!("The key is on a PKCS#11 token ({module}): no stock age tool can use it, so");
    println!("entries are recovered only through that token, with apisec-agent and its config.");
    if module.contains("ykcs11") {
        println!();
        println!("ykcs11 is a YubiKey's PIV application: if the slot holds a certificate that");
        println!(
            "age-plugin-yubikey accepts, `age-plugin-yubikey --list-all` shows its identity and"
        );
        println!(
            "rage can open the entries as for a YubiKey configured natively (`init --yubikey`)."
        );
    }
    println!();
    if config.backups() > 0 {
        println!(
            "The entries are also sealed to {} backup recipient(s) (backup_recipients): each opens",
            config.backups()
        );
        println!("them too; keep that token (or key) in a safe place.");
    } else {
        println!("No backup recipient is configured: if this token is lost, so is every entry.");
        println!(
            "Add one (backup_recipients in the config: a YubiKey kept in a safe) and seal the"
        );
        println!("entries again (`apisec-agent rotate NAME`).");
    }
}
