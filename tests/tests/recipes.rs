//! The recipes of the docs, run as printed: each shell block is taken from the document itself
//! (so the test and the text cannot drift apart) and run with bash in a fresh directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use apisec_tests::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first ```sh block after the heading `heading` in `doc`.
fn block(doc: &str, heading: &str) -> String {
    let text = fs::read_to_string(repo().join(doc)).unwrap();
    let at = text
        .find(heading)
        .unwrap_or_else(|| panic!("{heading:?} is not in {doc}"));
    let rest = &text[at..];
    let start = rest
        .find("```sh\n")
        .unwrap_or_else(|| panic!("no sh block after {heading:?}"))
        + 6;
    let end = rest[start..].find("```").unwrap() + start;
    rest[start..end].to_owned()
}

#[test]
fn the_ci_recipe_is_a_block_that_starts_the_local_exchange_and_checks_the_agent_starts() {
    let recipe = block("docs/operations.md", "## SoftHSM in a bot's own CI");
    // What an earlier recipe got wrong, followed literally: a 0755 directory for the socket, an
    // `eval "$(...)"` that hid a failed start, "against the local exchange" never started.
    assert!(recipe.contains("mkdir -p -m 700 ci-apisec"), "{recipe}");
    assert!(!recipe.contains("eval \"$(apisec-agent start"), "{recipe}");
    assert!(
        recipe.contains("examples/local_exchange/server.py"),
        "{recipe}"
    );
}

/// The CI recipe of docs/operations.md, as printed, as root (it installs softhsm2 with
/// `sudo apt-get`; a `sudo` that runs the command stands in where the machine has none). The
/// example bot at its end reads its balance, places and cancels an order on the local exchange,
/// which checks each signature.
#[test]
#[ignore = "needs root: the recipe runs `sudo apt-get install -y softhsm2`"]
fn as_root_the_ci_recipe_runs_as_printed() {
    let recipe = block("docs/operations.md", "## SoftHSM in a bot's own CI");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A checkout's examples and client, as the recipe says to run from one.
    for name in ["examples", "clients"] {
        std::os::unix::fs::symlink(repo().join(name), d.join(name)).unwrap();
    }
    let shims = d.join("shims");
    fs::create_dir(&shims).unwrap();
    let mut path = format!("{}:", binary("apisec-agent").parent().unwrap().display());
    if Command::new("sh")
        .args(["-c", "command -v sudo"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        fs::write(shims.join("sudo"), "#!/bin/sh\nexec \"$@\"\n").unwrap();
        fs::set_permissions(shims.join("sudo"), fs::Permissions::from_mode(0o755)).unwrap();
        path.push_str(&format!("{}:", shims.display()));
    }
    path.push_str(&std::env::var("PATH").unwrap_or_default());
    let home = d.join("home");
    fs::create_dir(&home).unwrap();
    let script = d.join("recipe.sh");
    fs::write(&script, &recipe).unwrap();
    let key = format!("bg_ci_{}", std::process::id());
    let out = Command::new("bash")
        .arg(&script)
        .current_dir(d)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", d.join("run"))
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("BITGET_TEST_KEY", &key)
        .env("BITGET_TEST_SECRET", "ci-test-secret-0123456789abcdef")
        .env("BITGET_TEST_PASS", "ci-test-pass")
        .output()
        .unwrap();
    let log = format!("{}\n{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "the recipe failed:\n{log}");
    // The bot's order was accepted by the exchange, and the approver logged what it approved.
    assert!(log.contains("CI auto-approve: "), "{log}");
    assert!(stdout(&out).contains("cancelled"), "{log}");
    assert!(
        !log.contains("ci-test-secret-0123456789abcdef"),
        "the secret was printed:\n{log}"
    );
}
