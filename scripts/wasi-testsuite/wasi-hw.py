"""wasi-testsuite runtime adapter for wasi-hw (WebAssembly/wasi-testsuite's
`run-tests --runtime-adapter`): runs each WASI preview1 test with `wasi-hw run`.

    WASI_HW=/path/to/wasi-hw WASI_HW_MODE=interp|aot|aot-file ./run-tests \
        --runtime-adapter /path/to/wasi-hw.py

WASI_HW_MODE: `interp` interprets the .wasm, `aot` (default) compiles it in memory,
`aot-file` runs a precompiled .aot made next to it with `wasi-hw compile`
(unsigned, so that mode adds --allow-unsigned).
"""

import os
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Tuple

WASI_HW = shlex.split(os.getenv("WASI_HW", "wasi-hw"))
MODE = os.getenv("WASI_HW_MODE", "aot")


def get_name() -> str:
    return "wasi-hw"


def get_version() -> str:
    out = subprocess.run(WASI_HW + ["--version"], encoding="UTF-8",
                         capture_output=True, check=True).stdout
    return out.split()[1]


def get_wasi_versions() -> List[str]:
    return ["wasm32-wasip1"]


def get_wasi_worlds() -> List[str]:
    return ["wasi:cli/command"]


def _module(test_path: str) -> List[str]:
    if MODE == "interp":
        return ["--interp", test_path]
    if MODE == "aot-file":
        aot = Path(test_path).with_suffix(".aot")
        if not aot.exists() or aot.stat().st_mtime < Path(test_path).stat().st_mtime:
            subprocess.run(WASI_HW + ["compile", test_path, "-o", str(aot)], check=True)
        return ["--allow-unsigned", str(aot)]
    return [test_path]


def compute_argv(test_path: str,
                 args_env_root: Tuple[List[str], Dict[str, str], Optional[str]],
                 proposals: List[str],
                 wasi_world: str,
                 wasi_version: str) -> List[str]:
    args, env, root = args_env_root
    argv = WASI_HW + ["run"]
    for k, v in env.items():
        argv += ["--env", f"{k}={v}"]
    if root:
        argv += ["--dir", f"{root}::/"]
    return argv + _module(test_path) + args
