//! Recovery with the tools users already trust: stock `rage` 0.12.1 with `age-plugin-yubikey`
//! 0.5.1 (pinned in scripts/deps.txt, built with `cargo install`) against the virtual YubiKey
//! behind a real pcscd. What `apisec-agent recovery` prints is run as printed (the PIN through a
//! scripted `pinentry`, so the real PIN path is exercised), the identity line is the one
//! age-plugin-yubikey prints itself, and a block the stock tool sealed opens in the agent.
//!
//! `#[ignore]`d like tests/tests/piv.rs: they need the machine's one pcscd with the vpcd driver
//! (scripts/test.sh runs them under tests/vcard/scripts/with-pcscd.sh).

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use apisec_tests::soft_piv::{plugin_tag, sealed_block, stanza_tags};
use apisec_tests::stock::{path_with_tools, stock_tool};
use apisec_tests::vcard::VCard;
use apisec_tests::*;

const SECRET: &[u8] = b"stock-recovery-secret-7781";

/// Answers rage's Assuan dialogue with the card's PIN, logging each command it was sent.
const PINENTRY: &str = r#"#!/bin/sh
echo "OK pleased to meet you"
while read -r cmd rest; do
  echo "$cmd $rest" >> @DIR@/pinentry.log
  case "$cmd" in
    GETPIN) echo "D @PIN@"; echo "OK" ;;
    BYE) echo "OK closing"; exit 0 ;;
    *) echo "OK" ;;
  esac
done
"#;

struct World {
    card: VCard,
    env: Env,
    dir: tempfile::TempDir,
}

impl World {
    fn new(serial: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let card = VCard::start(&dir.path().join("card"), serial);
        card.set("touch", "approve");
        let pinentry = dir.path().join("pinentry");
        std::fs::write(
            &pinentry,
            PINENTRY
                .replace("@DIR@", &dir.path().display().to_string())
                .replace("@PIN@", PIN),
        )
        .unwrap();
        std::fs::set_permissions(&pinentry, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            card,
            env: Env::new(),
            dir,
        }
    }

    /// `init --yubikey --generate`, which also writes the slot certificate; the recipient.
    fn init(&self) -> String {
        let out = self.env.agent(&[
            "init",
            "--yubikey",
            "--serial",
            &self.card.serial.to_string(),
            "--generate",
            "--touch-policy",
            "cached",
            "--pin-file",
            self.env.pin_file.to_str().unwrap(),
        ]);
        assert_ok(&out, "init --yubikey --generate");
        assert!(
            stderr(&out).contains("wrote the slot certificate"),
            "{}",
            stderr(&out)
        );
        stdout(&out)
            .lines()
            .find_map(|l| l.strip_prefix("recipient: "))
            .expect("init prints the recipient")
            .to_owned()
    }

    fn add_bitget(&self) {
        assert_ok(
            &self
                .env
                .secret("bg", "bitget")
                .api_key("bg_key")
                .secret_bytes(SECRET)
                .passphrase(b"stock-pass")
                .add(),
            "add",
        );
    }

    /// A stock tool, with the tools on PATH and the scripted pinentry.
    fn stock(&self, program: &str) -> Command {
        let mut cmd = Command::new(stock_tool(program));
        cmd.env("PATH", path_with_tools())
            .env("PINENTRY_PROGRAM", self.dir.path().join("pinentry"))
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null());
        cmd
    }

    fn pinentry_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pinentry.log")).unwrap_or_default()
    }
}

fn ok(out: Output, what: &str) -> String {
    assert_ok(&out, what);
    stdout(&out)
}

