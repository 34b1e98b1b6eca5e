//! `apisec-agent audit tail -f`: every line as the agent writes it, across a logrotate-style
//! rotation (rename, then the agent opens a new file at the path), as JSON with `--json`.

use std::io::BufRead;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use apisec_tests::*;

const SECRET: &[u8] = b"tail-secret-6161";

fn sign(env: &Env, path: &str) {
    assert_ok(
        &env.cli(&["sign", "bg", "--method", "GET", "--path", path]),
        "sign",
    );
}

/// The next line `tail -f` printed whose path is `path`.
fn next_for(lines: &mpsc::Receiver<String>, path: &str) -> serde_json::Value {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("tail -f printed no record for {path}"));
        let record: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("--json prints the log's JSON lines ({e}): {line}"));
        if record["path"] == path {
            return record;
        }
    }
}

#[test]
fn tail_follows_the_log_across_rotation() {
    let env = Env::ready_with_bitget(SECRET, b"p");
    let log = env.home.join(".local/state/apisec/audit.jsonl");
    assert!(log.exists(), "{}", log.display());
    let mut child = env
        .agent_cmd()
        .args(["audit", "tail", "-f", "--json", "-n", "1"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _tail = KillOnDrop(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // -n 1: the last line already there (the unlock), then what comes.
    let first: serde_json::Value = serde_json::from_str(
        &lines
            .recv_timeout(Duration::from_secs(15))
            .expect("the last line"),
    )
    .unwrap();
    assert_eq!(first["action"], "unlock", "{first}");

    sign(&env, "/api/v2/spot/account/assets");
    let before = next_for(&lines, "/api/v2/spot/account/assets");

    // logrotate without copytruncate: rename; the agent opens a new file at its next record.
    std::fs::rename(&log, log.with_extension("jsonl.1")).unwrap();
    sign(&env, "/api/v2/spot/account/info");
    let after = next_for(&lines, "/api/v2/spot/account/info");
    assert_eq!(
        after["seq"].as_u64().unwrap(),
        before["seq"].as_u64().unwrap() + 1,
        "the next record, from the new file: {after}"
    );
    assert!(log.exists(), "the agent made the log again");
    sign(&env, "/api/v2/spot/trade/unfilled-orders");
    next_for(&lines, "/api/v2/spot/trade/unfilled-orders");
}
