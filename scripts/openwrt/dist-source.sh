#!/usr/bin/env bash
# Makes the project's own source tarball, WAMR sources included, for builds that must not
# download anything (the OpenWrt feed Makefile builds from it):
# target/dist/wasi-hw-VERSION-src.tar.gz with the tracked files of HEAD under
# wasi-hw-VERSION/ and the WAMR 2.4.3 sources (scripts/fetch-wamr.sh) under
# wasi-hw-VERSION/third_party/wamr; its sha256 beside it (.sha256). Timestamps are the last
# commit's, owners root, so the same commit gives the same tarball.
#
#   scripts/openwrt/dist-source.sh [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=$root/target/dist
case "${1:-}" in
  --out) out=$2 ;;
  "") ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
name=wasi-hw-$version
scripts/fetch-wamr.sh
wamr=${WAMR_ROOT:-$root/third_party/wamr}
mtime=$(git log -1 --format=%ct)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive --format=tar --prefix="$name/" HEAD > "$tmp/src.tar"
mkdir -p "$tmp/$name/third_party"
cp -a "$wamr" "$tmp/$name/third_party/wamr"
tar -C "$tmp" --sort=name --mtime="@$mtime" --owner=0 --group=0 --numeric-owner \
  -rf "$tmp/src.tar" "$name/third_party/wamr"
mkdir -p "$out"
gzip -n -9 < "$tmp/src.tar" > "$out/$name-src.tar.gz"
(cd "$out" && sha256sum "$name-src.tar.gz" > "$name-src.tar.gz.sha256")
echo "dist-source: $out/$name-src.tar.gz ($(stat -c %s "$out/$name-src.tar.gz") bytes)"
