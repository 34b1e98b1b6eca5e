"""Typed results of the agent's replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple


@dataclass(frozen=True)
class SignResult:
    """What to send: the agent's headers (in the exchange's documented order), the parameters it
    added to the query, the complete query, and a replacement body when the preset had to change
    it (Kraken puts the nonce into the body); `body` is None when the client's body is unchanged."""

    method: str
    path: str
    headers: Dict[str, str]
    query_additions: Dict[str, str]
    query: str
    body: Optional[bytes]

    @classmethod
    def of(cls, method: str, path: str, headers: Dict[str, str], query_additions: Dict[str, str],
           query: str, body: Optional[bytes]) -> "SignResult":
        """The result of a reply, built without the frozen dataclass's `__init__` (a third of
        the client's cost per signature): the same fields, in the instance's own dict."""
        result = object.__new__(cls)
        result.__dict__.update(method=method, path=path, headers=headers,
                               query_additions=query_additions, query=query, body=body)
        return result

    def target(self) -> str:
        """Path plus `?query` when there is one: the request line's target."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def url(self, base: str) -> str:
        """The full URL on `base` (e.g. "https://api.bitget.com")."""
        return base.rstrip("/") + self.target()

    def body_or(self, original: bytes) -> bytes:
        """The body to send: the agent's replacement if any, else `original`."""
        return original if self.body is None else self.body


@dataclass(frozen=True)
class LoginResult:
    """A WebSocket login stamped by the agent: its fields in the exchange's order, and the
    message to send (JSON text; "" where the exchange defines fields only, which go into a
    message the client writes, such as Coinbase Exchange's subscribe)."""

    fields: Dict[str, str]
    message: str

    def __repr__(self) -> str:  # the passphrase travels in some logins: names only
        return f"LoginResult(fields={list(self.fields)}, message=<{len(self.message)} chars>)"


@dataclass(frozen=True)
class SecretStatus:
    name: str
    exchange: str
    api_key: str
    unsealed: bool
    expires: str
    forget_at: int
    problem: str
    # What weakens this secret's guarantee by the owner's choice (allow_raw, freshness off,
    # default_deny = false); empty from an agent that predates the notes.
    weakened_by: Tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentStatus:
    version: str
    pid: int
    locked: bool
    secrets: List[SecretStatus] = field(default_factory=list)

    def secret(self, name: str) -> Optional[SecretStatus]:
        return next((s for s in self.secrets if s.name == name), None)


@dataclass(frozen=True)
class WaitingApproval:
    """An approval waiting for an admin's answer over the socket (`[approval] over_socket`)."""

    id: int
    line: str
    prompt: str
    waited_secs: int
