#!/usr/bin/env bash
# Cross-builds the gateway runtime for router architectures and AOT-compiles the guest
# drivers for them.
#
#   scripts/cross/build.sh ARCH...            static, stripped target/ARCH/wasi-hw (runtime
#                                             only, no LLVM) + target/guests/NAME.ARCH.aot
#                                             for every target/guests/NAME.wasm, for each
#                                             ARCH; also the static native baseline of the
#                                             in-VM benchmarks (target/cross/TRIPLE/release/
#                                             bench-native)
#   scripts/cross/build.sh ARCH cargo ARGS..  any cargo command with the ARCH cross
#                                             environment, e.g. `cargo test -p
#                                             wasi-hw-engine` (test binaries run under qemu)
#
# ARCH: armv7 (hard-float, Cortex-A7/A9 routers), aarch64 (Filogic, Raspberry Pi 3/4),
# mipsel (MT7621 and other MIPS32r2 little-endian routers); the table is scripts/cross/arch.sh.
# Several arches are built by one cargo run (`--target` per arch) in one target directory,
# target/cross: the host tools (build scripts, proc macros, bindgen) are compiled once, and
# one job queue keeps both cores busy while each arch ends in its one-core LTO link (three
# arches: 491 s instead of 630 s for three parallel cargo runs, measured).
# Toolchain: a rustup toolchain with the targets' std when one is installed for every ARCH;
# otherwise Debian's rustc-web/cargo-web + rust-web-src, building std from source
# (RUSTC_BOOTSTRAP=1, -Zbuild-std). C (WAMR) and linking: Debian's cross gcc. The binary is
# linked statically (+crt-static) so that it runs on musl-based OpenWrt as well as on glibc
# systems; see "Static glibc caveats" in the README's Gateways section.
#
# Environment:
#   WASI_HW_<ARCH>_CPU, WASI_HW_<ARCH>_FEATURES   --cpu / --cpu-features for the .aot
#       (ARCH upper case; default: the compiler's, see `wasi-hw compile --help`). For
#       armv7 VFPv3-D16 boards without NEON (Marvell Armada 370/38x/XP, OpenWrt mvebu,
#       arm_cortex-a9_vfpv3-d16) use WASI_HW_ARMV7_CPU=cortex-a9
#       WASI_HW_ARMV7_FEATURES=-neon,-d32.
#   WASI_HW_HOST_BIN   the x86_64 wasi-hw with the AOT compiler (default target/release/wasi-hw)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
. scripts/cross/arch.sh
root=$PWD
# Separate target dir: the host build's lock and caches stay untouched.
cross_dir="$root/target/cross"
me=cross

