# The development signing key (source it; bash). An .aot is native code, so `wasi-hw run`
# loads one only when a trusted key signed it: scripts/setup.sh makes this machine's
# development key pair (with signify-openbsd, outside the repository) and trusts its public
# key in /etc/wasi-hw/keys; aot.sh signs every .aot it compiles with it. No key is ever
# committed or packaged. WASI_HW_DEV_KEY_DIR moves the key pair.

signing_dir=${WASI_HW_DEV_KEY_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/wasi-hw}
signing_secret=$signing_dir/dev.sec
signing_public=$signing_dir/dev.pub
# The runtime's default keys directory, and the dev key's name in it.
signing_keys_dir=/etc/wasi-hw/keys
signing_trusted=$signing_keys_dir/wasi-hw-dev.pub

# signing_sign CLI FILE...: writes FILE.sig for each FILE with the development key.
signing_sign() {
  local cli=$1
  shift
  [ -f "$signing_secret" ] || {
    echo "signing: $signing_secret missing: run scripts/setup.sh (it makes the development key)" >&2
    return 1
  }
  "$cli" sign -s "$signing_secret" "$@" >/dev/null
}

# signing_keys_dir_for DIR: DIR/keys, a keys directory that trusts only the development key
# (for payloads and packages tested elsewhere: VMs, qemu-user runs of the package).
signing_keys_dir_for() {
  mkdir -p "$1/keys"
  cp "$signing_public" "$1/keys/wasi-hw-dev.pub"
  echo "$1/keys"
}
