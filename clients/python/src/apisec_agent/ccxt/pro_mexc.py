"""MEXC on ccxt.pro: spot's private streams take a listenKey from REST `POST
/api/v3/userDataStream` (kept alive by PUT), which the adapter's `sign()` signs: ccxt.pro's flow
as is. The futures' login (`watch_swap_private`) signs the key and a time with the secret, which
the agent refuses to sign (it is also the signature of every parameterless futures REST read),
and the adapter signs MEXC spot only: ccxt.NotSupported."""

from __future__ import annotations

from typing import Any

import ccxt

from ._signer import Signer


def install(ex: Any, signer: Signer) -> None:

    async def watch_swap_private(messageHash: str, params: dict = {}) -> Any:  # noqa: B006
        raise ccxt.NotSupported(
            "mexc futures WebSocket: its login is the signature of the key and a time, which "
            "the apisec agent does not sign (it would also sign every parameterless futures REST "
            "read); the adapter signs MEXC spot, whose streams work (watch_balance() with "
            "type 'spot')"
        )

    ex.watch_swap_private = watch_swap_private
