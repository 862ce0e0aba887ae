#!/usr/bin/env bash
# Gateway-arch checks under qemu-user: the static `wasi-hw` of ARCH runs the ARCH AOT
# drivers against the simulated I2C and USB backends and must print exactly what the
# x86_64 build prints for the x86_64 AOT drivers (stdout, stderr and exit status). Each
# case also runs on ARCH with the interpreter (.wasm). A WAT module with unaligned
# accesses behind natural-alignment hints checks that AOT code does not fault on them.
# Last, the runtime/native-lib test suites cross-compiled for ARCH.
#
#   scripts/cross/test.sh ARCH [--no-unit]
#     --no-unit   skip the cross-compiled `cargo test` stage (the slowest one)
#
# armv7 adds: .aot files compiled for VFPv3-D16 CPUs without NEON (--cpu cortex-a9
# --cpu-features=-neon,-d32) run on an emulated CPU that has exactly that FPU (qemu's
# cortex-r5f), which also shows that the runtime binary itself needs neither NEON nor 32 D
# registers; and a C probe that first checks that this qemu faults on unaligned
# LDRD/LDM/VLDR as hardware does (else the unaligned check would prove nothing).
#
# Needs: target/release/wasi-hw (host, with the AOT compiler; or WASI_HW_HOST_BIN),
# target/guests/*.wasm (scripts/build-guests.sh) and target/ARCH/wasi-hw
# (scripts/cross/build.sh ARCH, which also writes target/guests/NAME.ARCH.aot; missing
# .aot files are compiled here). Fails (exit 1) on any difference or failed run, printing
# the diffs.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
arch=${1:-}
shift || true
me=test-$arch
. scripts/lib.sh
. scripts/cross/arch.sh
cross_arch "$arch" || exit 2

unit=1
for a in "$@"; do
  case "$a" in
    --no-unit) unit=0 ;;
    *) die "unknown argument $a" ;;
  esac
done

host="${WASI_HW_HOST_BIN:-$root/target/release/wasi-hw}"
gw="$root/target/$arch/wasi-hw"
guests="$root/target/guests"
# Every .aot run here is signed with the development key that /etc/wasi-hw/keys trusts.
. scripts/lib/signing.sh
[ -x "$host" ] || die "$host missing: cargo build --release"
[ -x "$gw" ] || die "$gw missing: run scripts/cross/build.sh $arch"
need "$x_qemu"
[[ "$(file -b "$gw")" =~ $x_file ]] || die "$gw is not a static $arch executable"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# --- 1. armv7: does this qemu fault on unaligned LDRD/LDM/VLDR like the hardware? ------
if [ "$arch" = armv7 ]; then
  arm-linux-gnueabihf-gcc -O1 -marm -static -o "$work/probe" tests/armv7/unaligned-probe.c
  qemu-arm-static "$work/probe" ldr > /dev/null || fail "qemu: unaligned LDR faulted (it must not)"
  for m in ldrd ldm vldr; do
    # (In a group so that bash's "Bus error" job message goes to /dev/null too.)
    if { qemu-arm-static "$work/probe" "$m"; } > /dev/null 2>&1; then
      fail "qemu-arm-static does not fault on an unaligned $m: the unaligned check is meaningless here"
    fi
  done
  echo "ok: qemu-arm-static faults on unaligned LDRD/LDM/VLDR and allows unaligned LDR"
fi

# --- 2. modules: guests plus the unaligned-access test ---------------------------------
command -v wat2wasm >/dev/null || die "wat2wasm missing (package wabt, scripts/setup.sh)"
wat2wasm tests/armv7/unaligned.wat -o "$work/unaligned.wasm"
aot_of() { # WASM TARGET: the .aot next to it, compiled if missing or older, and signed (if not yet)
  local wasm=$1 t=$2 aot
  if [ "$t" = x86_64 ]; then aot="${wasm%.wasm}.aot"; else aot="${wasm%.wasm}.$t.aot"; fi
  if [ ! -f "$aot" ] || [ "$aot" -ot "$wasm" ] || [ "$aot" -ot "$host" ]; then
    "$host" compile "$wasm" -o "$aot" --target "$t" >&2 || return 1
  fi
  if [ ! -f "$aot.sig" ] || [ "$aot.sig" -ot "$aot" ]; then
    signing_sign "$host" "$aot" || return 1
  fi
  echo "$aot"
}

