"""A rule on a JSON body's field holds against every body another parser reads that field from.

The policy reads a JSON body's top-level fields with its own strict reader; an exchange reads the
same bytes with whatever its stack uses, often something more lenient. A bot that wants a
signature the policy denies (here: an order on the one market a rule forbids) writes the field so
that the agent's reader misses it while the exchange's finds it: an escape, a duplicate member,
something the strict reader cannot read elsewhere in the body (an unpaired surrogate, NaN, deep
nesting), a byte-order mark, UTF-16. Python's own `json` is the independent reader here, and a
lenient one: it takes unpaired surrogates, NaN and Infinity, a UTF-8 byte-order mark and UTF-16 or
UTF-32 bytes, and reports every member of an object, so that a parser keeping the first duplicate
and one keeping the last are both modelled. Every body from which it reads the denied value must
be refused by the real agent, on each preset that signs a JSON body's fields (Bitfinex,
which does not sign the query a POST may also carry, refuses field rules when they are added); whatever the agent signs
instead (its reply's body when it replaces one) must not read as the denied order.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from apisec_agent import Agent
from apisec_agent.errors import AgentError
from apisec_agent.testing import AgentEnv


@dataclass(frozen=True)
class Order:
    preset: str
    path: str
    field: str
    denied: str
    allowed: str
    rest: Tuple[Tuple[str, str], ...]
    passphrase: Optional[bytes]
    base64_secret: bool = False


ORDERS = [
    Order("bitget", "/api/v2/spot/trade/place-order", "symbol", "ETHUSDT", "BTCUSDT",
          (("side", "buy"), ("orderType", "limit"), ("force", "gtc"), ("price", "1"), ("size", "1")),
          b"pp"),
    Order("okx", "/api/v5/trade/order", "instId", "ETH-USDT", "BTC-USDT",
          (("tdMode", "cash"), ("side", "buy"), ("ordType", "limit"), ("px", "1"), ("sz", "1")),
          b"pp"),
    Order("kucoin", "/api/v1/orders", "symbol", "ETH-USDT", "BTC-USDT",
          (("clientOid", "c1"), ("side", "buy"), ("type", "limit"), ("price", "1"), ("size", "1")),
          b"pp"),
    Order("bybit", "/v5/order/create", "symbol", "ETHUSDT", "BTCUSDT",
          (("category", "spot"), ("side", "Buy"), ("orderType", "Limit"), ("qty", "1"),
           ("price", "1")),
          None),
    Order("bitmex", "/api/v1/order", "symbol", "ETHUSD", "XBTUSD",
          (("side", "Buy"), ("orderQty", "1"), ("price", "1")), None),
    Order("coinbase-exchange", "/orders", "product_id", "ETH-USD", "BTC-USD",
          (("side", "buy"), ("price", "1"), ("size", "1")), b"pp", base64_secret=True),
    Order("gate", "/api/v4/spot/orders", "currency_pair", "ETH_USDT", "BTC_USDT",
          (("side", "buy"), ("amount", "1"), ("price", "1")), None),
]


def policy(o: Order) -> str:
    """Unknown endpoints allowed (so that only the field rule stands in the way), transfers and
    administration denied, and orders on the denied market denied."""
    return ('default_deny = false\n[[rule]]\naction = "deny"\nclass = "transfer"\n'
            '[[rule]]\naction = "deny"\nclass = "admin"\n'
            f'[[rule]]\naction = "deny"\nmethods = ["POST"]\npath = "{o.path}"\n'
            f'fields = {{ {o.field} = "{o.denied}" }}\n')


def member(key: str, value: str) -> str:
    return f"{json.dumps(key)}:{json.dumps(value)}"


def escaped(s: str, upper: bool = False) -> str:
    """Every character as a \\u escape."""
    return "".join(f"\\u{ord(c):04X}" if upper else f"\\u{ord(c):04x}" for c in s)


def first_escaped(s: str) -> str:
    return f"\\u{ord(s[0]):04x}{s[1:]}"


# Values elsewhere in the body that a strict reader may refuse and a lenient one reads.
UNREADABLE = ['"\\ud800"', '"\\udc00x"', '"a\\ud83d"', '"\\ud800\\u0041"', "NaN", "Infinity",
              "-Infinity", "1e999", "[" * 127 + "]" * 127, "[" * 129 + "]" * 129,
              "[" * 400 + "]" * 400, '{"a":' * 150 + "1" + "}" * 150]


def readable(o: Order, value: str) -> List[str]:
    """The order on market `value`, written every way the JSON grammar allows that a strict
    reader reads too: the field first or last, escapes in its name or value, whitespace."""
    rest = [member(k, v) for k, v in o.rest]
    name, quoted = json.dumps(o.field), json.dumps(value)

    def obj(*members: str) -> str:
        return "{" + ",".join(members) + "}"

    return [
        obj(f"{name}:{quoted}", *rest),
        obj(*rest, f"{name}:{quoted}"),
        obj(f'"{first_escaped(o.field)}":{quoted}', *rest),
        obj(f'"{escaped(o.field)}":{quoted}', *rest),
        obj(f'"{escaped(o.field, upper=True)}":{quoted}', *rest),
        obj(f'{name}:"{first_escaped(value)}"', *rest),
        obj(f'{name}:"{escaped(value)}"', *rest),
        "{ " + ", ".join([f"{name} : {quoted}", *rest]) + " }",
        "{\n\t" + ",\n\t".join([f"{name}:\t{quoted}", *rest]) + "\n}",
    ]


def unreadable(o: Order) -> Iterator[bytes]:
    """The denied order with what a strict reader may not read and a lenient one reads past: the
    field twice (the first or the last wins, by parser), a name or value it refuses beside the
    field, a byte-order mark, whitespace before the object, another encoding."""
    rest = [member(k, v) for k, v in o.rest]
    denied = member(o.field, o.denied)
    allowed = member(o.field, o.allowed)

    def obj(*members: str) -> str:
        return "{" + ",".join(members) + "}"

    texts: List[str] = [
        obj(allowed, denied, *rest),
        obj(denied, allowed, *rest),
        obj(allowed, *rest, f'"{escaped(o.field)}":{json.dumps(o.denied)}'),
        obj(f'"{escaped(o.field)}":{json.dumps(o.allowed)}', denied, *rest),
        obj(denied, '"\\ud800":"x"', *rest),
        obj('"\\udfff":"x"', denied, *rest),
        " " + obj(denied, *rest) + " ",
        "\n\t" + obj(denied, *rest) + "\r\n",
    ]
    for junk in UNREADABLE:
        texts.append(obj(denied, *rest, f'"t":{junk}'))
        texts.append(obj(f'"t":{junk}', denied, *rest))
        texts.append(obj(allowed, f'"t":{junk}', denied, *rest))
    for text in texts:
        yield text.encode()
    plain = obj(denied, *rest)
    yield b"\xef\xbb\xbf" + plain.encode()
    for codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        yield plain.encode(codec)


def members_read(body: bytes) -> Optional[List[Tuple[str, object]]]:
    """Every top-level member Python's `json` reads from `body`, duplicates kept, or None."""
    try:
        read = json.loads(body, object_pairs_hook=lambda pairs: pairs)
    except (ValueError, RecursionError):
        return None
    return read if isinstance(read, list) and all(isinstance(p, tuple) for p in read) else None


