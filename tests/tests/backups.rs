//! Backups: an offline age X25519 recipient (from stock `rage-keygen`) added with `backup
//! add-recipient` (the config edited in place, its comments kept); every new entry's sealed block
//! then opens with stock `rage -d -i key.txt` and no token, and with no other key; `backup list`
//! and `list` say which entries lack a backup.

use std::process::Command;

use apisec_tests::soft_piv::sealed_block;
use apisec_tests::stock::stock_tool;
use apisec_tests::*;

const SECRET: &[u8] = b"backed-up-secret-4040";

/// A fresh X25519 key from stock rage-keygen: (key file, its public recipient).
fn offline_key(env: &Env, name: &str) -> (std::path::PathBuf, String) {
    let key = env.root().join(name);
    let out = Command::new(stock_tool("rage-keygen"))
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert_ok(&out, "rage-keygen");
    let text = std::fs::read_to_string(&key).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("rage-keygen writes the public key")
        .to_owned();
    (key, public)
}

fn rage_decrypt(env: &Env, key: &std::path::Path, name: &str) -> std::process::Output {
    let entry = std::fs::read_to_string(env.store_dir().join(format!("{name}.toml"))).unwrap();
    let block = env.root().join(format!("{name}.age"));
    std::fs::write(&block, sealed_block(&entry)).unwrap();
    Command::new(stock_tool("rage"))
        .arg("-d")
        .arg("-i")
        .arg(key)
        .arg(&block)
        .output()
        .unwrap()
}

