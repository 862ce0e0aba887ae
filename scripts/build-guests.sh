#!/usr/bin/env bash
# Builds every guest driver of the guests/ workspace for wasm32-wasip1 into
# target/guests/NAME.wasm, then AOT-compiles each with the host CLI into
# target/guests/NAME.aot (x86_64) and, on request, NAME.TARGET.aot (e.g. armv7). Every
# .aot and .wasm is signed (FILE.sig) with the development key (scripts/lib/signing.sh).
#
#   scripts/build-guests.sh [--target armv7]... [--no-aot]
#     --target T   also produce NAME.T.aot (repeatable; env WASI_HW_AOT_TARGETS="armv7 ...")
#     --no-aot     stop after the .wasm files (no host build)
#   WASI_HW_HOST_BIN  the host CLI to compile with, already built (scripts/test.sh sets it:
#                     its release build has the bench crates' feature set, which a plain
#                     `cargo build --release` here would rebuild WAMR and the CLI without)
#
# Toolchain: if rustup has the wasm32-wasip1 target, plain cargo is used. Otherwise
# (this project's machines: rustup cannot download targets) Debian's Rust
# (rustc-web/cargo-web with rust-web-src) builds the wasm32 std itself with
# -Zbuild-std, linking with wasm-ld from lld-16 against Debian's wasi-libc.
# scripts/setup.sh installs all of that; this script only checks for it.
# One workspace and one target dir (guests/target), so std is built once and later
# builds are incremental.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
guests="$root/guests"
out="$root/target/guests"

aot=1
targets=(x86_64)
for t in ${WASI_HW_AOT_TARGETS:-}; do targets+=("$t"); done
while [ $# -gt 0 ]; do
  case "$1" in
    --target) [ $# -ge 2 ] || { echo "build-guests: --target needs a value" >&2; exit 2; }
              targets+=("$2"); shift 2 ;;
    --target=*) targets+=("${1#--target=}"); shift ;;
    --no-aot) aot=0; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-guests: unknown argument $1" >&2; exit 2 ;;
  esac
done

. "$root/scripts/lib.sh"

if command -v rustup >/dev/null 2>&1 \
   && rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
  echo "build-guests: using rustup's wasm32-wasip1 target"
  guest_cargo() { (cd "$guests" && cargo build --release --target wasm32-wasip1 "$@"); }
else
  wasi_libc=/usr/lib/wasm32-wasi
  wasm_ld=/usr/lib/llvm-16/bin/wasm-ld
  [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] \
    || die "Debian's cargo/rustc not found (/usr/bin/cargo, /usr/bin/rustc); run scripts/setup.sh"
  [ -d /usr/lib/rustlib/src/rust/library ] \
    || die "Rust library source not found (package rust-web-src); run scripts/setup.sh"
  [ -f "$wasi_libc/libc.a" ] && [ -f "$wasi_libc/crt1-command.o" ] \
    || die "wasi-libc not found in $wasi_libc (package wasi-libc); run scripts/setup.sh"
  [ -x "$wasm_ld" ] || die "$wasm_ld not found (package lld-16); run scripts/setup.sh"
  llvm_ar=/usr/lib/llvm-16/bin/llvm-ar
  [ -x "$llvm_ar" ] || die "$llvm_ar not found (package llvm-16); run scripts/setup.sh"
  echo "build-guests: using Debian's Rust with -Zbuild-std"
  # Commands need wasi-libc's crt1-command.o (its _start), reactors (the cdylib guests)
  # must not have it. As an archive member it is linked only where something needs
  # _start: the commands. (GNU ar cannot index wasm objects: llvm-ar.)
  crt="$guests/target/crt"
  mkdir -p "$crt"
  [ "$crt/libcrt1_command.a" -nt "$wasi_libc/crt1-command.o" ] \
    || "$llvm_ar" rcs "$crt/libcrt1_command.a" "$wasi_libc/crt1-command.o"
  # Env vars only for these commands: the host build below uses the normal toolchain.
  guest_cargo() {
    (cd "$guests" && \
      RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 WASI_HW_WASI_LIBC="$wasi_libc" \
      RUSTFLAGS="-C linker=$wasm_ld -C link-self-contained=no -L $wasi_libc -L $crt -C link-arg=-lcrt1_command" \
      /usr/bin/cargo build --release --target wasm32-wasip1 -Zbuild-std=std,panic_abort "$@")
  }
