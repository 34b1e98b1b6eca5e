"""The adapter's requests (URL, method, body, headers and their order) equal ccxt 4.5.90's own
signing with the secret, through a real agent on SoftHSM. Each request goes through ccxt's
implicit API method (fetch2 -> sign -> fetch), with fetch capturing instead of sending."""

from __future__ import annotations

import hashlib
from typing import Any, Dict
from urllib.parse import parse_qs, unquote, urlsplit

import ccxt
import pytest
from ccxt_compare import (adapted, assert_same_request, call, capture, jwt_parts, reference,
                          verify_es256)

from apisec_agent import SecretSealed
from apisec_agent.ccxt import attach

T = 1767225600123  # 2026-01-01T00:00:00.123Z: the pinned clock

CASES = [
    ("bitget", "private_spot_get_v2_spot_account_assets", {"coin": "USDT"}),
    # ccxt sends "symbol=BTCUSDT%2CETHUSDT" but signs the decoded "symbol=BTCUSDT,ETHUSDT".
    ("bitget", "private_spot_get_v2_spot_trade_unfilled_orders",
     {"symbol": "BTCUSDT,ETHUSDT", "limit": "10"}),
    # Values that need encoding: ccxt sends them percent-encoded and signs them decoded, as
    # Bitget's own SDK does (toQueryWithNoEncode).
    ("bitget", "private_spot_get_v2_spot_trade_unfilled_orders",
     {"clientOid": "a b/c+d%e#f€", "symbol": ""}),
    ("bitget", "private_spot_post_v2_spot_trade_place_order",
     {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc",
      "price": "23222.5", "size": "1"}),
    ("binance", "private_get_account", {"omitZeroBalances": True}),
    ("binance", "private_get_openorders", {}),
    ("binance", "private_post_order",
     {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
      "quantity": "0.01", "price": "20000", "newClientOrderId": "apisec-test-1"}),
    # A read whose mandatory email is also all that enabling a sub-account feature needs: the
    # agent cannot tell the two apart (the residual of docs/threat-model.md), so it signs it.
    ("binance", "sapiv3_get_sub_account_assets", {"email": "bot@example.com"}),
    ("okx", "private_get_account_balance", {"ccy": "BTC,ETH"}),
    ("okx", "private_post_trade_order",
     {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
      "px": "20000", "sz": "0.01"}),
    ("bybit", "private_get_v5_account_wallet_balance", {"accountType": "UNIFIED", "coin": "BTC"}),
    ("bybit", "private_get_v5_order_realtime", {}),
    ("bybit", "private_post_v5_order_create",
     {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
      "qty": "0.01", "price": "20000"}),
    ("kraken", "private_post_balance", {}),
    ("kraken", "private_post_addorder",
     {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "37500",
      "volume": "1.25"}),
    ("kucoin", "private_get_accounts", {"currency": "USDT", "type": "trade"}),
    # ccxt sends KuCoin's query raw (a '#' would cut its URL); the adapter sends it encoded,
    # and both sign it decoded, as KuCoin's docs say.
    ("kucoin", "private_get_orders", {"clientOid": "a b/c+d%e#f€", "status": "active"}),
    ("kucoin", "private_post_orders",
     {"clientOid": "apisec-1", "side": "buy", "symbol": "BTC-USDT", "type": "limit",
      "price": "20000", "size": "0.01"}),
    ("kucoin", "private_delete_orders_orderid", {"orderId": "5bd6e9286d99522a52e458de"}),
    ("gate", "private_spot_get_orders", {"currency_pair": "BTC_USDT", "status": "open"}),
    ("gate", "private_spot_post_orders",
     {"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.01", "price": "30000",
      "text": "t-apisec"}),
    ("gate", "private_futures_get_settle_positions", {"settle": "usdt"}),
    ("coinbaseexchange", "private_get_orders", {"status": "open", "product_id": "BTC-USD"}),
    ("mexc", "spot_private_get_account", {}),
    ("bitfinex", "private_post_auth_r_wallets", {}),
    ("bitfinex", "private_post_auth_w_order_submit",
     {"type": "EXCHANGE LIMIT", "symbol": "tBTCUSD", "price": "20000", "amount": "0.01"}),
    ("mexc", "spot_private_post_order",
     {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "20000",
      "newClientOrderId": "apisec-m-1"}),
    ("coinbaseexchange", "private_post_orders",
     {"product_id": "BTC-USD", "side": "buy", "type": "limit", "price": "20000", "size": "0.01"}),
    ("gate", "private_spot_delete_orders_order_id",
     {"order_id": "12345", "currency_pair": "BTC_USDT"}),
    # Kraken Futures: postData in the query whatever the method; the history API on its own
    # path. ccxt signs no nonce: see as_documented(). batchorder is refused (a test below).
    ("krakenfutures", "private_get_openorders", {}),
    ("krakenfutures", "private_get_fills", {"lastFillTime": "2026-01-01T00:00:00.000Z"}),
    ("krakenfutures", "private_post_sendorder",
     {"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": "1",
      "limitPrice": "40000", "cliOrdId": "a b/c+d%e#f\u20ac"}),
    ("krakenfutures", "history_get_orders", {"since": "1767225600000", "sort": "asc"}),
    ("krakenfutures", "private_post_editorder", {"orderId": "o-1", "limitPrice": "41000.5"}),
    # HTX: the new spot and contract builders (the contract one on ccxt's api.hbdm.vn) and the
    # old v1/v2 one, whose auth parameters ccxt sorts among the caller's.
    ("htx", "spot_private_get_v1_order_openorders",
     {"account-id": "123", "symbol": "btcusdt", "size": "10", "types": "buy-limit,sell-limit"}),
    ("htx", "spot_private_post_v1_order_orders_place",
     {"account-id": "123", "symbol": "btcusdt", "type": "buy-limit", "amount": "0.01",
      "price": "20000", "client-order-id": "apisec-h-1"}),
    # Values that need encoding: the agent signs them re-encoded (RFC 3986), as ccxt does.
    ("htx", "spot_private_get_v1_order_orders_getclientorder",
     {"clientOrderId": "a b/c+d%e#f\u20ac~*"}),
    ("htx", "private_get_order_orders",
     {"symbol": "btcusdt", "states": "filled,canceled", "start-date": "2026-01-01"}),
    ("htx", "v2private_get_account_ledger", {"accountId": "123", "currency": "usdt"}),
    ("htx", "private_post_order_orders_id_submitcancel", {"id": "59378"}),
    ("htx", "contract_private_get_v5_account_balance", {}),
    # ccxt's broker tag (channel_code) goes into the caller's dict, not the body.
    ("htx", "contract_private_post_swap_api_v1_swap_order",
     {"contract_code": "BTC-USD", "volume": 1, "direction": "buy", "offset": "open",
      "lever_rate": 5, "order_price_type": "limit", "price": "20000"}),
    # Deribit: every private call a GET with its parameters in the query.
    ("deribit", "private_get_get_account_summary", {"currency": "BTC", "extended": True}),
    ("deribit", "private_get_get_open_orders_by_currency", {"currency": "BTC", "kind": "future"}),
    ("deribit", "private_get_buy",
     {"instrument_name": "BTC-PERPETUAL", "amount": "10", "type": "limit", "price": "40000",
      "label": "a b/c+d%e#f\u20ac"}),
]