#[test]
fn an_offline_recipient_opens_every_new_entry_with_stock_rage_and_no_token() {
    let env = Env::new();
    env.init();
    // A comment of the owner's, which the in-place edit must keep.
    let text = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(&env.config, format!("# my apisec config\n{text}")).unwrap();
    env.add_bitget("before", SECRET);
    let listed = stdout(&env.agent(&["backup", "list"]));
    assert!(listed.contains("warning: no backup"), "{listed}");
    assert!(stdout(&env.agent(&["list"])).contains("NO BACKUP"));

    let (key, public) = offline_key(&env, "key.txt");
    let out = env.agent(&["backup", "add-recipient", &public]);
    assert_ok(&out, "backup add-recipient");
    assert!(
        stdout(&out).contains("keep its key file offline"),
        "{}",
        stdout(&out)
    );
    let config = std::fs::read_to_string(&env.config).unwrap();
    assert!(config.starts_with("# my apisec config\n"), "{config}");
    assert!(config.contains(&public), "{config}");
    // Twice is once.
    assert!(stdout(&env.agent(&["backup", "add-recipient", &public])).contains("already"));
    assert_eq!(
        std::fs::read_to_string(&env.config)
            .unwrap()
            .matches(&public)
            .count(),
        1
    );

    env.add_bitget("after", SECRET);
    let out = rage_decrypt(&env, &key, "after");
    assert_ok(&out, "rage -d -i key.txt");
    assert!(out.stdout.starts_with(b"apisec-sealed-v1\n"));
    assert!(out.stdout.windows(SECRET.len()).any(|w| w == SECRET));
    // Only that key: another one opens nothing, and the entry made before is not sealed to it.
    let (other, _) = offline_key(&env, "other.txt");
    assert!(!rage_decrypt(&env, &other, "after").status.success());
    assert!(!rage_decrypt(&env, &key, "before").status.success());
    let listed = stdout(&env.agent(&["backup", "list"]));
    assert!(
        listed.contains(&public)
            && listed.contains("before: 1 missing")
            && !listed.contains("after:"),
        "{listed}"
    );
    // The agent still unseals with the token; its status says which entry has no backup.
    let mut env = env;
    env.start(&[]);
    let status = stdout(&env.cli(&["status"]));
    let before_at = status.find("before ").expect("before in status");
    let after_at = status.find("after ").expect("after in status");
    let warning = status.find("NO BACKUP").expect("a warning");
    assert!(
        before_at < warning && (warning < after_at || after_at < before_at),
        "{status}"
    );
    assert_eq!(status.matches("NO BACKUP").count(), 1, "{status}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&env.cli(&["status", "--json"]))).unwrap();
    let after = json["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "after")
        .unwrap();
    assert_eq!(after["recipients"].as_array().unwrap().len(), 2, "{after}");
    assert_ok(&env.cli(&["unlock", "after", "before"]), "unlock");
    assert_cli_bitget_get_signs(&env, "after", SECRET);

    // reseal: the entry made before the backup is sealed to it too, its secret, policy and
    // settings kept, with a new generation; the running agent is told.
    let entry_of =
        |name: &str| std::fs::read_to_string(env.store_dir().join(format!("{name}.toml"))).unwrap();
    let old = entry_of("before");
    let out = env.agent(&["reseal", "--yes"]);
    assert_ok(&out, "reseal");
    assert!(stdout(&out).contains("resealed before"), "{}", stdout(&out));
    assert!(
        !stdout(&out).contains("resealed after"),
        "already current: {}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("told the running agent"),
        "{}",
        stdout(&out)
    );
    assert_ok(
        &rage_decrypt(&env, &key, "before"),
        "rage opens the resealed entry",
    );
    let new = entry_of("before");
    let field = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .map(str::to_owned)
    };
    assert_eq!(field(&old, "api_key"), field(&new, "api_key"));
    assert_eq!(field(&old, "policy"), field(&new, "policy"));
    assert_ne!(
        field(&old, "created"),
        field(&new, "created"),
        "a new generation"
    );
    assert!(stdout(&env.agent(&["backup", "list"])).contains("every entry is sealed to all"));
    assert!(stdout(&env.agent(&["reseal", "--yes"])).contains("nothing to do"));
    assert_ok(&env.cli(&["unlock", "before"]), "unlock the resealed entry");
    assert_cli_bitget_get_signs(&env, "before", SECRET);
}

#[test]
fn a_bad_recipient_is_refused_and_the_config_is_left_alone() {
    let env = Env::new();
    env.init();
    let before = std::fs::read_to_string(&env.config).unwrap();
    assert_fails_with(
        &env.agent(&["backup", "add-recipient", "age1notarecipient"]),
        1,
        "neither a token's recipient (age1yubikey1",
    );
    assert_eq!(std::fs::read_to_string(&env.config).unwrap(), before);
}

/// "The machine is lost" (docs/operations.md, "Backups"), run as written: the config, the store
/// and the agent's state copied to a fresh home on another machine, the same token plugged in
/// there (here: its SoftHSM files), the PIN file made again; the agent there unlocks and signs,
/// and the audit log goes on with its chain.
#[test]
fn the_restore_procedure_brings_a_working_agent_up_in_a_fresh_home() {
    let mut old = Env::new();
    old.init();
    old.add_bitget("bg", SECRET);
    old.start(&[]);
    assert_ok(&old.cli(&["unlock", "bg"]), "unlock");
    assert_cli_bitget_get_signs(&old, "bg", SECRET);
    assert_ok(&old.agent(&["stop"]), "stop");
    old.wait_agent_exit(std::time::Duration::from_secs(10));

    let mut new = Env::new();
    // The same token on the new machine.
    std::fs::remove_dir_all(new.root().join("tokens")).unwrap();
    copy(&old.root().join("tokens"), new.root());
    // What the procedure backs up: ~/.config/apisec, ~/.local/share/apisec, ~/.local/state/apisec.
    for part in [
        ".config/apisec",
        ".local/share/apisec",
        ".local/state/apisec",
    ] {
        let to = new.home.join(part);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        copy(&old.home.join(part), to.parent().unwrap());
    }
    // The PIN file is not in the backup (it is the token's PIN): made again, in the place the
    // config names after it is edited for the new machine's paths.
    let config = std::fs::read_to_string(&new.config).unwrap();
    let moved = config.replace(
        &old.root().display().to_string(),
        &new.root().display().to_string(),
    );
    assert_ne!(config, moved, "the config names the old PIN file");
    std::fs::write(&new.config, moved).unwrap();
    new.start(&[]);
    assert_ok(&new.cli(&["unlock", "bg"]), "unlock on the new machine");
    assert_cli_bitget_get_signs(&new, "bg", SECRET);
    assert!(
        !new.log().contains("changed since"),
        "the restored state knows what was approved: {}",
        new.log()
    );
    assert_ok(&new.agent(&["stop"]), "stop");
    new.wait_agent_exit(std::time::Duration::from_secs(10));
    let verified = new.agent(&["audit", "verify"]);
    assert_ok(&verified, "audit verify of the restored log");
}

fn copy(from: &std::path::Path, into: &std::path::Path) {
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(into)
        .output()
        .unwrap();
    assert_ok(&out, "cp -a");
}

/// Two tokens configured (`backup add-token`, each with its PIN source); the primary token
/// deleted (`softhsm2-util --delete-token`); the restarted agent unlocks and signs through the
/// backup token, asking no PIN of the absent one.
#[test]
fn with_the_primary_token_deleted_the_agent_unseals_through_the_backup_token() {
    let mut env = Env::new();
    env.init();
    let backup = env.new_backup_softhsm_token("apisec-backup");
    assert!(
        stdout(&env.agent(&["backup", "list"])).contains(&format!("{backup}  a backup token")),
        "{}",
        stdout(&env.agent(&["backup", "list"]))
    );
    env.add_bitget("bg", SECRET);
    let entry = std::fs::read_to_string(env.store_dir().join("bg.toml")).unwrap();
    assert!(
        entry.contains(&backup),
        "sealed to the backup token too: {entry}"
    );

    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock with the primary token");
    assert!(!env.log().contains("with backup token"), "{}", env.log());
    assert_ok(&env.agent(&["stop"]), "stop");
    env.wait_agent_exit(std::time::Duration::from_secs(10));

    env.softhsm(&["--delete-token", "--token", TOKEN_LABEL]);
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock with the backup token");
    env.wait_for_log("unsealed bg with backup token 1");
    assert_cli_bitget_get_signs(&env, "bg", SECRET);
    // The admin commands that open an entry do as the agent does: reseal goes on without the
    // primary token.
    assert_ok(
        &env.agent(&["reseal", "--all", "--yes"]),
        "reseal through the backup token",
    );

    // Neither token there (the agent restarted without them): a clear error naming the primary
    // token and saying that no backup token is there either.
    assert_ok(&env.agent(&["stop"]), "stop");
    env.wait_agent_exit(std::time::Duration::from_secs(10));
    env.softhsm(&["--delete-token", "--token", "apisec-backup"]);
    env.start(&[]);
    let out = env.cli(&["unlock", "bg"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(TOKEN_LABEL) && stderr(&out).contains("none of the 1 backup token"),
        "{}",
        stderr(&out)
    );
}

/// Run as root for the agent's user (the separated deployment), `backup add-recipient` edits the
/// file a symbolic link names, and the file keeps its owner.
#[test]
#[ignore = "needs root: changes a file's owner; scripts/test.sh runs it as root"]
fn as_root_editing_the_config_keeps_its_owner_and_a_symbolic_link() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    env.init();
    let real = env.root().join("real-config.toml");
    std::fs::rename(&env.config, &real).unwrap();
    std::os::unix::fs::symlink(&real, &env.config).unwrap();
    std::os::unix::fs::chown(&real, Some(65534), Some(65534)).unwrap();
    let offline = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    assert_ok(
        &env.agent(&["backup", "add-recipient", offline]),
        "backup add-recipient",
    );
    let link = std::fs::symlink_metadata(&env.config).unwrap();
    assert!(link.file_type().is_symlink(), "the link stays a link");
    let meta = std::fs::metadata(&real).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    assert!(std::fs::read_to_string(&real).unwrap().contains(offline));
}
