#!/usr/bin/env bash
# The project's test command (README, .ci/run). Builds the runtime and the guests, then
# runs every test stage. Assumes scripts/setup.sh has run. Stages can be skipped for
# quick local runs with WASI_HW_SKIP="armv7 arches vm bench"; CI skips nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
skip=" ${WASI_HW_SKIP:-} "
wanted() { [[ "$skip" != *" $1 "* ]]; }

# Each stage's duration, printed at the end (also when a stage fails: the EXIT trap).
t_all=$SECONDS t_stage=$SECONDS current="" times=()
stage_end() { [ -z "$current" ] || times+=("$(printf '%5ds  %s' $((SECONDS - t_stage)) "$current")"); }
stage() { stage_end; current=$*; t_stage=$SECONDS; echo; echo "=== $* ($(date +%T)) ==="; }
summary() {
  rc=$?
  [ "$current" = "all tests passed" ] || stage_end
  echo
  echo "=== stage durations ==="
  printf '  %s\n' "${times[@]}"
  printf '  %5ds  total%s\n' $((SECONDS - t_all)) "$([ $rc -eq 0 ] || echo " (FAILED in: $current)")"
}
trap summary EXIT

stage "format and lints"
cargo fmt --all -- --check
(cd guests && cargo fmt --all -- --check)
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

stage "build runtime and guests"
# With the benchmark binaries in the same cargo run when the bench stage follows: their
# whole-program LTO links then run beside the CLI's instead of after it.
bench_bins=()
wanted bench && bench_bins=(-p wasi-hw -p wasi-hw-bench -p wasi-hw-bench-native --bins)
cargo build --release --quiet "${bench_bins[@]}"
# Every later step compiles guests with this build (a plain `cargo build --release` would
# resolve other features for the host build dependencies and rebuild WAMR and the CLI).
export WASI_HW_HOST_BIN=$PWD/target/release/wasi-hw
scripts/build-guests.sh

stage "unit and integration tests (x86_64)"
cargo test --workspace --quiet
# The guest SDK's and drivers' host-side unit tests (parsing, error mapping, paging).
cargo test --manifest-path guests/Cargo.toml --quiet
# Corrupted drivers with signatures required: every one refused cleanly (a few seconds).
scripts/mutate.py --smoke | tail -n 1

stage "memory checks: guest suites under valgrind memcheck"
scripts/memcheck.sh

stage "fuzz smoke: wasm_bytes, wasm_smith, i2c_natives, usb_natives, aot_header, differential (20 s each), leak cycles"
scripts/fuzz.sh --smoke

# The cross builds (one cargo run for every gateway arch) and the VM stage's static x86_64
# build side by side: each ends in one-core LTO links, which the other's compilation fills.
arches=()
{ wanted armv7 || wanted vm; } && arches+=(armv7)
wanted arches && arches+=(aarch64)
{ wanted arches || wanted vm; } && arches+=(mipsel)
builds=()
if [ ${#arches[@]} -gt 0 ]; then
  builds+=("scripts/cross/build.sh ${arches[*]}")
fi
wanted vm && builds+=("scripts/vm/build-payload.sh x86_64 --no-guests")
if [ ${#builds[@]} -gt 0 ]; then
  stage "static builds side by side: ${arches[*]}$(wanted vm && echo " x86_64")"
  logs=$(mktemp -d)
  pids=()
  for i in "${!builds[@]}"; do
    # Word splitting intended: each entry is a plain command line.
    # shellcheck disable=SC2086
    ${builds[$i]} > "$logs/$i.log" 2>&1 &
    pids+=($!)
  done
  failed=0
  for i in "${!builds[@]}"; do
    if wait "${pids[$i]}"; then
      grep -E '^(cross(-[a-z0-9]*)?: (building|/.*wasi-hw )|build-payload: )' "$logs/$i.log" || true
    else
      cat "$logs/$i.log"
      echo "FAILED: ${builds[$i]}" >&2
      failed=1
    fi
  done
  rm -rf "$logs"
  [ "$failed" -eq 0 ] || exit 1
fi

if wanted armv7; then
  stage "armv7: qemu-arm-static runs, OpenWrt package"
  # The runtime crates' cross-compiled tests are not in CI (time, ~110 s here):
  # scripts/armv7/test.sh without --no-unit runs them, as for aarch64 and mipsel below.
  scripts/armv7/test.sh --no-unit
  scripts/openwrt/build-ipk.sh --no-build
  scripts/openwrt/test-ipk.sh target/openwrt/wasi-hw_*_arm_cortex-a7_neon-vfpv4.ipk
  scripts/openwrt/test-feed.sh armv7
fi

if wanted arches; then
  stage "aarch64 and mipsel: qemu-user runs, OpenWrt packages"
  # The runtime crates' cross-compiled tests for these two arches are not in CI (time):
  # scripts/cross/test.sh aarch64 (or mipsel) without --no-unit runs them.
  for arch in aarch64 mipsel; do
    scripts/cross/test.sh "$arch" --no-unit
    scripts/openwrt/build-ipk.sh --no-build --gateway "$arch"
  done
  scripts/openwrt/test-ipk.sh target/openwrt/wasi-hw_*_{aarch64_cortex-a53,mipsel_24kc}.ipk
fi

if wanted vm; then
  stage "real kernels in QEMU: i2c-dev and usbfs against emulated devices"
  # The payloads take the static stage's binaries: a mipsel-only cargo run would resolve
  # other features than the run of every arch and rebuild mipsel (~200 s).
  scripts/vm/ci.sh --prebuilt
fi

if wanted bench; then
  stage "benchmark smoke run"
  # The in-VM benchmarks too, when the VM stage ran (it built the payloads).
  if wanted vm; then vm=--vm; else vm=--no-vm; fi
  armv7=""; wanted armv7 || armv7=--no-armv7
  scripts/bench.sh --smoke "$vm" $armv7
fi

stage "all tests passed"
