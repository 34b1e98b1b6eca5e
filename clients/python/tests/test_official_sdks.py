"""The agent's signatures checked against the exchanges' OFFICIAL Python SDKs, offline.

The oracle is independent of this repository: Gate's `gate-api`, KuCoin's `kucoin-universal-sdk`
and Binance's `binance-sdk-spot` (versions pinned in pyproject.toml's `test` extra). For each, the
SDK's own signing code builds the signed request from the same key, secret, passphrase,
timestamp, method, path, query and body the agent is given (the SDKs' clocks are pinned, and
Binance's HTTP session gets an adapter that records the request instead of sending it), and the
agent's headers, query and body are compared with it byte for byte. The shapes are the ones where
encoding matters: a space, '+', '/', '%', '#', non-ASCII, an empty value, several parameters, JSON
bodies (nested, unicode) and Binance form bodies; and the values Gate and KuCoin cannot sign
unambiguously ('&', '=' in a value: the SDKs sign the query decoded, so such a query has the
signed string of another query), which the agent must refuse while Binance signs them encoded.
"""

from __future__ import annotations

import json
import os
import types
from typing import Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import gate_api
import pytest
import requests
from binance_common import utils as bn_utils
from binance_common.configuration import ConfigurationRestAPI
from binance_sdk_spot.rest_api.rest_api import SpotRestAPI
from gate_api import api_client as gate_api_client
from kucoin_universal_sdk.internal.infra import default_signer as kc_default_signer
from kucoin_universal_sdk.internal.infra.default_transport import DefaultTransport
from kucoin_universal_sdk.model.client_option import ClientOption

from apisec_agent import Agent
from apisec_agent.errors import AgentError
from apisec_agent.results import SignResult
from apisec_agent.testing import AgentEnv

GATE_KEY, GATE_SECRET = "gt" + os.urandom(8).hex(), os.urandom(24).hex()
KC_KEY, KC_SECRET, KC_PASS = "kc" + os.urandom(8).hex(), os.urandom(24).hex(), "kc-Pass #€3"
BN_KEY, BN_SECRET = "bn" + os.urandom(16).hex(), os.urandom(24).hex()
GATE_TS = 1767225600  # Unix seconds (Gate); the SDK formats it with '%s'
KC_TS_MS = 1767225600500  # milliseconds (KuCoin); .5 s is exact in binary, so int(t * 1000) is too
BN_TS_MS = 1767225600123  # milliseconds (Binance), passed as the SDK's `timestamp` parameter
REFUSED = "signs the query decoded"
Params = List[Tuple[str, str]]


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    env = AgentEnv("apisec-sdk-")
    try:
        env.init()
        env.add("gate-sdk", "gate", GATE_KEY, GATE_SECRET.encode(), None, ["--freshness", "off"])
        env.add("kucoin-sdk", "kucoin", KC_KEY, KC_SECRET.encode(), KC_PASS.encode(),
                ["--freshness", "off"])
        env.add("binance-sdk", "binance", BN_KEY, BN_SECRET.encode(), None, ["--freshness", "off"])
        env.start()
        env.unlock("gate-sdk", "kucoin-sdk", "binance-sdk")
        with Agent(str(env.socket)) as a:
            yield a
    finally:
        env.close()


def pct(params: Params) -> str:
    """The query as the agent takes it for Gate and KuCoin: percent-encoded, a space as %20 (the
    SDKs' `urlencode` writes '+', a spelling those presets refuse as ambiguous)."""
    return urlencode(params, quote_via=quote)


# The value shapes every exchange is checked on (name "text"/"clientOid"/"newClientOrderId" below).
VALUES = {
    "space": "t-a b", "plus": "t-a+b", "slash": "t-a/b", "percent": "t-100%", "hash": "t-#1",
    "non_ascii": "t-€uro ü", "empty": "",
}


