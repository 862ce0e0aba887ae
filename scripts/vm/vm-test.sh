#!/usr/bin/env bash
# Boot a real Debian kernel in QEMU with emulated I2C/USB hardware and run a test script in it.
#
#   scripts/vm/vm-test.sh x86_64|raspi2b|raspi3b|malta [--payload DIR] [--add FILE[:NAME]]... [--test SCRIPT]
#                      [--timeout SECS] [--accel kvm|tcg] [--qemu-arg ARG]... [--append ARG]...
#                      [--keep]
#
# Exit status: the in-VM test script's (124 timeout, 125 no result: panic/crash, 126 QEMU
# failed to start). The guest console is printed as it runs and saved to
# $VMTEST_LOGS/last-<machine>.log. Details, devices and measured facts: scripts/vm/README.md.
#
# --payload DIR  copied to /payload in the guest (the test's working directory): the static
#                wasi-hw binary and the .aot drivers. Default: target/vm-payload/<machine>
#                if it exists, else none.
# --add FILE[:NAME] one more file for /payload (as NAME, default its basename); repeatable
# --test SCRIPT  run as /test.sh (busybox sh). Default: scripts/vm/tests/smoke-<machine>.sh
# --qemu-arg ARG one extra QEMU argument (repeatable), e.g. --qemu-arg -device --qemu-arg ...
# --append ARG   one more kernel command-line word (repeatable), e.g. --append maxcpus=1
# --keep         keep the run directory (initramfs, disk image) and print its path
#
# The kernel and busybox are the exact Debian packages pinned in scripts/vm/packages.lock
# (sha256-checked; scripts/vm/pin.sh moves the pins). QEMU comes from scripts/setup.sh.
# Environment: VMTEST_CACHE (default ~/.cache/wasi-hw/vm, shared by every clone): downloaded
# and unpacked packages, reused between runs; VMTEST_LOGS (default <repo>/target/vm-logs):
# the console logs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
vmdir=$repo/scripts/vm
cache=${VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasi-hw/vm}
logdir=${VMTEST_LOGS:-$repo/target/vm-logs}

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
me=vm-test die_status=2
. "$repo/scripts/lib.sh"

[ $# -ge 1 ] || usage
machine=$1; shift
case "$machine" in x86_64|raspi2b|raspi3b|malta) ;; -h|--help) usage ;; *) die "unknown machine '$machine' (x86_64|raspi2b|raspi3b|malta)" ;; esac
payload=""; payload_set=0; test_script=""; timeout=""; accel=""; accel_auto=0; keep=0; extra_qemu=(); extra_append=""; adds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --payload) payload=$2; payload_set=1; shift 2 ;;
    --add) adds+=("$2"); shift 2 ;;
    --test) test_script=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --qemu-arg) extra_qemu+=("$2"); shift 2 ;;
    --append) extra_append+=" $2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage ;;
    *) die "unknown option $1" ;;
  esac
done
[ -n "$test_script" ] || test_script=$vmdir/tests/smoke-$machine.sh
[ -f "$test_script" ] || die "test script $test_script not found"
if [ $payload_set -eq 0 ] && [ -d "$repo/target/vm-payload/$machine" ]; then
  payload=$repo/target/vm-payload/$machine
fi
[ -z "$payload" ] || [ -d "$payload" ] || die "payload $payload is not a directory"

. "$repo/scripts/lib/debian.sh"
. "$vmdir/packages.sh"

# ---------------------------------------------------------------- machine definitions
case "$machine" in
  x86_64)
    # In the initramfs (dependencies are added automatically) / loaded at boot.
    modules=(i2c-dev i2c-i801 i2c-stub at24 xhci-pci usb-storage sd_mod usbhid hid-generic)
    boot_modules=(i2c-dev i2c-i801 xhci-pci usb-storage sd_mod usbhid hid-generic)
    console=ttyS0 ;;
  raspi2b|raspi3b)
    modules=(bcm2835_wdt i2c-dev i2c-bcm2835 at24 lm75 phy-generic dwc2 usb-storage sd_mod usbhid hid-generic)
    boot_modules=(bcm2835_wdt i2c-dev i2c-bcm2835 phy-generic dwc2 usb-storage sd_mod usbhid hid-generic)
    # raspi3b: the console on the mini UART (ttyS1, QEMU's second serial): the PL011
    # takes no input from the harness there.
    if [ "$machine" = raspi3b ]; then console=ttyS1; else console=ttyAMA0; fi ;;
  malta)
    # PIIX4's SMBus (Debian's malta kernel has no i2c-stub) and a PCI xHCI; SCSI disks
    # (sd) are built in.
    modules=(i2c-dev i2c-piix4 xhci-pci usb-storage usbhid hid-generic)
    boot_modules=("${modules[@]}")
    console=ttyS0 ;;
esac

