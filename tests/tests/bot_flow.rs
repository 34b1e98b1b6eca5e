//! Touch-to-sign bot start-up, end to end, with real processes: the agent on SoftHSM, the local
//! Bitget exchange (examples/local_exchange/server.py) holding the same secret and checking every
//! signature, and the example bot (examples/bot/bot.py) started through
//! `apisec exec --unlock NAME -- ...`, which blocks until the approver says yes.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use apisec_agent::timefmt::unix_millis;
use apisec_tests::*;

const SECRET: &str = "bot-flow-secret-3d1f88a0c4";
const PASSPHRASE: &str = "bot-flow-passphrase";
const API_KEY: &str = "bg_bot_flow";
/// The exchange's freshness window, short so that a stale request is quick to make.
const RECV_WINDOW_S: u64 = 2;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The local exchange, killed on drop.
struct Exchange {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Exchange {
    fn start(env: &Env) -> Self {
        let creds = env.root().join("exchange-creds.json");
        fs::write(
            &creds,
            serde_json::json!({"api_key": API_KEY, "secret": SECRET, "passphrase": PASSPHRASE})
                .to_string(),
        )
        .unwrap();
        let port_file = env.root().join("exchange.port");
        let log = env.root().join("exchange-requests.jsonl");
        let mut child = env
            .command("python3")
            .arg(repo().join("examples/local_exchange/server.py"))
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .arg("--credentials")
            .arg(&creds)
            .arg("--log-file")
            .arg(&log)
            .args(["--recv-window", &RECV_WINDOW_S.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 (the local exchange)");
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Some(p) = fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break p;
            }
            if let Ok(Some(st)) = child.try_wait() {
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("the local exchange exited ({st}): {err}");
            }
            assert!(
                Instant::now() < deadline,
                "the local exchange did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self { child, port, log }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The exchange's request log: one JSON object per request it answered.
    fn requests(&self) -> Vec<serde_json::Value> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ready_env() -> Env {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg-bot", "bitget")
            .api_key(API_KEY)
            .secret_bytes(SECRET.as_bytes())
            .passphrase(PASSPHRASE.as_bytes())
            .add(),
        "add",
    );
    env.start(&[]);
    env
}

/// `apisec exec --unlock bg-bot -- python3 examples/bot/bot.py ...`
fn run_bot(env: &Env, exchange: &Exchange) -> Output {
    let mut cmd = env.cli_cmd();
    cmd.args(["exec", "--unlock", "bg-bot", "--", "python3"])
        .arg(repo().join("examples/bot/bot.py"))
        .args(["--secret", "bg-bot", "--base-url", &exchange.base_url()])
        .env("PYTHONPATH", repo().join("clients/python/src"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run_with_stdin(&mut cmd, b"")
}

#[test]
fn the_bot_waits_for_the_approval_then_every_signed_request_is_accepted() {
    let env = ready_env();
    let exchange = Exchange::start(&env);
    env.set_approver("sleep 3");
    let started = Instant::now();
    let started_ms = unix_millis();
    let out = run_bot(&env, &exchange);
    let took = started.elapsed();
    assert_ok(&out, "the bot");
    // It blocked until the approver answered.
    assert!(took >= Duration::from_secs(3), "returned after {took:?}");
    let err = stderr(&out);
    assert!(
        err.contains("waiting for approval: unlock bg-bot (bitget), asked by apisec"),
        "{err}"
    );
    assert!(err.contains("unlocked bg-bot"), "{err}");
    let said = stdout(&out);
    assert!(said.contains("balance: 10000 USDT available"), "{said}");
    assert!(said.contains("placed: order"), "{said}");
    assert!(said.contains("cancelled: order"), "{said}");

    // The exchange verified every signature and accepted all three; none came before the
    // approval (their agent-stamped timestamps are at least 3 s after the start).
    let requests = exchange.requests();
    let routes: Vec<String> = requests
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            "GET /api/v2/spot/account/assets",
            "POST /api/v2/spot/trade/place-order",
            "POST /api/v2/spot/trade/cancel-order",
        ],
        "{requests:#?}"
    );
    for r in &requests {
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(r["code"], "00000", "{r}");
        assert_eq!(r["key"], API_KEY, "{r}");
        let ts: u64 = r["timestamp"].as_str().unwrap().parse().unwrap();
        assert!(
            ts >= started_ms + 3000,
            "request signed before the approval: {r}"
        );
    }
    // The approver was asked once, for the bot's start-up.
    let asked = env.approver_log();
    assert_eq!(asked.lines().count(), 1, "{asked}");
    assert!(
        asked.starts_with("unlock bg-bot (bitget), asked by apisec"),
        "{asked}"
    );
}

#[test]
fn a_denied_approval_means_the_bot_never_starts() {
    let env = ready_env();
    let exchange = Exchange::start(&env);
    env.set_approver("deny");
    let out = run_bot(&env, &exchange);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("denied the request"), "{err}");
    assert!(
        err.contains("not starting python3: the unlock failed"),
        "{err}"
    );
    assert_eq!(stdout(&out), "", "the bot ran");
    assert!(exchange.requests().is_empty(), "{:?}", exchange.requests());
}

/// One HTTP/1.1 request with the agent's headers; returns (status, body).
fn http_get(port: u16, path_and_query: &str, headers: &[(String, String)]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req =
        format!("GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut reader = BufReader::new(s);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    let body = rest
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("")
        .to_owned();
    (status, body)
}

#[test]
fn the_exchange_checks_signatures_and_rejects_a_stale_timestamp() {
    let env = ready_env();
    assert_ok(&env.cli(&["unlock", "bg-bot"]), "unlock");
    let exchange = Exchange::start(&env);
    let sign = || assert_cli_bitget_get_signs(&env, "bg-bot", SECRET.as_bytes());
    let target = "/api/v2/spot/account/assets?coin=USDT";

    // Fresh: accepted.
    let (status, body) = http_get(exchange.port, target, &sign());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"code\": \"00000\""), "{body}");

    // The same signature for another query: the signature check fails.
    let (status, body) = http_get(
        exchange.port,
        "/api/v2/spot/account/assets?coin=BTC",
        &sign(),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("40009"), "{body}");

    // Correctly signed, but sent after the exchange's window: rejected as expired.
    let stale = sign();
    std::thread::sleep(Duration::from_millis(RECV_WINDOW_S * 1000 + 800));
    let (status, body) = http_get(exchange.port, target, &stale);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("40008"), "{body}");
    assert!(body.contains("Request timestamp expired"), "{body}");

    let codes: Vec<String> = exchange
        .requests()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, ["00000", "40009", "40008"]);
}
