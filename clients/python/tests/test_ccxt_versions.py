"""The ccxt adapter across the supported range: with the oldest ccxt it supports (4.5.76, the
oldest freqtrade accepts), one in the middle (4.5.83) and the newest tested (4.5.90, the one the
other tests run), every case of test_ccxt_adapter.py builds the request that version's own
signing builds with the secret (pinned clock), through a real agent; so do Coinbase Advanced's
(its JWT compared as test_ccxt_adapter.py compares it) and BitMEX's, which ccxt 4.5.90 no
longer has: its cases (BITMEX_CASES, pinned and agent-stamped) run only here.
Each older ccxt is installed (`pip install --no-deps --target`, into target/ccxt-versions/)
beside the venv's own dependencies and run in a subprocess of its own. Older versions are
refused by attach(), newer ones warned about."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Dict

import ccxt
import pytest

from apisec_agent.ccxt import NEWEST, OLDEST, attach, check_version

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
VERSIONS = ["4.5.76", "4.5.83"]

RUNNER = r"""
import dataclasses, json, os, sys, traceback
sys.path.insert(0, os.environ["TESTS_DIR"])
import ccxt
assert ccxt.__version__ == os.environ["WANT_VERSION"], ccxt.__version__
from apisec_agent import Agent
import test_ccxt_adapter as t
from conftest import Cred
creds = {k: Cred(**v) for k, v in json.loads(os.environ["CREDS"]).items()}
failures = []
counts = {"cases": 0, "bitmex": 0, "coinbase": 0}


def run(kind, label, check, *args):
    counts[kind] += 1
    try:
        check(*args)
    except Exception as e:  # reported with its case
        failures.append(f"{label}: {type(e).__name__}: {e}\n"
                        + "".join(traceback.format_tb(e.__traceback__)[-3:]))


with Agent(os.environ["APISEC_AUTH_SOCK"]) as agent:
    for case in t.CASES:
        run("cases", f"{case[0]} {case[1]}", t.check_pinned, case, creds, agent)
    # BitMEX is in this ccxt (not in 4.5.90): pinned and agent-stamped; a ccxt without it fails.
    if not hasattr(ccxt, "bitmex"):
        failures.append(f"ccxt {ccxt.__version__} has no bitmex class: BITMEX_CASES cannot run")
    else:
        for case in t.BITMEX_CASES:
            run("bitmex", f"{case[0]} {case[1]} pinned", t.check_pinned, case, creds, agent)
            run("bitmex", f"{case[0]} {case[1]} stamped", t.check_stamped, case, creds, agent)
    for case in t.COINBASE_CASES:
        for clock in ("ccxt", "agent"):
            run("coinbase", f"{case[0]} {case[1]} {clock}", t.check_coinbase, case, creds, agent,
                clock)
print(json.dumps(dict(counts, failures=failures,
                      want={"cases": len(t.CASES),
                            "bitmex": 2 * len(t.BITMEX_CASES),
                            "coinbase": 2 * len(t.COINBASE_CASES)})))
"""


def installed(version: str) -> Path:
    target = ROOT / "target" / "ccxt-versions" / version
    if not (target / "ccxt" / "__init__.py").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--target", str(target), f"ccxt=={version}"],
            check=True, timeout=600,
        )
    return target


@pytest.mark.parametrize("version", VERSIONS)
def test_every_case_equals_that_ccxts_own_signing(version: str, agent_env: Any,
                                                  creds: Dict[str, Any]) -> None:
    target = installed(version)
    env = dict(os.environ, PYTHONPATH=str(target), TESTS_DIR=str(HERE), WANT_VERSION=version,
               APISEC_AUTH_SOCK=str(agent_env.socket), PYTHONDONTWRITEBYTECODE="1",
               CREDS=json.dumps({k: dataclasses.asdict(v) for k, v in creds.items()}))
    out = subprocess.run([sys.executable, "-c", RUNNER], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failures"] == [], "\n".join(result["failures"])
    # Every list ran in full, and none is empty by mistake (BitMEX runs only here).
    for kind, floor in (("cases", 10), ("bitmex", 6), ("coinbase", 6)):
        assert result[kind] == result["want"][kind] >= floor, (kind, result)


def test_older_versions_are_refused_and_newer_ones_warned(monkeypatch: Any, agent: Any) -> None:
    oldest = ".".join(map(str, OLDEST))
    with pytest.raises(ccxt.NotSupported, match=f"older than {oldest}"):
        check_version("4.5.75")
    monkeypatch.setattr(ccxt, "__version__", "4.4.99")
    with pytest.raises(ccxt.NotSupported, match="upgrade ccxt"):
        attach(ccxt.bitget(), "bitget-t", agent)
    newer = f"{NEWEST[0]}.{NEWEST[1]}.{NEWEST[2] + 1}"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        check_version(newer)
        check_version(".".join(map(str, NEWEST)))
    assert len(seen) == 1 and "newer than" in str(seen[0].message)
