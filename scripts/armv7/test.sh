#!/usr/bin/env bash
# armv7 checks under qemu-arm-static (user mode): the static armv7 `wasi-hw` runs the
# armv7 AOT drivers against the simulated I2C and USB backends and must print exactly
# what the x86_64 build prints for the x86_64 AOT drivers (stdout, stderr and exit
# status). Each case also runs on armv7 with the interpreter (.wasm), and with .aot
# files compiled for VFPv3-D16 CPUs without NEON (--cpu cortex-a9
# --cpu-features=-neon,-d32) on an emulated CPU that has exactly that FPU (qemu's
# cortex-r5f), which also shows that the runtime binary itself needs neither NEON nor
# 32 D registers. A WAT module checks unaligned accesses in armv7 AOT code; a C probe
# first checks that this qemu faults on unaligned LDRD/LDM/VLDR as hardware does.
# Last, the runtime/native-lib test suites cross-compiled for armv7.
#
#   scripts/armv7/test.sh [--no-unit]
#     --no-unit   skip the cross-compiled `cargo test` stage (the slowest one)
#
# Needs: target/release/wasi-hw (host, with the AOT compiler; or WASI_HW_HOST_BIN), target/guests/*.wasm
# (scripts/build-guests.sh) and target/armv7/wasi-hw (scripts/armv7/cross.sh, which also
# writes target/guests/NAME.armv7.aot; missing .aot files are compiled here).
# Fails (exit 1) on any difference or failed run, printing the diffs.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

unit=1
for a in "$@"; do
  case "$a" in
    --no-unit) unit=0 ;;
    *) echo "test-armv7: unknown argument $a" >&2; exit 2 ;;
  esac
done

host="${WASI_HW_HOST_BIN:-$root/target/release/wasi-hw}"
arm="$root/target/armv7/wasi-hw"
guests="$root/target/guests"
me=test-armv7
. scripts/lib.sh
# Every .aot run here is signed with the development key that /etc/wasi-hw/keys trusts.
. scripts/lib/signing.sh
[ -x "$host" ] || die "$host missing: cargo build --release"
[ -x "$arm" ] || die "$arm missing: run scripts/armv7/cross.sh"
command -v qemu-arm-static >/dev/null || die "qemu-arm-static missing: run scripts/setup.sh"
case "$(file -b "$arm")" in
  *ARM*statically*) ;;
  *) die "$arm is not a static ARM executable" ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# --- 1. does this qemu fault on unaligned LDRD/LDM/VLDR like ARMv7 hardware? ---------
# Without that, a clean run of the unaligned test below would prove nothing.
arm-linux-gnueabihf-gcc -O1 -marm -static -o "$work/probe" tests/armv7/unaligned-probe.c
qemu-arm-static "$work/probe" ldr > /dev/null || fail "qemu: unaligned LDR faulted (it must not)"
for m in ldrd ldm vldr; do
  # (In a group so that bash's "Bus error" job message goes to /dev/null too.)
  if { qemu-arm-static "$work/probe" "$m"; } > /dev/null 2>&1; then
    fail "qemu-arm-static does not fault on an unaligned $m: the unaligned check is meaningless here"
  fi
done
echo "ok: qemu-arm-static faults on unaligned LDRD/LDM/VLDR and allows unaligned LDR"