# name | wasi-hw run options | guest args | expected exit status | stdout must match (ERE)
cases=(
  "hello||one two|0|^arg\\[1\\]: two$"
  "temp-sensor|--i2c sim:0x48|--bus sim|0|^temperature: 23\\.50 C$"
  "temp-sensor|--i2c sim:0x48|--bus sim --count 3|0|^temperature: 23\\.50 C$"
  "temp-sensor|--i2c sim:0x49|--bus sim --addr 0x49|1|"
  "temp-sensor|--i2c sim:0x49|--bus sim --addr 0x48|1|"
  "eeprom|--i2c sim:0x50|--bus sim --addr-bytes 2 read 0 20|0|^0010: ff ff ff ff$"
  "eeprom|--i2c sim:0x50|--bus sim --addr-bytes 2 --page-size 32 write 0x1e 0102030405|0|^wrote 5 bytes at 0x001e$"
  "i2c-tool|--i2c sim:0x48,0x50|--bus sim scan|0|^0x50$"
  "i2c-tool|--i2c sim:0x50|--bus sim transaction 0x50 w:001e w:a1b2c3 r:2|0|"
  "i2c-tool|--i2c sim:0x48|--bus sim write-read 0x48 00 2|0|^17 80$"
  "unaligned|||0|^unaligned: [0-9a-f]{16}$"
)
# USB guests against the simulated devices behind `--usb sim` (1209:0001 loopback + HID
# boot mouse, 1209:0002 mass storage).
cases+=(
  "lsusb|--usb sim||0|^Bus 001 Device 003: ID 1209:0002"
  "lsusb|--usb sim|-v -d 1209:0001|0|"
  "usb-storage|--usb sim|3|0|WASI-HW LBA 0003"
  "usb-storage|--usb sim|0x100|1|"
  "hid|--usb sim|--count 3 --timeout 1000|0|"
)
# Reactors called through their exports (`--invoke`), on the simulated displays/sensor.
cases+=(
  "lcd-writer|--i2c sim:0x27 --invoke lcd#write(i2c,delay,\"wasi-hw\")||0|"
  "hts-reader|--i2c sim:0x5f --invoke hts#get-temperature(i2c)||0|^ok\\(\"23\\.5 °C\"\\)$"
)

# The runs besides x86_64 AOT: label | qemu options | module kind (aot, interp, d16)
variants=("$arch AOT||aot" "$arch interpreter||interp")
[ "$arch" = armv7 ] && variants+=("armv7 VFPv3-D16 AOT on cortex-r5f|-cpu cortex-r5f|d16")

module_wasm() { if [ "$1" = unaligned ]; then echo "$work/unaligned.wasm"; else echo "$guests/$1.wasm"; fi; }

run() { # OUTPREFIX CMD...: run, keep stdout/stderr/status
  local out=$1
  shift
  set +e
  "$@" > "$out.stdout" 2> "$out.stderr"
  echo $? > "$out.status"
  set -e
}

# Phase 1, one case after the other: the modules of every case (compiled if missing, signed).
# Phase 2: the runs, two cases at a time (each qemu-user process keeps one core busy).
# Phase 3: the comparisons, in case order.
if [ "$arch" = armv7 ]; then
  # The VFPv3-D16 builds, two compilations at a time.
  d16_compile() {
    local wasm=$1 aot=$2
    "$host" compile "$wasm" -o "$aot" --target armv7 --cpu cortex-a9 --cpu-features=-neon,-d32 \
      > "$aot.log" 2>&1 && signing_sign "$host" "$aot" >> "$aot.log" 2>&1
  }
  running=0
  for name in $(printf '%s\n' "${cases[@]}" | cut -d'|' -f1 | sort -u); do
    wasm=$(module_wasm "$name")
    [ -f "$wasm" ] || continue
    if [ "$running" -ge 2 ]; then
      wait -n || true
      running=$((running - 1))
    fi
    d16_compile "$wasm" "$work/$name.d16.aot" &
    running=$((running + 1))
  done
  wait
fi
n=0
for c in "${cases[@]}"; do
  IFS='|' read -r name opts gargs want_rc want_out <<< "$c"
  n=$((n + 1))
  wasm=$(module_wasm "$name")
  [ -f "$wasm" ] || { fail "$wasm missing (scripts/build-guests.sh)"; continue; }
  x86_aot=$(aot_of "$wasm" x86_64) || { fail "compiling $wasm for x86_64"; continue; }
  gw_aot=$(aot_of "$wasm" "$arch") || { fail "compiling $wasm for $arch"; continue; }
  d16_aot="$work/$name.d16.aot"
  if [ "$arch" = armv7 ] && [ ! -f "$d16_aot.sig" ]; then
    fail "compiling $wasm for armv7 VFPv3-D16: $(tail -n 3 "$d16_aot.log" 2>/dev/null)"
    continue
  fi
  printf '%s\n' "$wasm" "$x86_aot" "$gw_aot" "$d16_aot" > "$work/$n.modules"
