"""Real freqtrade (pinned, installed by scripts/test-python.sh into its own venv, named by
$APISEC_FREQTRADE_PYTHON) trading live, not dry-run, through `python -m apisec_agent.freqtrade`
against the local Bitget exchange, which verifies every signature with the secret only it and
the agent know. The config holds the API key and no secret; the run passes once the exchange has
accepted freqtrade's signed balance request and its signed order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import ccxt
import pytest

from apisec_agent.testing import AgentEnv, repo_root

EXCHANGE_DIR = repo_root() / "examples" / "local_exchange"
sys.path.insert(0, str(EXCHANGE_DIR))
from bitget_auth import AUTH_CODES  # noqa: E402  (the exchange's refusals of a signature)
API_KEY = "bg_ft_" + os.urandom(4).hex()
SECRET = os.urandom(24).hex()
PASSPHRASE = "ft-pass-" + os.urandom(3).hex()

STRATEGY = '''
from freqtrade.strategy import IStrategy


class EnterAtOnce(IStrategy):
    """Enters BTC/USDT on the first candle it sees and never exits: one signed order."""
    INTERFACE_VERSION = 3
    timeframe = "1m"
    minimal_roi = {"0": 100}
    stoploss = -0.99
    process_only_new_candles = False
    startup_candle_count = 0

    def populate_indicators(self, dataframe, metadata):
        return dataframe

    def populate_entry_trend(self, dataframe, metadata):
        dataframe.loc[:, "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe, metadata):
        dataframe.loc[:, "exit_long"] = 0
        return dataframe
'''


def freqtrade_python() -> Path:
    value = os.environ.get("APISEC_FREQTRADE_PYTHON")
    # A missing freqtrade is a failure here, not a skip: scripts/test-python.sh installs it.
    assert value, "APISEC_FREQTRADE_PYTHON is not set: run the tests with scripts/test-python.sh"
    path = Path(value)
    assert path.is_file(), f"{path} is missing: run scripts/test-python.sh, which installs freqtrade"
    return path


def start_exchange(root: Path) -> Tuple[subprocess.Popen, str, Path]:
    creds = root / "exchange-creds.json"
    creds.write_text(json.dumps({"api_key": API_KEY, "secret": SECRET, "passphrase": PASSPHRASE}))
    creds.chmod(0o600)
    port_file, log_file = root / "exchange-port", root / "exchange-requests.jsonl"
    server = subprocess.Popen(
        [sys.executable, str(EXCHANGE_DIR / "server.py"), "--port", "0", "--port-file",
         str(port_file), "--credentials", str(creds), "--log-file", str(log_file),
         "--balances", "USDT=10000,BTC=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = server.stdout.readline() if server.stdout else ""
    assert line.startswith("listening on http://127.0.0.1:"), line + server.stderr.read()
    return server, line.strip().split("listening on ", 1)[1], log_file


def config(root: Path, url: str, **exchange: Any) -> Path:
    """A live spot config of one pair whose every Bitget API host is the local exchange."""
    strategies = root / "strategies"
    strategies.mkdir(exist_ok=True)
    (root / "user_data").mkdir(exist_ok=True)
    (strategies / "enter_at_once.py").write_text(STRATEGY)
    hosts = {name: url for name in ccxt.bitget().urls["api"]}
    cfg = {
        "max_open_trades": 1, "stake_currency": "USDT", "stake_amount": 100,
        "dry_run": False, "trading_mode": "spot", "timeframe": "1m",
        "exchange": {"name": "bitget", "key": API_KEY, "secret": "", "password": "",
                     "enable_ws": False, "pair_whitelist": ["BTC/USDT"],
                     "ccxt_config": {"urls": {"api": hosts}}, **exchange},
        "entry_pricing": {"price_side": "same", "use_order_book": False,
                          "price_last_balance": 0.0},
        "exit_pricing": {"price_side": "same", "use_order_book": False},
        "pairlists": [{"method": "StaticPairList"}],
        "unfilledtimeout": {"entry": 10, "exit": 10, "unit": "minutes"},
        "internals": {"process_throttle_secs": 1},
        "initial_state": "running", "bot_name": "apisec-test",
        "db_url": f"sqlite:///{root / 'trades.sqlite'}",
        "user_data_dir": str(root / "user_data"), "strategy": "EnterAtOnce",
        "strategy_path": str(strategies),
        "telegram": {"enabled": False, "token": "", "chat_id": ""},
    }
    path = root / "config.json"
    path.write_text(json.dumps(cfg, indent=1))
    return path


def requests_of(log_file: Path) -> List[Dict[str, Any]]:
    if not log_file.exists():
        return []
    return [json.loads(line) for line in log_file.read_text().splitlines()]


def accepted(log: List[Dict[str, Any]], method: str, path: str) -> bool:
    return any(r["method"] == method and r["path"] == path and r["status"] == 200
               and r["key"] == API_KEY for r in log)


@pytest.fixture(scope="module")
def world(tmp_path_factory: Any) -> Iterator[Tuple[AgentEnv, str, Path]]:
    env = AgentEnv("apisec-ft-")
    server = None
    try:
        env.init()
        env.add("bitget-ft", "bitget", API_KEY, SECRET.encode(), PASSPHRASE.encode())
        env.start()
        env.unlock("bitget-ft")
        server, url, log_file = start_exchange(env.root)
        yield env, url, log_file
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        env.close()


def launch(env: AgentEnv, cfg: Path, *pre: str) -> subprocess.Popen:
    out = open(cfg.parent / "freqtrade.log", "w")
    return subprocess.Popen(
        [str(freqtrade_python()), "-m", "apisec_agent.freqtrade", *pre, "trade", "--config",
         str(cfg)],
        env=env.env(), stdout=out, stderr=subprocess.STDOUT, cwd=cfg.parent,
    )


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # freqtrade's own clean shutdown
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def test_freqtrade_trades_live_signed_by_the_agent(world: Tuple[AgentEnv, str, Path]) -> None:
    env, url, log_file = world
    root = env.root / "ft-live"
    root.mkdir()
    cfg = config(root, url)
    proc = launch(env, cfg)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            log = requests_of(log_file)
            if accepted(log, "GET", "/api/v2/spot/account/assets") and accepted(
                log, "POST", "/api/v2/spot/trade/place-order"
            ):
                break
            time.sleep(0.5)
        output = (root / "freqtrade.log").read_text()
        log = requests_of(log_file)
        refused = [r for r in log if r["status"] != 200]
        assert proc.poll() is None, f"freqtrade exited early:\n{output[-6000:]}\n{refused}"
        assert accepted(log, "GET", "/api/v2/spot/account/assets"), output[-6000:]
        assert accepted(log, "POST", "/api/v2/spot/trade/place-order"), output[-6000:]
    finally:
        stop(proc)
    # No request of freqtrade's failed the exchange's signature checks (a classic account
    # answers ccxt's probe of /api/v3/account/settings with "not found", as Bitget does).
    log = requests_of(log_file)
    assert not [r for r in log if r["code"] in AUTH_CODES], log
    assert all(r["key"] == API_KEY for r in log if not r.get("public"))
    # The agent's audit log has the signatures; the config and freqtrade's log have no secret.
    output = (root / "freqtrade.log").read_text()
    assert "was created for BTC/USDT and status is open" in output, output[-6000:]
    for text in (output, cfg.read_text()):
        assert SECRET not in text and PASSPHRASE not in text


def run_to_exit(env: AgentEnv, cfg: Path, *pre: str) -> Tuple[int, str]:
    proc = launch(env, cfg, *pre)
    try:
        status = proc.wait(timeout=120)
    finally:
        stop(proc)
    return status, (cfg.parent / "freqtrade.log").read_text()


@pytest.mark.parametrize("case", ["secret-in-config", "unknown-key", "unknown-name", "sealed"])
def test_freqtrade_does_not_start_without_the_agents_secret(
    world: Tuple[AgentEnv, str, Path], case: str
) -> None:
    """Each way to start freqtrade that would not sign with the agent's secret stops it at
    start-up with a message saying what to do, before any private request."""
    env, url, log_file = world
    root = env.root / f"ft-{case}"
    root.mkdir()
    before = len(requests_of(log_file))
    pre: Tuple[str, ...] = ()
    if case == "secret-in-config":
        cfg, want = config(root, url, secret=SECRET), "holds secret: remove it"
    elif case == "unknown-key":
        cfg, want = config(root, url, key="bg_other"), "holds no bitget secret with the config's API key"
    elif case == "unknown-name":
        cfg, want = config(root, url), "no secret named 'nope'"
        pre = ("--apisec-secret", "nope")
    else:
        cfg, want = config(root, url), "is sealed"
        env.check(env.cli("lock", "bitget-ft"), "apisec lock")
    try:
        status, output = run_to_exit(env, cfg, *pre)
    finally:
        if case == "sealed":
            env.unlock("bitget-ft")
    assert status != 0 and want in output, output[-4000:]
    assert not [r for r in requests_of(log_file)[before:] if not r.get("public")]
    assert SECRET not in output  # not even when the config holds it


def test_launcher_argument_errors(world: Tuple[AgentEnv, str, Path]) -> None:
    env, _, _ = world
    for args, want in ((["--apisec-secret"], "needs a secret name"),
                       (["trade", "--apisec-secret", "x"], "goes before freqtrade's arguments")):
        out = subprocess.run([str(freqtrade_python()), "-m", "apisec_agent.freqtrade", *args],
                             env=env.env(), capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and want in out.stderr, out.stderr
