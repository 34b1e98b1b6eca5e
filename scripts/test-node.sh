#!/usr/bin/env bash
# Runs the Node client's tests (clients/node: `npm test`) against the binaries of
# `cargo build --workspace --bins` and fresh SoftHSM tokens, after `npm ci` (ccxt, pinned by
# package-lock.json, from the npm registry). The local exchange's servers need the Python venv
# of scripts/test-python.sh (aiohttp). Fails on any failure or skip.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "test-node: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is missing (Node.js 18 or later)"
command -v npm >/dev/null || die "npm is missing"
bindir=${APISEC_BIN_DIR:-${CARGO_TARGET_DIR:-target}/debug}
bindir=$(cd "$bindir" 2>/dev/null && pwd) || die "$bindir is missing: run cargo build --workspace --bins"
export APISEC_BIN_DIR="$bindir"
python=${APISEC_PYTHON:-target/py-venv/bin/python}
[ -x "$python" ] || die "$python is missing: run scripts/test-python.sh first (it creates the venv)"
export APISEC_PYTHON="$PWD/$python"
[[ $python = /* ]] && export APISEC_PYTHON="$python"

cd clients/node
# --ignore-scripts: ccxt's optional native helpers (bufferutil) are not built; the client has
# no native dependency and ccxt falls back to plain JavaScript.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
npm test 2>&1 | tee "$log" || status=$?
# The same suite against an agent named by APISEC_AUTH_SOCK (one it starts on a fresh token),
# as an owner runs it against a test agent of theirs.
npm run test:named 2>&1 | tee -a "$log" || status=$?
if grep -q "^# skipped [1-9]" "$log"; then
  echo "test-node: some tests were skipped (see above); that is a failure here" >&2
  status=1
fi
exit "$status"
