//! `apisec-bench`: measures the agent against baselines taken in the same run on the same machine,
//! and reports ratios, never absolute thresholds in a test.
//!
//! ```text
//! cargo build --release --bins && target/release/apisec-bench --json bench.json
//! ```
//!
//! (a) in-process HMAC-SHA256 of a typical Bitget request (the floor); (b) Unix-socket echo
//! servers with the same framing and message sizes (the transport floor: a bare one, one reading
//! as the agent does, one thread per connection); (c) `sign` through the agent, one client, with
//! client and servers pinned on one core and then on two; (d) throughput with 1, 8 and 64 clients
//! against the echo servers', and each server's CPU per request; (e) agent
//! RSS idle and with 1,000 unsealed secrets, start-up to the socket accepting; (f) unseal of 1 and
//! of 100 secrets on SoftHSM (approval excluded); `--load`: 64 clients x 10,000 signatures, each
//! one checked; (g) secrets held on the token (`add --in-token`) with 1 and 8 clients against a
//! bare `C_Sign` loop on the same token with as many threads; and the Python client's round trip
//! against Python's own `hmac`.

mod affinity;
mod echo;
mod in_token;
mod load;
mod procstat;
mod python;
mod stats;
mod world;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Map, Value};

#[derive(Parser)]
#[command(
    name = "apisec-bench",
    about = "Measure apisec-agent against in-run baselines"
)]
struct Args {
    /// Write the figures as JSON to FILE
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Round trips per latency measurement
    #[arg(long, default_value_t = 20_000)]
    iterations: usize,
    /// Seconds per throughput measurement
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Also run the load test: 64 clients x 10,000 signatures, each verified
    #[arg(long)]
    load: bool,
    /// For profiling: only the throughput of the tokio echo, then of the agent, with N clients;
    /// prints each server's pid and waits 3 s before each phase (for `perf record -p PID`)
    #[arg(long, value_name = "N")]
    profile_clients: Option<usize>,
    /// Internal: run the echo server on PATH
    #[arg(long, value_name = "PATH", hide = true)]
    echo_server: Option<PathBuf>,
    #[arg(long, default_value_t = 0, hide = true)]
    reply_size: usize,
    /// Internal: which echo server (tokio or threads)
    #[arg(long, default_value = "tokio", hide = true)]
    echo_kind: String,
}

fn main() {
    let args = Args::parse();
    if let Some(path) = &args.echo_server {
        let r = match args.echo_kind.as_str() {
            "threads" => echo::serve_threads(path, args.reply_size),
            "tokio-peek" => echo::serve_tokio_peek(path, args.reply_size),
            _ => echo::serve_tokio(path, args.reply_size),
        };
        r.expect("echo server");
        return;
    }
    if let Err(e) = run(&args) {
        eprintln!("apisec-bench: {e}");
        std::process::exit(1);
    }
}

/// The echo servers the agent is measured against: kind, JSON key, label. `echo` is the floor
/// the targets are set against: a bare server that reads a frame and writes a reply of the sign
/// reply's size, on tokio like the agent. `echo_peek` reads as the agent does (peek, answer, then
/// take the request off the socket; see `apisec_agent::server::request_reader`), so the agent's distance
/// to it is the agent's own work alone. `echo_threads` is the simplest server there is.
const ECHOES: [(&str, &str, &str); 3] = [
    ("tokio", "echo", "bare echo (tokio)"),
    (
        "tokio-peek",
        "echo_peek",
        "echo with the agent's reads (tokio)",
    ),
    ("threads", "echo_threads", "echo (thread per connection)"),
];

/// (b) and (c) for one placement of client and servers.
fn put_latency(
    put: &mut impl FnMut(&str, f64, &str, &str),
    suffix: &str,
    placement: &str,
    echo_lat: &[stats::Samples],
    sign_lat: &stats::Samples,
) {
    let s50 = sign_lat.percentile_us(50.0);
    for ((_, key, label), lat) in ECHOES.iter().zip(echo_lat) {
        for p in [50, 99] {
            put(
                &format!("{key}_p{p}_us{suffix}"),
                lat.percentile_us(p as f64),
                &format!("(b) {label} p{p}, {placement}"),
                "us",
            );
        }
    }
    for p in [50, 99] {
        put(
            &format!("sign_p{p}_us{suffix}"),
            sign_lat.percentile_us(p as f64),
            &format!("(c) sign round trip p{p}, {placement}"),
            "us",
        );
    }
    for ((_, key, label), lat) in ECHOES.iter().zip(echo_lat) {
        let target = if *key == "echo" && suffix.is_empty() {
            " (target <= 1.5)"
        } else {
            ""
        };
        put(
            &format!("sign_over_{key}_p50{suffix}"),
            s50 / lat.percentile_us(50.0),
            &format!("(c)/(b) p50 against the {label}, {placement}{target}"),
            "x",
        );
    }
}

