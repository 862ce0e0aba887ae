#!/usr/bin/env bash
# Moves the VM images' package pins (scripts/vm/packages.lock) to what the Debian archive
# offers today: for each machine, the kernel its meta package depends on (linux-image-amd64,
# linux-image-armmp, linux-image-arm64, linux-image-4kc-malta) and busybox-static, with the sha256 of each downloaded .deb.
#
#   scripts/vm/pin.sh [x86_64|raspi2b|raspi3b|malta]...     default: every machine
#
# Then run scripts/vm/ci.sh (and scripts/bench.sh for the in-VM numbers) and commit the lock
# with the results: the pins change only by a commit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
vmdir=$repo/scripts/vm
. "$repo/scripts/lib.sh"
cache=${VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasi-hw/vm}
. "$repo/scripts/lib/debian.sh"
. "$vmdir/packages.sh"

machines=("$@")
[ ${#machines[@]} -gt 0 ] || machines=(x86_64 raspi2b raspi3b malta)
mkdir -p "$cache"
new=$(mktemp)
trap 'rm -f "$new"' EXIT
grep '^#' "$vm_lock" > "$new"
for m in x86_64 raspi2b raspi3b malta; do
  for role in kernel busybox; do
    if [[ " ${machines[*]} " != *" $m "* ]]; then
      awk -v m="$m" -v r="$role" '$1 == m && $2 == r' "$vm_lock" >> "$new"
      continue
    fi
    FORCE_UPDATE=1 vm_apt "$m"
    current=$(vm_current "$m" "$role") || die "the archive offers no $role for $m"
    read -r pkg ver <<<"$current"
    dl=$(mktemp -d)
    deb=$(vm_download "$m" "$pkg" "$ver" "$dl") || { cat "$dl/err" >&2; exit 1; }
    sha=$(sha256sum "$deb" | cut -d' ' -f1)
    rm -rf "$dl"
    old=$(vm_pin "$m" "$role" 2>/dev/null | cut -d' ' -f1-2 || true)
    echo "pin: $m $role: ${old:-none} -> $pkg $ver"
    echo "$m $role $pkg $ver $sha" >> "$new"
  done
done
cp "$new" "$vm_lock"
