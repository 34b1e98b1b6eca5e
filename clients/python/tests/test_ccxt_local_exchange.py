"""ccxt, attached to a real agent, talking to the local Bitget exchange over real HTTP and
WebSocket: sync, async_support and ccxt.pro. The exchange verifies every signature and login
with the secret only it and the agent hold, so an accepted call is a correct signature; the
ccxt instances never hold the secret or the passphrase."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from apisec_agent import Agent
from apisec_agent.ccxt import attach
from apisec_agent.testing import AgentEnv, repo_root

EXCHANGE_DIR = repo_root() / "examples" / "local_exchange"
sys.path.insert(0, str(EXCHANGE_DIR))
from bitget_auth import AUTH_CODES  # noqa: E402  (the exchange's refusals of a signature)
API_KEY = "bg_cx_" + os.urandom(4).hex()
SECRET = os.urandom(24).hex()
PASSPHRASE = "cx-pass-" + os.urandom(3).hex()


def start(root: Path, script: str, args: List[str]) -> Tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, str(EXCHANGE_DIR / script), "--port", "0", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline() if server.stdout else ""
    assert line.startswith("listening on "), line + (server.stderr.read() if server.stderr else "")
    return server, line.strip().split("listening on ", 1)[1]


@pytest.fixture(scope="module")
def world() -> Iterator[Dict[str, Any]]:
    env = AgentEnv("apisec-cx-")
    servers: List[subprocess.Popen] = []
    try:
        env.init()
        logins = env.root / "logins.toml"
        logins.write_text("allow_login = true\n")
        env.add("bitget-cx", "bitget", API_KEY, SECRET.encode(), PASSPHRASE.encode(),
                ["--policy", str(logins)])
        env.add("bitget-nologin", "bitget", API_KEY, SECRET.encode(), PASSPHRASE.encode())
        env.start()
        env.unlock("bitget-cx", "bitget-nologin")
        creds = env.root / "creds.json"
        creds.write_text(json.dumps({"api_key": API_KEY, "secret": SECRET,
                                     "passphrase": PASSPHRASE}))
        ws_creds = env.root / "ws-creds.json"
        ws_creds.write_text(json.dumps({
            "bitget": {"api_key": API_KEY, "secret": SECRET, "passphrase": PASSPHRASE},
            "bybit": {"api_key": "unused", "secret": "unused"}}))
        for f in (creds, ws_creds):
            f.chmod(0o600)
        log_file = env.root / "requests.jsonl"
        http, http_url = start(env.root, "server.py",
                               ["--credentials", str(creds), "--log-file", str(log_file)])
        servers.append(http)
        ws, ws_url = start(env.root, "ws_server.py", ["--credentials", str(ws_creds)])
        servers.append(ws)
        yield {"env": env, "http": http_url, "ws": ws_url, "log": log_file}
    finally:
        for s in servers:
            s.terminate()
            s.wait(timeout=10)
        env.close()


def urls(world: Dict[str, Any]) -> Dict[str, Any]:
    """Every Bitget API host of ccxt's pointed at the local exchange."""
    hosts: Dict[str, Any] = {name: world["http"] for name in ccxt.bitget().urls["api"]
                             if name != "ws"}
    hosts["ws"] = {"public": world["ws"] + "/v2/ws/public",
                   "private": world["ws"] + "/v2/ws/private"}
    return {"api": hosts}


def requests_since(world: Dict[str, Any], start: int) -> List[Dict[str, Any]]:
    lines = world["log"].read_text().splitlines() if world["log"].exists() else []
    return [json.loads(line) for line in lines[start:]]


def log_length(world: Dict[str, Any]) -> int:
    return len(requests_since(world, 0))


PRIVATE_CALLS = [("GET", "/api/v2/spot/account/assets"),
                 ("POST", "/api/v2/spot/trade/place-order"),
                 ("GET", "/api/v2/spot/trade/orderInfo"),
                 ("POST", "/api/v2/spot/trade/cancel-order")]


def assert_accepted(world: Dict[str, Any], start: int) -> None:
    """Each private call reached the exchange with the agent's signature and was accepted."""
    log = requests_since(world, start)
    seen = [(r["method"], r["path"], r["status"], r["key"]) for r in log if not r.get("public")]
    for method, path in PRIVATE_CALLS:
        assert (method, path, 200, API_KEY) in seen, seen
    # Nothing refused for its signature (ccxt's probe of /api/v3/account/settings, whose
    # signature is accepted, is "not found" here as on a classic Bitget account).
    assert not [r for r in log if r["code"] in AUTH_CODES], seen


def assert_holds_no_secret(ex: Any) -> None:
    """No secret anywhere on the instance; the passphrase, which Bitget has sent in clear in
    every request (ACCESS-PASSPHRASE), only in ccxt's record of the last request's headers."""
    state = vars(ex)
    assert SECRET not in repr(state)
    rest = {k: v for k, v in state.items() if k != "last_request_headers"}
    assert PASSPHRASE not in repr(rest)


def test_sync_ccxt_trades_on_the_local_exchange(world: Dict[str, Any]) -> None:
    start_at = log_length(world)
    ex = ccxt.bitget({"enableRateLimit": False, "urls": urls(world)})
    attach(ex, "bitget-cx", Agent(str(world["env"].socket)))
    balance = ex.fetch_balance()
    assert balance["USDT"]["free"] == 10000
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 20000)
    assert ex.fetch_order(order["id"], "BTC/USDT")["status"] == "open"
    ex.cancel_order(order["id"], "BTC/USDT")
    assert ex.fetch_balance()["USDT"]["free"] == 10000  # the cancelled order's funds are back
    assert_accepted(world, start_at)
    assert_holds_no_secret(ex)


def test_async_ccxt_trades_on_the_local_exchange(world: Dict[str, Any]) -> None:
    start_at = log_length(world)

    async def trade() -> Any:
        ex = ccxt_async.bitget({"enableRateLimit": False, "urls": urls(world)})
        try:
            attach(ex, "bitget-cx", Agent(str(world["env"].socket)))
            # Concurrent calls on one attached instance share the agent connection.
            balances = await asyncio.gather(ex.fetch_balance(), ex.fetch_balance())
            assert [b["USDT"]["free"] for b in balances] == [10000, 10000]
            order = await ex.create_order("BTC/USDT", "limit", "buy", 0.02, 20000)
            assert (await ex.fetch_order(order["id"], "BTC/USDT"))["status"] == "open"
            await ex.cancel_order(order["id"], "BTC/USDT")
            assert_holds_no_secret(ex)
        finally:
            await ex.close()

    asyncio.run(trade())
    assert_accepted(world, start_at)


def test_ccxt_pro_watch_balance_logs_in_through_the_agent(world: Dict[str, Any]) -> None:
    """ccxt.pro's own watch_balance(): it loads the markets over REST, logs in on the private
    WebSocket with the login the agent stamps (the server checks it as Bitget documents), then
    subscribes and gets the balance snapshot."""

    async def watch(name: str) -> Any:
        ex = ccxt_pro.bitget({"enableRateLimit": False, "urls": urls(world)})
        try:
            attach(ex, name, Agent(str(world["env"].socket)))
            balance = await asyncio.wait_for(ex.watch_balance(), 20)
            assert_holds_no_secret(ex)
            return balance
        finally:
            await ex.close()

    balance = asyncio.run(watch("bitget-cx"))
    assert balance["USDT"]["free"] == 10000
    # A secret whose policy does not allow logins: ccxt's PermissionDenied, naming the setting.
    with pytest.raises(ccxt.PermissionDenied, match="allow_login"):
        asyncio.run(watch("bitget-nologin"))
