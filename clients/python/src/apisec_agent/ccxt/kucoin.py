"""KuCoin: the request ccxt 4.5.90 builds in kucoin.sign(), signed by the agent.

Rules learnt from ccxt: the version comes from options['versions'][api][method][path] (or a
`version` param); GET/DELETE carry the params after "?" (ccxt sends them raw, unencoded; the
adapter sends them percent-encoded, and the agent signs them decoded, as KuCoin's docs say:
"the URL must use the content that has not been URL-encoded"), other
methods send json(params) with Content-Type (classic UTA order endpoints also carry
?tradeType=). Headers in ccxt's order: KC-API-KEY-VERSION, KC-API-KEY, KC-API-TIMESTAMP,
[Content-Type], KC-API-PASSPHRASE (signed, key version 2), KC-API-SIGN, then ccxt's partner
headers. The partner signature uses ccxt's published partner key (in ccxt's options, not the
user's secret), so it is computed here, over the timestamp the agent stamped."""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List

import ccxt

from ._signer import Request, Signer, delegate, pick

SIGNED_APIS = ("private", "futuresPrivate", "broker", "earn", "utaPrivate")
CLASSIC_UTA = (
    "/api/ua/v1/classic/order/place", "/api/ua/v1/classic/order/place/batch",
    "/api/ua/v1/classic/order/cancel", "/api/ua/v1/classic/order/cancel/batch",
)


def endpoint_for(ex: Any, api_name: str, path: str, method: str, params: Dict[str, Any]) -> str:
    versions = ex.safe_dict(ex.options, "versions", {})
    method_versions = ex.safe_dict(ex.safe_dict(versions, api_name, {}), method, {})
    default = ex.safe_string(method_versions, path, ex.options["version"])
    version = ex.safe_string(params, "version", default)
    implode = ex.implode_params(path, ex.omit(params, "version"))
    if api_name == "utaV2":
        return "/api/ua/v2/" + implode
    if api_name == "webExchange":
        return "/" + implode
    if api_name == "earn":
        return "/api/v1/" + implode
    if api_name in ("uta", "utaPrivate"):
        return "/api/ua/v1/" + implode
    return "/api/" + version + "/" + implode


def partner_headers(ex: Any, api_name: str, trade_type: Any, ts: str, key: str) -> Dict[str, str]:
    partner = ex.safe_dict(ex.options, "partner", {})
    futures = api_name == "futuresPrivate" or (api_name == "utaPrivate" and trade_type == "FUTURES")
    partner = ex.safe_value(partner, "future" if futures else "spot", partner)
    pid = ex.safe_string(partner, "id")
    psecret = ex.safe_string_2(partner, "secret", "key")
    out: Dict[str, str] = {}
    if pid is not None and psecret is not None:
        payload = ts + pid + key
        out["KC-API-PARTNER-SIGN"] = ex.hmac(
            ex.encode(payload), ex.encode(psecret), hashlib.sha256, "base64"
        )
        out["KC-API-PARTNER"] = pid
        out["KC-API-PARTNER-VERIFY"] = "true"
    if api_name == "broker":
        name = ex.safe_string(partner, "name")
        if name is not None:
            out["KC-BROKER-NAME"] = name
    return out


def sign(ex: Any, signer: Signer, path: str, api: List[str], method: str, params: Any) -> Request:
    api_name = ex.safe_string(api, 0)
    if api_name not in SIGNED_APIS:
        return delegate(ex, path, api, method, params)
    endpoint = endpoint_for(ex, api_name, path, method, params)
    query = ex.omit(ex.omit(params, "version"), ex.extract_params(path))
    api_url = ex.safe_string(ex.urls["api"], api_name)
    if api_url is None:
        raise ccxt.ExchangeError(ex.id + " sign() has no API URL for this endpoint")
    trade_type = ex.safe_string(query, "tradeType")
    body = None
    content_type = False
    if not ex.is_empty(query):
        if method in ("GET", "DELETE") and path != "orders/multi-cancel":
            endpoint += "?" + ex.urlencode(query)
        else:
            if endpoint in CLASSIC_UTA:
                endpoint += "?tradeType=" + trade_type
            body = ex.json(query)
            content_type = True
    signed_path, _, signed_query = endpoint.partition("?")
    result = signer.sign(
        method, signed_path, signed_query, body, timestamp=signer.client_value(ex.nonce)
    )
    auth = pick(result, "KC-API-KEY-VERSION", "KC-API-KEY", "KC-API-TIMESTAMP",
                "KC-API-PASSPHRASE", "KC-API-SIGN")
    headers = {k: auth[k] for k in ("KC-API-KEY-VERSION", "KC-API-KEY", "KC-API-TIMESTAMP")}
    if content_type:
        headers["Content-Type"] = "application/json"
    headers["KC-API-PASSPHRASE"] = auth["KC-API-PASSPHRASE"]
    headers["KC-API-SIGN"] = auth["KC-API-SIGN"]
    headers.update(
        partner_headers(ex, api_name, trade_type, auth["KC-API-TIMESTAMP"], auth["KC-API-KEY"])
    )
    sent = signed_path + ("?" + result.query if result.query else "")
    return {"url": api_url + sent, "method": method, "body": body, "headers": headers}
