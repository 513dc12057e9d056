"""LeNet-5 and two small CNNs on Fashion-MNIST: neurona against PyTorch (CPU) in the same run.

    python bench/lenet_fashion.py                 # LeNet-5, 3 epochs each, interleaved; then peak memory
    python bench/lenet_fashion.py --epochs 5 --threads 1
    python bench/lenet_fashion.py --layers        # forward/backward time of every layer, both libraries (also --model cnn)
    python bench/lenet_fashion.py --model cnn --epochs 1        # 4 conv-BN-ReLU blocks (32, 32, 64, 64 channels)
    python bench/lenet_fashion.py --model cnn-small --epochs 1  # neurona.models' cnn-small

Each network is written by a user with ``nn.Sequential``, in the same order in both libraries and in the
notes' order (convolution → activation → pooling):

- ``lenet5``: conv(6, 5x5, pad 2) → ReLU → max-pool 2 → conv(16, 5x5) → ReLU → max-pool 2 → 120 → ReLU
  → 84 → ReLU → 10;
- ``cnn``: four blocks conv(3x3, pad 1, no bias) → BatchNorm2d → ReLU with 32, 32, 64 and 64 channels,
  max-pool 2 after blocks 2 and 4, then Linear(64·7·7, 10);
- ``cnn-small``: ``neurona.models.CNNSmall`` and the same layers in PyTorch.

Both train with Adam (lr 1e-3), batches of 128, cross-entropy, by the same hand-written loop over the
same shuffled batches (NumPy indexing makes every batch for both). neurona runs as a user gets it
(its kernels and ``nn.Sequential``'s rewrites on; ``--tune`` also calls ``neurona.runtime.tune()``, as
the ``neurona`` command does; ``--reference`` runs the reference ops instead). Epochs alternate
between the libraries so that load from other processes hits both alike; the median epoch time is
reported. Peak memory is measured in two fresh child processes (one per library, which imports only
that library): the peak resident set size, and its growth while training.

Both libraries use the same number of threads (``--threads``, default: each library's default, all
cores): PyTorch's intra-op threads and OpenBLAS's (through threadpoolctl). Besides wall time, the CPU
time of the process (all threads) is reported: on a machine shared with other work, it is the steadier
measure of the work each library does.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    return _status_mb("VmRSS")


def peak_mb() -> float:
    """Peak resident set size since the last ``reset_peak()`` (Linux), else since the start."""
    hwm = _status_mb("VmHWM")
    return hwm if hwm == hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Start the peak-RSS count afresh (Linux: writing 5 to /proc/self/clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def load_data():
    from neurona.data import fashion_mnist
    x, y = fashion_mnist("train", as_float=True, layout="NCHW")
    xt, yt = fashion_mnist("test", as_float=True, layout="NCHW")
    mean, std = np.float32(x.mean()), np.float32(x.std())
    return (x - mean) / std, y, (xt - mean) / std, yt


def set_threads(n: int | None) -> None:
    if n is None:
        return
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        print("threadpoolctl is not installed: OpenBLAS keeps its default thread count; "
              "set OPENBLAS_NUM_THREADS instead", file=sys.stderr)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


# --- the two implementations --------------------------------------------------------------------

def build(nn, model: str):
    """The network ``model`` from a library's ``nn`` module (neurona.nn or torch.nn): the same code for both."""
    if model == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    if model == "cnn":
        return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
    return nn.Sequential(*block(1, 16), *block(16, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2),
                         *block(64, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(64, 10))


class NeuronaRun:
    name = "neurona"

    def __init__(self, seed: int, model: str = "lenet5", tune: bool = False, reference: bool = False):
        import neurona
        from neurona import models, nn, optim
        self.neurona = neurona
        if tune:
            neurona.runtime.tune()
        if reference:
            neurona.runtime.set_kernels("reference")
        neurona.manual_seed(seed)
        self.model = models.CNNSmall(num_classes=10, in_channels=1, input_size=28) if model == "cnn-small" \
            else build(nn, model)
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = nn.CrossEntropyLoss()

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        nt = self.neurona
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(nt.from_numpy(xb)), nt.from_numpy(yb))
        loss.backward()
        self.opt.step()
        return loss.item()

    def predict(self, x: np.ndarray) -> np.ndarray:
        nt = self.neurona
        self.model.eval()
        with nt.no_grad():
            out = np.concatenate([self.model(nt.from_numpy(x[i:i + 1000])).array.argmax(1)
                                  for i in range(0, len(x), 1000)])
        self.model.train()
        return out


