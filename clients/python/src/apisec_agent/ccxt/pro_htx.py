"""HTX on ccxt.pro: `authenticate()` sends the agent's login, of the kind the connection's path
names (spot `/ws/v2`; the contracts' `/linear-swap-notification`, `/swap-notification`,
`/notification`, `/ws/v5/notification`), for the host ccxt.pro signs (`urls['hostnames']`);
ccxt.pro's future ('auth'), subscription and handler are kept."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import ccxt

from ._signer import Signer
from .pro import login_message, once

KINDS = {
    "/ws/v2": "spot",
    "/linear-swap-notification": "linear-swap",
    "/swap-notification": "swap",
    "/notification": "futures",
    "/ws/v5/notification": "unified",
}


def install(ex: Any, signer: Signer) -> None:

    async def authenticate(params: dict = {}) -> Any:  # noqa: B006 (ccxt's signature)
        url = ex.safe_string(params, "url")
        hostname = ex.safe_string(params, "hostname")
        if url is None or hostname is None or ex.safe_string(params, "type") is None:
            raise ccxt.ArgumentsRequired(ex.id + " authenticate requires a url, hostname and type argument")
        message_hash = "auth"
        client = ex.client(url)
        async with once(ex):
            if ex.safe_value(client.subscriptions, message_hash) is None:
                path = urlsplit(url).path
                kind = KINDS.get(path)
                if kind is None:
                    raise ccxt.NotSupported(
                        f"htx: the agent makes no login for the WebSocket path {path!r} "
                        f"(it does for {', '.join(KINDS)})"
                    )
                message = await login_message(signer, kind=kind, host=hostname)
                subscription = {"id": ex.request_id(), "messageHash": message_hash, "params": params}
                ex.watch(url, message_hash, message, message_hash, subscription)
        return await client.reusableFuture(message_hash)

    ex.authenticate = authenticate
