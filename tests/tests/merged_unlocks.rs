//! Unlocks under load: every request waiting to unseal the same secret shares one approval (one
//! approver run, one prompt naming every requester); a requester hanging up leaves the others
//! waiting; approver programs running at once are capped, and so are the approvals one uid may
//! have waiting.

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use apisec_tests::*;

const SECRET: &[u8] = b"merged-unlock-secret-0303";

fn env_with(names: &[&str], config: &str) -> Env {
    let mut env = Env::new();
    env.init();
    if !config.is_empty() {
        let text = std::fs::read_to_string(&env.config).unwrap();
        std::fs::write(&env.config, format!("{text}\n{config}\n")).unwrap();
    }
    for name in names {
        env.add_bitget(name, SECRET);
    }
    env.start(&["--approval-timeout", "60s"]);
    env
}

fn unlock_on(env: &Env, names: &[&str]) -> Result<(), String> {
    let mut c = apisec_agent::client::Client::connect(&env.socket).map_err(|e| e.to_string())?;
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    c.unlock(&names, |_| {})
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The raw `unlock@apisec` request for `name` (flags 1: progress lines wanted).
fn unlock_frame(name: &str) -> Vec<u8> {
    let mut details = vec![0, 0, 0, 1, 0, 0, 0, 1];
    details.extend((name.len() as u32).to_be_bytes());
    details.extend(name.as_bytes());
    frames::extension("unlock@apisec", &details)
}

#[test]
fn three_hundred_concurrent_unlocks_of_one_secret_run_one_approver_and_all_succeed() {
    const N: usize = 300;
    // One uid holds the 300 connections: more than the default cap of 128 per uid.
    let env = env_with(&["bg"], "[agent]\nmax_connections_per_uid = 400");
    env.set_approver("sleep 2");
    // Every connection is made first, so that the 300 requests arrive together.
    let barrier = Arc::new(Barrier::new(N));
    let env = Arc::new(env);
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let (env, barrier) = (Arc::clone(&env), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut c = apisec_agent::client::Client::connect(&env.socket).unwrap();
                barrier.wait();
                c.unlock(&["bg".to_owned()], |_| {})
                    .map(|r| r.unlocked.len())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        failed[0]
    );
    let runs = env.approver_log();
    assert_eq!(runs.lines().count(), 1, "one approver run:\n{runs}");
    // The prompt says how many requests the approval answers; all of them came from this
    // process, listed once with its count.
    let line = runs.lines().next().unwrap();
    let more: usize = line
        .split("and ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the prompt names no other requests: {line}"));
    assert!((1..N).contains(&more), "{line}");
    let stdin = env.approver_stdin();
    assert!(
        stdin.contains(&format!(
            "also waiting for this unseal ({more} more requests):"
        )) && stdin.contains(&format!(", {more} requests\n")),
        "{stdin}"
    );
    // Every requester has its own audit record of the one approved unseal.
    let unlocks = |rs: &[serde_json::Value]| {
        rs.iter()
            .filter(|r| r["action"] == "unlock" && r["decision"] == "allowed")
            .count()
    };
    let records = env.audit_when(|rs| unlocks(rs) >= N);
    assert_eq!(unlocks(&records), N);
}

