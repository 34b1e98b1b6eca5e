#!/usr/bin/env bash
# Installs what scripts/deps.txt lists and this machine lacks: the Debian packages (apt-get, with
# sudo when not root, saying what it installs), after checking what every machine of this kind
# has (cargo, python3). Running it again installs nothing.
#
#   scripts/deps.sh          everything the tests need
#   scripts/deps.sh --demo   only what scripts/demo.sh needs (the entries tagged `demo`)
set -euo pipefail
cd "$(dirname "$0")/.."

only_demo=0
case "${1:-}" in
  --demo) only_demo=1 ;;
  "") ;;
  *) echo "usage: scripts/deps.sh [--demo]" >&2; exit 2 ;;
esac

missing=()
absent_machine=()
crates=()
tools=${APISEC_TOOLS_DIR:-$HOME/.cache/apisec-tools}
while read -r kind name tags provides; do
  case "$kind" in ''|'#'*) continue ;; esac
  if ((only_demo)) && [[ ",$tags," != *,demo,* ]]; then
    continue
  fi
  case "$kind" in
    debian)
      dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$name")
      ;;
    optional) ;;
    cargo)
      # NAME@VERSION: built unless that version's binaries are there already.
      version=${name#*@}
      for program in $provides; do
        "$tools/bin/$program" --version 2>/dev/null | grep -qF " $version" \
          || { crates+=("$name"); break; }
      done
      ;;
    machine)
      for program in $provides; do
        command -v "$program" >/dev/null || absent_machine+=("$program ($name)")
      done
      ;;
    *) echo "deps: scripts/deps.txt: unknown kind $kind for $name" >&2; exit 1 ;;
  esac
done < scripts/deps.txt

if ((${#absent_machine[@]})); then
  echo "deps: this machine lacks ${absent_machine[*]}; install them first (rustup for cargo," \
       "Debian's python3 for python3)" >&2
  exit 1
fi
if ((${#missing[@]})); then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
      echo "deps: missing ${missing[*]}, and not root without sudo: install them as root" >&2
      exit 1
    }
    sudo=(sudo)
  fi
  echo "deps: installing ${missing[*]} (apt-get${sudo:+, with sudo})"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
fi
# After the Debian packages: the crates build against them (libpcsclite-dev, pkg-config).
for crate in "${crates[@]}"; do
  echo "deps: building $crate into $tools (cargo install --locked; minutes the first time)"
  cargo install --quiet --locked --root "$tools" "$crate"
done
