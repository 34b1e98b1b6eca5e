"""The exchanges' "your timestamp is off" refusals, recognised, and said for what they are.

The agent stamps every request with its own clock (that is how a bot cannot choose it), so a
bot's own time-difference correction (ccxt's `adjustForTimeDifference`, a `recvWindow` tuned to
a drifting host) does not apply: when the agent's host clock is off, the exchange refuses every
signature. `explain()` turns such a refusal into a message that says to check the clock of the
host the agent runs on (docs/operations.md, "The clock")."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

# Each exchange's refusal of a timestamp or nonce outside its window, as it words it (the error
# code, or the text), from its API's error list.
MARKERS: Dict[str, Tuple[str, ...]] = {
    "binance": ("-1021",),  # "Timestamp for this request is outside of the recvWindow."
    "bitget": ("40008",),  # "Request timestamp expired"
    "okx": ("50102",),  # "Timestamp request expired"
    "bybit": ("10002",),  # "invalid request, please check your server timestamp or recv_window"
    "kucoin": ("400002",),  # "Invalid KC-API-TIMESTAMP"
    "gate": ("REQUEST_EXPIRED",),  # "request expired" (Timestamp more than 60 s away)
    "mexc": ("700003",),  # "Timestamp for this request is outside of the recvWindow"
    "kraken": ("Invalid nonce",),  # "EAPI:Invalid nonce"
    "coinbaseexchange": ("request timestamp expired",),
    "htx": ("timestamp-is-expired", "login-error"),
    "bitmex": ("This request has expired",),
    "deribit": ("invalid_timestamp", "13004"),
}

HINT = (
    "the exchange refused the timestamp the agent stamped: the agent signs with its own clock "
    "(a client's time-difference correction such as ccxt's adjustForTimeDifference does not "
    "apply), so check the clock of the host the agent runs on (`timedatectl status` should say "
    "'System clock synchronized: yes'; docs/operations.md, \"The clock\")"
)


def explain(exchange: str, text: str) -> Optional[str]:
    """The hint, when `text` (an exchange's error reply, or an exception's message about one) is
    exchange `exchange`'s refusal of the request's time; else None."""
    markers = MARKERS.get(exchange.replace("-", ""), MARKERS.get(exchange, ()))
    lowered = text.lower()
    if any(m.lower() in lowered for m in markers):
        return HINT
    return None


__all__ = ["explain", "HINT", "MARKERS"]
