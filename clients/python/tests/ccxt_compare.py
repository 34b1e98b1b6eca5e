"""Helpers for comparing the adapter's requests with ccxt's own: a pinned clock, a fetch that
captures instead of sending, and a comparison that never prints a passphrase."""

from __future__ import annotations

import base64
import copy
import json
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


def jwt_parts(token: str) -> "tuple[Dict[str, Any], Dict[str, Any]]":
    """A JWT's decoded header and claims."""
    head, claims, _ = token.split(".")

    def dec(s: str) -> Dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))

    return dec(head), dec(claims)


def verify_es256(token: str, private_pem: str) -> None:
    """Raises unless `token`'s ES256 signature verifies with the public half of the key."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    signing_input, sig = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    assert len(raw) == 64, "an ES256 signature is r || s, 32 bytes each"
    public = serialization.load_pem_private_key(private_pem.encode(), None).public_key()
    public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                       int.from_bytes(raw[32:], "big")),
                  signing_input.encode(), ec.ECDSA(hashes.SHA256()))
