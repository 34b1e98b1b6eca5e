"""Test fixtures for end-to-end tests over the real binaries, mirroring tests/src/lib.rs: a fresh
SoftHSM token in a temp dir (its own SOFTHSM2_CONF), a private HOME with XDG directories, a
scripted approver, and helpers that run `apisec-agent` and `apisec`.

Nothing here is skipped quietly: a missing SoftHSM or binary raises with the remedy."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

PIN = "123456"
SO_PIN = "65432100"
TOKEN_LABEL = "apisec-test"
KEY_LABEL = "apisec-wrap"

# The approver logs its short line ($1) and the full prompt it reads on standard input, then does
# what approver.mode says (as in tests/src/env.rs).
APPROVER_SCRIPT = """#!/bin/sh
echo "$1|pid=$APISEC_CLIENT_PID|secrets=$APISEC_SECRETS|class=$APISEC_CLASS" >> @DIR@/approver.log
{ cat; echo "--- end of prompt ---"; } >> @DIR@/approver.stdin
mode=$(cat @DIR@/approver.mode)
case "$mode" in
  approve) exit 0 ;;
  deny) exit 1 ;;
  hang) sleep 600 ;;
  *) exit 2 ;;
esac
"""


class SetupError(RuntimeError):
    """The test machine lacks something the end-to-end tests need."""


def repo_root() -> Path:
    # src/apisec_agent/testing.py -> clients/python/src/apisec_agent -> the repository root.
    return Path(__file__).resolve().parents[4]


def softhsm_module() -> Path:
    p = Path(os.environ.get("APISEC_TEST_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"))
    if not p.exists():
        raise SetupError(
            f"SoftHSM module {p} is missing: apt-get install softhsm2, or set "
            "APISEC_TEST_PKCS11_MODULE"
        )
    if shutil.which("softhsm2-util") is None:
        raise SetupError("softhsm2-util is not on PATH: apt-get install softhsm2")
    return p


def binary(name: str, wait: float = 120.0) -> Path:
    """target/debug/NAME (or $APISEC_BIN_DIR/NAME). Waits a while when it is missing, because
    a concurrent `cargo build` replaces the file; then fails with the remedy."""
    directory = Path(os.environ.get("APISEC_BIN_DIR", str(repo_root() / "target" / "debug")))
    p = directory / name
    deadline = time.monotonic() + wait
    while not (p.exists() and os.access(p, os.X_OK)):
        if time.monotonic() > deadline:
            raise SetupError(f"{p} is missing: run `cargo build --workspace --bins` first")
        time.sleep(0.5)
    return p


class AgentEnv:
    """One test world: token, home, config, store, socket, approver, and the agent once started."""

    def __init__(self, prefix: str = "apisec-py-") -> None:
        module = softhsm_module()
        self.module = module
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.home = self.root / "home"
        tokens = self.root / "tokens"
        run = self.root / "run"
        for d in (self.home, tokens, run):
            d.mkdir(parents=True)
        run.chmod(0o700)
        self.softhsm_conf = self.root / "softhsm2.conf"
        self.softhsm_conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
        self.socket = run / "apisec" / "agent.sock"
        self.agent_log = self.root / "agent.log"
        self.pin_file = self.root / "pin"
        self.pin_file.write_text(PIN + "\n")
        self.pin_file.chmod(0o600)
        self.approver = self.root / "approver.sh"
        self.approver.write_text(APPROVER_SCRIPT.replace("@DIR@", str(self.root)))
        self.approver.chmod(0o700)
        self.set_approver("approve")
        self._agent: Optional[subprocess.Popen] = None
        out = subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL,
             "--pin", PIN, "--so-pin", SO_PIN],
            env=self.env(), capture_output=True, text=True,
        )
        if out.returncode != 0:
            raise SetupError(f"softhsm2-util --init-token failed: {out.stderr.strip()}")

    def env(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """The environment every process of this test gets, and nothing secret."""
        e = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local/share"),
            "XDG_STATE_HOME": str(self.home / ".local/state"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "SOFTHSM2_CONF": str(self.softhsm_conf),
            "APISEC_AUTH_SOCK": str(self.socket),
        }
        e.update(extra or {})
        return e

    def _run(self, exe: str, args: Sequence[str], stdin: bytes = b"") -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(binary(exe)), *args], input=stdin, env=self.env(), capture_output=True,
            timeout=120,
        )

    def agent_cmd(self, *args: str) -> subprocess.CompletedProcess:
        return self._run("apisec-agent", args)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return self._run("apisec", args)

    @staticmethod
    def check(out: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
        if out.returncode != 0:
            raise AssertionError(
                f"{what} failed ({out.returncode}):\nstdout: {out.stdout.decode(errors='replace')}"
                f"\nstderr: {out.stderr.decode(errors='replace')}"
            )
        return out

    def init(self) -> None:
        self.check(
            self.agent_cmd(
                "init", "--pkcs11-module", str(self.module), "--token-label", TOKEN_LABEL,
                "--key-label", KEY_LABEL, "--generate", "--pin-file", str(self.pin_file),
            ),
            "apisec-agent init",
        )

    def add(
        self,
        name: str,
        exchange: str,
        api_key: str,
        secret: bytes,
        passphrase: Optional[bytes] = None,
        extra: Iterable[str] = (),
    ) -> None:
        """Seals a secret through files that exist only for the duration of `add`."""
        secret_file = self.root / f"{name}.secret"
        pass_file = self.root / f"{name}.passphrase"
        secret_file.write_bytes(secret)
        secret_file.chmod(0o600)
        args: List[str] = ["add", name, "--exchange", exchange, "--api-key", api_key,
                           "--secret-file", str(secret_file)]
        if passphrase is not None:
            pass_file.write_bytes(passphrase)
            pass_file.chmod(0o600)
            args += ["--passphrase-file", str(pass_file)]
        try:
            self.check(self.agent_cmd(*args, *extra), f"apisec-agent add {name}")
        finally:
            secret_file.unlink(missing_ok=True)
            pass_file.unlink(missing_ok=True)

    def start(self, extra: Sequence[str] = ()) -> None:
        """`apisec-agent run --approver SCRIPT` in the foreground; waits until it listens."""
        with open(self.agent_log, "ab") as log:
            self._agent = subprocess.Popen(
                [str(binary("apisec-agent")), "run", "--approver", str(self.approver), *extra],
                env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            )
        deadline = time.monotonic() + 20
        while True:
            if self._agent.poll() is not None:
                raise AssertionError(f"the agent exited at start: {self.log()}")
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(str(self.socket))
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the agent did not listen: {self.log()}")
                time.sleep(0.02)

    def stop(self) -> None:
        if self._agent is not None:
            self._agent.terminate()
            try:
                self._agent.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._agent.kill()
                self._agent.wait()
            self._agent = None

    def unlock(self, *names: str) -> None:
        self.check(self.cli("unlock", *names), "apisec unlock")

    def set_approver(self, mode: str) -> None:
        (self.root / "approver.mode").write_text(mode)

    def approver_log(self) -> str:
        """Every short line ($1) the approver was given, one per line."""
        p = self.root / "approver.log"
        return p.read_text() if p.exists() else ""

    def approver_stdin(self) -> str:
        """Every full prompt the approver read on its standard input."""
        p = self.root / "approver.stdin"
        return p.read_text() if p.exists() else ""

    def log(self) -> str:
        return self.agent_log.read_text() if self.agent_log.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
