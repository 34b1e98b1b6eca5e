"""Coinbase Advanced Trade (CDP keys): the request ccxt 4.5.90 builds in coinbase.sign()
(4.5.76 to 4.5.90), signed by the agent (preset `coinbase-advanced`).

Rules learnt from ccxt: URL = urls['api']['rest'] + "/api/v3/" + path for the v3 API, "/v2/" +
path for v2; a GET sends its parameters in the query (lists as repeated names), other methods
json(params) as the body when there are any. A private request carries `Authorization: Bearer
<JWT>` then `Content-Type: application/json`; ccxt's JWT names the request in its `uri` claim
("METHOD api.coinbase.com/path", no query), so neither query nor body is signed. A header
`Authorization` the caller set on the instance is sent instead, as ccxt does (no signature).

Where the agent differs: its JWT is Coinbase's own SDK's (coinbase-advanced-py): `iss: "cdp"`,
no `aud` nor `iat`, and with an Ed25519 key the same `uri` claim, where ccxt writes the legacy
claims (`iss: "coinbase-cloud"`, `aud`, `iat`; EdDSA: `uris`); its nonce is the agent's. With
clock="ccxt" the timestamp (`nbf`) is ccxt's seconds(), the nonce still the agent's. Refused
(ccxt.NotSupported): another host than api.coinbase.com (the JWT names that host) and a GET
parameter given several times (the agent refuses a name given twice). Coinbase's legacy HMAC
keys (ccxt's CB-ACCESS-* headers) are not this preset's: it holds CDP keys only."""

from __future__ import annotations

from typing import Any, List
from urllib.parse import urlsplit

import ccxt

from ._signer import Request, Signer, delegate, pick
from .krakenfutures import repeated_name

HOST = "api.coinbase.com"


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    version = ex.safe_string(api, 0)
    if ex.safe_string(api, 1) != "private":
        return delegate(ex, path, api, method, params)
    path_part = "api/v3" if version == "v3" else "v2"
    full_path = "/" + path_part + "/" + ex.implode_params(path, params)
    query = ex.omit(params, ex.extract_params(path))
    query_string = ""
    if method == "GET" and len(query) > 0:
        query_string = ex.urlencode_with_array_repeat(query)
    api_url = ex.safe_string(ex.urls["api"], "rest")
    if api_url is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    body = ex.json(query) if method != "GET" and len(query) > 0 else None
    url = api_url + full_path
    authorization = ex.safe_string(ex.headers, "Authorization")
    if authorization is None:
        if urlsplit(api_url).hostname != HOST:
            raise ccxt.NotSupported(
                f"apisec adapter: coinbase-advanced JWTs name the host {HOST}, not {api_url}"
            )
        twice = repeated_name(query_string) if query_string else None
        if twice is not None:
            raise ccxt.NotSupported(
                f"apisec adapter: coinbase {path} sends {twice!r} several times, which the "
                "agent refuses (a name given twice): one value per request"
            )
        result = signer.sign(method, full_path, query_string, body,
                             timestamp=signer.client_value(ex.seconds))
        authorization = pick(result, "Authorization")["Authorization"]
        query_string = result.query
    if query_string:
        url += "?" + query_string
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    return {"url": url, "method": method, "body": body, "headers": headers}
