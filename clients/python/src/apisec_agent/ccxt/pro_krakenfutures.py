"""Kraken Futures on ccxt.pro: ccxt.pro's `authenticate()` asks for a challenge (it sends the key
only) and its handler signs the challenge the server sends back; that signing is the agent's
login of that challenge (a UUID, or the agent refuses it), after which ccxt.pro's future
('challenge') resolves and each private `subscribe` carries `original_challenge` and
`signed_challenge` as ccxt.pro writes them."""

from __future__ import annotations

import asyncio
from typing import Any, Set

from ._signer import Signer
from .pro import login


def install(ex: Any, signer: Signer) -> None:
    handle = ex.handle_authenticate
    signing: Set["asyncio.Task[None]"] = set()

    async def sign(client: Any, challenge: Any) -> None:
        message_hash = "challenge"
        try:
            fields = (await login(signer, challenge=str(challenge or ""))).fields
        except Exception as e:
            client.reject(e, message_hash)
            client.subscriptions.pop(message_hash, None)
            return
        ex.options["challenge"] = fields["original_challenge"]
        ex.options["signedChallenge"] = fields["signed_challenge"]
        future = ex.safe_value(client.futures, message_hash)
        if future is not None:
            future.resolve(True)  # kept resolved, as ccxt.pro does: one login per connection

    def handle_authenticate(client: Any, message: dict) -> dict:
        if ex.safe_string(message, "event") == "error":
            return handle(client, message)  # ccxt.pro's: rejects, allows another attempt
        task = asyncio.ensure_future(sign(client, ex.safe_value(message, "message")))
        signing.add(task)
        task.add_done_callback(signing.discard)
        return message

    ex.handle_authenticate = handle_authenticate
