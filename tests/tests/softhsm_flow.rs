//! The main flow on a fresh SoftHSM token, with the real binaries: init --generate, add, run,
//! unlock (approved, denied, timed out), sign for Bitget and Binance checked byte for byte, raw
//! MAC, lock, stop.

use std::time::{Duration, Instant};

use apisec_tests::*;
use base64::Engine;

const SECRET: &[u8] = b"e2e-bitget-secret-7f3a9c";
const PASSPHRASE: &[u8] = b"e2e-passphrase";

#[test]
fn bitget_request_is_signed_as_bitget_documents() {
    let env = Env::ready_with_bitget(SECRET, PASSPHRASE);
    let body = r#"{"symbol":"BTCUSDT","side":"buy","orderType":"limit","force":"gtc","price":"23222.5","size":"1"}"#;
    let body_file = env.root().join("body.json");
    std::fs::write(&body_file, body).unwrap();
    let out = env.cli(&[
        "sign",
        "bg",
        "--method",
        "POST",
        "--path",
        "/api/v2/spot/trade/place-order",
        "--query",
        "",
        "--body",
        body_file.to_str().unwrap(),
    ]);
    assert_ok(&out, "sign");
    let headers = parse_headers(&stdout(&out));
    let ts = header(&headers, "ACCESS-TIMESTAMP");
    // Independent computation of Bitget's rule: base64(HMAC-SHA256(secret, ts + METHOD + path + body)).
    let prehash = format!("{ts}POST/api/v2/spot/trade/place-order{body}");
    assert_eq!(
        header(&headers, "ACCESS-SIGN"),
        bitget_sign(SECRET, &prehash)
    );
    assert_eq!(header(&headers, "ACCESS-KEY"), "bg_test_key");
    assert_eq!(header(&headers, "ACCESS-PASSPHRASE"), "e2e-passphrase");
    // The agent stamped its own clock.
    let now_ms = apisec_agent::timefmt::unix_millis() as i64;
    let stamped: i64 = ts.parse().unwrap();
    assert!(
        (now_ms - stamped).abs() < 10_000,
        "timestamp {stamped} is not now ({now_ms})"
    );

    // GET with a query: the query joins the prehash after '?'.
    assert_cli_bitget_get_signs(&env, "bg", SECRET);
}

/// Binance's published example ("SIGNED Endpoint Examples for POST /api/v3/order - HMAC Keys",
/// Example 1, https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security),
/// replayed through the agent with the documented timestamp on a freshness-off secret.
#[test]
fn binance_published_example_through_the_agent() {
    let mut env = Env::new();
    env.init();
    let secret = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    let key = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    assert_ok(
        &env.secret("bn", "binance")
            .api_key(key)
            .secret_bytes(secret)
            .args(&["--freshness", "off"])
            .add(),
        "add",
    );
    assert_ok(
        &env.secret("bn-live", "binance")
            .api_key(key)
            .secret_bytes(secret)
            .add(),
        "add live",
    );
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bn", "bn-live"]), "unlock");
    let query =
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000";
    let out = env.cli(&[
        "sign",
        "bn",
        "--method",
        "POST",
        "--path",
        "/api/v3/order",
        "--query",
        query,
        "--timestamp",
        "1499827319559",
    ]);
    assert_ok(&out, "sign");
    let text = stdout(&out);
    assert_eq!(
        text,
        format!(
            "X-MBX-APIKEY: {key}\n?{query}&timestamp=1499827319559\
             &signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71\n"
        )
    );

    // On a secret with the default freshness the same old timestamp is refused, clearly.
    let out = env.cli(&[
        "sign",
        "bn-live",
        "--method",
        "POST",
        "--path",
        "/api/v3/order",
        "--query",
        query,
        "--timestamp",
        "1499827319559",
    ]);
    assert_fails_with(&out, 1, "freshness window");

    // Agent-stamped: signature over query + "&timestamp=T" + body, computed independently.
    let out = env.cli(&[
        "sign",
        "bn-live",
        "--method",
        "GET",
        "--path",
        "/api/v3/account",
        "--query",
        "omitZeroBalances=true",
        "--json",
    ]);
    assert_ok(&out, "sign json");
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let ts = v["query_additions"]["timestamp"].as_str().unwrap();
    let signed_part = format!("omitZeroBalances=true&timestamp={ts}");
    let sig = hex::encode(hmac_sha256(secret, signed_part.as_bytes()));
    assert_eq!(v["query_additions"]["signature"], sig);
    assert_eq!(v["query"], format!("{signed_part}&signature={sig}"));
    assert_eq!(
        v["target"],
        format!("/api/v3/account?{signed_part}&signature={sig}")
    );
    assert_eq!(v["headers"]["X-MBX-APIKEY"], key);
}

