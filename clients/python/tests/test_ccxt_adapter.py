"""The adapter's requests (URL, method, body, headers and their order) equal ccxt 4.5.90's own
signing with the secret, through a real agent on SoftHSM. Each request goes through ccxt's
implicit API method (fetch2 -> sign -> fetch), with fetch capturing instead of sending."""

from __future__ import annotations

from typing import Any, Dict
from urllib.parse import parse_qs, unquote, urlsplit

import ccxt
import pytest
from ccxt_compare import adapted, assert_same_request, call, reference

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
    (sub-account, batchOrders, ...): those sign and send the encoded form instead."""
    if ex.id == "binance":
        ex.rawencode = ex.urlencode
    return ex


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_equals_ccxt_with_pinned_clock(case: Any, creds: Dict[str, Any], agent: Any) -> None:
    exchange, method, params = case
    cred = creds[exchange]
    want = call(as_documented(reference(cred, T)), method, params)
    got = call(adapted(cred, agent, T, clock="ccxt"), method, params)
    assert_same_request(got, sent_as_documented(got, want))


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
}


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_agent_stamped_requests_equal_ccxt_at_that_time(
    case: Any, creds: Dict[str, Any], agent: Any
) -> None:
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
    want = call(ref, method, params)
    assert_same_request(got, sent_as_documented(got, want))


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
