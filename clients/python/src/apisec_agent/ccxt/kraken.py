"""Kraken spot: the request ccxt 4.5.90 builds in kraken.sign(), signed by the agent.

Rules learnt from ccxt: URL = host + "/0/private/" + path, always POST; the body is
urlencode_nested({nonce, **params}) with the nonce first, which is exactly what the agent's
preset builds from the params' form (it inserts "nonce=N&" at the front and returns the body).
ccxt switches to a JSON body for CancelOrderBatch, AddOrderBatch and percent trigger prices
(json({nonce, **params}), the nonce a string and first): the agent's preset puts its nonce first
in a JSON object body the same way. Headers: API-Key, API-Sign, Content-Type form or JSON. The agent's nonce is microseconds, ccxt's milliseconds: do not mix
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
    as_json = path in JSON_PATHS or (price is not None and price.endswith("%"))
    request_path = "/" + ex.version + "/" + api_name + "/" + path
    base = ex.safe_string(ex.urls["api"], api_name)
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    # A caller's own nonce keeps ccxt's first position; it goes to the agent as the client's.
    nonce = params.get("nonce") if isinstance(params, dict) else None
    rest = ex.omit(params, "nonce")
    form = ex.json(rest) if as_json else ex.urlencode_nested(rest)
    if nonce is None:
        # ccxt 4.5.8x and later count a Kraken nonce up (`incrementing_nonce`); 4.5.76 uses nonce().
        nonce = signer.client_value(getattr(ex, "incrementing_nonce", ex.nonce))
    result = signer.sign(method, request_path, "", form, nonce=None if nonce is None else str(nonce))
    if result.body is None:
        raise ccxt.ExchangeError("apisec agent did not return kraken's body with the nonce")
    headers = pick(result, "API-Key", "API-Sign")
    headers["Content-Type"] = "application/json" if as_json else "application/x-www-form-urlencoded"
    return {
        "url": base + request_path,
        "method": method,
        "body": result.body.decode("utf-8"),
        "headers": headers,
    }
