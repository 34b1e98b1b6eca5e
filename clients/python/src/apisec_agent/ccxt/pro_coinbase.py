"""Coinbase Exchange and Coinbase Advanced on ccxt.pro: their login fields go into the subscribe
messages, which ccxt.pro builds synchronously (`authenticate()`, `create_ws_auth()`): those now
return PENDING fields, which the agent's login fills in when ccxt sends the message (a new
subscription; `pro.defer_logins`).

- coinbaseexchange: `timestamp`, `signature` (the REST signature of `GET /users/self/verify`),
  `passphrase` for the `user` channel and for `level2` (its order books), as ccxt.pro sends them.
- coinbase (Advanced Trade, CDP keys): `jwt`, the agent's WebSocket JWT (no `uri`), whatever the
  key's type (ccxt.pro 4.5.90 makes one for `organizations/...` keys only and signs others with
  HMAC: that the agent holds CDP keys only makes the JWT the right one)."""

from __future__ import annotations

from typing import Any, Dict, List

from ._signer import Signer
from .pro import PENDING, defer_logins, login


def install(ex: Any, signer: Signer) -> None:

    async def complete(message: Dict[str, Any]) -> Dict[str, Any]:
        fields = (await login(signer)).fields
        return {k: fields[k] if v is PENDING else v for k, v in message.items()}

    def authenticate() -> Dict[str, Any]:  # coinbaseexchange's, ccxt's order of the fields
        ex.check_required_credentials()
        return {"timestamp": PENDING, "key": ex.apiKey, "signature": PENDING, "passphrase": PENDING}

    def create_ws_auth(name: str, productIds: List[str]) -> Dict[str, Any]:  # coinbase's
        ex.check_required_credentials()
        return {"jwt": PENDING}

    defer_logins(ex, complete)
    if hasattr(ex, "create_ws_auth"):
        ex.create_ws_auth = create_ws_auth
    else:
        ex.authenticate = authenticate
