//! Shell completion as a user meets it: the script each binary prints, sourced in a real bash,
//! and a Tab pressed: subcommands, flags, exchange ids, and the secret names only the store (for
//! `apisec-agent`) or the running agent (for `apisec`) knows. `--config` and `--socket` where
//! they would do nothing are bad usage.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use apisec_tests::*;

/// The fifteen presets, as a user types them (docs/exchanges.md).
const EXCHANGES: [&str; 15] = [
    "bitget",
    "binance",
    "okx",
    "bybit",
    "kucoin",
    "kraken",
    "kraken-futures",
    "coinbase-exchange",
    "coinbase-advanced",
    "gate",
    "mexc",
    "htx",
    "bitmex",
    "bitfinex",
    "deribit",
];

/// The bash script `bin completions bash` prints, in a file of the test.
fn script(env: &Env, bin: &str) -> PathBuf {
    let out = env
        .command(binary(bin))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert_ok(&out, &format!("{bin} completions bash"));
    let path = env.root().join(format!("{bin}.bash"));
    fs::write(&path, &out.stdout).unwrap();
    path
}

/// bash with the test's environment and the built binaries first on `PATH`, where the script
/// calls them back.
fn bash(env: &Env) -> Command {
    let bin_dir = binary("apisec-agent").parent().unwrap().to_owned();
    let path = std::env::var("PATH").unwrap_or_default();
    let mut c = env.command("bash");
    c.env("PATH", format!("{}:{path}", bin_dir.display()));
    c
}

fn tab(env: &Env, script: &std::path::Path, words: &[&str]) -> Vec<String> {
    bash_tab(bash(env), script, words)
}

/// The values offered for a fresh word, without the flags clap offers there too.
fn values(env: &Env, script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let mut offered = tab(env, script, words);
    offered.retain(|o| !o.starts_with('-'));
    offered
}

#[test]
fn bash_completes_the_subcommands_and_the_exchange_ids() {
    let env = Env::new();
    let agent_subs = [
        "init",
        "add",
        "list",
        "keygen",
        "rotate",
        "audit",
        "reseal",
        "backup",
        "remove",
        "attest",
        "recovery",
        "endpoints",
        "policy",
        "start",
        "run",
        "stop",
        "completions",
        "man",
    ];
    let cli_subs = [
        "unlock",
        "lock",
        "status",
        "sign",
        "login",
        "exec",
        "mac",
        "approvals",
        "approve",
        "deny",
        "completions",
        "man",
    ];
    for (bin, subs) in [("apisec-agent", &agent_subs[..]), ("apisec", &cli_subs[..])] {
        let script = script(&env, bin);
        let offered = values(&env, &script, &[bin, ""]);
        for sub in subs {
            assert!(
                offered.iter().any(|o| o == sub),
                "{bin} <Tab> lacks {sub}: {offered:?}"
            );
        }
        // A prefix narrows the offer, as bash users expect.
        let offered = tab(&env, &script, &[bin, "co"]);
        assert_eq!(offered, ["completions"], "{bin} co<Tab>");
    }
    let script = script(&env, "apisec-agent");
    for words in [
        &["apisec-agent", "add", "x", "--exchange", ""][..],
        &["apisec-agent", "endpoints", ""],
    ] {
        let mut offered = values(&env, &script, words);
        offered.sort();
        let mut want = EXCHANGES.map(str::to_owned).to_vec();
        want.sort();
        assert_eq!(offered, want, "{words:?}");
    }
    let offered = tab(
        &env,
        &script,
        &["apisec-agent", "add", "x", "--exchange", "kraken-"],
    );
    assert_eq!(offered, ["kraken-futures"]);
    let offered = tab(&env, &script, &["apisec-agent", "add", "x", "--ty"]);
    assert_eq!(offered, ["--type"]);
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_shell_is_bad_usage() {
    let env = Env::new();
    for bin in ["apisec-agent", "apisec"] {
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let out = env
                .command(binary(bin))
                .args(["completions", shell])
                .output()
                .unwrap();
            assert_ok(&out, &format!("{bin} completions {shell}"));
            let text = stdout(&out);
            // The script calls the binary back by its name on PATH, with COMPLETE naming the
            // shell: never the path it was generated from (a package builds it elsewhere).
            assert!(text.contains("COMPLETE"), "{bin} {shell}: {text}");
            assert!(text.contains(bin), "{bin} {shell}: {text}");
            assert!(!text.contains("target/"), "{bin} {shell}: {text}");
        }
        let bad = env
            .command(binary(bin))
            .args(["completions", "tcsh"])
            .output()
            .unwrap();
        assert_eq!(bad.status.code(), Some(2), "{bin} completions tcsh");
    }
}

