"""ccxt.pro's own private flows, logged in through the agent (apisec_agent.ccxt.pro and its
pro_<id> modules): each exchange's watch_*() or authenticate() runs against a local WebSocket
server started in the test, which records what ccxt.pro sends and answers as the exchange does.
Each login is checked here independently of the agent: the exchange's documented signature
recomputed over the message's fields with the test's own secret, the API key, and the freshness
of the timestamp. The exchanges whose streams take a token from a REST call (Kraken, KuCoin,
MEXC spot, Binance's listenKey) are shown to get it through the adapter's sign() (REST calls
captured, their signatures recomputed). Also: a secret without allow_login is ccxt's
PermissionDenied, what the agent cannot sign is NotSupported, and no instance holds a secret."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import ccxt
import ccxt.pro as ccxtpro
import pytest
from aiohttp import web

from apisec_agent import Agent
from apisec_agent.ccxt import attach
from apisec_agent.testing import AgentEnv


def _p256_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _hex() -> str:
    return os.urandom(24).hex()


def _b64() -> str:
    return base64.b64encode(os.urandom(64)).decode()


# preset -> (api key, secret, passphrase)
CREDS: Dict[str, Tuple[str, str, Optional[str]]] = {
    "gate": ("gt" + os.urandom(8).hex(), _hex(), None),
    "binance": ("bn" + os.urandom(16).hex(), _hex(), None),
    "kucoin": ("kc" + os.urandom(8).hex(), _hex(), "kc-pass-" + os.urandom(2).hex()),
    "kraken": ("kr" + os.urandom(8).hex(), _b64(), None),
    "htx": ("htx" + os.urandom(8).hex(), _hex(), None),
    "coinbase-exchange": ("cb" + os.urandom(8).hex(), _b64(), "cb-pass-" + os.urandom(2).hex()),
    "bitfinex": ("bf" + os.urandom(8).hex(), _hex(), None),
    "mexc": ("mx" + os.urandom(8).hex(), _hex(), None),
    "okx": ("okx-" + os.urandom(6).hex(), _hex(), "okx-Pass#" + os.urandom(2).hex()),
    "kraken-futures": ("kf" + os.urandom(8).hex(), _b64(), None),
    "deribit": ("dr" + os.urandom(6).hex(), _hex(), None),
    "coinbase-advanced": ("organizations/org-t/apiKeys/" + os.urandom(8).hex(), _p256_pem(), None),
}
# Secrets whose policy does not allow logins.
PLAIN = ("gate", "kraken-futures", "coinbase-exchange")


def login_name(preset: str) -> str:
    return f"{preset}-login"


def plain_name(preset: str) -> str:
    return f"{preset}-plain"


@pytest.fixture(scope="module")
def env() -> Iterator[AgentEnv]:
    e = AgentEnv("apisec-pro-")
    try:
        e.init()
        logins = e.root / "logins.toml"
        logins.write_text("allow_login = true\n")
        names = []
        for preset, (key, secret, passphrase) in CREDS.items():
            for name, policy in [(login_name(preset), ["--policy", str(logins)]),
                                 (plain_name(preset), [])]:
                if policy == [] and preset not in PLAIN:
                    continue
                if preset == "coinbase-advanced":
                    pem = e.root / "cdp.pem"
                    pem.write_text(secret)
                    pem.chmod(0o600)
                    e.check(e.agent_cmd("add", name, "--exchange", preset, "--api-key", key,
                                        "--private-key-file", str(pem), *policy), "add cdp")
                    pem.unlink()
                else:
                    e.add(name, preset, key, secret.encode(),
                          passphrase.encode() if passphrase else None, policy)
                names.append(name)
        e.start()
        e.unlock(*names)
        yield e
    finally:
        e.close()


# --- the local exchange -------------------------------------------------------------------

Reply = Callable[[str, Any], List[Any]]


class LocalWs:
    """A WebSocket server on 127.0.0.1 in the test's own event loop: records every text message
    (path, parsed JSON) and sends what `reply(path, message)` returns."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.received: List[Tuple[str, Any]] = []
        self.base = ""
        self.exchanges: List[Any] = []  # closed on exit, whatever the test's outcome
        self._sockets: List[web.WebSocketResponse] = []
        self._runner: Optional[web.AppRunner] = None

    async def __aenter__(self) -> "LocalWs":
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for ex in self.exchanges:
            await ex.close()
        for ws in self._sockets:
            await ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    def pro(self, ex_id: str, name: str, env: AgentEnv) -> Any:
        ex = pro(ex_id, name, env)
        self.exchanges.append(ex)
        return ex

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                continue  # a ping in text
            self.received.append((request.path, data))
            for r in self.reply(request.path, data):
                await ws.send_str(r if isinstance(r, str) else json.dumps(r))
        return ws

    async def wait(self, pred: Callable[[Any], bool], timeout: float = 15) -> Any:
        """The first message received that satisfies `pred`."""
        deadline = time.monotonic() + timeout
        while True:
            for _, m in self.received:
                if pred(m):
                    return m
            assert time.monotonic() < deadline, f"not received; got {self.received}"
            await asyncio.sleep(0.02)


