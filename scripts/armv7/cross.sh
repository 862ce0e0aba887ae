#!/usr/bin/env bash
# Cross-builds the gateway runtime for armv7 hard-float (Cortex-A7/A9 OpenWrt routers) and
# AOT-compiles the guest drivers for armv7.
#
#   scripts/armv7/cross.sh               static, stripped target/armv7/wasi-hw (runtime only,
#                                        no LLVM) + target/guests/NAME.armv7.aot for every
#                                        target/guests/NAME.wasm
#   scripts/armv7/cross.sh cargo ARGS..  any cargo command with the armv7 cross environment,
#                                        e.g. `cargo test -p wasi-hw-engine` (test binaries
#                                        run under qemu-arm-static)
#
# Toolchain: a rustup toolchain with the armv7-unknown-linux-gnueabihf target when one is
# installed; otherwise Debian's rustc-web/cargo-web + rust-web-src, building std from source
# (RUSTC_BOOTSTRAP=1, -Zbuild-std). C (WAMR) and linking: arm-linux-gnueabihf-gcc.
# The binary is linked statically (+crt-static) so that it runs on musl-based OpenWrt as
# well as on glibc systems; see "Static glibc caveats" in the README's Gateways section.
#
# Environment:
#   WASI_HW_ARMV7_CPU, WASI_HW_ARMV7_FEATURES   --cpu / --cpu-features for the armv7 .aot
#       (default: the compiler's, cortex-a7 = NEON + VFPv4 with 32 D registers, OpenWrt
#       arch arm_cortex-a7_neon-vfpv4). For VFPv3-D16 boards without NEON (Marvell
#       Armada 370/38x/XP, OpenWrt mvebu, arm_cortex-a9_vfpv3-d16) use
#       WASI_HW_ARMV7_CPU=cortex-a9 WASI_HW_ARMV7_FEATURES=-neon,-d32.
#   WASI_HW_HOST_BIN   the x86_64 wasi-hw with the AOT compiler (default target/release/wasi-hw)
set -euo pipefail
cd "$(dirname "$0")/../.."
me=cross-armv7
. scripts/lib.sh
root=$PWD

triple=armv7-unknown-linux-gnueabihf
triple_env=ARMV7_UNKNOWN_LINUX_GNUEABIHF
# Separate target dir (below): the host build's lock and caches stay untouched.
cross_dir="$root/target/armv7-cross"
out_dir="$root/target/armv7"

# The cross environment goes only to the cargo commands below (xcargo), never to the
# host build of the AOT compiler.
cross_env=(
  "CARGO_TARGET_DIR=$cross_dir"
  "CARGO_TARGET_${triple_env}_LINKER=arm-linux-gnueabihf-gcc"
  "CARGO_TARGET_${triple_env}_RUSTFLAGS=-C target-feature=+crt-static"
  "CARGO_TARGET_${triple_env}_RUNNER=qemu-arm-static"
  "CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc"
  "AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar"
  # Lets qemu-arm-static find the armhf loader if a test binary ends up dynamic.
  "QEMU_LD_PREFIX=${QEMU_LD_PREFIX:-/usr/arm-linux-gnueabihf}"
)
# bindgen (wamr-sys) loads the host libclang (clang-sys finds Debian's in its default
# paths; set LIBCLANG_PATH elsewhere). wamr-sys passes the armhf sysroot headers to it.

for tool in arm-linux-gnueabihf-gcc arm-linux-gnueabihf-strip qemu-arm-static; do
  need "$tool"
done

# Pick the toolchain: rustup's std for the target if installed, else Debian's + build-std.
build_std=()
if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
  cargo_bin=cargo
else
  cargo_bin=/usr/bin/cargo
  cross_env+=(RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1)
  [ -d /usr/lib/rustlib/src/rust/library ] \
    || die "no $triple std: install rust-web-src (scripts/setup.sh) or rustup target add $triple"
  build_std=(-Zbuild-std=std,panic_abort)
fi

xcargo() {
  local sub=$1
  shift
  env "${cross_env[@]}" "$cargo_bin" "$sub" --target "$triple" "${build_std[@]}" "$@"
}

if [ "${1:-}" = cargo ]; then
  shift
  [ $# -gt 0 ] || { echo "usage: $0 cargo SUBCOMMAND [ARGS...]" >&2; exit 2; }
  xcargo "$@"
  exit
fi

# With the native bench baseline of the VM payloads: one cargo run links both binaries in
# parallel (each is one LTO codegen unit, so a link keeps one core busy).
echo "cross-armv7: building wasi-hw and bench-native for $triple (runtime only, static)"
xcargo build --release --locked --no-default-features -p wasi-hw -p wasi-hw-bench-native \
  --bin wasi-hw --bin bench-native
mkdir -p "$out_dir"
arm-linux-gnueabihf-strip -o "$out_dir/wasi-hw" "$cross_dir/$triple/release/wasi-hw"
file_desc=$(file -b "$out_dir/wasi-hw" 2>/dev/null || true)
echo "cross-armv7: $out_dir/wasi-hw ($(stat -c %s "$out_dir/wasi-hw") bytes${file_desc:+; $file_desc})"
case "$file_desc" in
  *dynamically*) die "expected a static binary" ;;
esac

# AOT drivers: compiled on the host (the armv7 binary has no compiler).
shopt -s nullglob
wasms=("$root"/target/guests/*.wasm)
if [ ${#wasms[@]} -eq 0 ]; then
  echo "cross-armv7: no target/guests/*.wasm (run scripts/build-guests.sh); skipping armv7 AOT"
  exit 0
fi
host_bin="${WASI_HW_HOST_BIN:-$root/target/release/wasi-hw}"
if [ ! -x "$host_bin" ]; then
  echo "cross-armv7: building the host AOT compiler"
  cargo build --release --quiet --bin wasi-hw
fi
aot_opts=()
[ -n "${WASI_HW_ARMV7_CPU:-}" ] && aot_opts+=(--cpu "$WASI_HW_ARMV7_CPU")
[ -n "${WASI_HW_ARMV7_FEATURES:-}" ] && aot_opts+=("--cpu-features=$WASI_HW_ARMV7_FEATURES")
. "$root/scripts/lib/aot.sh"
failed=$(mktemp)
for wasm in "${wasms[@]}"; do
  aot="${wasm%.wasm}.armv7.aot"
  aot_slot
  {
    if how=$(aot_compile "$host_bin" "$wasm" "$aot" armv7 "${aot_opts[@]}"); then
      echo "cross-armv7: $aot ($(stat -c %s "$aot") bytes, $how)"
    else
      echo "$wasm" >> "$failed"
    fi
  } &
done
wait
if [ -s "$failed" ]; then
  die "armv7 AOT compilation failed: $(paste -sd, "$failed")"
fi
rm -f "$failed"
