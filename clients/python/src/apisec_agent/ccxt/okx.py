"""OKX v5: the request ccxt 4.5.90 builds in okx.sign(), signed by the agent.

Rules learnt from ccxt: URL = rest host + "/api/v5/" + path; GET sends the params urlencoded in
the query (signed with the "?"); other methods send json(params) when there are params. On
POST trade/order, trade/order-algo and trade/batch-orders ccxt tags orders with its broker id
(clOrdId/tag) when the caller gave none; note that for a single order it tags the caller's dict
AFTER copying the params for the body, so only batch orders carry the tag in the body; the
adapter does the same. Header order as ccxt: KEY, PASSPHRASE, TIMESTAMP, [Content-Type], SIGN."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick

TAGGED_PATHS = ("trade/batch-orders", "trade/order-algo", "trade/order")


def tag_orders(ex: Any, params: Any) -> None:
    broker_id = ex.safe_string(ex.options, "brokerId", "6b9ad766b55dBCDE")
    entries = params if isinstance(params, list) else [params]
    for entry in entries:
        if ex.safe_string(entry, "clOrdId") is None:
            entry["clOrdId"] = broker_id + ex.uuid16()
            entry["tag"] = broker_id


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    if api[0] != "private":
        return delegate(ex, path, api, method, params)
    is_array = isinstance(params, list)
    request_path = "/api/" + ex.version + "/" + ex.implode_params(path, params)
    query = ex.omit(params, ex.extract_params(path))
    base = ex.safe_string(ex.urls["api"], "rest")
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    url = ex.implode_hostname(base) + request_path
    if method == "POST" and path in TAGGED_PATHS:
        tag_orders(ex, params)
    has_json_body = method != "GET" and (is_array or len(query) > 0)
    body = ex.json(query) if has_json_body else None
    signed_query = ""
    if method == "GET" and len(query) > 0:
        signed_query = ex.urlencode(query)
        url += "?" + signed_query
    timestamp = signer.client_value(lambda: ex.iso8601(ex.nonce()))
    result = signer.sign(method, request_path, signed_query, body, timestamp=timestamp)
    auth = pick(result, "OK-ACCESS-KEY", "OK-ACCESS-PASSPHRASE", "OK-ACCESS-TIMESTAMP",
                "OK-ACCESS-SIGN")
    headers = {k: auth[k] for k in ("OK-ACCESS-KEY", "OK-ACCESS-PASSPHRASE", "OK-ACCESS-TIMESTAMP")}
    if method != "GET":
        headers["Content-Type"] = "application/json"
    headers["OK-ACCESS-SIGN"] = auth["OK-ACCESS-SIGN"]
    return {"url": url, "method": method, "body": body, "headers": headers}
