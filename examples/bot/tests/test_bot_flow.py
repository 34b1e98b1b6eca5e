"""The whole flow with real processes: an agent on a fresh SoftHSM token, the secret unlocked
with `apisec unlock` (the scripted approver approves), the local Bitget exchange verifying every
signature, and the bot reading its balance, placing and cancelling an order. Then a signed
request held past the exchange's window is rejected, and a locked secret stops the bot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from apisec_agent import Agent
from apisec_agent.testing import AgentEnv

EXAMPLES = Path(__file__).resolve().parents[2]
API_KEY = "bg_bot_" + os.urandom(4).hex()
SECRET = os.urandom(24).hex()
PASSPHRASE = "bot-pass-" + os.urandom(3).hex()
WINDOW_S = 2.0  # the exchange's timestamp window, short so the stale test waits little


def start_exchange(env: AgentEnv, tag: str, *extra: str) -> Tuple[subprocess.Popen, str, Path]:
    """The local exchange, knowing the bot's key, on a free port: (process, URL, request log)."""
    creds = env.root / f"exchange-creds-{tag}.json"
    creds.write_text(json.dumps({"api_key": API_KEY, "secret": SECRET,
                                 "passphrase": PASSPHRASE}))
    creds.chmod(0o600)
    port_file, log_file = env.root / f"port-{tag}", env.root / f"requests-{tag}.jsonl"
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "local_exchange" / "server.py"), "--port", "0",
         "--port-file", str(port_file), "--credentials", str(creds),
         "--recv-window", str(WINDOW_S), "--log-file", str(log_file), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = server.stdout.readline() if server.stdout else ""
    assert line.startswith("listening on http://127.0.0.1:"), line + server.stderr.read()
    assert port_file.read_text() == line.strip().rsplit(":", 1)[1]
    return server, line.strip().split("listening on ", 1)[1], log_file


@pytest.fixture(scope="module")
def world() -> Iterator[Tuple[AgentEnv, str, Path]]:
    env = AgentEnv()
    servers: List[subprocess.Popen] = []
    try:
        env.init()
        env.add("bg-bot", "bitget", API_KEY, SECRET.encode(), PASSPHRASE.encode())
        env.start()
        env.unlock("bg-bot")
        server, url, log_file = start_exchange(env, "main")
        servers.append(server)
        env.exchanges = servers  # type: ignore[attr-defined]
        yield env, url, log_file
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        env.close()


def exchange_log(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_bot(env: AgentEnv, base_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "bot" / "bot.py"), "--secret", "bg-bot",
         "--base-url", base_url, "--price", "20000", "--size", "0.01"],
        env=env.env(), capture_output=True, text=True, timeout=60,
    )


def test_bot_trades_through_the_agent(world: Tuple[AgentEnv, str, Path]) -> None:
    env, base_url, log_file = world
    before = len(exchange_log(log_file)) if log_file.exists() else 0
    out = run_bot(env, base_url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "balance: 10000 USDT available"
    assert lines[1].startswith("placed: order ") and lines[1].endswith("@ 20000")
    assert lines[2] == "cancelled: order " + lines[1].split()[2]
    for text in (out.stdout, out.stderr):
        assert SECRET not in text and PASSPHRASE not in text
    entries = exchange_log(log_file)[before:]
    assert [(e["method"], e["path"], e["code"]) for e in entries] == [
        ("GET", "/api/v2/spot/account/assets", "00000"),
        ("POST", "/api/v2/spot/trade/place-order", "00000"),
        ("POST", "/api/v2/spot/trade/cancel-order", "00000"),
    ]
    assert all(e["key"] == API_KEY for e in entries)
    # The agent stamped each request with its own clock.
    assert all(abs(int(e["timestamp"]) - time.time() * 1000) < 60_000 for e in entries)


def send(url: str, headers: Dict[str, str]) -> Dict[str, Any]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def test_stale_signed_request_is_rejected(world: Tuple[AgentEnv, str, Path]) -> None:
    env, base_url, _ = world
    with Agent(str(env.socket)) as agent:
        signed = agent.sign("bg-bot", "GET", "/api/v2/spot/account/assets", "coin=USDT")
    assert send(signed.url(base_url), signed.headers)["code"] == "00000"
    time.sleep(WINDOW_S + 0.5)  # held past the exchange's window: a replayed request
    reply = send(signed.url(base_url), signed.headers)
    assert (reply["code"], reply["msg"]) == ("40008", "Request timestamp expired")


def test_tampered_request_is_rejected(world: Tuple[AgentEnv, str, Path]) -> None:
    env, base_url, _ = world
    with Agent(str(env.socket)) as agent:
        signed = agent.sign("bg-bot", "GET", "/api/v2/spot/account/assets", "coin=USDT")
    url = signed.url(base_url).replace("coin=USDT", "coin=BTC")
    assert send(url, signed.headers)["code"] == "40009"


def test_bot_stops_clearly_when_the_secret_is_locked(world: Tuple[AgentEnv, str, Path]) -> None:
    env, base_url, _ = world
    env.check(env.cli("lock", "bg-bot"), "apisec lock")
    try:
        out = run_bot(env, base_url)
        assert out.returncode == 3
        assert "the agent refused" in out.stderr and "apisec unlock bg-bot" in out.stderr
    finally:
        env.unlock("bg-bot")


def test_bot_reports_an_unreachable_exchange(world: Tuple[AgentEnv, str, Path]) -> None:
    env, _, _ = world
    out = run_bot(env, "http://127.0.0.1:9")  # discard port: nothing listens
    assert out.returncode == 1 and "cannot reach the exchange" in out.stderr


def attached_bitget(env: AgentEnv, base_url: str) -> Any:
    import ccxt
    from apisec_agent.ccxt import attach

    ex = ccxt.bitget({"enableRateLimit": False})
    ex.urls["api"] = dict(ex.urls["api"], spot=base_url)
    return attach(ex, "bg-bot", Agent(str(env.socket)))


def test_ccxt_query_values_that_need_encoding_are_accepted(
    world: Tuple[AgentEnv, str, Path]
) -> None:
    """ccxt through the adapter, over real HTTP: the query goes out percent-encoded, the
    exchange checks the decoded form Bitget signs, and accepts it."""
    env, base_url, log_file = world
    ex = attached_bitget(env, base_url)
    reply = ex.private_spot_get_v2_spot_account_assets({"coin": "USDT", "note": "a b/\u20ac"})
    assert reply["code"] == "00000", reply
    assert exchange_log(log_file)[-1]["query"] == "coin=USDT&note=a%20b%2F%E2%82%AC"


def test_a_skewed_clock_is_named_in_ccxts_error(world: Tuple[AgentEnv, str, Path]) -> None:
    """An exchange whose clock is two minutes from the agent's host refuses the agent's
    timestamp: ccxt's error says to check the agent host's clock, not the bot's offset."""
    import ccxt

    env, _, _ = world
    server, url, _ = start_exchange(env, "skewed", "--clock-offset", "120")
    env.exchanges.append(server)  # type: ignore[attr-defined]
    ex = attached_bitget(env, url)
    with pytest.raises(ccxt.InvalidNonce) as e:
        ex.private_spot_get_v2_spot_account_assets({"coin": "USDT"})
    assert "40008" in str(e.value) and "clock of the host the agent runs on" in str(e.value)