for q in qemu-system-x86_64 qemu-system-arm qemu-system-aarch64 qemu-system-mipsel; do
  command -v "$q" >/dev/null || die "$q is not installed: run scripts/setup.sh"
done
mkdir -p "$cache" "$logdir"
t_start=$(date +%s.%N)
kdir=$(vm_pkg_dir "$machine" kernel) || exit 2
bbdir=$(vm_pkg_dir "$machine" busybox) || exit 2
kpkg=$(vm_pin "$machine" kernel | cut -d' ' -f1)
kver=${kpkg#linux-image-}
vmlinuz=$kdir/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || die "no $vmlinuz in $kpkg"

run=$(mktemp -d /tmp/vmtest.XXXXXX)
cleanup() { if [ $keep -eq 1 ]; then log "kept $run"; else rm -rf "$run"; fi; }
trap cleanup EXIT

# USB disk image with content the tests know: sector n (512 bytes) is the 16-byte record
# "WASIHW-S%07d\n" (n, zero padded) repeated 32 times; 2048 sectors (1 MiB).
python3 - "$run/usbdisk.img" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    for n in range(2048):
        f.write((b"WASIHW-S%07d\n" % n) * 32)
EOF

mkdir -p "$run/etc"
printf '%s\n' "${boot_modules[@]}" > "$run/etc/modules"
echo "$machine" > "$run/etc/machine"
ird_args=(--out "$run/initrd.gz" --busybox "$bbdir/bin/busybox" --init "$vmdir/guest/init"
  --modroot "$kdir/lib/modules/$kver"
  --file "$vmdir/guest/vmtest.sh:lib/vmtest.sh:644"
  --file "$test_script:test.sh:755"
  --file "$run/etc/modules:etc/vmtest/modules:644"
  --file "$run/etc/machine:etc/vmtest/machine:644")
# Sections shared by several machines' suites (scripts/vm/tests/parts), sourced from there.
for part in "$vmdir"/tests/parts/*.sh; do
  ird_args+=(--file "$part:lib/vmtest-parts/$(basename "$part"):644")
done
for m in "${modules[@]}"; do ird_args+=(--module "$m"); done
[ -z "$payload" ] || ird_args+=(--tree "$payload:payload")
for a in "${adds[@]}"; do
  src=${a%%:*}; name=${a#*:}; [ "$name" != "$a" ] || name=$(basename "$src")
  [ -f "$src" ] || die "--add: $src is not a file"
  ird_args+=(--file "$src:payload/$name")
done
python3 "$vmdir/mkinitramfs.py" "${ird_args[@]}"
t_ready=$(date +%s.%N)

qmp_sock=$run/qmp.sock
# USB on x86_64 and malta: xHCI with a mass-storage disk, a mouse and a keyboard
# (tests/parts/xhci-usb.sh knows where each one enumerates).
xhci_usb=(-device qemu-xhci,id=xhci
  -drive if=none,id=usbdisk,format=raw,file="$run/usbdisk.img"
  -device usb-storage,bus=xhci.0,drive=usbdisk,id=usbstick,serial=WASIHW0001
  -device usb-mouse,bus=xhci.0,id=mouse
  -device usb-kbd,bus=xhci.0,id=kbd)
append="console=$console panic=-1 loglevel=4$extra_append"
case "$machine" in
  x86_64)
    if [ -z "$accel" ]; then
      accel=tcg
      # KVM when /dev/kvm answers KVM_GET_API_VERSION (12), unless it is PVM (kvm_pvm: a
      # software nested KVM that only boots PVM-enabled guest kernels; Debian's hangs).
      if [ ! -d /sys/module/kvm_pvm ] && python3 -c 'import fcntl,os,sys; fd=os.open("/dev/kvm",os.O_RDWR); sys.exit(fcntl.ioctl(fd,0xAE00)!=12)' 2>/dev/null; then
        accel=kvm; accel_auto=1
      fi
    fi
    # The default CPU model: "-cpu host/max" trips on MSR 0x10a in some nested setups.
    [ -n "$timeout" ] || { [ "$accel" = kvm ] && timeout=180 || timeout=300; }
    qemu=(qemu-system-x86_64 -M q35 -accel "$accel" -m 512 -smp 1
      -nodefaults -no-user-config -display none -serial stdio -no-reboot
      -kernel "$vmlinuz" -initrd "$run/initrd.gz" -append "$append"
      -qmp "unix:$qmp_sock,server=on,wait=off"
      # I2C: the ICH9 SMBus (i801) already carries 8 smbus-eeprom (SPD) at 0x50-0x57;
      # i2c-ddc answers with an EDID at 0x49.
      -device i2c-ddc,address=0x49,id=ddc
      "${xhci_usb[@]}")
    ;;
  raspi2b|raspi3b)
    accel=tcg
    [ -n "$timeout" ] || timeout=600
    if [ "$machine" = raspi2b ]; then
      # Cortex-A7: the armv7 gateway build on Debian's armmp kernel.
      system=qemu-system-arm serial=(-serial stdio)
      dtb=$(ls "$kdir"/usr/lib/linux-image-*/bcm2836-rpi-2-b.dtb)
    else
      # Four Cortex-A53 cores and the same SoC peripherals: the aarch64 gateway build on
      # Debian's arm64 kernel. The console is the mini UART, QEMU's second serial (the
      # PL011 takes no input from the harness on this machine).
      system=qemu-system-aarch64 serial=(-serial null -serial stdio)
      dtb=$(ls "$kdir"/usr/lib/linux-image-*/broadcom/bcm2837-rpi-3-b.dtb)
    fi
    qemu=("$system" -M "$machine" -display none "${serial[@]}" -no-reboot -no-user-config
      -kernel "$vmlinuz" -initrd "$run/initrd.gz" -dtb "$dtb" -append "$append"
      -qmp "unix:$qmp_sock,server=on,wait=off"
      # I2C on BSC1 (i2c-bus.1 = /soc/i2c@7e804000): a TMP105 sensor and a 256-byte EEPROM.
      -device tmp105,bus=i2c-bus.1,address=0x48,id=tmp105
      -device at24c-eeprom,bus=i2c-bus.1,address=0x50,rom-size=256,id=eeprom
      # USB on the dwc2 host controller.
      -drive if=none,id=usbdisk,format=raw,file="$run/usbdisk.img"
      -device usb-storage,bus=usb-bus.0,drive=usbdisk,id=usbstick,serial=WASIHW0001
      -device usb-mouse,bus=usb-bus.0,id=mouse
      -device usb-kbd,bus=usb-bus.0,id=kbd)
    ;;
  malta)
    # MIPS Malta with a 24Kf (MIPS32r2 with an FPU, as the hard-float mipsel build needs):
    # the mipsel gateway build on Debian's 4kc-malta kernel. I2C: the PIIX4 SMBus with
    # QEMU's eight smbus-eeprom at 0x50-0x57 (0x50 holds the SPD of the RAM, 0x51-0x57 are
    # zero-filled) and an i2c-ddc (EDID) at 0x48, where the temp-sensor driver looks (this
    # QEMU build has no tmp105 for MIPS). USB: the same xHCI devices as on x86_64, on the
    # Malta's PCI bus.
    accel=tcg
    [ -n "$timeout" ] || timeout=600
    qemu=(qemu-system-mipsel -M malta -cpu 24Kf -m 256 -display none -vga none -serial stdio -nic none
      -no-reboot -no-user-config
      -kernel "$vmlinuz" -initrd "$run/initrd.gz" -append "$append"
      -qmp "unix:$qmp_sock,server=on,wait=off"
      -device i2c-ddc,address=0x48,id=ddc
      "${xhci_usb[@]}")
    ;;
