#!/usr/bin/env bash
# Installs everything wasi-hw needs on a fresh Debian 12 (bookworm) x86_64 machine:
# apt packages for the WAMR build (clang/libclang for bindgen, LLVM 16 for the AOT
# compiler), the Debian Rust toolchain used for wasm32 guests and armv7 cross builds,
# and the WAMR 2.4.3 C sources (from the crates.io crate wamrx-sys 0.3.0).
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

packages=(
  clang libclang-dev llvm-16-dev lld-16 zlib1g-dev libzstd-dev
  rustc-web cargo-web rust-web-src wasi-libc wabt
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static
  fonts-dejavu-core
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$here/fetch-wamr.sh"
