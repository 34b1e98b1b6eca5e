"""HTX (Huobi): the request ccxt 4.5.90 builds in htx.sign() (4.5.76 to 4.5.90), signed by the
agent (preset `htx`).

Rules learnt from ccxt: two request builders. The old endpoints (a one-level API: `private`,
`v2Private`) go to ex.hostname (api.huobi.pro) at "/v1/" or "/v2/" + path, and put the four
auth parameters (SignatureMethod, SignatureVersion, AccessKeyId, Timestamp) and, except on
POST, the caller's parameters in one query, sorted by name. The new ones (`spot`/`contract`
then `private`) go to urls['hostnames'][type] (spot api.huobi.pro, contract api.hbdm.vn) at "/"
+ path, with the four auth parameters sorted first and then, except on POST, the caller's
sorted. Both append `Signature`, urlencode every value (a list as repeated names), and on POST
send json(params) as the body (`{}` for none on the new ones), which HTX does not sign; ccxt's
broker tags (channel_code, client-order-id) go into the caller's dict after the body's copy,
so they are never sent: the adapter does the same. Headers: Content-Type JSON on POST, form
otherwise. Timestamp: ccxt's nonce() rounded to the nearest second, "YYYY-MM-DDThh:mm:ss".

The agent signs `METHOD\\nhost\\npath\\nsorted query` for the host named (ccxt's hostname; the
preset's: api.huobi.pro, api-aws.huobi.pro, api.hbdm.com, api.hbdm.vn) and returns the auth
parameters, which the adapter places where ccxt places them (HTX sorts the query itself).
Refused (ccxt.NotSupported): another host (HTX signs it; the agent knows those four) and a
parameter given several times (the agent refuses a name given twice)."""

from __future__ import annotations

from typing import Any, Dict, List
from urllib.parse import unquote

import ccxt

from ._signer import Request, Signer, delegate
from .krakenfutures import repeated_name

HOSTS = ("api.huobi.pro", "api-aws.huobi.pro", "api.hbdm.com", "api.hbdm.vn")
AUTH = ("SignatureMethod", "SignatureVersion", "AccessKeyId", "Timestamp")


def _hostname(ex: Any, api: List[str]) -> Any:
    """ccxt's host for a new-style endpoint: urls['hostnames'][type], nested by api[2], api[3]."""
    hostnames = ex.safe_value(ex.urls["hostnames"], ex.safe_string(api, 0))
    if not isinstance(hostnames, str):
        hostnames = ex.safe_value(hostnames, ex.safe_string(api, 2))
        if not isinstance(hostnames, str) and ex.safe_string(api, 3) is not None:
            hostnames = ex.safe_value(hostnames, ex.safe_string(api, 3))
    return hostnames


def _tag_order(ex: Any, path: str, params: Any) -> None:
    """ccxt's broker tags, set on the caller's dict (not on the body's copy)."""
    broker_id = ex.safe_string(ex.safe_dict(ex.options, "broker", {}), "id", "AA03022abc")
    if isinstance(params, list):
        return
    if path.find("cancel") < 0 and path.endswith("order"):
        if ex.safe_string(params, "channel_code") is None:
            params["channel_code"] = broker_id
    elif path.endswith("orders/place"):
        if ex.safe_string(params, "client-order-id") is None:
            params["client-order-id"] = broker_id + ex.uuid()


def _timestamp(ex: Any) -> str:
    """ccxt's ymdhms(nonce()): the nonce rounded to the second, in the ISO form the agent takes."""
    return ex.iso8601(int(round(ex.nonce() / 1000)) * 1000)


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    is_array = isinstance(params, list)
    query = {} if is_array else ex.omit(params, ex.extract_params(path))
    url = "/"
    if len(api) == 1:
        api_name = api[0]
        if api_name not in ("private", "v2Private"):
            return delegate(ex, path, api, method, params)
        version = ex.version if api_name == "private" else "v2"
        url += version + "/" + ex.implode_params(path, params)
        hostname = ex.hostname
        base = ex.safe_string(ex.urls["api"], api_name)
        together = True  # ccxt sorts the auth parameters and the caller's together
    else:
        if ex.safe_string(api, 1) != "private":
            return delegate(ex, path, api, method, params)
        hostname = _hostname(ex, api)
        url += ex.implode_params(path, params)
        if method == "POST":
            _tag_order(ex, path, params)
        base = ex.safe_string(ex.urls["api"], ex.safe_string(api, 0))
        together = False  # the auth parameters sorted, then the caller's sorted
    if base is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    if hostname not in HOSTS:
        raise ccxt.NotSupported(
            f"apisec adapter: htx signs the host; the agent's htx preset knows {', '.join(HOSTS)}, "
            f"not {hostname!r}"
        )
    signed = {} if method == "POST" else ex.keysort(query)
    client_query = ex.urlencode(signed, True) if signed else ""
    twice = repeated_name(client_query) if client_query else None
    if twice is not None:
        raise ccxt.NotSupported(
            f"apisec adapter: htx {path} sends {twice!r} several times, which the agent "
            "refuses (a name given twice): one value per request"
        )
    body = None
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if method == "POST":
        body = ex.json(params if is_array else query)
        if not together and not is_array and len(body) == 2:
            body = "{}"
        headers = {"Content-Type": "application/json"}
    result = signer.sign(method, url, client_query, body,
                         timestamp=signer.client_value(lambda: _timestamp(ex)), host=hostname)
    additions = result.query_additions
    missing = [k for k in AUTH + ("Signature",) if k not in additions]
    if missing:
        raise ccxt.ExchangeError(f"apisec agent reply lacks query parameters {missing}")
    # The agent's values, placed as ccxt places its own (and encoded as ccxt encodes them).
    auth: Dict[str, Any] = {k: unquote(additions[k]) for k in AUTH}
    if together:
        auth_query = ex.urlencode(ex.keysort(ex.extend(auth, signed)), True)
    else:
        auth_query = ex.urlencode(ex.keysort(auth), True)
        if signed:
            auth_query += "&" + client_query
    auth_query += "&" + ex.urlencode({"Signature": unquote(additions["Signature"])})
    url = ex.implode_params(base, {"hostname": hostname}) + url + "?" + auth_query
    return {"url": url, "method": method, "body": body, "headers": headers}
