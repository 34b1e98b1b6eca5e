"""Every preset signs request shapes whose values need encoding exactly as ccxt 4.5.90 signs them,
with ccxt's clock pinned: the oracle is ccxt's own signing (an implementation this project did
not write), driven through its implicit API methods with the network replaced, and the request
ccxt would send (URL, body, timestamp, nonce) handed to a real agent as a client would.

Where ccxt and the exchange's documentation disagree, the documentation wins and the test says
how: ccxt sends KuCoin's query unencoded (the agent is given it encoded, both sign it decoded);
ccxt's Kraken Futures signature omits the nonce the agent always stamps (the documented Authent
with a nonce is computed over ccxt's postData with ccxt's own hash functions); Binance's
payloads are percent-encoded before signing since 2026-01-15 (ccxt's `urlencode` path, which
every case here takes). BitMEX is not in ccxt 4.5.90: its shapes go through ccxt 4.5.83, the last
with it, in a subprocess (and its published examples are in the agent's unit tests); Coinbase
Advanced's JWT covers neither query nor body, so its cases check that the
JWT's claims equal ccxt's and its signature verifies with the key's public half.

Values: a space, '+', '/', '=', '&', '%', '#', non-ASCII, empty; nested unicode JSON bodies.
Where the exchange signs the query decoded (Bitget, KuCoin, Gate, Bybit), a value holding '&' or
'=' is refused: the decoded bytes would read as other parameters; so is a JSON body holding '&'
for Kraken and BitMEX (the same bytes are a form) and Bybit (they are a GET's decoded query).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import ccxt
import pytest

from apisec_agent import Agent
from apisec_agent.errors import AgentError
from apisec_agent.testing import AgentEnv

sys.path.insert(0, os.path.dirname(__file__))
from ccxt_compare import capture, pin  # noqa: E402

T = 1767225600123  # 2026-01-01T00:00:00.123Z

VALUES = {
    "space": "a b", "plus": "a+b", "slash": "a/b", "equals": "a=b", "amp": "a&b",
    "percent": "100%", "hash": "a#b", "unicode": "\u20acuro \u00fc \u4e2d", "empty": "",
}
SEPARATORS = ("equals", "amp")
NESTED = {"a": ["\u20ac", "x&y=z", {"q": '"quoted" /\\ \u00fc'}], "n": 1.5, "t": True}
DECODED = ("bitget", "kucoin", "gate", "bybit")
AMPERSAND_IS_A_FORM = ("bybit", "kraken", "bitmex")


def _p256_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _b64secret() -> str:
    return base64.b64encode(os.urandom(64)).decode()


@dataclass(frozen=True)
class Preset:
    preset: str
    ccxt_id: str
    secret: str
    passphrase: Optional[str]
    # The implicit API methods: (name, carries a query) pairs; a GET's params go to the query.
    methods: Tuple[Tuple[str, str], ...]
    host: Optional[str] = None


def presets() -> List[Preset]:
    hexs = os.urandom(24).hex()
    return [
        Preset("bitget", "bitget", hexs, "bg-pass", (
            ("private_spot_get_v2_spot_trade_unfilled_orders", "query"),
            ("private_spot_post_v2_spot_trade_place_order", "json"))),
        Preset("binance", "binance", hexs, None, (
            ("private_get_openorders", "query"), ("private_post_order", "form"))),
        Preset("okx", "okx", hexs, "okx-pass", (
            ("private_get_account_balance", "query"), ("private_post_trade_order", "json"))),
        Preset("bybit", "bybit", hexs, None, (
            ("private_get_v5_order_realtime", "query"), ("private_post_v5_order_create", "json"))),
        Preset("kraken", "kraken", _b64secret(), None, (
            ("private_post_closedorders", "form"), ("private_post_addorderbatch", "json"))),
        Preset("kraken-futures", "krakenfutures", _b64secret(), None, (
            ("private_get_openorders", "query"), ("history_get_account_log", "query"))),
        Preset("coinbase-exchange", "coinbaseexchange", _b64secret(), "cb-pass", (
            ("private_get_orders", "query"), ("private_post_orders", "json"))),
        Preset("kucoin", "kucoin", hexs, "kc-pass", (
            ("private_get_orders", "query"), ("private_post_orders", "json"))),
        Preset("gate", "gate", hexs, None, (
            ("private_spot_get_orders", "query"), ("private_spot_post_orders", "json"))),
        Preset("mexc", "mexc", hexs, None, (
            ("spot_private_get_allorders", "query"), ("spot_private_post_order", "form"))),
        Preset("htx", "htx", hexs, None, (
            ("spot_private_get_v1_order_openorders", "query"),)),
        # The contract API: signed for its own host, ccxt's api.hbdm.vn.
        Preset("htx", "htx", hexs, None, (
            ("contract_private_get_v5_account_balance", "query"),
            ("contract_private_post_api_v1_contract_account_info", "json")), host="api.hbdm.vn"),
        Preset("bitfinex", "bitfinex", hexs, None, (("private_post_auth_r_orders", "json"),)),
        Preset("deribit", "deribit", hexs, None, (
            ("private_get_get_open_orders_by_currency", "query"),)),
        Preset("coinbase-advanced", "coinbase", _p256_pem(), None, (
            ("v3_private_get_brokerage_orders_historical_batch", "query"),
            ("v3_private_post_brokerage_orders", "json"))),
    ]


PRESETS = presets()
BITMEX_SECRET = os.urandom(24).hex()


def cases() -> Iterator[Tuple[Preset, str, str, Dict[str, Any]]]:
    for p in PRESETS:
        for method, kind in p.methods:
            for label, value in VALUES.items():
                yield p, method, label, {"symbol": "BTC-USDT", "note": value}
            if kind == "json":
                yield p, method, "nested-unicode-json", {"symbol": "BTC-USDT", "note": NESTED}


def case_id(c: Tuple[Preset, str, str, Dict[str, Any]]) -> str:
    return f"{c[0].preset}{'@' + c[0].host if c[0].host else ''}-{c[1]}-{c[2]}"


CASES = list(cases())


def name_of(p: Preset) -> str:
    return f"{p.preset}-shapes"


@pytest.fixture(scope="module")
def shapes_agent() -> Iterator[Agent]:
    env = AgentEnv("apisec-shapes-")
    try:
        env.init()
        # Every Deribit signature is also a login: its secret signs only with allow_login.
        logins = env.root / "logins.toml"
        logins.write_text("allow_login = true\n")
        names = set()
        for p in PRESETS:
            if name_of(p) in names:
                continue
            extra = ["--freshness", "off"]
            if p.preset == "deribit":
                extra += ["--policy", str(logins)]
            if p.preset == "coinbase-advanced":
                key = env.root / "cb.pem"
                key.write_text(p.secret)
                env.check(env.agent_cmd("add", name_of(p), "--exchange", p.preset, "--api-key",
                                        "organizations/o/apiKeys/k", "--private-key-file",
                                        str(key), *extra), "add coinbase-advanced")
                key.unlink()
            else:
                env.add(name_of(p), p.preset, "key-" + p.preset, p.secret.encode(),
                        None if p.passphrase is None else p.passphrase.encode(), extra)
            names.add(name_of(p))
        env.add("bitmex-shapes", "bitmex", "key-bitmex", BITMEX_SECRET.encode(), None,
                ["--freshness", "off"])
        names.add("bitmex-shapes")
        env.start()
        env.unlock(*names)
        with Agent(str(env.socket)) as agent:
            yield agent
    finally:
        env.close()


def ccxt_request(p: Preset, method: str, params: Dict[str, Any]) -> Dict[str, Any]:
    api_key = "organizations/o/apiKeys/k" if p.preset == "coinbase-advanced" else "key-" + p.preset
    ex = getattr(ccxt, p.ccxt_id)({"apiKey": api_key, "secret": p.secret,
                                   "password": p.passphrase or "", "enableRateLimit": False})
    pin(ex, T)
    ex.nonce = lambda: T  # Bitfinex, Deribit and Kraken number their requests from it
    seen = capture(ex)
    getattr(ex, method)(copy.deepcopy(params))
    assert len(seen) == 1, seen
    return seen[0]


# --- What each exchange's request carries besides the client's own parts --------------------
# (auth parameters ccxt put in the query, the stamp, the signature), read from ccxt's request.

# The agent appends the signature; HTX's four other parameters too. Binance's timestamp stays
# where ccxt put it, first, left empty for the agent to stamp; MEXC's stays as ccxt stamped it.
AUTH_QUERY = {
    "binance": ("signature",),
    "mexc": ("signature",),
    "htx": ("AccessKeyId", "SignatureMethod", "SignatureVersion", "Timestamp", "Signature"),
}


def without(query: str, names: Tuple[str, ...]) -> str:
    return "&".join(kv for kv in query.split("&") if kv and kv.split("=", 1)[0] not in names)


def query_param(query: str, name: str) -> str:
    return dict(parse_qsl(query, keep_blank_values=True))[name]


def stamp(p: Preset, req: Dict[str, Any], query: str, body: str) -> Tuple[str, Optional[str]]:
    """(timestamp, nonce) ccxt signed with, in the agent's form for the preset."""
    h = req["headers"] or {}
    pick: Dict[str, Callable[[], Tuple[str, Optional[str]]]] = {
        "bitget": lambda: (h["ACCESS-TIMESTAMP"], None),
        "okx": lambda: (h["OK-ACCESS-TIMESTAMP"], None),
        "bybit": lambda: (h["X-BAPI-TIMESTAMP"], None),
        "kucoin": lambda: (h["KC-API-TIMESTAMP"], None),
        "gate": lambda: (h["Timestamp"], None),
        "coinbase-exchange": lambda: (h["CB-ACCESS-TIMESTAMP"], None),
        "binance": lambda: (query_param(query or body, "timestamp"), None),
        "mexc": lambda: (query_param(query, "timestamp"), None),
        "htx": lambda: (query_param(query, "Timestamp") + ".000Z", None),
        "kraken": lambda: ("", body.split("&")[0].removeprefix("nonce=") if not body.startswith("{")
                           else str(json.loads(body)["nonce"])),
        "kraken-futures": lambda: ("", str(T)),
        "bitfinex": lambda: ("", h["bfx-nonce"]),
        "deribit": lambda: tuple(  # type: ignore[return-value]
            dict(kv.split("=", 1) for kv in h["Authorization"].split(" ", 1)[1].split(","))[k]
            for k in ("ts", "nonce")),
        "coinbase-advanced": lambda: (str(T // 1000), None),
    }
    return pick[p.preset]()


# Where ccxt puts the query in the URL unencoded (as it signs it): a client sends it encoded.
RAW_IN_URL = ("kucoin", "bybit")


def client_parts(p: Preset, req: Dict[str, Any], params: Dict[str, Any]) -> Tuple[str, str, str]:
    """(path, query, body) as the client hands them to the agent."""
    url = urlsplit(req["url"])
    query = without(url.query, AUTH_QUERY.get(p.preset, ()))
    if p.preset in RAW_IN_URL and "?" in req["url"]:
        # A '#' would end the URL's query; the parameters are the caller's, in ccxt's order.
        raw = req["url"].split("?", 1)[1]
        names = [kv.split("=", 1)[0] for kv in raw.split("&") if kv.split("=", 1)[0] in params]
        query = urlencode([(k, str(params[k])) for k in names], quote_via=quote)
    body = req["body"] or ""
    if p.preset == "binance":
        # Binance signs query + body alike: ccxt's POST string is handed over as the query, as
        # the adapter does, with ccxt's timestamp first and empty.
        query = without(query or body, AUTH_QUERY["binance"])
        assert query.startswith("timestamp=")
        query = "timestamp=&" + query.split("&", 1)[1] if "&" in query else "timestamp="
        body = ""
    if p.preset == "kraken":
        body = (without(body, ("nonce",)) if not body.startswith("{") else
                json.dumps({k: v for k, v in json.loads(body).items() if k != "nonce"},
                           separators=(",", ":"), ensure_ascii=False))
    return url.path, query, body


def ccxt_signature(p: Preset, req: Dict[str, Any], path: str, query: str) -> str:
    h = req["headers"] or {}
    sent_query = urlsplit(req["url"]).query
    return {
        "bitget": lambda: h["ACCESS-SIGN"], "okx": lambda: h["OK-ACCESS-SIGN"],
        "bybit": lambda: h["X-BAPI-SIGN"], "kucoin": lambda: h["KC-API-SIGN"],
        "gate": lambda: h["SIGN"], "coinbase-exchange": lambda: h["CB-ACCESS-SIGN"],
        "binance": lambda: query_param(sent_query or req["body"], "signature"),
        "mexc": lambda: query_param(sent_query, "signature"),
        "htx": lambda: query_param(sent_query, "Signature"),
        "kraken": lambda: h["API-Sign"], "bitfinex": lambda: h["bfx-signature"],
        "deribit": lambda: h["Authorization"],
        "kraken-futures": lambda: kraken_futures_authent(p, path, query),
    }[p.preset]()


def kraken_futures_authent(p: Preset, path: str, query: str) -> str:
    """The documented Authent, SHA-256(postData + Nonce + endpointPath) under HMAC-SHA512, over
    ccxt's own postData, with ccxt's hash and HMAC functions (ccxt signs no nonce)."""
    ex = ccxt.krakenfutures()
    endpoint = path.removeprefix("/derivatives")
    digest = ex.hash(ex.encode(query + str(T) + endpoint), "sha256", "binary")
    return ex.hmac(digest, ex.base64_to_binary(p.secret), hashlib.sha512, "base64")


def agent_signature(p: Preset, got: Any) -> str:
    h = got.headers
    return {
        "bitget": lambda: h["ACCESS-SIGN"], "okx": lambda: h["OK-ACCESS-SIGN"],
        "bybit": lambda: h["X-BAPI-SIGN"], "kucoin": lambda: h["KC-API-SIGN"],
        "gate": lambda: h["SIGN"], "coinbase-exchange": lambda: h["CB-ACCESS-SIGN"],
        "binance": lambda: got.query_additions["signature"],
        "mexc": lambda: got.query_additions["signature"],
        "htx": lambda: query_param(got.query, "Signature"),
        "kraken": lambda: h["API-Sign"], "bitfinex": lambda: h["bfx-signature"],
        "deribit": lambda: h["Authorization"], "kraken-futures": lambda: h["Authent"],
    }[p.preset]()


def jwt_parts(token: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    head, claims, _ = token.split(".")
    dec = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return dec(head), dec(claims)


def check_coinbase_advanced(p: Preset, req: Dict[str, Any], got: Any) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    want_head, want_claims = jwt_parts(req["headers"]["Authorization"].removeprefix("Bearer "))
    token = got.headers["Authorization"].removeprefix("Bearer ")
    head, claims = jwt_parts(token)
    assert {k: head[k] for k in ("alg", "kid", "typ")} == \
        {k: want_head[k] for k in ("alg", "kid", "typ")}
    # ccxt still writes the legacy claims (iss "coinbase-cloud", aud, iat); Coinbase's own SDK
    # (coinbase-advanced-py, jwt_generator.py) writes iss "cdp" and no aud: the agent follows it.
    same = ("sub", "nbf", "exp", "uri")
    assert {k: claims[k] for k in same} == {k: want_claims[k] for k in same}
    assert claims["iss"] == "cdp" and want_claims["iss"] == "coinbase-cloud"
    signing_input, sig = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    public = serialization.load_pem_private_key(p.secret.encode(), None).public_key()
    public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                       int.from_bytes(raw[32:], "big")),
                  signing_input.encode(), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_signed_as_ccxt_signs_it(case: Any, shapes_agent: Agent) -> None:
    p, method, label, params = case
    req = ccxt_request(p, method, params)
    path, query, body = client_parts(p, req, params)
    ts, nonce = stamp(p, req, urlsplit(req["url"]).query, req["body"] or "")
    sign = lambda: shapes_agent.sign(  # noqa: E731
        name_of(p), req["method"], path, query, body.encode() or None,
        timestamp=ts or None, nonce=nonce, host=p.host)
    if p.preset in DECODED and label in SEPARATORS and "note=" in query:
        with pytest.raises(AgentError, match="signs the query decoded"):
            sign()
        return
    if p.preset in AMPERSAND_IS_A_FORM and "&" in body and body.startswith("{"):
        # The same bytes would also be a form (Kraken, by Content-Type) or a GET's decoded
        # query (Bybit): refused, ccxt sending it nonetheless.
        with pytest.raises(AgentError, match="u0026"):
            sign()
        return
    got = sign()
    if p.preset == "coinbase-advanced":
        check_coinbase_advanced(p, req, got)
        return
    assert agent_signature(p, got) == ccxt_signature(p, req, path, query), (path, query, body)
    if p.preset in ("binance", "mexc", "htx"):
        # What the agent says to send is what ccxt sends (the same parameters, encoded alike).
        sent = urlsplit(req["url"]).query or req["body"] or ""
        assert sorted(got.query.split("&")) == sorted(sent.split("&"))
    if p.preset == "kraken":
        assert got.body is not None and got.body.decode() == req["body"]


def test_every_preset_but_bitmex_has_cases() -> None:
    from apisec_agent.testing import AgentEnv as _  # noqa: F401  (the same package the agent ships)
    covered = {p.preset for p in PRESETS}
    assert len(covered) == 14 and "bitmex" not in covered
    assert len(CASES) >= 14 * 9


BITMEX_RUNNER = r"""
import json, os, sys
import ccxt
assert ccxt.__version__ == "4.5.83", ccxt.__version__
values = json.loads(os.environ["VALUES"])
nested = json.loads(os.environ["NESTED"])
out = []
for label, value in list(values.items()) + [("nested-unicode-json", nested)]:
    for method in ("private_get_order", "private_post_order"):
        if label == "nested-unicode-json" and method == "private_get_order":
            continue
        ex = ccxt.bitmex({"apiKey": "key-bitmex", "secret": os.environ["SECRET"],
                          "enableRateLimit": False})
        ex.seconds = lambda: 1767225600
        seen = []
        ex.fetch = lambda url, method="GET", headers=None, body=None: seen.append(
            {"url": url, "method": method, "headers": headers, "body": body}) or {}
        getattr(ex, method)({"symbol": "XBTUSD", "note": value})
        out.append([label, seen[0]])
print(json.dumps(out))
"""


def test_bitmex_signed_as_ccxt_4_5_83_signs_it(shapes_agent: Agent) -> None:
    """BitMEX (no longer in ccxt 4.5.90): the same shapes through ccxt 4.5.83, the last ccxt with
    it, installed as test_ccxt_versions.py installs it, in a subprocess of its own."""
    from test_ccxt_versions import installed

    target = installed("4.5.83")
    env = dict(os.environ, PYTHONPATH=str(target), SECRET=BITMEX_SECRET,
               VALUES=json.dumps(VALUES), NESTED=json.dumps(NESTED), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", BITMEX_RUNNER], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    cases = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(cases) == 2 * len(VALUES) + 1
    signed = 0
    for label, req in cases:
        url = urlsplit(req["url"])
        body = req["body"] or ""

        def sign() -> Any:
            return shapes_agent.sign("bitmex-shapes", req["method"], url.path, url.query,
                                     body.encode() or None,
                                     timestamp=req["headers"]["api-expires"])

        if "&" in body and body.startswith("{"):
            # BitMEX takes form bodies too: the same bytes would be a form. Refused.
            with pytest.raises(AgentError, match="u0026"):
                sign()
            continue
        got = sign()
        signed += 1
        assert got.headers["api-signature"] == req["headers"]["api-signature"], (label, req)
    assert signed >= 2 * len(VALUES) - 1, signed
