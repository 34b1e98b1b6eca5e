//! The recipes of the docs, run as printed: each shell block is taken from the document itself
//! (so the test and the text cannot drift apart) and run with bash in a fresh directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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

/// The commands and the output lines of the ```sh blocks of `section` in `doc` (up to the next
/// `## ` heading). In a block that shows output, `$ ` marks each command (a command whose line
/// ends with `\` goes on on the next); in the others every line is a command.
fn section_blocks(doc: &str, section: &str) -> (String, Vec<String>) {
    let text = fs::read_to_string(repo().join(doc)).unwrap();
    let at = text
        .find(section)
        .unwrap_or_else(|| panic!("{section:?} is not in {doc}"));
    let rest = &text[at + section.len()..];
    let rest = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let (mut script, mut output) = (String::new(), Vec::new());
    for block in rest.split("```sh\n").skip(1) {
        let block = &block[..block.find("```").expect("the block ends")];
        let prompts = block.lines().any(|l| l.starts_with("$ "));
        let mut continued = false;
        for line in block.lines() {
            if let Some(command) = line.strip_prefix("$ ").filter(|_| prompts) {
                script.push_str(command);
            } else if !prompts || continued {
                script.push_str(line);
            } else {
                output.push(line.to_owned());
                continue;
            }
            script.push('\n');
            continued = line.ends_with('\\');
        }
    }
    (script, output)
}

/// The README's five-minute tour, every block as printed, typed on a terminal as a new user
/// would: the SoftHSM token made with `softhsm2-util`'s own PIN prompts, the PIN file written
/// by `read -s`, the secret and passphrase typed at `add`'s no-echo prompts, the shipped
/// `zenity-confirm` approver (a `zenity` that clicks "Approve" stands in for the desktop), the
/// unlock, the signed request (checked against an independent HMAC), the lock and the stop.
#[test]
fn the_readme_tour_runs_as_printed() {
    let (script, shown) = section_blocks("README.md", "## The five-minute tour");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (home, tokens, run, shims) = (
        d.join("home"),
        d.join("tokens"),
        d.join("run"),
        d.join("shims"),
    );
    for dir in [&home, &tokens, &run, &shims] {
        fs::create_dir(dir).unwrap();
    }
    fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
    let softhsm_conf = d.join("softhsm2.conf");
    fs::write(
        &softhsm_conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            tokens.display()
        ),
    )
    .unwrap();
    let zenity_log = d.join("zenity.log");
    fs::write(
        shims.join("zenity"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexit 0\n",
            zenity_log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(shims.join("zenity"), fs::Permissions::from_mode(0o755)).unwrap();
    let tour = d.join("tour.sh");
    fs::write(&tour, format!("set -e\n{script}")).unwrap();
    let path = format!(
        "{}:{}:{}",
        binary("apisec-agent").parent().unwrap().display(),
        shims.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = Command::new("bash");
    bash.arg(&tour)
        .current_dir(repo())
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &run)
        .env("SOFTHSM2_CONF", &softhsm_conf)
        .env("TERM", "dumb");

    let (so_pin, pin) = ("87654321", "246810");
    let secret = format!("tour-secret-{}", std::process::id());
    let passphrase = "tour-passphrase";
    let mut t = Terminal::spawn(bash);
    let wait = Duration::from_secs(60);
    for (prompt, answer) in [
        ("Please enter SO PIN: ", so_pin),
        ("Please reenter SO PIN: ", so_pin),
        ("Please enter user PIN: ", pin),
        ("Please reenter user PIN: ", pin),
        ("token PIN: ", pin),
        ("secret (not shown): ", &secret),
        ("passphrase (not shown): ", passphrase),
    ] {
        t.expect(prompt, wait);
        t.type_hidden(answer, wait);
    }
    let (status, transcript) = t.finish(Duration::from_secs(120));
    let transcript = transcript.replace('\r', "");
    assert!(
        status.success(),
        "the tour failed ({status}):\n{transcript}"
    );

    // What the README shows is what the terminal showed: each line, or for a `Name: value`
    // line (a signature, a timestamp) the name with a value of its own.
    for line in &shown {
        let found = transcript.contains(line.as_str())
            || line.split_once(": ").is_some_and(|(name, _)| {
                transcript
                    .lines()
                    .any(|l| l.starts_with(&format!("{name}: ")))
            });
        assert!(
            found,
            "the README shows {line:?}; the terminal showed:\n{transcript}"
        );
    }
    // The signature is Bitget's, computed here with the secret typed at the prompt.
    let header = |name: &str| {
        transcript
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in:\n{transcript}"))
            .to_owned()
    };
    let stamp = header("ACCESS-TIMESTAMP");
    assert_eq!(header("ACCESS-KEY"), "bg_1234");
    assert_eq!(header("ACCESS-PASSPHRASE"), passphrase);
    assert_eq!(
        header("ACCESS-SIGN"),
        bitget_sign(
            secret.as_bytes(),
            &format!("{stamp}GET/api/v2/spot/account/assets?coin=USDT")
        )
    );
    // The approver that ships was asked, with the whole request and zenity's markup off.
    let asked = fs::read_to_string(&zenity_log).expect("zenity was never asked");
    assert!(asked.contains("--question --no-markup"), "{asked}");
    assert!(asked.contains("bitget-main"), "{asked}");
    // Typed at no-echo prompts: never shown.
    for typed in [so_pin, pin, secret.as_str()] {
        assert!(
            !transcript.contains(typed),
            "{typed:?} was echoed:\n{transcript}"
        );
    }
    // The PIN file is the user's alone, and the agent stopped with the tour's last command.
    let pin_file = home.join(".config/apisec/pin");
    assert_eq!(fs::read_to_string(&pin_file).unwrap(), format!("{pin}\n"));
    assert_eq!(
        fs::metadata(&pin_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        transcript.contains("stopped the agent (pid"),
        "{transcript}"
    );
}

/// docs/operations.md's way to try socket activation by hand, as printed: systemd's helper
/// binds the socket, and the first client starts the agent on it.
#[test]
fn socket_activation_by_hand_runs_as_printed() {
    let recipe = block("docs/operations.md", "To try it by hand");
    let mut env = Env::new();
    env.init();
    env.add_bitget("bg", b"by-hand-secret");
    fs::create_dir_all(env.socket.parent().unwrap()).unwrap();
    fs::set_permissions(
        env.socket.parent().unwrap(),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        binary("apisec-agent").parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let log = fs::File::create(&env.agent_log).unwrap();
    let script = env.root().join("by-hand.sh");
    fs::write(&script, &recipe).unwrap();
    let child = env
        .command("bash")
        .arg(&script)
        .env("PATH", path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    env.adopt_agent(child);
    wait_until(
        Duration::from_secs(20),
        || env.socket.exists().then_some(()),
        || format!("the helper did not bind the socket: {}", env.log()),
    );
    let out = env.cli(&["status"]);
    assert_ok(
        &out,
        &format!("status through the activated socket:\n{}", env.log()),
    );
    assert!(stdout(&out).contains("bg"), "{}", stdout(&out));
    assert!(
        env.log()
            .contains("socket activation: using the listening socket passed as fd 3"),
        "{}",
        env.log()
    );
}
