"""Coinbase Exchange: the request ccxt builds in coinbaseexchange.sign() (4.5.76 to 4.5.90),
signed by the agent (preset `coinbase-exchange`).

Rules learnt from ccxt: URL = urls['api'][api] + "/" + path; a GET sends its parameters
percent-encoded in the query, other methods json(params) as the body. The signed string is
`timestamp + METHOD + path(?query) + body`. Headers: CB-ACCESS-KEY, -SIGN, -TIMESTAMP,
-PASSPHRASE (sent in clear, by Coinbase's design; the agent holds it), Content-Type JSON. The
agent stamps its timestamp with milliseconds (`1700000000.123`), which Coinbase takes; ccxt
sends whole seconds."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    api_name = api[0]
    if api_name != "private":
        return delegate(ex, path, api, method, params)
    request = "/" + ex.implode_params(path, params)
    query = ex.omit(params, ex.extract_params(path))
    api_url = ex.safe_string(ex.urls["api"], api_name)
    if api_url is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    query_string = ""
    body = None
    if method == "GET":
        if query:
            query_string = ex.urlencode(query)
    elif query:
        body = ex.json(query)
    result = signer.sign(method, request, query_string, body,
                         timestamp=signer.client_value(ex.nonce))
    url = ex.implode_hostname(api_url) + request + ("?" + result.query if result.query else "")
    headers = pick(result, "CB-ACCESS-KEY", "CB-ACCESS-SIGN", "CB-ACCESS-TIMESTAMP",
                   "CB-ACCESS-PASSPHRASE")
    headers["Content-Type"] = "application/json"
    return {"url": url, "method": method, "body": body, "headers": headers}
