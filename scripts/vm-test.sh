#!/usr/bin/env bash
# Boot a real Debian kernel in QEMU with emulated I2C/USB hardware and run a test script in it.
#
#   scripts/vm-test.sh x86_64|raspi2b [--payload DIR] [--add FILE[:NAME]]... [--test SCRIPT]
#                      [--timeout SECS] [--accel kvm|tcg] [--qemu-arg ARG]... [--keep]
#
# Exit status: the in-VM test script's (124 timeout, 125 no result: panic/crash, 126 QEMU
# failed to start). The guest console is printed as it runs and saved to
# $VMTEST_CACHE/last-<machine>.log. Details, devices and measured facts: scripts/vm/README.md.
#
# --payload DIR  copied to /payload in the guest (the test's working directory): the static
#                wasi-hw binary and the .aot drivers. Default: target/vm-payload/<machine>
#                if it exists, else none.
# --add FILE[:NAME] one more file for /payload (as NAME, default its basename); repeatable
# --test SCRIPT  run as /test.sh (busybox sh). Default: scripts/vm/tests/smoke-<machine>.sh
# --qemu-arg ARG one extra QEMU argument (repeatable), e.g. --qemu-arg -device --qemu-arg ...
# --keep         keep the run directory (initramfs, disk image) and print its path
#
# Environment: VMTEST_CACHE (default <repo>/.cache/vm): downloaded packages, unpacked
# kernels and busybox, reused between runs. Needs root or sudo only to apt-get install QEMU.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
vmdir=$repo/scripts/vm
cache=${VMTEST_CACHE:-$repo/.cache/vm}

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
log() { echo "vm-test: $*" >&2; }
die() { log "error: $*"; exit 2; }

[ $# -ge 1 ] || usage
machine=$1; shift
case "$machine" in x86_64|raspi2b) ;; -h|--help) usage ;; *) die "unknown machine '$machine' (x86_64|raspi2b)" ;; esac
payload=""; payload_set=0; test_script=""; timeout=""; accel=""; accel_auto=0; keep=0; extra_qemu=(); adds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --payload) payload=$2; payload_set=1; shift 2 ;;
    --add) adds+=("$2"); shift 2 ;;
    --test) test_script=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --qemu-arg) extra_qemu+=("$2"); shift 2 ;;
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

sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")

# ---------------------------------------------------------------- host tools (QEMU >= 10)
qemu_major() { command -v "$1" >/dev/null 2>&1 && "$1" --version | sed -n '1s/.*version \([0-9]*\)\..*/\1/p'; }
ensure_tools() {
  local need=0 v
  for q in qemu-system-x86_64 qemu-system-arm; do
    v=$(qemu_major "$q" || true)
    [ -n "$v" ] && [ "$v" -ge 10 ] || need=1
  done
  [ $need -eq 1 ] || return 0
  log "installing QEMU >= 10 (qemu-system-x86 qemu-system-arm)"
  local target=()
  if [ "$codename" = bookworm ]; then
    # bookworm's QEMU 7.2 lacks what we use and conflicts with a newer qemu-utils; use backports.
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        | $sudo_ tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
    fi
    target=(-t bookworm-backports)
  fi
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends \
    "${target[@]}" qemu-system-x86 qemu-system-arm >/dev/null
  v=$(qemu_major qemu-system-x86_64 || true)
  [ -n "$v" ] && [ "$v" -ge 10 ] || die "QEMU >= 10 not available after install (got '${v:-none}')"
}

# ---------------------------------------------------------------- Debian packages (cached)
# apt_for ARCH: apt options. amd64 uses the host's apt; armhf a private apt state under the
# cache that lists only "$codename main" (the host's apt is left untouched, and the armhf
# index of the security suite was seen inconsistent on the mirror).
apt_opts=()
apt_for() {
  apt_opts=()
  if [ "$1" = amd64 ]; then
    apt-cache show linux-image-amd64 >/dev/null 2>&1 || $sudo_ apt-get update -qq
    return
  fi
  local st=$cache/apt-$1
  mkdir -p "$st/lists/partial" "$st/archives/partial"
  echo "deb [arch=$1 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $codename main" > "$st/sources.list"
  : > "$st/status"
  apt_opts=(-o "Dir::Etc::SourceList=$st/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$st/lists" -o "Dir::Cache=$st" -o "Dir::State::status=$st/status"
    -o "APT::Architecture=$1" -o "APT::Architectures::=$1")
  # Refresh the index once a day (a superseded kernel disappears from the mirror).
  if [ -z "$(find "$st/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null)" ]; then
    apt-get "${apt_opts[@]}" update -qq || log "warning: apt update for $1 failed, using cached index"
  fi
}

