"""Binance: the request ccxt 4.5.90 builds in binance.sign(), signed by the agent.

ccxt puts `timestamp` FIRST (extend({'timestamp': ...}, params)), then the params, then
recvWindow, signs that string and appends `&signature=`. The agent's binance preset stamps the
timestamp where an empty `timestamp=` stands first in the query, so the adapter asks for
"timestamp=&symbol=..." and gets ccxt's exact string back, signed; it then places it where ccxt
would (URL for GET/DELETE, form body otherwise: Binance signs query + body, so moving the whole
string into the body keeps the signature valid)."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick, url_path

SIGNED_APIS = {
    "private", "eapiPrivate", "sapiV2", "sapiV3", "sapiV4", "dapiPrivate", "dapiPrivateV2",
    "fapiPrivate", "fapiPrivateV2", "fapiPrivateV3",
}
USER_DATA_STREAM = ("userDataStream", "listenKey", "userListenToken")


def is_signed(api_name: str, path: str) -> bool:
    """ccxt's condition for an HMAC-signed request (user data streams need the key only)."""
    if path in USER_DATA_STREAM:
        return False
    return (
        api_name in SIGNED_APIS
        or (api_name == "sapi" and path != "system/status")
        or api_name == "papiV2"
        or (api_name == "papi" and path != "ping")
    )


def encoder(ex: Any, api_name: str, path: str, method: str) -> Any:
    if api_name == "sapi" and path == "asset/dust":
        return ex.urlencode_with_array_repeat
    # ccxt sends batchOrders, capital/withdraw/apply, sub-account, staking and simple-earn
    # parameters raw (unencoded); Binance refuses a signature over an unencoded payload since
    # 2026-01-15 (its CHANGELOG, 2025-12-17), so the adapter encodes them like every other.
    if method == "DELETE" and path == "batchOrders":
        raise ccxt.NotSupported("apisec adapter: DELETE batchOrders is not supported")
    return ex.urlencode


def client_order_id(ex: Any, params: Any, api_name: str, path: str, method: str) -> Any:
    """ccxt's broker order id, injected into an order that names none: through its own
    `handle_client_order_id` (4.5.8x and later), else as 4.5.76's sign() did it inline."""
    if hasattr(ex, "handle_client_order_id"):
        return ex.handle_client_order_id(params, api_name, path, method)
    if method == "POST" and path in ("order", "sor/order") and \
            ex.safe_string(params, "newClientOrderId") is None:
        spot = "sapi" in api_name or api_name == "private"
        broker = ex.safe_dict(ex.options, "broker", {})
        default = "x-TKT5PX2F" if spot else "x-xcKtGhcu"
        params["newClientOrderId"] = ex.safe_string(broker, "spot" if spot else "future",
                                                    default) + ex.uuid22()
    return params


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    api_name = api[0]
    base = ex.safe_string(ex.safe_dict(ex.urls, "api", {}), api_name)
    if base is None or not is_signed(api_name, path):
        return delegate(ex, path, api, method, params)
    url = base + "/" + path
    if "testnet.binancefuture.com" in url and ex.isSandboxModeEnabled:
        return delegate(ex, path, api, method, params)  # ccxt raises its own NotSupported
    request = client_order_id(ex, params, api_name, path, method)
    if path == "batchOrders" and method in ("POST", "PUT"):
        request["batchOrders"] = ex.json(ex.safe_list(request, "batchOrders", []))
    # A caller's own timestamp keeps ccxt's first position; it goes to the agent as the client's.
    client_ts = request.get("timestamp")
    rest = {k: v for k, v in request.items() if k != "timestamp"}
    default_window = ex.safe_integer(ex.options, "recvWindow")
    if default_window is not None:
        rest["recvWindow"] = default_window
    window = ex.safe_integer(request, "recvWindow")
    if window is not None:
        rest["recvWindow"] = window
    encoded_rest = encoder(ex, api_name, path, method)(rest) if rest else ""
    tail = "&" + encoded_rest if encoded_rest else ""
    timestamp = str(client_ts) if client_ts is not None else signer.client_value(ex.nonce)
    result = signer.sign(method, url_path(url), "timestamp=" + tail, "", timestamp=timestamp)
    if "timestamp" not in result.query_additions or "signature" not in result.query_additions:
        raise ccxt.ExchangeError("apisec agent reply lacks timestamp/signature for binance")
    # The agent's query, not ours: it percent-encodes what it signs as Binance requires (the
    # values ccxt leaves raw on some endpoints included).
    query = result.query
    headers = pick(result, "X-MBX-APIKEY")
    body = None
    if method in ("GET", "DELETE"):
        url += "?" + query
    else:
        body = query
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return {"url": url, "method": method, "body": body, "headers": headers}