class TorchRun:
    name = "pytorch"

    def __init__(self, seed: int, model: str = "lenet5"):
        import torch
        self.torch = torch
        torch.manual_seed(seed)
        self.model = build(torch.nn, model)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        t = self.torch
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(t.from_numpy(xb)), t.from_numpy(yb))
        loss.backward()
        self.opt.step()
        return loss.item()

    def predict(self, x: np.ndarray) -> np.ndarray:
        t = self.torch
        self.model.eval()
        with t.no_grad():
            out = np.concatenate([self.model(t.from_numpy(x[i:i + 1000])).argmax(1).numpy()
                                  for i in range(0, len(x), 1000)])
        self.model.train()
        return out


def epoch(run, x, y, order, batch: int, limit: int | None = None) -> tuple[float, float]:
    """One pass over the shuffled data: (wall seconds, CPU seconds of this process, all threads)."""
    start, cpu = time.perf_counter(), time.process_time()
    for k, i in enumerate(range(0, len(x), batch)):
        if limit is not None and k >= limit:
            break
        idx = order[i:i + batch]
        run.step(x[idx], y[idx])
    return time.perf_counter() - start, time.process_time() - cpu


# --- modes ---------------------------------------------------------------------------------------

def timing(args) -> dict:
    import torch  # noqa: F401  (both libraries in this process)
    set_threads(args.threads)
    x, y, xt, yt = load_data()
    runs = [NeuronaRun(args.seed, args.model, args.tune, args.reference), TorchRun(args.seed, args.model)]
    rng = np.random.default_rng(args.seed)
    times = {r.name: [] for r in runs}
    cpu = {r.name: [] for r in runs}
    for r in runs:  # warm up: first calls allocate and load kernels
        epoch(r, x, y, np.arange(len(x)), args.batch_size, limit=20)
    for e in range(args.epochs):
        order = rng.permutation(len(x))
        for r in (runs if e % 2 == 0 else runs[::-1]):
            dt, dc = epoch(r, x, y, order, args.batch_size)
            times[r.name].append(dt)
            cpu[r.name].append(dc)
            print(f"epoch {e + 1}  {r.name:8s} {dt:7.2f} s wall  {dc:7.2f} s CPU", flush=True)
    acc = {r.name: float((r.predict(xt) == yt).mean()) for r in runs}
    return {"times": times, "cpu": cpu, "accuracy": acc}


def memory_child(args) -> None:
    """Runs in a fresh process: train one library for a few hundred batches and report its memory."""
    if args.child == "pytorch":
        import torch  # noqa: F401
    else:
        import neurona  # noqa: F401
    set_threads(args.threads)
    x, y, _, _ = load_data()
    run = (TorchRun(args.seed, args.model) if args.child == "pytorch"
           else NeuronaRun(args.seed, args.model, args.tune, args.reference))
    order = np.random.default_rng(args.seed).permutation(len(x))
    epoch(run, x, y, order, args.batch_size, limit=1)  # libraries load lazily (Numba's kernels, thread pools)
    import gc
    gc.collect()
    before = rss_mb()  # the library, its kernels and the data set are in memory
    exact = reset_peak()  # data loading peaks above training: count from here
    epoch(run, x, y, order, args.batch_size, limit=args.memory_batches)
    print(json.dumps({"rss_before_mb": before, "peak_mb": peak_mb(), "exact": exact}))


