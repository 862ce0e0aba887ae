#!/usr/bin/env bash
# Builds what the in-VM tests run into target/vm-payload/MACHINE (copied to /payload in the VM
# by scripts/vm/vm-test.sh): a static runtime-only `wasi-hw` for the VM's architecture, the
# AOT-compiled guest drivers, always named NAME.aot inside the payload, the static native
# baseline `bench-native` and temp-sensor.wasm (the in-VM benchmarks, tests/bench.sh).
#
#   scripts/vm/build-payload.sh x86_64|raspi2b|raspi3b|malta [--no-guests] [--bench] [--prebuilt]
#     x86_64   static x86_64 glibc binary (target/vm-static) + target/guests/NAME.aot
#     raspi2b  static armv7 binary (scripts/armv7/cross.sh) + target/guests/NAME.armv7.aot
#     raspi3b  static aarch64 binary (scripts/cross/build.sh aarch64) + NAME.aarch64.aot
#     malta    static mipsel binary (scripts/cross/build.sh mipsel) + NAME.mipsel.aot
#     --no-guests  do not run `scripts/build-guests.sh --no-aot` first (reuse target/guests/*.wasm)
#     --bench      bench-native for raspi3b and malta too (x86_64 and raspi2b always have it)
#     --prebuilt   no cargo run: take the static binaries and NAME.ARCH.aot an earlier build
#                  made (scripts/cross/build.sh ARCH..., or this script for x86_64); fails if
#                  one is missing. CI builds every arch in one cargo run first: a one-arch
#                  run resolves other features (mipsel) and would rebuild it from WAMR up.
#
# The .wasm guests come from scripts/build-guests.sh; every one is AOT-compiled here by the
# host CLI (WASI_HW_HOST_BIN, default target/release/wasi-hw, built when missing). The static
# binaries carry no compiler (--no-default-features): the VMs only run precompiled .aot
# drivers, as a gateway would.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

die_status=2
. "$repo/scripts/lib.sh"

[ $# -ge 1 ] || { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
machine=$1; shift
guests=1 bench=0 prebuilt=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-guests) guests=0; shift ;;
    --bench) bench=1; shift ;;
    --prebuilt) prebuilt=1; shift ;;
    *) die "unknown argument $1" ;;
  esac
done

out=$repo/target/vm-payload/$machine
# Which guests the tests need; every .wasm found is included anyway.
required=(temp-sensor eeprom i2c-tool hello)

[ $guests -eq 0 ] || scripts/build-guests.sh --no-aot
host_cli=${WASI_HW_HOST_BIN:-$repo/target/release/wasi-hw}
[ -x "$host_cli" ] || cargo build --release --quiet --bin wasi-hw
# armv7/cross.sh compiles the armv7 drivers with the same CLI.
export WASI_HW_HOST_BIN=$host_cli

# --prebuilt: each binary the payload takes must exist already.
built() {
  [ $prebuilt -eq 0 ] || [ -f "$1" ] || die "--prebuilt: $1 is missing (build it first: $2)"
}

rm -rf "$out"
mkdir -p "$out"
case "$machine" in
  x86_64)
    # Static so the busybox initramfs needs no loader or libc; runtime only (no LLVM).
    if [ $prebuilt -eq 0 ]; then
      RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet --locked \
        --no-default-features --bin wasi-hw --bin bench-native -p wasi-hw -p wasi-hw-bench-native \
        --target x86_64-unknown-linux-gnu --target-dir target/vm-static
    fi
    for bin in wasi-hw bench-native; do
      built "target/vm-static/x86_64-unknown-linux-gnu/release/$bin" "$0 x86_64"
      strip -o "$out/$bin" "target/vm-static/x86_64-unknown-linux-gnu/release/$bin"
    done
    suffix=.aot
    ;;
  raspi2b)
    # Static armv7 binary (target/armv7/wasi-hw) and NAME.armv7.aot for every guest .wasm.
    # With bench-native: the CI payload has it (the benchmark smoke runs raspi2b).
    [ $prebuilt -eq 1 ] || scripts/armv7/cross.sh
    built target/armv7/wasi-hw "scripts/cross/build.sh armv7"
    built target/cross/armv7-unknown-linux-gnueabihf/release/bench-native "scripts/cross/build.sh armv7"
    cp target/armv7/wasi-hw "$out/wasi-hw"
    arm-linux-gnueabihf-strip -o "$out/bench-native" \
      target/cross/armv7-unknown-linux-gnueabihf/release/bench-native
    suffix=.armv7.aot
    ;;
  raspi3b|malta)
    # Static aarch64/mipsel binary and NAME.ARCH.aot; bench-native (always built by
    # cross/build.sh) in the payload with --bench only: the CI payloads do without it.
    if [ "$machine" = raspi3b ]; then arch=aarch64; else arch=mipsel; fi
    . scripts/cross/arch.sh
    cross_arch "$arch"
    [ $prebuilt -eq 1 ] || scripts/cross/build.sh "$arch"
    built "target/$arch/wasi-hw" "scripts/cross/build.sh $arch"
    if [ $bench -eq 1 ]; then
      built "target/cross/$x_triple/release/bench-native" "scripts/cross/build.sh $arch"
      "$x_strip" -o "$out/bench-native" "target/cross/$x_triple/release/bench-native"
    fi
    cp "target/$arch/wasi-hw" "$out/wasi-hw"
    suffix=.$arch.aot
    ;;
  *) die "unknown machine '$machine' (x86_64|raspi2b|raspi3b|malta)" ;;
esac
for bin in wasi-hw bench-native; do
  [ -e "$out/$bin" ] || continue
  case "$(file -b "$out/$bin")" in
    *dynamically*) die "$out/$bin is dynamically linked" ;;
  esac
done
cp target/guests/temp-sensor.wasm "$out/"

. "$repo/scripts/lib/aot.sh"
shopt -s nullglob
n=0
for wasm in target/guests/*.wasm; do
  name=$(basename "$wasm" .wasm)
  aot=target/guests/$name$suffix
  # x86_64: compiled here unless up to date (scripts/build-guests.sh makes the same file);
  # armv7: armv7/cross.sh has just made them.
  if [ "$machine" = x86_64 ]; then
    aot_compile "$host_cli" "$wasm" "$aot" x86_64 >/dev/null
  fi
  [ -f "$aot" ] || die "$aot was not built"
  [ -f "$aot.sig" ] || die "$aot.sig missing (scripts/lib/aot.sh signs what it compiles)"
  cp "$aot" "$out/$name.aot"
  cp "$aot.sig" "$out/$name.aot.sig"
  n=$((n + 1))
done
# The key that signed them, trusted by the VM (its init installs keys/ in /etc/wasi-hw/keys).
signing_keys_dir_for "$out" >/dev/null
for name in "${required[@]}"; do
  [ -f "$out/$name.aot" ] || die "guest $name missing (target/guests/$name.wasm not built)"
done
log "$machine: $out: wasi-hw ($(stat -c %s "$out/wasi-hw") bytes, $(file -b "$out/wasi-hw" | cut -d, -f1-2)) + $n guests: $(cd "$out" && ls ./*.aot | xargs -n1 basename | tr '\n' ' ')"
