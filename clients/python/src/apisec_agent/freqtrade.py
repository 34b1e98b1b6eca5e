"""freqtrade with its exchange signed by apisec-agent: the config holds the API key only.

    apisec exec --unlock bitget-main -- python -m apisec_agent.freqtrade trade --config config.json

(or the `apisec-freqtrade` script, the same thing). Every argument is freqtrade's own, except an
optional `--apisec-secret NAME` before them; without it, the secret is the agent's one whose
exchange and API key are those of the config's `exchange` section.

freqtrade has no hook for a signer of its own (its ExchangeResolver loads only its own classes),
and builds its ccxt instances (sync, async and, for live candles, ccxt.pro) in
`Exchange._init_ccxt` before anything of a strategy runs: `FreqtradeBot.__init__` fetches the
balance through `Wallets()` before `bot_start`. So the launcher wraps that one method, and every
instance freqtrade builds is attached (`apisec_agent.ccxt.attach`) as it is built. It is a
freqtrade internal: the launcher checks it is there with the arguments it knows, and refuses to
start otherwise, rather than let freqtrade run with a secret it does not have."""

from __future__ import annotations

import inspect
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

from .client import Agent
from .errors import AgentError

# The freqtrade releases this launcher is tested with (clients/python/tests/test_freqtrade.py).
TESTED = ("2026.9",)
# What the wrapped method must look like: (self, exchange_config, sync, ccxt_kwargs).
INIT_CCXT_PARAMS = ["self", "exchange_config", "sync", "ccxt_kwargs"]

USAGE = "usage: python -m apisec_agent.freqtrade [--apisec-secret NAME] FREQTRADE-ARGS..."


class LauncherError(Exception):
    """Why the launcher refuses to start freqtrade; the message says what to do."""


def split_args(argv: List[str]) -> Tuple[Optional[str], List[str]]:
    """(the secret named by --apisec-secret, freqtrade's own arguments)."""
    if argv[:1] == ["--apisec-secret"]:
        if len(argv) < 2 or not argv[1] or argv[1].startswith("-"):
            raise LauncherError(f"--apisec-secret needs a secret name\n{USAGE}")
        return argv[1], argv[2:]
    if argv[:1] and argv[0].startswith("--apisec-secret="):
        name = argv[0].split("=", 1)[1]
        if not name:
            raise LauncherError(f"--apisec-secret needs a secret name\n{USAGE}")
        return name, argv[1:]
    if "--apisec-secret" in argv or any(a.startswith("--apisec-secret=") for a in argv):
        raise LauncherError(f"--apisec-secret goes before freqtrade's arguments\n{USAGE}")
    return None, argv


def config_api_key(exchange_config: Dict[str, Any]) -> Optional[str]:
    """The API key as freqtrade reads it (api_key, apiKey or key)."""
    return exchange_config.get("api_key", exchange_config.get("apiKey", exchange_config.get("key")))


def choose_secret(agent: Agent, preset: str, api_key: Optional[str], named: Optional[str]) -> str:
    """The agent's secret to sign with: the one named, or the one of this exchange and key."""
    if named is not None:
        return named
    if not api_key:
        raise LauncherError(
            "the config's exchange section has no API key: set exchange.key to the secret's API "
            "key (`apisec list` shows it), or name the secret with --apisec-secret NAME"
        )
    matches = [s.name for s in agent.status().secrets
               if s.exchange == preset and s.api_key == api_key]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LauncherError(
            f"the agent holds no {preset} secret with the config's API key; add it with "
            f"`apisec-agent add NAME --exchange {preset}`, or name one with --apisec-secret NAME"
        )
    raise LauncherError(
        f"several {preset} secrets have the config's API key ({', '.join(matches)}): "
        "name one with --apisec-secret NAME"
    )


def check_config(exchange_config: Dict[str, Any]) -> None:
    """A config that still holds the secret defeats the point; freqtrade would also hand it to
    ccxt, where attach() refuses it. Say so before anything is built."""
    held = [k for k in ("secret", "password", "private_key", "privateKey")
            if exchange_config.get(k)]
    if held:
        raise LauncherError(
            f"the config's exchange section holds {', '.join(held)}: remove it (leave \"\"), "
            "the agent signs with the secret it holds"
        )


def wrap_init_ccxt(exchange_class: Any, named: Optional[str],
                   agent_factory: Callable[[], Agent] = Agent) -> None:
    """Replaces `exchange_class._init_ccxt` by one that attaches each instance it builds."""
    import ccxt

    from . import ccxt as adapter  # needs ccxt, which freqtrade brings

    original = getattr(exchange_class, "_init_ccxt", None)
    if original is None or list(inspect.signature(original).parameters) != INIT_CCXT_PARAMS:
        raise LauncherError(
            "this freqtrade builds its ccxt instances differently from the releases the launcher "
            f"knows ({', '.join(TESTED)}): Exchange._init_ccxt{INIT_CCXT_PARAMS} is not there; "
            "install a tested release (pip install freqtrade==" + TESTED[-1] + ")"
        )
    if getattr(original, "apisec_wrapped", False):
        return
    agent = agent_factory()
    chosen: Dict[str, str] = {}

    def _init_ccxt(self: Any, exchange_config: Dict[str, Any], sync: bool,
                   ccxt_kwargs: Dict[str, Any]) -> Any:
        from freqtrade.exceptions import OperationalException

        try:
            check_config(exchange_config)
            api = original(self, exchange_config, sync, ccxt_kwargs)
            preset, _ = adapter.adapter_of(api.id)
            if preset not in chosen:
                key = config_api_key(exchange_config)
                chosen[preset] = choose_secret(agent, preset, key, named)
            return adapter.attach(api, chosen[preset], agent)
        except (LauncherError, AgentError, ValueError, ccxt.NotSupported) as e:
            # freqtrade's own way to stop with a message (no traceback).
            raise OperationalException(f"apisec-agent: {e}") from e

    _init_ccxt.apisec_wrapped = True  # type: ignore[attr-defined]
    exchange_class._init_ccxt = _init_ccxt


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        named, freqtrade_args = split_args(args)
        try:
            import freqtrade
            from freqtrade.exchange.exchange import Exchange
            from freqtrade.main import main as freqtrade_main
        except ImportError as e:
            raise LauncherError(
                f"freqtrade is not installed here ({e}): pip install freqtrade=={TESTED[-1]}"
            ) from None
        version = getattr(freqtrade, "__version__", "?")
        if not any(version == t or version.startswith(t + ".") for t in TESTED):
            warnings.warn(
                f"apisec launcher: freqtrade {version} is not one it was tested with "
                f"({', '.join(TESTED)})", stacklevel=1)
        wrap_init_ccxt(Exchange, named)
    except (LauncherError, AgentError) as e:
        print(f"apisec-freqtrade: {e}", file=sys.stderr)
        return 2
    # freqtrade reports its own errors (an OperationalException from the wrapper included) and
    # exits with its own status.
    freqtrade_main(freqtrade_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
