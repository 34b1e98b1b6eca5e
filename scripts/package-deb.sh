#!/usr/bin/env bash
# Builds the Debian package of apisec-agent (both binaries, their man pages and completions, the
# systemd units, user and system, with the package's paths) into target/debian/, from one release
# build (`cargo build --release --bins`, which `cargo install --path` shares with --target-dir
# target). Needs cargo-deb (scripts/deps.txt; scripts/test.sh --install-only installs it).
#
#   scripts/package-deb.sh            # prints the path of the .deb it built
set -euo pipefail
cd "$(dirname "$0")/.."

tools=${APISEC_TOOLS_DIR:-$HOME/.cache/apisec-tools}
export PATH="$tools/bin:$PATH"
command -v cargo-deb >/dev/null || {
  echo "package-deb: cargo-deb is missing: scripts/test.sh --install-only installs it" >&2
  exit 1
}

cargo build --release --bins --quiet
release=target/release
assets=$release/deb
rm -rf "$assets"
mkdir -p "$assets"/{man,bash,zsh,fish,system,user}
"$release/apisec-agent" man "$assets/man" >/dev/null
"$release/apisec" man "$assets/man" >/dev/null
for bin in apisec-agent apisec; do
  "$release/$bin" completions bash >"$assets/bash/$bin"
  "$release/$bin" completions zsh >"$assets/zsh/_$bin"
  "$release/$bin" completions fish >"$assets/fish/$bin.fish"
done
# The units as contrib/ ships them name /usr/local/bin (a `cargo install` or hand install);
# the package's binaries are in /usr/bin.
for unit in contrib/systemd/system/apisec-agent.service contrib/systemd/system/apisec-agent.socket; do
  sed 's|/usr/local/bin/|/usr/bin/|g' "$unit" >"$assets/system/$(basename "$unit")"
done
for unit in contrib/systemd/apisec-agent.service contrib/systemd/apisec-agent.socket; do
  sed 's|/usr/local/bin/|/usr/bin/|g' "$unit" >"$assets/user/$(basename "$unit")"
done
cargo deb -p apisec-agent --no-build --no-strip --quiet --output target/debian/