# ---------------------------------------------------------------------------------------------
# Gate. Oracle: gate_api/api_client.py, ApiClient.update_params_for_auth (the SDK's auth step,
# which signs `unquote_plus(urlencode(querys))` and `urlparse(url).path`) calling
# ApiClient.gen_sign (METHOD\npath\nquery\nsha512hex(body)\ntime.time(), HMAC-SHA512 hex).
# ---------------------------------------------------------------------------------------------
def gate_sdk(monkeypatch, method: str, resource: str, params: Params, body) -> Dict[str, str]:
    monkeypatch.setattr(gate_api_client, "time", types.SimpleNamespace(time=lambda: GATE_TS))
    client = gate_api.ApiClient(gate_api.Configuration(key=GATE_KEY, secret=GATE_SECRET))
    headers: Dict[str, str] = {}
    url = client.configuration.host + resource  # https://api.gateio.ws/api/v4 + resource
    client.update_params_for_auth(method, url, headers, list(params), body, ["apiv4"])
    return headers


def gate_body_bytes(body) -> Optional[bytes]:
    """What the SDK sends: gate_api/rest.py RESTClientObject.request json.dumps(body) for a
    model/dict (ASCII-escaped); a str body is what gen_sign hashes (its UTF-8)."""
    if body is None:
        return None
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


GATE_GET = {name: [("currency_pair", "BTC_USDT"), ("text", v)] for name, v in VALUES.items()}
GATE_GET["several"] = [("currency_pair", "BTC_USDT"), ("status", "open"), ("page", "2"),
                       ("limit", "100"), ("side", "buy"), ("text", "t-x y/z+%")]
NESTED = {"text": "t-€uro", "currency_pair": "BTC_USDT",
          "meta": {"note": "ü ß/+%#", "tags": ["a b", "€", {"deep": "日本"}]}}
GATE_POST = {
    # POST with a query and a JSON body: Gate signs both.
    "query_and_json": ("/futures/usdt/orders", [("settle", "usdt"), ("text", "t-a b/€")],
                       {"contract": "BTC_USDT", "size": 1, "text": "t-€uro ü"}),
    "nested_dict_body": ("/spot/orders", [], NESTED),  # the SDK's json.dumps: \\u escapes
    "nested_utf8_body": ("/spot/orders", [("account", "spot")],
                         json.dumps(NESTED, ensure_ascii=False, separators=(",", ":"))),
}


@pytest.mark.parametrize("params", GATE_GET.values(), ids=list(GATE_GET))
def test_gate_get_matches_official_sdk(agent: Agent, monkeypatch, params: Params) -> None:
    sdk = gate_sdk(monkeypatch, "GET", "/spot/orders", params, None)
    got = agent.sign("gate-sdk", "GET", "/api/v4/spot/orders", pct(params), None,
                     timestamp=GATE_TS)
    assert got.query == pct(params) and got.body is None
    # The URL the SDK would send (rest.py: urlencode, '+' for a space) carries the same pairs.
    assert parse_qsl(urlencode(params), keep_blank_values=True) == \
        parse_qsl(got.query, keep_blank_values=True) == params
    assert {k: got.headers[k] for k in ("KEY", "Timestamp", "SIGN")} == sdk


@pytest.mark.parametrize("resource,params,body", GATE_POST.values(), ids=list(GATE_POST))
def test_gate_post_matches_official_sdk(agent: Agent, monkeypatch, resource, params, body) -> None:
    sdk = gate_sdk(monkeypatch, "POST", resource, params, body)
    sent = gate_body_bytes(body)
    got = agent.sign("gate-sdk", "POST", "/api/v4" + resource, pct(params), sent,
                     timestamp=GATE_TS)
    assert got.query == pct(params) and got.body is None
    assert {k: got.headers[k] for k in ("KEY", "Timestamp", "SIGN")} == sdk


# A value the SDK would sign exactly as it signs its twin (another request): refused.
AMBIGUOUS: Dict[str, Tuple[Params, Params]] = {
    "ampersand": ([("currency_pair", "BTC_USDT"), ("text", "t-a&side=buy")],
                  [("currency_pair", "BTC_USDT"), ("text", "t-a"), ("side", "buy")]),
    "equals": ([("currency_pair", "BTC_USDT"), ("text", "t=a")],
               [("currency_pair", "BTC_USDT"), ("text=t", "a")]),
}


