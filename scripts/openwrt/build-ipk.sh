#!/usr/bin/env bash
# Builds the OpenWrt packages target/openwrt/wasi-hw_VERSION-1_ARCH.ipk without the OpenWrt
# SDK: the static gateway binary, its AOT drivers, the procd init script and the UCI config
# of packaging/openwrt/wasi-hw/files. One package per gateway arch.
#
#   scripts/openwrt/build-ipk.sh [--gateway G] [--no-build] [--arch ARCH] [--out DIR]
#     --gateway G  armv7 (default), aarch64, mipsel, or all (the three)
#     (default)    build everything first: guests (scripts/build-guests.sh: .wasm + host
#                  compiler), then scripts/cross/build.sh G (binary + G .aot)
#     --no-build   package what target/G/wasi-hw and target/guests/*.G.aot hold
#     --arch ARCH  opkg architecture name, for one gateway. Defaults: armv7
#                  arm_cortex-a7_neon-vfpv4 (Cortex-A7 boards), aarch64 aarch64_cortex-a53
#                  (Filogic, Raspberry Pi 3/4), mipsel mipsel_24kc (MT7621/MT7628). opkg
#                  installs only packages whose Architecture is in the device's `opkg
#                  print-architecture`. The binary runs on every CPU of its arch; the .aot
#                  drivers need the CPU they were compiled for (WASI_HW_<G>_CPU, see
#                  scripts/cross/build.sh).
#     --out DIR    output directory (default target/openwrt)
#
# Format: what OpenWrt's ipkg-build writes and opkg reads: a gzip'ed tar holding
# ./debian-binary ("2.0"), ./data.tar.gz and ./control.tar.gz, owned by root (0:0),
# timestamps from the last commit (reproducible).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

build=1
arch=""
gateways=(armv7)
out="$root/target/openwrt"
while [ $# -gt 0 ]; do
  case "$1" in
    --gateway) [ $# -ge 2 ] || { echo "build-ipk: --gateway needs a value" >&2; exit 2; }
               if [ "$2" = all ]; then gateways=(armv7 aarch64 mipsel); else gateways=("$2"); fi
               shift 2 ;;
    --no-build) build=0; shift ;;
    --arch) [ $# -ge 2 ] || { echo "build-ipk: --arch needs a value" >&2; exit 2; }
            arch=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || { echo "build-ipk: --out needs a value" >&2; exit 2; }
           out=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-ipk: unknown argument $1" >&2; exit 2 ;;
  esac
done
. scripts/lib.sh
. scripts/cross/arch.sh
[ -z "$arch" ] || [ ${#gateways[@]} -eq 1 ] || die "--arch names the package arch of one gateway"
for g in "${gateways[@]}"; do cross_arch "$g" || exit 2; done

if [ "$build" -eq 1 ]; then
  scripts/build-guests.sh
  # Every gateway in one cargo run (shared host tools, one job queue).
  scripts/cross/build.sh "${gateways[@]}"
fi

# package GATEWAY OPKG_ARCH: one .ipk
package() {
local gateway=$1 arch=$2
cross_arch "$gateway"

files="$root/packaging/openwrt/wasi-hw/files"
bin="$root/target/$gateway/wasi-hw"
[ -x "$bin" ] || die "$bin missing: run scripts/cross/build.sh $gateway (or drop --no-build)"
[[ "$(file -b "$bin")" =~ $x_file ]] || die "$bin is not a static $gateway executable"

pkg=wasi-hw
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
[ -n "$version" ] || die "no [workspace.package] version in Cargo.toml"
version="$version-1"
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)

work=$(mktemp -d)
data="$work/data"
ctrl="$work/control"
mkdir -p "$data/usr/bin" "$data/etc/init.d" "$data/etc/config" "$data/usr/lib/wasi-hw" "$ctrl"
mkdir -p "$data/etc/wasi-hw/keys"

install -m 0755 "$bin" "$data/usr/bin/wasi-hw"
install -m 0755 "$files/wasi-hw.init" "$data/etc/init.d/wasi-hw"
# 0600 like the SDK's INSTALL_CONF.
install -m 0600 "$files/wasi-hw.config" "$data/etc/config/wasi-hw"
# The trusted keys directory, without a key: whoever installs the package trusts the key
# that signs their drivers (the README there says how). Never a secret key.
install -m 0644 "$files/keys-README" "$data/etc/wasi-hw/keys/README"
# procd's syscall policy for the jailed host (see the init script).
install -m 0644 "$files/wasi-hw.seccomp.json" "$data/etc/wasi-hw/seccomp.json"
shopt -s nullglob
drivers=()
for aot in "$root"/target/guests/*."$gateway".aot; do
  name=$(basename "$aot" ."$gateway".aot)
  # Demos and benchmarks stay out of the package.
  case "$name" in hello|*bench*) continue ;; esac
  install -m 0644 "$aot" "$data/usr/lib/wasi-hw/$name.aot"
  # The signature from the build (scripts/lib/aot.sh signs every .aot it compiles).
  [ -f "$aot.sig" ] || die "$aot.sig missing: rebuild it with scripts/cross/build.sh $gateway"
  install -m 0644 "$aot.sig" "$data/usr/lib/wasi-hw/$name.aot.sig"
  drivers+=("$name")
done
[ ${#drivers[@]} -gt 0 ] || echo "build-ipk: warning: no target/guests/*.$gateway.aot, packaging no drivers" >&2

installed_size=$(find "$data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
cat > "$ctrl/control" <<EOF
Package: $pkg
Version: $version
Depends: libc
Source: packaging/openwrt/wasi-hw
SourceName: $pkg
License: Apache-2.0
Section: utils
Architecture: $arch
Installed-Size: $installed_size
Maintainer: wasi-hw developers
Description: Sandboxed WebAssembly hardware drivers (WASI-I2C, WASI-USB) on WAMR.
 Runs AOT-compiled wasm drivers as procd services, each with only the I2C
 buses/addresses and USB devices granted in /etc/config/wasi-hw.
EOF
echo /etc/config/wasi-hw > "$ctrl/conffiles"
# The SDK's default maintainer scripts: enable the init script on install (it starts
# no driver until one is enabled in UCI), stop and disable it on removal.
cat > "$ctrl/postinst" <<'EOF'
#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
EOF
cat > "$ctrl/prerm" <<'EOF'
#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
EOF
chmod 0755 "$ctrl/postinst" "$ctrl/prerm"
chmod 0644 "$ctrl/control" "$ctrl/conffiles"

tarz() { # DIR OUTPUT ENTRIES...: a reproducible root-owned tar.gz
  local dir=$1 output=$2
  shift 2
  tar -C "$dir" --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
    --mtime="@$epoch" -cf - "$@" | gzip -n -9 > "$output"
}
tarz "$data" "$work/data.tar.gz" .
tarz "$ctrl" "$work/control.tar.gz" .
echo "2.0" > "$work/debian-binary"
mkdir -p "$out"
ipk="$out/${pkg}_${version}_${arch}.ipk"
tarz "$work" "$ipk" ./debian-binary ./data.tar.gz ./control.tar.gz
echo "build-ipk: $ipk ($(stat -c %s "$ipk") bytes; drivers: ${drivers[*]:-none})"
rm -rf "$work"
}

default_arch() {
  case "$1" in
    armv7) echo arm_cortex-a7_neon-vfpv4 ;;
    aarch64) echo aarch64_cortex-a53 ;;
    mipsel) echo mipsel_24kc ;;
  esac
}
for g in "${gateways[@]}"; do
  package "$g" "${arch:-$(default_arch "$g")}"
done
