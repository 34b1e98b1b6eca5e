"""ccxt.pro through the agent: the private WebSockets authenticate with the login the agent
stamps (`login@apisec`; the secret's policy must say `allow_login = true`), and nothing else on
the instance can reach for the secret.

ccxt.pro computes its logins with `self.secret` directly. For each exchange whose login the
agent makes, just that step is replaced, keeping ccxt.pro's own futures, message hashes and
handlers, so `watch_balance()`, `watch_orders()` and friends work unchanged (ccxt 4.5.90):

- bitget, okx, bybit, bitfinex: `authenticate()` sends the agent's login message on the same
  connection (here).
- gate (`pro_gate`): each private channel's `subscribe` carries the agent's `auth` for that
  channel; `authenticate()` (the WebSocket API's `spot.login`/`futures.login`) is the agent's.
- binance (`pro_binance`): spot's `userDataStream.subscribe.signature` is the agent's
  `user-data` login; margin's listenToken and the futures' listenKeys come from REST calls.
- htx (`pro_htx`), deribit (`pro_deribit`): `authenticate()` sends the agent's login (HTX: the
  kind from the connection's path, the host ccxt signs).
- coinbaseexchange, coinbase (`pro_coinbase`): the subscribe messages carry the agent's fields
  (Coinbase Exchange's signature, Coinbase Advanced's JWT), filled in when ccxt sends one.
- krakenfutures (`pro_krakenfutures`): ccxt.pro asks for the challenge; the agent signs it.

Kraken (`GetWebSocketsToken`), KuCoin (`bullet-private`, futures and unified too), MEXC spot
(`userDataStream` listenKey) and Binance's listenKey/listenToken get their stream tokens through
REST calls, which the adapter's `sign()` already signs: nothing to replace. What needs the
secret in a way the agent does not provide raises `ccxt.NotSupported` saying so, never
`AttributeError`: Binance's WebSocket API requests (`sign_params`), Gate's WebSocket API
requests (`create_order_ws`, ...), MEXC futures' login (`pro_mexc`), and anything else that
meets `Held`."""

from __future__ import annotations

import asyncio
import importlib
import json
from typing import Any, Awaitable, Callable, Dict, Optional

import ccxt

from .. import errors
from ..results import LoginResult
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


async def login(signer: Signer, kind: Optional[str] = None, challenge: Optional[str] = None,
                host: Optional[str] = None) -> LoginResult:
    """The agent's login for the attached secret, off the event loop (the client is blocking),
    its refusals as ccxt's exceptions."""
    try:
        return await asyncio.to_thread(signer.agent.login, signer.name, kind, challenge, host)
    except (errors.PolicyRefused, errors.ApprovalDenied) as e:
        raise ccxt.PermissionDenied(f"{signer.exchange_id} apisec agent: {e}") from e
    except (errors.UnsupportedRequest, errors.SignError, errors.BadRequest) as e:
        raise ccxt.NotSupported(f"{signer.exchange_id} apisec agent makes no such login: {e}") from e
    except errors.AgentError as e:
        raise ccxt.AuthenticationError(f"{signer.exchange_id} apisec agent: {e}") from e


async def login_message(signer: Signer, **kwargs: Any) -> Dict[str, Any]:
    return json.loads((await login(signer, **kwargs)).message)


def once(ex: Any) -> asyncio.Lock:
    """One lock per instance around "not logged in yet? ask the agent, send": concurrent
    watch_*() calls log in once, as ccxt's own (synchronous) signing does."""
    lock = ex.__dict__.get("apisec_login_lock")
    if lock is None:
        lock = ex.apisec_login_lock = asyncio.Lock()
    return lock


class Pending:
    """A login field ccxt.pro's synchronous code leaves for `defer_logins` to fill."""

    def __repr__(self) -> str:
        return "<filled by apisec-agent when sent>"


PENDING = Pending()


def defer_logins(ex: Any, complete: Callable[[Dict[str, Any]], Awaitable[Dict[str, Any]]]) -> None:
    """For exchanges whose login fields go into a message that synchronous ccxt code builds
    (Coinbase's `authenticate()`, `create_ws_auth()`): that code writes PENDING, and a message
    holding PENDING is completed by the agent (`complete`) when ccxt actually sends it, i.e.
    when its subscription is new; otherwise ccxt sends nothing and the agent is not asked."""
    for name, multiple in (("watch", False), ("watch_multiple", True)):
        original = getattr(ex, name)

        def deferred(url: str, hashes: Any, message: Any = None, subscribe: Any = None,
                     subscription: Any = None, *, original: Any = original,
                     multiple: bool = multiple) -> Any:
            if not (isinstance(message, dict) and any(v is PENDING for v in message.values())):
                return original(url, hashes, message, subscribe, subscription)

            async def send() -> Any:
                async with once(ex):
                    client = ex.client(url)
                    subs = (subscribe or []) if multiple else [subscribe]
                    new = [h for h in subs if not client.subscriptions.get(h)]
                    sent = await complete(message) if new else None
                    future = original(url, hashes, sent, subscribe, subscription)
                return await future

            return send()

        setattr(ex, name, deferred)


def _authenticate_with(ex: Any, signer: Signer,
                       url_of: Callable[[Any, Dict[str, Any]], str]) -> Callable[..., Any]:
    """An `authenticate()` in ccxt.pro's pattern (one reusable future per connection under the
    message hash 'authenticated'), sending the agent's login instead of computing one."""

    async def authenticate(*args: Any, **kwargs: Any) -> Any:
        url = url_of(ex, {"args": args, **kwargs})
        message_hash = "authenticated"
        client = ex.client(url)
        async with once(ex):
            if ex.safe_value(client.subscriptions, message_hash) is None:
                message = await login_message(signer)
                ex.watch(url, message_hash, message, message_hash)
        return await client.reusableFuture(message_hash)

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
    "bitfinex": lambda ex, c: ex.urls["api"]["ws"]["private"],
}

# Exchanges whose login step is replaced by a module of their own (ccxt/pro_<id>.py).
MODULES = {"gate": "pro_gate", "binance": "pro_binance", "htx": "pro_htx",
           "deribit": "pro_deribit", "coinbaseexchange": "pro_coinbase",
           "coinbase": "pro_coinbase", "krakenfutures": "pro_krakenfutures", "mexc": "pro_mexc"}


def _pro_id(exchange: Any) -> Optional[str]:
    """The ccxt.pro class the instance's login code comes from: its own, or the nearest parent
    the adapter knows (okxus is okx's, binanceusdm binance's, kucoinfutures kucoin's)."""
    for cls in type(exchange).__mro__:
        if cls.__module__.startswith("ccxt.pro."):
            name = cls.__module__.rsplit(".", 1)[1]
            if name in URLS or name in MODULES:
                return name
    return None


def install(exchange: Any, signer: Signer) -> Optional[str]:
    """Makes a ccxt.pro instance authenticate through the agent; returns which way, or None for
    a REST-only instance."""
    if not is_pro(exchange):
        return None
    pro_id = _pro_id(exchange)
    if pro_id in URLS:
        exchange.authenticate = _authenticate_with(exchange, signer, URLS[pro_id])
        return "login"
    if pro_id in MODULES:
        module = importlib.import_module(f".{MODULES[pro_id]}", __package__)
        module.install(exchange, signer)
        return "login"
    return "rest-tokens"
