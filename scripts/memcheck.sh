#!/usr/bin/env bash
# Memory checks: the guest test suites (WAT guests against the natives, the Rust driver
# guests, the fault campaigns; interpreted and AOT) under valgrind memcheck, which fails on
# any invalid read or write, use of uninitialised memory, or definitely lost block. Debug
# builds: valgrind reports release-built Rust (wasmparser's optimised loops) as reading
# uninitialised memory where the code is sound. Memory that is only "possibly lost" is the
# process-lifetime state of the native tables and of the test harness's threads.
#
#   scripts/memcheck.sh          CI size (the WAT scenarios interpreted only, 100
#                                faults per campaign)
#   scripts/memcheck.sh --full   every scenario in every mode, 2000 faults per campaign
set -euo pipefail
cd "$(dirname "$0")/.."
me=memcheck
. scripts/lib.sh
need valgrind

full=0
case "${1:-}" in
  --full) full=1 ;;
  "") ;;
  *) die "unknown argument $1" ;;
esac
if [ "$full" -eq 1 ]; then faults=2000; else faults=100; fi

# PACKAGE TEST [FILTER]: the suites, by package and test target.
suites=(
  "wasi-hw-i2c wat_guest $([ "$full" -eq 1 ] || echo interp::)"
  "wasi-hw-usb wat_guest $([ "$full" -eq 1 ] || echo interp::)"
  "wasi-hw i2c_guests"
  "wasi-hw usb_guests"
  "wasi-hw i2c_faults"
  "wasi-hw usb_faults"
)
execs=$(cargo test --workspace --quiet --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m["target"]["kind"] == ["test"]:
        # path+file:///DIR#NAME@VERSION (or #VERSION when NAME is the directory name)
        ident = m["package_id"].split("#", 1)[1]
        pkg = ident.split("@")[0] if "@" in ident else m["package_id"].split("#")[0].rsplit("/", 1)[-1]
        print(pkg, m["target"]["name"], m["executable"])
')
# Two suites at a time: valgrind runs a process's threads on one core.
check_suite() { # PKG NAME FILTER: one suite under memcheck; its verdict on stdout
  local pkg=$1 name=$2 filter=$3 exe log t=$SECONDS
  exe=$(echo "$execs" | awk -v p="$pkg" -v n="$name" '$1 == p && $2 == n { print $3 }' | head -n 1)
  [ -n "$exe" ] || { log "FAIL: no test executable for $pkg $name"; return 1; }
  log="target/memcheck-$pkg-$name.log"
  # shellcheck disable=SC2086
  if WASI_HW_FAULTS=$faults valgrind -q --error-exitcode=99 --leak-check=full \
      --errors-for-leak-kinds=definite "$exe" --test-threads=2 $filter > "$log" 2>&1; then
    log "ok: $pkg $name${filter:+ ($filter)}: $(grep -o '[0-9]* passed' "$log" | head -n 1), no memcheck errors ($((SECONDS - t)) s)"
  else
    log "FAIL: $pkg $name (exit $?): see $log"
    grep -E '^==[0-9]+== (Invalid|Conditional|Use of|[0-9,]+ bytes .* definitely)' "$log" | head -n 20 >&2 || true
    return 1
  fi
}
failures=0
running=0
for suite in "${suites[@]}"; do
  read -r pkg name filter <<< "$suite"
  if [ "$running" -ge 2 ]; then
    wait -n || failures=$((failures + 1))
    running=$((running - 1))
  fi
  check_suite "$pkg" "$name" "$filter" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failures=$((failures + 1))
  running=$((running - 1))
done
[ "$failures" -eq 0 ] || die "$failures suite(s) failed under valgrind"
log "all suites clean under valgrind memcheck"