# Coinbase Advanced (CDP keys): a JWT carrying a random nonce, so compared by
# check_coinbase(): everything else byte for byte, the JWT's claims, its signature verified.
COINBASE_CASES = [
    ("coinbase", "v3_private_get_brokerage_accounts", {"limit": "5"}),
    ("coinbase", "v3_private_get_brokerage_orders_historical_batch",
     {"product_ids": "BTC-USD", "order_status": "OPEN", "cursor": "a b/c+d%e#f\u20ac"}),
    ("coinbase", "v3_private_post_brokerage_orders",
     {"client_order_id": "apisec-c-1", "product_id": "BTC-USD", "side": "BUY",
      "order_configuration": {"limit_limit_gtc": {"base_size": "0.01", "limit_price": "20000"}}}),
    ("coinbase", "v2_private_get_accounts", {}),
]

# BitMEX exists in ccxt up to 4.5.83 only: test_ccxt_versions.py runs these there (4.5.76 and
# 4.5.83), pinned and stamped; test_bitmex_cases_have_a_ccxt_that_runs_them guards the list.
BITMEX_CASES = [
    ("bitmex", "private_get_order", {"symbol": "XBTUSD", "filter": '{"open": true}',
                                     "count": 10}),
    ("bitmex", "private_post_order",
     {"symbol": "XBTUSD", "side": "Buy", "orderQty": 100, "price": 40000, "ordType": "Limit",
      "clOrdID": "a b/c+d%e#f\u20ac"}),
    ("bitmex", "private_put_order",
     {"orderID": "00000000-0000-0000-0000-000000000001", "price": 40500}),
    ("bitmex", "private_delete_order_all", {}),
    # ccxt's cancel_order: a DELETE whose parameters travel as a JSON body.
    ("bitmex", "private_delete_order", {"orderID": "00000000-0000-0000-0000-000000000001"}),
    ("bitmex", "private_delete_order_all", {"symbol": "XBTUSD", "filter": '{"side": "Buy"}'}),
    ("bitmex", "private_get_user_wallet", {"currency": "XBt"}),
    # ccxt signs BitMEX's public endpoints too when it has credentials.
    ("bitmex", "public_get_instrument_active", {}),
]


