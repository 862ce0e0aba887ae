#!/usr/bin/env bash
# Builds and runs the fuzz targets (fuzz/: libFuzzer through libfuzzer-sys, nightly Rust
# with sanitizer coverage and AddressSanitizer for the Rust code; WAMR's C is built with
# clang's coverage instrumentation, so the fuzzer sees the loader's branches too).
#
#   scripts/fuzz.sh [--seconds N] [TARGET...]   run each TARGET (default: all) for N
#                                               seconds (default 300), from the committed
#                                               seed corpus fuzz/corpus/TARGET plus what
#                                               earlier runs found (target/fuzz/corpus)
#   scripts/fuzz.sh --smoke                     CI: every target for 20 s, then the leak
#                                               check with 500 cycles
#   scripts/fuzz.sh --leak-cycles N             only the leak check, N cycles
#   --wasmtime                                  differential also runs each module in
#                                               wasmtime (long runs: slow to build)
#
# Targets: wasm_bytes (raw bytes as a .wasm: load + instantiate), wasm_smith (valid
# modules from wasm-smith, fuel-bounded: load, instantiate, call every export),
# i2c_natives and usb_natives (sequences of WASI-I2C / WASI-USB host calls with arbitrary
# arguments against an arbitrary linear memory, without WAMR, on the simulated bus and
# devices), aot_header (the .aot header and section checks that run before WAMR). A
# crash, a leak or a hang (-timeout=10 s per input) fails the run; the input is kept in
# target/fuzz/artifacts/TARGET (reproduce: target/fuzz/bin/TARGET FILE). differential
# runs wasm-smith modules in the interpreter and as AOT (the compiler linked in) and fails
# on any difference in results, traps or memory. Every finding
# gets a regression test. The leak check (leak_cycles, same build) reads, loads,
# instantiates, runs and drops temp-sensor N times in one process, AOT and interpreted,
# and LeakSanitizer fails it if anything allocated is left unreachable at exit.
# Needs the rustup nightly toolchain and clang (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
root=$PWD

seconds=300
targets=()
leak_cycles=0
features=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) seconds=20; leak_cycles=500; shift ;;
    --seconds) seconds=$2; shift 2 ;;
    --leak-cycles) leak_cycles=$2; targets=(none); shift 2 ;;
    --wasmtime) features=(--features wasmtime); shift ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(wasm_bytes wasm_smith i2c_natives usb_natives aot_header differential)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

need clang
command -v rustup >/dev/null && rustup toolchain list | grep -q '^nightly' \
  || die "the rustup nightly toolchain is missing (libFuzzer's instrumentation needs it)"

# What cargo-fuzz passes, without needing cargo-fuzz: the target triple given explicitly so
# that build scripts and proc macros are not instrumented.
triple=x86_64-unknown-linux-gnu
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks"
export CC_x86_64_unknown_linux_gnu=clang
export CFLAGS_x86_64_unknown_linux_gnu="-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp"
target_dir=$root/target/fuzz/build
[ "${targets[*]}" != none ] || targets=()
bins=("${targets[@]}")
[ "$leak_cycles" -eq 0 ] || bins+=(leak_cycles)
log "building ${bins[*]} (nightly, libFuzzer, ASan)"
cargo +nightly build --release --quiet --manifest-path fuzz/Cargo.toml --target "$triple" \
  --target-dir "$target_dir" "${features[@]}" "${bins[@]/#/--bin=}"

failed=()
for t in "${targets[@]}"; do
  corpus=$root/target/fuzz/corpus/$t
  artifacts=$root/target/fuzz/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  mkdir -p "$root/target/fuzz/bin"
  cp "$target_dir/$triple/release/$t" "$root/target/fuzz/bin/$t"
  log "$t: ${seconds}s"
  # The committed seeds are read, never written: new inputs go to target/fuzz/corpus.
  # -close_fd_mask=1: WAMR logs every refusal on stdout.
  if "$root/target/fuzz/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=1 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "fuzz/corpus/$t" \
      > "$root/target/fuzz/$t.log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov: ' "$root/target/fuzz/$t.log" \
      | tail -n 3 | sed "s/^/fuzz: $t: /" >&2
  else
    tail -n 40 "$root/target/fuzz/$t.log" >&2
    log "$t: FAILED (input in $artifacts; log target/fuzz/$t.log)"
    failed+=("$t")
  fi
done
if [ "$leak_cycles" -gt 0 ]; then
  for m in temp-sensor.aot temp-sensor.wasm; do
    [ -f "target/guests/$m" ] || die "target/guests/$m missing: run scripts/build-guests.sh"
    log "leak_cycles: $leak_cycles cycles of $m"
    if ASAN_OPTIONS=detect_leaks=1 "$target_dir/$triple/release/leak_cycles" "$leak_cycles" \
        "target/guests/$m" --bus sim > "$root/target/fuzz/leak_cycles.log" 2>&1; then
      log "leak_cycles: $m: LeakSanitizer found nothing"
    else
      tail -n 40 "$root/target/fuzz/leak_cycles.log" >&2
      failed+=("leak_cycles ($m)")
    fi
  done
fi
[ ${#failed[@]} -eq 0 ] || die "findings in: ${failed[*]}"
done_what=()
[ ${#targets[@]} -eq 0 ] || done_what+=("${targets[*]}, ${seconds}s each")
[ "$leak_cycles" -eq 0 ] || done_what+=("$leak_cycles leak cycles")
log "no findings ($(IFS=';'; echo "${done_what[*]}"))"
