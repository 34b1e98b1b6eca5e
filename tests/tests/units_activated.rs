//! The user units of `contrib/systemd`, their commands run as systemd runs them, without a
//! systemd manager (CI has none as PID 1): the socket of `apisec-agent.socket` bound by
//! systemd's own `systemd-socket-activate`, which starts `apisec-agent.service`'s `ExecStart=`
//! on the first connection and passes it the socket; then `example-bot.service`: its
//! `ExecStartPre=` (the unlock, which that first connection is) and its `ExecStart=` (the example
//! bot, trading against the local exchange instead of Bitget's). Each command, path and mode is
//! read from the unit; the specifiers are expanded as systemd would for the test's user. The
//! system units are run the same way as their own user in `separated.rs`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use apisec_tests::units::{command_line, expand_user, mode};
use apisec_tests::*;

const SECRET: &[u8] = b"unit-secret-7e21";

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    wait_until(
        Duration::from_secs(20),
        || ready().then_some(()),
        || format!("{what} did not happen"),
    );
}

#[test]
fn the_user_units_run_under_socket_activation_and_the_example_bot_trades() {
    let env = Env::new();
    env.init();
    env.add_bitget("bitget-main", SECRET);
    // `run` (the unit's command) takes the approver from the config, as a user sets it up.
    let mut config = fs::read_to_string(&env.config).unwrap();
    config.push_str(&format!(
        "\n[approval]\napprover = {:?}\n",
        env.approver.display().to_string()
    ));
    fs::write(&env.config, config).unwrap();
    env.set_approver("approve");
    let runtime = env.root().join("run");
    let bin_dir = binary("apisec-agent").parent().unwrap().to_owned();

    // apisec-agent.socket: where and how systemd would make the socket.
    let socket_unit = Unit::contrib("apisec-agent.socket");
    assert_eq!(
        socket_unit.one("Accept"),
        "no",
        "the agent takes one listening socket"
    );
    let socket = expand_user(&socket_unit.one("ListenStream"), &runtime, &env.home);
    assert_eq!(
        Path::new(&socket),
        env.socket,
        "the unit's socket is the agent's default path, which clients find"
    );
    let socket_dir = Path::new(&socket).parent().unwrap();
    fs::create_dir_all(socket_dir).unwrap();
    fs::set_permissions(
        socket_dir,
        fs::Permissions::from_mode(mode(&socket_unit.one("DirectoryMode"))),
    )
    .unwrap();

    // apisec-agent.service: its command, started by systemd's helper on the first connection.
    let service = Unit::contrib("apisec-agent.service");
    let exec_start = command_line(&service.one("ExecStart"), &bin_dir);
    assert_eq!(exec_start[1..], ["run"], "{exec_start:?}");
    let log = fs::File::create(&env.agent_log).unwrap();
    let mut activate = env.command("systemd-socket-activate");
    activate.arg("--listen").arg(&socket);
    // The helper gives its child only what --setenv names: the user manager's environment
    // (home, runtime and XDG directories, PATH) and SoftHSM's configuration, which a SoftHSM
    // user adds to the unit (docs/operations.md, "The sandbox in apisec-agent.service").
    let names: Vec<String> = activate
        .get_envs()
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .filter(|name| name != "APISEC_AUTH_SOCK")
        .collect();
    for name in names {
        activate.arg(format!("--setenv={name}"));
    }
    activate
        .arg("--")
        .args(&exec_start)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let _manager = KillOnDrop(activate.spawn().expect("systemd-socket-activate"));
    wait_for("the socket's bind", || Path::new(&socket).exists());
    // What systemd does after binding (SocketMode=); the helper leaves the umask's mode.
    fs::set_permissions(
        &socket,
        fs::Permissions::from_mode(mode(&socket_unit.one("SocketMode"))),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Only the helper has spoken ("Listening on ... as 3."): the agent waits for a client.
    let log = env.log();
    assert!(
        log.lines().all(|l| l.starts_with("Listening on ")),
        "the agent started before any connection:\n{log}"
    );

    // example-bot.service: ExecStartPre blocks on the unlock (the connection that starts the
    // agent), then ExecStart runs the bot.
    let bot_unit = Unit::contrib("example-bot.service");
    let bot_env: Vec<(String, String)> = bot_unit
        .environment()
        .into_iter()
        .map(|(k, v)| (k, expand_user(&v, &runtime, &env.home)))
        .collect();
    assert!(
        bot_env
            .iter()
            .any(|(k, v)| k == "APISEC_AUTH_SOCK" && *v == socket),
        "{bot_env:?}"
    );
    let with_unit_env = |argv: &[String]| {
        let mut cmd = env.command(&argv[0]);
        cmd.args(&argv[1..]).env_remove("APISEC_AUTH_SOCK");
        for (k, v) in &bot_env {
            cmd.env(k, v);
        }
        cmd
    };
    let pre = command_line(
        &expand_user(&bot_unit.one("ExecStartPre"), &runtime, &env.home),
        &bin_dir,
    );
    let out = run_with_stdin(&mut with_unit_env(&pre), b"");
    assert_ok(&out, "ExecStartPre");
    assert!(
        stdout(&out).contains("unlocked bitget-main"),
        "{}",
        stdout(&out)
    );
    let log = env.log();
    assert!(
        log.contains("socket activation: using the listening socket passed as fd 3"),
        "{log}"
    );
    // The socket is still systemd's, with the unit's mode.
    let meta = fs::symlink_metadata(&socket).unwrap();
    assert_eq!(meta.mode() & 0o777, mode(&socket_unit.one("SocketMode")));

    // The bot, as the unit starts it, from the user's home (%h/bot, where the unit looks), the
    // Python client installed (here: on PYTHONPATH); only the exchange's URL is the local one.
    let bot_dir = env.home.join("bot");
    fs::create_dir_all(&bot_dir).unwrap();
    for file in ["bot.py", "bitget_rest.py"] {
        fs::copy(repo().join("examples/bot").join(file), bot_dir.join(file)).unwrap();
    }
    let credentials = env.root().join("exchange.json");
    fs::write(
        &credentials,
        format!(
            r#"{{"api_key": "k", "secret": "{}", "passphrase": "p"}}"#,
            String::from_utf8_lossy(SECRET)
        ),
    )
    .unwrap();
    let port_file = env.root().join("port");
    let exchange = Command::new("python3")
        .arg(repo().join("examples/local_exchange/server.py"))
        .args(["--port", "0", "--port-file"])
        .arg(&port_file)
        .arg("--credentials")
        .arg(&credentials)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the local exchange");
    let _exchange = KillOnDrop(exchange);
    wait_for("the exchange's port", || {
        fs::read_to_string(&port_file).is_ok_and(|p| !p.trim().is_empty())
    });
    let port = fs::read_to_string(&port_file).unwrap();
    let mut start = command_line(
        &expand_user(&bot_unit.one("ExecStart"), &runtime, &env.home),
        &bin_dir,
    );
    let url = start
        .iter()
        .position(|a| a == "--base-url")
        .map(|i| i + 1)
        .expect("the bot's --base-url");
    assert_eq!(start[url], "https://api.bitget.com");
    start[url] = format!("http://127.0.0.1:{}", port.trim());
    let mut bot = with_unit_env(&start);
    bot.env("PYTHONPATH", repo().join("clients/python/src"));
    let out = run_with_stdin(&mut bot, b"");
    assert_ok(&out, "the example bot's ExecStart");
    let text = stdout(&out);
    for step in ["balance: ", "placed: order ", "cancelled: order "] {
        assert!(text.contains(step), "{text}");
    }

    // Stopped, the agent leaves the socket to systemd (the next client would start it again).
    assert_ok(&env.agent(&["stop"]), "stop");
    wait_for("the agent's exit", || UnixStream::connect(&socket).is_err());
    assert!(
        Path::new(&socket).exists(),
        "the activated socket was removed"
    );
}
