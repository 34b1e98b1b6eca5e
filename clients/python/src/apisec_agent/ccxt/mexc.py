"""MEXC spot (v3): the request ccxt builds in mexc.sign() (4.5.76 to 4.5.90), signed by the
agent. MEXC's futures and broker APIs sign differently and are not the agent's `mexc` preset:
refused with ccxt.NotSupported.

Rules learnt from ccxt: URL = urls['api']['spot']['private'] + "/api/v3/" + path; every
parameter goes in the query, percent-encoded, then `timestamp` (ccxt's nonce) and `recvWindow`
(options, default 5000), whatever the method; the signature (hex HMAC-SHA256 of that query) is
appended last. Headers: X-MEXC-APIKEY, source (ccxt's broker option), Content-Type JSON on
POST, PUT and DELETE. The adapter asks the agent with an empty `timestamp=` where ccxt puts the
stamp."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    section, access = ex.safe_string(api, 0), ex.safe_string(api, 1)
    if access != "private":
        return delegate(ex, path, api, method, params)
    if section != "spot":
        raise ccxt.NotSupported(
            f"apisec adapter: mexc {section} APIs sign differently from the agent's mexc preset "
            "(spot v3)"
        )
    base = ex.safe_string(ex.urls["api"]["spot"], "private")
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    request_path = "/api/" + ex.version + "/" + ex.implode_params(path, params)
    values = ex.omit(params, ex.extract_params(path))
    encoded = ex.urlencode(values) if values else ""
    window = ex.safe_integer(ex.options, "recvWindow", 5000)
    query = (encoded + "&" if encoded else "") + f"timestamp=&recvWindow={window}"
    result = signer.sign(method, request_path, query, None,
                         timestamp=signer.client_value(ex.nonce))
    headers = pick(result, "X-MEXC-APIKEY")
    headers["source"] = ex.safe_string(ex.options, "broker", "CCXT")
    if method in ("POST", "PUT", "DELETE"):
        headers["Content-Type"] = "application/json"
    url = base.rstrip("/") + request_path + "?" + result.query
    return {"url": url, "method": method, "body": None, "headers": headers}
