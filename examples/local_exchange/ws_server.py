#!/usr/bin/env python3
"""A local private WebSocket for Bitget (v2, `/v2/ws/private`) and Bybit (v5, `/v5/private`) on
127.0.0.1, for testing logins made through apisec-agent. Each connection's first message must be
the exchange's login, checked as the exchange documents it; the reply is the exchange's own
login answer (success or its error), and a connection that logged in gets `{"event":
"subscribed"}` for any later message, so a test can see the session is open; Bitget's spot
`account` channel also pushes its balance snapshot, for ccxt.pro's watch_balance().

    python3 examples/local_exchange/ws_server.py --port 0 --port-file /tmp/port \\
        --credentials creds.json

creds.json: {"bitget": {"api_key", "secret", "passphrase"}, "bybit": {"api_key", "secret"}}.
The checks are plain functions (`bitget_login_ok`, `bybit_login_ok`), so that a test can first
show them accepting ccxt.pro's own login message before trusting them with the agent's. The
secrets are never printed or logged."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from aiohttp import WSMsgType, web

# How far a timestamp may be from this server's clock (Bitget: 30 s; Bybit: expires ahead).
WINDOW_S = 30


def bitget_login_ok(creds: Dict[str, str], message: str, now_s: Optional[float] = None) -> Tuple[bool, str]:
    """Bitget's WebSocket login (https://www.bitget.com/api-doc/common/websocket-intro):
    {"op":"login","args":[{"apiKey","passphrase","timestamp","sign"}]}, sign =
    base64(HMAC-SHA256(secret, timestamp + "GET" + "/user/verify")), timestamp in seconds."""
    try:
        m = json.loads(message)
        a = m["args"][0]
        if m.get("op") != "login":
            return False, "30001 not a login"
        ts = a["timestamp"]
        want = base64.b64encode(hmac.new(creds["secret"].encode(), (ts + "GET/user/verify").encode(),
                                         hashlib.sha256).digest()).decode()
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return False, "30001 malformed login"
    if a.get("apiKey") != creds["api_key"]:
        return False, "30011 Invalid ACCESS_KEY"
    if a.get("passphrase") != creds["passphrase"]:
        return False, "30015 Invalid passphrase"
    if not hmac.compare_digest(str(a.get("sign")), want):
        return False, "30005 sign signature error"
    if now_s is not None and abs(now_s - int(ts)) > WINDOW_S:
        return False, "30008 Request timestamp expired"
    return True, "0"


def bybit_login_ok(creds: Dict[str, str], message: str, now_s: Optional[float] = None) -> Tuple[bool, str]:
    """Bybit's v5 WebSocket auth (https://bybit-exchange.github.io/docs/v5/ws/connect):
    {"op":"auth","args":[key, expires, hex(HMAC-SHA256(secret, "GET/realtime" + expires))]},
    expires in milliseconds, in the future."""
    try:
        m = json.loads(message)
        key, expires, sig = m["args"]
        if m.get("op") != "auth":
            return False, "not an auth"
        want = hmac.new(creds["secret"].encode(), f"GET/realtime{expires}".encode(),
                        hashlib.sha256).hexdigest()
    except (ValueError, KeyError, TypeError):
        return False, "malformed auth"
    if key != creds["api_key"]:
        return False, "API key is invalid."
    if not hmac.compare_digest(str(sig), want):
        return False, "Signature verification failed"
    if now_s is not None and int(expires) < now_s * 1000:
        return False, "Params Error: the expires is in the past"
    return True, ""


def bitget_reply(ok: bool, why: str) -> Dict[str, Any]:
    code = int(why.split(" ")[0]) if not ok else 0
    return {"event": "login", "code": code, "msg": "" if ok else why}


def bybit_reply(ok: bool, why: str) -> Dict[str, Any]:
    return {"success": ok, "ret_msg": why, "op": "auth"}


# The balance a logged-in Bitget session's `account` channel pushes (one coin, as the local REST
# exchange starts with).
BITGET_BALANCE = {"coin": "USDT", "available": "10000", "frozen": "0", "locked": "0",
                  "limitAvailable": "0"}


def bitget_after_login(message: str) -> List[Dict[str, Any]]:
    """Bitget's answer to a logged-in session's message: a subscription to the spot `account`
    channel is acknowledged and followed by its snapshot
    (https://www.bitget.com/api-doc/spot/websocket/private/Account-Channel), which is what
    ccxt.pro's watch_balance() waits for; anything else gets {"event": "subscribed"}."""
    try:
        m = json.loads(message)
        args = m["args"] if m.get("op") == "subscribe" else []
    except (ValueError, KeyError, TypeError, AttributeError):
        args = []
    out: List[Dict[str, Any]] = []
    for arg in args:
        if isinstance(arg, dict) and arg.get("channel") == "account" and arg.get("instType") == "SPOT":
            now = int(time.time() * 1000)
            out.append({"event": "subscribe", "arg": arg})
            out.append({"action": "snapshot", "arg": arg,
                        "data": [dict(BITGET_BALANCE, uTime=str(now))], "ts": now})
    return out or [{"event": "subscribed"}]


def subscribed(message: str) -> List[Dict[str, Any]]:
    return [{"event": "subscribed"}]


def handler(check: Callable[..., Tuple[bool, str]], reply: Callable[[bool, str], Dict[str, Any]],
            creds: Dict[str, str],
            after_login: Callable[[str], List[Dict[str, Any]]] = subscribed) -> Callable[..., Any]:
    async def serve(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        logged_in = False
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            if not logged_in:
                ok, why = check(creds, msg.data, time.time())
                await ws.send_str(json.dumps(reply(ok, why)))
                if not ok:
                    break
                logged_in = True
            else:
                for answer in after_login(msg.data):
                    await ws.send_str(json.dumps(answer))
        await ws.close()
        return ws

    return serve


def app(credentials: Dict[str, Dict[str, str]]) -> web.Application:
    a = web.Application()
    a.router.add_get("/v2/ws/private", handler(bitget_login_ok, bitget_reply, credentials["bitget"],
                                                      bitget_after_login))
    a.router.add_get("/v5/private", handler(bybit_login_ok, bybit_reply, credentials["bybit"]))
    return a


async def run(credentials: Dict[str, Dict[str, str]], port: int, port_file: Optional[str]) -> None:
    runner = web.AppRunner(app(credentials))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    if port_file:
        tmp = Path(port_file + ".tmp")
        tmp.write_text(str(bound))
        tmp.replace(port_file)
    print(f"listening on ws://127.0.0.1:{bound}", flush=True)
    await asyncio.Event().wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8791, help="TCP port; 0 picks a free one")
    p.add_argument("--port-file", help="write the bound port to this file once listening")
    p.add_argument("--credentials", required=True, help="JSON file (see above)")
    a = p.parse_args()
    creds = json.loads(Path(a.credentials).read_text())
    try:
        asyncio.run(run(creds, a.port, a.port_file))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
