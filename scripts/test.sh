#!/usr/bin/env bash
# The project's test command (README, .ci/run): builds the runtime and the guests, then
# runs every test stage. Assumes scripts/setup.sh has run. Stages can be skipped with
# WASI_HW_SKIP="vm armv7 bench" for quick local runs; CI skips nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
skip=" ${WASI_HW_SKIP:-} "
stage() { echo; echo "=== $* ==="; }

stage "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

stage "build runtime and guests"
cargo build --release --quiet
scripts/build-guests.sh

stage "unit and integration tests"
cargo test --workspace --quiet
