#!/usr/bin/env python3
"""Example bot: reads its balance, places a limit order and cancels it, on Bitget (or the local
test exchange), every request signed by apisec-agent. It never reads the secret.

    apisec exec --unlock bitget-main -- python3 examples/bot/bot.py \
        --secret bitget-main --base-url http://127.0.0.1:8790

Options fall back to the environment: APISEC_SECRET, BOT_BASE_URL (and APISEC_AUTH_SOCK, which
`apisec exec` sets). Exit status: 0 done; 1 the exchange refused; 2 bad usage; 3 the agent
refused or is unreachable."""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import apisec_agent
except ImportError:  # run from a checkout without `pip install -e clients/python`
    sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python", "src"))
    import apisec_agent

from bitget_rest import BitgetClient, ExchangeError  # noqa: E402


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="apisec example bot (Bitget v2 spot)")
    p.add_argument("--secret", default=os.environ.get("APISEC_SECRET"),
                   help="name of the agent's secret [$APISEC_SECRET]")
    p.add_argument("--base-url", default=os.environ.get("BOT_BASE_URL"),
                   help="exchange base URL, e.g. http://127.0.0.1:8790 [$BOT_BASE_URL]")
    p.add_argument("--symbol", default="BTCUSDT")
    p.add_argument("--quote", default="USDT", help="coin whose balance is read")
    p.add_argument("--price", default="20000")
    p.add_argument("--size", default="0.001")
    a = p.parse_args(argv)
    if not a.secret or not a.base_url:
        p.error("--secret and --base-url (or APISEC_SECRET and BOT_BASE_URL) are required")
    return a


def run(a: argparse.Namespace) -> None:
    client = BitgetClient(apisec_agent.Agent(), a.secret, a.base_url)
    balance = client.assets(a.quote)
    available = Decimal(balance[0]["available"]) if balance else Decimal(0)
    print(f"balance: {available} {a.quote} available")
    order = client.place_limit(a.symbol, "buy", a.price, a.size, f"bot-{time.time_ns()}")
    print(f"placed: order {order['orderId']} buy {a.size} {a.symbol} @ {a.price}")
    cancelled = client.cancel(a.symbol, order["orderId"])
    print(f"cancelled: order {cancelled['orderId']}")


def main(argv: Optional[List[str]] = None) -> int:
    a = parse_args(argv)
    try:
        run(a)
    except apisec_agent.AgentError as e:
        print(f"bot: the agent refused: {e}", file=sys.stderr)
        return 3
    except ExchangeError as e:
        print(f"bot: the exchange refused: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"bot: cannot reach the exchange at {a.base_url}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
