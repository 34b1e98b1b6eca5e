"""The HTTP server end to end in-process: balances, place and cancel over real HTTP with signed
requests, Bitget-style error JSON, and the request log."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest
from bitget_auth import Credentials, prehash, signature
from bitget_book import Book
from server import Exchange, serve

CREDS = Credentials("bg_srv_key", "server-test-secret", "srv-pass")


@pytest.fixture()
def exchange() -> Iterator[Tuple[Exchange, str]]:
    ex = Exchange(CREDS, Book({"USDT": Decimal("1000"), "BTC": Decimal("1")}), window_ms=30_000)
    server = serve(ex, 0)
    try:
        yield ex, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send(base: str, method: str, path: str, query: str = "", body: Optional[Dict[str, Any]] = None,
         ts_offset_ms: int = 0, passphrase: str = CREDS.passphrase) -> Tuple[int, Dict[str, Any]]:
    raw = json.dumps(body).encode() if body is not None else b""
    ts = str(time.time_ns() // 1_000_000 + ts_offset_ms)
    headers = {
        "ACCESS-KEY": CREDS.api_key,
        "ACCESS-SIGN": signature(CREDS.secret, prehash(ts, method, path, query, raw)),
        "ACCESS-TIMESTAMP": ts,
        "ACCESS-PASSPHRASE": passphrase,
        "Content-Type": "application/json",
    }
    url = base + path + ("?" + query if query else "")
    req = urllib.request.Request(url, data=raw if method == "POST" else None, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_balance_place_cancel(exchange: Tuple[Exchange, str]) -> None:
    ex, base = exchange
    status, r = send(base, "GET", "/api/v2/spot/account/assets", "coin=USDT")
    assert status == 200 and r["code"] == "00000"
    assert r["data"][0]["coin"] == "USDT" and Decimal(r["data"][0]["available"]) == 1000
    order = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "gtc",
             "price": "20000", "size": "0.01", "clientOid": "t-1"}
    status, r = send(base, "POST", "/api/v2/spot/trade/place-order", body=order)
    assert status == 200 and r["data"]["clientOid"] == "t-1"
    oid = r["data"]["orderId"]
    _, r = send(base, "GET", "/api/v2/spot/account/assets", "coin=USDT")
    assert Decimal(r["data"][0]["available"]) == 800 and Decimal(r["data"][0]["frozen"]) == 200
    status, r = send(base, "POST", "/api/v2/spot/trade/cancel-order",
                     body={"symbol": "BTCUSDT", "orderId": oid})
    assert status == 200 and r["data"]["orderId"] == oid
    _, r = send(base, "GET", "/api/v2/spot/account/assets", "coin=USDT")
    assert Decimal(r["data"][0]["available"]) == 1000
    status, r = send(base, "POST", "/api/v2/spot/trade/cancel-order",
                     body={"symbol": "BTCUSDT", "orderId": oid})
    assert (status, r["code"]) == (400, "43001")
    assert [e["code"] for e in ex.log] == ["00000"] * 5 + ["43001"]


def test_rejections_are_bitget_json(exchange: Tuple[Exchange, str]) -> None:
    ex, base = exchange
    status, r = send(base, "GET", "/api/v2/spot/account/assets", ts_offset_ms=-31_000)
    assert (status, r["code"], r["msg"]) == (400, "40008", "Request timestamp expired")
    status, r = send(base, "GET", "/api/v2/spot/account/assets", passphrase="nope")
    assert (status, r["code"]) == (400, "40012")
    big = {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "price": "20000",
           "size": "1"}
    status, r = send(base, "POST", "/api/v2/spot/trade/place-order", body=big)
    assert (status, r["code"]) == (400, "43012")
    assert r["data"] is None and isinstance(r["requestTime"], int)
    assert all(CREDS.secret not in json.dumps(e) and CREDS.passphrase not in json.dumps(e)
               for e in ex.log)