def memory(args) -> dict:
    out = {}
    for lib in ("neurona", "pytorch"):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", lib, "--memory-batches", str(args.memory_batches),
               "--batch-size", str(args.batch_size), "--seed", str(args.seed), "--model", args.model]
        cmd += ["--tune"] if args.tune else []
        cmd += ["--reference"] if args.reference else []
        if args.threads is not None:
            cmd += ["--threads", str(args.threads)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[lib] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def layers(args) -> None:
    """Forward and forward+backward time of each layer of ``args.model``, in both libraries.

    Each layer gets the input the network gives it (the previous layers' output, in the memory
    layout they produce) and a gradient laid out like its output, as inside a training step.
    """
    import torch
    import neurona
    set_threads(args.threads)
    rng = np.random.default_rng(0)
    n = args.batch_size
    nrun = NeuronaRun(args.seed, args.model, tune=args.tune, reference=args.reference)
    trun = TorchRun(args.seed, args.model)
    # neurona's steps as nn.Sequential runs them (a fused pair is one step), and the same layers of PyTorch's
    nlayers, tlayers, names = [], [], []
    tmods = list(trun.model)
    for step in neurona.rewrites.plan(nrun.model):
        mods = getattr(step, "layers", (step,))
        nlayers.append(step)
        tlayers.append(torch.nn.Sequential(*tmods[:len(mods)]))
        names.append(" + ".join(type(m).__name__ for m in mods))
        del tmods[:len(mods)]

    # with one thread, CPU time: steadier than wall time on a machine shared with other work
    clock = time.process_time if args.threads == 1 else time.perf_counter

    def best(f, reps=30):
        f()
        ts = []
        for _ in range(reps):
            t = clock()
            f()
            ts.append(clock() - t)
        return 1e3 * float(np.median(ts))

    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    xn, xt = neurona.from_numpy(x), torch.from_numpy(x)
    what = "CPU ms" if clock is time.process_time else "ms"
    print(f"{'layer':22s} {'neurona fwd':>12s} {'fwd+bwd':>9s} {'pytorch fwd':>12s} {'fwd+bwd':>9s}  "
          f"({what}, batch {n})")
    names = [nm.replace("Conv2d", "conv").replace("MaxPool2d", "pool").replace("Linear", "linear") for nm in names]
    total = np.zeros(4)
    for i, (name, ln, lt) in enumerate(zip(names, nlayers, tlayers)):
        yn, yt = ln(xn), lt(xt)
        g = np.empty_like(yn.array)  # the output's memory layout
        g[...] = rng.standard_normal(g.shape)
        gn, gt = neurona.from_numpy(g), torch.from_numpy(np.ascontiguousarray(g))
        row = np.array([best(lambda: ln(xn)), best(lambda: ln(xn).backward(gn)),
                        best(lambda: lt(xt)), best(lambda: lt(xt).backward(gt))])
        total += row
        print(f"{name:22s} {row[0]:12.2f} {row[1]:9.2f} {row[2]:12.2f} {row[3]:9.2f}")
        xn = neurona.from_numpy(yn.array).requires_grad_()
        xt = yt.detach().requires_grad_()
    print(f"{'sum':22s} {total[0]:12.2f} {total[1]:9.2f} {total[2]:12.2f} {total[3]:9.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["lenet5", "cnn", "cnn-small"], default="lenet5",
                    help="LeNet-5 (default), the 4-block CNN or cnn-small: the same network in both libraries")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="threads for both libraries (default: their default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tune", action="store_true", help="call neurona.runtime.tune() first, as the CLI does")
    ap.add_argument("--reference", action="store_true", help="neurona on its reference ops (NEURONA_KERNELS)")
    ap.add_argument("--layers", action="store_true", help="per-layer forward/backward times instead of training")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    ap.add_argument("--memory-batches", type=int, default=200)
    ap.add_argument("--child", choices=["neurona", "pytorch"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return memory_child(args)
    if args.layers:
        if args.model == "cnn-small":
            ap.error("--layers times LeNet-5 or the 4-block CNN, built from the same layers in both libraries")
        return layers(args)

    import torch
    machine = platform.processor() or platform.machine()
    extra = (" (neurona tuned)" if args.tune else "") + (" (neurona on its reference ops)" if args.reference else "")
    print(f"model: {args.model}{extra}; machine: {machine}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; numpy {np.__version__}, torch {torch.__version__}; threads: "
          f"{args.threads if args.threads is not None else 'library defaults'}")
    res = timing(args)
    med = {k: float(np.median(v)) for k, v in res["times"].items()}
    cpu = {k: float(np.median(v)) for k, v in res["cpu"].items()}
    print(f"\nseconds per epoch (median of {args.epochs}): neurona {med['neurona']:.2f}  pytorch {med['pytorch']:.2f}"
          f"  ratio neurona/pytorch {med['neurona'] / med['pytorch']:.2f}")
    print(f"CPU seconds per epoch (all threads):  neurona {cpu['neurona']:.2f}  pytorch {cpu['pytorch']:.2f}"
          f"  ratio {cpu['neurona'] / cpu['pytorch']:.2f}")
    print(f"test accuracy after {args.epochs} epochs: neurona {res['accuracy']['neurona']:.4f}  "
          f"pytorch {res['accuracy']['pytorch']:.4f}")
    if not args.no_memory:
        mem = memory(args)
        for lib, m in mem.items():
            note = "" if m["exact"] else " (peak since process start: /proc/self/clear_refs unavailable)"
            print(f"peak memory {lib:8s}: {m['peak_mb']:7.1f} MB resident while training "
                  f"({args.memory_batches} batches): {m['peak_mb'] - m['rss_before_mb']:6.1f} MB for the model and "
                  f"training over the {m['rss_before_mb']:.1f} MB of library and data{note}")


if __name__ == "__main__":
    main()
