"""Per-op overhead of neurona's autodiff engine against PyTorch's, in one process.

Workloads where the arrays are tiny, so the time is the per-op bookkeeping (graph recording,
backward ordering, gradient accumulation, the calls into the array library):

1. a chain of 1,000 small elementwise ops (forward + backward) on a vector of 16 floats;
2. one training step of a 3-layer MLP (32-64-64-10, tanh) at batch size 1, written with raw ops:
   matmul, add, tanh, log_softmax, indexing, backward, a hand-written SGD update;
3. the same step as a user writes it with layers: ``nn.Sequential`` of ``nn.Linear`` and ``nn.Tanh``,
   ``nn.CrossEntropyLoss`` and ``optim.SGD`` (where neurona's fused linear + activation and fused
   optimizer update apply).

Run:  python bench/engine_overhead.py         (needs `pip install torch==2.13.0` for the comparison)
Prints the median time of each workload for both libraries and the median ratio neurona / PyTorch
of runs taken in turn (neurona, PyTorch, neurona, ...).
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import neurona as nr  # noqa: E402

REPEATS = 60
CHAIN = 1000


def _once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def paired_times(fa, fb, repeats=REPEATS, warmup=3):
    """Median time of ``fa`` and of ``fb``, and the median of their ratios, run in turn (a, b, a, b, ...)
    so that drift in the machine's speed hits both alike."""
    for _ in range(warmup):
        fa()
        if fb is not None:
            fb()
    ta, tb, ratios = [], [], []
    for _ in range(repeats):
        ta.append(_once(fa))
        if fb is not None:
            tb.append(_once(fb))
            ratios.append(ta[-1] / tb[-1])
    if fb is None:
        return statistics.median(ta), float("nan"), float("nan")
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def neurona_chain():
    x = nr.tensor(np.linspace(-1, 1, 16), requires_grad=True)

    def run():
        y = x
        for i in range(CHAIN // 4):
            y = y * 0.999
            y = y + 0.001
            y = nr.tanh(y)
            y = y - 0.0005
        y.sum().backward()
        x.grad = None
    return run


def neurona_mlp_step():
    nr.manual_seed(0)
    sizes = [32, 64, 64, 10]
    params = []
    for i in range(3):
        w = nr.randn(sizes[i + 1], sizes[i]) * (1 / np.sqrt(sizes[i]))
        params += [w.detach().requires_grad_(), nr.zeros(sizes[i + 1], requires_grad=True)]
    x = nr.randn(1, 32)
    t = np.array([3])

    def run():
        h = x
        for i in range(3):
            h = h @ params[2 * i].T + params[2 * i + 1]
            if i < 2:
                h = nr.tanh(h)
        logp = nr.log_softmax(h, 1)
        loss = -logp[np.arange(1), t].mean()
        loss.backward()
        for p in params:
            p.array -= 0.01 * p.grad.array
            p.grad = None
    return run


def neurona_mlp_layers():
    from neurona import nn, optim
    nr.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x, t = nr.randn(1, 32), nr.tensor([3])

    def run():
        loss = loss_fn(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return run


def torch_mlp_layers(torch):
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x, t = torch.randn(1, 32), torch.tensor([3])

    def run():
        loss = loss_fn(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return run


def torch_chain(torch):
    x = torch.linspace(-1, 1, 16, requires_grad=True)

    def run():
        y = x
        for i in range(CHAIN // 4):
            y = y * 0.999
            y = y + 0.001
            y = torch.tanh(y)
            y = y - 0.0005
        y.sum().backward()
        x.grad = None
    return run


def torch_mlp_step(torch):
    torch.manual_seed(0)
    sizes = [32, 64, 64, 10]
    params = []
    for i in range(3):
        params += [(torch.randn(sizes[i + 1], sizes[i]) / sizes[i] ** 0.5).requires_grad_(),
                   torch.zeros(sizes[i + 1], requires_grad=True)]
    x = torch.randn(1, 32)
    t = torch.tensor([3])

    def run():
        h = x
        for i in range(3):
            h = h @ params[2 * i].T + params[2 * i + 1]
            if i < 2:
                h = torch.tanh(h)
        logp = torch.log_softmax(h, 1)
        loss = -logp[torch.arange(1), t].mean()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.01 * p.grad
                p.grad = None
    return run


def main() -> None:
    try:
        import torch
        torch.set_num_threads(1)  # tiny tensors: threads only add overhead, for both sides
    except ImportError:
        torch = None
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}, "
          f"NumPy {np.__version__}" + (f", PyTorch {torch.__version__}" if torch else ""))
    rows = [("chain of 1,000 elementwise ops, fwd+bwd", neurona_chain, torch_chain, CHAIN),
            ("3-layer MLP training step, batch 1", neurona_mlp_step, torch_mlp_step, None),
            ("the same step with nn layers and optim.SGD", neurona_mlp_layers, torch_mlp_layers, None)]
    print(f"{'workload':44s} {'neurona':>11s} {'PyTorch':>11s} {'ratio':>7s}")
    for name, nfn, tfn, n_ops in rows:
        tn, tt, ratio = paired_times(nfn(), tfn(torch) if torch else None)
        extra = f"   ({tn / n_ops * 1e6:.2f} us/op vs {tt / n_ops * 1e6:.2f} us/op)" if n_ops else ""
        print(f"{name:44s} {tn * 1e3:9.3f}ms {tt * 1e3:9.3f}ms {ratio:7.2f}{extra}")
    if torch is None:
        print("PyTorch is not installed: `pip install torch==2.13.0` for the comparison")


if __name__ == "__main__":
    main()