@pytest.mark.parametrize("params,twin", AMBIGUOUS.values(), ids=list(AMBIGUOUS))
def test_gate_refuses_what_the_sdk_signs_ambiguously(agent: Agent, monkeypatch, params, twin) -> None:
    assert gate_sdk(monkeypatch, "GET", "/spot/orders", params, None)["SIGN"] == \
        gate_sdk(monkeypatch, "GET", "/spot/orders", twin, None)["SIGN"]
    with pytest.raises(AgentError) as e:
        agent.sign("gate-sdk", "GET", "/api/v4/spot/orders", pct(params), None, timestamp=GATE_TS)
    assert REFUSED in str(e.value)


# ---------------------------------------------------------------------------------------------
# KuCoin. Oracle: kucoin_universal_sdk/internal/infra/default_transport.py,
# DefaultTransport.process_request (raw_url = path + "?" + DefaultTransport.raw_query(items):
# `key=value` joined with '&', NOT encoded; the URL gets urlencode) and process_headers (METHOD +
# raw_url + body), signed by internal/infra/default_signer.py KcSigner.headers
# (timestamp + plain, HMAC-SHA256 base64) with the passphrase signed by KcSigner.sign.
# ---------------------------------------------------------------------------------------------
class KcRequest:
    """What process_request reads of a generated request model (generate/**/model_*_req.py):
    to_dict() for a GET's query, to_json() (pydantic model_dump_json: compact, raw UTF-8) for a
    POST's body, model_fields for path variables (none here)."""

    model_fields: Dict[str, object] = {}

    def __init__(self, fields) -> None:
        self.fields = fields

    def to_dict(self):
        return dict(self.fields)

    def to_json(self) -> str:
        return json.dumps(dict(self.fields), ensure_ascii=False, separators=(",", ":"))


def kucoin_sdk(monkeypatch, method: str, path: str, fields) -> requests.PreparedRequest:
    monkeypatch.setattr(kc_default_signer, "time",
                        types.SimpleNamespace(time=lambda: KC_TS_MS / 1000))
    option = ClientOption(KC_KEY, KC_SECRET, KC_PASS, "https://api.kucoin.com", "", "", "", "", "")
    transport = DefaultTransport(option, "v1.3.2")
    prepared = transport.process_request(KcRequest(fields), False, path, "https://api.kucoin.com",
                                         method, method == "POST")
    assert prepared.headers["KC-API-TIMESTAMP"] == str(KC_TS_MS)
    return prepared


def kc_compare(got: SignResult, sdk: requests.PreparedRequest) -> None:
    for h in ("KC-API-KEY", "KC-API-PASSPHRASE", "KC-API-TIMESTAMP", "KC-API-SIGN"):
        assert got.headers[h] == sdk.headers[h], h
    # The SDK sends key version "3", the agent "2"; the signed string and the passphrase (HMAC-
    # signed with the secret, KcSigner.__init__) are the same for both, as the equalities show.
    assert (got.headers["KC-API-KEY-VERSION"], sdk.headers["KC-API-KEY-VERSION"]) == ("2", "3")


KC_GET = {name: [("symbol", "BTC-USDT"), ("clientOid", v)] for name, v in VALUES.items()}
KC_GET["several"] = [("symbol", "BTC-USDT"), ("status", "active"), ("side", "buy"),
                     ("type", "limit"), ("currentPage", "2"), ("clientOid", "c x/y+%#€")]


@pytest.mark.parametrize("params", KC_GET.values(), ids=list(KC_GET))
def test_kucoin_get_matches_official_sdk(agent: Agent, monkeypatch, params: Params) -> None:
    sdk = kucoin_sdk(monkeypatch, "GET", "/api/v1/orders", params)
    got = agent.sign("kucoin-sdk", "GET", "/api/v1/orders", pct(params), None, timestamp=KC_TS_MS)
    assert got.query == pct(params) and got.body is None
    assert parse_qsl(urlsplit(sdk.url).query, keep_blank_values=True) == \
        parse_qsl(got.query, keep_blank_values=True) == params
    kc_compare(got, sdk)


KC_POST = {
    "flat_unicode": {"clientOid": "c-€uro ü", "side": "buy", "symbol": "BTC-USDT",
                     "type": "limit", "price": "1", "size": "1", "remark": "a b/+%#&="},
    "nested_unicode": {"clientOid": "c-1", "symbol": "BTC-USDT", "side": "sell",
                       "meta": {"note": "ü ß", "tags": ["€", {"deep": "日本 語"}], "n": 1.5}},
}