# fetch_pkg ARCH PACKAGE: download and unpack PACKAGE (not installed) into $cache/ARCH/PACKAGE;
# prints that directory.
fetch_pkg() {
  local arch=$1 pkg=$2 dir=$cache/$1/$2
  if [ ! -f "$dir/.unpacked" ]; then
    local dl; dl=$(mktemp -d "$cache/dl.XXXXXX")
    log "downloading $pkg ($arch)"
    (cd "$dl" && apt-get "${apt_opts[@]}" download -q "$pkg:$arch" >/dev/null 2>"$dl/err") \
      || { cat "$dl/err" >&2; rm -rf "$dl"; die "apt-get download $pkg:$arch failed"; }
    rm -rf "$dir"; mkdir -p "$dir"
    dpkg-deb -x "$dl"/*.deb "$dir"
    basename "$dl"/*.deb > "$dir/.unpacked"
    rm -rf "$dl"
  fi
  echo "$dir"
}

# kernel_pkg ARCH META: the versioned linux-image package META currently depends on; falls
# back to the newest one already in the cache when apt cannot tell (offline).
kernel_pkg() {
  local p
  p=$(apt-cache "${apt_opts[@]}" depends "$2" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
  if [ -z "$p" ]; then
    p=$(ls -1d "$cache/$1"/linux-image-* 2>/dev/null | sort -V | tail -n1 | xargs -r basename)
  fi
  [ -n "$p" ] || die "cannot resolve the kernel package for $2"
  echo "$p"
}

# ---------------------------------------------------------------- machine definitions
case "$machine" in
  x86_64)
    debarch=amd64; meta=linux-image-amd64
    # In the initramfs (dependencies are added automatically) / loaded at boot.
    modules=(i2c-dev i2c-i801 i2c-stub at24 xhci-pci usb-storage sd_mod usbhid hid-generic)
    boot_modules=(i2c-dev i2c-i801 xhci-pci usb-storage sd_mod usbhid hid-generic)
    console=ttyS0 ;;
  raspi2b)
    debarch=armhf; meta=linux-image-armmp
    modules=(bcm2835_wdt i2c-dev i2c-bcm2835 at24 lm75 phy-generic dwc2 usb-storage sd_mod usbhid hid-generic)
    boot_modules=(bcm2835_wdt i2c-dev i2c-bcm2835 phy-generic dwc2 usb-storage sd_mod usbhid hid-generic)
    console=ttyAMA0 ;;
esac

ensure_tools
mkdir -p "$cache"
t_start=$(date +%s.%N)
apt_for $debarch
kpkg=$(kernel_pkg $debarch $meta)
kdir=$(fetch_pkg $debarch "$kpkg")
bbdir=$(fetch_pkg $debarch busybox-static)
# Keep only the kernel in use: older ones are superseded and large.
for old in "$cache/$debarch"/linux-image-*; do
  [ "$old" = "$kdir" ] || [ ! -d "$old" ] || rm -rf "$old"
done
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
append="console=$console panic=-1 loglevel=4"
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
      # USB: xHCI with a mass-storage disk, a mouse and a keyboard.
      -device qemu-xhci,id=xhci
      -drive if=none,id=usbdisk,format=raw,file="$run/usbdisk.img"
      -device usb-storage,bus=xhci.0,drive=usbdisk,id=usbstick,serial=WASIHW0001
      -device usb-mouse,bus=xhci.0,id=mouse
      -device usb-kbd,bus=xhci.0,id=kbd)
    ;;
  raspi2b)
    accel=tcg
    [ -n "$timeout" ] || timeout=600
    dtb=$(ls "$kdir"/usr/lib/linux-image-*/bcm2836-rpi-2-b.dtb)
    qemu=(qemu-system-arm -M raspi2b -display none -serial stdio -no-reboot -no-user-config
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
esac
qemu+=("${extra_qemu[@]}")

log "$machine: kernel $kver, accel $accel, timeout ${timeout}s, test $(basename "$test_script")${payload:+, payload $payload}"
log "prepared in $(awk "BEGIN{printf \"%.1f\", $t_ready - $t_start}")s"
run_vm() {
  python3 "$vmdir/run.py" --timeout "$timeout" --boot-timeout "$boot_timeout" --qmp "$qmp_sock" \
    --log "$cache/last-$machine.log" -- "${qemu[@]}"
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
exit $rc