def pro(ex_id: str, name: str, env: AgentEnv, **config: Any) -> Any:
    ex = getattr(ccxtpro, ex_id)({"enableRateLimit": False, **config})
    return attach(ex, name, Agent(str(env.socket)))


def no_secret_in(ex: Any, preset: str) -> None:
    _, secret, passphrase = CREDS[preset]
    held = repr(vars(ex))
    assert secret not in held and "PRIVATE KEY" not in held
    assert passphrase is None or passphrase not in held


def fresh_s(t: Any) -> None:
    assert abs(float(t) - time.time()) < 30, t


def fresh_ms(t: Any) -> None:
    assert abs(float(t) / 1000 - time.time()) < 30, t


def hmac_of(secret: bytes, payload: str, alg: Any) -> bytes:
    return hmac.new(secret, payload.encode(), alg).digest()


async def watching(coro: Any) -> "asyncio.Task[Any]":
    """ccxt.pro's watch_*() running; the test reads what it sent, then cancels it."""
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0)
    return task


async def stop(task: "asyncio.Task[Any]", ex: Any) -> None:
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, ccxt.BaseError):
        pass
    await ex.close()


# --- Gate ---------------------------------------------------------------------------------

def gate_reply(path: str, m: Any) -> List[Any]:
    if m.get("event") == "subscribe":
        return [{"time": int(time.time()), "id": m["id"], "channel": m["channel"],
                 "event": "subscribe", "result": {"status": "success"}}]
    if m.get("channel") == "spot.login":
        rid = m["payload"]["req_id"]
        return [{"request_id": rid, "header": {"response_time": "1", "status": "200",
                                               "channel": "spot.login", "event": "api"},
                 "data": {"result": {"api_key": m["payload"]["api_key"], "uid": "1"}}}]
    return []


def check_gate_subscribe(m: Any, channel: str) -> None:
    key, secret, _ = CREDS["gate"]
    assert m["channel"] == channel and m["event"] == "subscribe"
    assert m["auth"]["method"] == "api_key" and m["auth"]["KEY"] == key
    fresh_s(m["time"])
    signed = f"channel={channel}&event=subscribe&time={m['time']}"
    assert m["auth"]["SIGN"] == hmac_of(secret.encode(), signed, hashlib.sha512).hex()


