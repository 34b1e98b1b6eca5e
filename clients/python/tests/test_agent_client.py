"""The Python client against a real agent: results, and each error path mapped to its class."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from apisec_agent import (
    Agent,
    AgentError,
    AgentNotRunning,
    ApprovalDenied,
    BadRequest,
    PolicyRefused,
    SecretNotFound,
    SecretSealed,
    SignError,
)
from apisec_agent.testing import AgentEnv


def bitget_sign(secret: str, prehash: str) -> str:
    mac = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def test_sign_result_matches_bitget_rule(agent: Agent, creds: Dict[str, Any]) -> None:
    c = creds["bitget"]
    r = agent.sign(c.name, "GET", "/api/v2/spot/account/assets", "coin=USDT",
                   timestamp="1700000000000")
    assert list(r.headers)[:4] == ["ACCESS-KEY", "ACCESS-SIGN", "ACCESS-TIMESTAMP",
                                   "ACCESS-PASSPHRASE"]
    assert r.headers["ACCESS-SIGN"] == bitget_sign(
        c.secret, "1700000000000GET/api/v2/spot/account/assets?coin=USDT")
    assert r.query == "coin=USDT" and r.query_additions == {} and r.body is None
    assert r.url("https://api.bitget.com/") == (
        "https://api.bitget.com/api/v2/spot/account/assets?coin=USDT")


def test_kraken_body_is_replaced(agent: Agent, creds: Dict[str, Any]) -> None:
    r = agent.sign(creds["kraken"].name, "POST", "/0/private/Balance", body="asset=XBT",
                   nonce="1616492376594")
    assert r.body == b"nonce=1616492376594&asset=XBT"
    assert r.body_or(b"asset=XBT") == r.body


def test_binance_query_additions(agent: Agent, creds: Dict[str, Any]) -> None:
    r = agent.sign(creds["binance"].name, "GET", "/api/v3/account", "omitZeroBalances=true")
    assert list(r.query_additions) == ["timestamp", "signature"]
    assert r.query.startswith("omitZeroBalances=true&timestamp=")


def test_status_query_and_lock(agent_env: AgentEnv, creds: Dict[str, Any]) -> None:
    # A connection of its own: locking must not disturb the session's shared agent state.
    with Agent(str(agent_env.socket)) as a:
        assert "sign@apisec" in a.query()
        st = a.status()
        assert not st.locked and st.pid > 0
        bg = st.secret(creds["bitget"].name)
        assert bg is not None and bg.unsealed and bg.exchange == "bitget"
        assert bg.api_key == creds["bitget"].api_key
        sealed = st.secret("sealed-t")
        assert sealed is not None and not sealed.unsealed
        # The session's secrets are added with freshness off (to replay documented vectors):
        # the agent says so; the one added with the defaults carries no note.
        assert [n.split(":")[0] for n in bg.weakened_by] == ['freshness = "off"']
        assert sealed.weakened_by == ()


def test_not_running() -> None:
    with pytest.raises(AgentNotRunning, match="cannot reach the agent"):
        Agent("/nonexistent/apisec.sock").status()
    with pytest.raises(AgentNotRunning, match="APISEC_AUTH_SOCK is not set"):
        Agent("").status()


def test_sealed_not_found_sign_and_policy_errors(agent: Agent) -> None:
    with pytest.raises(SecretSealed) as info:
        agent.sign("sealed-t", "GET", "/api/v2/spot/account/assets")
    assert info.value.code == "sealed" and "apisec unlock sealed-t" in info.value.message
    with pytest.raises(SecretNotFound):
        agent.sign("no-such-secret", "GET", "/api/v2/spot/account/assets")
    with pytest.raises(SignError, match="PATCH"):
        agent.sign("bitget-t", "PATCH", "/api/v2/spot/account/assets")
    with pytest.raises(PolicyRefused, match="raw MAC"):
        agent.mac("bitget-t", "hmac-sha256", b"data")
    # The connection stays usable after refusals.
    assert agent.status().pid > 0


def test_oversized_request_is_refused_before_sending(agent: Agent) -> None:
    with pytest.raises(BadRequest, match="frame limit"):
        agent.sign("bitget-t", "POST", "/api/v2/spot/account/assets", body=b"x" * 300_000)
    assert agent.status().pid > 0


def test_threads_share_one_agent(agent: Agent, creds: Dict[str, Any]) -> None:
    c = creds["bitget"]
    failures: List[str] = []

    def work(i: int) -> None:
        for j in range(15):
            ts = str(1700000000000 + i * 100 + j)
            q = f"n={i}-{j}"
            r = agent.sign(c.name, "GET", "/api/v2/spot/account/assets", q, timestamp=ts)
            if r.headers["ACCESS-SIGN"] != bitget_sign(c.secret, f"{ts}GET/api/v2/spot/account/assets?{q}"):
                failures.append(q)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


@pytest.fixture(scope="module")
def denying_env() -> Iterator[AgentEnv]:
    """A second agent whose approver exits 1."""
    env = AgentEnv()
    try:
        env.init()
        env.add("bg", "bitget", "k", b"denied-secret", b"p")
        env.set_approver("deny")
        env.start()
        yield env
    finally:
        env.close()


def test_denied_unlock_and_progress(denying_env: AgentEnv) -> None:
    lines: List[str] = []
    with Agent(str(denying_env.socket)) as a:
        with pytest.raises(ApprovalDenied) as info:
            a.unlock("bg", on_progress=lines.append)
        assert info.value.code == "denied"
        assert lines and lines[0].startswith("waiting for approval: unlock bg (bitget)")
        with pytest.raises(SecretSealed):
            a.sign("bg", "GET", "/api/v2/spot/account/assets")


def test_reconnects_after_agent_restart(denying_env: AgentEnv) -> None:
    a = Agent(str(denying_env.socket))
    first = a.status().pid
    denying_env.stop()
    with pytest.raises(AgentNotRunning):
        a.status()
    denying_env.start()
    assert a.status().pid != first  # same Agent object, new connection
    a.close()


def test_socket_path_from_environment(agent_env: AgentEnv, monkeypatch: Any) -> None:
    monkeypatch.setenv("APISEC_AUTH_SOCK", str(agent_env.socket))
    with Agent() as a:
        assert a.sock_path == str(agent_env.socket) and a.status().pid > 0


def test_unlock_returns_forget_times(agent_env: AgentEnv, creds: Dict[str, Any]) -> None:
    with Agent(str(agent_env.socket)) as a:
        assert a.unlock(creds["bitget"].name) == {creds["bitget"].name: 0}
    assert Path(agent_env.socket).exists()


def test_an_admin_answers_approvals_over_the_socket() -> None:
    """`[approval] over_socket = true`: an unlock waits (the approver hangs) until this client,
    the agent's own uid, lists it and approves it; a denial refuses the next one."""
    env = AgentEnv()
    try:
        env.init()
        env.add("bg", "bitget", "k", b"socket-approved", b"p")
        config = env.home / ".config/apisec/config.toml"
        config.write_text(config.read_text() + "\n[approval]\nover_socket = true\n")
        env.set_approver("hang")
        env.start()
        results: List[object] = []

        def unlock() -> None:
            with Agent(str(env.socket)) as a:
                try:
                    results.append(a.unlock("bg"))
                except AgentError as e:
                    results.append(e)

        for answer in ("approve", "deny"):
            t = threading.Thread(target=unlock)
            t.start()
            with Agent(str(env.socket)) as admin:
                deadline = time.monotonic() + 20
                waiting = admin.approvals()
                while not waiting:
                    assert time.monotonic() < deadline, "nothing waited"
                    time.sleep(0.05)
                    waiting = admin.approvals()
                assert "unlock bg (bitget)" in waiting[0].line
                assert "apisec-agent asks for approval" in waiting[0].prompt
                getattr(admin, answer)(waiting[0].id)
            t.join(20)
            if answer == "approve":
                assert isinstance(results[-1], dict) and "bg" in results[-1], results
                with Agent(str(env.socket)) as a:
                    a.lock()
            else:
                assert isinstance(results[-1], ApprovalDenied), results
    finally:
        env.close()


