"""The agent's endpoint tables hold every private endpoint ccxt (the pinned version) signs for the
same exchanges: scripts/check-endpoints.py asks ccxt itself, through each exchange's sign()."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import ccxt

SCRIPT = Path(__file__).resolve().parents[3] / "scripts/check-endpoints.py"


def load():
    spec = importlib.util.spec_from_file_location("check_endpoints", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_private_endpoint_ccxt_signs_is_classified() -> None:
    check = load()
    gaps, absent = check.missing(ccxt)
    assert gaps == [], "endpoints no table classifies:\n" + "\n".join(gaps)
    # The pinned ccxt has every exchange but BitMEX (dropped after 4.5.83).
    assert absent == ["bitmex (bitmex)"], absent


def test_the_check_sees_a_missing_endpoint() -> None:
    check = load()
    rows = check.table("bitget")
    assert check.known(rows, "POST", "/api/v2/spot/wallet/withdrawal")
    assert not check.known(rows, "POST", "/api/v2/spot/wallet/withdrawal-anywhere")
    assert check.known(check.table("kucoin"), "GET", "/api/ua/v1/{accountMode}/order/history")
    endpoints = check.private_endpoints(ccxt, "bitget")
    assert ("POST", "api.bitget.com", "/api/v2/spot/wallet/withdrawal") in endpoints
