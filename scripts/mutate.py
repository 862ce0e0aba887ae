#!/usr/bin/env python3
"""Mutation campaign: corrupted driver modules must never crash the host.

Corrupts each shipped driver's .aot and .wasm (target/guests, built and signed by
scripts/build-guests.sh) with seeded random byte flips, truncations and insertions, and
runs every mutant with `wasi-hw run` twice:

  signed    the original's .sig beside the mutant (bit rot after signing, a half-written
            update) and signatures required (.wasm: --require-signature): every mutant must
            be refused with a clean error;
  unsigned  --allow-unsigned, no .sig: what the loaders do with the corrupt bytes.

Each run is classified as a clean error (exit 1 with the host's one-line "error: ..."),
ran (any other exit status: the guest ran, possibly with altered code), crash (death by a
signal) or hang (killed after --timeout). Prints a Markdown table; exits 1 if any signed
run was not a clean error (the issue's "0 crashes when signatures are required").

  scripts/mutate.py [--mutants N] [--seed S] [--drivers a,b] [--jobs J] [--timeout SEC]
                    [--cli PATH] [--keys DIR] [--keep DIR] [--smoke]
    --smoke   20 mutants of two drivers (CI: a few seconds)
    --keep    copy crashing and hanging unsigned mutants there, for reproduction
"""

import argparse
import collections
import concurrent.futures
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The drivers the OpenWrt package ships, each with grants and arguments that make the
# unmodified module run to completion on the simulated devices.
DRIVERS = {
    "temp-sensor": (["--i2c", "sim:0x48"], ["--bus", "sim", "--count", "1"]),
    "eeprom": (["--i2c", "sim:0x50"], ["--bus", "sim", "read", "0", "8"]),
    "i2c-tool": (["--i2c", "sim:0x48"], ["--bus", "sim", "read", "0x48", "2"]),
    "lsusb": (["--usb", "sim"], []),
    "usb-storage": (["--usb", "sim"], ["1"]),
    "hid": (["--usb", "sim"], ["--count", "2"]),
}
KINDS = ("aot", "wasm")
MODES = ("signed", "unsigned")
OUTCOMES = ("clean error", "ran", "crash", "hang")


def mutate(data, rng):
    """One random corruption: flip 1-8 bytes, truncate, or insert 1-16 random bytes."""
    b = bytearray(data)
    how = rng.choice(("flip", "truncate", "insert"))
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= rng.randint(1, 255)
    elif how == "truncate":
        del b[rng.randrange(len(b)):]
    else:
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(b), how