def ids(case: Any) -> str:
    return f"{case[0]}-{case[1]}"


def sent_as_documented(got: Dict[str, Any], want: Dict[str, Any]) -> Dict[str, Any]:
    """ccxt's request with its URL as the exchange documents it: ccxt puts KuCoin's query in the
    URL raw (a '#' would cut it), the adapter percent-encodes it; both sign it decoded."""
    if "kucoin" in want["url"]:
        assert unquote(got["url"]) == want["url"]
        return dict(want, url=got["url"])
    return want


def as_documented(ex: Any) -> Any:
    """ccxt, corrected where it disagrees with the exchange's documentation: Binance refuses a
    signature over an unencoded payload since 2026-01-15 (CHANGELOG, 2025-12-17: "percent-encode
    payloads before computing signatures"), and ccxt still sends some endpoints' parameters raw
    (sub-account, batchOrders, ...): those sign and send the encoded form instead. Kraken
    Futures: ccxt signs no nonce; the documented Authent, SHA-256(postData + Nonce +
    endpointPath) under HMAC-SHA512, is computed over ccxt's own postData with ccxt's own hash
    functions, and the Nonce header sent after it (`ex.documented_nonce`, ccxt's milliseconds()
    unless a test gives the agent's)."""
    if ex.id == "binance":
        ex.rawencode = ex.urlencode
    if ex.id == "krakenfutures":
        ccxt_sign = ex.sign
        ex.documented_nonce = ex.milliseconds

        def sign(path: str, api: Any = "public", method: str = "GET", params: Any = None,
                 headers: Any = None, body: Any = None) -> Dict[str, Any]:
            req = ccxt_sign(path, api, method, {} if params is None else params)
            if req["headers"] and "Authent" in req["headers"]:
                nonce = str(ex.documented_nonce())
                url = urlsplit(req["url"])
                post_data = req["body"] if req["body"] is not None else url.query
                endpoint = url.path.removeprefix("/derivatives")
                digest = ex.hash(ex.encode(post_data + nonce + endpoint), "sha256", "binary")
                req["headers"]["Authent"] = ex.hmac(digest, ex.base64_to_binary(ex.secret),
                                                    hashlib.sha512, "base64")
                req["headers"]["Nonce"] = nonce
            return req

        ex.sign = sign
    return ex


def check_pinned(case: Any, creds: Dict[str, Any], agent: Any) -> None:
    """The adapter with ccxt's clock pinned builds what ccxt (as documented) builds."""
    exchange, method, params = case
    cred = creds[exchange]
    want = call(as_documented(reference(cred, T)), method, params)
    got = call(adapted(cred, agent, T, clock="ccxt"), method, params)
    assert_same_request(got, sent_as_documented(got, want))


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_equals_ccxt_with_pinned_clock(case: Any, creds: Dict[str, Any], agent: Any) -> None:
    check_pinned(case, creds, agent)


def _query(req: Dict[str, Any]) -> Dict[str, str]:
    text = urlsplit(req["url"]).query or (req["body"] if isinstance(req["body"], str) else "")
    return {k: v[0] for k, v in parse_qs(text).items()}


