"""Bitget v2 request authentication, as https://www.bitget.com/api-doc/common/signature documents:

    ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath
                                             + ("?" + queryString if any) + body))

with ACCESS-TIMESTAMP in Unix milliseconds and ACCESS-PASSPHRASE the passphrase in clear.

Error codes. Bitget's error-code page (https://www.bitget.com/api-doc/common/error-code) was not
reachable from the reference corpus; the codes below were cross-checked in two sources that
copy it: ccxt 4.5.90 `bitget.py` `exceptions` ('40006': "Invalid ACCESS_KEY", '40008':
"Request timestamp expired", '40009': "sign signature error", '40012': "apikey/password is
incorrect", '40037': "Apikey does not exist", '40005': "Invalid ACCESS_TIMESTAMP") and the
Bitget-derived table of WEEX (https://weex-1.gitbook.io/en/error-codes/common-error-codes: 40001
to 40003 and 40011 for a missing ACCESS_KEY / ACCESS_SIGN / ACCESS_TIMESTAMP / ACCESS_PASSPHRASE,
HTTP status 400 for all). An unknown key gets 40037, the answer Bitget gives live for a key it
does not know (40006 is for a malformed one)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class Credentials:
    """The one key this test exchange accepts. It holds the secret because it is the exchange."""

    api_key: str
    secret: str
    passphrase: str

    def __repr__(self) -> str:  # never let a secret reach a log through repr()
        return f"Credentials(api_key={self.api_key!r}, secret=<redacted>, passphrase=<redacted>)"


@dataclass(frozen=True)
class AuthError(Exception):
    code: str
    msg: str


MISSING = {
    "ACCESS-KEY": AuthError("40001", "ACCESS_KEY cannot be empty"),
    "ACCESS-SIGN": AuthError("40002", "ACCESS_SIGN cannot be empty"),
    "ACCESS-TIMESTAMP": AuthError("40003", "ACCESS_TIMESTAMP cannot be empty"),
    "ACCESS-PASSPHRASE": AuthError("40011", "ACCESS_PASSPHRASE cannot be empty"),
}
INVALID_TIMESTAMP = AuthError("40005", "Invalid ACCESS_TIMESTAMP")
TIMESTAMP_EXPIRED = AuthError("40008", "Request timestamp expired")
SIGN_ERROR = AuthError("40009", "sign signature error")
PASSPHRASE_ERROR = AuthError("40012", "apikey/password is incorrect")
UNKNOWN_KEY = AuthError("40037", "Apikey does not exist")
# Every code this module answers: a request refused for its authentication.
AUTH_CODES = frozenset([e.code for e in MISSING.values()] + [
    e.code for e in (INVALID_TIMESTAMP, TIMESTAMP_EXPIRED, SIGN_ERROR, PASSPHRASE_ERROR,
                     UNKNOWN_KEY)])


def prehash(timestamp: str, method: str, path: str, query: str, body: bytes) -> bytes:
    # The query as Bitget signs it: decoded (its SDK's toQueryWithNoEncode; the URL carries it
    # encoded).
    q = "?" + unquote_plus(query) if query else ""
    return (timestamp + method.upper() + path + q).encode("utf-8") + body


def signature(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def header(headers: Mapping[str, str], name: str) -> Optional[str]:
    # HTTP header names are case-insensitive.
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def verify(
    creds: Credentials,
    headers: Mapping[str, str],
    method: str,
    path: str,
    query: str,
    body: bytes,
    now_ms: int,
    window_ms: int,
) -> None:
    """Raises AuthError with Bitget's code unless the request is authentic and fresh. `query` is
    the raw query string as received (what Bitget's rule signs), `body` the raw body bytes."""
    values = {}
    for name, err in MISSING.items():
        v = header(headers, name)
        if not v:
            raise err
        values[name] = v
    if not hmac.compare_digest(values["ACCESS-KEY"], creds.api_key):
        raise UNKNOWN_KEY
    ts = values["ACCESS-TIMESTAMP"]
    if not ts.isdigit() or len(ts) > 19:
        raise INVALID_TIMESTAMP
    if abs(now_ms - int(ts)) > window_ms:
        raise TIMESTAMP_EXPIRED
    if not hmac.compare_digest(values["ACCESS-PASSPHRASE"].encode(), creds.passphrase.encode()):
        raise PASSPHRASE_ERROR
    expected = signature(creds.secret, prehash(ts, method, path, query, body))
    if not hmac.compare_digest(values["ACCESS-SIGN"].encode(), expected.encode()):
        raise SIGN_ERROR
