#!/usr/bin/env bash
# Does Debian's ykcs11 work against the virtual card? Run under with-pcscd.sh:
#
#   scripts/with-pcscd.sh scripts/ykcs11-check.sh
#
# Provisions a P-256 key in slot 82 with the yubikey crate (as the agent
# would), then through ykcs11 (pkcs11-tool): lists it, runs C_DeriveKey
# ECDH1-DERIVE with CKD_NULL and compares with openssl, and checks that a
# touch time-out fails. Needs: apt-get install ykcs11 opensc openssl
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
module=${YKCS11_MODULE:-/usr/lib/x86_64-linux-gnu/libykcs11.so.2}
target=${CARGO_TARGET_DIR:-$here/target}
work=$(mktemp -d)
fails=0
passes=0
ok() { echo "PASS: $*"; passes=$((passes + 1)); }
ko() { echo "FAIL: $*"; fails=$((fails + 1)); }

cargo build -j1 --manifest-path "$here/Cargo.toml" --bin apisec-vcard --example provision >&2
"$target/debug/apisec-vcard" --control "$work/ctl" --state "$work/state.json" \
    --touch-timeout-ms 2000 2>"$work/emulator.log" &
emu=$!
trap 'kill "$emu" 2>/dev/null; wait "$emu" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do
    [[ $(cat "$work/ctl/connected" 2>/dev/null) == 1 ]] && break
    sleep 0.1
done
sleep 1 # pcscd polls card presence about every 400 ms

p11() { timeout 60 pkcs11-tool --module "$module" "$@"; }

if p11 -L 2>&1 | grep -q "token label *: YubiKey PIV #"; then
    ok "ykcs11 lists the token"
else
    ko "ykcs11 does not list the token (reader name must contain 'Yubico')"
fi

"$target/debug/examples/provision" 82 once never >"$work/point.hex"
"$target/debug/examples/provision" 83 once always >/dev/null
# ykcs11 object ids: 9a=1 9c=2 9d=3 9e=4, retired 82..95 = 5..24.
if p11 --login --pin 123456 -O 2>&1 | grep -q "Private key for Retired Key 1"; then
    ok "ykcs11 sees a crate-generated key without certificate (via GET METADATA)"
else
    ko "ykcs11 does not see the slot 82 key"
fi

openssl ecparam -name prime256v1 -genkey -noout -out "$work/peer.pem"
openssl ec -in "$work/peer.pem" -pubout -outform DER -out "$work/peer.der" 2>/dev/null
p11 --read-object --type pubkey --id 05 -o "$work/card.der" >/dev/null 2>&1
openssl pkey -pubin -inform DER -in "$work/card.der" -out "$work/card.pem"
p11 --login --pin 123456 --derive -m ECDH1-DERIVE --id 05 \
    --input-file "$work/peer.der" --output-file "$work/card.secret" >/dev/null 2>&1 || true
openssl pkeyutl -derive -inkey "$work/peer.pem" -peerkey "$work/card.pem" -out "$work/ossl.secret"
if cmp -s "$work/card.secret" "$work/ossl.secret"; then
    ok "C_DeriveKey ECDH1-DERIVE/CKD_NULL equals openssl's ECDH"
else
    ko "C_DeriveKey result differs from openssl (or failed)"
fi

echo never >"$work/ctl/touch"
if out=$(p11 --login --pin 123456 --derive -m ECDH1-DERIVE --id 06 \
        --input-file "$work/peer.der" --output-file "$work/t.secret" 2>&1); then
    ko "derive with touch 'never' succeeded"
else
    ok "touch time-out through ykcs11: $(echo "$out" | grep -o 'CKR_[A-Z_]*' | head -1)"
fi
echo approve >"$work/ctl/touch"
if p11 --login --pin 123456 --derive -m ECDH1-DERIVE --id 06 \
        --input-file "$work/peer.der" --output-file "$work/t.secret" >/dev/null 2>&1 \
        && [[ $(cat "$work/ctl/touches") == 1 ]]; then
    ok "derive with touch 'approve' succeeds and counts one touch"
else
    ko "derive with approved touch failed"
fi

echo "$passes passed, $fails failed"
[[ $fails == 0 ]]
