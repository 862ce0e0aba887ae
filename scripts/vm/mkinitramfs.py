#!/usr/bin/env python3
"""Build a gzip'd cpio (newc) initramfs for the VM tests, without root and without cpio(1).

Contents: a static busybox (applet links are made by /init at boot, so the busybox may be of
another architecture than the host), the requested kernel modules plus their dependency
closure (read from each module's own .modinfo `depends=`, so no depmod is needed on the host)
with a matching modules.dep for busybox modprobe, /init, /dev/console, and payload trees.

Usage:
  mkinitramfs.py --out initrd.gz --busybox BB --init INIT --modroot LIB_MODULES_KVER \
      [--module NAME ...] [--tree SRC_DIR:DEST_DIR ...] [--file SRC:DEST[:MODE] ...]
"""

import argparse
import gzip
import io
import lzma
import os
import stat
import sys


class Cpio:
    """Minimal newc writer: every entry is owned by root, with a fixed mtime (reproducible)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1
        self.seen = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(
            "%08x" % v
            for v in (
                self.ino, mode, 0, 0, nlink, 0, len(data),
                0, 0, rdev[0], rdev[1], len(name_b), 0,
            )
        )
        self.ino += 1
        self.buf.write(hdr.encode() + name_b)
        self.buf.write(b"\0" * (-(110 + len(name_b)) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * (-len(data) % 4))

    def dir(self, path):
        path = path.strip("/")
        if not path or path in self.seen:
            return
        parent = os.path.dirname(path)
        if parent:
            self.dir(parent)
        self.seen.add(path)
        self._entry(path, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, path, data, mode=0o644):
        path = path.strip("/")
        if path in self.seen:
            raise SystemExit(f"mkinitramfs: duplicate path {path}")
        self.dir(os.path.dirname(path))
        self.seen.add(path)
        self._entry(path, stat.S_IFREG | mode, data)

    def symlink(self, path, target):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self.seen.add(path)
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, path, major, minor, mode=0o600):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self.seen.add(path)
        self._entry(path, stat.S_IFCHR | mode, rdev=(major, minor))

    def tree(self, src, dest):
        for root, dirs, files in os.walk(src):
            dirs.sort()
            rel = os.path.relpath(root, src)
            ddir = dest if rel == "." else os.path.join(dest, rel)
            self.dir(ddir)
            for f in sorted(files):
                p = os.path.join(root, f)
                if os.path.islink(p):
                    self.symlink(os.path.join(ddir, f), os.readlink(p))
                    continue
                with open(p, "rb") as fh:
                    data = fh.read()
                mode = 0o755 if os.access(p, os.X_OK) else 0o644
                self.file(os.path.join(ddir, f), data, mode)

    def finish(self):
        self._entry("TRAILER!!!", 0, nlink=1)
        return self.buf.getvalue()


def norm(name):
    return name.replace("-", "_")


def index_modules(modroot):
    """Map normalised module name -> path relative to modroot, for every .ko[.xz] file."""
    idx = {}
    for root, _, files in os.walk(os.path.join(modroot, "kernel")):
        for f in files:
            for ext in (".ko", ".ko.xz", ".ko.zst", ".ko.gz"):
                if f.endswith(ext):
                    rel = os.path.relpath(os.path.join(root, f), modroot)
                    idx[norm(f[: -len(ext)])] = rel
    return idx


def module_bytes(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        raise SystemExit(f"mkinitramfs: zstd-compressed module {path} is not supported")
    return data


def modinfo_depends(data):
    """The `depends=` value of a module's .modinfo section (comma separated names)."""
    key = b"\0depends="
    i = data.find(key)
    if i < 0:
        return []
    end = data.index(b"\0", i + len(key))
    val = data[i + len(key) : end].decode()
    return [d for d in val.split(",") if d]


def add_modules(cpio, modroot, names):
    idx = index_modules(modroot)
    kver = os.path.basename(os.path.normpath(modroot))
    deps = {}  # normalised name -> list of normalised deps
    blobs = {}
    todo = [norm(n) for n in names]
    while todo:
        n = todo.pop()
        if n in deps:
            continue
        if n not in idx:
            raise SystemExit(f"mkinitramfs: module {n} not found under {modroot}")
        data = module_bytes(os.path.join(modroot, idx[n]))
        blobs[n] = data
        deps[n] = [norm(d) for d in modinfo_depends(data)]
        todo.extend(deps[n])

    def relko(n):
        rel = idx[n]
        for ext in (".xz", ".zst", ".gz"):
            if rel.endswith(ext):
                rel = rel[: -len(ext)]
        return rel

    # modules.dep lists the full closure of each module so that loading it in reverse order
    # is a valid load order (what depmod writes and busybox/kmod modprobe expect).
    def closure(n):
        post = []

        def visit(m):
            for d in deps[m]:
                if d not in post:
                    visit(d)
                    post.append(d)

        visit(n)
        return list(reversed(post))

    lines = []
    for n in sorted(deps):
        cpio.file(f"lib/modules/{kver}/{relko(n)}", blobs[n])
        lines.append(f"{relko(n)}: " + " ".join(relko(d) for d in closure(n)))
    cpio.file(f"lib/modules/{kver}/modules.dep", ("\n".join(lines) + "\n").encode())
    return sorted(deps)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--busybox", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--modroot", required=True, help="unpacked lib/modules/<kver> directory")
    ap.add_argument("--module", action="append", default=[])
    ap.add_argument("--tree", action="append", default=[], help="SRC_DIR:DEST_DIR")
    ap.add_argument("--file", action="append", default=[], help="SRC:DEST[:octal mode]")
    a = ap.parse_args()

    c = Cpio()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run", "etc", "root"):
        c.dir(d)
    # The kernel opens /dev/console for init before devtmpfs is mounted.
    c.chardev("dev/console", 5, 1)
    with open(a.busybox, "rb") as fh:
        c.file("bin/busybox", fh.read(), 0o755)
    with open(a.init, "rb") as fh:
        c.file("init", fh.read(), 0o755)
    mods = add_modules(c, a.modroot, a.module) if a.module else []
    for spec in a.tree:
        src, dest = spec.split(":", 1)
        c.tree(src, dest)
    for spec in a.file:
        parts = spec.split(":")
        src, dest = parts[0], parts[1]
        mode = int(parts[2], 8) if len(parts) > 2 else (0o755 if os.access(src, os.X_OK) else 0o644)
        with open(src, "rb") as fh:
            c.file(dest, fh.read(), mode)
    raw = c.finish()
    with open(a.out, "wb") as fh:
        fh.write(gzip.compress(raw, compresslevel=6, mtime=0))
    print(
        f"mkinitramfs: {a.out}: {len(raw) // 1024} KiB cpio, {len(mods)} modules ({' '.join(mods)})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
