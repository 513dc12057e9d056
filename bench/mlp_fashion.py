"""The default MLP (784-300-100-10, ReLU, Adam 1e-3, batch 128) on Fashion-MNIST: neurona vs PyTorch.

Both libraries train the same network from the same initial weights on the
same standardized data, with the same batch order, in one process. Epochs
alternate (neurona, PyTorch, neurona, ...) so that drift in the machine's speed
hits both alike. Prints seconds per epoch (median over epochs) for each, the
ratio neurona / PyTorch, both test accuracies (final and best over the epochs), and the peak memory each
library adds while training, measured in a child process that loads the data,
imports the library and runs one epoch of it alone (peak resident memory during
the epoch minus the resident memory before it, after one warm-up step).

Run:  python bench/mlp_fashion.py [--epochs 20] [--threads N]
Needs the full Fashion-MNIST (`apt-get install dataset-fashion-mnist`) and
`pip install torch==2.13.0` for the comparison.
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

SIZES = [784, 300, 100, 10]


def load_data():
    xtr, ytr = fashion_mnist("train")
    xte, yte = fashion_mnist("test")
    xtr = xtr.reshape(len(xtr), -1).astype(np.float32) / 255
    xte = xte.reshape(len(xte), -1).astype(np.float32) / 255
    mu, sd = xtr.mean(0), xtr.std(0)
    xtr = (xtr - mu) / np.sqrt(sd * sd + 1e-5)
    xte = (xte - mu) / np.sqrt(sd * sd + 1e-5)
    return xtr.astype(np.float32), ytr.astype(np.int64), xte.astype(np.float32), yte.astype(np.int64)


def initial_weights(seed=0):
    rng = np.random.default_rng(seed)
    ws = []
    for i in range(3):
        bound = 1 / np.sqrt(SIZES[i])
        ws.append((rng.uniform(-bound, bound, (SIZES[i + 1], SIZES[i])).astype(np.float32),
                   rng.uniform(-bound, bound, SIZES[i + 1]).astype(np.float32)))
    return ws


class NeuronaRun:
    def __init__(self, weights):
        self.model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                                   nn.Linear(100, 10))
        linears = [m for m in self.model if isinstance(m, nn.Linear)]
        for lin, (w, b) in zip(linears, weights):
            lin.weight.array[...] = w
            lin.bias.array[...] = b
        self.loss_fn = nn.CrossEntropyLoss()
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self, x, y, order, batch):
        model, loss_fn, opt = self.model, self.loss_fn, self.opt
        model.train()
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            xb, yb = nr.from_numpy(x[idx]), nr.from_numpy(y[idx])
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

    def accuracy(self, x, y):
        self.model.eval()
        with nr.no_grad():
            pred = self.model(nr.from_numpy(x)).array.argmax(1)
        return float((pred == y).mean())


class TorchRun:
    def __init__(self, torch, weights):
        self.torch = torch
        tnn = torch.nn
        self.model = tnn.Sequential(tnn.Linear(784, 300), tnn.ReLU(), tnn.Linear(300, 100), tnn.ReLU(),
                                    tnn.Linear(100, 10))
        linears = [m for m in self.model if isinstance(m, tnn.Linear)]
        with torch.no_grad():
            for lin, (w, b) in zip(linears, weights):
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
        self.loss_fn = tnn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self, x, y, order, batch):
        torch, model, loss_fn, opt = self.torch, self.model, self.loss_fn, self.opt
        model.train()
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            xb, yb = torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

    def accuracy(self, x, y):
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            pred = self.model(torch.from_numpy(x)).argmax(1).numpy()
        return float((pred == y).mean())


def peak_memory_child(lib: str, threads: int) -> float:
    """Peak resident memory (MiB) that one epoch of ``lib`` adds in a child process that loaded the data and ran
    one warm-up step (so that both libraries have loaded what they load lazily)."""
    out = subprocess.run([sys.executable, __file__, "--child", lib, "--threads", str(threads)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) so it measures from now on; Linux only."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def limit_blas(threads: int) -> None:
    """Give NumPy's BLAS the thread count PyTorch gets (threadpoolctl, a dependency of neurona)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads, user_api="blas")


def child(lib: str, threads: int) -> None:
    import gc
    x, y, _, _ = load_data()
    gc.collect()
    order = np.random.default_rng(0).permutation(len(x))
    if lib == "torch":
        import torch
        torch.set_num_threads(threads)
        run = TorchRun(torch, initial_weights())
    else:
        run = NeuronaRun(initial_weights())
    run.epoch(x, y, order[:128], 128)  # one step first: libraries load lazily (Numba's kernels, thread pools)
    gc.collect()
    _reset_peak_rss()
    with open("/proc/self/status") as f:
        rss0 = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    run.epoch(x, y, order, 128)
    peak = _peak_rss_mib()
    # memory the training added on top of the data and the loaded library (weights, optimizer state, activations)
    print(json.dumps({"peak_mib": peak - rss0, "library_mib": rss0}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--child", choices=["neurona", "torch"])
    args = ap.parse_args()
    limit_blas(args.threads)  # both libraries on the same number of threads
    if args.child:
        child(args.child, args.threads)
        return
    import torch
    torch.set_num_threads(args.threads)
    x, y, xte, yte = load_data()
    weights = initial_weights()
    runs = {"neurona": NeuronaRun(weights), "torch": TorchRun(torch, weights)}
    times = {k: [] for k in runs}
    accs = {k: [] for k in runs}  # test accuracy after each epoch ("within 20 epochs": the best of them)
    rng = np.random.default_rng(0)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, PyTorch {torch.__version__} ({args.threads} threads)")
    print(f"data: Fashion-MNIST {len(x)} train / {len(xte)} test, batch {args.batch_size}, {args.epochs} epochs")
    for e in range(args.epochs):
        order = rng.permutation(len(x))
        for name, run in runs.items():
            t0 = time.perf_counter()
            run.epoch(x, y, order, args.batch_size)
            times[name].append(time.perf_counter() - t0)
        for name, run in runs.items():
            accs[name].append(run.accuracy(xte, yte))
        print(f"epoch {e + 1:2d}: neurona {times['neurona'][-1]:.2f}s  pytorch {times['torch'][-1]:.2f}s  "
              f"test acc neurona {accs['neurona'][-1]:.4f}  pytorch {accs['torch'][-1]:.4f}", flush=True)
    tn, tt = statistics.median(times["neurona"]), statistics.median(times["torch"])
    mem_n = peak_memory_child("neurona", args.threads)
    mem_t = peak_memory_child("torch", args.threads)
    print()
    print(f"{'':10s} {'s/epoch (median)':>17s} {'test acc':>9s} {'best':>7s} {'train MiB':>9s}")
    for label, name, t, mem in (("neurona", "neurona", tn, mem_n), ("pytorch", "torch", tt, mem_t)):
        print(f"{label:10s} {t:17.3f} {accs[name][-1]:9.4f} {max(accs[name]):7.4f} {mem:9.0f}")
    print(f"ratio neurona/pytorch (epoch time): {tn / tt:.2f}")


if __name__ == "__main__":
    main()