#[test]
fn a_requester_that_hangs_up_leaves_the_others_waiting_and_the_last_one_cancels() {
    let env = env_with(&["bg"], "");
    env.set_approver("sleep 3");
    let mut first = env.connect();
    first.write_all(&unlock_frame("bg")).unwrap();
    wait_until(
        Duration::from_secs(10),
        || (!env.approver_log().is_empty()).then_some(()),
        || "the approver never started".into(),
    );
    let second = {
        let socket = env.socket.clone();
        std::thread::spawn(move || {
            let mut c = apisec_agent::client::Client::connect(&socket).unwrap();
            let mut lines = Vec::new();
            let r = c.unlock(&["bg".to_owned()], |l| lines.push(l.to_owned()));
            (r.map_err(|e| e.to_string()), lines)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    drop(first);
    let (result, lines) = second.join().unwrap();
    assert!(result.is_ok(), "{result:?}: {}", env.log());
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("waiting for approval: unlock bg")),
        "a joiner is told what it waits for: {lines:?}"
    );
    assert_eq!(
        env.approver_log().lines().count(),
        1,
        "{}",
        env.approver_log()
    );

    // Every requester gone before the approval: the approver is killed, nothing is unsealed.
    assert_ok(&env.cli(&["lock", "bg"]), "lock");
    env.set_approver("hang");
    let child_file = env.root().join("approver.child");
    let _ = std::fs::remove_file(&child_file);
    let mut a = env.connect();
    a.write_all(&unlock_frame("bg")).unwrap();
    let mut b = env.connect();
    b.write_all(&unlock_frame("bg")).unwrap();
    let child: i32 = wait_until(
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&child_file)
                .ok()?
                .trim()
                .parse()
                .ok()
        },
        || "the approver never started".into(),
    );
    drop(a);
    std::thread::sleep(Duration::from_millis(300));
    let alive = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap_or_default();
    assert!(
        !alive.is_empty() && !alive.contains("State:\tZ"),
        "one requester still waits: the approval goes on"
    );
    drop(b);
    wait_until(
        Duration::from_secs(10),
        || {
            let s = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap_or_default();
            (s.is_empty() || s.contains("State:\tZ")).then_some(())
        },
        || "the approver outlived every requester".into(),
    );
    assert_eq!(env.approver_log().lines().count(), 2);
    assert_fails_with(&sign_assets(&env, "bg"), 5, "is sealed");
}

/// The scripted approver, counting how many of it run at once in `running/`.
const COUNTING_APPROVER: &str = r#"#!/bin/sh
mkdir -p @DIR@/running
touch @DIR@/running/$$
ls @DIR@/running | wc -l >> @DIR@/concurrent
echo run >> @DIR@/runs
sleep 1
rm -f @DIR@/running/$$
exit 0
"#;

#[test]
fn approver_programs_running_at_once_are_capped_and_the_rest_wait_their_turn() {
    let env = env_with(&["a", "b", "c", "d", "e"], "[approval]\nmax_running = 2");
    let dir = env.root().display().to_string();
    std::fs::write(&env.approver, COUNTING_APPROVER.replace("@DIR@", &dir)).unwrap();
    let env = Arc::new(env);
    let threads: Vec<_> = ["a", "b", "c", "d", "e"]
        .into_iter()
        .map(|name| {
            let env = Arc::clone(&env);
            std::thread::spawn(move || unlock_on(&env, &[name]))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Ok(()));
    }
    let runs = std::fs::read_to_string(env.root().join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 5, "one run per secret");
    let most = std::fs::read_to_string(env.root().join("concurrent"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse::<usize>().unwrap())
        .max()
        .unwrap();
    assert!(most <= 2, "{most} approvers ran at once");
}

#[test]
fn one_uid_cannot_have_more_approvals_waiting_than_its_cap() {
    let env = env_with(&["a", "b", "c"], "[approval]\nmax_waiting_per_uid = 2");
    env.set_approver("hang");
    let mut held = Vec::new();
    for name in ["a", "b"] {
        let mut c = env.connect();
        c.write_all(&unlock_frame(name)).unwrap();
        held.push(c);
    }
    wait_until(
        Duration::from_secs(10),
        || (env.approver_log().lines().count() == 2).then_some(()),
        || format!("two approvers should wait: {}", env.approver_log()),
    );
    let refused = unlock_on(&env, &["c"]).unwrap_err();
    assert!(
        refused.contains("already has 2 requests waiting for approval")
            && refused.contains("max_waiting_per_uid"),
        "{refused}"
    );
    // A request for a secret already waiting joins it: no new approval, so not refused.
    let mut joiner = env.connect();
    joiner.write_all(&unlock_frame("a")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(env.approver_log().lines().count(), 2);
    // Once they are answered (here: abandoned), the uid may ask again.
    drop(held);
    drop(joiner);
    env.set_approver("approve");
    wait_until(
        Duration::from_secs(10),
        || unlock_on(&env, &["c"]).ok(),
        || "the uid's slots were not given back".into(),
    );
}