#[test]
fn raw_mac_needs_allow_raw() {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("plain", "bitget")
            .api_key("k1")
            .secret_bytes(b"plain-secret-1")
            .passphrase(b"p")
            .add(),
        "add plain",
    );
    assert_ok(
        &env.secret("raw", "bitget")
            .api_key("k2")
            .secret_bytes(b"raw-secret-2")
            .passphrase(b"p")
            .args(&["--allow-raw"])
            .add(),
        "add raw",
    );
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "plain", "raw"]), "unlock");
    let out = env.cli_with_stdin(&["mac", "plain", "--alg", "hmac-sha256"], b"anything");
    assert_fails_with(&out, 1, "raw MAC is off");
    let out = env.cli_with_stdin(&["mac", "raw", "--alg", "hmac-sha256"], b"message to sign");
    assert_ok(&out, "mac");
    assert_eq!(
        stdout(&out).trim(),
        hex::encode(hmac_sha256(b"raw-secret-2", b"message to sign"))
    );
    let out = env.cli_with_stdin(
        &["mac", "raw", "--alg", "hmac-sha256", "--encoding", "base64"],
        b"m",
    );
    assert_eq!(
        stdout(&out).trim(),
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(b"raw-secret-2", b"m"))
    );
    let out = env.cli_with_stdin(&["mac", "raw", "--alg", "md5"], b"m");
    assert_fails_with(&out, 1, "unknown MAC algorithm");
}

