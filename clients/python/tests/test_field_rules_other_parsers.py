"""A rule on a request's field holds against every request another parser reads that field from.

The policy reads a request's fields with its own strict reader; an exchange reads the same bytes
with whatever its stack uses, often something more lenient. A bot that wants a signature the
policy denies (here: an order on the one market a rule forbids) writes the field so that the
agent's reader misses it while the exchange's finds it.

JSON bodies: an escape, a duplicate member, something the strict reader cannot read elsewhere in
the body (an unpaired surrogate, NaN, deep nesting), a byte-order mark, UTF-16. Python's own
`json` is the independent reader, and a lenient one: it takes unpaired surrogates, NaN and
Infinity, a UTF-8 byte-order mark and UTF-16 or UTF-32 bytes, and reports every member of an
object, so that a parser keeping the first duplicate and one keeping the last are both modelled.

Form bodies and queries: an escaped name, the field twice, `;` as a separator (older parsers
split there), empty pairs, a fragment, the field in the query of a POST or in a GET's body.
Python's `urllib.parse.parse_qsl` is the reader, splitting at `&` and, as older parsers do, at
`;` too, over the query and the body together.

Every request from which the reader gets the denied value must be refused by the real agent, on
each preset whose signature covers the fields (Bitfinex and Kraken, which do not sign the query a
POST may also carry, refuse field rules when they are added); whatever the agent signs instead
(its reply's query and body) must not read as the denied request.
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


def policy(method: str, path: str, field: str, denied: str) -> str:
    """Unknown endpoints allowed (so that only the field rule stands in the way), transfers and
    administration denied, and requests on the denied market denied."""
    return ('default_deny = false\n[[rule]]\naction = "deny"\nclass = "transfer"\n'
            '[[rule]]\naction = "deny"\nclass = "admin"\n'
            f'[[rule]]\naction = "deny"\nmethods = ["{method}"]\npath = "{path}"\n'
            f'fields = {{ {field} = "{denied}" }}\n')


def member(key: str, value: str) -> str:
    return f"{json.dumps(key)}:{json.dumps(value)}"


def obj(*members: str) -> str:
    """A JSON object of `members` as written, in order."""
    return "{" + ",".join(members) + "}"


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
def field_env() -> Iterator[AgentEnv]:
    """One entry per JSON order (named after its preset) and per form or query request
    (`form-PRESET`), each with its rule."""
    env = AgentEnv("apisec-fields-")
    try:
        env.init()
        entries = [(o.preset, o.preset, policy("POST", o.path, o.field, o.denied), o.passphrase,
                    o.base64_secret) for o in ORDERS]
        entries += [(f"form-{f.preset}", f.preset, policy(f.method, f.path, f.field, f.denied),
                     f.passphrase, f.base64_secret) for f in FORMS]
        for name, preset, rules_text, passphrase, base64_secret in entries:
            rules = env.root / f"{name}.toml"
            rules.write_text(rules_text)
            raw = os.urandom(64 if base64_secret else 32)
            secret = base64.b64encode(raw) if base64_secret else raw.hex().encode()
            env.add(name, preset, "k" + os.urandom(4).hex(), secret, passphrase,
                    ["--policy", str(rules)])
        env.start()
        env.unlock(*(name for name, *_ in entries))
        yield env
    finally:
        env.close()


@pytest.mark.parametrize("o", ORDERS, ids=[o.preset for o in ORDERS])
def test_no_body_another_parser_reads_as_the_denied_order_is_signed(
        field_env: AgentEnv, o: Order) -> None:
    env = field_env
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


# --- form bodies and queries -------------------------------------------------------------------


@dataclass(frozen=True)
class FormRequest:
    """A request whose fields travel as `name=value` pairs: in a form body (POST) or the query
    (GET)."""
    preset: str
    method: str
    path: str
    field: str
    denied: str
    allowed: str
    rest: Tuple[Tuple[str, str], ...]
    passphrase: Optional[bytes] = None
    base64_secret: bool = False

    def request(self, pairs: str) -> Tuple[str, bytes]:
        """(query, body) carrying `pairs` where this request's fields travel."""
        return ("", pairs.encode()) if self.method == "POST" else (pairs, b"")


FORMS = [
    FormRequest("kraken-futures", "POST", "/derivatives/api/v3/sendorder", "symbol", "PF_ETHUSD",
                "PF_XBTUSD", (("orderType", "lmt"), ("side", "buy"), ("size", "1"),
                              ("limitPrice", "1")), base64_secret=True),
    FormRequest("binance", "POST", "/api/v3/order", "symbol", "ETHUSDT", "BTCUSDT",
                (("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1"),
                 ("price", "1"))),
    FormRequest("bitget", "GET", "/api/v2/spot/trade/unfilled-orders", "symbol", "ETHUSDT",
                "BTCUSDT", (("limit", "10"),), passphrase=b"pp"),
    FormRequest("okx", "GET", "/api/v5/trade/orders-pending", "instId", "ETH-USDT", "BTC-USDT",
                (("instType", "SPOT"),), passphrase=b"pp"),
    FormRequest("kucoin", "GET", "/api/v1/orders", "symbol", "ETH-USDT", "BTC-USDT",
                (("status", "active"),), passphrase=b"pp"),
]