# Where each exchange carries the time the agent stamped (as ccxt's milliseconds() value).
STAMP_OF = {
    "bitget": lambda r: int(r["headers"]["ACCESS-TIMESTAMP"]),
    "binance": lambda r: int(_query(r)["timestamp"]),
    "okx": lambda r: ccxt.Exchange.parse8601(r["headers"]["OK-ACCESS-TIMESTAMP"]),
    "bybit": lambda r: int(r["headers"]["X-BAPI-TIMESTAMP"]),
    # The agent's Kraken nonce is in microseconds; ccxt's nonce is its milliseconds() value.
    "kraken": lambda r: int(_query(r)["nonce"]),
    "kucoin": lambda r: int(r["headers"]["KC-API-TIMESTAMP"]),
    # Gate's timestamp is whole seconds: ccxt's milliseconds() at that second.
    "gate": lambda r: int(r["headers"]["Timestamp"]) * 1000,
    "coinbaseexchange": lambda r: int(float(r["headers"]["CB-ACCESS-TIMESTAMP"]) * 1000),
    "mexc": lambda r: int(_query(r)["timestamp"]),
    "bitfinex": lambda r: int(r["headers"]["bfx-nonce"]) // 1000,
    # The agent's Kraken Futures nonce is in microseconds.
    "krakenfutures": lambda r: int(r["headers"]["Nonce"]) // 1000,
    # HTX's Timestamp is whole seconds (UTC, no zone).
    "htx": lambda r: ccxt.Exchange.parse8601(_query(r)["Timestamp"] + "Z"),
    "deribit": lambda r: int(_authorization(r)["ts"]),
    # BitMEX's api-expires is the agent's clock + 10 s in seconds; ccxt adds its 5 s to its own.
    "bitmex": lambda r: (int(r["headers"]["api-expires"]) - BITMEX_LEAD) * 1000,
}
BITMEX_LEAD = 5  # ccxt's options recvWindow (5000 ms) as seconds


def _authorization(req: Dict[str, Any]) -> Dict[str, str]:
    """Deribit's `deri-hmac-sha256 id=..,ts=..,sig=..,nonce=..` fields."""
    fields = req["headers"]["Authorization"].split(" ", 1)[1]
    return dict(kv.split("=", 1) for kv in fields.split(","))


def check_stamped(case: Any, creds: Dict[str, Any], agent: Any) -> None:
    """The default clock: the agent stamps; ccxt pinned to the stamped time signs the same."""
    exchange, method, params = case
    cred = creds[exchange]
    got = call(adapted(cred, agent, None, clock="agent"), method, params)
    stamped = STAMP_OF[exchange](got)
    if exchange != "kraken":
        assert abs(stamped - ccxt.Exchange.milliseconds()) < 60_000, "not the agent's clock"
    ref = as_documented(reference(cred, stamped))
    if exchange == "coinbaseexchange":
        # ccxt stamps whole seconds, the agent milliseconds too: ccxt given the agent's value.
        ref.nonce = lambda: got["headers"]["CB-ACCESS-TIMESTAMP"]
    if exchange == "bitfinex":
        # The agent's nonce is microseconds, ccxt's milliseconds: ccxt given the agent's.
        ref.incrementing_nonce = lambda: int(got["headers"]["bfx-nonce"])
    if exchange == "krakenfutures":
        ref.documented_nonce = lambda: int(got["headers"]["Nonce"])
    if exchange == "deribit":
        # ccxt's nonce is its milliseconds, the agent's its microseconds counter.
        ref.nonce = lambda: int(_authorization(got)["nonce"])
    want = call(ref, method, params)
    assert_same_request(got, sent_as_documented(got, want))


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_agent_stamped_requests_equal_ccxt_at_that_time(
    case: Any, creds: Dict[str, Any], agent: Any
) -> None:
    """The default clock: the agent stamps; ccxt pinned to the stamped time signs the same."""
    check_stamped(case, creds, agent)


