"""Gate (v4): the request ccxt builds in gate.sign() (4.5.76 to 4.5.90), signed by the agent.

Rules learnt from ccxt: URL = urls['api'][auth][type] + "/" + type + "/" + path (sub-accounts
and withdrawals without the type); GET, DELETE, PATCH and futures/delivery POSTs on `dual` and
`positions` carry the parameters in the query, key-sorted and percent-encoded (a `currencies`
list with its commas left raw), PATCH also in the JSON body; other methods send json(params)
as the body, and a `query` member of the parameters in the URL. The signed string is Gate's
(`METHOD\\n/api/v4 path\\nquery\\nsha512(body)\\ntimestamp`) with the query decoded, and the
agent signs a POST's query too, as Gate documents (ccxt leaves it out of its signature).
Headers: KEY, Timestamp, SIGN, Content-Type JSON, and X-Gate-Size-Decimal on futures."""

from __future__ import annotations

import functools
import inspect
from typing import Any, List

import ccxt

from ._signer import Request, Signer, delegate, pick


@functools.lru_cache(maxsize=None)
def sends_size_decimal(cls: type) -> bool:
    """Whether this ccxt's gate.sign() sends X-Gate-Size-Decimal on futures (added after
    4.5.83): the adapter sends what the installed ccxt sends."""
    return "X-Gate-Size-Decimal" in inspect.getsource(cls.sign)


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    if api[0] != "private":
        return delegate(ex, path, api, method, params)
    if isinstance(params, list):
        raise ccxt.NotSupported("apisec adapter: gate requests whose parameters are a list "
                                "(batch cancels) are not supported")
    kind = api[1]
    query = ex.omit(params, ex.extract_params(path))
    imploded = ex.implode_params(path, params)
    end = "" if imploded == "" else "/" + imploded
    entire = end if kind in ("subAccounts", "withdrawals") else "/" + kind + end
    base = ex.urls["api"]["private"].get(kind)
    if base is None:
        raise ccxt.NotSupported(f"{ex.id} does not have a URL for the {kind} market type")
    query_string = ""
    body = None
    on_query = method in ("GET", "DELETE", "PATCH")
    if kind in ("futures", "delivery") and method == "POST":
        second = ex.safe_string(imploded.split("/"), 1, "")
        on_query = "dual" in second or "positions" in second
    if on_query:
        if query:
            query_string = ex.urlencode(query, True)
            if "currencies=" in query_string and "%2C" in query_string:
                query_string = query_string.replace("%2C", ",")
        if method == "PATCH":
            body = ex.json(query)
    else:
        in_url = ex.safe_dict(query, "query", {})
        if in_url:
            query_string = ex.urlencode(in_url)
        body = ex.json(ex.omit(query, "query"))
    signed_path = "/api/" + ex.version + entire
    result = signer.sign(
        method, signed_path, query_string, body,
        timestamp=signer.client_value(lambda: ex.parse_to_int(ex.nonce() / 1000)),
    )
    url = base + entire + ("?" + result.query if result.query else "")
    headers = pick(result, "KEY", "Timestamp", "SIGN")
    headers["Content-Type"] = "application/json"
    if kind == "futures" and sends_size_decimal(type(ex)):
        headers["X-Gate-Size-Decimal"] = "1"
    return {"url": url, "method": method, "body": body, "headers": headers}
