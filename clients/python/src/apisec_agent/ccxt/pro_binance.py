"""Binance on ccxt.pro: spot's user data stream is subscribed on the WebSocket API with
`userDataStream.subscribe.signature`, whose params are the agent's `user-data` login (its request
id the agent's); ccxt.pro's `ensure_user_data_stream_ws_subscribe_signature` is kept but for
that step. Margin (`sapiPostUserListenToken`) and the futures, options and portfolio margin
(`.../listenKey`, kept alive by PUT) get their streams from REST calls the adapter's `sign()`
signs: ccxt.pro's flow as is. The WebSocket API's requests (`create_order_ws`,
`fetch_balance_ws`, ...) are signed one by one by ccxt.pro's `sign_params()` with the secret:
they meet `Held`, ccxt.NotSupported (the agent signs them with `apisec sign --method WS`, which
this adapter does not route)."""

from __future__ import annotations

from typing import Any

import ccxt

from ._signer import Signer
from .pro import login_message


def install(ex: Any, signer: Signer) -> None:

    async def ensure_user_data_stream_ws_subscribe_signature(marketType: str = "spot") -> Any:
        # ccxt.pro 4.5.90's, with the agent's message instead of sign_params({}).
        url = ex.safe_string(ex.urls["api"]["ws"]["ws-api"], marketType)
        if url is None:
            raise ccxt.ExchangeError(ex.id + " has no websocket url for this endpoint")
        client = ex.client(url)
        if ex.get_account_type_from_subscriptions(list(client.subscriptions.keys())) == marketType:
            return
        messageHash = "authenticate:signature:" + marketType
        if messageHash in client.futures:
            # another caller is already subscribing: wait for it
            await client.future(messageHash)
            return
        client.future(messageHash)
        client.subscriptions[marketType] = True
        try:
            message = await login_message(signer, kind="user-data")
            requestHash = str(message["id"])
            subscription = {"id": requestHash, "method": ex.handle_user_data_stream_subscribe,
                            "subscription": marketType}
            await ex.watch(url, requestHash, message, requestHash, subscription)
            client.resolve(marketType, messageHash)
        except Exception as e:
            client.subscriptions.pop(marketType, None)
            client.reject(e, messageHash)
            raise

    ex.ensure_user_data_stream_ws_subscribe_signature = ensure_user_data_stream_ws_subscribe_signature
