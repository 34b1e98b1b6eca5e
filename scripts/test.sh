#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and end-to-end tests that start the real binaries on fresh
# SoftHSM tokens. Needs softhsm2 (and the packages .ci/run installs); see README.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo test --workspace
