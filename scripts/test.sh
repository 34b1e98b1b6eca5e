#!/usr/bin/env bash
# Runs the whole test suite: unit tests, end-to-end tests that start the real binaries on fresh
# SoftHSM tokens and a virtual YubiKey, and the Python tests. First installs what
# scripts/deps.txt lists and the machine lacks (scripts/deps.sh: apt-get, with sudo when not
# root); `--install-only` stops after that.
#
# Tests that need root (another uid, the agent's memory, a tmpfs, sshd: named `as_root_*`, and
# the virtual YubiKey behind the machine's one pcscd) run when this runs as root; otherwise, or
# when this desktop already runs its own pcscd, it says which it skips and why.
# Ends with one line "N passed, M failed" (and what was skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

install_only=0
case "${1:-}" in
  --install-only) install_only=1 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--install-only]" >&2; exit 2 ;;
esac

scripts/deps.sh
((install_only)) && exit 0

# --lib: tests/faulty-pkcs11, the PKCS#11 module the fault tests load (tests/tests/faulty_token.rs).
cargo build --workspace --bins --lib
# What a user installs, from one release build: `cargo install --path` of both binaries (into
# target/install-root) and the Debian package (target/debian/); tests/tests/package.rs checks both.
scripts/package-deb.sh
for crate in agent cli; do
  cargo install --quiet --locked --offline --path "$crate" --root target/install-root --target-dir target
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
skipped=()
root=0
[ "$(id -u)" -eq 0 ] && root=1

cargo test --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?

# The ignored tests that need root (their names start with `as_root_`): listed when they cannot run.
root_tests() {
  cargo test --workspace -q -- --ignored --list as_root_ 2>/dev/null | sed -n 's/: test$//p'
}
if ((root)); then
  cargo test --workspace --no-fail-fast -- --ignored as_root_ 2>&1 | tee -a "$log" || status=$?
else
  names=$(root_tests)
  n=$(printf '%s\n' "$names" | grep -c . || true)
  echo "skipping $n tests that need root (another uid, the agent's memory, tmpfs, sshd):"
  printf '  %s\n' $names
  skipped+=("$n need root")
fi

# The virtual-YubiKey tests need the machine's one pcscd with the vpcd driver, started privately
# (tests/vcard/scripts/with-pcscd.sh starts and stops it), so they run one at a time, as root.
other_pcscd=$(ps -C pcscd -o stat=,pid= 2>/dev/null | awk '$1 !~ /^Z/ {print $2}' || true)
if ((root)) && [ -z "$other_pcscd" ]; then
  # Every ignored test but the root ones (run above) needs it: the same build as the first pass.
  tests/vcard/scripts/with-pcscd.sh \
    cargo test --workspace --no-fail-fast -- --ignored --skip as_root_ --test-threads=1 2>&1 | tee -a "$log" || status=$?
else
  why="not root: a private pcscd needs /run/pcscd"
  [ -n "$other_pcscd" ] && why="this machine already runs pcscd (pid $other_pcscd), and only one can run"
  echo "skipping the virtual-YubiKey tests (tests/tests/piv.rs, tests/vcard): $why"
  skipped+=("the virtual-YubiKey tests ($why)")
fi

scripts/test-python.sh 2>&1 | tee -a "$log" || status=$?

# The Node client and its ccxt adapter (clients/node): ccxt from npm, pinned by package-lock.json;
# the local exchange's servers run with the Python venv scripts/test-python.sh made (aiohttp).
scripts/test-node.sh 2>&1 | tee -a "$log" || status=$?

# Totals over every runner's summary lines (cargo's "test result:" and pytest's last line).
awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
  /^=+ .*(passed|failed).* in [0-9.]+s/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed,?$/) p += $(i-1); if ($(i) ~ /^failed,?$/) f += $(i-1) } }
  /^# pass [0-9]+$/ { p += $3 }
  /^# fail [0-9]+$/ { f += $3 }
  END { printf "%d passed, %d failed\n", p, f }
' "$log"
if ((${#skipped[@]})); then
  printf 'skipped: %s\n' "${skipped[@]}"
fi
exit "$status"
