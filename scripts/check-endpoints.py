#!/usr/bin/env python3
"""Cross-checks the agent's endpoint tables (agent/src/sign/endpoints/tables/) against ccxt's
own endpoint lists: every private endpoint ccxt signs for an exchange must be in that exchange's
table, with some class. Run with the ccxt the tests pin (clients/python/pyproject.toml):

    target/py-venv/bin/python scripts/check-endpoints.py      # exit 1 on an endpoint no table has

ccxt is asked, not parsed: each endpoint of describe()['api'] goes through the exchange's own
sign() with a made-up key, and those whose request carries the key are the private ones, at the
URL ccxt would send them to. That is ccxt's reading of the exchanges' APIs, independent of the
documentation the tables were built from: an endpoint it knows and a table lacks is one a bot can
reach and the agent would refuse as unknown, or one the tables forgot to classify.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple
from urllib.parse import urlsplit

TABLES = Path(__file__).resolve().parent.parent / "agent/src/sign/endpoints/tables"

# The agent's preset id -> the ccxt classes of that exchange.
CCXT_CLASSES: Dict[str, List[str]] = {
    "bitget": ["bitget"],
    "binance": ["binance", "binanceusdm", "binancecoinm"],
    "okx": ["okx"],
    "bybit": ["bybit"],
    "kraken": ["kraken"],
    "kraken-futures": ["krakenfutures"],
    "coinbase-exchange": ["coinbaseexchange"],
    "coinbase-advanced": ["coinbase"],
    "kucoin": ["kucoin", "kucoinfutures"],
    "gate": ["gate"],
    "mexc": ["mexc"],
    "htx": ["htx"],
    "bitmex": ["bitmex"],
    "bitfinex": ["bitfinex"],
    "deribit": ["deribit"],
}

# ccxt entries that are not endpoints of the exchange, and why (each checked by hand).
NOT_ENDPOINTS = {
    ("bitfinex", "POST", "/v2/auth/w/position/increase:"): "a typo in ccxt for .../position/increase",
    ("gate", "POST", "/api/v4/push"): "ccxt builds it without its group; the real one is /api/v4/withdrawals/push",
}

# Hosts ccxt uses that are aliases of the tables' own.
HOST_ALIASES = {"api.hbdm.vn": "api.hbdm.com"}

KEY = "APISECCROSSCHECKKEY"
# A P-256 key for Coinbase's CDP JWT (made up; never used against the exchange).
EC_KEY = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIGT3sKb0TCnUY3Mc+ZA8GGs3msO2bLkXbEYNzJvkBvGToAoGCCqGSM49\n"
    "AwEHoUQDQgAEKLpE0U2BSr+Hd3u8h6DVzXJdFHzp8aV4w6dJpuqNJHB/h1XDfxXT\n"
    "vgn0dM6m6ndBIBsBmzwzjHfKRWXBuhkiEg==\n"
    "-----END EC PRIVATE KEY-----\n"
)


def leaves(api: dict, prefix: Tuple[str, ...] = ()) -> Iterator[Tuple[List[str], str, str]]:
    """(api path, METHOD, endpoint) for every endpoint of a ccxt describe()['api'] tree."""
    for key, value in api.items():
        if key.lower() in ("get", "post", "put", "delete", "patch"):
            for endpoint in (value.keys() if isinstance(value, dict) else value):
                yield list(prefix), key.upper(), endpoint
        elif isinstance(value, dict):
            yield from leaves(value, prefix + (key,))


def private_endpoints(ccxt_module, cls: str) -> List[Tuple[str, str, str]]:
    """(METHOD, host, path) of every endpoint ccxt signs, as ccxt sends it."""
    ex = getattr(ccxt_module, cls)({
        "apiKey": KEY, "secret": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "password": "pw",
        "uid": "1", "privateKey": EC_KEY,
    })
    out = []
    for api, method, endpoint in leaves(ex.describe()["api"]):
        params = {n: "{" + n + "}" for n in re.findall(r"\{([\w-]+)\}", endpoint)}
        try:
            req = ex.sign(endpoint, api, method, dict(params))
        except Exception:  # a public endpoint ccxt will not build without markets: not signed
            continue
        sent = json.dumps(req.get("headers") or {}) + str(req.get("url")) + str(req.get("body"))
        if KEY not in sent:
            continue
        url = urlsplit(req["url"])
        path = url.path.replace("%7B", "{").replace("%7D", "}")
        out.append((method, HOST_ALIASES.get(url.netloc, url.netloc), path))
    return out


def table(preset: str) -> List[Tuple[str, str]]:
    rows = []
    for line in (TABLES / f"{preset}.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            method, path = line.split()[:2]
            rows.append((method, path))
    return rows


def segment_regex(pattern_segment: str) -> re.Pattern:
    parts = re.split(r"(\{[^}]*\})", pattern_segment)
    return re.compile("".join("[A-Za-z0-9_.:@~{}-]+" if p.startswith("{") else re.escape(p)
                              for p in parts if p) + r"\Z")


def segments_meet(table_segment: str, ccxt_segment: str) -> bool:
    """A table segment and ccxt's agree: either one's placeholders can stand for the other's
    text (the tables write ccxt's `{accountMode}` out as `unified` and `classic`)."""
    return bool(segment_regex(table_segment).match(ccxt_segment)
                or segment_regex(ccxt_segment).match(table_segment))


def known(rows: List[Tuple[str, str]], method: str, path: str) -> bool:
    segs = path.strip("/").split("/")
    for m, pattern in rows:
        psegs = pattern.strip("/").split("/")
        if m == method and len(psegs) == len(segs) and all(
            segments_meet(p, s) for p, s in zip(psegs, segs)
        ):
            return True
    return False


def missing(ccxt_module) -> Tuple[List[str], List[str]]:
    """(endpoints ccxt has and no table does, presets this ccxt has no class for)."""
    gaps, absent = [], []
    for preset, classes in CCXT_CLASSES.items():
        rows = table(preset)
        for cls in classes:
            if not hasattr(ccxt_module, cls):
                absent.append(f"{preset} ({cls})")
                continue
            for method, host, path in private_endpoints(ccxt_module, cls):
                if (preset, method, path) in NOT_ENDPOINTS or known(rows, method, path):
                    continue
                gaps.append(f"{preset}: {method} {path} (ccxt {cls}, {host})")
    return sorted(set(gaps)), absent


def main() -> int:
    import ccxt
    gaps, absent = missing(ccxt)
    for a in absent:
        print(f"ccxt {ccxt.__version__} has no class for {a}; not checked")
    for g in gaps:
        print(f"not in the tables: {g}")
    print(f"ccxt {ccxt.__version__}: {len(gaps)} private endpoint(s) missing from the tables")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
