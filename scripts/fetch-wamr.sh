#!/usr/bin/env bash
# Fetches the WAMR 2.4.3 C sources carried by the crate wamrx-sys 0.3.0 into
# third_party/wamr (git-ignored). runtime/wamr-sys and runtime/aotc compile them with AOT enabled; the
# crate's own interpreter-only library is never built or linked. Skipped when WAMR_ROOT
# points at an existing WAMR checkout or the sources are already unpacked.
#
# The crate comes through cargo's own client and the machine's configured registry: a
# throw-away manifest depends on `wamrx-sys = "=0.3.0"`, `cargo fetch` puts the .crate
# into cargo's cache, and we unpack it from there after a sha256 check (the same digest
# cargo records in a lockfile), so no registry address is written here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
me=setup
. "$root/scripts/lib.sh"
dest="$root/third_party/wamr"
crate=wamrx-sys
version=0.3.0
crate_sha256="ab9efc67ebd6c574684794e3a25933c58d2ad3f1b1078830f8c779974132e0d1"

if [ -n "${WAMR_ROOT:-}" ] && [ -d "$WAMR_ROOT/core/iwasm" ]; then exit 0; fi
if [ -f "$dest/core/iwasm/include/wasm_export.h" ]; then exit 0; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup: fetching WAMR 2.4.3 sources ($crate $version) with cargo"
mkdir -p "$tmp/fetch/src"
cat > "$tmp/fetch/Cargo.toml" <<EOF
[package]
name = "wasi-hw-wamr-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$crate = "=$version"

[workspace]
EOF
: > "$tmp/fetch/src/lib.rs"
cargo fetch --quiet --manifest-path "$tmp/fetch/Cargo.toml"

cargo_home=${CARGO_HOME:-$HOME/.cargo}
file=$(ls -1 "$cargo_home"/registry/cache/*/"$crate-$version.crate" 2>/dev/null | head -n1)
[ -n "$file" ] || die "cargo fetch left no $crate-$version.crate in $cargo_home/registry/cache"
echo "$crate_sha256  $file" | sha256sum -c --quiet - \
  || die "$file does not have the pinned sha256 $crate_sha256"
tar -xzf "$file" -C "$tmp"
mkdir -p "$root/third_party"
rm -rf "$dest"
mv "$tmp/$crate-$version/wasm-micro-runtime" "$dest"
