"""Bitget's public v2 market data, enough for a bot framework's start-up (freqtrade loads the
markets and currencies, checks the time, reads tickers and candles before it trades): a few spot
symbols at a fixed price, no contracts. Unauthenticated, as on Bitget. Field names are those of
Bitget's v2 docs (https://www.bitget.com/api-doc/spot/market/Get-Symbols, .../Get-Coin-List,
.../Get-Tickers, .../Get-Candle-Data), which ccxt's bitget.py parses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs

# symbol -> (base, quote, price)
SYMBOLS = {
    "BTCUSDT": ("BTC", "USDT", Decimal("20000")),
    "ETHUSDT": ("ETH", "USDT", Decimal("1500")),
}
COINS = sorted({c for base, quote, _ in SYMBOLS.values() for c in (base, quote)})

# Bitget's candle granularities (the ones ccxt's timeframes map to) in milliseconds.
GRANULARITY_MS = {
    "1min": 60_000, "3min": 180_000, "5min": 300_000, "15min": 900_000, "30min": 1_800_000,
    "1h": 3_600_000, "4h": 14_400_000, "6h": 21_600_000, "12h": 43_200_000,
    "1day": 86_400_000, "1week": 604_800_000,
}

PUBLIC_PATHS = (
    "/api/v2/public/time",
    "/api/v2/spot/public/symbols",
    "/api/v2/spot/public/coins",
    "/api/v2/spot/market/tickers",
    "/api/v2/spot/market/candles",
    "/api/v2/spot/market/history-candles",
    "/api/v2/spot/market/orderbook",
    "/api/v2/mix/market/contracts",
    "/api/v2/margin/currencies",
)


class MarketError(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def is_public(method: str, path: str) -> bool:
    return method == "GET" and path in PUBLIC_PATHS


def price_of(symbol: str) -> Decimal:
    try:
        return SYMBOLS[symbol.upper()][2]
    except KeyError:
        raise MarketError("40034", f"Parameter {symbol} does not exist") from None


def symbol_info(symbol: str) -> Dict[str, Any]:
    base, quote, _ = SYMBOLS[symbol]
    return {
        "symbol": symbol, "baseCoin": base, "quoteCoin": quote,
        "minTradeAmount": "0", "maxTradeAmount": "900000000000000000000",
        "takerFeeRate": "0.001", "makerFeeRate": "0.001",
        "pricePrecision": "2", "quantityPrecision": "6", "quotePrecision": "6",
        "status": "online", "minTradeUSDT": "1",
        "buyLimitPriceRatio": "0.05", "sellLimitPriceRatio": "0.05",
        "areaSymbol": "no", "orderQuantity": "200", "openTime": "1532454360000",
    }


def coin_info(coin: str) -> Dict[str, Any]:
    return {
        "coinId": str(COINS.index(coin) + 1), "coin": coin, "transfer": "true",
        "chains": [{
            "chain": coin, "needTag": "false", "withdrawable": "true", "rechargeable": "true",
            "withdrawFee": "0", "extraWithdrawFee": "0", "depositConfirm": "1",
            "withdrawConfirm": "1", "minDepositAmount": "0", "minWithdrawAmount": "0",
            "browserUrl": "", "contractAddress": "", "withdrawStep": "0",
            "withdrawMinScale": "8", "congestion": "normal",
        }],
    }


def ticker(symbol: str, now_ms: int) -> Dict[str, Any]:
    p = str(price_of(symbol))
    return {
        "symbol": symbol, "high24h": p, "open": p, "lastPr": p, "low24h": p,
        "quoteVolume": "1000000", "baseVolume": "50", "usdtVolume": "1000000",
        "bidPr": p, "askPr": p, "bidSz": "1", "askSz": "1", "openUtc": p,
        "ts": str(now_ms), "changeUtc24h": "0", "change24h": "0",
    }


def candles(symbol: str, granularity: str, limit: int, end_ms: Optional[int],
            now_ms: int) -> List[List[str]]:
    """Flat candles at the symbol's price, oldest first, the last one the current (open) one."""
    step = GRANULARITY_MS.get(granularity)
    if step is None:
        raise MarketError("40034", f"Parameter granularity {granularity} does not exist")
    p = str(price_of(symbol))
    last = min(end_ms if end_ms is not None else now_ms, now_ms) // step * step
    limit = max(1, min(limit, 1000))
    return [[str(t), p, p, p, p, "1", p, p]
            for t in range(last - (limit - 1) * step, last + 1, step)]


def serve(path: str, query: str, now_ms: int) -> Any:
    q = {k: v[0] for k, v in parse_qs(query).items()}
    if path == "/api/v2/public/time":
        return {"serverTime": str(now_ms)}
    if path == "/api/v2/spot/public/symbols":
        wanted = q.get("symbol")
        return [symbol_info(s) for s in SYMBOLS if wanted in (None, s)]
    if path == "/api/v2/spot/public/coins":
        wanted = q.get("coin")
        return [coin_info(c) for c in COINS if wanted in (None, c)]
    if path == "/api/v2/spot/market/tickers":
        wanted = q.get("symbol")
        return [ticker(s, now_ms) for s in SYMBOLS if wanted in (None, s)]
    if path in ("/api/v2/spot/market/candles", "/api/v2/spot/market/history-candles"):
        end = q.get("endTime")
        return candles(q.get("symbol", ""), q.get("granularity", ""), int(q.get("limit", "100")),
                       int(end) if end else None, now_ms)
    if path == "/api/v2/spot/market/orderbook":
        p = str(price_of(q.get("symbol", "")))
        return {"asks": [[p, "1"]], "bids": [[p, "1"]], "ts": str(now_ms)}
    if path in ("/api/v2/mix/market/contracts", "/api/v2/margin/currencies"):
        return []  # a spot-only exchange
    raise KeyError(path)