def run(cmd, timeout):
    """(outcome, detail) of one run."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hang", ""
    err = p.stderr.decode(errors="replace")
    if p.returncode < 0:
        return "crash", signal.Signals(-p.returncode).name
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if p.returncode == 1 and last.startswith("error: "):
        return "clean error", last
    return "ran", str(p.returncode)


def command(cli, keys, mode, kind, module, driver):
    grants, args = DRIVERS[driver]
    cmd = [cli, "run", "--keys", keys] + grants
    if kind == "wasm":
        cmd.append("--interp")  # as a gateway build runs a .wasm
    if mode == "signed":
        if kind == "wasm":
            cmd.append("--require-signature")
    else:
        cmd.append("--allow-unsigned")
    return cmd + [module, "--"] + args


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mutants", type=int, default=1000)
    ap.add_argument("--seed", default="wasi-hw")
    ap.add_argument("--drivers", default=",".join(DRIVERS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--cli", default=os.path.join(ROOT, "target/release/wasi-hw"))
    ap.add_argument("--keys", default="/etc/wasi-hw/keys")
    ap.add_argument("--keep")
    ap.add_argument("--smoke", action="store_true")
    o = ap.parse_args()
    drivers = o.drivers.split(",")
    if o.smoke:
        o.mutants, drivers = 20, ["temp-sensor", "lsusb"]
    guests = os.path.join(ROOT, "target/guests")
    if not os.access(o.cli, os.X_OK):
        sys.exit(f"mutate: {o.cli} missing: cargo build --release")

    work = tempfile.mkdtemp(prefix="wasi-hw-mutate-")
    counts = collections.defaultdict(collections.Counter)
    signals = collections.defaultdict(collections.Counter)
    by_mutation = collections.defaultdict(collections.Counter)
    try:
        for driver in drivers:
            for kind in KINDS:
                original = os.path.join(guests, f"{driver}.{kind}")
                for f in (original, original + ".sig"):
                    if not os.path.isfile(f):
                        sys.exit(f"mutate: {f} missing: run scripts/build-guests.sh")
                # The unmodified module must pass in both modes, or refusals prove nothing.
                for mode in MODES:
                    outcome, detail = run(command(o.cli, o.keys, mode, kind, original, driver),
                                          o.timeout)
                    if outcome != "ran" or detail != "0":
                        sys.exit(f"mutate: the unmodified {driver}.{kind} does not run "
                                 f"({mode}: {outcome} {detail})")
                data = open(original, "rb").read()

                def one(job):
                    """Writes mutant i for mode, runs it, removes it."""
                    i, mode = job
                    rng = random.Random(f"{o.seed}/{driver}.{kind}/{i}")
                    mutant, how = mutate(data, rng)
                    d = os.path.join(work, f"{driver}.{kind}.{i}.{mode}")
                    os.mkdir(d)
                    path = os.path.join(d, f"{driver}.{kind}")
                    with open(path, "wb") as f:
                        f.write(mutant)
                    if mode == "signed":
                        shutil.copy(original + ".sig", path + ".sig")
                    outcome, detail = run(command(o.cli, o.keys, mode, kind, path, driver),
                                          o.timeout)
                    if o.keep and outcome in ("crash", "hang"):
                        os.makedirs(o.keep, exist_ok=True)
                        shutil.copy(path, os.path.join(
                            o.keep, f"{driver}.{i}.{mode}.{outcome}.{detail or 'timeout'}.{kind}"))
                    shutil.rmtree(d)
                    return mode, how, outcome, detail

                jobs = [(i, mode) for i in range(o.mutants) for mode in MODES]
                with concurrent.futures.ThreadPoolExecutor(o.jobs) as pool:
                    for mode, how, outcome, detail in pool.map(one, jobs):
                        counts[(driver, kind, mode)][outcome] += 1
                        by_mutation[(kind, mode, how)][outcome] += 1
                        if outcome == "crash":
                            signals[(kind, mode)][detail] += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"Mutation campaign: {o.mutants} mutants per driver and kind, seed {o.seed!r}, "
          f"timeout {o.timeout:g} s, {o.cli}\n")
    print("| driver | module | signatures | " + " | ".join(OUTCOMES) + " |")
    print("|---|---|---|" + "---:|" * len(OUTCOMES))
    totals = collections.defaultdict(collections.Counter)
    for (driver, kind, mode), c in sorted(counts.items()):
        totals[(kind, mode)].update(c)
        label = "required" if mode == "signed" else "--allow-unsigned"
        print(f"| {driver} | .{kind} | {label} | " + " | ".join(str(c[x]) for x in OUTCOMES) + " |")
    for (kind, mode), c in sorted(totals.items()):
        label = "required" if mode == "signed" else "--allow-unsigned"
        print(f"| **all** | .{kind} | {label} | " + " | ".join(f"**{c[x]}**" for x in OUTCOMES) + " |")
    print("\nBy mutation (unsigned runs):\n")
    print("| module | mutation | " + " | ".join(OUTCOMES) + " |")
    print("|---|---|" + "---:|" * len(OUTCOMES))
    for (kind, mode, how), c in sorted(by_mutation.items()):
        if mode == "unsigned":
            print(f"| .{kind} | {how} | " + " | ".join(str(c[x]) for x in OUTCOMES) + " |")
    for (kind, mode), s in sorted(signals.items()):
        print(f"\nsignals ({kind}, {mode}): " + ", ".join(f"{n} x{k}" for n, k in s.most_common()))
    bad = sum(c[x] for (k, m), c in totals.items() if m == "signed" for x in OUTCOMES
              if x != "clean error")
    if bad:
        print(f"\nFAIL: {bad} signed runs were not refused cleanly")
        return 1
    print("\nok: every mutant was refused cleanly when signatures are required")
    return 0


if __name__ == "__main__":
    sys.exit(main())