def test_gate_private_channels_and_login(env: AgentEnv) -> None:
    key, secret, _ = CREDS["gate"]

    async def run() -> None:
        async with LocalWs(gate_reply) as server:
            ex = server.pro("gate", login_name("gate"), env)
            ex.urls["api"]["spot"] = server.base + "/ws/v4/"
            ex.markets = {}
            task = await watching(ex.watch_balance())
            m = await server.wait(lambda m: m.get("channel") == "spot.balances")
            check_gate_subscribe(m, "spot.balances")
            assert isinstance(m["id"], int) and "payload" not in m
            # Once subscribed, ccxt sends nothing more, and the agent is not asked again.
            again = await watching(ex.watch_balance())
            await asyncio.sleep(0.3)
            assert len([x for _, x in server.received if x.get("channel") == "spot.balances"]) == 1
            again.cancel()
            # The WebSocket API's login (spot.login): ccxt's authenticate() resolves on the reply.
            url = server.base + "/ws/v4/"
            await asyncio.wait_for(ex.authenticate(url, "spot"), 10)
            login = await server.wait(lambda m: m.get("channel") == "spot.login")
            p = login["payload"]
            assert login["event"] == "api" and p["api_key"] == key and p["req_param"] == {}
            fresh_s(p["timestamp"])
            assert str(login["time"]) == p["timestamp"] and login["id"] == p["req_id"]
            signed = f"api\nspot.login\n{{}}\n{p['timestamp']}"
            assert p["signature"] == hmac_of(secret.encode(), signed, hashlib.sha512).hex()
            await ex.authenticate(url, "spot")  # logged in: nothing more sent
            assert len([x for _, x in server.received if x.get("channel") == "spot.login"]) == 1
            # Its requests are signed by ccxt with the secret: NotSupported, sent nothing.
            ex.markets = None
            ex.set_markets([{"id": "BTC_USDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT",
                             "baseId": "BTC", "quoteId": "USDT", "type": "spot", "spot": True,
                             "active": True, "precision": {"amount": 0.0001, "price": 0.01}}])
            with pytest.raises(ccxt.NotSupported, match="REST methods"):
                await ex.create_order_ws("BTC/USDT", "limit", "buy", 1, 1)
            no_secret_in(ex, "gate")
            await stop(task, ex)

    asyncio.run(run())


def test_a_secret_without_allow_login_is_permission_denied(env: AgentEnv) -> None:
    """Gate (a subscribe's auth), Coinbase Exchange (fields filled when sent) and Kraken Futures
    (a challenge signed in ccxt's message handler): each refusal reaches the watch_*() caller as
    ccxt's PermissionDenied naming allow_login, and nothing signed is sent."""

    async def run() -> None:
        def kf_reply(path: str, m: Any) -> List[Any]:
            return [{"event": "challenge", "message": str(uuid.uuid4())}] if m.get("event") == "challenge" else []

        async with LocalWs(kf_reply) as server:
            ex = server.pro("gate", plain_name("gate"), env)
            ex.urls["api"]["spot"] = server.base + "/ws/v4/"
            ex.markets = {}
            with pytest.raises(ccxt.PermissionDenied, match="allow_login"):
                await asyncio.wait_for(ex.watch_balance(), 10)
            no_secret_in(ex, "gate")
            await ex.close()

            ex = server.pro("coinbaseexchange", plain_name("coinbase-exchange"), env)
            ex.urls["api"]["ws"] = server.base + "/cbx"
            set_usd_market(ex)
            with pytest.raises(ccxt.PermissionDenied, match="allow_login"):
                await asyncio.wait_for(ex.watch_orders("BTC/USD"), 10)
            await ex.close()

            ex = server.pro("krakenfutures", plain_name("kraken-futures"), env)
            ex.urls["api"]["ws"] = server.base + "/ws/v1"
            ex.markets = {}
            with pytest.raises(ccxt.PermissionDenied, match="allow_login"):
                await asyncio.wait_for(ex.watch_balance(), 10)
            no_secret_in(ex, "kraken-futures")
            await ex.close()
            assert [m.get("event") for _, m in server.received] == ["challenge"]

    asyncio.run(run())


# --- Binance ------------------------------------------------------------------------------

