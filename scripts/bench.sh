#!/usr/bin/env bash
# Benchmarks wasi-hw against native code and wasmtime and writes the report.
#
#   scripts/bench.sh                full run: builds every variant, writes bench/README.md
#                                   and bench/plots/*.png (raw samples: target/bench/samples.tsv)
#   scripts/bench.sh --smoke        few iterations, no wasmtime and no extra builds (CI);
#                                   writes target/bench/smoke/README.md
#   options: --no-wasmtime  --no-armv7  --rounds N  --out DIR
#            --vm / --no-vm   the in-VM benchmarks (scripts/vm/tests/bench.sh on the x86_64
#                             and raspi2b VMs, full runs also on raspi3b and malta; default:
#                             on for full runs, off for --smoke); console logs kept in
#                             target/bench/vm/MACHINE.log
#
# Variants (see bench/README.md): native (bench-native), wasi-hw AOT / interpreter (the
# runtime-only CLI, target/bench/gw), the same with hardware bounds checks (target/bench/hwbc),
# the development CLI with LLVM (target/release), wasmtime compiling on load and from a
# .cwasm (bench/wasmtime, target/bench/wasmtime). Assumes scripts/setup.sh has run.
# Run it on an otherwise idle machine: every variant shares the same cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

smoke=0
vm=""
wasmtime=1
armv7=1
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1; pass+=(--smoke); shift ;;
    --no-wasmtime) wasmtime=0; pass+=(--no-wasmtime); shift ;;
    --no-armv7) armv7=0; shift ;;
    --vm) vm=1; shift ;;
    --no-vm) vm=0; shift ;;
    --rounds|--out) [ $# -ge 2 ] || { echo "bench: $1 needs a value" >&2; exit 2; }
      pass+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
. scripts/lib.sh
. scripts/lib/signing.sh

# Builds go to their own target dirs so that features never unify across variants.
log "building the CLI and the bench binaries"
cargo build --release --quiet -p wasi-hw -p wasi-hw-bench -p wasi-hw-bench-native --bins
scripts/build-guests.sh >/dev/null
# A second build of the sensor driver (-O2), signed like the rest: what the hot-update
# benchmark of the resident host swaps in and out.
mkdir -p target/bench/guests
target/release/wasi-hw compile --opt-level 2 -o target/bench/guests/temp-sensor.o2.aot \
  target/guests/temp-sensor.wasm
signing_sign target/release/wasi-hw target/bench/guests/temp-sensor.o2.aot

if [ "$smoke" -eq 0 ]; then
  log "building the runtime-only CLI (target/bench/gw)"
  cargo build --release --quiet --no-default-features -p wasi-hw --target-dir target/bench/gw
  log "building with hardware bounds checks (target/bench/hwbc)"
  cargo build --release --quiet --no-default-features --features wasi-hw-bench/hw-bound-check \
    -p wasi-hw -p wasi-hw-bench --bins --target-dir target/bench/hwbc
  mkdir -p target/bench/guests
  for g in temp-sensor i2c-bench; do
    cargo run --release --quiet -p wasi-hw-bench --example aot-variant -- \
      "target/guests/$g.wasm" "target/bench/guests/$g.nobc.aot" --no-bounds-checks
    signing_sign target/release/wasi-hw "target/bench/guests/$g.nobc.aot"
  done
  if [ "$wasmtime" -eq 1 ]; then
    log "building bench/wasmtime (target/bench/wasmtime; first build takes minutes)"
    cargo build --release --quiet --manifest-path bench/wasmtime/Cargo.toml \
      --target-dir target/bench/wasmtime
    for g in temp-sensor i2c-bench; do
      target/bench/wasmtime/release/bench-wasmtime precompile \
        "target/guests/$g.wasm" "target/bench/guests/$g.cwasm"
    done
  fi
  if [ "$armv7" -eq 1 ] && [ -x scripts/armv7/cross.sh ]; then
    log "cross-building for armv7 (footprint only)"
    scripts/armv7/cross.sh >/dev/null || log "armv7 cross build failed; its size is left out"
  fi
fi

# In-VM benchmarks: real kernel drivers, QEMU devices (scripts/vm/tests/bench.sh).
[ -n "$vm" ] || vm=$((1 - smoke))
if [ "$vm" -eq 1 ]; then
  machines=(x86_64)
  [ "$armv7" -eq 1 ] && machines+=(raspi2b)
  # The footprint of the other gateway arches, measured in their VMs (not in CI's smoke
  # run: two more boots).
  [ "$smoke" -eq 1 ] || machines+=(raspi3b malta)
  mkdir -p target/bench/vm
  if [ "$smoke" -eq 1 ]; then
    printf 'ROUNDS=1\nWARMUP=0\nRTT_READS=20\nREADS=2\n' > target/bench/vm/bench.conf
  else
    printf 'ROUNDS=11\nWARMUP=1\nRTT_READS=200\nREADS=16\n' > target/bench/vm/bench.conf
  fi
  for m in "${machines[@]}"; do
    log "in-VM benchmarks on $m (payload: scripts/vm/build-payload.sh $m)"
    scripts/vm/build-payload.sh "$m" --no-guests --bench >/dev/null
    # Without usb-storage, the disk's interface has no kernel driver to unbind first.
    if ! scripts/vm/vm-test.sh "$m" --test scripts/vm/tests/bench.sh \
        --append module_blacklist=usb_storage \
        --add "$root/target/bench/vm/bench.conf:bench.conf" >/dev/null; then
      log "the in-VM benchmarks failed on $m (console: ${VMTEST_LOGS:-target/vm-logs}/last-$m.log)"
      exit 1
    fi
    cp "${VMTEST_LOGS:-target/vm-logs}/last-$m.log" "target/bench/vm/$m.log"
    pass+=(--vm-log "$m=$root/target/bench/vm/$m.log")
  done
fi

log "running (${pass[*]:-full})"
exec target/release/wasi-hw-bench --root "$root" "${pass[@]}"
