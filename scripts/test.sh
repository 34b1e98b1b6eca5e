#!/usr/bin/env bash
# Runs the whole test suite: unit tests, end-to-end tests that start the real binaries on fresh
# SoftHSM tokens, and the Python client's tests. Needs the Debian packages .ci/run installs.
# Ends with one line "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace 2>&1 | tee "$log" || status=$?
# Tests that need the one pcscd of the machine (virtual YubiKey over vpcd) run one at a time,
# next to a private pcscd (tests/vcard/scripts/with-pcscd.sh starts and stops it).
tests/vcard/scripts/with-pcscd.sh \
  cargo test -p apisec-vcard -p apisec-tests -- --ignored --test-threads=1 2>&1 | tee -a "$log" || status=$?
if [ -x scripts/test-python.sh ]; then
  scripts/test-python.sh 2>&1 | tee -a "$log" || status=$?
fi
# Totals over every runner's summary lines (cargo's "test result:" and pytest's last line).
awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
  /^=+ .*(passed|failed).* in [0-9.]+s/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed,?$/) p += $(i-1); if ($(i) ~ /^failed,?$/) f += $(i-1) } }
  END { printf "%d passed, %d failed\n", p, f }
' "$log"
exit "$status"