def reads_denied(o: Order, body: bytes) -> bool:
    members = members_read(body)
    return members is not None and any(k == o.field and v == o.denied for k, v in members)


@pytest.fixture(scope="module")
def field_env() -> Iterator[Tuple[AgentEnv, Dict[str, bytes]]]:
    env = AgentEnv("apisec-fields-")
    try:
        env.init()
        secrets = {}
        for o in ORDERS:
            rules = env.root / f"{o.preset}.toml"
            rules.write_text(policy(o))
            raw = os.urandom(32)
            secret = base64.b64encode(raw) if o.base64_secret else raw.hex().encode()
            secrets[o.preset] = secret
            env.add(o.preset, o.preset, "k" + os.urandom(4).hex(), secret, o.passphrase,
                    ["--policy", str(rules)])
        env.start()
        env.unlock(*(o.preset for o in ORDERS))
        yield env, secrets
    finally:
        env.close()


@pytest.mark.parametrize("o", ORDERS, ids=[o.preset for o in ORDERS])
def test_no_body_another_parser_reads_as_the_denied_order_is_signed(
        field_env: Tuple[AgentEnv, Dict[str, bytes]], o: Order) -> None:
    env, _ = field_env
    with Agent(str(env.socket)) as agent:
        # Read the way the rule reads: the order on the denied market is refused by the rule
        # however it is spelled, and the same spelling on another market is signed.
        for denied, allowed in zip(readable(o, o.denied), readable(o, o.allowed)):
            assert reads_denied(o, denied.encode()) and not reads_denied(o, allowed.encode())
            with pytest.raises(AgentError, match=r"refused by rule 3 "):
                agent.sign(o.preset, "POST", o.path, "", denied.encode())
            got = agent.sign(o.preset, "POST", o.path, "", allowed.encode())
            assert not reads_denied(o, got.body_or(allowed.encode()))
        # Not read the way the rule reads: refused, or what is signed is not the denied order.
        asked = 0
        for body in unreadable(o):
            if not reads_denied(o, body):
                continue
            asked += 1
            try:
                got = agent.sign(o.preset, "POST", o.path, "", body)
            except AgentError:
                continue
            sent = got.body_or(body)
            assert not reads_denied(o, sent), (
                f"{o.preset}: signed {sent[:120]!r}, which Python's json reads as "
                f"{o.field} = {o.denied}")
        # The oracle reads the denied order from every one of them: the loop asked something.
        assert asked == len(list(unreadable(o))), asked