# --- 2. modules: guests plus the unaligned-access test ---------------------------------
command -v wat2wasm >/dev/null || die "wat2wasm missing (package wabt, scripts/setup.sh)"
wat2wasm tests/armv7/unaligned.wat -o "$work/unaligned.wasm"
aot_of() { # WASM TARGET: the .aot next to it, compiled if missing or older, and signed
  local wasm=$1 t=$2 aot
  if [ "$t" = x86_64 ]; then aot="${wasm%.wasm}.aot"; else aot="${wasm%.wasm}.$t.aot"; fi
  if [ ! -f "$aot" ] || [ "$aot" -ot "$wasm" ] || [ "$aot" -ot "$host" ]; then
    "$host" compile "$wasm" -o "$aot" --target "$t" >&2 || return 1
  fi
  signing_sign "$host" "$aot" || return 1
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

module_wasm() { if [ "$1" = unaligned ]; then echo "$work/unaligned.wasm"; else echo "$guests/$1.wasm"; fi; }

run() { # LABEL OUTPREFIX CMD...: run, keep stdout/stderr/status
  local label=$1 out=$2
  shift 2
  set +e
  "$@" > "$out.stdout" 2> "$out.stderr"
  echo $? > "$out.status"
  set -e
}

n=0
for c in "${cases[@]}"; do
  IFS='|' read -r name opts gargs want_rc want_out <<< "$c"
  n=$((n + 1))
  wasm=$(module_wasm "$name")
  [ -f "$wasm" ] || { fail "$wasm missing (scripts/build-guests.sh)"; continue; }
  x86_aot=$(aot_of "$wasm" x86_64) || { fail "compiling $wasm for x86_64"; continue; }
  arm_aot=$(aot_of "$wasm" armv7) || { fail "compiling $wasm for armv7"; continue; }
  d16_aot="$work/$name.d16.aot"
  if [ ! -f "$d16_aot" ]; then
    { "$host" compile "$wasm" -o "$d16_aot" --target armv7 --cpu cortex-a9 --cpu-features=-neon,-d32 &&
      signing_sign "$host" "$d16_aot"; } || { fail "compiling $wasm for armv7 VFPv3-D16"; continue; }
  fi
  # Word splitting of $opts/$gargs is intended: they are lists of plain words.
  # shellcheck disable=SC2086
  run x86 "$work/$n.x86" "$host" run $opts "$x86_aot" -- $gargs
  # shellcheck disable=SC2086
  run arm "$work/$n.arm" qemu-arm-static "$arm" run $opts "$arm_aot" -- $gargs
  # shellcheck disable=SC2086
  run interp "$work/$n.int" qemu-arm-static "$arm" run --interp $opts "$wasm" -- $gargs
  # shellcheck disable=SC2086
  run d16 "$work/$n.d16" qemu-arm-static -cpu cortex-r5f "$arm" run $opts "$d16_aot" -- $gargs
  # Module paths and log timestamps differ between the runs; all else must be identical.
  for v in x86 arm int d16; do
    sed -i -E -e "s|$x86_aot|MODULE|g; s|$arm_aot|MODULE|g; s|$wasm|MODULE|g; s|$d16_aot|MODULE|g" \
      -e 's/^\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z /[/' "$work/$n.$v.stderr"
  done
  what="$name $opts -- $gargs"
  x_rc=$(cat "$work/$n.x86.status")
  [ "$x_rc" = "$want_rc" ] || fail "$what: x86_64 exit status $x_rc, expected $want_rc (stderr: $(head -c 300 "$work/$n.x86.stderr"))"
  if [ -n "$want_out" ] && ! grep -Eq "$want_out" "$work/$n.x86.stdout"; then
    fail "$what: x86_64 stdout does not match /$want_out/: $(head -c 300 "$work/$n.x86.stdout")"
  fi
  same=1
  for v in arm int d16; do
    case $v in
      arm) label="armv7 AOT" ;;
      int) label="armv7 interpreter" ;;
      d16) label="armv7 VFPv3-D16 AOT on cortex-r5f" ;;
    esac
    for s in status stdout stderr; do
      if ! cmp -s "$work/$n.x86.$s" "$work/$n.$v.$s"; then
        same=0
        fail "$what: $label $s differs from x86_64 AOT:"
        diff "$work/$n.x86.$s" "$work/$n.$v.$s" | head -20 >&2 || true
      fi
    done
  done
  [ "$same" -eq 1 ] && echo "ok: $what (exit $x_rc, $(wc -l < "$work/$n.x86.stdout") stdout lines, identical on x86_64 AOT / armv7 AOT / armv7 interpreter / armv7 VFPv3-D16 AOT)"
done

# --- 3. unit and integration tests of the runtime crates, cross-compiled, under qemu ---
if [ "$unit" -eq 1 ]; then
  echo "test-armv7: cargo test for armv7 (runtime, policy, trust, i2c, usb) under qemu-arm-static"
  # Line tables only: backtraces keep file:line, the build is ~13 s shorter than with
  # full debug info.
  if ! CARGO_PROFILE_DEV_DEBUG=line-tables-only scripts/armv7/cross.sh cargo test --quiet --locked \
      -p wasi-hw-engine -p wasi-hw-policy -p wasi-hw-trust -p wasi-hw-i2c -p wasi-hw-usb; then
    fail "armv7 cargo test"
  fi
fi

if [ "$failures" -gt 0 ]; then
  echo "test-armv7: $failures failure(s)" >&2
  exit 1
fi
echo "test-armv7: all armv7 checks passed"
