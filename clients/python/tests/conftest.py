"""One real agent on a fresh SoftHSM token for the whole session, with one secret per exchange
(random, added with --freshness off so the tests may pin the clock), all unlocked through
`apisec unlock` and the scripted approver; plus one secret left sealed."""

from __future__ import annotations

import base64
import os
import sys
from dataclasses import dataclass
from typing import Dict, Iterator, Optional

import pytest

from apisec_agent import Agent
from apisec_agent.ccxt import ADAPTERS
from apisec_agent.testing import AgentEnv

# Helpers live beside the tests; --import-mode=importlib does not put this dir on sys.path.
sys.path.insert(0, os.path.dirname(__file__))
# Its asserts should explain a failure like a test's own.
pytest.register_assert_rewrite("ccxt_compare")


@dataclass(frozen=True)
class Cred:
    name: str
    exchange: str
    api_key: str
    secret: str
    passphrase: Optional[str]


def _creds() -> Dict[str, Cred]:
    def hexsecret() -> str:
        return os.urandom(24).hex()

    return {
        "bitget": Cred("bitget-t", "bitget", "bg_" + os.urandom(6).hex(), hexsecret(), "bg-pass-1"),
        "binance": Cred("binance-t", "binance", "bn" + os.urandom(16).hex(), hexsecret(), None),
        "okx": Cred("okx-t", "okx", "okx-" + os.urandom(6).hex(), hexsecret(), "okx-Pass#2"),
        "bybit": Cred("bybit-t", "bybit", "by" + os.urandom(8).hex(), hexsecret(), None),
        # Kraken issues base64 secrets (the agent checks at add time).
        "kraken": Cred("kraken-t", "kraken", "kr" + os.urandom(8).hex(),
                       base64.b64encode(os.urandom(64)).decode(), None),
        "kucoin": Cred("kucoin-t", "kucoin", "kc" + os.urandom(8).hex(), hexsecret(), "kc-pass-3"),
        "gate": Cred("gate-t", "gate", "gt" + os.urandom(8).hex(), hexsecret(), None),
        "mexc": Cred("mexc-t", "mexc", "mx" + os.urandom(8).hex(), hexsecret(), None),
        "bitfinex": Cred("bitfinex-t", "bitfinex", "bf" + os.urandom(8).hex(), hexsecret(), None),
        "coinbaseexchange": Cred("cbx-t", "coinbaseexchange", "cb" + os.urandom(8).hex(),
                                 base64.b64encode(os.urandom(64)).decode(), "cb-pass-4"),
    }


@pytest.fixture(scope="session")
def creds() -> Dict[str, Cred]:
    return _creds()


@pytest.fixture(scope="session")
def agent_env(creds: Dict[str, Cred]) -> Iterator[AgentEnv]:
    env = AgentEnv()
    try:
        env.init()
        for c in creds.values():
            env.add(c.name, ADAPTERS[c.exchange][0], c.api_key, c.secret.encode(),
                    None if c.passphrase is None else c.passphrase.encode(),
                    ["--freshness", "off"])
        env.add("sealed-t", "bitget", "bg_sealed", b"never-unlocked", b"p")
        env.start()
        env.unlock(*(c.name for c in creds.values()))
        yield env
    finally:
        env.close()


@pytest.fixture(scope="session")
def agent(agent_env: AgentEnv) -> Iterator[Agent]:
    with Agent(str(agent_env.socket)) as a:
        yield a

