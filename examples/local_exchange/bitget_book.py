"""In-memory spot balances and open orders: just enough of Bitget's account and order endpoints
for a bot's balance / place / cancel round trip. Limit orders rest (they never fill); placing one
moves the funds it needs from available to frozen, cancelling moves them back."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, List, Mapping, Optional

QUOTES = ("USDT", "USDC", "BTC", "ETH")


class BookError(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


# Codes from ccxt 4.5.90 bitget.py `exceptions`: 40017 parameter verification failed,
# 43012 insufficient balance, 43001 order does not exist, 40034 parameter does not exist.
def bad_param(msg: str) -> BookError:
    return BookError("40017", msg)


@dataclass
class Order:
    order_id: str
    client_oid: str
    symbol: str
    side: str
    price: Decimal
    size: Decimal
    locked_coin: str
    locked_amount: Decimal
    created_ms: int = 0
    status: str = "live"

    def info(self) -> Dict[str, Any]:
        """The order as Bitget's GET /api/v2/spot/trade/orderInfo lists it."""
        return {
            "userId": "1", "symbol": self.symbol, "orderId": self.order_id,
            "clientOid": self.client_oid, "price": str(self.price), "size": str(self.size),
            "orderType": "limit", "side": self.side, "status": self.status, "priceAvg": "0",
            "baseVolume": "0", "quoteVolume": "0", "enterPointSource": "API",
            "feeDetail": "", "orderSource": "normal", "cTime": str(self.created_ms),
            "uTime": str(self.created_ms),
        }


def split_symbol(symbol: str) -> "tuple[str, str]":
    for q in QUOTES:
        if symbol.endswith(q) and len(symbol) > len(q):
            return symbol[: -len(q)], q
    raise BookError("40034", f"Parameter {symbol} does not exist")


def decimal(params: Mapping[str, Any], name: str) -> Decimal:
    try:
        d = Decimal(str(params[name]))
    except (KeyError, InvalidOperation):
        raise bad_param(f"Parameter {name} error") from None
    if not d.is_finite() or d <= 0:
        raise bad_param(f"Parameter {name} error")
    return d


class Book:
    def __init__(self, balances: Mapping[str, Decimal]) -> None:
        self._available: Dict[str, Decimal] = dict(balances)
        self._frozen: Dict[str, Decimal] = {c: Decimal(0) for c in balances}
        self._orders: Dict[str, Order] = {}
        self._closed: Dict[str, Order] = {}
        self._ids = itertools.count(1_100_000_000_000_000_001)
        self._lock = threading.Lock()

    def assets(self, coin: Optional[str]) -> List[Dict[str, str]]:
        with self._lock:
            coins = [coin.upper()] if coin else sorted(self._available)
            return [
                {
                    "coin": c,
                    "available": str(self._available.get(c, Decimal(0))),
                    "frozen": str(self._frozen.get(c, Decimal(0))),
                    "locked": "0",
                    "limitAvailable": "0",
                }
                for c in coins
                if c in self._available or coin
            ]

    def place(self, params: Mapping[str, Any], now_ms: int = 0) -> Dict[str, str]:
        symbol = str(params.get("symbol", "")).upper()
        side = params.get("side")
        if side not in ("buy", "sell"):
            raise bad_param("Parameter side error")
        if params.get("orderType") != "limit":
            raise bad_param("only limit orders are supported by this test exchange")
        price, size = decimal(params, "price"), decimal(params, "size")
        base, quote = split_symbol(symbol)
        coin, amount = (quote, price * size) if side == "buy" else (base, size)
        with self._lock:
            if self._available.get(coin, Decimal(0)) < amount:
                raise BookError("43012", "Insufficient balance")
            self._available[coin] -= amount
            self._frozen[coin] = self._frozen.get(coin, Decimal(0)) + amount
            oid = str(next(self._ids))
            client_oid = str(params.get("clientOid") or f"local-{oid}")
            self._orders[oid] = Order(oid, client_oid, symbol, side, price, size, coin, amount,
                                      now_ms)
        return {"orderId": oid, "clientOid": client_oid}

    def cancel(self, params: Mapping[str, Any]) -> Dict[str, str]:
        oid, client_oid = params.get("orderId"), params.get("clientOid")
        with self._lock:
            order = self._orders.get(str(oid)) if oid else next(
                (o for o in self._orders.values() if client_oid and o.client_oid == client_oid),
                None,
            )
            if order is None or order.symbol != str(params.get("symbol", "")).upper():
                raise BookError("43001", "The order does not exist")
            del self._orders[order.order_id]
            order.status = "cancelled"
            self._closed[order.order_id] = order
            self._frozen[order.locked_coin] -= order.locked_amount
            self._available[order.locked_coin] += order.locked_amount
        return {"orderId": order.order_id, "clientOid": order.client_oid}

    def order_info(self, order_id: Optional[str], client_oid: Optional[str]) -> List[Dict[str, Any]]:
        with self._lock:
            every = list(self._orders.values()) + list(self._closed.values())
            found = [o for o in every if (order_id and o.order_id == order_id)
                     or (not order_id and client_oid and o.client_oid == client_oid)]
            if not found:
                raise BookError("43001", "The order does not exist")
            return [o.info() for o in found]

    def unfilled(self, symbol: Optional[str]) -> List[Dict[str, Any]]:
        with self._lock:
            return [o.info() for o in self._orders.values()
                    if symbol is None or o.symbol == symbol.upper()]

    def open_orders(self) -> List[str]:
        with self._lock:
            return list(self._orders)
