#!/usr/bin/env bash
# Sets up and runs the whole flow on this machine, against a SoftHSM token kept in your data
# directory: installs what is missing (Debian), builds, creates the token, initialises the agent,
# seals a demo Bitget secret, starts the agent with the demo approver, unlocks, prints a signed
# Bitget request, then starts the local Bitget exchange (examples/local_exchange, given the same
# demo secret: it is a test exchange) and runs the example bot through
# `apisec exec --unlock bitget-demo`, ending with the exchange accepting its signed order. It also
# installs the bash completions and man pages for your user. Safe to run again: it reuses what it
# made. Everything lives under $XDG_DATA_HOME/apisec-demo (default ~/.local/share/apisec-demo),
# apart from your real config (untouched).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# 1. System packages (Debian): SoftHSM, the PC/SC headers the YubiKey support builds against, and
#    Python for the example exchange and bot: the entries of scripts/deps.txt tagged `demo`.
scripts/deps.sh --demo
module=${APISEC_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

# 2. Build.
say "building"
cargo build --workspace --bins
target=${CARGO_TARGET_DIR:-$repo/target}
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
bin="$target/debug"

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

# 5. A demo secret (random; not a real exchange key), sealed without the token. The local test
# exchange is given the same secret (creds file, 0600): an exchange holds its API secrets, and
# this one is a test exchange on 127.0.0.1. The bot never sees it.
creds="$demo/local-exchange-creds.json"
have_entry=false
"$bin/apisec-agent" list | grep -q '^bitget-demo ' && have_entry=true
if $have_entry && [ ! -s "$creds" ]; then
  # Made by an older demo that did not keep the secret for the exchange: make a new one.
  say "replacing bitget-demo (the local exchange needs its secret)"
  "$bin/apisec-agent" remove bitget-demo
  have_entry=false
fi
if ! $have_entry; then
  say "apisec-agent add bitget-demo (secret piped on stdin, never an argument)"
  secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077
   printf 'demo-passphrase' > "$demo/.passphrase"
   printf '{"api_key": "bg_demo_key", "secret": "%s", "passphrase": "demo-passphrase"}\n' \
     "$secret" > "$creds.tmp" && mv "$creds.tmp" "$creds")
  printf '%s' "$secret" | "$bin/apisec-agent" add bitget-demo --exchange bitget \
    --api-key bg_demo_key --secret-file - --passphrase-file "$demo/.passphrase"
  rm -f "$demo/.passphrase"
  unset secret
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

# 8. The local exchange, with the demo secret, on a free port; stopped when this script ends.
say "starting the local Bitget exchange (examples/local_exchange/server.py)"
port_file="$demo/exchange.port"
exchange_log="$demo/exchange-requests.jsonl"
rm -f "$port_file"
: > "$exchange_log"
python3 examples/local_exchange/server.py --port 0 --port-file "$port_file" \
  --credentials "$creds" --log-file "$exchange_log" >/dev/null &
exchange_pid=$!
trap 'kill "$exchange_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  [ -s "$port_file" ] && break
  kill -0 "$exchange_pid" 2>/dev/null || { echo "the local exchange did not start" >&2; exit 1; }
  sleep 0.05
done
[ -s "$port_file" ] || { echo "the local exchange did not start" >&2; exit 1; }
base_url="http://127.0.0.1:$(cat "$port_file")"
echo "listening on $base_url"

# 9. The example bot, started the way a service would start it: unlock first (blocks until the
# approver says yes), then the bot, which signs every request through the agent.
say "apisec exec --unlock bitget-demo -- python3 examples/bot/bot.py --secret bitget-demo --base-url $base_url"
PYTHONPATH="$repo/clients/python/src${PYTHONPATH:+:$PYTHONPATH}" \
  "$bin/apisec" exec --unlock bitget-demo -- \
  python3 examples/bot/bot.py --secret bitget-demo --base-url "$base_url"

say "the local exchange verified every signature and accepted:"
python3 - "$exchange_log" <<'PY'
import json, sys
ok = True
for line in open(sys.argv[1]):
    r = json.loads(line)
    accepted = r["status"] == 200 and r["code"] == "00000"
    ok &= accepted
    print(f"  {'accepted' if accepted else 'REJECTED'}: {r['method']} {r['path']}"
          f"{'?' + r['query'] if r['query'] else ''} (HTTP {r['status']}, code {r['code']})")
sys.exit(0 if ok else 1)
PY

# 10. Shell completions and man pages, for this user.
data="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$data/bash-completion/completions" "$data/man/man1"
"$bin/apisec-agent" completions bash > "$data/bash-completion/completions/apisec-agent"
"$bin/apisec" completions bash > "$data/bash-completion/completions/apisec"
"$bin/apisec-agent" man "$data/man/man1" >/dev/null
"$bin/apisec" man "$data/man/man1" >/dev/null
echo
echo "installed bash completions in $data/bash-completion/completions and man pages in $data/man/man1"
echo "(new shells complete apisec and apisec-agent; try: man apisec-unlock)"

cat <<MSG

The agent keeps running. To use it from this shell:
  export APISEC_CONFIG=$APISEC_CONFIG APISEC_AUTH_SOCK=$APISEC_AUTH_SOCK SOFTHSM2_CONF=$SOFTHSM2_CONF
  $bin/apisec status
Stop it with: APISEC_CONFIG=$APISEC_CONFIG $bin/apisec-agent stop
MSG