def test_binance_spot_user_data_stream_and_futures_listen_key(env: AgentEnv) -> None:
    key, secret, _ = CREDS["binance"]

    def reply(path: str, m: Any) -> List[Any]:
        if m.get("method") == "userDataStream.subscribe.signature":
            return [{"id": m["id"], "status": 200, "result": {"subscriptionId": 0}}]
        return []

    async def run() -> None:
        async with LocalWs(reply) as server:
            ex = server.pro("binance", login_name("binance"), env)
            ex.urls["api"]["ws"]["ws-api"]["spot"] = server.base + "/ws-api/v3"
            ex.markets = {}
            task = await watching(ex.watch_balance())
            m = await server.wait(lambda m: m.get("method") == "userDataStream.subscribe.signature")
            p = m["params"]
            assert p["apiKey"] == key and set(p) == {"apiKey", "timestamp", "signature"}
            fresh_ms(p["timestamp"])
            signed = f"apiKey={key}&timestamp={p['timestamp']}"
            assert p["signature"] == hmac_of(secret.encode(), signed, hashlib.sha256).hex()
            # ccxt's handler saw the subscription: a second authenticate sends nothing.
            await asyncio.wait_for(ex.authenticate({"type": "spot"}), 10)
            assert len(server.received) == 1
            # The WebSocket API's own requests: ccxt signs each with the secret.
            with pytest.raises(ccxt.NotSupported, match="stays in the agent"):
                await ex.fetch_balance_ws()
            no_secret_in(ex, "binance")
            await stop(task, ex)

        # USD-M futures: the listenKey is a REST call, signed (API key header) by the adapter.
        ex = pro("binanceusdm", login_name("binance"), env)
        sent: List[Tuple[str, str, Dict[str, str], Any]] = []

        async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            sent.append((url, method, dict(headers or {}), body))
            return {"listenKey": "lk-test"}

        ex.fetch = fetch
        await ex.authenticate({"type": "future"})
        await ex.close()
        (url, method, headers, _), = sent
        assert method == "POST" and urlsplit(url).path == "/fapi/v1/listenKey"
        assert headers["X-MBX-APIKEY"] == key
        assert ex.options["linear"]["listenKey"] == "lk-test"

    asyncio.run(run())


# --- REST tokens: KuCoin, Kraken, MEXC spot -----------------------------------------------

class Rest:
    """ccxt's fetch() replaced: records each request the adapter's sign() built."""

    def __init__(self, ex: Any, answer: Callable[[str], Any]) -> None:
        self.sent: List[Tuple[str, str, Dict[str, str], Any]] = []

        async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            self.sent.append((url, method, dict(headers or {}), body))
            return answer(url)

        ex.fetch = fetch
        ex.open()  # what ccxt's own fetch() does first: the instance's event loop