/// The shell commands `apisec-agent recovery` prints for the entry, without the install line
/// (the tools are installed), continuation lines joined.
fn recovery_commands(printed: &str) -> String {
    let start = printed
        .find("To recover the entry")
        .expect("the recovery steps");
    let mut lines = Vec::new();
    for line in printed[start..].lines().skip(2) {
        if line.trim().is_empty() {
            break;
        }
        lines.push(line.trim());
    }
    lines
        .join("\n")
        .replace("\\\n", " ")
        .lines()
        .filter(|l| !l.starts_with("cargo install"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn stock_rage_and_age_plugin_yubikey_open_an_entry_the_agent_sealed() {
    let w = World::new(5150001);
    let recipient = w.init();
    w.add_bitget();
    let entry = std::fs::read_to_string(w.env.store_dir().join("bg.toml")).unwrap();
    assert_eq!(
        stanza_tags(&sealed_block(&entry)),
        vec![plugin_tag(&recipient)]
    );

    // The identity line to keep: the one age-plugin-yubikey prints for the slot itself.
    let printed = ok(w.env.agent(&["recovery", "bg"]), "recovery");
    let identity = printed
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-PLUGIN-YUBIKEY-1"))
        .unwrap_or_else(|| panic!("no identity line: {printed}"))
        .to_owned();
    let listed = ok(
        w.stock("age-plugin-yubikey")
            .arg("--identity")
            .output()
            .unwrap(),
        "age-plugin-yubikey --identity",
    );
    assert!(
        listed.lines().any(|l| l.trim() == identity),
        "age-plugin-yubikey --identity lists the slot (its certificate was written) with the same \
         identity:\n{listed}\nrecovery printed {identity}"
    );
    assert!(
        listed.contains("apisec-agent"),
        "the certificate's name: {listed}"
    );

    // The install line names the versions tested here.
    for tool in ["rage", "age-plugin-yubikey"] {
        let version = ok(
            w.stock(tool).arg("--version").output().unwrap(),
            "--version",
        );
        let version = version.split_whitespace().nth(1).expect("NAME VERSION");
        assert!(printed.contains(&format!("{tool}@{version}")), "{printed}");
    }
    // The printed commands, run as printed.
    let script = recovery_commands(&printed);
    assert!(script.contains("rage -d -i identity.txt"), "{script}");
    let run = Command::new("sh")
        .arg("-ec")
        .arg(&script)
        .env("PATH", path_with_tools())
        .env("PINENTRY_PROGRAM", w.dir.path().join("pinentry"))
        .current_dir(w.dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_ok(&run, "the recovery commands");
    let plain = std::fs::read(w.dir.path().join("bg.sealed")).unwrap();
    assert!(plain.starts_with(b"apisec-sealed-v1\n"), "{plain:?}");
    assert!(plain.windows(SECRET.len()).any(|x| x == SECRET));
    assert!(
        w.pinentry_log().contains("GETPIN"),
        "the PIN came through pinentry: {}",
        w.pinentry_log()
    );
    assert!(w.card.count("touches") >= 1, "the card was touched");
}

#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn a_block_stock_rage_sealed_opens_in_the_agent() {
    let mut w = World::new(5150002);
    let recipient = w.init();
    w.add_bitget();
    let entry_path = w.env.store_dir().join("bg.toml");
    let entry = std::fs::read_to_string(&entry_path).unwrap();
    // The sealed plaintext, opened by stock rage...
    std::fs::write(w.dir.path().join("bg.age"), sealed_block(&entry)).unwrap();
    let identity = ok(
        w.stock("age-plugin-yubikey")
            .arg("--identity")
            .output()
            .unwrap(),
        "age-plugin-yubikey --identity",
    );
    std::fs::write(w.dir.path().join("identity.txt"), identity).unwrap();
    ok(
        w.stock("rage")
            .args(["-d", "-i", "identity.txt", "-o", "bg.sealed", "bg.age"])
            .output()
            .unwrap(),
        "rage -d",
    );
    // ...sealed again by stock rage to the recipient (the plugin wraps it; no card needed)...
    ok(
        w.stock("rage")
            .args(["-a", "-r", &recipient, "-o", "bg.rage.age", "bg.sealed"])
            .output()
            .unwrap(),
        "rage -r",
    );
    let block = std::fs::read_to_string(w.dir.path().join("bg.rage.age")).unwrap();
    assert_eq!(stanza_tags(&block), vec![plugin_tag(&recipient)]);
    // ...in the entry file, in place of the agent's block: the agent opens it and signs.
    let replaced = entry.replace(sealed_block(&entry).trim_end(), block.trim_end());
    assert_ne!(replaced, entry);
    std::fs::write(&entry_path, replaced).unwrap();
    w.env.start(&[]);
    assert_ok(&w.env.cli(&["unlock", "bg"]), "unlock the block rage made");
    let headers = assert_cli_bitget_get_signs(&w.env, "bg", SECRET);
    assert_eq!(header(&headers, "ACCESS-PASSPHRASE"), "stock-pass");
}

/// On a PKCS#11 token no stock tool can open an entry: `recovery` says so plainly, and what to
/// do instead.
#[test]
fn recovery_on_a_pkcs11_token_says_no_stock_tool_can_and_what_to_do() {
    let env = Env::new();
    env.init();
    let printed = ok(env.agent(&["recovery"]), "recovery");
    assert!(
        printed.contains("no stock age tool can use it")
            && printed.contains("No backup recipient is configured"),
        "{printed}"
    );
    assert!(!printed.contains("AGE-PLUGIN-YUBIKEY"), "{printed}");
    assert_fails_with(&env.agent(&["recovery", "missing"]), 1, "missing");
}
