"""Bitget: the request ccxt 4.5.90 builds in bitget.sign(), signed by the agent.

Rules learnt from ccxt: private URL = api[1]'s host + "/api/" + path; POST sends json(params)
as the body; other methods send the params key-sorted in the query, percent-encoded with "%24"
turned back into "$". The signature covers the decoded query, as Bitget's own SDK signs it: the
agent is given the query as sent and decodes it itself. Headers: the four
ACCESS-* values, X-CHANNEL-API-CODE (ccxt's broker option), Content-Type only on POST, and
PAPTRADING=1 in sandbox mode. The agent's extra `locale` header is not sent, as ccxt sends none."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick

AUTH_HEADERS = ("ACCESS-KEY", "ACCESS-SIGN", "ACCESS-TIMESTAMP", "ACCESS-PASSPHRASE")
# Paths ccxt leaves without the sandbox header.
NO_SANDBOX_HEADER = ("v2/public/time", "v3/market/current-fund-rate")
SANDBOX_EXEMPT_PRODUCTS = ("SCOIN-FUTURES", "SUSDT-FUTURES", "SUSDC-FUTURES")


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    if api[0] != "private":
        return delegate(ex, path, api, method, params)
    request_path = "/api/" + ex.implode_params(path, params)
    api_url = ex.safe_string(ex.urls["api"], api[1])
    if api_url is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    url = ex.implode_hostname(api_url) + request_path
    body = None
    query = ""
    if method == "POST":
        body = ex.json(params)
    elif len(params) > 0:
        query = ex.urlencode(ex.keysort(params), True).replace("%24", "$")
    result = signer.sign(
        method, request_path, query, body, timestamp=signer.client_value(ex.nonce)
    )
    if result.query:
        url += "?" + result.query
    headers = pick(result, *AUTH_HEADERS)
    headers["X-CHANNEL-API-CODE"] = ex.safe_string(ex.options, "broker")
    if method == "POST":
        headers["Content-Type"] = "application/json"
    sandbox = ex.safe_bool_2(ex.options, "sandboxMode", "sandbox", False)
    if sandbox and path not in NO_SANDBOX_HEADER:
        if ex.safe_string(params, "productType") not in SANDBOX_EXEMPT_PRODUCTS:
            headers["PAPTRADING"] = "1"
    return {"url": url, "method": method, "body": body, "headers": headers}
