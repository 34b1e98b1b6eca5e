"""Kraken spot: the request ccxt 4.5.90 builds in kraken.sign(), signed by the agent.

Rules learnt from ccxt: URL = host + "/0/private/" + path, always POST; the body is
urlencode_nested({nonce, **params}) with the nonce first, which is exactly what the agent's
preset builds from the params' form (it inserts "nonce=N&" at the front and returns the body).
ccxt switches to a JSON body for CancelOrderBatch, AddOrderBatch and percent trigger prices;
the agent's preset signs form bodies only, so those are refused here. Headers: API-Key,
API-Sign, Content-Type form. The agent's nonce is microseconds, ccxt's milliseconds: do not mix
the two clocks on one key (a later smaller nonce is "EAPI:Invalid nonce")."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick

JSON_PATHS = ("CancelOrderBatch", "AddOrderBatch")


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    api_name = api[0]
    if api_name != "private":
        return delegate(ex, path, api, method, params)
    price = ex.safe_string(params, "price")
    if path in JSON_PATHS or (price is not None and price.endswith("%")):
        raise ccxt.NotSupported(
            f"apisec adapter: kraken {path} needs a JSON body, which the agent's preset "
            "does not sign"
        )
    request_path = "/" + ex.version + "/" + api_name + "/" + path
    base = ex.safe_string(ex.urls["api"], api_name)
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    # A caller's own nonce keeps ccxt's first position; it goes to the agent as the client's.
    nonce = params.get("nonce") if isinstance(params, dict) else None
    form = ex.urlencode_nested(ex.omit(params, "nonce"))
    if nonce is None:
        nonce = signer.client_value(ex.incrementing_nonce)
    result = signer.sign(method, request_path, "", form, nonce=None if nonce is None else str(nonce))
    if result.body is None:
        raise ccxt.ExchangeError("apisec agent did not return kraken's body with the nonce")
    headers = pick(result, "API-Key", "API-Sign")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return {
        "url": base + request_path,
        "method": method,
        "body": result.body.decode("utf-8"),
        "headers": headers,
    }
