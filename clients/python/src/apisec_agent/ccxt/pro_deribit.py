"""Deribit on ccxt.pro: `authenticate()` sends the agent's `public/auth` login (grant_type
client_signature, `data` empty, the request id the agent's); ccxt.pro's future
('authenticated', resolved by the reply that carries the access token) is kept, and kept in the
subscriptions as ccxt.pro keeps it."""

from __future__ import annotations

from typing import Any

from ._signer import Signer
from .pro import login_message, once


def install(ex: Any, signer: Signer) -> None:

    async def authenticate(params: dict = {}) -> Any:  # noqa: B006 (ccxt's signature)
        url = ex.urls["api"]["ws"]
        client = ex.client(url)
        message_hash = "authenticated"
        async with once(ex):
            done = ex.safe_value(client.subscriptions, message_hash)
            if done is not None:
                return done  # as ccxt.pro: the reply, or True while one is on its way
            message = await login_message(signer)
            future = ex.watch(url, message_hash, ex.extend(message, params), message_hash)
        try:
            result = await future
        except BaseException:
            client.subscriptions.pop(message_hash, None)
            raise
        client.subscriptions[message_hash] = result
        return result

    ex.authenticate = authenticate
