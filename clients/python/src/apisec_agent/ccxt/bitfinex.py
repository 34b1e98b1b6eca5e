"""Bitfinex (v2): the request ccxt builds in bitfinex.sign() (4.5.76 to 4.5.90), signed by the
agent.

Rules learnt from ccxt: private URL = urls['api']['private'] + "/v2/" + path, always POST with
json(params) as the body (`{}` when empty); the signed string is "/api/v2/" + path + nonce +
body. Headers: bfx-nonce, bfx-apikey, bfx-signature, Content-Type JSON. The nonce is the
agent's (microseconds, increasing per key, shared with its logins); ccxt counts its own
milliseconds: do not mix the two on one key."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    if api[0] != "private":
        return delegate(ex, path, api, method, params)
    request = ex.version + "/" + ex.implode_params(path, params)
    base = ex.safe_string(ex.urls["api"], "private")
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    body = ex.json(ex.omit(params, ex.extract_params(path)))
    nonce = signer.client_value(getattr(ex, "incrementing_nonce", ex.nonce))
    result = signer.sign(method, "/" + request, "", body, nonce=nonce)
    headers = pick(result, "bfx-nonce", "bfx-apikey", "bfx-signature")
    headers["Content-Type"] = "application/json"
    return {"url": base + "/" + request, "method": method, "body": body, "headers": headers}
