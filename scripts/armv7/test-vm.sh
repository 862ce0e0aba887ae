#!/usr/bin/env bash
# Runs the gateway build on a real ARM Linux kernel: the raspi2b VM of scripts/vm/vm-test.sh
# (Cortex-A7, i2c-bcm2835 + tmp105) with tests/armv7/vm-gateway.sh: the static armv7
# binary reads the sensor through i2c-dev with the armv7 temp-sensor.aot, the unaligned-access
# module runs without a single kernel alignment trap, and the driver's RSS is printed
# (GATEWAY-RSS-KB). About a minute under TCG.
#
# Needs target/armv7/wasi-hw + target/guests/temp-sensor.armv7.aot (scripts/armv7/cross.sh)
# and the host compiler (target/release/wasi-hw or WASI_HW_HOST_BIN).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
host="${WASI_HW_HOST_BIN:-$root/target/release/wasi-hw}"
me=test-armv7-vm
. scripts/lib.sh
. scripts/lib/signing.sh
[ -x "$host" ] || die "$host missing: cargo build --release"
[ -x target/armv7/wasi-hw ] || die "target/armv7/wasi-hw missing: run scripts/armv7/cross.sh"
[ -f target/guests/temp-sensor.armv7.aot ] || die "target/guests/temp-sensor.armv7.aot missing: run scripts/armv7/cross.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/payload"
cp target/armv7/wasi-hw "$work/payload/"
cp target/guests/temp-sensor.armv7.aot "$work/payload/temp-sensor.aot"
cp target/guests/temp-sensor.armv7.aot.sig "$work/payload/temp-sensor.aot.sig"
arm-linux-gnueabihf-gcc -O1 -marm -static -o "$work/payload/probe" tests/armv7/unaligned-probe.c
wat2wasm tests/armv7/unaligned.wat -o "$work/unaligned.wasm"
"$host" compile "$work/unaligned.wasm" -o "$work/payload/unaligned.aot" --target armv7
"$host" compile "$work/unaligned.wasm" -o "$work/unaligned.x86.aot" --target x86_64
# Signed with the development key, which the VM trusts from the payload's keys/ (the VM's
# init installs it in /etc/wasi-hw/keys).
signing_sign "$host" "$work/payload/unaligned.aot" "$work/unaligned.x86.aot"
signing_keys_dir_for "$work/payload" >/dev/null
"$host" run "$work/unaligned.x86.aot" > "$work/payload/unaligned.expected"

scripts/vm/vm-test.sh raspi2b --payload "$work/payload" --test tests/armv7/vm-gateway.sh --timeout 240 \
  | tee "$work/console.log"
rc=${PIPESTATUS[0]}
grep -o 'GATEWAY-RSS-KB.*' "$work/console.log" | tr -d '\r' || true
exit "$rc"
