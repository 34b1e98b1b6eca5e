#!/usr/bin/env bash
# Runs every Python test (clients/python/tests and examples/**/tests) with pytest, in the venv
# target/py-venv (created when missing), against the binaries of `cargo build --workspace --bins`
# and fresh SoftHSM tokens. Fails on any failure; prerequisites missing are failures, not skips.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "test-python: $*" >&2; exit 1; }

module=${APISEC_TEST_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
command -v softhsm2-util >/dev/null || die "softhsm2-util is missing: apt-get install softhsm2"
[ -e "$module" ] || die "SoftHSM module $module is missing: apt-get install softhsm2"
# The binaries: $APISEC_BIN_DIR, else cargo's target directory ($CARGO_TARGET_DIR or target/).
bindir=${APISEC_BIN_DIR:-${CARGO_TARGET_DIR:-target}/debug}
bindir=$(cd "$bindir" 2>/dev/null && pwd) || die "$bindir is missing: run cargo build --workspace --bins"
export APISEC_BIN_DIR="$bindir"
for bin in apisec-agent apisec; do
  [ -x "$bindir/$bin" ] || die "$bindir/$bin is missing: run cargo build --workspace --bins"
done

venv=target/py-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || die "cannot create $venv (Debian: apt-get install python3-venv)"
fi
# The client in editable mode with its pinned test extras (pytest, ccxt==4.5.90).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e 'clients/python[test]'

# freqtrade, pinned, in a venv of its own (its dependencies are many and are not the client's):
# clients/python/tests/test_freqtrade.py runs it live against the local exchange. About a minute
# to install the first time; a check of the installed version after that.
ft_venv=target/freqtrade-venv
if [ ! -x "$ft_venv/bin/python" ]; then
  python3 -m venv "$ft_venv" || die "cannot create $ft_venv (Debian: apt-get install python3-venv)"
fi
"$ft_venv/bin/python" -m pip install --quiet --disable-pip-version-check -e 'clients/python[freqtrade]'
export APISEC_FREQTRADE_PYTHON="$PWD/$ft_venv/bin/python"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider \
  --rootdir . --import-mode=importlib -rfEs clients/python/tests examples "$@" 2>&1 | tee "$log" || status=$?
# A skipped test would hide a missing prerequisite; none is expected, so any skip fails the run.
if tail -n 1 "$log" | grep -q "skipped"; then
  echo "test-python: some tests were skipped (see above); that is a failure here" >&2
  status=1
fi
exit "$status"
