"""Fashion-MNIST read row by row (28 steps of 28 pixels) by an LSTM and a GRU: neurona vs PyTorch.

The classifier is one recurrent layer (hidden 128, batch_first) whose final
hidden state feeds a Linear(128, 10); Adam 1e-3, batch 128. For each cell
(LSTM, GRU) both libraries train the same network from the same initial
weights, on the same batches in the same order, in one process. Epochs
alternate (neurona, PyTorch, neurona, ...) so that drift in the machine's
speed hits both alike. Prints seconds per epoch (median) for each, the ratio
neurona / PyTorch, test accuracies, and the peak memory each library adds
while training (a child process loads the data, imports the library and
trains alone; peak resident memory during training minus before it).

Run:  python bench/rnn_fashion.py [--epochs 2] [--cells lstm,gru] [--threads N] [--max-batches N]
``--max-batches`` times only the first N batches of each epoch (a quick ratio on a busy machine).
Needs the full Fashion-MNIST (/usr/share/datasets/fashion-mnist or `neurona.data.fashion_mnist`'s
search path) and torch==2.13.0 for the comparison.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import neurona as nr  # noqa: E402
from neurona import nn, optim  # noqa: E402
from neurona.data import fashion_mnist  # noqa: E402

HIDDEN = 128
GATES = {"lstm": 4, "gru": 3}


def load_data():
    xtr, ytr = fashion_mnist("train")
    xte, yte = fashion_mnist("test")
    xtr = xtr.reshape(-1, 28, 28).astype(np.float32) / 255
    xte = xte.reshape(-1, 28, 28).astype(np.float32) / 255
    mu, sd = float(xtr.mean()), float(xtr.std())
    return ((xtr - mu) / sd).astype(np.float32), ytr.astype(np.int64), ((xte - mu) / sd).astype(np.float32), \
        yte.astype(np.int64)


def initial_weights(cell: str, seed: int = 0) -> dict:
    """PyTorch-named arrays drawn like PyTorch's defaults: U(−1/√H, 1/√H), Linear U(−1/√128, 1/√128)."""
    rng = np.random.default_rng(seed)
    G, H = GATES[cell], HIDDEN
    k = 1 / np.sqrt(H)
    u = lambda *s: rng.uniform(-k, k, s).astype(np.float32)  # noqa: E731
    return {"rnn.weight_ih_l0": u(G * H, 28), "rnn.weight_hh_l0": u(G * H, H), "rnn.bias_ih_l0": u(G * H),
            "rnn.bias_hh_l0": u(G * H), "fc.weight": u(10, H), "fc.bias": u(10)}


