"""What every exchange module of the adapter shares: the agent call, the clock choice, and the
translation of the agent's refusals into ccxt's exception classes (so a bot framework that
catches ccxt errors, like freqtrade, handles them); the apisec exception stays as `__cause__`."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Union
from urllib.parse import urlsplit

import ccxt  # the optional dependency; this package is only imported when ccxt is installed

from .. import errors
from ..client import Agent
from ..results import SignResult

Request = Dict[str, Any]  # ccxt's {'url', 'method', 'body', 'headers'}

CLOCKS = ("agent", "ccxt")


class Signer:
    """One attached secret. `clock="agent"` (the default) lets the agent stamp timestamps and
    nonces, as it is meant to; `clock="ccxt"` sends ccxt's own clock (exchange.nonce(), which
    honours ccxt's timeDifference), accepted only within the secret's freshness window, and a
    nonce only on a secret added with `--freshness off` (used by the tests to pin the clock)."""

    def __init__(self, agent: Agent, name: str, exchange_id: str, clock: str) -> None:
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}, not {clock!r}")
        self.agent = agent
        self.name = name
        self.exchange_id = exchange_id
        self.clock = clock

    def client_value(self, read: Callable[[], Any]) -> Optional[str]:
        """ccxt's clock value when clock="ccxt", else None (the agent stamps)."""
        return str(read()) if self.clock == "ccxt" else None

    def sign(
        self,
        method: str,
        path: str,
        query: str = "",
        body: Union[str, bytes, None] = None,
        timestamp: Optional[str] = None,
        nonce: Optional[str] = None,
        host: Optional[str] = None,
    ) -> SignResult:
        """`host`: the host the request goes to, for an exchange that signs it (HTX); None for
        the preset's default."""
        try:
            return self.agent.sign(self.name, method, path, query, body, timestamp, nonce,
                                   host=host)
        except (errors.SignError, errors.BadRequest) as e:
            raise ccxt.BadRequest(f"{self.exchange_id} apisec agent refused to sign: {e}") from e
        except (errors.PolicyRefused, errors.ApprovalDenied) as e:
            # What the secret's policy (or its human) does not allow: ccxt's "the key may not".
            raise ccxt.PermissionDenied(f"{self.exchange_id} apisec agent: {e}") from e
        except errors.AgentError as e:
            raise ccxt.AuthenticationError(f"{self.exchange_id} apisec agent: {e}") from e


def url_path(url: str) -> str:
    """The path of a URL: what the agent's policy (deny lists) judges."""
    return urlsplit(url).path


def pick(result: SignResult, *names: str) -> Dict[str, str]:
    """The named headers from the agent's reply; a missing one means the preset and this adapter
    disagree, which must not be papered over."""
    missing = [n for n in names if n not in result.headers]
    if missing:
        raise ccxt.ExchangeError(f"apisec agent reply lacks headers {missing}")
    return {n: result.headers[n] for n in names}


def delegate(exchange: Any, path: str, api: Any, method: str, params: Any) -> Request:
    """ccxt's own sign() for requests that need no secret (public endpoints)."""
    return type(exchange).sign(exchange, path, api, method, params)
