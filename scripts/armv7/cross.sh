#!/usr/bin/env bash
# The armv7 cross build: scripts/cross/build.sh armv7 (static target/armv7/wasi-hw +
# target/guests/NAME.armv7.aot; `cross.sh cargo ARGS...` runs cargo in the armv7 cross
# environment). Kept for the scripts and documents that name it.
exec "$(dirname "$0")/../cross/build.sh" armv7 "$@"
