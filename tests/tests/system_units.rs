//! The system units of `contrib/systemd/system`, their commands run as systemd runs them,
//! without a systemd manager (CI has none as PID 1): `apisec-agent.socket`'s socket bound by
//! systemd's own `systemd-socket-activate` and given the unit's owner, group and mode, the
//! directory `apisec-agent-tmpfiles.conf` declares, and `apisec-agent.service`'s `ExecStart=`
//! started by the helper on the first connection as the unit's `User=`, `Group=` and
//! `SupplementaryGroups=`, with its `Environment=`, no capabilities. Then a bot signs, after an
//! admin approved its unlock over the socket, and the signature is checked independently.
//! Needs root (it creates users and a group). The unit's names (`apisec`, `apisec-clients`,
//! `/var/lib/apisec`, `/run/apisec`) are mapped to the ones made for this run, so that a real
//! installation on the same host is never touched.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apisec_tests::system_host::{uid_of, wait_for_socket, SystemHost};
use apisec_tests::units::{command_line, mode};
use apisec_tests::*;

const SECRET: &[u8] = b"system-unit-secret-9a3f";

/// The unit's names for the host's: what the test made in their place.
fn mapped(value: &str, host: &SystemHost) -> String {
    value
        .replace("/var/lib/apisec", &host.state.display().to_string())
        .replace("/run/apisec", &host.run.display().to_string())
        .replace("apisec-clients", &host.group)
        .split_whitespace()
        .map(|w| {
            if w == "apisec" {
                host.agent.as_str()
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn gid_of(group: &str) -> u32 {
    let out = Command::new("getent")
        .args(["group", group])
        .output()
        .unwrap();
    stdout(&out)
        .split(':')
        .nth(2)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
#[ignore = "needs root: creates users and a group; scripts/test.sh runs it as root"]
fn as_root_the_system_units_run_as_their_user_under_socket_activation() {
    let host = SystemHost::new();
    host.set_up_with_two_entries(SECRET);
    let (bot, admin) = (host.bot.clone(), host.admin.clone());

    // The directory tmpfiles makes at boot is the one setup-system made.
    let tmpfiles = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../contrib/systemd/system/apisec-agent-tmpfiles.conf"),
    )
    .unwrap();
    let line = tmpfiles
        .lines()
        .find(|l| l.starts_with("d "))
        .expect("a d line");
    let fields: Vec<String> = mapped(line, &host)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let dir = fs::metadata(&fields[1]).unwrap();
    assert_eq!(dir.mode() & 0o7777, mode(&fields[2]), "{line}");
    assert_eq!(dir.uid(), uid_of(&fields[3]), "{line}");
    assert_eq!(dir.gid(), gid_of(&fields[4]), "{line}");

    let socket_unit = Unit::contrib("system/apisec-agent.socket");
    let socket = mapped(&socket_unit.one("ListenStream"), &host);
    assert_eq!(Path::new(&socket), host.socket());
    let service = Unit::contrib("system/apisec-agent.service");
    let user = mapped(&service.one("User"), &host);
    let group = mapped(&service.one("Group"), &host);
    let extra = mapped(&service.one("SupplementaryGroups"), &host);
    let exec_start = command_line(&mapped(&service.one("ExecStart"), &host), &host.programs);
    assert_eq!(
        exec_start[1..],
        ["--config", &host.config().display().to_string(), "run"],
        "{exec_start:?}"
    );

    let mut activate = Command::new("systemd-socket-activate");
    activate.env_clear().arg("--listen").arg(&socket);
    for (name, value) in service.environment() {
        activate.arg(format!("--setenv={name}={}", mapped(&value, &host)));
    }
    // SoftHSM's configuration, which a SoftHSM user adds to the unit (its token directory).
    activate.arg(format!(
        "--setenv=SOFTHSM2_CONF={}",
        host.state.join("softhsm2.conf").display()
    ));
    activate
        .arg("--")
        .arg("setpriv")
        .arg(format!("--reuid={user}"))
        .arg(format!("--regid={group}"))
        .arg(format!("--groups={extra}"))
        .args(["--inh-caps=-all", "--bounding-set=-all", "--"])
        .args(&exec_start)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&host.log).unwrap());
    let _manager = KillOnDrop(activate.spawn().expect("systemd-socket-activate"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Path::new(&socket).exists() {
        assert!(
            Instant::now() < deadline,
            "the helper did not bind {socket}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // What systemd does after binding: SocketUser=, SocketGroup=, SocketMode=.
    let (uid, gid) = (
        uid_of(&mapped(&socket_unit.one("SocketUser"), &host)),
        gid_of(&mapped(&socket_unit.one("SocketGroup"), &host)),
    );
    std::os::unix::fs::chown(&socket, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(
        &socket,
        fs::Permissions::from_mode(mode(&socket_unit.one("SocketMode"))),
    )
    .unwrap();

    // The bot's first connection starts the agent as its user; an admin approves the unlock.
    wait_for_socket(&host.socket(), &host);
    let unlock = host.spawn_unlock(&bot, "bot-bg");
    let (listed, id) = host.waiting_approval(&admin);
    assert!(listed.contains("unlock bot-bg (bitget)"), "{listed}");
    assert_ok(&host.cli(&admin, &["approve", &id]), "approve as the admin");
    let out = unlock.wait_with_output().unwrap();
    assert!(out.status.success(), "unlock: {}", stderr(&out));

    // The agent runs as the unit's user, with its groups, and signs for the bot.
    let log = fs::read_to_string(&host.log).unwrap();
    assert!(
        log.contains("socket activation: using the listening socket passed as fd 3"),
        "{log}"
    );
    let pid: u32 = log
        .lines()
        .find_map(|l| l.split("(pid ").nth(1))
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in the log:\n{log}"));
    let proc_status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        proc_status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(field("Uid:")[0], uid_of(&host.agent).to_string());
    assert!(
        field("Groups:").contains(&gid_of(&host.group).to_string()),
        "{proc_status}"
    );
    assert_eq!(field("CapEff:")[0], "0000000000000000");
    let out = host.cli(
        &bot,
        &[
            "sign",
            "bot-bg",
            "--method",
            "GET",
            "--path",
            "/api/v2/spot/account/assets",
        ],
    );
    assert_ok(&out, "sign as the bot");
    let headers = parse_headers(&stdout(&out));
    let stamp = header(&headers, "ACCESS-TIMESTAMP");
    assert_eq!(
        header(&headers, "ACCESS-SIGN"),
        bitget_sign(SECRET, &format!("{stamp}GET/api/v2/spot/account/assets"))
    );
}
