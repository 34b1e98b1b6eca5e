"""BitMEX: the request ccxt 4.5.83 builds in bitmex.sign() (4.5.76 to 4.5.83; ccxt 4.5.90 has no
bitmex class, so `ccxt.bitmex` exists only with those), signed by the agent.

Rules learnt from ccxt: URL = urls['api'][api] + "/api/v1/" + path (no placeholders); a GET
sends every parameter urlencoded in the query; other methods send json(params) as the body
when there are any, and `_format` alone in the query. ccxt signs its public endpoints too
whenever the instance has credentials, which an attached one has: so does the adapter (the
agent's table knows them as reads). Signed string: METHOD + path(?query) + expires + body.
Headers, in ccxt's order: Content-Type JSON, api-key, api-expires, api-signature.

A DELETE with parameters (cancel_order, cancel_orders, cancel_all_orders with a symbol) sends
them as a JSON body, as BitMEX takes them; the agent signs it, the body included.

`api-expires` is the agent's stamp, its clock + 10 s; ccxt's is seconds() + options
recvWindow / 1000 (5 s), which the adapter sends with clock="ccxt"."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick


def _expires(ex: Any) -> Any:
    """ccxt's api-expires: seconds() + recvWindow (ms) / 1000, or options['api-expires']."""
    api_expires = ex.safe_integer(ex.options, "api-expires")
    lead = ex.safe_integer_product(ex.options, "recvWindow", 0.001, api_expires)
    expires = ex.sum(ex.seconds(), lead)
    if expires is None:
        raise ccxt.ExchangeError(ex.id + " sign() missing expires")
    return expires


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    api_name = api[0]
    if api_name not in ("public", "private"):
        return delegate(ex, path, api, method, params)
    request = "/api/" + ex.version + "/" + path
    query = ""
    if method == "GET":
        if len(params) > 0:
            query = ex.urlencode(params)
    else:
        fmt = ex.safe_string(params, "_format")
        if fmt is not None:
            query = ex.urlencode({"_format": fmt})
            params = ex.omit(params, "_format")
    base = ex.safe_string(ex.urls["api"], api_name)
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    body = None
    if method in ("POST", "PUT", "DELETE") and len(params) > 0:
        body = ex.json(params)
    result = signer.sign(method, request, query, body,
                         timestamp=signer.client_value(lambda: _expires(ex)))
    auth = pick(result, "api-key", "api-expires", "api-signature")
    headers = {"Content-Type": "application/json"}
    headers.update(auth)
    url = base + request + ("?" + result.query if result.query else "")
    return {"url": url, "method": method, "body": body, "headers": headers}
