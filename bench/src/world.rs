//! The bench's world: a SoftHSM token, 1,000 sealed Bitget secrets, the real agent process, the
//! echo server process, and the clients that measure them.

use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apisec_agent::client::Client;
use apisec_agent::proto::{ApisecRequest, SignRequest};
use apisec_agent::store::{entry, EntryMeta, SecretMaterial, Store};
use apisec_tests::Env;

use crate::echo;
use crate::procstat::{self, PerRequest, ProcSample};
use crate::stats::Samples;

/// A typical Bitget spot order.
pub const ORDER_PATH: &str = "/api/v2/spot/trade/place-order";
pub const ORDER_BODY: &str = r#"{"symbol":"BTCUSDT","side":"buy","orderType":"limit","force":"gtc","price":"23222.5","size":"0.01","clientOid":"bench-0001"}"#;

pub fn name(i: usize) -> String {
    format!("s{i:04}")
}

pub fn secret(i: usize) -> String {
    format!("bench-secret-{i:04}-0123456789abcdef")
}

pub fn sign_request(name: &str) -> SignRequest {
    SignRequest {
        name: name.to_owned(),
        method: "POST".into(),
        path: ORDER_PATH.into(),
        query: String::new(),
        body: ORDER_BODY.as_bytes().to_vec(),
        timestamp: String::new(),
        nonce: String::new(),
        ..Default::default()
    }
}

pub fn sign_request_frame() -> Vec<u8> {
    sign_request_frame_for(&name(0))
}

pub fn sign_request_frame_for(name: &str) -> Vec<u8> {
    ApisecRequest::Sign(sign_request(name)).to_frame()
}

/// (b) and (c) measured together: round trips to each echo server and to the agent alternate,
/// one after the other, so all of them see the same state of the machine (on a VM the wake-up
/// latency of an idle core dominates a round trip and drifts between runs). The order rotates
/// every round, so that no server always follows the same one.
pub fn interleaved_latency(
    echoes: &[&EchoServer],
    agent: &AgentProc,
    n: usize,
) -> Result<(Vec<Samples>, Samples), String> {
    let request = sign_request_frame_for(&name(0));
    let connect = |p: &std::path::Path| UnixStream::connect(p).map_err(|e| e.to_string());
    // The agent is the last one: index echoes.len().
    let mut streams = echoes
        .iter()
        .map(|e| connect(&e.sock))
        .collect::<Result<Vec<_>, _>>()?;
    streams.push(connect(&agent.sock)?);
    let k = streams.len();
    let mut reply = Vec::new();
    let mut samples = vec![Samples::default(); k];
    for round in 0..n + 1000 {
        for step in 0..k {
            let which = (round + step) % k;
            let stream = &mut streams[which];
            let t = Instant::now();
            if which == k - 1 {
                signed_roundtrip(stream, &request, &mut reply)?;
            } else {
                echo::roundtrip(stream, &request, &mut reply).map_err(|e| e.to_string())?;
            }
            if round >= 1000 {
                samples[which].0.push(t.elapsed());
            }
        }
    }
    let agent_samples = samples.pop().expect("the agent's samples");
    Ok((samples, agent_samples))
}

/// One raw round trip with the agent; anything but a signature reply is an error.
fn signed_roundtrip(s: &mut UnixStream, request: &[u8], reply: &mut Vec<u8>) -> Result<(), String> {
    echo::roundtrip(s, request, reply).map_err(|e| e.to_string())?;
    if reply.first() != Some(&29) {
        return Err(format!(
            "the agent refused a sign request: {}",
            String::from_utf8_lossy(reply)
        ));
    }
    Ok(())
}

/// (a): the Bitget preset signing in-process, ns per signature.
pub fn in_process_sign_ns(n: usize) -> f64 {
    use apisec_agent::sign::{exchanges, Credentials, HttpRequest, Preset, Stamp};
    let key = secret(0);
    let creds = Credentials {
        api_key: "bg_key",
        secret: key.as_bytes(),
        passphrase: Some(b"passphrase"),
        signer: None,
        mac: None,
    };
    let req = HttpRequest {
        method: "POST".into(),
        path: ORDER_PATH.into(),
        query: String::new(),
        body: ORDER_BODY.as_bytes().to_vec(),
        ..Default::default()
    };
    let stamp = Stamp {
        timestamp: "1700000000000".into(),
        nonce: None,
    };
    let p = exchanges::Bitget;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(p.sign(std::hint::black_box(&req), &creds, &stamp).unwrap());
    }
    t.elapsed().as_secs_f64() * 1e9 / n as f64
}

pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

pub struct World {
    pub env: Env,
}

impl World {
    /// A token and `n` sealed secrets (sealed through the library: 1,000 `add` processes would
    /// measure process start-up, not the agent).
    pub fn new(n: usize) -> Result<Self, String> {
        if std::env::var_os("APISEC_BIN_DIR").is_none() {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            std::env::set_var("APISEC_BIN_DIR", exe.parent().ok_or("no exe dir")?);
        }
        let env = Env::new();
        env.init();
        let config = apisec_agent::config::ConfigFile::load(&env.config)
            .and_then(|c| c.validate(&env.config))
            .map_err(|e| e.to_string())?;
        let store = Store::new(env.store_dir());
        for i in 0..n {
            let meta = EntryMeta {
                name: name(i),
                exchange: "bitget".into(),
                api_key: format!("bg_key_{i}"),
                created: "2026-01-01T00:00:00Z".into(),
                expires: None,
                allow_raw: false,
                freshness: "5s".into(),
                key_type: "hmac".into(),
                token_key: None,
                public_key: None,
                token_copies: Vec::new(),
                policy: apisec_agent::policy::Policy::standard(),
            };
            let s = secret(i);
            let file = entry::seal(
                &meta,
                &SecretMaterial {
                    secret: s.as_bytes(),
                    passphrase: Some(b"passphrase"),
                },
                &config.seal_to(),
            )
            .map_err(|e| e.to_string())?;
            store.create(&file).map_err(|e| e.to_string())?;
        }
        Ok(Self { env })
    }

