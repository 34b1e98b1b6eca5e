"""Verification of Bitget's signature rule: a good request passes; each kind of bad one gets
Bitget's error code. The expected signature of the fixed vector is computed independently with
`printf '%s' "$prehash" | openssl dgst -sha256 -hmac "$secret" -binary | base64` (below)."""

from __future__ import annotations

from typing import Dict

import pytest
from bitget_auth import AuthError, Credentials, prehash, signature, verify

CREDS = Credentials("bg_local_key", "local-test-secret-0001", "local-pass")
NOW = 1_700_000_000_000
WINDOW = 30_000


def signed(ts: int = NOW, method: str = "GET", path: str = "/api/v2/spot/account/assets",
           query: str = "coin=USDT", body: bytes = b"", **override: str) -> Dict[str, str]:
    h = {
        "ACCESS-KEY": CREDS.api_key,
        "ACCESS-SIGN": signature(CREDS.secret, prehash(str(ts), method, path, query, body)),
        "ACCESS-TIMESTAMP": str(ts),
        "ACCESS-PASSPHRASE": CREDS.passphrase,
        "Content-Type": "application/json",
    }
    h.update({k.replace("_", "-"): v for k, v in override.items()})
    return h


def check(h: Dict[str, str], method: str = "GET", path: str = "/api/v2/spot/account/assets",
          query: str = "coin=USDT", body: bytes = b"") -> None:
    verify(CREDS, h, method, path, query, body, NOW, WINDOW)


def code_of(h: Dict[str, str], **kw: object) -> str:
    with pytest.raises(AuthError) as info:
        check(h, **kw)  # type: ignore[arg-type]
    return info.value.code


def test_known_vector() -> None:
    # prehash "1700000000000GET/api/v2/spot/account/assets?coin=USDT", secret above; openssl:
    # 66MOQmzjfBMCgK6wAAZbRkTaNKemUfVVgvyGgv2XVY0=
    msg = prehash("1700000000000", "GET", "/api/v2/spot/account/assets", "coin=USDT", b"")
    assert msg == b"1700000000000GET/api/v2/spot/account/assets?coin=USDT"
    assert signature(CREDS.secret, msg) == "66MOQmzjfBMCgK6wAAZbRkTaNKemUfVVgvyGgv2XVY0="


def test_good_get_and_post_are_accepted() -> None:
    check(signed())
    body = b'{"symbol":"BTCUSDT","side":"buy"}'
    check(signed(method="POST", path="/api/v2/spot/trade/place-order", query="", body=body),
          method="POST", path="/api/v2/spot/trade/place-order", query="", body=body)
    # Lower-case header names are the same headers.
    check({k.lower(): v for k, v in signed().items()})
    # Edges of the freshness window.
    check(signed(ts=NOW - WINDOW))
    check(signed(ts=NOW + WINDOW))


def test_wrong_signature_is_40009() -> None:
    assert code_of(signed(ACCESS_SIGN="AAAA")) == "40009"
    # Signed for another query, body or method: the same error.
    assert code_of(signed(), query="coin=BTC") == "40009"
    assert code_of(signed(), method="POST") == "40009"
    assert code_of(signed(), body=b"{}") == "40009"
    # The "?" belongs in the prehash only when there is a query.
    h = signed(query="")
    h["ACCESS-SIGN"] = signature(CREDS.secret, b"1700000000000GET/api/v2/spot/account/assets?")
    assert code_of(h, query="") == "40009"


def test_stale_or_future_timestamp_is_40008() -> None:
    assert code_of(signed(ts=NOW - WINDOW - 1)) == "40008"
    assert code_of(signed(ts=NOW + WINDOW + 1)) == "40008"
    assert code_of(signed(ACCESS_TIMESTAMP="17e11")) == "40005"


def test_wrong_passphrase_is_40012() -> None:
    assert code_of(signed(ACCESS_PASSPHRASE="local-pas")) == "40012"


def test_unknown_key_is_40037() -> None:
    assert code_of(signed(ACCESS_KEY="bg_other")) == "40037"


def test_missing_headers() -> None:
    for name, code in [("ACCESS-KEY", "40001"), ("ACCESS-SIGN", "40002"),
                       ("ACCESS-TIMESTAMP", "40003"), ("ACCESS-PASSPHRASE", "40011")]:
        h = signed()
        del h[name]
        assert code_of(h) == code, name


def test_credentials_repr_hides_the_secret() -> None:
    assert CREDS.secret not in repr(CREDS) and CREDS.passphrase not in repr(CREDS)
