//! (g) Secrets held on the token (`add --in-token`) on SoftHSM: the agent's sign throughput and
//! round trip with 1 and 8 clients, each client on its own in-token secret, beside a bare loop of
//! `C_Sign` (`CKM_SHA256_HMAC`) on the same token with the same number of threads, each on a
//! session of its own, over the bytes a Bitget order signs: what the token itself can do, the
//! ceiling the agent is measured against (target: at least 0.7x).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apisec_agent::token::pkcs11;
use cryptoki::mechanism::Mechanism;

use crate::stats::Samples;
use crate::world::{AgentProc, Throughput, World, ORDER_BODY, ORDER_PATH};

/// The names of the in-token secrets, one per client.
pub fn name(i: usize) -> String {
    format!("t{i}")
}

const CLIENTS: usize = 8;

/// Adds `CLIENTS` Bitget secrets with `--in-token` (through `apisec-agent add`, as a user does).
pub fn add_secrets(world: &World) -> Result<(), String> {
    for i in 0..CLIENTS {
        let secret = format!("{:064x}", 0xb0b0_0000_u64 + i as u64);
        let out = world
            .env
            .secret(&name(i), "bitget")
            .api_key("bg_key")
            .secret_bytes(secret.as_bytes())
            .passphrase(b"passphrase")
            .args(&["--in-token"])
            .add();
        if !out.status.success() {
            return Err(format!(
                "add --in-token: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

/// The agent signing with the in-token secrets, `clients` at once.
pub fn agent_throughput(
    agent: &AgentProc,
    clients: usize,
    dur: Duration,
) -> Result<Throughput, String> {
    agent.sign_throughput_with(clients, dur, name)
}

/// `clients` threads, each on its own logged-in session, looping `C_Sign` with the token's first
/// in-token key, for `dur`.
pub fn bare_c_sign(world: &World, clients: usize, dur: Duration) -> Result<(f64, Samples), String> {
    // The bench process loads SoftHSM itself, with the test token's configuration.
    std::env::set_var("SOFTHSM2_CONF", &world.env.softhsm_conf);
    let spec = pkcs11::Pkcs11Spec {
        module: apisec_tests::softhsm_module(),
        token_label: Some(apisec_tests::TOKEN_LABEL.to_owned()),
        slot_id: None,
        key_label: apisec_tests::KEY_LABEL.to_owned(),
    };
    let ctx = pkcs11::load_module(&spec.module).map_err(|e| e.to_string())?;
    let slot = pkcs11::find_slot(&ctx, &spec).map_err(|e| e.to_string())?;
    let login = ctx.open_rw_session(slot).map_err(|e| e.to_string())?;
    let pin = cryptoki::types::AuthPin::new(apisec_tests::PIN.into());
    pkcs11::login(&ctx, slot, &login, &pin).map_err(|e| e.to_string())?;
    let label = key_label(world, &name(0))?;
    // The bytes a Bitget order signs: timestamp, method, path, body.
    let message = format!("1700000000000POST{ORDER_PATH}{ORDER_BODY}").into_bytes();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for _ in 0..clients {
        let session = ctx.open_ro_session(slot).map_err(|e| e.to_string())?;
        let key = pkcs11::find_hmac_key(&session, &label).map_err(|e| e.to_string())?;
        let (stop, count, message) = (stop.clone(), count.clone(), message.clone());
        threads.push(std::thread::spawn(move || -> Result<Samples, String> {
            let mut latency = Samples::default();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                session
                    .sign(&Mechanism::Sha256Hmac, key, &message)
                    .map_err(|e| e.to_string())?;
                latency.0.push(t.elapsed());
                n += 1;
            }
            count.fetch_add(n, Ordering::Relaxed);
            Ok(latency)
        }));
    }
    let t = Instant::now();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    let mut latency = Samples::default();
    for th in threads {
        latency.extend(th.join().map_err(|_| "a C_Sign thread panicked")??);
    }
    let rps = count.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    drop(login);
    pkcs11::release_module(&spec.module, ctx);
    Ok((rps, latency))
}

/// The label of entry `name`'s key on the token, from its entry file.
fn key_label(world: &World, name: &str) -> Result<String, String> {
    let path = world.env.store_dir().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("token_key = "))
        .map(|v| v.trim_matches('"').to_owned())
        .ok_or_else(|| format!("{} names no token key", path.display()))
}

/// The names `world::name` would not give: the in-token secrets the agent is unlocked with.
pub fn names() -> Vec<String> {
    (0..CLIENTS).map(name).collect()
}