esac
qemu+=("${extra_qemu[@]}")

log "$machine: kernel $kver, accel $accel, timeout ${timeout}s, test $(basename "$test_script")${payload:+, payload $payload}"
log "prepared in $(awk "BEGIN{printf \"%.1f\", $t_ready - $t_start}")s"
run_vm() {
  python3 "$vmdir/run.py" --timeout "$timeout" --boot-timeout "$boot_timeout" --qmp "$qmp_sock" \
    --log "$logdir/last-$machine.log" -- "${qemu[@]}"
}
boot_timeout=$(( timeout / 2 ))
[ $accel_auto -eq 0 ] || boot_timeout=30
rc=0; run_vm || rc=$?
if [ $rc -eq 123 ] && [ $accel_auto -eq 1 ]; then
  log "$machine: no boot under KVM within ${boot_timeout}s; retrying with TCG"
  for i in "${!qemu[@]}"; do
    if [ "${qemu[$i]}" = kvm ]; then qemu[$i]=tcg; fi
  done
  accel=tcg; timeout=300; boot_timeout=150
  rc=0; run_vm || rc=$?
fi
log "$machine: exit status $rc (accel $accel)"
if [ $rc -ne 0 ]; then
  # What failed, from the console log: every failed check, and the last console lines
  # (where a timeout, a soft lockup or a panic shows).
  case $rc in
    123) why="the kernel did not reach /init within ${boot_timeout}s" ;;
    124) why="timeout after ${timeout}s, VM killed" ;;
    125) why="QEMU ended without a result (panic or crash)" ;;
    126) why="QEMU did not start" ;;
    *) why="the in-VM test failed" ;;
  esac
  log "$machine: FAILED: $why"
  grep -a 'VMTEST-CHECK FAIL' "$logdir/last-$machine.log" | sed 's/^/vm-test:   /' >&2 || true
  log "$machine: last console lines ($logdir/last-$machine.log):"
  tail -n 25 "$logdir/last-$machine.log" | sed 's/^/vm-test:   | /' >&2
fi
exit $rc
