//! The Python client's figures: its sign round trip against bare Python round trips of the same
//! frames, to the echo and to the agent, in one interpreter pinned with the servers.

use std::process::Command;

use crate::world::{secret, AgentProc, EchoServer, World, ORDER_BODY, ORDER_PATH};

/// The Python client's sign round trip, Python's in-process `hmac`, a bare Python round trip of
/// the same frames over the same kind of socket to `echo` (the baseline the client's cost is
/// read against), and the same bare loop against the agent (what the agent adds, with nothing
/// decoded), p50 in microseconds, when python3 is there (the client is pure standard
/// library). The four are measured in turn, round after round, as the Node bench measures its
/// three: measured one block after another, a drift of the machine fell on whichever block it
/// met. The caller pins this process, and so the interpreter, to the servers' core.
pub fn figures(
    _world: &World,
    agent: &AgentProc,
    echo: &EchoServer,
) -> Result<Option<[f64; 4]>, String> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/python/src");
    if !src.exists() {
        return Ok(None);
    }
    let script = format!(
        r#"
import base64, hashlib, hmac, json, time, statistics, socket
from apisec_agent import Agent
from apisec_agent import _wire as wire
a = Agent({sock:?})
body = {body:?}
key = {key:?}.encode()
frame = wire.encode_sign("s0000", "POST", {path:?}, "", body.encode(), "", "")
def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s
def bare(s):
    def once():
        s.sendall(frame)
        head = b""
        while len(head) < 4:
            head += s.recv(4 - len(head))
        n = int.from_bytes(head, "big")
        got = b""
        while len(got) < n:
            got += s.recv(n - len(got))
    return once
def sign():
    a.sign("s0000", "POST", {path:?}, body=body)
def mac():
    base64.b64encode(hmac.new(key, ("1700000000000POST" + {path:?} + body).encode(), hashlib.sha256).digest())
# The echo, the same bare loop against the agent (what the agent itself adds, nothing decoded),
# the client's sign and Python's own hmac, measured in turn: ten rounds of 500 each, so that a
# drift of the machine falls on every kind alike; each p50 is over all of its rounds.
kinds = [bare(connect({echo:?})), bare(connect({sock:?})), sign, mac]
times = [[] for _ in kinds]
pc = time.perf_counter
for f in kinds:
    for _ in range(500): f()
for _ in range(10):
    for f, t in zip(kinds, times):
        for _ in range(500):
            s = pc(); f(); t.append(pc() - s)
x, r, t, h = times
print(json.dumps([statistics.median(t) * 1e6, statistics.median(h) * 1e6, statistics.median(x) * 1e6, statistics.median(r) * 1e6]))
"#,
        echo = echo.sock.display().to_string(),
        sock = agent.sock.display().to_string(),
        body = ORDER_BODY,
        path = ORDER_PATH,
        key = secret(0),
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("PYTHONPATH", src)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the Python measurement failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: Vec<f64> = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(Some([v[0], v[1], v[2], v[3]]))
}
