# The pinned Debian packages of the VM images (source it after scripts/lib/debian.sh, with
# $cache and $vmdir set). scripts/vm/packages.lock says which exact package version each
# machine boots and the sha256 of its .deb; nothing else is ever taken, so a Debian point
# release cannot change what CI runs without a commit. scripts/vm/pin.sh moves the pins.

vm_lock=$vmdir/packages.lock

# vm_arch MACHINE: the Debian architecture of MACHINE's packages.
vm_arch() {
  case "$1" in
    x86_64) echo amd64 ;;
    raspi2b) echo armhf ;;
    raspi3b) echo arm64 ;;
    malta) echo mipsel ;;
    *) echo "vm: unknown machine '$1'" >&2; return 1 ;;
  esac
}

# vm_meta MACHINE ROLE: the package whose current dependency pin.sh follows for ROLE.
vm_meta() {
  case "$1:$2" in
    x86_64:kernel) echo linux-image-amd64 ;;
    raspi2b:kernel) echo linux-image-armmp ;;
    raspi3b:kernel) echo linux-image-arm64 ;;
    malta:kernel) echo linux-image-4kc-malta ;;
    *:busybox) echo busybox-static ;;
    *) echo "vm: no package role '$2' for $1" >&2; return 1 ;;
  esac
}

# vm_pin MACHINE ROLE: "PACKAGE VERSION SHA256" from the lock file.
vm_pin() {
  local line
  line=$(awk -v m="$1" -v r="$2" '$1 == m && $2 == r { print $3, $4, $5 }' "$vm_lock")
  [ -n "$line" ] || { echo "vm: $vm_lock has no '$1 $2' line" >&2; return 1; }
  echo "$line"
}

# vm_apt MACHINE: sets debian_apt_opts to the private apt state of MACHINE's architecture.
vm_apt() {
  local arch
  arch=$(vm_arch "$1") || return 1
  debian_private_apt "$arch" "$cache/apt-$arch"
}

# vm_current MACHINE ROLE: "PACKAGE VERSION" that the archive offers for ROLE today (the
# versioned kernel package the meta package depends on). Needs vm_apt first.
vm_current() {
  local meta pkg ver
  meta=$(vm_meta "$1" "$2") || return 1
  pkg=$meta
  if [ "$2" = kernel ]; then
    pkg=$(apt-cache "${debian_apt_opts[@]}" depends "$meta" 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
  fi
  [ -n "$pkg" ] || return 1
  ver=$(apt-cache "${debian_apt_opts[@]}" policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
  [ -n "$ver" ] && [ "$ver" != "(none)" ] || return 1
  echo "$pkg $ver"
}

# vm_download MACHINE PACKAGE VERSION DIR: `apt-get download PACKAGE=VERSION` into DIR;
# prints the .deb's path.
vm_download() {
  local arch
  arch=$(vm_arch "$1") || return 1
  (cd "$4" && apt-get "${debian_apt_opts[@]}" download -q "$2:$arch=$3" >/dev/null 2>"$4/err") || return 1
  ls "$4"/*.deb
}

# vm_pkg_dir MACHINE ROLE: the pinned package of ROLE, unpacked (not installed) under the
# cache; prints the directory. Downloads and checks it unless the cache has it already.
vm_pkg_dir() {
  local pin pkg ver sha arch dir dl deb got now
  pin=$(vm_pin "$1" "$2") || return 1
  read -r pkg ver sha <<<"$pin"
  arch=$(vm_arch "$1")
  dir=$cache/$arch/${pkg}_$ver
  if [ -f "$dir/.sha256" ] && [ "$(cat "$dir/.sha256")" = "$sha" ]; then
    echo "$dir"
    return 0
  fi
  vm_apt "$1" || return 1
  mkdir -p "$cache/$arch"
  dl=$(mktemp -d "$cache/dl.XXXXXX")
  echo "vm: downloading $pkg $ver ($arch, pinned in scripts/vm/packages.lock)" >&2
  if ! deb=$(vm_download "$1" "$pkg" "$ver" "$dl"); then
    # Once more with a fresh index: the cached one may predate a change of the archive.
    FORCE_UPDATE=1 vm_apt "$1" || true
    if ! deb=$(vm_download "$1" "$pkg" "$ver" "$dl"); then
      sed 's/^/vm:   /' "$dl/err" >&2
      rm -rf "$dl"
      now=$(vm_current "$1" "$2" || echo "nothing it can tell")
      {
        echo "vm: error: the archive no longer has $pkg $ver ($arch), pinned for $1 in scripts/vm/packages.lock."
        echo "vm:   It offers $now now. To move: scripts/vm/pin.sh $1 (writes the new version and"
        echo "vm:   its sha256 into the lock), then scripts/vm/ci.sh $1, and commit the lock with the results."
      } >&2
      return 1
    fi
  fi
  got=$(sha256sum "$deb" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    rm -rf "$dl"
    echo "vm: error: $(basename "$deb") has sha256 $got, scripts/vm/packages.lock pins $sha: refusing it" >&2
    return 1
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  dpkg-deb -x "$deb" "$dir"
  echo "$sha" > "$dir/.sha256"
  rm -rf "$dl"
  # Drop unpacked packages no pin names any more (superseded kernels are large).
  local old b
  for old in "$cache/$arch"/*_*; do
    [ -d "$old" ] || continue
    b=$(basename "$old")
    awk -v p="${b%%_*}" -v v="${b#*_}" '$3 == p && $4 == v { f = 1 } END { exit !f }' "$vm_lock" || rm -rf "$old"
  done
  echo "$dir"
}