@pytest.mark.parametrize("fields", KC_POST.values(), ids=list(KC_POST))
def test_kucoin_post_matches_official_sdk(agent: Agent, monkeypatch, fields) -> None:
    sdk = kucoin_sdk(monkeypatch, "POST", "/api/v1/orders", fields)
    got = agent.sign("kucoin-sdk", "POST", "/api/v1/orders", "", sdk.body, timestamp=KC_TS_MS)
    assert got.query == "" and got.body is None
    kc_compare(got, sdk)


KC_AMBIGUOUS = {
    "ampersand": ([("symbol", "BTC-USDT"), ("clientOid", "c&side=buy")],
                  [("symbol", "BTC-USDT"), ("clientOid", "c"), ("side", "buy")]),
    "equals": ([("symbol", "BTC-USDT"), ("clientOid", "c=1")],
               [("symbol", "BTC-USDT"), ("clientOid=c", "1")]),
}


@pytest.mark.parametrize("params,twin", KC_AMBIGUOUS.values(), ids=list(KC_AMBIGUOUS))
def test_kucoin_refuses_what_the_sdk_signs_ambiguously(agent: Agent, monkeypatch, params,
                                                        twin) -> None:
    assert kucoin_sdk(monkeypatch, "GET", "/api/v1/orders", params).headers["KC-API-SIGN"] == \
        kucoin_sdk(monkeypatch, "GET", "/api/v1/orders", twin).headers["KC-API-SIGN"]
    with pytest.raises(AgentError) as e:
        agent.sign("kucoin-sdk", "GET", "/api/v1/orders", pct(params), None, timestamp=KC_TS_MS)
    assert REFUSED in str(e.value)