def test_kucoin_kraken_mexc_get_their_stream_tokens_from_rest(env: AgentEnv) -> None:
    async def run() -> None:
        # KuCoin: negotiate() POSTs /api/v1/bullet-private (KC-API-* headers, version 2).
        key, secret, passphrase = CREDS["kucoin"]
        ex = pro("kucoin", login_name("kucoin"), env)
        rest = Rest(ex, lambda url: {"code": "200000", "data": {"token": "tok-kc", "instanceServers": [
            {"endpoint": "wss://ws-api-spot.kucoin.com/", "pingInterval": 18000, "protocol": "websocket",
             "encrypt": True, "pingTimeout": 10000}]}})
        url = await ex.negotiate(True)
        assert "token=tok-kc" in url
        (u, method, h, body), = rest.sent
        assert method == "POST" and urlsplit(u).path == "/api/v1/bullet-private"
        assert h["KC-API-KEY"] == key and h["KC-API-KEY-VERSION"] == "2"
        fresh_ms(h["KC-API-TIMESTAMP"])
        signed = h["KC-API-TIMESTAMP"] + "POST" + "/api/v1/bullet-private" + (body or "")
        assert h["KC-API-SIGN"] == base64.b64encode(hmac_of(secret.encode(), signed, hashlib.sha256)).decode()
        assert h["KC-API-PASSPHRASE"] == base64.b64encode(hmac_of(secret.encode(), passphrase or "", hashlib.sha256)).decode()
        # The unified account's token: the same call, version 2.
        rest.sent.clear()
        assert await ex.authenticate_uta() == "tok-kc"
        (u, method, h, body), = rest.sent
        assert method == "POST" and urlsplit(u).path == "/api/v2/bullet-private"
        signed = h["KC-API-TIMESTAMP"] + "POST" + "/api/v2/bullet-private" + (body or "")
        assert h["KC-API-SIGN"] == base64.b64encode(hmac_of(secret.encode(), signed, hashlib.sha256)).decode()
        no_secret_in(ex, "kucoin")
        await ex.close()
        # KuCoin futures: the same call on the futures host.
        ex = pro("kucoinfutures", login_name("kucoin"), env)
        rest = Rest(ex, lambda url: {"code": "200000", "data": {"token": "tok-kf", "instanceServers": [
            {"endpoint": "wss://ws-api-futures.kucoin.com/", "pingInterval": 18000}]}})
        assert "token=tok-kf" in await ex.negotiate(True, True)
        (u, method, h, body), = rest.sent
        assert urlsplit(u).netloc == "api-futures.kucoin.com" and h["KC-API-KEY"] == key
        signed = h["KC-API-TIMESTAMP"] + "POST" + "/api/v1/bullet-private" + (body or "")
        assert h["KC-API-SIGN"] == base64.b64encode(hmac_of(secret.encode(), signed, hashlib.sha256)).decode()
        await ex.close()

        # Kraken: authenticate() POSTs /0/private/GetWebSocketsToken (API-Sign).
        key, secret, _ = CREDS["kraken"]
        ex = pro("kraken", login_name("kraken"), env)
        rest = Rest(ex, lambda url: {"error": [], "result": {"token": "tok-kr", "expires": 900}})
        assert await ex.authenticate() == "tok-kr"
        (u, method, h, body), = rest.sent
        path = urlsplit(u).path
        assert method == "POST" and path == "/0/private/GetWebSocketsToken" and h["API-Key"] == key
        nonce = dict(parse_qsl(body))["nonce"]
        fresh_ms(int(nonce) // 1000 if len(nonce) > 13 else nonce)
        inner = hashlib.sha256((nonce + body).encode()).digest()
        expect = hmac.new(base64.b64decode(secret), path.encode() + inner, hashlib.sha512).digest()
        assert h["API-Sign"] == base64.b64encode(expect).decode()
        no_secret_in(ex, "kraken")
        await ex.close()

        # MEXC spot: authenticate() POSTs /api/v3/userDataStream (signature in the query).
        key, secret, _ = CREDS["mexc"]
        ex = pro("mexc", login_name("mexc"), env)
        rest = Rest(ex, lambda url: {"listenKey": "lk-mx"})
        assert await ex.authenticate("spot") == "lk-mx"
        (u, method, h, body), = rest.sent
        parts = urlsplit(u)
        assert method == "POST" and parts.path == "/api/v3/userDataStream" and h["X-MEXC-APIKEY"] == key
        query, signature = parts.query.rsplit("&signature=", 1)
        fresh_ms(dict(parse_qsl(query))["timestamp"])
        assert signature == hmac_of(secret.encode(), query, hashlib.sha256).hex()
        # Its futures' login is not signed by the agent: NotSupported, not AttributeError.
        ex.markets = {}
        with pytest.raises(ccxt.NotSupported, match="mexc futures"):
            await ex.watch_balance({"type": "swap"})
        no_secret_in(ex, "mexc")
        await ex.close()

    asyncio.run(run())


# --- HTX ----------------------------------------------------------------------------------

def test_htx_spot_and_contract_logins(env: AgentEnv) -> None:
    key, secret, _ = CREDS["htx"]

    def reply(path: str, m: Any) -> List[Any]:
        if m.get("ch") == "auth":
            return [{"action": "req", "code": 200, "ch": "auth", "data": {}}]
        if m.get("op") == "auth":
            return [{"op": "auth", "type": "api", "err-code": 0, "ts": int(time.time() * 1000),
                     "data": {"user-id": "1"}}]
        return []

    def check(params: Dict[str, str], signature: str, host: str, path: str) -> None:
        q = urlencode(sorted(params.items()))
        expect = hmac_of(secret.encode(), f"GET\n{host}\n{path}\n{q}", hashlib.sha256)
        assert signature == base64.b64encode(expect).decode()

    async def run() -> None:
        async with LocalWs(reply) as server:
            ex = server.pro("htx", login_name("htx"), env)
            spot = {"url": server.base + "/ws/v2", "hostname": "api.huobi.pro", "type": "spot"}
            await asyncio.wait_for(ex.authenticate(spot), 10)
            m = await server.wait(lambda m: m.get("ch") == "auth")
            p = dict(m["params"])
            assert m["action"] == "req" and p.pop("authType") == "api" and p["accessKey"] == key
            assert p["signatureMethod"] == "HmacSHA256" and p["signatureVersion"] == "2.1"
            fresh_s(time.mktime(time.strptime(p["timestamp"], "%Y-%m-%dT%H:%M:%S")) - time.timezone)
            check({k: v for k, v in p.items() if k != "signature"}, p["signature"], "api.huobi.pro", "/ws/v2")
            await ex.authenticate(spot)  # logged in on that connection: nothing more sent
            linear = {"url": server.base + "/linear-swap-notification", "hostname": "api.hbdm.vn",
                      "type": "swap"}
            await asyncio.wait_for(ex.authenticate(linear), 10)
            c = dict(await server.wait(lambda m: m.get("op") == "auth"))
            assert c.pop("op") == "auth" and c.pop("type") == "api" and c["AccessKeyId"] == key
            assert c["SignatureVersion"] == "2"
            check({k: v for k, v in c.items() if k != "Signature"}, c["Signature"], "api.hbdm.vn",
                  "/linear-swap-notification")
            assert len(server.received) == 2
            with pytest.raises(ccxt.NotSupported, match="no login"):
                await ex.authenticate(dict(spot, url=server.base + "/ws/v9"))
            no_secret_in(ex, "htx")
            await ex.close()

    asyncio.run(run())


# --- Coinbase Exchange, Coinbase Advanced -------------------------------------------------

def set_usd_market(ex: Any) -> None:
    ex.set_markets([{"id": "BTC-USD", "symbol": "BTC/USD", "base": "BTC", "quote": "USD",
                     "baseId": "BTC", "quoteId": "USD", "type": "spot", "spot": True,
                     "active": True}])


def test_coinbase_exchange_subscriptions_carry_the_agents_fields(env: AgentEnv) -> None:
    key, secret, passphrase = CREDS["coinbase-exchange"]

    async def run() -> None:
        async with LocalWs(lambda p, m: []) as server:
            ex = server.pro("coinbaseexchange", login_name("coinbase-exchange"), env)
            ex.urls["api"]["ws"] = server.base + "/cbx"
            set_usd_market(ex)
            orders = await watching(ex.watch_orders("BTC/USD"))
            book = await watching(ex.watch_order_book("BTC/USD"))
            for channel in ("user", "level2"):
                m = await server.wait(lambda m, c=channel: m.get("channels") == [c])
                assert m["type"] == "subscribe" and m["product_ids"] == ["BTC-USD"]
                assert m["key"] == key and m["passphrase"] == passphrase
                fresh_s(m["timestamp"])
                signed = f"{m['timestamp']}GET/users/self/verify"
                expect = hmac_of(base64.b64decode(secret), signed, hashlib.sha256)
                assert m["signature"] == base64.b64encode(expect).decode()
            again = await watching(ex.watch_orders("BTC/USD"))  # subscribed: nothing sent
            await asyncio.sleep(0.3)
            assert len(server.received) == 2
            no_secret_in(ex, "coinbase-exchange")
            again.cancel()
            book.cancel()
            await stop(orders, ex)

    asyncio.run(run())


def test_coinbase_advanced_subscriptions_carry_the_agents_jwt(env: AgentEnv) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    key, pem, _ = CREDS["coinbase-advanced"]

    def b64url(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    async def run() -> None:
        async with LocalWs(lambda p, m: []) as server:
            ex = server.pro("coinbase", login_name("coinbase-advanced"), env)
            ex.urls["api"]["ws"] = server.base + "/ws"
            ex.markets = {}
            task = await watching(ex.watch_orders())
            m = await server.wait(lambda m: m.get("channel") == "user")
            assert m["type"] == "subscribe" and m["product_ids"] == [] and set(m) == {
                "type", "product_ids", "channel", "jwt"}
            header, claims, sig = m["jwt"].split(".")
            h, c = json.loads(b64url(header)), json.loads(b64url(claims))
            assert h["alg"] == "ES256" and h["kid"] == key
            assert c["sub"] == key and "uri" not in c and c["exp"] - c["nbf"] == 120
            fresh_s(c["nbf"])
            public = serialization.load_pem_private_key(pem.encode(), None).public_key()
            raw = b64url(sig)
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
            no_secret_in(ex, "coinbase-advanced")
            await stop(task, ex)

    asyncio.run(run())


# --- Bitfinex, OKX ------------------------------------------------------------------------

def test_bitfinex_and_okx_authenticate(env: AgentEnv) -> None:
    def reply(path: str, m: Any) -> List[Any]:
        if m.get("event") == "auth":
            return [{"event": "auth", "status": "OK", "chanId": 0, "userId": 1}]
        if m.get("op") == "login":
            return [{"event": "login", "code": "0", "msg": "", "connId": "1"}]
        return []

    async def run() -> None:
        async with LocalWs(reply) as server:
            key, secret, _ = CREDS["bitfinex"]
            ex = server.pro("bitfinex", login_name("bitfinex"), env)
            ex.urls["api"]["ws"]["private"] = server.base + "/ws/2"
            await asyncio.wait_for(ex.authenticate(), 10)
            m = await server.wait(lambda m: m.get("event") == "auth")
            assert m["apiKey"] == key and m["authPayload"] == "AUTH" + str(m["authNonce"])
            assert m["authSig"] == hmac_of(secret.encode(), m["authPayload"], hashlib.sha384).hex()
            no_secret_in(ex, "bitfinex")
            await ex.close()

            key, secret, passphrase = CREDS["okx"]
            ex = server.pro("okx", login_name("okx"), env)
            ex.urls["api"]["ws"] = server.base + "/ws/v5"
            await asyncio.wait_for(ex.authenticate(), 10)
            m = await server.wait(lambda m: m.get("op") == "login")
            a, = m["args"]
            assert a["apiKey"] == key and a["passphrase"] == passphrase
            fresh_s(a["timestamp"])
            expect = hmac_of(secret.encode(), a["timestamp"] + "GET/users/self/verify", hashlib.sha256)
            assert a["sign"] == base64.b64encode(expect).decode()
            no_secret_in(ex, "okx")
            await ex.close()

    asyncio.run(run())


# --- Kraken Futures, Deribit --------------------------------------------------------------

def test_kraken_futures_challenge_is_signed_by_the_agent(env: AgentEnv) -> None:
    key, secret, _ = CREDS["kraken-futures"]
    challenges: List[str] = []

    def reply(path: str, m: Any) -> List[Any]:
        if m.get("event") == "challenge":
            challenges.append(str(uuid.uuid4()))
            return [{"event": "challenge", "message": challenges[-1]}]
        return []

    async def run() -> None:
        async with LocalWs(reply) as server:
            ex = server.pro("krakenfutures", login_name("kraken-futures"), env)
            ex.urls["api"]["ws"] = server.base + "/ws/v1"
            ex.markets = {}
            task = await watching(ex.watch_balance())
            m = await server.wait(lambda m: m.get("event") == "subscribe")
            ask, = [x for _, x in server.received if x.get("event") == "challenge"]
            assert ask == {"event": "challenge", "api_key": key}
            assert m["feed"] == "balances" and m["api_key"] == key
            assert m["original_challenge"] == challenges[0]
            hashed = hashlib.sha256(challenges[0].encode()).digest()
            expect = hmac.new(base64.b64decode(secret), hashed, hashlib.sha512).digest()
            assert m["signed_challenge"] == base64.b64encode(expect).decode()
            no_secret_in(ex, "kraken-futures")
            await stop(task, ex)

        # A challenge that is no UUID (it could be a REST request's path) is not signed.
        async with LocalWs(lambda p, m: [{"event": "challenge", "message": "/api/v3/accounts"}]
                           if m.get("event") == "challenge" else []) as server:
            ex = server.pro("krakenfutures", login_name("kraken-futures"), env)
            ex.urls["api"]["ws"] = server.base + "/ws/v1"
            ex.markets = {}
            with pytest.raises(ccxt.NotSupported, match="challenge"):
                await asyncio.wait_for(ex.watch_balance(), 10)
            await ex.close()

    asyncio.run(run())


def test_deribit_public_auth(env: AgentEnv) -> None:
    key, secret, _ = CREDS["deribit"]

    def reply(path: str, m: Any) -> List[Any]:
        if m.get("method") == "public/auth":
            return [{"jsonrpc": "2.0", "id": m["id"], "result": {
                "token_type": "bearer", "access_token": "at", "refresh_token": "rt",
                "expires_in": 900, "scope": "trade:read"}}]
        return []

    async def run() -> None:
        async with LocalWs(reply) as server:
            ex = server.pro("deribit", login_name("deribit"), env)
            ex.urls["api"]["ws"] = server.base + "/ws/api/v2"
            task = await watching(ex.watch_balance())
            m = await server.wait(lambda m: m.get("method") == "public/auth")
            p = m["params"]
            assert p["grant_type"] == "client_signature" and p["client_id"] == key and p["data"] == ""
            fresh_ms(p["timestamp"])
            signed = f"{p['timestamp']}\n{p['nonce']}\n{p['data']}"
            assert p["signature"] == hmac_of(secret.encode(), signed, hashlib.sha256).hex()
            # ccxt resolved the login on the reply and subscribed to the portfolio.
            sub = await server.wait(lambda m: m.get("method") == "private/subscribe")
            assert any(c.startswith("user.portfolio") for c in sub["params"]["channels"])
            assert (await ex.authenticate())["result"]["access_token"] == "at"
            assert len([x for _, x in server.received if x.get("method") == "public/auth"]) == 1
            no_secret_in(ex, "deribit")
            await stop(task, ex)

    asyncio.run(run())


def test_each_pro_class_finds_its_login_code() -> None:
    """Subclasses log in as their parent does (okxus as okx, binanceusdm as binance, ...);
    Kraken and KuCoin need nothing replaced (REST tokens)."""
    from apisec_agent.ccxt import pro as pro_module

    expect = {"okxus": "okx", "binanceusdm": "binance", "binancecoinm": "binance",
              "kucoinfutures": None, "kraken": None, "kucoin": None}
    for ex_id in ["bitget", "okx", "bybit", "bitfinex", "gate", "binance", "htx", "deribit",
                  "coinbaseexchange", "coinbase", "krakenfutures", "mexc", *expect]:
        found = pro_module._pro_id(getattr(ccxtpro, ex_id)())
        assert found == expect.get(ex_id, ex_id), ex_id
    assert not hasattr(ccxtpro, "bitmex")  # ccxt 4.5.90 has none (its pro login: NotSupported)