class NeuronaRun:
    def __init__(self, cell: str, weights: dict):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(28, HIDDEN, batch_first=True)
                self.fc = nn.Linear(HIDDEN, 10)

            def forward(self, x):
                _, h = self.rnn(x)
                h = h[0] if isinstance(h, tuple) else h
                return self.fc(h[-1])

        self.model = Net()
        for name, p in self.model.named_parameters():
            p.array[...] = weights[name]
        self.loss_fn = nn.CrossEntropyLoss()
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self, x, y, order, batch, max_batches=None):
        model, loss_fn, opt = self.model, self.loss_fn, self.opt
        model.train()
        for b, i in enumerate(range(0, len(order), batch)):
            if max_batches is not None and b >= max_batches:
                break
            idx = order[i:i + batch]
            loss = loss_fn(model(nr.from_numpy(x[idx])), nr.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()

    def accuracy(self, x, y):
        self.model.eval()
        with nr.no_grad():
            pred = np.concatenate([self.model(nr.from_numpy(x[i:i + 1000])).array.argmax(1)
                                   for i in range(0, len(x), 1000)])
        return float((pred == y).mean())


class TorchRun:
    def __init__(self, torch, cell: str, weights: dict):
        self.torch = torch
        tnn = torch.nn

        class Net(tnn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = (tnn.LSTM if cell == "lstm" else tnn.GRU)(28, HIDDEN, batch_first=True)
                self.fc = tnn.Linear(HIDDEN, 10)

            def forward(self, x):
                _, h = self.rnn(x)
                h = h[0] if isinstance(h, tuple) else h
                return self.fc(h[-1])

        self.model = Net()
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                p.copy_(torch.from_numpy(weights[name]))
        self.loss_fn = tnn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self, x, y, order, batch, max_batches=None):
        torch, model, loss_fn, opt = self.torch, self.model, self.loss_fn, self.opt
        model.train()
        for b, i in enumerate(range(0, len(order), batch)):
            if max_batches is not None and b >= max_batches:
                break
            idx = order[i:i + batch]
            loss = loss_fn(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()

    def accuracy(self, x, y):
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            pred = self.model(torch.from_numpy(x)).argmax(1).numpy()
        return float((pred == y).mean())


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _release_free_heap() -> None:
    """Give the memory freed while loading the data back to the system (glibc's malloc_trim), so that
    what training allocates shows up as new resident memory instead of silently reusing it."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(lib: str, cell: str, threads: int, max_batches) -> None:
    x, y, _, _ = load_data()
    order = np.random.default_rng(0).permutation(len(x))
    if lib == "torch":
        import torch
        torch.set_num_threads(threads)
        run = TorchRun(torch, cell, initial_weights(cell))
    else:
        run = NeuronaRun(cell, initial_weights(cell))
    run.epoch(x, y, order, 128, 1)  # one step first: libraries load lazily (Numba's kernels, thread pools)
    _release_free_heap()
    _reset_peak_rss()
    with open("/proc/self/status") as f:
        rss0 = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    run.epoch(x, y, order, 128, max_batches)
    print(json.dumps({"peak_mib": _peak_rss_mib() - rss0}))


def peak_memory_child(lib: str, cell: str, threads: int, max_batches) -> float:
    cmd = [sys.executable, __file__, "--child", lib, "--cells", cell, "--threads", str(threads)]
    if max_batches is not None:
        cmd += ["--max-batches", str(max_batches)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def _limit_blas(threads: int) -> None:
    """Give NumPy's BLAS the same thread count as PyTorch (threadpoolctl, installed with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("threadpoolctl not installed: NumPy's BLAS uses its default thread count", file=sys.stderr)
        return
    threadpool_limits(threads, user_api="blas")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--cells", default="lstm,gru")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--max-batches", type=int, default=None)
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    ap.add_argument("--child", choices=["neurona", "torch"])
    args = ap.parse_args()
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    _limit_blas(args.threads)
    if args.child:
        child(args.child, cells[0], args.threads, args.max_batches)
        return
    import torch
    torch.set_num_threads(args.threads)
    x, y, xte, yte = load_data()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}, NumPy {np.__version__}, PyTorch {torch.__version__} "
          f"({args.threads} threads)")
    nb = -(-len(x) // args.batch_size)
    part = f", first {args.max_batches} of {nb} batches timed per epoch" if args.max_batches else ""
    print(f"data: Fashion-MNIST rows, {len(x)} train / {len(xte)} test, batch {args.batch_size}, "
          f"{args.epochs} epochs{part}")
    summary = []
    for cell in cells:
        weights = initial_weights(cell)
        runs = {"neurona": NeuronaRun(cell, weights), "torch": TorchRun(torch, cell, weights)}
        times = {k: [] for k in runs}
        rng = np.random.default_rng(0)
        for e in range(args.epochs):
            order = rng.permutation(len(x))
            names = list(runs) if e % 2 == 0 else list(runs)[::-1]
            for name in names:
                t0 = time.perf_counter()
                runs[name].epoch(x, y, order, args.batch_size, args.max_batches)
                times[name].append(time.perf_counter() - t0)
            print(f"{cell} epoch {e + 1:2d}: neurona {times['neurona'][-1]:.2f}s  pytorch {times['torch'][-1]:.2f}s  "
                  f"test acc neurona {runs['neurona'].accuracy(xte, yte):.4f}  "
                  f"pytorch {runs['torch'].accuracy(xte, yte):.4f}", flush=True)
        tn, tt = statistics.median(times["neurona"]), statistics.median(times["torch"])
        if args.no_memory:
            mn = mt = float("nan")
        else:
            mn = peak_memory_child("neurona", cell, args.threads, args.max_batches)
            mt = peak_memory_child("torch", cell, args.threads, args.max_batches)
        summary.append((cell, tn, tt, runs["neurona"].accuracy(xte, yte), runs["torch"].accuracy(xte, yte), mn, mt))
    print()
    print(f"{'cell':5s} {'neurona s/ep':>12s} {'pytorch s/ep':>12s} {'ratio':>6s} {'acc nr':>7s} {'acc pt':>7s} "
          f"{'MiB nr':>7s} {'MiB pt':>7s}")
    for cell, tn, tt, an, at, mn, mt in summary:
        print(f"{cell:5s} {tn:12.2f} {tt:12.2f} {tn / tt:6.2f} {an:7.4f} {at:7.4f} {mn:7.0f} {mt:7.0f}")


if __name__ == "__main__":
    main()