# ---------------------------------------------------------------------------------------------
# Binance. Oracle: binance_common/utils.py send_request (what binance_sdk_spot's generated REST
# methods call), which signs `encoded_string(payload)` (utils.py
# encoded_string: urllib's urlencode, i.e. quote_plus: unreserved kept, upper-case hex, a space as
# '+') with get_signature -> hmac_hashing (HMAC-SHA256 hex) and sends `payload&signature=...`.
# ---------------------------------------------------------------------------------------------
class Recorder(requests.adapters.BaseAdapter):
    """Keeps the request the SDK would send and answers `{}` instead of going to the network."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: List[requests.PreparedRequest] = []

    def send(self, request, **kwargs) -> requests.Response:
        self.sent.append(request)
        r = requests.Response()
        r.status_code, r._content, r.request, r.url = 200, b"{}", request, request.url
        r.headers["Content-Type"] = "application/json"
        return r

    def close(self) -> None:
        pass


def binance_sdk(method: str, path: str, query: Dict[str, str],
                body: Optional[Dict[str, str]] = None) -> Tuple[str, str, Optional[str]]:
    """(signed payload, signature, body) of the request the SDK sends."""
    api = SpotRestAPI(ConfigurationRestAPI(api_key=BN_KEY, api_secret=BN_SECRET,
                                           base_path="https://api.binance.com", retries=0))
    recorder = Recorder()
    api._session.mount("https://", recorder)
    # Called as the generated methods (rest_api/api/trade_api.py TradeApi.new_order, ...) call it:
    # SpotRestAPI.send_signed_request itself raises TypeError in 13.3.0 (`send_request[T]`). The
    # caller's `timestamp` is used as given (send_request: "unless the caller set one").
    bn_utils.send_request(api._session, api.configuration, method=method, path=path,
                          payload={**query, "timestamp": BN_TS_MS}, body=body, is_signed=True,
                          signer=api._signer)
    (sent,) = recorder.sent
    assert sent.headers["X-MBX-APIKEY"] == BN_KEY
    payload, signature = urlsplit(sent.url).query.rsplit("&signature=", 1)
    if body is None:  # the SDK's own HMAC helper agrees with what it sent
        assert bn_utils.hmac_hashing(BN_SECRET, payload) == signature
    return payload, signature, sent.body


def split_signature(got: SignResult) -> Tuple[str, str]:
    payload, signature = got.query.rsplit("&signature=", 1)
    assert got.query_additions == {"timestamp": str(BN_TS_MS), "signature": signature}
    return payload, signature


BN_QUERY = {name: {"symbol": "BTCUSDT", "origClientOrderId": v} for name, v in VALUES.items()}
BN_QUERY.update({
    "full_width_symbol": {"symbol": "１２３４５６", "origClientOrderId": "x"},  # Binance's example
    "ampersand_equals": {"symbol": "BTCUSDT", "origClientOrderId": "a&b=c"},  # signed encoded
    "several": {"symbol": "BTCUSDT", "origClientOrderId": "a/b+c d", "orderId": "12",
                "recvWindow": "5000", "note": "€uro ü #1 100%"},
})


@pytest.mark.parametrize("query", BN_QUERY.values(), ids=list(BN_QUERY))
def test_binance_query_matches_official_sdk(agent: Agent, query: Dict[str, str]) -> None:
    sdk_payload, sdk_sig, _ = binance_sdk("GET", "/api/v3/order", query)
    # The agent gets the query as the SDK encodes it ('+' for a space) and re-encodes it.
    got = agent.sign("binance-sdk", "GET", "/api/v3/order", bn_utils.encoded_string(query), None,
                     timestamp=BN_TS_MS)
    payload, signature = split_signature(got)
    assert got.body is None
    if " " not in "".join(query.values()):
        assert (payload, signature) == (sdk_payload, sdk_sig)
        assert got.query == f"{sdk_payload}&signature={sdk_sig}"
    else:
        # The SDK writes a space '+' (quote_plus), the agent %20 (what Binance's own percent-
        # encoding example and RFC 3986 give). Every '+' of the SDK's is a space (a literal '+'
        # is %2B), so the payloads differ in exactly that; the signature is the SDK's HMAC over
        # the agent's payload.
        assert payload == sdk_payload.replace("+", "%20") and "+" not in payload
        assert parse_qsl(payload, keep_blank_values=True) == \
            parse_qsl(sdk_payload, keep_blank_values=True)
        assert signature == bn_utils.hmac_hashing(BN_SECRET, payload)
        assert signature != sdk_sig


BN_FORM = {
    "client_order_id": ({"symbol": "BTCUSDT"},
                        {"side": "BUY", "type": "LIMIT", "newClientOrderId": "a/b+c d",
                         "quantity": "1", "price": "0.1"}),
    "full_width_symbol": ({}, {"symbol": "１２３４５６", "side": "BUY", "type": "MARKET",
                               "quantity": "1", "newClientOrderId": "€uro-ü"}),
    "every_shape": ({"recvWindow": "5000"},
                    {"symbol": "BTCUSDT", "newClientOrderId": "x%#&=", "note": "", "side": "SELL"}),
}


@pytest.mark.parametrize("query,form", BN_FORM.values(), ids=list(BN_FORM))
def test_binance_form_body_matches_official_sdk(agent: Agent, query, form) -> None:
    # The SDK signs query and body merged into one payload (and sends both in the URL), so its
    # signature is over another string than Binance's totalParams = query + body (request-
    # security page, "SIGNED Endpoint Examples", Example 3). Its encoders and HMAC helper are
    # the oracle: the body it sends (utils.py encoded_string), its query encoding, and
    # hmac_hashing over the agent's query (minus the signature) followed by the agent's body.
    _, _, sdk_body = binance_sdk("POST", "/api/v3/order", query, form)
    sent_body = bn_utils.encoded_string(form)
    assert sdk_body == sent_body
    got = agent.sign("binance-sdk", "POST", "/api/v3/order", bn_utils.encoded_string(query),
                     sent_body.encode(), timestamp=BN_TS_MS)
    payload, signature = split_signature(got)
    body = got.body_or(sent_body.encode()).decode()
    sdk_query = bn_utils.encoded_string({**query, "timestamp": BN_TS_MS})
    # As above, '+' (the SDK's space) is %20 in the agent's encoding; nothing else differs.
    assert payload == sdk_query.replace("+", "%20")
    assert body == sent_body.replace("+", "%20") and "+" not in body
    assert (got.body is None) == ("+" not in sent_body)
    assert signature == bn_utils.hmac_hashing(BN_SECRET, payload + body)