fi

# The wasi-usb proposal repository's names for the same WIT (package component:usb,
# interface usb-hotplug), generated from wit/usb, for the SDK's `component-usb-names`
# feature.
component_usb="$guests/target/wit/component-usb"
mkdir -p "$component_usb"
for f in "$root"/wit/usb/*.wit; do
  sed -e 's/^package wasi:usb@/package component:usb@/' \
      -e 's/\binterface hotplug\b/interface usb-hotplug/' -e 's/\bimport hotplug;/import usb-hotplug;/' \
      "$f" > "$component_usb/$(basename "$f").new"
  cmp -s "$component_usb/$(basename "$f").new" "$component_usb/$(basename "$f")" \
    && rm "$component_usb/$(basename "$f").new" \
    || mv "$component_usb/$(basename "$f").new" "$component_usb/$(basename "$f")"
done

guest_cargo
# Built on its own: in one build with the others, cargo would turn the SDK feature on for
# every guest.
guest_cargo -p lsusb-component

# The binaries are the workspace members under guests/drivers/ (the SDK is a library).
mkdir -p "$out"
names=()
for manifest in "$guests"/drivers/*/Cargo.toml; do
  dir=$(basename "$(dirname "$manifest")")
  if ! grep -q "\"drivers/$dir\"" "$guests/Cargo.toml"; then
    echo "build-guests: skipping drivers/$dir (not in the workspace members)" >&2
    continue
  fi
  name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n1)
  [ -n "$name" ] || die "no package name in $manifest"
  wasm="$guests/target/wasm32-wasip1/release/$name.wasm"
  # A cdylib (the export-shaped reactor guests) is named like its crate: `_` for `-`.
  [ -f "$wasm" ] || wasm="$guests/target/wasm32-wasip1/release/${name//-/_}.wasm"
  [ -f "$wasm" ] || die "$wasm was not built"
  # -p: the copy keeps cargo's mtime, so up-to-date .aot files are not compiled again.
  cp -p "$wasm" "$out/$name.wasm"
  names+=("$name")
done
echo "build-guests: ${#names[@]} guests in $out: ${names[*]}"

[ "$aot" -eq 1 ] || exit 0

if [ -n "${WASI_HW_HOST_BIN:-}" ]; then
  cli=$WASI_HW_HOST_BIN
  [ -x "$cli" ] || die "WASI_HW_HOST_BIN=$cli is not an executable"
else
  (cd "$root" && cargo build --release)
  cli="$root/target/release/wasi-hw"
fi
. "$root/scripts/lib/aot.sh"
failed=$(mktemp)
for name in "${names[@]}"; do
  for t in "${targets[@]}"; do
    if [ "$t" = x86_64 ]; then dst="$out/$name.aot"; else dst="$out/$name.$t.aot"; fi
    aot_slot
    { aot_compile "$cli" "$out/$name.wasm" "$dst" "$t" >/dev/null || echo "$name.wasm for $t" >> "$failed"; } &
  done
done
wait
if [ -s "$failed" ]; then
  die "AOT compilation failed: $(paste -sd, "$failed")"
fi
rm -f "$failed"
# The .wasm files too: a policy may require their signatures (run --require-signature).
for name in "${names[@]}"; do
  signing_sign "$cli" "$out/$name.wasm" || die "signing $name.wasm failed"
done
echo "build-guests: AOT (${targets[*]}) done, all signed"