/// What each request of a throughput phase cost the server process: the figure to compare when
/// a ratio is missed.
fn put_cost(
    put: &mut impl FnMut(&str, f64, &str, &str),
    key: &str,
    label: &str,
    clients: usize,
    run: &world::Throughput,
) {
    // Round trips under load: with more busy threads than cores, the tail is how fairly the
    // kernel shares them out as much as the server's own speed (docs/performance.md).
    for p in [50, 99] {
        put(
            &format!("{key}_loaded_p{p}_us_{clients}"),
            run.latency.percentile_us(p as f64),
            &format!("(d) {label}: round trip p{p} under load, {clients} clients"),
            "us",
        );
    }
    let Some(cost) = run.server else { return };
    put(
        &format!("{key}_server_cpu_us_per_request_{clients}"),
        cost.cpu_us,
        &format!("(d) {label}: server CPU per request, {clients} clients"),
        "us",
    );
    // A thread-per-connection server's threads have exited when the phase is read: their
    // switches are gone from /proc (their CPU time is not).
    if key != "echo_threads" {
        put(
            &format!("{key}_server_switches_per_request_{clients}"),
            cost.switches,
            &format!("(d) {label}: server context switches per request, {clients} clients"),
            "",
        );
    }
}

fn run(args: &Args) -> Result<(), String> {
    let mut figures = Map::new();
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut put = |key: &str, value: f64, label: &str, unit: &str| {
        figures.insert(key.to_owned(), json!((value * 100.0).round() / 100.0));
        rows.push((label.to_owned(), format!("{value:.2} {unit}")));
    };

    // (a) the floor: the Bitget preset in-process.
    let hmac_ns = world::in_process_sign_ns(200_000);
    put(
        "hmac_in_process_ns",
        hmac_ns,
        "(a) Bitget HMAC in-process",
        "ns",
    );

    let world = world::World::new(1000)?;
    // (e) start-up and idle RSS.
    let startup_ms = world.startup_ms(5)?;
    put(
        "startup_ms",
        startup_ms,
        "(e) start-up to socket accepting (median of 5)",
        "ms",
    );
    let mut agent = world.start_agent()?;
    put(
        "rss_idle_mib",
        world::rss_mib(agent.pid()),
        "(e) agent RSS idle",
        "MiB",
    );

    // (f) unseal on SoftHSM, approval excluded (the development auto-approver).
    let t = Instant::now();
    agent.unlock(&["s0000".to_owned()])?;
    put(
        "unseal_1_ms",
        t.elapsed().as_secs_f64() * 1e3,
        "(f) unseal 1 secret",
        "ms",
    );
    let hundred: Vec<String> = (1..=100).map(world::name).collect();
    let t = Instant::now();
    agent.unlock(&hundred)?;
    put(
        "unseal_100_ms",
        t.elapsed().as_secs_f64() * 1e3,
        "(f) unseal 100 secrets",
        "ms",
    );
    let rest: Vec<String> = (101..1000).map(world::name).collect();
    agent.unlock(&rest)?;
    put(
        "rss_1000_secrets_mib",
        world::rss_mib(agent.pid()),
        "(e) agent RSS with 1,000 unsealed secrets",
        "MiB",
    );

    if let Some(clients) = args.profile_clients {
        let profiled = profile(&world, &agent, clients, args.seconds);
        agent.stop();
        return profiled;
    }

    // (b) and (c): latency, one client.
    let request = world::sign_request_frame();
    let reply_size = world::sign_reply_size(&agent)?;
    let echoes = ECHOES
        .iter()
        .map(|(kind, _, _)| world::EchoServer::start(&world, reply_size, kind))
        .collect::<Result<Vec<_>, _>>()?;
    let echo_refs: Vec<&world::EchoServer> = echoes.iter().collect();
    let cpus = affinity::cpus();
    let server_cpu = *cpus.last().expect("at least one CPU");
    let mut pids: Vec<u32> = echoes.iter().map(|e| e.pid()).collect();
    pids.push(agent.pid());
    let place = |client: usize, server: usize| -> Result<(), String> {
        affinity::pin(0, &[client])?;
        pids.iter().try_for_each(|&p| affinity::pin(p, &[server]))
    };
    // Back to wherever the scheduler puts them.
    let unpin = || -> Result<(), String> {
        affinity::pin(0, &cpus)?;
        pids.iter().try_for_each(|&p| affinity::pin(p, &cpus))
    };
    // Same core first: the figures the targets are read from (the servers' own costs, without
    // the wake-up of an idle virtual CPU); then client and servers on two cores.
    let mut same_core_sign_p50 = 0.0;
    for (client, server, suffix, placement) in [
        (cpus[0], cpus[0], "", "same core"),
        (cpus[0], server_cpu, "_across_cores", "across cores"),
    ] {
        place(client, server)?;
        let (echo_lat, sign_lat) = world::interleaved_latency(&echo_refs, &agent, args.iterations)?;
        if suffix.is_empty() {
            same_core_sign_p50 = sign_lat.percentile_us(50.0);
        }
        put_latency(&mut put, suffix, placement, &echo_lat, &sign_lat);
    }
    unpin()?;

    // (d) throughput.
    let dur = Duration::from_secs_f64(args.seconds);
    for c in [1usize, 8, 64] {
        let mut runs = Vec::new();
        for echo in &echoes {
            runs.push(echo.throughput(&request, c, dur)?);
        }
        let sign = agent.sign_throughput(c, dur)?;
        put(
            &format!("sign_rps_{c}"),
            sign.rps,
            &format!("(d) sign, {c} clients"),
            "req/s",
        );
        put_cost(&mut put, "sign", "agent", c, &sign);
        for ((_, key, label), run) in ECHOES.iter().zip(&runs) {
            put(
                &format!("{key}_rps_{c}"),
                run.rps,
                &format!("(d) {label}, {c} clients"),
                "req/s",
            );
            put_cost(&mut put, key, label, c, run);
            let target = if *key == "echo" && c > 1 {
                " (target >= 0.7)"
            } else {
                ""
            };
            put(
                &format!("sign_over_{key}_rps_{c}"),
                sign.rps / run.rps,
                &format!("(d) sign / {label}, {c} clients{target}"),
                "x",
            );
            // Fairness: a busy connection must not make the others wait (the tail).
            let target = if *key == "echo" && c == 64 {
                " (target <= 2)"
            } else {
                ""
            };
            put(
                &format!("sign_p99_over_{key}_p99_{c}"),
                sign.latency.percentile_us(99.0) / run.latency.percentile_us(99.0),
                &format!("(d) sign p99 / {label} p99, {c} clients{target}"),
                "x",
            );
        }
    }

    // (g) secrets held on the token, against the token's own C_Sign with as many threads.
    in_token::add_secrets(&world)?;
    agent.unlock(&in_token::names())?;
    for c in [1usize, 8] {
        // One client is a round trip: measured on one core, as (c) is, so that both sides pay
        // for their own work and neither for waking an idle virtual CPU (the bare loop wakes
        // nothing). Eight clients run where the scheduler puts them, as (d).
        if c == 1 {
            place(cpus[0], cpus[0])?;
        }
        let (bare_rps, bare_latency) = in_token::bare_c_sign(&world, c, dur)?;
        let sign = in_token::agent_throughput(&agent, c, dur)?;
        unpin()?;
        if c == 1 {
            // A round trip through the agent is at least its round trip from memory plus the
            // token's MAC: the most the ratio below can reach on this token and machine.
            let c_sign = bare_latency.percentile_us(50.0);
            put(
                "in_token_bound_1",
                c_sign / (same_core_sign_p50 + c_sign),
                "(g) bound, 1 client: bare C_Sign p50 / ((c) sign from memory p50 + bare C_Sign p50)",
                "x",
            );
        }
        put(
            &format!("in_token_sign_rps_{c}"),
            sign.rps,
            &format!("(g) sign with a secret on the token, {c} clients"),
            "req/s",
        );
        put(
            &format!("c_sign_rps_{c}"),
            bare_rps,
            &format!("(g) bare C_Sign (CKM_SHA256_HMAC) on the token, {c} threads"),
            "req/s",
        );
        put(
            &format!("in_token_over_c_sign_rps_{c}"),
            sign.rps / bare_rps,
            &format!("(g) sign on the token / bare C_Sign, {c} clients (target >= 0.7)"),
            "x",
        );
        put(
            &format!("in_token_sign_p50_us_{c}"),
            sign.latency.percentile_us(50.0),
            &format!("(g) sign with a secret on the token p50, {c} clients"),
            "us",
        );
        put(
            &format!("c_sign_p50_us_{c}"),
            bare_latency.percentile_us(50.0),
            &format!("(g) bare C_Sign p50, {c} threads"),
            "us",
        );
    }

    if args.load {
        let report = load::run(&agent, 64, 10_000)?;
        put(
            "load_signatures",
            report.total as f64,
            "load: signatures",
            "",
        );
        put("load_errors", report.errors as f64, "load: errors", "");
        put(
            "load_wrong_signatures",
            report.wrong as f64,
            "load: wrong signatures",
            "",
        );
        put(
            "load_p99_us",
            report.latency.percentile_us(99.0),
            "load: p99",
            "us",
        );
        put("load_rps", report.rps, "load: throughput", "req/s");
    }

    // Python on the servers' core, as the same-core figures above.
    place(cpus[0], cpus[0])?;
    if let Some([py_sign, py_hmac, py_echo, py_raw]) = python::figures(&world, &agent, &echoes[0])?
    {
        put(
            "python_sign_p50_us",
            py_sign,
            "Python client sign p50",
            "us",
        );
        put(
            "python_hmac_p50_us",
            py_hmac,
            "Python hmac in-process p50",
            "us",
        );
        put(
            "python_echo_p50_us",
            py_echo,
            "Python bare round trip to the echo (same frames) p50",
            "us",
        );
        put(
            "python_raw_sign_p50_us",
            py_raw,
            "Python bare round trip to the agent (same frames, nothing decoded) p50",
            "us",
        );
        put(
            "python_sign_over_echo",
            py_sign / py_echo,
            "Python client sign p50 / Python bare round trip p50 (target <= 1.5)",
            "x",
        );
        // With a client that cost nothing, the ratio would be this: the agent's own work.
        put(
            "python_bound",
            py_raw / py_echo,
            "Python bound: bare round trip to the agent / to the echo",
            "x",
        );
    }
    agent.stop();

    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in &rows {
        println!("{label:<width$}  {value}");
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&Value::Object(figures)).expect("json");
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `--profile-clients N`: the throughput phases alone (the two tokio echoes, then the agent), each
/// announced with the pid to profile.
fn profile(
    world: &world::World,
    agent: &world::AgentProc,
    clients: usize,
    seconds: f64,
) -> Result<(), String> {
    let reply_size = world::sign_reply_size(agent)?;
    let dur = Duration::from_secs_f64(seconds);
    let announce = |what: &str, pid: u32| {
        println!("{what} pid {pid}: starting in 3 s");
        std::thread::sleep(Duration::from_secs(3));
    };
    let mut results = Vec::new();
    for (kind, _, label) in &ECHOES[..2] {
        let echo = world::EchoServer::start(world, reply_size, kind)?;
        announce(kind, echo.pid());
        results.push((
            *label,
            echo.throughput(&world::sign_request_frame(), clients, dur)?,
        ));
    }
    announce("agent", agent.pid());
    results.push(("agent", agent.sign_throughput(clients, dur)?));
    for (label, run) in &results {
        let cost = run.server.map_or(String::new(), |c| {
            format!(
                ", server {:.2} us CPU and {:.2} context switches per request",
                c.cpu_us, c.switches
            )
        });
        println!(
            "{label}: {:.0} req/s, round trip p50 {:.1} us p99 {:.1} us{cost}",
            run.rps,
            run.latency.percentile_us(50.0),
            run.latency.percentile_us(99.0)
        );
    }
    Ok(())
}
