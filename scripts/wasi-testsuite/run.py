#!/usr/bin/env python3
"""Runs WebAssembly/wasi-testsuite (a checkout of its `prod/testsuite-base` branch, which
has the built tests; obtained outside this repository and never committed) against
wasi-hw through the adapter next to this file, in one mode.

    scripts/wasi-testsuite/run.py SUITE_DIR [interp|aot|aot-file] [--json FILE]

Calls the suite's own harness (test-runner/wasi_test_runner). It needs Python >= 3.12
for two things: finding the test directories (Path.walk, walk_up; done here with
os.walk) and `value in SomeEnum` (3.12's semantics are installed below), so Debian 12's
Python 3.11 runs the suite.
"""

import enum
import os
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
if len(sys.argv) < 2:
    sys.exit(__doc__)
suite = Path(sys.argv[1]).resolve()
mode = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else "aot"
json_out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
os.environ["WASI_HW_MODE"] = mode
os.environ.setdefault("WASI_HW", str(here.parent.parent / "target/release/wasi-hw"))

if sys.version_info < (3, 12):
    def _contains(cls, value):
        if isinstance(value, cls):
            return True
        try:
            cls(value)
            return True
        except ValueError:
            return False
    enum.EnumMeta.__contains__ = _contains

sys.path.insert(0, str(suite / "test-runner"))
from wasi_test_runner import runtime_adapter  # noqa: E402
from wasi_test_runner.harness import run_tests  # noqa: E402

# The harness resolves test paths relative to the working directory.
os.chdir(suite)
dirs = sorted(Path(os.path.relpath(d, suite))
              for d, _, files in os.walk(suite / "tests") if "manifest.json" in files)
adapter = runtime_adapter.RuntimeAdapter(str(here / "wasi-hw.py"))
sys.exit(run_tests([adapter], dirs, color=False, json_log_file=json_out))
