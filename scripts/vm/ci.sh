#!/usr/bin/env bash
# The VM stage of CI: builds the payloads and runs the in-VM wasi-hw tests on the emulated
# machines (scripts/vm/tests/x86_64.sh, raspi2b.sh: the armv7 gateway build, malta.sh: the
# mipsel one; raspi3b.sh, the aarch64 gateway build on raspi2b's peripherals, a link to
# raspi2b.sh, is not in CI for time: `scripts/vm/ci.sh raspi3b`, ~40 s). Fails if any
# build, boot or in-VM check fails.
#
#   scripts/vm/ci.sh [--no-build|--prebuilt] [x86_64|raspi2b|raspi3b|malta]...
#                   default: x86_64 raspi2b malta (what CI runs)
#     --no-build  reuse target/vm-payload/MACHINE (from scripts/vm/build-payload.sh)
#     --prebuilt  assemble the payloads from binaries already built (build-payload.sh
#                 --prebuilt: scripts/test.sh builds every arch in one cargo run first)
#
# The machines boot side by side (TCG keeps about one core busy per VM; each VM's console
# goes to its log only, the failed checks of a failed one are printed at the end).
#
# Needs what scripts/setup.sh installs (Rust, the wasm32 toolchain, the armhf cross
# compiler, QEMU); the pinned Debian kernels and busybox (scripts/vm/packages.lock) are
# fetched by scripts/vm/vm-test.sh and cached in ~/.cache/wasi-hw/vm. The console of each VM
# is saved to target/vm-logs/last-MACHINE.log; vm/vm-test.sh prints a failed run's failed
# checks and last console lines.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
me=vm-ci
. "$repo/scripts/lib.sh"
cd "$repo"

build=1
payload_opts=()
machines=()
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --prebuilt) payload_opts+=(--prebuilt) ;;
    x86_64|raspi2b|raspi3b|malta) machines+=("$a") ;;
    *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
[ ${#machines[@]} -gt 0 ] || machines=(x86_64 raspi2b malta)

now() { date +%s; }
logs=${VMTEST_LOGS:-$repo/target/vm-logs}
t0=$(now)
summary=()
failed=0

if [ $build -eq 1 ]; then
  guests=()
  for m in "${machines[@]}"; do
    t=$(now)
    # The .wasm guests are built once, with the first payload.
    if ! scripts/vm/build-payload.sh "$m" "${guests[@]}" "${payload_opts[@]}"; then
      die "building the $m payload failed"
    fi
    guests=(--no-guests)
    summary+=("build $m payload: $(( $(now) - t ))s")
  done
fi

# Side by side; vm-test.sh's own report (stderr) of each is printed in order afterwards.
out=$(mktemp -d)
t_runs=$(now)
pids=()
for m in "${machines[@]}"; do
  (
    t=$(now)
    rc=0
    scripts/vm/vm-test.sh "$m" --test "scripts/vm/tests/$m.sh" > /dev/null 2> "$out/$m.err" || rc=$?
    echo "$rc $(( $(now) - t ))" > "$out/$m.rc"
  ) &
  pids+=($!)
done
wait "${pids[@]}" || true
for m in "${machines[@]}"; do
  cat "$out/$m.err" >&2
  read -r rc secs < "$out/$m.rc" || { rc=125; secs=?; }
  result=$(grep -a -o '[0-9]* passed, [0-9]* failed' "$logs/last-$m.log" 2>/dev/null | tail -n1)
  summary+=("VM $m: exit $rc (${result:-no summary}), ${secs}s")
  [ "$rc" -eq 0 ] || failed=1
done
rm -rf "$out"
summary+=("VMs side by side: $(( $(now) - t_runs ))s")

echo
echo "=== VM tests ==="
printf '  %s\n' "${summary[@]}"
echo "  total $(( $(now) - t0 ))s"
if [ $failed -ne 0 ]; then
  die "FAILED (console logs: target/vm-logs/last-*.log; failing checks are the VMTEST-CHECK FAIL lines)"
fi
echo "vm-ci: all VM tests passed"
