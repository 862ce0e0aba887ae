# AOT compilation that skips up-to-date outputs (source it; bash). Several stages compile
# the same guests (the guest build, the armv7 cross build, the VM payloads, the benchmark):
# each .aot is compiled once per change of its .wasm, of the compiler or of the options,
# and signed (OUT.sig) with the development key of scripts/lib/signing.sh.

# aot_compile CLI WASM OUT TARGET [COMPILER OPTIONS...]: CLI compile WASM -o OUT --target
# TARGET OPTIONS, unless OUT is newer than WASM and CLI and was made with the same target
# and options (recorded in OUT.opts). Prints "compiled" or "up to date". Signs OUT either
# way (milliseconds; the key may have changed since).
aot_compile() {
  local cli=$1 wasm=$2 out=$3 target=$4
  shift 4
  local opts="--target $target $*"
  if [ -f "$out" ] && [ "$out" -nt "$wasm" ] && [ "$out" -nt "$cli" ] &&
    [ "$(cat "$out.opts" 2>/dev/null)" = "$opts" ]; then
    signing_sign "$cli" "$out" || return 1
    echo "up to date"
    return 0
  fi
  rm -f "$out.opts"
  "$cli" compile "$wasm" -o "$out" --target "$target" "$@" || return 1
  signing_sign "$cli" "$out" || return 1
  echo "$opts" > "$out.opts"
  echo "compiled"
}

# aot_slot: waits until fewer compilations run in the background than there are cores
# (each is one LLVM thread). Callers start `aot_compile ... &` after it and `wait` at the
# end; a failed one records itself, since `wait` alone loses exit statuses.
aot_slot() {
  local cores
  cores=$(nproc 2>/dev/null || echo 1)
  while [ "$(jobs -rp | wc -l)" -ge "$cores" ]; do
    wait -n 2>/dev/null || true
  done
}

. "$(dirname "${BASH_SOURCE[0]}")/signing.sh"
