#!/usr/bin/env bash
# Runs a command next to a private pcscd whose only readers are vpcd's
# ("Yubico YubiKey vpcd 00 00" on port 35963, "... 00 01" on 35964).
#
#   scripts/with-pcscd.sh cargo test -j1 -- --include-ignored --test-threads=1
#
# Only one pcscd can run per machine (fixed socket /run/pcscd/pcscd.comm),
# so this refuses to start a second one unless told to reuse it.
# Needs root (pcscd writes /run/pcscd) and: apt-get install pcscd vsmartcard-vpcd
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
conf="$here/pcscd/reader.conf"
sock=/run/pcscd/pcscd.comm
log=${APISEC_VCARD_PCSCD_LOG:-/tmp/apisec-vcard-pcscd.log}

running=$(ps -C pcscd -o stat=,pid= | awk '$1 !~ /^Z/ {print $2}' || true)
if [[ -n $running ]]; then
    if [[ ${APISEC_VCARD_REUSE_PCSCD:-0} == 1 ]]; then
        exec "$@"
    fi
    echo "with-pcscd: pcscd already running (pid $running); stop it, or set" \
         "APISEC_VCARD_REUSE_PCSCD=1 if it was started with -c $conf" >&2
    exit 1
fi
for need in /usr/sbin/pcscd /usr/lib/pcsc/drivers/serial/libifdvpcd.so; do
    [[ -e $need ]] || { echo "with-pcscd: missing $need (apt-get install pcscd vsmartcard-vpcd)" >&2; exit 1; }
done

mkdir -p /run/pcscd
debug=()
[[ ${APISEC_VCARD_PCSCD_DEBUG:-0} == 1 ]] && debug=(-d)
# -f: stay in the foreground (no systemd here); -c: our reader config only.
# stdbuf: pcscd logs to stdout, which is block-buffered when not a tty.
stdbuf -oL -eL /usr/sbin/pcscd -f "${debug[@]}" -c "$conf" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    [[ -S $sock ]] && break
    sleep 0.1
done
if [[ ! -S $sock ]]; then
    echo "with-pcscd: pcscd did not come up; log follows" >&2
    cat "$log" >&2
    exit 1
fi

"$@"
