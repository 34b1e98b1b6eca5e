"""ccxt adapter: `attach(exchange, secret_name)` makes a ccxt exchange instance sign through
apisec-agent. The instance never holds the secret (nor the passphrase): its `sign()` builds the
request exactly as ccxt 4.5.90 does and asks the agent for the authentication parts.

    import ccxt, apisec_agent.ccxt
    ex = apisec_agent.ccxt.attach(ccxt.bitget(), "bitget-main")
    ex.fetch_balance()

Supported: bitget, binance, okx, bybit, kraken, kucoin, gate, mexc (spot), bitfinex, htx,
deribit (its secret's policy must say `allow_login = true`), bitmex (ccxt 4.5.76 to 4.5.83, the
last with it) (agent presets of the same ids),
coinbaseexchange (preset coinbase-exchange), krakenfutures (preset kraken-futures), coinbase
(Advanced Trade with a CDP key, preset coinbase-advanced), and
ccxt's classes binanceusdm, binancecoinm, kucoinfutures and okxus (SUBCLASSES).
Refusals surface as ccxt exceptions whose `__cause__` is the apisec exception: PermissionDenied
for what the secret's policy or its approver refuses, BadRequest for a request the agent cannot
sign, AuthenticationError for the rest (SecretSealed, ...)."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, Optional

import ccxt

from ..client import Agent
from ..clock import explain
from ..errors import SecretNotFound
from . import (binance, bitfinex, bitget, bitmex, bybit, coinbase, coinbaseexchange, deribit,
               gate, htx, kraken, krakenfutures, kucoin, mexc, okx, pro)
from .pro import Held
from ._signer import Request, Signer

SignFn = Callable[[Any, Signer, str, Any, str, Any], Request]

# The ccxt releases the adapter is tested against (clients/python/tests/test_ccxt_versions.py):
# the oldest freqtrade accepts, and the newest at the time of the work. Older ones are refused,
# newer ones warned about: each module reproduces how ccxt builds its requests, which moves.
OLDEST = (4, 5, 76)
NEWEST = (4, 5, 90)


def _version(text: str) -> "tuple[int, ...]":
    parts = []
    for p in text.split(".")[:3]:
        digits = "".join(c for c in p if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_version(version: str) -> None:
    """Refuses a ccxt older than the adapter supports; warns about one newer than tested."""
    v = _version(version)
    shown = ".".join(map(str, OLDEST)), ".".join(map(str, NEWEST))
    if v < OLDEST:
        raise ccxt.NotSupported(
            f"apisec adapter: ccxt {version} is older than {shown[0]}, the oldest it supports "
            f"(tested: {shown[0]} to {shown[1]}); upgrade ccxt (pip install 'ccxt>={shown[0]}')"
        )
    if v > NEWEST:
        warnings.warn(
            f"apisec adapter: ccxt {version} is newer than {shown[1]}, the newest it was tested "
            "with; requests ccxt builds differently would be refused by the agent or the exchange",
            stacklevel=3,
        )

# ccxt exchange id -> (agent preset id, the module that builds its requests)
ADAPTERS: Dict[str, "tuple[str, SignFn]"] = {
    "bitget": ("bitget", bitget.sign),
    "binance": ("binance", binance.sign),
    "okx": ("okx", okx.sign),
    "bybit": ("bybit", bybit.sign),
    "kraken": ("kraken", kraken.sign),
    "kucoin": ("kucoin", kucoin.sign),
    "gate": ("gate", gate.sign),
    "coinbaseexchange": ("coinbase-exchange", coinbaseexchange.sign),
    "mexc": ("mexc", mexc.sign),
    "bitfinex": ("bitfinex", bitfinex.sign),
    "krakenfutures": ("kraken-futures", krakenfutures.sign),
    "coinbase": ("coinbase-advanced", coinbase.sign),
    "htx": ("htx", htx.sign),
    "deribit": ("deribit", deribit.sign),
    # ccxt 4.5.90 has no bitmex class; 4.5.76 to 4.5.83 have one.
    "bitmex": ("bitmex", bitmex.sign),
}

# ccxt's classes that are one of those exchanges' other products, signed by the same code
# (none overrides its parent's sign()): USD-M and COIN-M futures, KuCoin futures, OKX's US site.
# krakenfutures, coinbase, htx, deribit and bitmex have no subclass in ccxt 4.5.76 to 4.5.90.
SUBCLASSES: Dict[str, str] = {
    "binanceusdm": "binance",
    "binancecoinm": "binance",
    "kucoinfutures": "kucoin",
    "okxus": "okx",
}


def adapter_of(exchange_id: str) -> "tuple[str, SignFn]":
    """The agent preset and request builder for a ccxt exchange id, subclasses included."""
    found = ADAPTERS.get(SUBCLASSES.get(exchange_id, exchange_id))
    if found is None:
        known = ", ".join(list(ADAPTERS) + list(SUBCLASSES))
        raise ccxt.NotSupported(f"apisec_agent.ccxt does not support {exchange_id!r}; supported: {known}")
    return found


def attach(
    exchange: Any,
    secret_name: str,
    agent: Optional[Agent] = None,
    *,
    clock: str = "agent",
) -> Any:
    """Makes `exchange` sign private requests through the agent with secret `secret_name`.

    Checks with the agent (no unlock needed) that the secret exists and is for this exchange,
    and sets `exchange.apiKey` from it (a different apiKey already set is an error, as is a
    secret set on the instance: the point is that it holds none). Returns `exchange`."""
    check_version(getattr(ccxt, "__version__", "0"))
    preset, sign_fn = adapter_of(exchange.id)
    held = isinstance(exchange.secret, Held) and isinstance(exchange.password, Held)
    if not held and (exchange.secret or exchange.password):
        raise ValueError(
            "the exchange instance holds a secret or password: leave both empty, the agent signs"
        )
    agent = agent if agent is not None else Agent()
    entry = agent.status().secret(secret_name)
    if entry is None:
        raise SecretNotFound(f"the agent has no secret named {secret_name!r}", "not-found")
    if entry.exchange != preset:
        raise ValueError(
            f"secret {secret_name!r} is a {entry.exchange} secret, not {preset} ({exchange.id})"
        )
    if exchange.apiKey and exchange.apiKey != entry.api_key:
        raise ValueError(
            f"exchange.apiKey differs from the API key of secret {secret_name!r}"
        )
    exchange.apiKey = entry.api_key
    # ccxt checks credentials before signing and in some methods; the secret and passphrase
    # live in the agent, so only the key is required of the instance.
    exchange.requiredCredentials = dict(exchange.requiredCredentials, secret=False, password=False)
    signer = Signer(agent, secret_name, exchange.id, clock)

    # fetch2 passes headers and body too (six positional arguments, 4.5.76 included); the
    # modules build both themselves, as ccxt's own sign() does.
    def sign(path: str, api: Any = None, method: str = "GET", params: Any = None,
             headers: Any = None, body: Any = None) -> Request:
        # ccxt up to 4.5.8x names a one-level API by its string ("private"), later ones by a
        # list (["private"]): the modules read the list.
        api = ["public"] if api is None else [api] if isinstance(api, str) else api
        return sign_fn(exchange, signer, path, api, method, {} if params is None else params)

    exchange.sign = sign
    exchange.apisec_signer = signer
    # Whatever else would use the secret (ccxt.pro's own logins, ...) meets a ccxt exception
    # saying the agent holds it; ccxt.pro's logins that the agent signs come from it instead.
    exchange.secret = Held(exchange.id)
    exchange.password = Held(exchange.id)
    pro.install(exchange, signer)
    exchange.handle_errors = _explaining_clock_errors(exchange, exchange.handle_errors)
    return exchange


def _explaining_clock_errors(exchange: Any, handle_errors: Callable[..., Any]) -> Callable[..., Any]:
    """ccxt's own error handling, with an exchange's refusal of the agent's timestamp raised
    again (the same ccxt class) with what to do: the agent's clock is the one to check."""

    def handle(*args: Any, **kwargs: Any) -> Any:
        try:
            return handle_errors(*args, **kwargs)
        except ccxt.BaseError as e:
            hint = explain(exchange.id, str(e))
            if hint is None:
                raise
            raise type(e)(f"{e} -- apisec: {hint}") from e

    return handle


__all__ = ["attach", "adapter_of", "check_version", "ADAPTERS", "SUBCLASSES", "Signer"]
