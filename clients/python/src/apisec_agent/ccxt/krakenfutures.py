"""Kraken Futures: the request ccxt 4.5.90 builds in krakenfutures.sign() (4.5.76 to 4.5.90),
signed by the agent (preset `kraken-futures`).

Rules learnt from ccxt: URL = urls['api'][api] + version + "/" + path, the version being the
`version` parameter, else options['versions'][api][METHOD][path], else "v3". Signed are the
`private` API (urls: .../derivatives/api/) and the paths options['access'] marks private (the
`history` API's orders, executions, triggers, account-log, ...: .../api/history/). postData is
the parameters urlencoded and sent in the query whatever the method (`orderIds` as repeated
names), except `batchorder`, whose body is "json=" + json(params) with no query. Headers:
Content-Type form, Accept JSON, APIKey, Authent. `batchorder` is refused (ccxt.NotSupported):
the agent takes a form body only URL-encoded, and ccxt sends the JSON raw after "json=".

Where the agent differs: ccxt signs no nonce (an Authent valid for ever); the agent always
stamps one and signs SHA-256(postData + Nonce + endpointPath) as Kraken documents, and the
adapter sends its `Nonce` header last. The nonce is the agent's (microseconds); with
clock="ccxt" the adapter sends ccxt's milliseconds(): do not mix the two on one key. The agent
refuses a name given twice, so a `orderIds` list of more than one id is refused here
(ccxt.NotSupported): send one id per request."""

from __future__ import annotations

from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick, url_path


def repeated_name(query: str) -> "str | None":
    """The first parameter name a query carries twice, which the agent refuses."""
    seen = set()
    for pair in query.split("&"):
        name = pair.split("=", 1)[0]
        if name in seen:
            return name
        seen.add(name)
    return None


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    api_name = api[0]
    versions = ex.safe_dict(ex.safe_dict(ex.options["versions"], api_name, {}), method, {})
    version = ex.safe_string(params, "version", ex.safe_string(versions, path, ex.version))
    without_version = ex.omit(params, "version")
    access_of = ex.safe_dict(ex.safe_dict(ex.options["access"], api_name, {}), method, {})
    access = ex.safe_string(access_of, path, "public")
    if api_name != "private" and access != "private":
        return delegate(ex, path, api, method, params)
    endpoint = version + "/" + ex.implode_params(path, without_version)
    rest = ex.omit(without_version, ex.extract_params(path))
    query = ""
    body = None  # ccxt sends a body only for batchorder
    if path == "batchorder":
        # ccxt (as Kraken's docs) sends "json=" + the raw JSON as a form body; the agent takes a
        # form body only URL-encoded, as it is judged (a raw '{' is refused).
        raise ccxt.NotSupported(
            "apisec adapter: krakenfutures batchorder sends json=<raw JSON> as its body, which "
            "the agent's kraken-futures preset refuses (a form body must be URL-encoded): "
            "place, edit and cancel the orders one by one (sendorder, editorder, cancelorder)"
        )
    if len(rest) > 0:
        if "orderIds" in rest:
            query = ex.urlencode_with_array_repeat(rest)
        else:
            query = ex.urlencode(rest)
    twice = repeated_name(query) if query else None
    if twice is not None:
        raise ccxt.NotSupported(
            f"apisec adapter: krakenfutures {path} sends {twice!r} several times, which the "
            "agent refuses (no exchange documents which one it acts on): one value per request"
        )
    base = ex.safe_string(ex.urls["api"], api_name)
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    url = base + endpoint
    result = signer.sign(method, url_path(url), query, body,
                         nonce=signer.client_value(ex.milliseconds))
    if result.query:
        url += "?" + result.query
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    headers.update(pick(result, "APIKey", "Authent", "Nonce"))
    return {"url": url, "method": method, "body": body, "headers": headers}
