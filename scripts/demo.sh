#!/usr/bin/env bash
# Sets up and runs the whole flow on this machine, against a SoftHSM token kept in your data
# directory: installs what is missing (Debian), builds, creates the token, initialises the agent,
# seals a demo Bitget secret, starts the agent with the demo approver, unlocks, and prints a signed
# Bitget request. Safe to run again: it reuses what it made. Everything lives under
# $XDG_DATA_HOME/apisec-demo (default ~/.local/share/apisec-demo), apart from your real config.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# 1. System packages (Debian): SoftHSM and the build's C toolchain bits.
need=()
for p in softhsm2 pkg-config; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  say "installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
module=${APISEC_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

# 2. Build.
say "building"
cargo build --workspace --bins
bin="$repo/target/debug"

# 3. A SoftHSM token of our own, in the data directory, with a random PIN in a 0600 file.
demo="${XDG_DATA_HOME:-$HOME/.local/share}/apisec-demo"
mkdir -p -m 700 "$demo/tokens"
export SOFTHSM2_CONF="$demo/softhsm2.conf"
if [ ! -f "$SOFTHSM2_CONF" ]; then
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$demo/tokens" > "$SOFTHSM2_CONF"
fi
if [ ! -f "$demo/pin" ]; then
  say "creating a SoftHSM token in $demo/tokens"
  (umask 077; od -An -N4 -tu4 /dev/urandom | tr -d ' \n' > "$demo/pin")
  softhsm2-util --init-token --free --label apisec-demo --pin "$(cat "$demo/pin")" \
    --so-pin "$(od -An -N4 -tu4 /dev/urandom | tr -d ' \n')" >/dev/null
fi

# 4. The agent's config, store and socket for the demo.
export APISEC_CONFIG="$demo/config.toml"
sock="${XDG_RUNTIME_DIR:-/tmp/apisec-$(id -u)}/apisec-demo/agent.sock"
if [ ! -f "$APISEC_CONFIG" ]; then
  say "apisec-agent init: generating the wrapping key on the token"
  "$bin/apisec-agent" init --pkcs11-module "$module" --token-label apisec-demo \
    --key-label apisec-wrap --generate --pin-file "$demo/pin" \
    --store "$demo/store" --socket "$sock" \
    --approver "$repo/contrib/approvers/demo-approve"
fi

# 5. A demo secret (random; not a real exchange key), sealed without the token.
if ! "$bin/apisec-agent" list | grep -q '^bitget-demo '; then
  say "apisec-agent add bitget-demo (secret piped on stdin, never an argument)"
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$demo/.secret"
  printf 'demo-passphrase' > "$demo/.passphrase"
  "$bin/apisec-agent" add bitget-demo --exchange bitget --api-key bg_demo_key \
    --secret-file - --passphrase-file "$demo/.passphrase" < "$demo/.secret"
  rm -f "$demo/.secret" "$demo/.passphrase"
fi
"$bin/apisec-agent" list

# 6. Start the agent (or reuse the running one).
export APISEC_AUTH_SOCK="$sock"
if ! "$bin/apisec" status >/dev/null 2>&1; then
  say "apisec-agent start"
  eval "$("$bin/apisec-agent" start -s)"
fi

# 7. Unlock (the demo approver approves and says so), then sign.
say "apisec unlock bitget-demo"
"$bin/apisec" unlock bitget-demo
"$bin/apisec" status
say "apisec sign bitget-demo --method GET --path /api/v2/spot/account/assets --query coin=USDT"
"$bin/apisec" sign bitget-demo --method GET --path /api/v2/spot/account/assets --query coin=USDT

cat <<MSG

The agent keeps running. To use it from this shell:
  export APISEC_CONFIG=$APISEC_CONFIG APISEC_AUTH_SOCK=$APISEC_AUTH_SOCK SOFTHSM2_CONF=$SOFTHSM2_CONF
  $bin/apisec status
Stop it with: APISEC_CONFIG=$APISEC_CONFIG $bin/apisec-agent stop
MSG
