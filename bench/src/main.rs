//! `apisec-bench`: measures the agent against baselines taken in the same run on the same machine,
//! and reports ratios, never absolute thresholds in a test.
//!
//! ```text
//! cargo build --release --bins && target/release/apisec-bench --json bench.json
//! ```
//!
//! (a) in-process HMAC-SHA256 of a typical Bitget request (the floor); (b) a bare Unix-socket
//! echo with the same framing and message sizes (the transport floor); (c) `sign` through the
//! agent, one client; (d) throughput with 1, 8 and 64 clients against the echo server's; (e) agent
//! RSS idle and with 1,000 unsealed secrets, start-up to the socket accepting; (f) unseal of 1 and
//! of 100 secrets on SoftHSM (approval excluded); `--load`: 64 clients x 10,000 signatures, each
//! one checked; and the Python client's round trip against Python's own `hmac`.

mod echo;
mod load;
mod procstat;
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
        let r = if args.echo_kind == "threads" {
            echo::serve_threads(path, args.reply_size)
        } else {
            echo::serve_tokio(path, args.reply_size)
        };
        r.expect("echo server");
        return;
    }
    if let Err(e) = run(&args) {
        eprintln!("apisec-bench: {e}");
        std::process::exit(1);
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
        return profile(&world, &agent, clients, args.seconds);
    }

    // (b) and (c): latency, one client.
    let request = world::sign_request_frame();
    let reply_size = world::sign_reply_size(&agent)?;
    let echo = world::EchoServer::start(&world, reply_size, "tokio")?;
    let echo_threads = world::EchoServer::start(&world, reply_size, "threads")?;
    let (echo_lat, threads_lat, sign_lat) =
        world::interleaved_latency(&echo, &echo_threads, &agent, args.iterations)?;
    let (e50, e99) = (echo_lat.percentile_us(50.0), echo_lat.percentile_us(99.0));
    let t50 = threads_lat.percentile_us(50.0);
    let (s50, s99) = (sign_lat.percentile_us(50.0), sign_lat.percentile_us(99.0));
    put(
        "echo_p50_us",
        e50,
        "(b) echo (tokio, the agent's I/O) p50",
        "us",
    );
    put("echo_p99_us", e99, "(b) echo (tokio) p99", "us");
    put(
        "echo_threads_p50_us",
        t50,
        "(b') echo (thread per connection) p50",
        "us",
    );
    put("sign_p50_us", s50, "(c) sign round trip p50", "us");
    put("sign_p99_us", s99, "(c) sign round trip p99", "us");
    put(
        "sign_over_echo_p50",
        s50 / e50,
        "(c)/(b) p50 ratio (target <= 1.5)",
        "x",
    );
    put(
        "sign_over_echo_threads_p50",
        s50 / t50,
        "(c)/(b') p50 ratio",
        "x",
    );

    // (d) throughput.
    let dur = Duration::from_secs_f64(args.seconds);
    for clients in [1usize, 8, 64] {
        let e_run = echo.throughput(&request, clients, dur)?;
        let et_run = echo_threads.throughput(&request, clients, dur)?;
        let s_run = agent.sign_throughput(clients, dur)?;
        let (e, et, s) = (e_run.rps, et_run.rps, s_run.rps);
        let c = clients;
        // What each request cost the server process: the figure to compare when a ratio is missed.
        for (key, label, run) in [
            ("echo", "echo (tokio)", &e_run),
            ("echo_threads", "echo (threads)", &et_run),
            ("sign", "agent", &s_run),
        ] {
            if let Some(cost) = run.server {
                put(
                    &format!("{key}_server_cpu_us_per_request_{c}"),
                    cost.cpu_us,
                    &format!("(d) {label} server CPU per request, {c} clients"),
                    "us",
                );
                if key == "echo_threads" {
                    // Its connection threads have exited when the phase is read: their switches
                    // are gone from /proc (their CPU time is not).
                    continue;
                }
                put(
                    &format!("{key}_server_switches_per_request_{c}"),
                    cost.switches,
                    &format!("(d) {label} server context switches per request, {c} clients"),
                    "",
                );
            }
        }
        put(
            &format!("echo_rps_{c}"),
            e,
            &format!("(d) echo (tokio), {c} clients"),
            "req/s",
        );
        put(
            &format!("echo_threads_rps_{c}"),
            et,
            &format!("(d) echo (threads), {c} clients"),
            "req/s",
        );
        put(
            &format!("sign_rps_{c}"),
            s,
            &format!("(d) sign, {c} clients"),
            "req/s",
        );
        put(
            &format!("sign_over_echo_rps_{c}"),
            s / e,
            &format!("(d) sign/echo (tokio) at {c} clients (target >= 0.7 at 8 and 64)"),
            "x",
        );
        put(
            &format!("sign_over_echo_threads_rps_{c}"),
            s / et,
            &format!("(d) sign/echo (threads) at {c} clients"),
            "x",
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

    if let Some((py_sign, py_hmac)) = world::python_figures(&world, &agent)? {
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

/// `--profile-clients N`: the two throughput phases alone, announced with the pid to profile.
fn profile(
    world: &world::World,
    agent: &world::AgentProc,
    clients: usize,
    seconds: f64,
) -> Result<(), String> {
    let reply_size = world::sign_reply_size(agent)?;
    let echo = world::EchoServer::start(world, reply_size, "tokio")?;
    let dur = Duration::from_secs_f64(seconds);
    let pause = || std::thread::sleep(Duration::from_secs(3));
    println!("echo pid {}: starting in 3 s", echo.pid());
    pause();
    let e = echo.throughput(&world::sign_request_frame(), clients, dur)?;
    println!("agent pid {}: starting in 3 s", agent.pid());
    pause();
    let s = agent.sign_throughput(clients, dur)?;
    for (label, run) in [("echo (tokio)", &e), ("agent", &s)] {
        let cost = run.server.map_or(String::new(), |c| {
            format!(
                ", server {:.2} us CPU and {:.2} context switches per request",
                c.cpu_us, c.switches
            )
        });
        println!("{label}: {:.0} req/s{cost}", run.rps);
    }
    Ok(())
}
