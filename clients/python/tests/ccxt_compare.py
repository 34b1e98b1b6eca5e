"""Helpers for comparing the adapter's requests with ccxt's own: a pinned clock, a fetch that
captures instead of sending, and a comparison that never prints a passphrase."""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Optional

import ccxt

from apisec_agent import Agent
from apisec_agent.ccxt import attach

# Headers whose values are credentials (sent in clear by design), never shown in a failure.
SENSITIVE = {"ACCESS-PASSPHRASE", "OK-ACCESS-PASSPHRASE", "KC-API-PASSPHRASE"}
FIXED_UUID = "0123456789abcdef"


def pin(ex: Any, millis: int) -> Any:
    """ccxt's clock fixed at `millis`: milliseconds() feeds nonce(), iso8601 and Kraken's nonce."""
    ex.milliseconds = lambda: millis
    ex.seconds = lambda: millis // 1000
    ex.uuid16 = lambda *a: FIXED_UUID  # okx's broker-tagged clOrdId
    return ex


def capture(ex: Any) -> List[Dict[str, Any]]:
    """Replaces the network: each request is recorded and answered with {}."""
    seen: List[Dict[str, Any]] = []

    def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        seen.append({"url": url, "method": method, "headers": headers, "body": body})
        return {}

    ex.fetch = fetch
    return seen


def reference(cred: Any, millis: int, cls: Optional[str] = None) -> Any:
    """ccxt with the secret, signing by itself (`cls`: another ccxt class of its exchange)."""
    ex = getattr(ccxt, cls or cred.exchange)(
        {"apiKey": cred.api_key, "secret": cred.secret, "password": cred.passphrase or "",
         "enableRateLimit": False}
    )
    return pin(ex, millis)


def adapted(cred: Any, agent: Agent, millis: Optional[int], clock: str,
            cls: Optional[str] = None) -> Any:
    """ccxt without any secret, attached to the agent."""
    ex = getattr(ccxt, cls or cred.exchange)({"enableRateLimit": False})
    if millis is not None:
        pin(ex, millis)
    return attach(ex, cred.name, agent, clock=clock)


def call(ex: Any, method: str, params: Dict[str, Any]) -> Dict[str, Any]:
    seen = capture(ex)
    getattr(ex, method)(copy.deepcopy(params))
    assert len(seen) == 1, seen
    return seen[0]


def redacted(req: Dict[str, Any], want: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """`req` with sensitive header values hidden: shown as "<same>" when `want` is None (the
    reference) or holds the same value, else "<differs>"; the header order is kept."""
    out = dict(req)
    headers = req.get("headers")
    if headers:
        theirs = (want or {}).get("headers") or {}
        out["headers"] = [
            (k, v if k not in SENSITIVE
             else "<same>" if want is None or theirs.get(k) == v else "<differs>")
            for k, v in headers.items()
        ]
    return out


def assert_same_request(got: Dict[str, Any], want: Dict[str, Any]) -> None:
    """URL, method, body and headers (names, values AND order) equal; a failure never prints a
    passphrase."""
    assert redacted(got, want) == redacted(want)


Extractor = Callable[[Dict[str, Any]], int]
