#!/usr/bin/env python3
"""Tiny QMP (QEMU Machine Protocol) client, stdlib only.

Library:  q = QMP("/path/qmp.sock"); q.cmd("qom-set", path="/machine/peripheral/t", ...)
CLI:      qmp.py SOCKET '{"execute": "query-status"}'      (prints the reply as JSON)
          qmp.py SOCKET hmp 'info qtree'                    (human monitor command, prints text)
"""

import json
import socket
import sys
import time


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, connect_timeout=10.0):
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                # QEMU creates the socket while it starts; retry until the deadline.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(30)
        self.rfile = self.sock.makefile("rb")
        self.events = []
        greeting = self._recv()
        if "QMP" not in greeting:
            raise QMPError(f"unexpected QMP greeting: {greeting}")
        self.execute({"execute": "qmp_capabilities"})

    def _recv(self):
        line = self.rfile.readline()
        if not line:
            raise QMPError("QMP connection closed")
        return json.loads(line)

    def execute(self, msg):
        """Send one QMP message (dict) and return the whole reply dict ({"return"} or {"error"})."""
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._recv()
            if "event" in r:
                # Asynchronous events (DEVICE_DELETED, ...) arrive between replies; keep them.
                self.events.append(r)
                continue
            return r

    def cmd(self, name, **arguments):
        """Run a command and return its "return" value; raise QMPError on an error reply."""
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        r = self.execute(msg)
        if "error" in r:
            raise QMPError(f"{name}: {r['error'].get('class')}: {r['error'].get('desc')}")
        return r.get("return")

    def hmp(self, command_line):
        return self.cmd("human-monitor-command", **{"command-line": command_line})

    def close(self):
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    q = QMP(argv[1])
    if argv[2] == "hmp":
        print(q.hmp(" ".join(argv[3:])), end="")
        return 0
    r = q.execute(json.loads(argv[2]))
    print(json.dumps(r))
    return 1 if "error" in r else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
