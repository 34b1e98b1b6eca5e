"""Exceptions for the agent's refusals, one class per error code of docs/protocol.md, so a bot can
tell "ask the owner to unlock" from "this request is malformed" without parsing messages."""

from __future__ import annotations

from typing import Dict, Type


class AgentError(Exception):
    """The agent refused or failed. `code` is the protocol's machine-readable code; `message` is
    the agent's sentence for people (it never contains a secret)."""

    code: str = "internal"

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"


class AgentNotRunning(AgentError):
    """No agent listens at the socket (or APISEC_AUTH_SOCK is unset)."""

    code = "not-running"


class BadRequest(AgentError):
    code = "bad-request"


class SecretNotFound(AgentError):
    code = "not-found"


class SecretSealed(AgentError):
    """The secret is not unsealed: call `unlock(name)` (or `apisec unlock NAME`) first."""

    code = "sealed"


class ApprovalDenied(AgentError):
    code = "denied"


class ApprovalTimeout(AgentError):
    code = "timeout"


class PolicyRefused(AgentError):
    """Policy said no: raw MAC off, stale timestamp, expired secret, no approver configured."""

    code = "refused"


class BadEntry(AgentError):
    code = "bad-entry"


class TokenError(AgentError):
    code = "token"


class AgentLocked(AgentError):
    code = "agent-locked"


class SignError(AgentError):
    """The exchange preset refused the request (unknown method, malformed query, ...)."""

    code = "sign"


class UnsupportedRequest(AgentError):
    """Plain SSH_AGENT_FAILURE (5): the agent did not understand the message at all."""

    code = "unsupported"


_BY_CODE: Dict[str, Type[AgentError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        SecretNotFound,
        SecretSealed,
        ApprovalDenied,
        ApprovalTimeout,
        PolicyRefused,
        BadEntry,
        TokenError,
        AgentLocked,
        SignError,
    )
}


def from_code(code: str, message: str) -> AgentError:
    """The exception for a refusal; unknown codes (a newer agent) stay a plain AgentError."""
    return _BY_CODE.get(code, AgentError)(message, code)
