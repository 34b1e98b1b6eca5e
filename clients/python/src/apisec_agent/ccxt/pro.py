"""ccxt.pro through the agent: the private WebSockets authenticate with the login the agent
stamps (`login@apisec`; the secret's policy must say `allow_login = true`), and nothing else on
the instance can reach for the secret.

ccxt.pro computes its logins with `self.secret` directly (`authenticate()`, `sign_params()`):
for Bitget, OKX and Bybit, `authenticate()` is replaced by one that sends the agent's login
message on the same connection, with ccxt's own future and message hash, so ccxt's
`watch_balance()`, `watch_orders()` and friends work unchanged. Kraken and KuCoin get their
WebSocket tokens through REST calls, which the adapter's `sign()` already signs. Every other
use of the secret (Binance's WebSocket API `sign_params`, ...) meets `Held`, which raises
`ccxt.NotSupported` saying so, never `AttributeError`."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, Dict, Optional

import ccxt

from .. import errors
from ._signer import Signer


class Held(str):
    """The value `exchange.secret` and `exchange.password` hold once attached: the secret is the
    agent's. Non-empty (ccxt's credential checks pass), and any attempt to use it as bytes
    raises `ccxt.NotSupported` naming what to do instead."""

    def __new__(cls, exchange_id: str) -> "Held":
        held = super().__new__(cls, "<held by apisec-agent>")
        held.exchange_id = exchange_id  # type: ignore[attr-defined]
        return held

    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        raise ccxt.NotSupported(
            f"apisec adapter: this {self.exchange_id} call needs the secret itself, which stays "  # type: ignore[attr-defined]
            "in the agent; the agent signs REST requests and the WebSocket logins of "
            "docs/exchanges.md, and no other use of the secret"
        )


def is_pro(exchange: Any) -> bool:
    return type(exchange).__module__.startswith("ccxt.pro.")


async def _login(signer: Signer) -> Dict[str, Any]:
    """The agent's login for the attached secret, off the event loop (the client is blocking)."""
    try:
        result = await asyncio.to_thread(signer.agent.login, signer.name)
    except (errors.PolicyRefused, errors.ApprovalDenied) as e:
        raise ccxt.PermissionDenied(f"{signer.exchange_id} apisec agent: {e}") from e
    except errors.AgentError as e:
        raise ccxt.AuthenticationError(f"{signer.exchange_id} apisec agent: {e}") from e
    return json.loads(result.message)


def _authenticate_with(ex: Any, signer: Signer,
                       url_of: Callable[[Any, Dict[str, Any]], str]) -> Callable[..., Any]:
    """An `authenticate()` in ccxt.pro's pattern (one reusable future per connection under the
    message hash 'authenticated'), sending the agent's login instead of computing one."""

    async def authenticate(*args: Any, **kwargs: Any) -> Any:
        url = url_of(ex, {"args": args, **kwargs})
        message_hash = "authenticated"
        client = ex.client(url)
        future = client.reusableFuture(message_hash)
        if ex.safe_value(client.subscriptions, message_hash) is None:
            message = await _login(signer)
            ex.watch(url, message_hash, message, message_hash)
        return await future

    return authenticate


def _params(call: Dict[str, Any]) -> Dict[str, Any]:
    args = call["args"]
    if args and isinstance(args[0], dict):
        return args[0]
    return call.get("params") or {}


# How each exchange's authenticate() finds its connection's URL (ccxt.pro 4.5.76 to 4.5.90).
URLS: Dict[str, Callable[[Any, Dict[str, Any]], str]] = {
    "bitget": lambda ex, c: ex.safe_string(_params(c), "url", ""),
    "okx": lambda ex, c: ex.get_url("users", ex.safe_string(_params(c), "access", "private")),
    # bybit.authenticate(url, params)
    "bybit": lambda ex, c: c["args"][0] if c["args"] else c.get("url", ""),
}


def install(exchange: Any, signer: Signer) -> Optional[str]:
    """Makes a ccxt.pro instance authenticate through the agent; returns which way, or None for
    a REST-only instance."""
    if not is_pro(exchange):
        return None
    url_of = URLS.get(exchange.id)
    if url_of is not None:
        exchange.authenticate = _authenticate_with(exchange, signer, url_of)
        return "login"
    return "rest-tokens"
