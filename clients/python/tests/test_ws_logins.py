"""WebSocket logins end to end: a local WebSocket server (examples/local_exchange/ws_server.py)
that checks Bitget's and Bybit's logins accepts the ones the agent stamps, refuses a tampered
one, and a secret whose policy does not allow logins gets a refusal that names it.

The server's checks are not trusted on our reading alone: each is first shown to accept the
login message ccxt.pro 4.5.90 itself sends (recorded with its clock pinned at 1700000000 s and
its socket replaced, credentials below) and to refuse that message altered, before it judges
the agent's."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, Tuple

import aiohttp
import pytest

from apisec_agent import Agent
from apisec_agent.errors import PolicyRefused
from apisec_agent.testing import AgentEnv

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
sys.path.insert(0, str(EXAMPLES / "local_exchange"))
from ws_server import bitget_login_ok, bybit_login_ok  # noqa: E402

# ccxt.pro 4.5.90's messages (its Bitget login carries a "url" member Bitget does not document).
CCXT_CREDS = {"api_key": "vec-api-key-0001", "secret": "vec-secret-0001",
              "passphrase": "vec-passphrase"}
CCXT_BITGET = ('{"op":"login","args":[{"apiKey":"vec-api-key-0001","passphrase":"vec-passphrase",'
               '"timestamp":"1700000000","sign":"O76Q4rWnIrNgFEG4LEWmZrxtyKg+4CC6Jc0XVU16kgk="}],'
               '"url":"wss://ws.bitget.com/v2/ws/private"}')
CCXT_BYBIT = ('{"op":"auth","args":["vec-api-key-0001","1700000010000",'
              '"c405e0d7b9a999b1dc7880ee68f7824046ee6601c143cc0af21d2b59259ff2f9"]}')

CREDS = {
    "bitget": {"api_key": "bg_" + os.urandom(6).hex(), "secret": os.urandom(24).hex(),
               "passphrase": "bg-pass-" + os.urandom(3).hex()},
    "bybit": {"api_key": "by" + os.urandom(8).hex(), "secret": os.urandom(24).hex()},
    "binance": {"api_key": "bn" + os.urandom(8).hex(), "secret": os.urandom(24).hex()},
    "coinbase-exchange": {"api_key": "cb" + os.urandom(8).hex(),
                          "secret": base64.b64encode(os.urandom(64)).decode(), "passphrase": "cbp"},
}


def tampered(message: str) -> str:
    """The message with one character of its signature changed."""
    m = json.loads(message)
    if "args" in m and isinstance(m["args"][0], dict):
        s = m["args"][0]["sign"]
        m["args"][0]["sign"] = ("A" if s[0] != "A" else "B") + s[1:]
    else:
        s = m["args"][2]
        m["args"][2] = ("0" if s[0] != "0" else "1") + s[1:]
    return json.dumps(m)


def test_the_servers_checks_accept_ccxt_pros_logins_and_refuse_altered_ones() -> None:
    assert bitget_login_ok(CCXT_CREDS, CCXT_BITGET) == (True, "0")
    assert bybit_login_ok(CCXT_CREDS, CCXT_BYBIT) == (True, "")
    assert bitget_login_ok(CCXT_CREDS, tampered(CCXT_BITGET))[1].startswith("30005")
    assert bybit_login_ok(CCXT_CREDS, tampered(CCXT_BYBIT))[1] == "Signature verification failed"
    other = dict(CCXT_CREDS, secret="another-secret")
    assert not bitget_login_ok(other, CCXT_BITGET)[0]
    assert not bybit_login_ok(other, CCXT_BYBIT)[0]
    # The stamp matters too: ccxt's 2023 login is stale today.
    assert bitget_login_ok(CCXT_CREDS, CCXT_BITGET, time.time())[1].startswith("30008")


@pytest.fixture(scope="module")
def world() -> Iterator[Tuple[AgentEnv, str]]:
    env = AgentEnv("apisec-ws-")
    server = None
    try:
        env.init()
        logins = env.root / "logins.toml"
        logins.write_text("allow_login = true\n")
        # A step-up on the REST request whose signed string Coinbase's login is.
        twin = env.root / "twin.toml"
        twin.write_text('allow_login = true\n[[rule]]\naction = "step-up"\npath = "/users/self/verify"\n')
        for name, ex, extra in [("bitget-login", "bitget", ["--policy", str(logins)]),
                                ("bitget-plain", "bitget", []),
                                ("bybit-login", "bybit", ["--policy", str(logins)]),
                                ("binance-login", "binance", ["--policy", str(logins)]),
                                ("cbx-twin", "coinbase-exchange", ["--policy", str(twin)])]:
            c = CREDS[ex]
            env.add(name, ex, c["api_key"], c["secret"].encode(),
                    c["passphrase"].encode() if "passphrase" in c else None, extra)
        env.start()
        env.unlock("bitget-login", "bitget-plain", "bybit-login", "binance-login", "cbx-twin")
        creds = env.root / "ws-creds.json"
        creds.write_text(json.dumps(CREDS))
        creds.chmod(0o600)
        port_file = env.root / "ws-port"
        server = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "local_exchange" / "ws_server.py"), "--port", "0",
             "--port-file", str(port_file), "--credentials", str(creds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = server.stdout.readline() if server.stdout else ""
        assert line.startswith("listening on ws://127.0.0.1:"), line + server.stderr.read()
        yield env, line.strip().split("listening on ", 1)[1]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        env.close()


async def exchange(url: str, *messages: str) -> list:
    """Sends `messages` on one connection; the replies, until the server closes or all came."""
    replies = []
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url) as ws:
            for m in messages:
                await ws.send_str(m)
                reply = await ws.receive(timeout=10)
                if reply.type != aiohttp.WSMsgType.TEXT:
                    break
                replies.append(json.loads(reply.data))
    return replies


def talk(url: str, *messages: str) -> list:
    return asyncio.run(exchange(url, *messages))


PATHS = {"bitget": "/v2/ws/private", "bybit": "/v5/private"}
WELCOME = {"bitget": {"event": "login", "code": 0, "msg": ""},
           "bybit": {"success": True, "ret_msg": "", "op": "auth"}}


@pytest.mark.parametrize("ex", ["bitget", "bybit"])
def test_the_agents_login_is_accepted_and_a_tampered_one_refused(
    world: Tuple[AgentEnv, str], ex: str
) -> None:
    env, base = world
    with Agent(str(env.socket)) as agent:
        login = agent.login(f"{ex}-login")
    assert login.message and CREDS[ex]["secret"] not in login.message
    replies = talk(base + PATHS[ex], login.message, '{"op":"subscribe"}')
    assert replies == [WELCOME[ex], {"event": "subscribed"}]
    refused = talk(base + PATHS[ex], tampered(login.message), '{"op":"subscribe"}')
    assert len(refused) == 1 and refused[0] != WELCOME[ex], refused


def test_the_cli_prints_the_login_to_send(world: Tuple[AgentEnv, str]) -> None:
    env, base = world
    out = env.check(env.cli("login", "bitget-login"), "apisec login")
    message = out.stdout.decode().strip()
    assert talk(base + PATHS["bitget"], message) == [WELCOME["bitget"]]
    fields = json.loads(env.check(env.cli("login", "bitget-login", "--json"), "login --json").stdout)
    assert set(fields["fields"]) == {"apiKey", "passphrase", "timestamp", "sign"}


def test_a_secret_without_allow_login_is_refused_by_name(world: Tuple[AgentEnv, str]) -> None:
    env, _ = world
    with Agent(str(env.socket)) as agent:
        with pytest.raises(PolicyRefused) as e:
            agent.login("bitget-plain")
    assert "bitget-plain" in str(e.value) and "allow_login = true" in str(e.value)


def test_each_login_is_audited(world: Tuple[AgentEnv, str]) -> None:
    env, _ = world
    with Agent(str(env.socket)) as agent:
        agent.login("bybit-login")
        with pytest.raises(PolicyRefused):
            agent.login("bitget-plain")
    path = env.home / ".local/state/apisec/audit.jsonl"
    deadline = time.monotonic() + 10
    while True:
        records = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        mine = [r for r in records if r.get("action") == "login" and r.get("secret") == "bybit-login"]
        if mine:
            break
        assert time.monotonic() < deadline, records
        time.sleep(0.05)
    assert mine[-1]["decision"] == "allowed" and mine[-1]["class"] == "login", mine[-1]
    assert len(mine[-1]["signed_sha256"]) == 64, mine[-1]
    refused = [r for r in records if r.get("action") == "login" and r.get("secret") == "bitget-plain"]
    assert refused and refused[-1]["decision"] == "denied", refused


def test_ccxt_pro_authenticates_through_the_agent(world: Tuple[AgentEnv, str]) -> None:
    """ccxt.pro's own authenticate() flow (its future, its message handler) with the login the
    agent stamps: the local server accepts it and ccxt resolves the session; a secret without
    allow_login is ccxt's PermissionDenied; what the agent does not sign is NotSupported, and
    neither is ever an AttributeError."""
    import ccxt
    import ccxt.pro as ccxtpro

    from apisec_agent.ccxt import attach

    env, base = world

    async def authenticate(ex_id: str, name: str) -> None:
        ex = getattr(ccxtpro, ex_id)({"enableRateLimit": False})
        attach(ex, name, Agent(str(env.socket)))
        url = base + PATHS[ex_id]
        try:
            if ex_id == "bitget":
                await asyncio.wait_for(ex.authenticate({"url": url}), 10)
            else:
                await asyncio.wait_for(ex.authenticate(url), 10)
        finally:
            await ex.close()

    asyncio.run(authenticate("bitget", "bitget-login"))
    asyncio.run(authenticate("bybit", "bybit-login"))
    with pytest.raises(ccxt.PermissionDenied, match="allow_login"):
        asyncio.run(authenticate("bitget", "bitget-plain"))

    async def binance_ws_api() -> None:
        ex = ccxtpro.binance({"enableRateLimit": False})
        attach(ex, "binance-login", Agent(str(env.socket)))
        try:
            ex.sign_params({"symbol": "BTCUSDT"})
        finally:
            await ex.close()

    with pytest.raises(ccxt.NotSupported, match="stays in the agent"):
        asyncio.run(binance_ws_api())


def test_a_rule_on_the_rest_twin_of_a_login_applies_to_it(world: Tuple[AgentEnv, str]) -> None:
    """Coinbase Exchange's login signs exactly what REST GET /users/self/verify signs: a step-up
    rule on that path asks for approval on the login too (denied here, then approved)."""
    from apisec_agent.errors import ApprovalDenied

    env, _ = world
    with Agent(str(env.socket)) as agent:
        env.set_approver("deny")
        try:
            with pytest.raises(ApprovalDenied):
                agent.login("cbx-twin")
        finally:
            env.set_approver("approve")
        assert agent.login("cbx-twin").fields["signature"]
    assert "cbx-twin" in env.approver_log()