def test_instance_holds_no_secret(creds: Dict[str, Any], agent: Any) -> None:
    ex = adapted(creds["bitget"], agent, None, clock="agent")
    # A placeholder that is not the secret, and refuses to be used as one.
    assert creds["bitget"].secret not in (ex.secret, ex.password)
    assert creds["bitget"].passphrase not in (ex.secret, ex.password)
    with pytest.raises(ccxt.NotSupported, match="stays in the agent"):
        ex.hmac(b"x", ex.encode(ex.secret))
    assert ex.apiKey == creds["bitget"].api_key  # taken from the agent
    attach(ex, creds["bitget"].name, agent)  # attaching again is fine


def test_public_endpoints_are_ccxt_unchanged(creds: Dict[str, Any], agent: Any) -> None:
    ex = adapted(creds["binance"], agent, None, clock="agent")
    req = call(ex, "public_get_ticker_price", {"symbol": "BTCUSDT"})
    assert req["url"] == "https://api.binance.com/api/v3/ticker/price?symbol=BTCUSDT"
    assert req["headers"] is None


def test_attach_refuses_a_mismatch(creds: Dict[str, Any], agent: Any) -> None:
    with pytest.raises(ValueError, match="is a bitget secret, not binance"):
        attach(ccxt.binance(), creds["bitget"].name, agent)
    with pytest.raises(ValueError, match="holds a secret"):
        attach(ccxt.bitget({"secret": "x"}), creds["bitget"].name, agent)
    with pytest.raises(ValueError, match="differs"):
        attach(ccxt.bitget({"apiKey": "someone-else"}), creds["bitget"].name, agent)
    with pytest.raises(ccxt.NotSupported, match="does not support"):
        attach(ccxt.bitflyer(), creds["bitget"].name, agent)
    with pytest.raises(ValueError, match="is a bitget secret, not binance"):
        attach(ccxt.binanceusdm(), creds["bitget"].name, agent)


# ccxt's other classes of the same exchanges (futures, regional sites): signed by the same code.
SUBCLASS_CASES = [
    ("binanceusdm", "binance", "fapiprivatev2_get_account", {}),
    ("binanceusdm", "binance", "fapiprivate_post_order",
     {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
      "quantity": "0.01", "price": "20000", "newClientOrderId": "apisec-f-1"}),
    ("binancecoinm", "binance", "dapiprivate_get_account", {}),
    ("kucoinfutures", "kucoin", "futuresprivate_get_account_overview", {"currency": "USDT"}),
    ("okxus", "okx", "private_get_account_balance", {"ccy": "BTC"}),
]


@pytest.mark.parametrize("case", SUBCLASS_CASES, ids=lambda c: f"{c[0]}-{c[2]}")
def test_subclasses_equal_ccxt(case: Any, creds: Dict[str, Any], agent: Any) -> None:
    cls, preset, method, params = case
    cred = creds[preset]
    want = call(as_documented(reference(cred, T, cls)), method, params)
    got = call(adapted(cred, agent, T, clock="ccxt", cls=cls), method, params)
    assert_same_request(got, sent_as_documented(got, want))


def test_sealed_secret_is_a_ccxt_authentication_error(agent: Any) -> None:
    ex = attach(ccxt.bitget({"enableRateLimit": False}), "sealed-t", agent)
    call_args = ("private_spot_get_v2_spot_account_assets", {})
    with pytest.raises(ccxt.AuthenticationError) as info:
        call(ex, *call_args)
    assert isinstance(info.value.__cause__, SecretSealed)


def test_bybit_recv_window_must_match_the_agent(creds: Dict[str, Any], agent: Any) -> None:
    ex = adapted(creds["bybit"], agent, None, clock="agent")
    ex.options["recvWindow"] = 10000
    with pytest.raises(ccxt.NotSupported, match="recvWindow 5000"):
        call(ex, "private_get_v5_account_wallet_balance", {"accountType": "UNIFIED"})


def test_kraken_json_batch_equals_ccxt(creds: Dict[str, Any], agent: Any) -> None:
    """AddOrderBatch goes as JSON (ccxt's choice, which Kraken takes); the agent puts its nonce
    first in the object, as ccxt does, and signs the bytes sent."""
    params = {"pair": "XBTUSD", "orders": [{"ordertype": "limit", "price": "40000",
                                            "type": "buy", "volume": "1.2", "cl_ord_id": "\u20ac a=b"}]}
    cred = creds["kraken"]
    got = call(adapted(cred, agent, T, clock="ccxt"), "private_post_addorderbatch", params)
    want = call(reference(cred, T), "private_post_addorderbatch", params)
    assert_same_request(got, want)
    assert got["headers"]["Content-Type"] == "application/json"