    /// Median time from spawning `apisec-agent run` to its socket accepting a connection.
    pub fn startup_ms(&self, runs: usize) -> Result<f64, String> {
        let mut times = Vec::new();
        for i in 0..runs {
            let sock = self.env.root().join(format!("run/startup-{i}.sock"));
            let t = Instant::now();
            let mut child = self
                .env
                .agent_cmd()
                .args(["run", "--insecure-auto-approve", "--socket"])
                .arg(&sock)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| e.to_string())?;
            while UnixStream::connect(&sock).is_err() {
                if t.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    return Err("the agent did not start within 10 s".into());
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            times.push(t.elapsed().as_secs_f64() * 1e3);
            let _ = child.kill();
            let _ = child.wait();
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        Ok(times[times.len() / 2])
    }

    pub fn start_agent(&self) -> Result<AgentProc, String> {
        let sock = self.env.socket.clone();
        let log = std::fs::File::create(self.env.root().join("bench-agent.log"))
            .map_err(|e| e.to_string())?;
        let child = self
            .env
            .agent_cmd()
            .args(["run", "--insecure-auto-approve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| e.to_string())?;
        let t = Instant::now();
        while UnixStream::connect(&sock).is_err() {
            if t.elapsed() > Duration::from_secs(10) {
                return Err("the agent did not start".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(AgentProc { child, sock })
    }
}

pub struct AgentProc {
    child: Child,
    pub sock: std::path::PathBuf,
}

impl AgentProc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn client(&self) -> Result<Client, String> {
        Client::connect(&self.sock).map_err(|e| e.to_string())
    }

    pub fn unlock(&self, names: &[String]) -> Result<(), String> {
        self.client()?
            .unlock(names, |_| {})
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// (d): the same clients as the echo's, each on its own secret.
    pub fn sign_throughput(&self, clients: usize, dur: Duration) -> Result<Throughput, String> {
        self.sign_throughput_with(clients, dur, |i| name(i % 1000))
    }

    /// [`AgentProc::sign_throughput`], client `i` signing with the secret `secret(i)`.
    pub fn sign_throughput_with(
        &self,
        clients: usize,
        dur: Duration,
        secret: fn(usize) -> String,
    ) -> Result<Throughput, String> {
        let sock = self.sock.clone();
        throughput(clients, dur, self.pid(), move |i| {
            let mut s = UnixStream::connect(&sock).map_err(|e| e.to_string())?;
            let request = sign_request_frame_for(&secret(i));
            let mut reply = Vec::new();
            Ok(Box::new(move || {
                signed_roundtrip(&mut s, &request, &mut reply)
            }))
        })
    }

    pub fn stop(&mut self) {
        if let Ok(mut c) = self.client() {
            let _ = c.shutdown();
        }
        let _ = self.child.wait();
    }
}

type Op = Box<dyn FnMut() -> Result<(), String> + Send>;

/// A throughput phase: requests per second, every round trip's time, and what each request cost
/// the server process.
pub struct Throughput {
    pub rps: f64,
    pub latency: Samples,
    pub server: Option<PerRequest>,
}

/// Requests per second of `clients` threads, each running its own op until `dur` is over, and the
/// CPU time and context switches of the server `server_pid` per request over the same interval.
pub fn throughput(
    clients: usize,
    dur: Duration,
    server_pid: u32,
    make: impl Fn(usize) -> Result<Op, String> + Send + Sync + 'static,
) -> Result<Throughput, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let make = Arc::new(make);
    let mut handles = Vec::new();
    for i in 0..clients {
        let (stop, count, make) = (Arc::clone(&stop), Arc::clone(&count), Arc::clone(&make));
        handles.push(std::thread::spawn(move || -> Result<Samples, String> {
            let mut op = make(i)?;
            let mut n = 0u64;
            let mut latency = Samples::default();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                op()?;
                latency.0.push(t.elapsed());
                n += 1;
            }
            count.fetch_add(n, Ordering::Relaxed);
            Ok(latency)
        }));
    }
    let t = Instant::now();
    let before = ProcSample::read(server_pid);
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    let mut latency = Samples::default();
    for h in handles {
        latency.extend(
            h.join()
                .map_err(|_| "a client thread panicked".to_owned())??,
        );
    }
    let after = ProcSample::read(server_pid);
    let requests = count.load(Ordering::Relaxed) as f64;
    Ok(Throughput {
        rps: requests / t.elapsed().as_secs_f64(),
        latency,
        server: before
            .zip(after)
            .map(|(b, a)| procstat::per_request(b, a, requests)),
    })
}

/// The size of a sign reply frame, so the echo answers with as many bytes.
pub fn sign_reply_size(agent: &AgentProc) -> Result<usize, String> {
    let mut s = UnixStream::connect(&agent.sock).map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    echo::roundtrip(&mut s, &sign_request_frame(), &mut reply).map_err(|e| e.to_string())?;
    if reply.first() != Some(&29) {
        return Err(format!(
            "the agent refused the bench's sign request: {}",
            String::from_utf8_lossy(&reply)
        ));
    }
    Ok(reply.len())
}

pub struct EchoServer {
    child: Child,
    pub sock: std::path::PathBuf,
}

impl EchoServer {
    pub fn start(world: &World, reply_size: usize, kind: &str) -> Result<Self, String> {
        let sock = world.env.root().join(format!("run/echo-{kind}.sock"));
        let child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .arg("--echo-server")
            .arg(&sock)
            .arg("--reply-size")
            .arg(reply_size.to_string())
            .arg("--echo-kind")
            .arg(kind)
            .spawn()
            .map_err(|e| e.to_string())?;
        let t = Instant::now();
        while UnixStream::connect(&sock).is_err() {
            if t.elapsed() > Duration::from_secs(5) {
                return Err("the echo server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Self { child, sock })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn throughput(
        &self,
        request: &[u8],
        clients: usize,
        dur: Duration,
    ) -> Result<Throughput, String> {
        let sock = self.sock.clone();
        let request = request.to_vec();
        throughput(clients, dur, self.child.id(), move |_| {
            let mut s = UnixStream::connect(&sock).map_err(|e| e.to_string())?;
            let request = request.clone();
            let mut reply = Vec::new();
            Ok(Box::new(move || {
                echo::roundtrip(&mut s, &request, &mut reply).map_err(|e| e.to_string())
            }))
        })
    }
}

/// However the bench ends (an error, a profile run), no agent is left running.
impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
