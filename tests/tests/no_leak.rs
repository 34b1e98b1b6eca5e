//! The secret's bytes appear in no log line, error message, status output, process argument or
//! environment, or file other than its sealed entry (where they are encrypted). Bitget's
//! passphrase is the exception by the exchange's design: it travels in clear in the
//! `ACCESS-PASSPHRASE` header of every request, so a signed request carries it (see
//! docs/threat-model.md).

use std::path::Path;

use apisec_tests::*;

const SECRET: &[u8] = b"LEAKCANARY-5ecr3t-b1tg3t-0xC0FFEE";
const PASSPHRASE: &[u8] = b"LEAKCANARY-pa55phrase";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

#[test]
#[ignore = "needs root: reads the agent's environment in /proc (it is not dumpable); scripts/test.sh runs it as root"]
fn as_root_the_secret_is_nowhere_but_sealed() {
    let mut env = Env::ready_with_bitget(SECRET, PASSPHRASE);
    let mut outputs = Vec::new();
    // A signed Bitget request: the passphrase is a header, the secret must not be there.
    let signed = sign_assets(&env, "bg");
    assert_ok(&signed, "sign");
    assert!(
        contains(&signed.stdout, PASSPHRASE),
        "Bitget sends the passphrase as a header"
    );
    assert!(!contains(&signed.stdout, SECRET) && !contains(&signed.stderr, SECRET));
    // Exercise success and every kind of refusal, collecting everything printed.
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec![
            "sign",
            "bg",
            "--method",
            "PATCH",
            "--path",
            "/api/v2/spot/account/assets",
        ],
        vec!["sign", "bg", "--method", "GET", "--path", "no-slash"],
        vec![
            "sign",
            "bg",
            "--method",
            "GET",
            "--path",
            "/api/v2/spot/account/assets",
            "--timestamp",
            "1",
        ],
        vec!["mac", "bg", "--alg", "hmac-sha256"],
        vec!["lock"],
        vec![
            "sign",
            "bg",
            "--method",
            "GET",
            "--path",
            "/api/v2/spot/account/assets",
        ],
    ] {
        let o = env.cli(&args);
        outputs.push(o.stdout);
        outputs.push(o.stderr);
    }
    let list = env.agent(&["list", "--json"]);
    outputs.push(list.stdout);
    outputs.push(list.stderr);
    // The agent's argv and environment, while it runs.
    let pid = env.agent_pid();
    outputs.push(std::fs::read(format!("/proc/{pid}/cmdline")).unwrap());
    outputs.push(std::fs::read(format!("/proc/{pid}/environ")).unwrap());
    assert_ok(&env.agent(&["stop"]), "stop");
    env.wait_agent_exit(std::time::Duration::from_secs(5));

    for (i, o) in outputs.iter().enumerate() {
        for needle in [SECRET, PASSPHRASE] {
            assert!(
                !contains(o, needle),
                "output #{i} holds a secret: {}",
                String::from_utf8_lossy(o)
            );
        }
    }
    // Every file the test world holds: config, store, logs, token files, approver log.
    let mut files = Vec::new();
    files_under(env.root(), &mut files);
    assert!(files.iter().any(|f| f.ends_with("agent.log")));
    assert!(files.iter().any(|f| f.ends_with("bg.toml")));
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for needle in [SECRET, PASSPHRASE] {
            assert!(!contains(&bytes, needle), "{} holds a secret", f.display());
        }
    }
    // The log did record the events (so the scan above scanned something real).
    let log = env.log();
    assert!(
        log.contains("unsealed bg") && log.contains("sign refused"),
        "{log}"
    );
}
