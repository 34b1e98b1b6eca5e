"""One real agent on a fresh SoftHSM token for the whole session, with one secret per exchange
(random, added with --freshness off so the tests may pin the clock; Deribit's with a policy that
allows logins, as every Deribit signature is one; Coinbase Advanced's a P-256 key imported with
--private-key-file), all unlocked through `apisec unlock` and the scripted approver; plus one
secret left sealed."""

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
        # Kraken Futures issues base64 secrets too.
        "krakenfutures": Cred("krakenfutures-t", "krakenfutures", "kf" + os.urandom(8).hex(),
                              base64.b64encode(os.urandom(64)).decode(), None),
        # A CDP key: its name is the API key, its secret a P-256 private key (PEM).
        "coinbase": Cred("coinbase-t", "coinbase",
                         "organizations/org-t/apiKeys/" + os.urandom(8).hex(), _p256_pem(), None),
        "htx": Cred("htx-t", "htx", "htx" + os.urandom(8).hex(), hexsecret(), None),
        "deribit": Cred("deribit-t", "deribit", "dr" + os.urandom(6).hex(), hexsecret(), None),
        "bitmex": Cred("bitmex-t", "bitmex", "bm" + os.urandom(8).hex(), hexsecret(), None),
    }


def _p256_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="session")
def creds() -> Dict[str, Cred]:
    return _creds()


@pytest.fixture(scope="session")
def agent_env(creds: Dict[str, Cred]) -> Iterator[AgentEnv]:
    env = AgentEnv()
    try:
        env.init()
        # Every Deribit signature is also a login: its secret signs only with allow_login.
        logins = env.root / "logins.toml"
        logins.write_text("allow_login = true\n")
        for c in creds.values():
            preset = ADAPTERS[c.exchange][0]
            extra = ["--freshness", "off"]
            if preset == "deribit":
                extra += ["--policy", str(logins)]
            if preset == "coinbase-advanced":
                key = env.root / f"{c.name}.pem"
                key.write_text(c.secret)
                key.chmod(0o600)
                env.check(env.agent_cmd("add", c.name, "--exchange", preset, "--api-key",
                                        c.api_key, "--private-key-file", str(key), *extra),
                          "add coinbase-advanced")
                key.unlink()
                continue
            env.add(c.name, preset, c.api_key, c.secret.encode(),
                    None if c.passphrase is None else c.passphrase.encode(), extra)
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

