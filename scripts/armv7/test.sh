#!/usr/bin/env bash
# The armv7 qemu-user checks: scripts/cross/test.sh armv7 [--no-unit].
exec "$(dirname "$0")/../cross/test.sh" armv7 "$@"
