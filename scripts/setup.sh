#!/usr/bin/env bash
# Installs everything wasi-hw needs on a fresh Debian 12 (bookworm) x86_64 machine:
# apt packages for the WAMR build (clang/libclang for bindgen, LLVM 16 for the AOT
# compiler), the Debian Rust toolchain used for wasm32 guests and the cross builds
# (armv7, aarch64, mipsel: Debian's cross gcc, qemu-user),
# QEMU 10 for the VM tests, the WAMR 2.4.3 C sources (from the crate wamrx-sys 0.3.0), and
# this machine's development signing key (trusted in /etc/wasi-hw/keys; see lib/signing.sh).
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

packages=(
  clang libclang-dev llvm-16 llvm-16-dev lld-16 zlib1g-dev libzstd-dev
  rustc-web cargo-web rust-web-src wasi-libc wabt
  qemu-user-static fonts-dejavu-core signify-openbsd valgrind
  # The fleet tests' OCI registry (the CNCF distribution server), independent OCI client,
  # htpasswd for the registry's login and what their token server is written with; their
  # MQTT broker and subscriber.
  docker-registry skopeo apache2-utils openssl python3-jwt python3-cryptography
  mosquitto mosquitto-clients
)
# The cross toolchains of the gateway arches, from their table.
. "$here/cross/arch.sh"
for arch in "${cross_arches[@]}"; do
  cross_arch "$arch"
  packages+=("${x_packages[@]}")
done
. "$here/lib/debian.sh"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  debian_apt_update
  DEBIAN_FRONTEND=noninteractive $debian_sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# QEMU >= 10 for the VM tests: bookworm's 7.2 lacks what they use and conflicts with the
# machine's qemu-utils 10, so on bookworm it comes from backports (same archive as the rest).
qemu_major() { command -v "$1" >/dev/null 2>&1 && "$1" --version | sed -n '1s/.*version \([0-9]*\)\..*/\1/p'; }
qemu_ok() {
  local q v
  for q in qemu-system-x86_64 qemu-system-arm qemu-system-aarch64 qemu-system-mipsel; do
    v=$(qemu_major "$q" || true)
    [ -n "$v" ] && [ "$v" -ge 10 ] || return 1
  done
}
if ! qemu_ok; then
  echo "setup: installing QEMU >= 10 (qemu-system-x86 qemu-system-arm qemu-system-mips)"
  target=()
  if [ "$debian_codename" = bookworm ]; then
    debian_ensure_backports
    target=(-t bookworm-backports)
  fi
  DEBIAN_FRONTEND=noninteractive $debian_sudo apt-get install -y -qq --no-install-recommends \
    "${target[@]}" qemu-system-x86 qemu-system-arm qemu-system-mips >/dev/null
  qemu_ok || die "QEMU >= 10 not available after the install"
fi

"$here/fetch-wamr.sh"

# The development key pair that signs the .aot files this machine builds, and its public
# key trusted where `wasi-hw run` looks by default. signify-openbsd makes it (the runtime is
# not built yet); -n: no passphrase, as the build signs unattended.
. "$here/lib/signing.sh"
if [ ! -f "$signing_secret" ]; then
  echo "setup: making the development signing key $signing_secret"
  mkdir -p "$signing_dir"
  chmod 700 "$signing_dir"
  rm -f "$signing_public"
  signify-openbsd -G -n -c "wasi-hw development key of $(hostname)" -p "$signing_public" -s "$signing_secret"
fi
if ! cmp -s "$signing_public" "$signing_trusted"; then
  echo "setup: trusting $signing_public as $signing_trusted"
  $debian_sudo install -D -m 0644 "$signing_public" "$signing_trusted"
fi
