#!/usr/bin/env python3
"""A local Bitget (v2 spot: balances, resting limit orders, and the public market data a bot
framework reads at start-up) on 127.0.0.1 for testing bots that sign through apisec-agent. Every
private request's ACCESS-* headers are verified as Bitget documents (bitget_auth.py); anything
else gets Bitget's error JSON.

    python3 examples/local_exchange/server.py --port 0 --port-file /tmp/port \
        --credentials creds.json [--recv-window 30] [--log-file requests.jsonl]

creds.json: {"api_key": "...", "secret": "...", "passphrase": "..."}; or the environment
variables LOCAL_BITGET_API_KEY, LOCAL_BITGET_SECRET, LOCAL_BITGET_PASSPHRASE. The secret is
never printed or logged; the request log holds method, path, query, key id and outcome."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bitget_auth import AuthError, Credentials, header, verify  # noqa: E402
from bitget_book import Book, BookError  # noqa: E402
import bitget_market  # noqa: E402
from bitget_market import MarketError  # noqa: E402

ASSETS = "/api/v2/spot/account/assets"
PLACE = "/api/v2/spot/trade/place-order"
CANCEL = "/api/v2/spot/trade/cancel-order"
ORDER_INFO = "/api/v2/spot/trade/orderInfo"
UNFILLED = "/api/v2/spot/trade/unfilled-orders"
FILLS = "/api/v2/spot/trade/fills"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Exchange:
    """State shared by the handler threads: credentials, book, clock window, request log."""

    def __init__(
        self,
        creds: Credentials,
        book: Book,
        window_ms: int = 30_000,
        log_file: Optional[Path] = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.creds = creds
        self.book = book
        self.window_ms = window_ms
        self.clock = clock
        self.log: List[Dict[str, Any]] = []
        self._log_file = log_file
        self._lock = threading.Lock()

    def record(self, entry: Dict[str, Any]) -> None:
        with self._lock:
            self.log.append(entry)
            if self._log_file is not None:
                with open(self._log_file, "a") as f:
                    f.write(json.dumps(entry) + "\n")

    def handle(
        self, method: str, target: str, headers: Dict[str, str], body: bytes
    ) -> Tuple[int, Dict[str, Any]]:
        """One request in, (HTTP status, Bitget JSON) out."""
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        entry: Dict[str, Any] = {"method": method, "path": path, "query": query,
                                 "key": header(headers, "ACCESS-KEY"),
                                 "timestamp": header(headers, "ACCESS-TIMESTAMP")}
        try:
            if bitget_market.is_public(method, path):
                entry["public"] = True
                data = bitget_market.serve(path, query, self.clock())
            else:
                verify(self.creds, headers, method, path, query, body, self.clock(),
                       self.window_ms)
                data = self.route(method, path, query, body)
            status, reply = 200, {"code": "00000", "msg": "success", "data": data}
        except (AuthError, BookError, MarketError) as e:
            status, reply = 400, {"code": e.code, "msg": e.msg, "data": None}
        except _NotFound:
            status, reply = 404, {"code": "40404", "msg": "Request URL NOT FOUND", "data": None}
        reply["requestTime"] = self.clock()
        entry.update(status=status, code=reply["code"])
        self.record(entry)
        return status, reply

    def route(self, method: str, path: str, query: str, body: bytes) -> Any:
        q = {k: v[0] for k, v in parse_qs(query).items()}
        if method == "GET" and path == ASSETS:
            return self.book.assets(q.get("coin"))
        if method == "GET" and path == ORDER_INFO:
            return self.book.order_info(q.get("orderId"), q.get("clientOid"))
        if method == "GET" and path == UNFILLED:
            return self.book.unfilled(q.get("symbol"))
        if method == "GET" and path == FILLS:
            return []  # orders rest, nothing ever fills
        if method == "POST" and path in (PLACE, CANCEL):
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                raise BookError("40017", "Parameter verification failed") from None
            if not isinstance(params, dict):
                raise BookError("40017", "Parameter verification failed")
            if path == PLACE:
                bitget_market.price_of(str(params.get("symbol", "")))  # a listed symbol
                return self.book.place(params, self.clock())
            return self.book.cancel(params)
        raise _NotFound()


class _NotFound(Exception):
    pass


def handler_for(exchange: Exchange) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, reply = exchange.handle(
                self.command, self.path, dict(self.headers.items()), body
            )
            out = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the structured request log replaces the default stderr lines

    return Handler


def load_credentials(path: Optional[str]) -> Credentials:
    if path:
        d = json.loads(Path(path).read_text())
        return Credentials(d["api_key"], d["secret"], d["passphrase"])
    try:
        return Credentials(os.environ["LOCAL_BITGET_API_KEY"], os.environ["LOCAL_BITGET_SECRET"],
                           os.environ["LOCAL_BITGET_PASSPHRASE"])
    except KeyError as e:
        raise SystemExit(f"no credentials: pass --credentials FILE or set {e.args[0]}") from None


def parse_balances(text: str) -> Dict[str, Decimal]:
    out = {}
    for item in filter(None, text.split(",")):
        coin, _, amount = item.partition("=")
        out[coin.strip().upper()] = Decimal(amount)
    return out


def serve(exchange: Exchange, port: int) -> ThreadingHTTPServer:
    """Binds 127.0.0.1:port (0 = any free port) and serves in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(exchange))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8790, help="TCP port; 0 picks a free one")
    p.add_argument("--port-file", help="write the bound port to this file once listening")
    p.add_argument("--credentials", help="JSON file with api_key, secret, passphrase")
    p.add_argument("--recv-window", type=float, default=30.0,
                   help="seconds a timestamp may be from this server's clock (default 30)")
    p.add_argument("--clock-offset", type=float, default=0.0,
                   help="seconds this server's clock is ahead of the host's (a skewed host)")
    p.add_argument("--balances", default="USDT=10000,BTC=1", help="e.g. USDT=10000,BTC=1")
    p.add_argument("--log-file", help="append one JSON line per request (no secrets)")
    a = p.parse_args(argv)
    exchange = Exchange(
        load_credentials(a.credentials), Book(parse_balances(a.balances)),
        int(a.recv_window * 1000), Path(a.log_file) if a.log_file else None,
        clock=lambda: now_ms() + int(a.clock_offset * 1000),
    )
    server = serve(exchange, a.port)
    port = server.server_address[1]
    if a.port_file:
        tmp = Path(a.port_file + ".tmp")
        tmp.write_text(str(port))
        tmp.replace(a.port_file)  # atomic: a reader never sees a half-written port
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
