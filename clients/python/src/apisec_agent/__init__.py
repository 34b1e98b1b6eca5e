"""Client for apisec-agent: exchange API requests are signed by the agent, so the bot never
holds the secret. See README.md for the exceptions and the ccxt adapter (`apisec_agent.ccxt`)."""

from .client import Agent, ClientTimeout
from .errors import (
    AgentError,
    AgentLocked,
    AgentNotRunning,
    ApprovalDenied,
    ApprovalTimeout,
    BadEntry,
    BadRequest,
    PolicyRefused,
    SecretNotFound,
    SecretSealed,
    SignError,
    TokenError,
    UnsupportedRequest,
)
from .results import AgentStatus, LoginResult, SecretStatus, SignResult

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentError",
    "AgentLocked",
    "AgentNotRunning",
    "AgentStatus",
    "ApprovalDenied",
    "ApprovalTimeout",
    "BadEntry",
    "BadRequest",
    "ClientTimeout",
    "LoginResult",
    "PolicyRefused",
    "SecretNotFound",
    "SecretSealed",
    "SecretStatus",
    "SignError",
    "SignResult",
    "TokenError",
    "UnsupportedRequest",
]