arches=()
while [ $# -gt 0 ] && [[ "$1" != -* ]] && [ "$1" != cargo ]; do
  cross_arch "$1" || exit 2
  arches+=("$1")
  shift
done
[ ${#arches[@]} -gt 0 ] || { echo "usage: $0 ARCH... | ARCH cargo ARGS..." >&2; exit 2; }
[ ${#arches[@]} -eq 1 ] && me=cross-${arches[0]}

# The cross environment goes only to the cargo commands below (xcargo), never to the
# host build of the AOT compiler. Every variable but the target dir and qemu's loader
# prefix is per target triple, so the arches' environments add up.
cross_env=("CARGO_TARGET_DIR=$cross_dir")
targets=()
rustup_std=1
for arch in "${arches[@]}"; do
  cross_arch "$arch"
  triple_env=$(echo "$x_triple" | tr 'a-z-' 'A-Z_')
  triple_cc=$(echo "$x_triple" | tr '-' '_')
  cross_env+=(
    "CARGO_TARGET_${triple_env}_LINKER=$x_gcc"
    "CARGO_TARGET_${triple_env}_RUSTFLAGS=-C target-feature=+crt-static${x_features:+,$x_features}${x_rustflags:+ $x_rustflags}"
    "CARGO_TARGET_${triple_env}_RUNNER=$x_qemu"
    "CC_${triple_cc}=$x_gcc"
    "CFLAGS_${triple_cc}=$x_cflags"
    "AR_${triple_cc}=${x_gcc%gcc}ar"
  )
  targets+=(--target "$x_triple")
  for tool in "$x_gcc" "$x_strip" "$x_qemu"; do
    need "$tool"
  done
  if ! command -v rustup >/dev/null || ! rustup target list --installed 2>/dev/null | grep -qx "$x_triple"; then
    rustup_std=0
  fi
done
# Lets qemu-user find the loader if a test binary ends up dynamic (cargo mode: one arch).
cross_env+=("QEMU_LD_PREFIX=${QEMU_LD_PREFIX:-$x_sysroot}")
# bindgen (wamr-sys) loads the host libclang (clang-sys finds Debian's in its default
# paths; set LIBCLANG_PATH elsewhere). wamr-sys passes the cross sysroot headers to it.

# Pick the toolchain: rustup's std for the targets if installed, else Debian's + build-std.
build_std=()
if [ $rustup_std -eq 1 ]; then
  cargo_bin=cargo
else
  cargo_bin=/usr/bin/cargo
  cross_env+=(RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1)
  [ -d /usr/lib/rustlib/src/rust/library ] \
    || die "no std for ${arches[*]}: install rust-web-src (scripts/setup.sh) or rustup target add"
  # std without its `backtrace` feature: the symbolizer (gimli, addr2line, miniz,
  # rustc-demangle) cannot read a stripped binary anyway; armv7 -150 KB (measured).
  # (`optimize_for_size` would save 41 KB more, with slower std algorithms: not taken.)
  build_std=(-Zbuild-std=std,panic_abort -Zbuild-std-features=panic-unwind)
fi

xcargo() {
  local sub=$1
  shift
  env "${cross_env[@]}" "$cargo_bin" "$sub" "${targets[@]}" "${build_std[@]}" "$@"
}

if [ "${1:-}" = cargo ]; then
  shift
  [ ${#arches[@]} -eq 1 ] || { echo "$0: cargo mode takes one ARCH" >&2; exit 2; }
  [ $# -gt 0 ] || { echo "usage: $0 ARCH cargo SUBCOMMAND [ARGS...]" >&2; exit 2; }
  xcargo "$@"
  exit
fi
[ $# -eq 0 ] || { echo "usage: $0 ARCH... | ARCH cargo ARGS..." >&2; exit 2; }

# Always with the native bench baseline of the in-VM benchmarks (~20 s more per arch): it
# brings host tools whose features unify with bindgen's (memchr), so building it only
# sometimes rebuilt each arch from WAMR up every time a caller switched. The same cargo run
# links both binaries in parallel (each is one LTO codegen unit, a link keeps one core busy).
bins=(-p wasi-hw --bin wasi-hw -p wasi-hw-bench-native --bin bench-native)
echo "$me: building ${bins[*]} for ${arches[*]} (runtime only, static)"
xcargo build --release --locked --no-default-features "${bins[@]}"
for arch in "${arches[@]}"; do
  cross_arch "$arch"
  out_dir="$root/target/$arch"
  mkdir -p "$out_dir"
  "$x_strip" -o "$out_dir/wasi-hw" "$cross_dir/$x_triple/release/wasi-hw"
  file_desc=$(file -b "$out_dir/wasi-hw" 2>/dev/null || true)
  echo "cross-$arch: $out_dir/wasi-hw ($(stat -c %s "$out_dir/wasi-hw") bytes${file_desc:+; $file_desc})"
  [[ "$file_desc" =~ $x_file ]] || die "expected a static $arch binary, got: $file_desc"
done

# AOT drivers: compiled on the host (the gateway binary has no compiler).
shopt -s nullglob
wasms=("$root"/target/guests/*.wasm)
if [ ${#wasms[@]} -eq 0 ]; then
  echo "$me: no target/guests/*.wasm (run scripts/build-guests.sh); skipping AOT for ${arches[*]}"
  exit 0
fi
host_bin="${WASI_HW_HOST_BIN:-$root/target/release/wasi-hw}"
if [ ! -x "$host_bin" ]; then
  echo "$me: building the host AOT compiler"
  cargo build --release --quiet --bin wasi-hw
fi
. "$root/scripts/lib/aot.sh"
failed=$(mktemp)
for arch in "${arches[@]}"; do
  upper=$(echo "$arch" | tr a-z A-Z)
  cpu_var=WASI_HW_${upper}_CPU features_var=WASI_HW_${upper}_FEATURES
  aot_opts=()
  [ -n "${!cpu_var:-}" ] && aot_opts+=(--cpu "${!cpu_var}")
  [ -n "${!features_var:-}" ] && aot_opts+=("--cpu-features=${!features_var}")
  for wasm in "${wasms[@]}"; do
    aot="${wasm%.wasm}.$arch.aot"
    aot_slot
    {
      if how=$(aot_compile "$host_bin" "$wasm" "$aot" "$arch" "${aot_opts[@]}"); then
        echo "cross-$arch: $aot ($(stat -c %s "$aot") bytes, $how)"
      else
        echo "$wasm ($arch)" >> "$failed"
      fi
    } &
  done
done
wait
if [ -s "$failed" ]; then
  die "AOT compilation failed: $(paste -sd, "$failed")"
fi
rm -f "$failed"