#[test]
fn secret_names_complete_from_the_store_of_the_config_on_the_line() {
    let env = Env::new();
    env.init();
    env.add_bitget("bitget-main", b"s1");
    env.add_bitget("bitget-spare", b"s2");
    let script = script(&env, "apisec-agent");
    for sub in ["rotate", "remove", "attest", "recovery", "reseal"] {
        let offered = values(&env, &script, &["apisec-agent", sub, ""]);
        assert_eq!(offered, ["bitget-main", "bitget-spare"], "{sub} <Tab>");
    }
    let offered = tab(
        &env,
        &script,
        &["apisec-agent", "policy", "check", "bitget-s"],
    );
    assert_eq!(offered, ["bitget-spare"]);
    // `add` takes a new name: the existing ones are not offered.
    let offered = values(&env, &script, &["apisec-agent", "add", ""]);
    assert!(
        !offered.iter().any(|o| o.starts_with("bitget")),
        "{offered:?}"
    );

    // Another config, named on the line being completed, before or after the subcommand: its
    // store's names, not the default config's.
    let other_store = env.root().join("other-store");
    fs::create_dir_all(&other_store).unwrap();
    fs::copy(
        env.store_dir().join("bitget-main.toml"),
        other_store.join("elsewhere.toml"),
    )
    .unwrap();
    let config = fs::read_to_string(&env.config).unwrap();
    let store_line = config
        .lines()
        .find(|l| l.split('=').next().is_some_and(|k| k.trim() == "store"))
        .map(str::to_owned);
    let other_config = env.root().join("other.toml");
    let text = match store_line {
        Some(line) => config.replace(
            &line,
            &format!("store = {:?}", other_store.display().to_string()),
        ),
        None => format!("store = {:?}\n{config}", other_store.display().to_string()),
    };
    fs::write(&other_config, text).unwrap();
    let other = other_config.to_str().unwrap();
    for words in [
        &["apisec-agent", "--config", other, "remove", ""][..],
        &["apisec-agent", "remove", &format!("--config={other}"), ""],
    ] {
        assert_eq!(values(&env, &script, words), ["elsewhere"], "{words:?}");
    }
    // A config that cannot be read offers nothing and prints nothing (bash_tab checks stderr).
    let missing = env.root().join("missing.toml");
    let words = [
        "apisec-agent",
        "--config",
        missing.to_str().unwrap(),
        "remove",
        "",
    ];
    assert!(values(&env, &script, &words).is_empty());
}

#[test]
fn apisec_completes_the_names_the_agent_serves() {
    let mut env = Env::new();
    env.init();
    env.add_bitget("bitget-main", b"s1");
    env.add_bitget("bitget-spare", b"s2");
    let script = script(&env, "apisec");
    // No agent yet: nothing offered, no error, no wait.
    let started = Instant::now();
    assert!(values(&env, &script, &["apisec", "unlock", ""]).is_empty());
    assert!(started.elapsed() < Duration::from_secs(10));

    env.start(&[]);
    for words in [
        &["apisec", "unlock", ""][..],
        &["apisec", "lock", ""],
        &["apisec", "sign", ""],
        &["apisec", "login", ""],
        &["apisec", "mac", ""],
        &["apisec", "exec", "--unlock", ""],
    ] {
        assert_eq!(
            values(&env, &script, words),
            ["bitget-main", "bitget-spare"],
            "{words:?}"
        );
    }
    assert_eq!(
        tab(&env, &script, &["apisec", "unlock", "bitget-m"]),
        ["bitget-main"]
    );
    // --socket on the line asks that agent instead: here none, so nothing.
    let nowhere = env.root().join("run/nowhere.sock");
    let words = [
        "apisec",
        "--socket",
        nowhere.to_str().unwrap(),
        "unlock",
        "",
    ];
    assert!(values(&env, &script, &words).is_empty());
}

#[test]
fn config_and_socket_where_they_do_nothing_are_bad_usage() {
    let env = Env::new();
    let dir = env.root().join("man");
    let dir = dir.to_str().unwrap();
    for (bin, flag, args) in [
        ("apisec-agent", "--config", &["completions", "bash"][..]),
        ("apisec-agent", "--config", &["man", dir]),
        ("apisec", "--socket", &["completions", "bash"]),
        ("apisec", "--socket", &["man", dir]),
    ] {
        for before in [true, false] {
            let mut cmd = env.command(binary(bin));
            if before {
                cmd.args([flag, "/x"]).args(args);
            } else {
                cmd.args(args).args([flag, "/x"]);
            }
            let out = cmd.output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{bin} {flag} {args:?}");
            let err = stderr(&out);
            assert!(
                err.contains(&format!("{flag} is not used by `{bin} {}`", args[0])),
                "{err}"
            );
            assert!(out.stdout.is_empty(), "{bin} {args:?} wrote output");
        }
        let help = stdout(&env.command(binary(bin)).arg("--help").output().unwrap());
        assert!(help.contains("(not for `completions` and `man`"), "{help}");
    }
    assert!(
        !std::path::Path::new(dir).exists(),
        "man wrote pages despite the refusal"
    );
}