done

run_case() { # N OPTS GARGS: every run of case N (x86_64 AOT, then each variant)
  local n=$1 opts=$2 gargs=$3 wasm x86_aot gw_aot d16_aot v=0 label qopts kind m interp
  { read -r wasm; read -r x86_aot; read -r gw_aot; read -r d16_aot; } < "$work/$n.modules"
  # Word splitting of $opts/$gargs is intended: they are lists of plain words.
  # shellcheck disable=SC2086
  run "$work/$n.x86" "$host" run $opts "$x86_aot" -- $gargs
  for variant in "${variants[@]}"; do
    IFS='|' read -r label qopts kind <<< "$variant"
    v=$((v + 1))
    case $kind in
      aot) m=$gw_aot interp=() ;;
      interp) m=$wasm interp=(--interp) ;;
      d16) m=$d16_aot interp=() ;;
    esac
    # shellcheck disable=SC2086
    run "$work/$n.v$v" "$x_qemu" $qopts "$gw" run "${interp[@]}" $opts "$m" -- $gargs
  done
}
n=0 running=0
for c in "${cases[@]}"; do
  IFS='|' read -r name opts gargs want_rc want_out <<< "$c"
  n=$((n + 1))
  [ -f "$work/$n.modules" ] || continue
  if [ "$running" -ge 2 ]; then
    wait -n
    running=$((running - 1))
  fi
  run_case "$n" "$opts" "$gargs" &
  running=$((running + 1))
done
wait

n=0
for c in "${cases[@]}"; do
  IFS='|' read -r name opts gargs want_rc want_out <<< "$c"
  n=$((n + 1))
  [ -f "$work/$n.modules" ] || continue
  { read -r wasm; read -r x86_aot; read -r gw_aot; read -r d16_aot; } < "$work/$n.modules"
  # Module paths and log timestamps differ between the runs; all else must be identical.
  for f in "$work/$n".*.stderr; do
    sed -i -E -e "s|$x86_aot|MODULE|g; s|$gw_aot|MODULE|g; s|$wasm|MODULE|g; s|$d16_aot|MODULE|g" \
      -e 's/^\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z /[/' "$f"
  done
  what="$name $opts -- $gargs"
  x_rc=$(cat "$work/$n.x86.status")
  [ "$x_rc" = "$want_rc" ] || fail "$what: x86_64 exit status $x_rc, expected $want_rc (stderr: $(head -c 300 "$work/$n.x86.stderr"))"
  if [ -n "$want_out" ] && ! grep -Eq "$want_out" "$work/$n.x86.stdout"; then
    fail "$what: x86_64 stdout does not match /$want_out/: $(head -c 300 "$work/$n.x86.stdout")"
  fi
  same=1 labels=()
  v=0
  for variant in "${variants[@]}"; do
    IFS='|' read -r label qopts kind <<< "$variant"
    v=$((v + 1))
    labels+=("$label")
    for s in status stdout stderr; do
      if ! cmp -s "$work/$n.x86.$s" "$work/$n.v$v.$s"; then
        same=0
        fail "$what: $label $s differs from x86_64 AOT:"
        diff "$work/$n.x86.$s" "$work/$n.v$v.$s" | head -20 >&2 || true
      fi
    done
  done
  if [ "$same" -eq 1 ]; then
    all=$(printf ' / %s' "${labels[@]}")
    echo "ok: $what (exit $x_rc, $(wc -l < "$work/$n.x86.stdout") stdout lines, identical on x86_64 AOT$all)"
  fi
done

# --- 3. unit and integration tests of the runtime crates, cross-compiled, under qemu ---
if [ "$unit" -eq 1 ]; then
  echo "$me: cargo test for $arch (runtime, policy, trust, i2c, usb) under $x_qemu"
  # Line tables only: backtraces keep file:line, the build is ~13 s shorter than with
  # full debug info.
  if ! CARGO_PROFILE_DEV_DEBUG=line-tables-only scripts/cross/build.sh "$arch" cargo test --quiet --locked \
      -p wasi-hw-engine -p wasi-hw-policy -p wasi-hw-trust -p wasi-hw-i2c -p wasi-hw-usb; then
    fail "$arch cargo test"
  fi
fi

if [ "$failures" -gt 0 ]; then
  echo "$me: $failures failure(s)" >&2
  exit 1
fi
echo "$me: all $arch checks passed"