#[test]
fn lock_forgets_and_sign_then_fails_clearly() {
    let env = Env::ready_with_bitget(SECRET, PASSPHRASE);
    assert_ok(&sign_assets(&env, "bg"), "sign before lock");
    let out = env.cli(&["lock"]);
    assert_ok(&out, "lock");
    assert_eq!(stdout(&out).trim(), "forgot 1 unsealed secret(s)");
    let out = sign_assets(&env, "bg");
    assert_fails_with(
        &out,
        5,
        "is sealed; unlock it first with `apisec unlock bg`",
    );
    let status = stdout(&env.cli(&["status", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["secrets"][0]["name"], "bg");
    assert_eq!(v["secrets"][0]["unsealed"], false);
}

#[test]
fn approver_sees_who_asks_and_a_denial_is_clear() {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .add(),
        "add",
    );
    env.start(&[]);
    env.set_approver("deny");
    let out = env.cli(&["unlock", "bg"]);
    assert_fails_with(&out, 4, "denied the request (exit status 1)");
    // The waiting client was told at once what it waits for.
    assert!(
        stderr(&out).contains("waiting for approval: unlock bg (bitget), asked by apisec"),
        "{}",
        stderr(&out)
    );
    let log = env.approver_log();
    assert!(
        log.starts_with("unlock bg (bitget), asked by apisec (pid "),
        "{log}"
    );
    assert!(
        log.contains("|exe=") && log.contains("apisec|secrets=bg"),
        "{log}"
    );
    let out = sign_assets(&env, "bg");
    assert_fails_with(&out, 5, "is sealed");
    // Approve now: the same secret unlocks.
    env.set_approver("approve");
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock after approve");
}

#[test]
fn hanging_approver_times_out_and_other_clients_are_served_meanwhile() {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .add(),
        "add",
    );
    env.start(&["--approval-timeout", "2s"]);
    env.set_approver("hang");
    let waiting = {
        let mut cmd = env.cli_cmd();
        cmd.args(["unlock", "bg"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    // While that client waits, another is answered at once.
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    assert_ok(&env.cli(&["status"]), "status while another client waits");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "status took {:?}",
        t.elapsed()
    );
    let out = waiting.wait_with_output().unwrap();
    assert_fails_with(&out, 4, "gave no answer within 2 s");
    let out = sign_assets(&env, "bg");
    assert_fails_with(&out, 5, "is sealed");
}

#[test]
fn no_approver_means_unseal_is_refused_with_a_remedy() {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .add(),
        "add",
    );
    env.start_raw(&[]);
    let out = env.cli(&["unlock", "bg"]);
    assert_fails_with(&out, 1, "no approver is configured");
    assert!(
        stderr(&out).contains("--approver PROGRAM"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lifetime_forgets_secrets() {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .add(),
        "add",
    );
    // The lifetime is counted in whole seconds: 3 s leaves the signature below at least 2 s.
    env.start(&["--lifetime", "3s"]);
    let out = env.cli(&["unlock", "bg"]);
    assert_ok(&out, "unlock");
    assert!(
        stdout(&out).contains("unlocked bg (forgotten in 0h00m)"),
        "{}",
        stdout(&out)
    );
    assert_ok(&sign_assets(&env, "bg"), "sign within lifetime");
    env.wait_for_log("lifetime over: forgot bg");
    let out = sign_assets(&env, "bg");
    assert_fails_with(&out, 5, "is sealed");
}

#[test]
fn start_prints_shell_lines_and_stop_removes_the_socket() {
    let env = Env::new();
    env.init();
    let out = env.agent(&["start", "-s", "--approver", env.approver.to_str().unwrap()]);
    assert_ok(&out, "start");
    let text = stdout(&out);
    let sock = env.socket.display().to_string();
    assert!(
        text.starts_with(&format!(
            "APISEC_AUTH_SOCK={sock}; export APISEC_AUTH_SOCK;\nAPISEC_AGENT_PID="
        )),
        "{text}"
    );
    let pid: u32 = text
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("APISEC_AGENT_PID=")
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&env.cli(&["status", "--json"]))).unwrap();
    assert_eq!(status["pid"], pid);
    let out = env.agent(&["start", "-c"]);
    assert_fails_with(&out, 1, "already listening");
    let out = env.agent(&["stop"]);
    assert_ok(&out, "stop");
    assert_eq!(
        stdout(&out).trim(),
        format!("stopped the agent (pid {pid})")
    );
    assert!(!env.socket.exists());
    let out = env.cli(&["status"]);
    assert_fails_with(&out, 3, "cannot reach the agent");
}

#[test]
fn sigterm_shuts_down_cleanly_and_sigusr1_forgets() {
    let mut env = Env::ready_with_bitget(SECRET, PASSPHRASE);
    let pid = env.agent_pid() as i32;
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    env.wait_for_log("SIGUSR1: forgot 1");
    assert_fails_with(&sign_assets(&env, "bg"), 5, "is sealed");
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = env
        .wait_agent_exit(Duration::from_secs(5))
        .expect("agent exits on SIGTERM");
    assert!(status.success(), "{status}");
    assert!(!env.socket.exists(), "socket left behind");
}

#[test]
fn exec_unlocks_then_runs_the_command_with_the_socket_and_refuses_to_start_on_denial() {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .add(),
        "add",
    );
    env.start(&[]);
    let marker = env.root().join("started");
    let script = format!(
        "echo \"$APISEC_AUTH_SOCK\" > {m}; {apisec} sign bg --method GET --path /api/v2/spot/account/assets >> {m}",
        m = marker.display(),
        apisec = binary("apisec").display()
    );
    let mut cmd = env.cli_cmd();
    cmd.env_remove("APISEC_AUTH_SOCK").args([
        "--socket",
        env.socket.to_str().unwrap(),
        "exec",
        "--unlock",
        "bg",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let out = run_with_stdin(&mut cmd, b"");
    assert_ok(&out, "exec");
    // The approver was told which program `exec` would start (its command line, as the
    // client set it).
    let prompt = env.approver_stdin();
    assert!(
        prompt.contains("its command line (as it set it): ")
            && prompt.contains("exec --unlock bg -- sh -c echo"),
        "{prompt}"
    );
    let seen = std::fs::read_to_string(&marker).unwrap();
    assert!(
        seen.starts_with(&format!("{}\n", env.socket.display())),
        "{seen}"
    );
    assert!(seen.contains("ACCESS-SIGN: "), "{seen}");

    // Denied: the command never starts and the status says why.
    std::fs::remove_file(&marker).unwrap();
    env.cli(&["lock"]);
    env.set_approver("deny");
    let out = env.cli(&["exec", "--unlock", "bg", "--", "sh", "-c", &script]);
    assert_fails_with(&out, 4, "not starting sh: the unlock failed");
    assert!(!marker.exists(), "the command ran despite the denial");
    // The command's own exit status comes through; a missing command is 127.
    env.set_approver("approve");
    // Several secrets: the flag repeated or one comma-separated list, both unlocked.
    assert_ok(
        &env.secret("bg2", "bitget")
            .api_key("k2")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .add(),
        "add bg2",
    );
    for unlock in [
        &["--unlock", "bg,bg2"][..],
        &["--unlock", "bg", "--unlock", "bg2"],
    ] {
        env.cli(&["lock"]);
        let mut args = vec!["exec"];
        args.extend_from_slice(unlock);
        args.extend_from_slice(&["--", "true"]);
        assert_ok(&env.cli(&args), "exec with two secrets");
        let status = stdout(&env.cli(&["status"]));
        assert_eq!(
            status.matches("unsealed").count(),
            2,
            "{unlock:?}: {status}"
        );
    }
    assert_eq!(
        env.cli(&["exec", "--", "sh", "-c", "exit 7"]).status.code(),
        Some(7)
    );
    assert_eq!(
        env.cli(&["exec", "--", "/nonexistent/bot"]).status.code(),
        Some(127)
    );
}

#[test]
fn list_keeps_its_columns_with_long_keys_and_exchange_ids() {
    let env = Env::new();
    env.init();
    let long_key = "k".repeat(64); // Binance's API keys are 64 characters
    assert_ok(
        &env.secret("long-name-of-a-bot", "binance")
            .api_key(&long_key)
            .secret_bytes(SECRET)
            .add(),
        "add binance",
    );
    assert_ok(
        &env.secret("kf", "kraken-futures")
            .api_key("short")
            .secret_bytes(
                base64::engine::general_purpose::STANDARD
                    .encode([7u8; 64])
                    .as_bytes(),
            )
            .add(),
        "add kraken-futures",
    );
    let out = stdout(&env.agent(&["list"]));
    let header = out.lines().next().unwrap();
    let column = |line: &str, what: &str| {
        line.find(what)
            .unwrap_or_else(|| panic!("{what} in {line}"))
    };
    for (line, key, exchange) in [
        (
            out.lines().find(|l| l.starts_with("long-name")).unwrap(),
            long_key.as_str(),
            "binance",
        ),
        (
            out.lines().find(|l| l.starts_with("kf ")).unwrap(),
            "short",
            "kraken-futures",
        ),
    ] {
        assert_eq!(column(line, exchange), column(header, "EXCHANGE"), "{out}");
        assert_eq!(column(line, key), column(header, "API KEY"), "{out}");
        assert_eq!(column(line, "no "), column(header, "RAW"), "{out}");
    }
}