def pairs_read(text: str, lenient: bool) -> List[Tuple[str, str]]:
    """Python's form parser (`&` only, as since Python 3.10), or with `;` as a separator too
    (older parsers: Python before 3.9.2, Go before 1.17)."""
    from urllib.parse import parse_qsl

    parts = text.replace(";", "&") if lenient else text
    return parse_qsl(parts, keep_blank_values=True)


def form_reads_denied(f: FormRequest, query: str, body: bytes) -> bool:
    """Whether a server that reads the query and the form body together, with either parser,
    finds the denied value in the field."""
    text = body.decode("utf-8", "replace")
    return any((k, v) == (f.field, f.denied)
               for lenient in (False, True)
               for k, v in pairs_read(query, lenient) + pairs_read(text, lenient))


def form_readable(f: FormRequest, value: str) -> List[str]:
    """The request on market `value`, spelled the ways a strict form reader reads too: the
    field first or last, escapes in the value (either case of hex)."""
    rest = [f"{k}={v}" for k, v in f.rest]
    first = f"%{ord(value[0]):02X}{value[1:]}"
    every = "".join(f"%{ord(c):02x}" for c in value)
    return ["&".join([f"{f.field}={value}", *rest]),
            "&".join([*rest, f"{f.field}={value}"]),
            "&".join([f"{f.field}={first}", *rest]),
            "&".join([f"{f.field}={every}", *rest])]


def form_unreadable(f: FormRequest) -> Iterator[Tuple[str, bytes]]:
    """The denied request, as (query, body), spelled the ways a strict reader would not read as
    it, or would read otherwise than another server: an escaped name, the field twice, `;` as a
    separator, empty pairs, a fragment, a name that is not plain, and the field where this
    request's fields do not travel (in the query of a POST, in a body beside a GET's query)."""
    rest = [f"{k}={v}" for k, v in f.rest]
    denied, allowed = f"{f.field}={f.denied}", f"{f.field}={f.allowed}"
    name_first = f"%{ord(f.field[0]):02X}{f.field[1:]}"
    value_first = f"%{ord(f.denied[0]):02X}{f.denied[1:]}"
    spellings = [
        "&".join([f"{name_first}={f.denied}", *rest]),
        "&".join([allowed, denied, *rest]),
        "&".join([denied, allowed, *rest]),
        "&".join([allowed, *rest, f"{name_first}={f.denied}"]),
        "&".join([f"{f.field}={value_first}", f"{name_first}={f.allowed}", *rest]),
        ";".join([*rest, denied]),
        "&".join([allowed, *rest]) + ";" + denied,
        "&&" + "&".join([denied, *rest]) + "&",
        "&".join([denied, *rest]) + "#x",
        "&".join([denied, *rest, "a+b=c"]),
    ]
    if len(rest) > 1:
        spellings.append("&".join(rest) + ";" + denied)
    for pairs in spellings:
        yield f.request(pairs)
    if f.method == "POST":
        yield denied, "&".join(rest).encode()
        yield denied, "&".join([allowed, *rest]).encode()
    else:
        yield "&".join(rest), denied.encode()
        yield "&".join([allowed, *rest]), denied.encode()


@pytest.mark.parametrize("f", FORMS, ids=[f.preset for f in FORMS])
def test_no_form_or_query_another_parser_reads_as_the_denied_request_is_signed(
        field_env: AgentEnv, f: FormRequest) -> None:
    """The same for fields in a form body or a query, with Python's form parser as the other
    reader, splitting at '&' or, as older parsers do, at ';' too."""
    name = f"form-{f.preset}"
    with Agent(str(field_env.socket)) as agent:
        for denied, allowed in zip(form_readable(f, f.denied), form_readable(f, f.allowed)):
            assert form_reads_denied(f, *f.request(denied))
            assert not form_reads_denied(f, *f.request(allowed))
            with pytest.raises(AgentError, match=r"refused by rule 3 "):
                agent.sign(name, f.method, f.path, *f.request(denied))
            got = agent.sign(name, f.method, f.path, *f.request(allowed))
            query, body = f.request(allowed)
            assert not form_reads_denied(f, got.query, got.body_or(body))
        asked = 0
        for query, body in form_unreadable(f):
            assert form_reads_denied(f, query, body), (query, body)
            asked += 1
            try:
                got = agent.sign(name, f.method, f.path, query, body or None)
            except AgentError:
                continue
            sent = got.body_or(body)
            assert not form_reads_denied(f, got.query, sent), (
                f"{f.preset}: signed query {got.query!r} body {sent[:120]!r}, which a form "
                f"parser reads as {f.field} = {f.denied}")
        assert asked == len(list(form_unreadable(f)))
