#!/usr/bin/env bash
# Fetches the WAMR 2.4.3 C sources carried by the crates.io crate wamrx-sys 0.3.0 into
# third_party/wamr (git-ignored). build.rs compiles them itself with AOT enabled; the
# crate's own interpreter-only library is never built or linked. Skipped when WAMR_ROOT
# points at an existing WAMR checkout or the sources are already unpacked.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/third_party/wamr"
crate_url="https://static.crates.io/crates/wamrx-sys/wamrx-sys-0.3.0.crate"
crate_sha256="ab9efc67ebd6c574684794e3a25933c58d2ad3f1b1078830f8c779974132e0d1"

if [ -n "${WAMR_ROOT:-}" ] && [ -d "$WAMR_ROOT/core/iwasm" ]; then exit 0; fi
if [ -f "$dest/core/iwasm/include/wasm_export.h" ]; then exit 0; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup: downloading WAMR 2.4.3 sources (wamrx-sys 0.3.0 from crates.io)"
curl -fsSL --retry 3 -o "$tmp/wamrx.crate" "$crate_url"
echo "$crate_sha256  $tmp/wamrx.crate" | sha256sum -c --quiet -
tar -xzf "$tmp/wamrx.crate" -C "$tmp"
mkdir -p "$root/third_party"
rm -rf "$dest"
mv "$tmp/wamrx-sys-0.3.0/wasm-micro-runtime" "$dest"