def test_bitget_value_that_decodes_to_a_separator_is_refused_by_the_agent(
    creds: Dict[str, Any], agent: Any
) -> None:
    """ccxt would sign the decoded "clientOid=a&symbol=X", which Bitget also reads as two
    parameters: the agent refuses, so nothing is sent with a signature good for both."""
    ex = adapted(creds["bitget"], agent, None, clock="agent")
    with pytest.raises(ccxt.BadRequest, match="signs the query decoded"):
        call(ex, "private_spot_get_v2_spot_trade_unfilled_orders", {"clientOid": "a&symbol=X"})


# What the agent's CDP JWT holds: Coinbase's SDK's claims (coinbase-advanced-py, jwt_generator.py).
CDP_CLAIMS = {"sub", "iss", "nbf", "exp", "uri"}


def check_coinbase(case: Any, creds: Dict[str, Any], agent: Any, clock: str) -> None:
    """Coinbase Advanced: the URL, method, body and headers (names and order) equal ccxt's; the
    JWT's header and claims equal ccxt's but for what is random (the nonce) and the legacy claims
    ccxt writes (iss "coinbase-cloud", aud, iat; the agent's iss is "cdp"); its ES256 signature
    verifies with the key's public half."""
    exchange, method, params = case
    cred = creds[exchange]
    got = call(adapted(cred, agent, T if clock == "ccxt" else None, clock=clock), method, params)
    token = got["headers"]["Authorization"].removeprefix("Bearer ")
    head, claims = jwt_parts(token)
    millis = T if clock == "ccxt" else claims["nbf"] * 1000
    if clock == "agent":
        assert abs(millis - ccxt.Exchange.milliseconds()) < 60_000, "not the agent's clock"
    want = call(reference(cred, millis), method, params)
    want_token = want["headers"]["Authorization"].removeprefix("Bearer ")
    want_head, want_claims = jwt_parts(want_token)

    def jwt_hidden(req: Dict[str, Any]) -> Dict[str, Any]:
        return dict(req, headers={k: "<jwt>" if k == "Authorization" else v
                                  for k, v in req["headers"].items()})

    assert_same_request(jwt_hidden(got), jwt_hidden(want))
    assert got["headers"]["Authorization"].startswith("Bearer ")
    assert set(head) == set(want_head) == {"alg", "kid", "nonce", "typ"}
    assert {k: head[k] for k in ("alg", "kid", "typ")} == \
        {k: want_head[k] for k in ("alg", "kid", "typ")} == \
        {"alg": "ES256", "kid": cred.api_key, "typ": "JWT"}
    assert isinstance(head["nonce"], str) and head["nonce"]
    assert set(claims) == CDP_CLAIMS
    same = ("sub", "nbf", "exp", "uri")
    assert {k: claims[k] for k in same} == {k: want_claims[k] for k in same}
    assert claims["uri"] == method_and_uri(got)
    assert claims["iss"] == "cdp" and want_claims["iss"] == "coinbase-cloud"
    verify_es256(token, cred.secret)
    verify_es256(want_token, cred.secret)  # the check itself checks: ccxt's verifies too


def method_and_uri(req: Dict[str, Any]) -> str:
    url = urlsplit(req["url"])
    return f"{req['method']} {url.hostname}{url.path}"


@pytest.mark.parametrize("clock", ["ccxt", "agent"])
@pytest.mark.parametrize("case", COINBASE_CASES, ids=ids)
def test_coinbase_equals_ccxt_but_its_random_jwt_parts(
    case: Any, clock: str, creds: Dict[str, Any], agent: Any
) -> None:
    check_coinbase(case, creds, agent, clock)


def test_coinbase_jwts_differ_per_request(creds: Dict[str, Any], agent: Any) -> None:
    """Each JWT carries its own nonce (the agent's), so two identical requests differ."""
    ex = adapted(creds["coinbase"], agent, None, clock="agent")
    tokens = [call(ex, "v3_private_get_brokerage_accounts", {})["headers"]["Authorization"]
              for _ in range(2)]
    nonces = [jwt_parts(t.removeprefix("Bearer "))[0]["nonce"] for t in tokens]
    assert nonces[0] != nonces[1]


