#!/usr/bin/env python3
"""Run a test VM and turn its console into an exit status.

  run.py --timeout SECS --qmp SOCKET [--log FILE] -- qemu-system-... ARGS

QEMU must have its serial console on stdio (`-serial stdio`) and a QMP server on SOCKET
(`-qmp unix:SOCKET,server=on,wait=off`). Every console line is echoed to our stdout (and to
--log, prefixed with the wall-clock seconds since start). Lines the guest prints
(scripts/vm/guest/):
  VMTEST-QMP <id> <json>   run that QMP command; the reply is typed into the console as
                           "VMTEST-REPLY <id> <json>" (see vm_qmp in guest/vmtest.sh)
  VMTEST-EXIT=<n>          the guest test's exit status: ours, once QEMU has exited
  VMTEST-BOOTED ...        /init has started (see --boot-timeout)
Exit status: the guest's, or 123 when /init did not start within --boot-timeout, 124 on
timeout, 125 when QEMU ended without VMTEST-EXIT (kernel panic, crash), 126 when QEMU could
not start.
"""

import argparse
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP, QMPError  # noqa: E402

QMP_RE = re.compile(r"VMTEST-QMP (\S+) (\{.*\})\s*$")
EXIT_RE = re.compile(r"VMTEST-EXIT=(\d+)")
BOOT_MARK = "VMTEST-BOOTED"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument(
        "--boot-timeout", type=float, default=0,
        help="exit 123 when the guest's /init has not started within this many seconds",
    )
    ap.add_argument("--qmp", required=True)
    ap.add_argument("--log")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no QEMU command given")

    log = open(a.log, "w", encoding="utf-8") if a.log else None
    t0 = time.monotonic()

    def out(line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if log:
            # The log file carries the host's wall-clock offset of every line (timing facts).
            log.write(f"[{time.monotonic() - t0:7.2f}] {line}\n")
            log.flush()

    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
        )
    except OSError as e:
        out(f"vm: cannot start {cmd[0]}: {e}")
        return 126

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "console")
    sel.register(proc.stderr, selectors.EVENT_READ, "qemu")
    bufs = {"console": b"", "qemu": b""}
    qmp = None
    exit_code = None
    deadline = t0 + a.timeout

    booted = False

    def handle(kind, raw):
        nonlocal qmp, exit_code, booted
        line = raw.decode("utf-8", "replace").rstrip("\r\n").replace("\r", "")
        if kind == "qemu":
            out(f"qemu: {line}")
            return
        out(line)
        if not booted and BOOT_MARK in line:
            booted = True
            out(f"vm: [{time.monotonic() - t0:6.2f}s] guest /init started")
        m = QMP_RE.search(line)
        if m:
            req_id, req = m.group(1), m.group(2)
            try:
                if qmp is None:
                    qmp = QMP(a.qmp)
                reply = qmp.execute(json.loads(req))
            except (OSError, ValueError, QMPError) as e:
                reply = {"error": {"class": "HarnessError", "desc": str(e)}}
            text = json.dumps(reply, separators=(",", ":"))
            out(f"vm: [{time.monotonic() - t0:6.2f}s] QMP {req} -> {text}")
            proc.stdin.write(f"VMTEST-REPLY {req_id} {text}\n".encode())
            proc.stdin.flush()
        m = EXIT_RE.search(line)
        if m and exit_code is None:
            exit_code = int(m.group(1))

    timed_out = False
    no_boot = False
    powering_off = False
    open_streams = 2
    while open_streams:
        if exit_code is not None and not powering_off:
            # The guest has reported: give its poweroff a moment, then QEMU is quit anyway
            # (raspi2b halts rather than powers off).
            powering_off = True
            deadline = min(deadline, time.monotonic() + 3)
        if a.boot_timeout and not booted and time.monotonic() - t0 > a.boot_timeout:
            no_boot = True
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = exit_code is None
            break
        for key, _ in sel.select(timeout=min(remaining, 1.0)):
            kind = key.data
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
                if bufs[kind]:
                    handle(kind, bufs[kind])
                    bufs[kind] = b""
                continue
            bufs[kind] += chunk
            while b"\n" in bufs[kind]:
                raw, bufs[kind] = bufs[kind].split(b"\n", 1)
                handle(kind, raw)

    if proc.poll() is None and exit_code is not None:
        try:
            (qmp or QMP(a.qmp, connect_timeout=1)).execute({"execute": "quit"})
            proc.wait(5)
        except (OSError, ValueError, QMPError, subprocess.TimeoutExpired):
            pass
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if qmp:
        qmp.close()
    elapsed = time.monotonic() - t0
    if no_boot:
        out(f"vm: guest /init did not start within {a.boot_timeout:.0f}s: VM killed")
        return 123
    if timed_out:
        out(f"vm: TIMEOUT after {a.timeout:.0f}s: VM killed")
        return 124
    if exit_code is None:
        out(f"vm: QEMU exited (status {proc.returncode}) after {elapsed:.1f}s without VMTEST-EXIT")
        return 125
    out(f"vm: guest test exit status {exit_code}, VM wall time {elapsed:.1f}s")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
