"""Bybit: the request ccxt 4.5.90 builds in bybit.sign() for v5 (and v3 unified/contract)
private endpoints, signed by the agent.

Rules learnt from ccxt: URL = host + "/" + path; GET sends rawencode(params) (NOT
percent-encoded) after "?", even when empty; POST sends json(params). Prehash
timestamp + key + recvWindow + payload. Headers: Content-Type, X-BAPI-API-KEY,
X-BAPI-TIMESTAMP, X-BAPI-RECV-WINDOW, [X-BAPI-SIGN-TYPE: 2 on v3], X-BAPI-SIGN; every POST adds
Referer (ccxt's broker id). The agent signs with its own fixed recv window, so a ccxt
`options['recvWindow']` that differs is refused here rather than sent with a wrong signature.
The legacy (`api_key=` in the query) and openapi schemes are not supported."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick, url_path


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    api_name = api[0]
    base = ex.safe_string(ex.urls["api"], api_name)
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    if api_name != "private":
        return delegate(ex, path, api, method, params)
    url = ex.implode_hostname(base) + "/" + path
    is_v3 = "unified/v3" in url or "contract/v3" in url
    if "openapi" in url or not (is_v3 or "v5" in url):
        raise ccxt.NotSupported(f"apisec adapter: bybit endpoint {path} uses a legacy scheme")
    query = ex.extend({}, params)
    encoded = ex.rawencode(query)
    body = None
    signed_query = ""
    if method == "POST":
        body = ex.json(query)
    else:
        signed_query = encoded
        url += "?" + encoded
    result = signer.sign(
        method, url_path(url), signed_query, body, timestamp=signer.client_value(ex.nonce)
    )
    auth = pick(result, "X-BAPI-API-KEY", "X-BAPI-TIMESTAMP", "X-BAPI-SIGN", "X-BAPI-RECV-WINDOW")
    window = str(ex.options["recvWindow"])
    if auth["X-BAPI-RECV-WINDOW"] != window:
        raise ccxt.NotSupported(
            f"apisec agent signs bybit requests with recvWindow {auth['X-BAPI-RECV-WINDOW']}; "
            f"set exchange.options['recvWindow'] to it (it is {window})"
        )
    headers = {"Content-Type": "application/json"}
    for name in ("X-BAPI-API-KEY", "X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW"):
        headers[name] = auth[name]
    if is_v3:
        headers["X-BAPI-SIGN-TYPE"] = "2"
    headers["X-BAPI-SIGN"] = auth["X-BAPI-SIGN"]
    if method == "POST":
        headers["Referer"] = ex.safe_string(ex.options, "brokerId", "CCXT")
    return {"url": url, "method": method, "body": body, "headers": headers}
