"""A minimal Bitget v2 REST client whose every private request is signed by apisec-agent: the
bot hands the agent the method, path, query and exact body, and sends the headers it gets back.
The bot process never sees the secret or the passphrase's source."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, Optional

from apisec_agent import Agent


class ExchangeError(Exception):
    """The exchange answered with a non-success code (Bitget's code and message)."""

    def __init__(self, code: str, msg: str, path: str) -> None:
        super().__init__(f"{path}: {code} {msg}")
        self.code = code
        self.msg = msg


class BitgetClient:
    def __init__(self, agent: Agent, secret_name: str, base_url: str, timeout: float = 10.0):
        self.agent = agent
        self.secret_name = secret_name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(
        self, method: str, path: str, query: str = "", params: Optional[Dict[str, Any]] = None
    ) -> Any:
        # The body is serialised once, and exactly these bytes are signed and sent.
        body = json.dumps(params, separators=(",", ":")).encode() if params is not None else b""
        signed = self.agent.sign(self.secret_name, method, path, query, body)
        req = urllib.request.Request(
            signed.url(self.base_url),
            data=signed.body_or(body) if method != "GET" else None,
            method=method,
            headers=signed.headers,
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                reply = json.loads(r.read())
        except urllib.error.HTTPError as e:
            try:
                reply = json.loads(e.read())
            except ValueError:
                raise ExchangeError(str(e.code), e.reason, path) from None
        if reply.get("code") != "00000":
            raise ExchangeError(str(reply.get("code")), str(reply.get("msg")), path)
        return reply.get("data")

    def assets(self, coin: str) -> Any:
        return self.request("GET", "/api/v2/spot/account/assets", f"coin={coin}")

    def place_limit(self, symbol: str, side: str, price: str, size: str, client_oid: str) -> Any:
        return self.request("POST", "/api/v2/spot/trade/place-order", params={
            "symbol": symbol, "side": side, "orderType": "limit", "force": "gtc",
            "price": price, "size": size, "clientOid": client_oid,
        })

    def cancel(self, symbol: str, order_id: str) -> Any:
        return self.request("POST", "/api/v2/spot/trade/cancel-order",
                            params={"symbol": symbol, "orderId": order_id})
