"""The README's first command, cold and warm: the kernels' compile time and the whole run.

``neurona train`` (the default MLP on Fashion-MNIST) runs in fresh processes:

- cold: with ``NUMBA_CACHE_DIR`` set to an empty folder, so every kernel the run needs is compiled;
- warm: again with that folder, now holding the compiled kernels (what every later run sees);
- optionally (``--base DIR``) the same command with the neurona found under DIR, for instance an
  export of an earlier commit (``git archive <commit> neurona | tar -x -C DIR``), for the "no slower
  than before" comparison.

Each is also timed to the end of its first training step (``--first-step``: import, data, model,
one step), which isolates the compile overhead from the training itself. Prints wall seconds.

Run:  python bench/cold_start.py [--rounds 2] [--base /tmp/old] [--epochs N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIRST_STEP = """
import time, sys
t0 = time.perf_counter()
import numpy as np
import {pkg} as nr
from {pkg} import nn, optim
from {pkg}.data import fashion_mnist
x, y = fashion_mnist("train", as_float=True, layout="flat")
model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
opt = optim.Adam(model.parameters(), lr=1e-3)
loss = nn.CrossEntropyLoss()(model(nr.from_numpy(x[:128])), nr.from_numpy(y[:128]))
opt.zero_grad(); loss.backward(); opt.step()
with nr.no_grad():
    model.eval(); model(nr.from_numpy(x[:1000]))
print(time.perf_counter() - t0)
"""


def run(cmd: list, env: dict, cwd: str) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed:\n{res.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--base", help="a folder holding an earlier neurona (as the package 'neurona_base' or 'neurona')")
    ap.add_argument("--epochs", type=int, default=None, help="epochs of `neurona train` (default: its own)")
    ap.add_argument("--first-step", action="store_true", help="time only to the end of the first training step")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="neurona-cold-")
    sides = [("neurona", ROOT, "neurona")]
    if args.base:
        pkg = "neurona_base" if os.path.isdir(os.path.join(args.base, "neurona_base")) else "neurona"
        sides.append(("earlier", args.base, pkg))
    what = "first training step" if args.first_step else "neurona train" + (f" --epochs {args.epochs}"
                                                                               if args.epochs else "")
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}; {what}")
    times: dict = {}
    try:
        for r in range(args.rounds):
            for label, path, pkg in sides:
                cache = os.path.join(work, f"cache-{label}-{r}")
                env = {**os.environ, "PYTHONPATH": path, "NUMBA_CACHE_DIR": cache}
                env.pop("NEURONA_KERNELS", None)
                if args.first_step:
                    cmd = [sys.executable, "-c", FIRST_STEP.format(pkg=pkg)]
                else:
                    cmd = [sys.executable, "-m", f"{pkg}.cli", "train", "--out", os.path.join(work, "runs"),
                           "--quiet"] + (["--epochs", str(args.epochs)] if args.epochs else [])
                kinds = ("cold", "warm") if label == "neurona" else ("run",)
                for kind in kinds:
                    t = run(cmd, env, work)
                    times.setdefault((label, kind), []).append(t)
                    print(f"round {r + 1}: {label:8s} {kind:5s} {t:7.2f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    for (label, kind), ts in times.items():
        runs = ", ".join(f"{t:.2f}" for t in ts)
        print(f"{label:8s} {kind:5s} median {statistics.median(ts):7.2f} s  (runs: {runs})")
    cold, warm = statistics.median(times[("neurona", "cold")]), statistics.median(times[("neurona", "warm")])
    print(f"compile overhead (cold − warm): {cold - warm:.2f} s")


if __name__ == "__main__":
    main()
