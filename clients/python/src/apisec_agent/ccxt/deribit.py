"""Deribit (v2): the request ccxt 4.5.90 builds in deribit.sign() (4.5.76 to 4.5.90), signed by
the agent.

Rules learnt from ccxt: URL = urls['api']['rest'] + "/api/v2/private/" + path (ccxt's private
API is GET only), the parameters urlencoded in the query, no body. The signed string is
`timestamp\\nnonce\\nMETHOD\\nURI\\n\\n` (URI = path + "?query", the body empty); one header:
`Authorization: deri-hmac-sha256 id=KEY,ts=T,sig=HEX,nonce=N`. ccxt's timestamp and nonce are
both its milliseconds(); the agent's timestamp is its milliseconds and its nonce its
microseconds counter. With clock="ccxt" both are ccxt's.

Every Deribit signature is also a `public/auth` login (grant_type=client_signature, its data
the request's last lines), so the agent signs only for a secret whose policy says
`allow_login = true` (`apisec-agent add` refuses a Deribit secret without one)."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    api_name = api[0]
    if api_name != "private":
        return delegate(ex, path, api, method, params)
    request = "/api/" + ex.version + "/" + api_name + "/" + path
    query = ex.urlencode(params) if len(params) > 0 else ""
    base = ex.safe_string(ex.urls["api"], "rest")
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    result = signer.sign(method, request, query, None,
                         timestamp=signer.client_value(ex.milliseconds),
                         nonce=signer.client_value(ex.nonce))
    url = base + request + ("?" + result.query if result.query else "")
    return {"url": url, "method": method, "body": None, "headers": pick(result, "Authorization")}
