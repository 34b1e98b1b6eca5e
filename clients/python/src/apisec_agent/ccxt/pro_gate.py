"""Gate on ccxt.pro: every private channel's `subscribe` carries its own `auth` (a signature of
`channel=C&event=subscribe&time=T`), which is the agent's login of kind C; ccxt.pro's
`subscribe_private` is kept but for that step. `authenticate()`, the WebSocket API's
`spot.login`/`futures.login`, is the agent's too (its request id the agent's); ccxt.pro signs
every WebSocket API request after it (`create_order_ws`, `fetch_open_orders_ws`, ...) with the
secret, which the agent does not do: those raise ccxt.NotSupported."""

from __future__ import annotations

from typing import Any, Dict

import ccxt

from ._signer import Signer
from .pro import PENDING, defer_logins, login_message, once


def install(ex: Any, signer: Signer) -> None:

    async def complete(message: Dict[str, Any]) -> Dict[str, Any]:
        # The agent signs the channel with its own clock: its time and auth replace ccxt's.
        login = await login_message(signer, kind=message["channel"])
        return dict(message, time=login["time"], auth=login["auth"])

    async def subscribe_private(url: str, messageHash: str, payload: Any, channel: str,
                                params: dict, requiresUid: bool = False) -> Any:
        # ccxt.pro 4.5.90's, with the signature left PENDING for the agent.
        ex.check_required_credentials()
        if requiresUid and not ex.uid:
            raise ccxt.ArgumentsRequired(ex.id + " requires uid to subscribe")
        payloadValue = payload
        if requiresUid:
            payloadValue = [ex.uid] if payload is None else ex.array_concat([ex.uid], payload)
        requestId = ex.request_id()
        request = {"id": requestId, "time": PENDING, "channel": channel, "event": "subscribe",
                   "auth": PENDING}
        if payloadValue is not None:
            request["payload"] = payloadValue
        client = ex.client(url)
        if messageHash not in client.subscriptions:
            # in case of an authentication error ccxt finds the subscription by request id
            client.subscriptions[str(requestId)] = messageHash
        return await ex.watch(url, messageHash, ex.extend(request, params), messageHash, messageHash)

    async def authenticate(url: str, messageType: str) -> Any:
        message_hash = "authenticated"
        client = ex.client(url)
        async with once(ex):
            if ex.safe_value(client.subscriptions, message_hash) is not None:
                return client.reusableFuture(message_hash)  # as ccxt.pro: not awaited
            message = await login_message(signer, kind=messageType + ".login")
            rid = message["id"]
            # Gate answers with the agent's request id: its future, and the one ccxt's error
            # handler rejects (it looks the id up in the subscriptions).
            client.subscriptions[rid] = rid
            future = ex.watch(url, rid, message, message_hash, rid)
        try:
            result = await future
        except BaseException:
            client.subscriptions.pop(message_hash, None)
            raise
        client.resolve(True, message_hash)
        return result

    async def request_private(url: str, reqParams: dict, channel: str, requestId: Any = None) -> Any:
        raise ccxt.NotSupported(
            f"gate {channel}: ccxt.pro signs each WebSocket API request with the secret, which "
            "stays in the agent (it signs Gate's REST requests, the private channels' "
            "subscriptions and spot.login/futures.login only): use the REST methods"
        )

    defer_logins(ex, complete)
    ex.subscribe_private = subscribe_private
    ex.authenticate = authenticate
    ex.request_private = request_private
