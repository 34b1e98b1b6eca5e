"""No REST request the agent signs is also a login (docs/threat-model.md, "Logins").

A login is a signature that opens a session whose later requests never pass through the agent: a
private WebSocket's authentication message, or the REST call that hands out a WebSocket token. For
every preset this file asks the real agent for the REST requests closest to that exchange's login
(the login's own path, every split of it across path, query and body, digits lent to the agent's
number, other spellings), under the standard policy and under one that signs unknown endpoints,
and checks each signature it gets against this file's own computation of the REST signed string
(from each exchange's REST authentication documentation, cited in test_bound_signatures.py), and
that string against the exchange's documented login string (cited beside each pattern below). The
computation agreeing with the agent's signature is what makes the string check mean something: an
HMAC signature is a login exactly when the string it signs is one.

With `allow_login = true` the paths that are logins are signed, and audited as class `login`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Tuple
from urllib.parse import unquote

import pytest

from apisec_agent import Agent
from apisec_agent.errors import AgentError
from apisec_agent.results import SignResult
from apisec_agent.testing import AgentEnv

sys.path.insert(0, os.path.dirname(__file__))

from test_bound_signatures import (  # noqa: E402
    EXCHANGES,
    PERMISSIVE,
    Req,
    attempt,
    b64,
    concat_prehash,
    digit_variants,
    hm,
    spellings,
    splits,
)


def ts_prehash(header: str) -> Callable[[Req, SignResult], bytes]:
    return lambda r, got: concat_prehash(got.headers[header], r)


def bitmex_prehash(r: Req, got: SignResult) -> bytes:
    path = r.path + ("?" + r.query if r.query else "")
    return (r.method + path + got.headers["api-expires"] + r.body).encode()


def bybit_prehash(r: Req, got: SignResult) -> bytes:
    # https://bybit-exchange.github.io/docs/v5/guide#create-a-request: ts + key + recvWindow +
    # (query string for GET, body for POST)
    h = got.headers
    payload = r.query if r.method == "GET" else r.body
    return (h["X-BAPI-TIMESTAMP"] + h["X-BAPI-API-KEY"] + h["X-BAPI-RECV-WINDOW"] + payload).encode()


def binance_prehash(r: Req, got: SignResult) -> bytes:
    # The query the agent returns, without its signature, then the body.
    query = "&".join(p for p in got.query.split("&") if not p.startswith("signature="))
    return (query + r.body).encode()


def kraken_prehash(r: Req, got: SignResult) -> bytes:
    body = (got.body or b"").decode()
    nonce = body.split("&")[0].removeprefix("nonce=")
    post = "nonce=" + nonce + ("&" + r.body if r.body else "")
    return r.path.encode() + hashlib.sha256((nonce + post).encode()).digest()


def kraken_futures_inner(r: Req, got: SignResult) -> bytes:
    # What Kraken Futures hashes before its HMAC: postData + Nonce + endpointPath. Its WebSocket
    # login hashes the challenge the same way, so this is the string compared with a challenge.
    endpoint = r.path[len("/derivatives"):] if r.path.startswith("/derivatives") else r.path
    return ((r.body or r.query) + got.headers["Nonce"] + endpoint).encode()


def htx_prehash(r: Req, got: SignResult) -> bytes:
    sent = [p for p in got.query.split("&") if p and not p.startswith("Signature=")]
    return f"{r.method}\napi.huobi.pro\n{r.path}\n{'&'.join(sorted(sent, key=lambda p: p.split('=')[0]))}".encode()


def gate_prehash(r: Req, got: SignResult) -> bytes:
    return "\n".join([r.method, r.path, r.query, hashlib.sha512(r.body.encode()).hexdigest(),
                      got.headers["Timestamp"]]).encode()


def bitfinex_prehash(r: Req, got: SignResult) -> bytes:
    return ("/api" + r.path + got.headers["bfx-nonce"] + r.body).encode()


@dataclass(frozen=True)
class Login:
    preset: str
    # The REST requests that come closest to the login: the login's own path first.
    near: List[Req]
    # The REST signed string, computed here; and the signature it gives, to check the agent's.
    prehash: Callable[[Req, SignResult], bytes]
    signature: Callable[[str, bytes], str]
    header: str
    # The exchange's login string, as its WebSocket documentation gives it.
    login: re.Pattern
    # Whether a REST request can be the login at all (then it is refused unless allow_login, and
    # signed and audited as a login with it), or the login string is one no REST signed string
    # can be (the closest requests are then signed, and shown to differ).
    reachable: bool


def hex256(secret: str, data: bytes) -> str:
    return hm(secret.encode(), data).hex()


def b64_256(secret: str, data: bytes) -> str:
    return b64(hm(secret.encode(), data))


def g(path: str, query: str = "") -> Req:
    return Req("GET", path, query, "")


def p(path: str, body: str = "") -> Req:
    return Req("POST", path, "", body)


LOGINS = [
    # https://www.bitget.com/api-doc/common/websocket-intro ("Login"): timestamp + GET + /user/verify
    # Its path is outside the preset's /api/ prefix.
    Login("bitget", [g("/user/verify"), g("/api/user/verify"), g("/api/v2/user/verify")],
          ts_prehash("ACCESS-TIMESTAMP"), b64_256, "ACCESS-SIGN",
          re.compile(rb"\d+GET/user/verify"), False),
    # https://www.okx.com/docs-v5/en/#overview-websocket-login: timestamp (Unix seconds) + GET +
    # /users/self/verify. The REST timestamp is ISO 8601.
    Login("okx", [g("/users/self/verify"), g("/api/v5/users/self/verify")],
          ts_prehash("OK-ACCESS-TIMESTAMP"), b64_256,
          "OK-ACCESS-SIGN", re.compile(rb"\d+(\.\d+)?GET/users/self/verify"), False),
    # https://docs.cdp.coinbase.com/exchange/docs/websocket-auth: timestamp + GET + /users/self/verify
    Login("coinbase-exchange", [g("/users/self/verify")], ts_prehash("CB-ACCESS-TIMESTAMP"),
          lambda s, d: b64(hm(base64.b64decode(s), d)), "CB-ACCESS-SIGN",
          re.compile(rb"\d+(\.\d+)?GET/users/self/verify"), True),
    # https://www.bitmex.com/app/wsAPI#API-Keys: "GET/realtime" + expires
    # Its path is outside the preset's /api/v1/ prefix.
    Login("bitmex", [g("/realtime"), g("/realtime1"), g("/api/v1/realtime"), g("/api/v1/realtime", "x=1")],
          bitmex_prehash, hex256, "api-signature", re.compile(rb"GET/realtime\d+"), False),
    # https://bybit-exchange.github.io/docs/v5/ws/connect#authentication: "GET/realtime" + expires
    Login("bybit", [g("/realtime"), g("/v5/account/info", "GET/realtime1"),
                    p("/v5/order/create", "GET/realtime1")],
          bybit_prehash, hex256, "X-BAPI-SIGN", re.compile(rb"GET/realtime\d+"), False),
    # https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/authentication-requests
    # (session.logon: apiKey + timestamp, sorted, signed like REST parameters) and
    # userDataStream.subscribe.signature: any signed parameter string naming apiKey is a WebSocket
    # API request of that key.
    Login("binance", [g("/api/v3/account", "apiKey=K"), g("/api/v3/account", "apiKey=K&recvWindow=5000"),
                      Req("POST", "/api/v3/order", "", "apiKey=K"), g("/api/v3/account", "apikey=K"),
                      g("/api/v3/account", "symbol=BTCUSDT&apiKey=K")],
          binance_prehash, hex256, "signature",
          re.compile(rb"(.*&)?apiKey=.*"), True),
    # https://docs.kraken.com/api/docs/rest-api/get-websockets-token: the WebSocket token itself
    Login("kraken", [p("/0/private/GetWebSocketsToken")], kraken_prehash,
          lambda s, d: b64(hm(base64.b64decode(s), d, hashlib.sha512)), "API-Sign",
          re.compile(rb"/0/private/GetWebSocketsToken.{32}", re.S), True),
    # https://www.kucoin.com/docs-new/websocket-api/base-info/get-private-token: the token itself
    Login("kucoin", [p("/api/v1/bullet-private"), p("/api/v2/bullet-private")],
          ts_prehash("KC-API-TIMESTAMP"), b64_256, "KC-API-SIGN",
          re.compile(rb"\d+POST/api/v[12]/bullet-private.*", re.S), True),
    # https://huobiapi.github.io/docs/spot/v1/en/#authentication and the contract WebSocket
    # "authentication" sections: GET\nhost\npath\n + the four auth parameters and nothing else
    # (v1), or v2's lower-case names with signatureVersion=2.1.
    Login("htx", [g("/ws/v1"), g("/ws/v2"), g("/notification"), g("/linear-swap-notification")],
          htx_prehash, b64_256, "Signature",
          re.compile(rb"GET\n[^\n]+\n/(ws/v1|ws/v2|ws/v5/notification|notification|swap-notification|linear-swap-notification)\n"
                     rb"(AccessKeyId=[^&]*&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=[^&]*"
                     rb"|accessKey=[^&]*&signatureMethod=HmacSHA256&signatureVersion=2\.1&timestamp=[^&]*)"),
          True),
    # https://www.gate.io/docs/developers/apiv4/ws/en/#authentication:
    # "channel=<channel>&event=<event>&time=<time>"; WebSocket API login: "api\n<channel>\n\n<time>"
    Login("gate", [g("/api/v4/spot/accounts", "channel=spot.orders&event=subscribe&time=1")],
          gate_prehash, lambda s, d: hm(s.encode(), d, hashlib.sha512).hex(), "SIGN",
          re.compile(rb"channel=[^&]*&event=[^&]*&time=\d+|api\n[^\n]*\n[^\n]*\n\d+"), False),
    # https://docs.bitfinex.com/docs/ws-auth: "AUTH" + nonce, HMAC-SHA384
    Login("bitfinex", [p("/v2/auth/r/wallets", "{}")], bitfinex_prehash,
          lambda s, d: hm(s.encode(), d, hashlib.sha384).hex(), "bfx-signature",
          re.compile(rb"AUTH\d+"), False),
    # https://docs.kraken.com/api/docs/guides/futures-websockets: the challenge, a UUID, hashed and
    # signed exactly like a REST request's postData + Nonce + endpointPath.
    Login("kraken-futures", [Req("POST", "/derivatives", "", "c094497e-9b5f-40da-a122-3751c39b107f"),
                             Req("POST", "/derivatives/api/v3/accounts", "", "c094497e-9b5f-40da-a122-"),
                             Req("POST", "/derivatives/api/v3/accounts", "",
                                 "x=c094497e-9b5f-40da-a122-3751c39b107f")],
          kraken_futures_inner,
          lambda s, d: b64(hm(base64.b64decode(s), hashlib.sha256(d).digest(), hashlib.sha512)),
          "Authent",
          re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), False),
]

SECRETS = {
    "bitget": (os.urandom(24).hex(), "pp"),
    "okx": (os.urandom(24).hex(), "pp"),
    "coinbase-exchange": (b64(os.urandom(64)), "pp"),
    "bitmex": (os.urandom(24).hex(), None),
    "bybit": (os.urandom(24).hex(), None),
    "binance": (os.urandom(24).hex(), None),
    "kraken": (b64(os.urandom(64)), None),
    "kucoin": (os.urandom(24).hex(), "pp"),
    "htx": (os.urandom(24).hex(), None),
    "gate": (os.urandom(24).hex(), None),
    "bitfinex": (os.urandom(24).hex(), None),
    "kraken-futures": (b64(os.urandom(64)), None),
}

POLICIES = {"std": "", "open": PERMISSIVE, "logins": "allow_login = true\n"}


@pytest.fixture(scope="module")
def login_env() -> Iterator[AgentEnv]:
    env = AgentEnv("apisec-logins-")
    try:
        env.init()
        names = []
        for policy, text in POLICIES.items():
            path = env.root / f"{policy}.toml"
            path.write_text(text)
            for preset, (secret, passphrase) in SECRETS.items():
                name = f"{preset}-{policy}"
                extra = ["--policy", str(path)] if text else []
                env.add(name, preset, "k" + os.urandom(4).hex(), secret.encode(),
                        None if passphrase is None else passphrase.encode(), extra)
                names.append(name)
        env.start()
        env.unlock(*names)
        yield env
    finally:
        env.close()


def variants(login: Login, r: Req) -> Iterator[Req]:
    bound = next((e for e in EXCHANGES if e.preset == login.preset), None)
    yield r
    if bound is not None:
        yield from splits(bound, r)
        yield from digit_variants(bound, r)
    yield from spellings(r)


def signature_in(login: Login, got: SignResult) -> str:
    """The signature as the agent returned it: a header, or (Binance, HTX) a query parameter."""
    if login.header in ("signature", "Signature"):
        return unquote(dict(kv.split("=", 1) for kv in got.query.split("&"))[login.header])
    return got.headers[login.header]


def last_signature_record(env: AgentEnv, name: str) -> dict:
    """The audit log's last record of a signature by `name`, once the writer has written it (it
    writes behind the reply)."""
    path = env.home / ".local/state/apisec/audit.jsonl"
    deadline = time.monotonic() + 10
    while True:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        mine = [x for x in records if x.get("secret") == name and x.get("action") == "sign"]
        if mine:
            return mine[-1]
        assert time.monotonic() < deadline, f"no signature of {name} in the audit log: {records}"
        time.sleep(0.05)


@pytest.mark.parametrize("login", LOGINS, ids=[x.preset for x in LOGINS])
def test_no_rest_request_is_a_login(login_env: AgentEnv, login: Login) -> None:
    secret = SECRETS[login.preset][0]
    signed = 0
    tried = 0
    with Agent(str(login_env.socket)) as agent:
        for policy in ("std", "open"):
            name = f"{login.preset}-{policy}"
            for near in login.near:
                for r in variants(login, near):
                    tried += 1
                    got = attempt(agent, None, name, r)
                    if got is None:
                        continue
                    signed += 1
                    pre = login.prehash(r, got)
                    assert signature_in(login, got) == login.signature(secret, pre), (
                        f"{name}: this file's REST signed string for {r} disagrees with the agent")
                    assert not login.login.fullmatch(pre), (
                        f"{name}: the signature of {r} signs a login string: {pre!r}")
    assert tried > 2 * len(login.near)
    if not login.reachable:
        # Impossible by construction: show that the closest requests were signed, and differ.
        assert signed > 0, f"{login.preset}: nothing near its login was signed, so nothing was shown"


@pytest.mark.parametrize("login", [x for x in LOGINS if x.reachable],
                         ids=[x.preset for x in LOGINS if x.reachable])
def test_with_allow_login_the_login_is_signed_and_audited_as_one(login_env: AgentEnv,
                                                                  login: Login) -> None:
    secret = SECRETS[login.preset][0]
    name = f"{login.preset}-logins"
    r = login.near[0]
    with Agent(str(login_env.socket)) as agent:
        got = attempt(agent, None, name, r)
        assert got is not None, f"{name}: {r} refused with allow_login = true"
        pre = login.prehash(r, got)
        assert login.login.fullmatch(pre), f"{name}: {pre!r} is not the login string"
        assert signature_in(login, got) == login.signature(secret, pre)
    record = last_signature_record(login_env, name)
    assert record["decision"] == "allowed" and record["class"] == "login", record
    assert record["signed_sha256"] == hashlib.sha256(pre).hexdigest(), record


def test_a_deribit_secret_needs_allow_login_since_every_signature_is_one(tmp_path) -> None:
    """Deribit's HTTP signature over ts\\nnonce\\nMETHOD\\nURI\\nbody\\n is also the
    client_signature of public/auth with data = the last three lines
    (https://docs.deribit.com/#authentication): shown here by computing that grant."""
    env = AgentEnv("apisec-deribit-")
    secret = os.urandom(24).hex()
    try:
        env.init()
        with pytest.raises(AssertionError) as refused:
            env.add("d", "deribit", "client", secret.encode())
        message = str(refused.value)
        assert "allow_login" in message and "public/auth" in message, message
        logins = env.root / "logins.toml"
        logins.write_text("allow_login = true\n")
        env.add("d", "deribit", "client", secret.encode(), None, ["--policy", str(logins)])
        env.start()
        env.unlock("d")
        with Agent(str(env.socket)) as agent:
            got = agent.sign("d", "GET", "/api/v2/private/get_account_summary", "currency=BTC", None)
        auth = dict(kv.split("=", 1) for kv in got.headers["Authorization"].split(" ", 1)[1].split(","))
        data = "GET\n/api/v2/private/get_account_summary?currency=BTC\n\n"
        grant = hm(secret.encode(), f"{auth['ts']}\n{auth['nonce']}\n{data}".encode()).hex()
        assert auth["sig"] == grant, "the REST signature is the public/auth grant"
        record = last_signature_record(env, "d")
        assert record["class"] == "login" and record["decision"] == "allowed", record
    finally:
        env.close()


def test_binance_signatures_never_carry_an_api_key_parameter(login_env: AgentEnv) -> None:
    """The refusal names what was wrong, for each spelling a server might accept."""
    with Agent(str(login_env.socket)) as agent:
        for query in ("apiKey=K", "apikey=K", "APIKEY=K", "symbol=X&apiKey=K"):
            with pytest.raises(AgentError) as refused:
                agent.sign("binance-open", "GET", "/api/v3/account", query, None)
            assert "login" in str(refused.value), refused.value


# --- The converse: every login the agent returns is a login string ----------------------------
# Each login's signed string, rebuilt here from the fields the agent returned and the exchange's
# WebSocket documentation (cited in LOGINS above), is checked against its signature (so the
# rebuilding is right) and against the login pattern. With test_no_rest_request_is_a_login,
# which shows the REST strings the agent signs never match that pattern unless refused as a
# login, no login the agent returns is also a REST signature.

def htx_login_string(kind: str, f: dict) -> bytes:
    from urllib.parse import quote
    path = {"spot": "/ws/v2", "swap": "/swap-notification", "futures": "/notification",
            "unified": "/ws/v5/notification"}.get(kind, "/linear-swap-notification")
    if kind == "spot":
        q = (f"accessKey={quote(f['accessKey'], safe='')}&signatureMethod=HmacSHA256"
             f"&signatureVersion=2.1&timestamp={quote(f['timestamp'], safe='')}")
    else:
        q = (f"AccessKeyId={quote(f['AccessKeyId'], safe='')}&SignatureMethod=HmacSHA256"
             f"&SignatureVersion=2&Timestamp={quote(f['Timestamp'], safe='')}")
    return f"GET\n{f['host']}\n{path}\n{q}".encode()


# (preset, kind, challenge): (the signed string, the signature field, its computation)
REBUILD: Dict[str, Callable[[str, dict], Tuple[bytes, str, Callable[[str, bytes], str]]]] = {
    "bitget": lambda k, f: (f"{f['timestamp']}GET/user/verify".encode(), "sign", b64_256),
    "okx": lambda k, f: (f"{f['timestamp']}GET/users/self/verify".encode(), "sign", b64_256),
    "coinbase-exchange": lambda k, f: (f"{f['timestamp']}GET/users/self/verify".encode(), "signature",
                                       lambda s, d: b64(hm(base64.b64decode(s), d))),
    "bitmex": lambda k, f: (f"GET/realtime{f['expires']}".encode(), "signature", hex256),
    "bybit": lambda k, f: (f"GET/realtime{f['expires']}".encode(), "signature", hex256),
    "binance": lambda k, f: (f"apiKey={f['apiKey']}&timestamp={f['timestamp']}".encode(), "signature", hex256),
    "htx": lambda k, f: (htx_login_string(k, f), "signature" if k == "spot" else "Signature", b64_256),
    "gate": lambda k, f: ((f"api\n{f['channel']}\n{{}}\n{f['timestamp']}" if k.endswith(".login")
                           else f"channel={f['channel']}&event=subscribe&time={f['time']}").encode(),
                          "signature" if k.endswith(".login") else "SIGN",
                          lambda s, d: hm(s.encode(), d, hashlib.sha512).hex()),
    "bitfinex": lambda k, f: (f["authPayload"].encode(), "authSig",
                              lambda s, d: hm(s.encode(), d, hashlib.sha384).hex()),
    "kraken-futures": lambda k, f: (f["original_challenge"].encode(), "signed_challenge",
                                    lambda s, d: b64(hm(base64.b64decode(s), hashlib.sha256(d).digest(),
                                                        hashlib.sha512))),
}

LOGIN_CASES = [("bitget", ""), ("okx", ""), ("coinbase-exchange", ""), ("bitmex", ""), ("bybit", ""),
               ("binance", "user-data"), ("htx", "spot"), ("htx", "linear-swap"), ("htx", "swap"),
               ("htx", "futures"), ("htx", "unified"), ("gate", "spot.balances"), ("gate", "futures.orders"),
               ("gate", "spot.login"), ("bitfinex", ""), ("kraken-futures", "")]


@pytest.mark.parametrize("case", LOGIN_CASES, ids=[f"{p}-{k or 'default'}" for p, k in LOGIN_CASES])
def test_every_login_the_agent_returns_is_a_login_string(login_env: AgentEnv, case: Tuple[str, str]) -> None:
    preset, kind = case
    secret = SECRETS[preset][0]
    pattern = next(x for x in LOGINS if x.preset == preset).login
    challenge = "c094497e-9b5f-40da-a122-3751c39b107f" if preset == "kraken-futures" else None
    with Agent(str(login_env.socket)) as agent:
        got = agent.login(f"{preset}-logins", kind=kind or None, challenge=challenge)
        with pytest.raises(AgentError, match="allow_login"):
            agent.login(f"{preset}-std", kind=kind or None, challenge=challenge)
    signed, field, compute = REBUILD[preset](kind, got.fields)
    assert got.fields[field] == compute(secret, signed), f"{preset}: the string rebuilt here is not the one signed"
    assert pattern.fullmatch(signed), f"{preset}: {signed!r} is not a login string"


def test_exchanges_without_a_login_name_the_rest_call(login_env: AgentEnv) -> None:
    with Agent(str(login_env.socket)) as agent:
        for preset, call in [("kraken", "GetWebSocketsToken"), ("kucoin", "bullet-private")]:
            with pytest.raises(AgentError, match=call):
                agent.login(f"{preset}-logins")
