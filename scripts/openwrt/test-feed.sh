#!/usr/bin/env bash
# Runs the OpenWrt feed Makefile (packaging/openwrt/wasi-hw/Makefile) in its prebuilt mode
# with GNU make, against small stand-ins for the SDK (rules.mk; package.mk with the install
# commands and BuildPackage as an `install` target; the host usign, played by
# signify-openbsd, which makes the same files), and checks what it installs: each driver
# with its signature (the one beside it, or one made with WASI_HW_SIGN_KEY), the key
# WASI_HW_TRUST_KEY, procd's seccomp policy; a driver without a signature stops the build.
# The packaged binary (under qemu-user) must verify every installed driver.
#
#   scripts/openwrt/test-feed.sh [armv7|aarch64|mipsel]   (default armv7)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
root=$PWD
arch=${1:-armv7}
. scripts/cross/arch.sh
cross_arch "$arch"
need make "apt-get install make"
need signify-openbsd "run scripts/setup.sh"
case "$arch" in
  armv7) openwrt_arch=arm ;;
  *) openwrt_arch=$arch ;;
esac
bin="$root/target/$arch/wasi-hw"
[ -x "$bin" ] || die "$bin missing: run scripts/cross/build.sh $arch"
for d in temp-sensor eeprom; do
  [ -f "target/guests/$d.$arch.aot" ] || die "target/guests/$d.$arch.aot missing: run scripts/cross/build.sh $arch"
done

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
check() { # DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else fail "$what"; fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/top/include" "$work/host/bin" "$work/aots"
: > "$work/top/rules.mk"
cat > "$work/top/include/package.mk" <<'MK'
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
define BuildPackage
install:
	$$(call Package/$(1)/install,$$(DEST))
endef
MK
cat > "$work/host/bin/usign" <<'SH'
#!/bin/sh
# usign -S -m FILE -s KEY -x SIG
[ "$1" = -S ] || exit 2
while [ $# -gt 0 ]; do
  case "$1" in -m) m=$2; shift ;; -s) s=$2; shift ;; -x) x=$2; shift ;; esac
  shift
done
exec signify-openbsd -S -s "$s" -m "$m" -x "$x"
SH
chmod +x "$work/host/bin/usign"
signify-openbsd -G -n -c "feed test key" -p "$work/feed.pub" -s "$work/feed.sec"

# temp-sensor comes with the build's signature beside it; eeprom with none.
cp "target/guests/temp-sensor.$arch.aot" "target/guests/temp-sensor.$arch.aot.sig" "$work/aots/"
cp "target/guests/eeprom.$arch.aot" "$work/aots/"

feed() { # DEST [VAR=VALUE...]: the package's install step into DEST
  local dest=$1
  shift
  make -s -C packaging/openwrt/wasi-hw TOPDIR="$work/top" INCLUDE_DIR="$work/top/include" \
    STAGING_DIR_HOST="$work/host" ARCH="$openwrt_arch" WASI_HW_PREBUILT="$root/target/$arch" \
    WASI_HW_AOT_DIR="$work/aots" DEST="$dest" "$@" install
}

if feed "$work/unsigned" > "$work/unsigned.log" 2>&1; then
  fail "a driver without a signature stops the build"
else
  check "a driver without a signature stops the build, naming it" \
    grep -q "eeprom.$arch.aot.sig missing" "$work/unsigned.log"
fi

feed "$work/signed" WASI_HW_SIGN_KEY="$work/feed.sec" WASI_HW_TRUST_KEY="$work/feed.pub" \
  > "$work/signed.log" 2>&1 || { cat "$work/signed.log" >&2; die "the signing build failed"; }
pkg="$work/signed"
check "binary, both drivers and their signatures installed" \
  test -x "$pkg/usr/bin/wasi-hw" -a -f "$pkg/usr/lib/wasi-hw/temp-sensor.aot.sig" -a -f "$pkg/usr/lib/wasi-hw/eeprom.aot.sig"
check "WASI_HW_TRUST_KEY is trusted on the router" cmp -s "$work/feed.pub" "$pkg/etc/wasi-hw/keys/feed.pub"
check "procd's seccomp policy installed" \
  cmp -s packaging/openwrt/wasi-hw/files/wasi-hw.seccomp.json "$pkg/etc/wasi-hw/seccomp.json"
check "WASI_HW_SIGN_KEY signs every driver (signify-openbsd verifies)" \
  signify-openbsd -V -q -p "$work/feed.pub" -m "$pkg/usr/lib/wasi-hw/eeprom.aot" -x "$pkg/usr/lib/wasi-hw/eeprom.aot.sig"
check "the packaged $arch binary verifies them with the packaged key" \
  sh -c "'$x_qemu' '$pkg/usr/bin/wasi-hw' verify --keys '$pkg/etc/wasi-hw/keys' '$pkg/usr/lib/wasi-hw/eeprom.aot' '$pkg/usr/lib/wasi-hw/temp-sensor.aot' > /dev/null"

# Without a signing key, the signatures beside the drivers are the ones packaged.
signify-openbsd -S -s "$work/feed.sec" -m "$work/aots/eeprom.$arch.aot" -x "$work/aots/eeprom.$arch.aot.sig"
feed "$work/beside" > "$work/beside.log" 2>&1 || { cat "$work/beside.log" >&2; die "the build with signatures beside failed"; }
check "without WASI_HW_SIGN_KEY, each driver's own .sig is packaged" \
  cmp -s "target/guests/temp-sensor.$arch.aot.sig" "$work/beside/usr/lib/wasi-hw/temp-sensor.aot.sig"
check "... and no key is trusted by default" test ! -e "$work/beside/etc/wasi-hw/keys/feed.pub"

[ "$failures" -eq 0 ] || die "$failures check(s) failed"
echo "test-feed: all checks passed ($arch)"