class SilentAgent:
    """A socket that takes requests and answers with the frames it is given, then nothing."""

    def __init__(self, tmp: Path, frames: List[bytes]) -> None:
        import socket as s

        self.path = str(tmp / "silent.sock")
        self.server = s.socket(s.AF_UNIX, s.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(1)
        self.frames = frames
        self.conns: List[Any] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        self.conns.append(conn)
        conn.recv(65536)
        for f in self.frames:
            conn.sendall(f)


def test_a_silent_agent_is_a_client_timeout_within_the_timeout(tmp_path: Path) -> None:
    """The timeouts are the kernel's (SO_RCVTIMEO): a reply that never comes ends the call at
    its timeout, and one that stops after a progress frame too, the deadline counting from the
    request, not from the last frame."""
    from apisec_agent import ClientTimeout
    from apisec_agent import _wire as wire

    silent = SilentAgent(tmp_path, [])
    agent = Agent(silent.path, timeout=0.4)
    start = time.monotonic()
    with pytest.raises(ClientTimeout, match="within 0.4 s"):
        agent.sign("x", "GET", "/p")
    assert 0.35 < time.monotonic() - start < 2.0
    assert agent._conn is None  # dropped: a late reply must not answer the next request

    progress = wire.frame(wire.SSH_AGENT_EXTENSION_RESPONSE,
                          wire.text(wire.PROGRESS) + wire.text("waiting for approval"))
    sub = tmp_path / "p"
    sub.mkdir()
    talking = SilentAgent(sub, [progress, progress])
    lines: List[str] = []
    agent = Agent(talking.path, unlock_timeout=0.6)
    start = time.monotonic()
    with pytest.raises(ClientTimeout):
        agent.unlock("x", on_progress=lines.append)
    assert 0.5 < time.monotonic() - start < 2.0
    assert lines == ["waiting for approval"] * 2