def test_bitmex_cases_have_a_ccxt_that_runs_them() -> None:
    """ccxt 4.5.90 has no bitmex class (attach(ccxt.bitmex()) cannot be built): BITMEX_CASES run
    in test_ccxt_versions.py's subprocesses (4.5.76, 4.5.83), which count them. A list emptied by
    mistake, or a ccxt that has bitmex again (then run them here), fails."""
    from test_ccxt_versions import VERSIONS

    assert len(BITMEX_CASES) >= 3 and {c[0] for c in BITMEX_CASES} == {"bitmex"}
    assert not any(c[0] == "bitmex" for c in CASES)
    assert not hasattr(ccxt, "bitmex"), "ccxt has bitmex again: run BITMEX_CASES here too"
    assert "4.5.83" in VERSIONS
    assert len(COINBASE_CASES) >= 3


def test_krakenfutures_repeated_order_ids_are_not_supported(
    creds: Dict[str, Any], agent: Any
) -> None:
    """ccxt sends several orderIds as repeated names, which the agent refuses: NotSupported."""
    ex = adapted(creds["krakenfutures"], agent, None, clock="agent")
    with pytest.raises(ccxt.NotSupported, match="'orderIds' several times"):
        call(ex, "private_get_orders_status", {"orderIds": ["a", "b"]})
    one = call(ex, "private_get_orders_status", {"orderIds": ["a"]})
    assert urlsplit(one["url"]).query == "orderIds=a"


def test_krakenfutures_batchorder_is_not_supported(creds: Dict[str, Any], agent: Any) -> None:
    """ccxt sends batchorder's body as "json=" + raw JSON; the agent takes form bodies only
    URL-encoded (as it judges them): refused before anything is sent."""
    ex = adapted(creds["krakenfutures"], agent, None, clock="agent")
    order = {"order": "send", "order_tag": "1", "orderType": "lmt", "symbol": "PF_XBTUSD",
             "side": "buy", "size": 1, "limitPrice": 40000}
    seen = capture(ex)
    with pytest.raises(ccxt.NotSupported, match="batchorder"):
        ex.private_post_batchorder({"batchOrder": [order]})
    assert seen == []


def test_htx_host_the_agent_does_not_sign_for_is_not_supported(
    creds: Dict[str, Any], agent: Any
) -> None:
    ex = adapted(creds["htx"], agent, None, clock="agent")
    ex.hostname = "api.testnet.huobi.pro"
    with pytest.raises(ccxt.NotSupported, match="api.testnet.huobi.pro"):
        call(ex, "private_get_account_accounts", {})
    ex.urls["hostnames"]["contract"] = "api.example.com"
    with pytest.raises(ccxt.NotSupported, match="api.example.com"):
        call(ex, "contract_private_get_v5_account_balance", {})


def test_coinbase_refusals_are_not_supported(creds: Dict[str, Any], agent: Any) -> None:
    ex = adapted(creds["coinbase"], agent, None, clock="agent")
    with pytest.raises(ccxt.NotSupported, match="'order_status' several times"):
        call(ex, "v3_private_get_brokerage_orders_historical_batch",
             {"order_status": ["OPEN", "FILLED"]})
    ex.urls["api"]["rest"] = "https://api.example.com"
    with pytest.raises(ccxt.NotSupported, match="api.coinbase.com"):
        call(ex, "v3_private_get_brokerage_accounts", {})


def test_htx_timestamp_rounds_ccxts_clock_as_ccxt_does(creds: Dict[str, Any], agent: Any) -> None:
    """ccxt's HTX Timestamp is its clock rounded to the nearest second (ymdhms), the agent's
    truncated: with clock="ccxt" the adapter sends ccxt's second, here the next one."""
    cred, late = creds["htx"], T + 500  # .623 s: ccxt rounds up
    method, params = "spot_private_get_v1_order_openorders", {"symbol": "btcusdt"}
    want = call(reference(cred, late), method, params)
    got = call(adapted(cred, agent, late, clock="ccxt"), method, params)
    assert_same_request(got, want)
    assert _query(got)["Timestamp"] == "2026-01-01T00:00:01"
