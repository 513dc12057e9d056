"""Each fast kernel against its reference op and against PyTorch, paired in one process.

For every family of ``neurona.kernels``, at the shapes of the training benchmarks, times one call
(forward + backward, or one optimizer step) three ways, taken in turn so that drift in the machine's
speed hits all alike: neurona's reference ops (``NEURONA_KERNELS=reference``), neurona's fast kernels,
and PyTorch. Prints the median time of each and the ratios kernel / reference and kernel / PyTorch
(below 1: the kernel is faster). This is the evidence each kernel was kept on.

Run:  python bench/kernels.py [--rounds 15] [--only adam,lstm] [--threads N]
Needs `pip install torch==2.13.0` for the PyTorch column.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import neurona as nr  # noqa: E402
from neurona import nn, optim, runtime  # noqa: E402
from neurona.nn import functional as F  # noqa: E402

RNG = np.random.default_rng(0)


def _arr(*shape, memory=None):
    """A float32 array of ``shape`` (NCHW), stored in the axis order ``memory`` if given."""
    if memory is None:
        return RNG.standard_normal(shape).astype(np.float32)
    stored = RNG.standard_normal(tuple(shape[i] for i in memory)).astype(np.float32)
    return stored.transpose(tuple(int(i) for i in np.argsort(memory)))


def _fwd_bwd(fn, *arrays, grad_of=None):
    """A callable running ``fn`` on tensors of ``arrays`` (all requiring grad) and backward with a fixed gradient."""
    ts = [nr.from_numpy(a).requires_grad_(grad_of is None or i in grad_of) for i, a in enumerate(arrays)]
    g = {}

    def run():
        y = fn(*ts)
        if "g" not in g:  # laid out like the output, as the next layer's gradient would be
            g["g"] = nr.from_numpy(np.ones_like(y.array))
        y.backward(g["g"])
        for t in ts:
            t.grad = None
    return run


def _torch_fwd_bwd(torch, fn, *arrays, grad_of=None):
    ts = [torch.from_numpy(np.ascontiguousarray(a)).requires_grad_(grad_of is None or i in grad_of)
          for i, a in enumerate(arrays)]
    g = {}

    def run():
        y = fn(*ts)
        if "g" not in g:
            g["g"] = torch.ones_like(y)
        y.backward(g["g"])
        for t in ts:
            t.grad = None
    return run


def _reference(fn):
    def run():
        with runtime.use_kernels("reference"):
            fn()
    return run


# --- the cases: name -> (neurona callable, torch callable or None); the reference is the neurona one under
# use_kernels("reference") -------------------------------------------------------------------------------


def case_adam(torch):
    model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
    for p in model.parameters():
        p.grad = nr.from_numpy(RNG.standard_normal(p.shape).astype(np.float32) * 1e-3)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    tps = [torch.nn.Parameter(torch.from_numpy(p.array.copy())) for p in model.parameters()]
    for q, p in zip(tps, model.parameters()):
        q.grad = torch.from_numpy(p.grad.array.copy())
    topt = torch.optim.Adam(tps, lr=1e-3)
    return opt.step, topt.step


def case_sgd(torch):
    model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
    for p in model.parameters():
        p.grad = nr.from_numpy(RNG.standard_normal(p.shape).astype(np.float32) * 1e-3)
    opt = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, nesterov=True)
    tps = [torch.nn.Parameter(torch.from_numpy(p.array.copy())) for p in model.parameters()]
    for q, p in zip(tps, model.parameters()):
        q.grad = torch.from_numpy(p.grad.array.copy())
    topt = torch.optim.SGD(tps, lr=1e-2, momentum=0.9, nesterov=True)
    return opt.step, topt.step


def case_linear_relu(torch):
    seq = nn.Sequential(nn.Linear(784, 300), nn.ReLU())
    tseq = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU())
    x = _arr(128, 784)
    return _fwd_bwd(seq, x), _torch_fwd_bwd(torch, tseq, x)


def case_relu(torch):
    x = _arr(128, 6, 28, 28, memory=(1, 2, 3, 0))
    return _fwd_bwd(F.relu, x), _torch_fwd_bwd(torch, torch.relu, x)


def case_sigmoid(torch):
    x = _arr(128, 300)
    return _fwd_bwd(F.sigmoid, x), _torch_fwd_bwd(torch, torch.sigmoid, x)


def case_cross_entropy(torch):
    x = _arr(128, 10)
    y = RNG.integers(0, 10, 128)
    ty = torch.from_numpy(y)
    return (_fwd_bwd(lambda t: F.cross_entropy(t, y), x),
            _torch_fwd_bwd(torch, lambda t: torch.nn.functional.cross_entropy(t, ty), x))


def case_batch_norm_relu(torch):
    seq = nn.Sequential(nn.BatchNorm2d(32), nn.ReLU())
    tseq = torch.nn.Sequential(torch.nn.BatchNorm2d(32), torch.nn.ReLU())
    x = _arr(128, 32, 28, 28, memory=(0, 2, 3, 1))  # a channels-last convolution's output
    return _fwd_bwd(seq, x), _torch_fwd_bwd(torch, tseq, x)


def case_max_pool_relu(torch):
    seq = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))
    tseq = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    x = _arr(128, 6, 28, 28, memory=(1, 2, 3, 0))  # a batch-last convolution's output (LeNet-5's first)
    return _fwd_bwd(seq, x), _torch_fwd_bwd(torch, tseq, x)


def case_dropout(torch):
    x = _arr(128, 300)
    return (_fwd_bwd(lambda t: F.dropout(t, 0.5, True), x),
            _torch_fwd_bwd(torch, lambda t: torch.nn.functional.dropout(t, 0.5, True), x))


def _rnn_case(torch, cell):
    layer = (nn.LSTM if cell == "lstm" else nn.GRU)(28, 128, batch_first=True)
    tlayer = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(28, 128, batch_first=True)
    x = _arr(128, 28, 28)
    return (_fwd_bwd(lambda t: layer(t)[0], x, grad_of=()), _torch_fwd_bwd(torch, lambda t: tlayer(t)[0], x,
                                                                          grad_of=()))


def case_lstm(torch):
    return _rnn_case(torch, "lstm")


def case_gru(torch):
    return _rnn_case(torch, "gru")


def _conv_case(torch, c, o, k, p, size, memory=None, input_grad=True):
    x = _arr(128, c, size, size, memory=memory)
    w = _arr(o, c, k, k) * 0.1
    b = np.zeros(o, np.float32)
    grad_of = None if input_grad else (1, 2)
    return (_fwd_bwd(lambda t, u, v: F.conv2d(t, u, v, padding=p), x, w, b, grad_of=grad_of),
            _torch_fwd_bwd(torch, lambda t, u, v: torch.nn.functional.conv2d(t, u, v, padding=p), x, w, b,
                           grad_of=grad_of))


def _gemm_case(torch, m, k, n):
    from neurona.kernels import gemm
    a, b = _arr(m, k), _arr(k, n)
    out = np.empty((m, n), np.float32)
    ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out.copy())
    return (lambda: gemm.matmul(a, b, out=out)), (lambda: torch.mm(ta, tb, out=tout))


CASES = {
    "adam": (case_adam, "Adam step, MLP 784-300-100-10 (266,610 parameters)"),
    "sgd": (case_sgd, "SGD (Nesterov) step, the same parameters"),
    "linear_relu": (case_linear_relu, "Linear 784→300 + ReLU, batch 128, fwd+bwd"),
    "relu": (case_relu, "ReLU (128, 6, 28, 28) batch-last, fwd+bwd"),
    "sigmoid": (case_sigmoid, "sigmoid (128, 300), fwd+bwd"),
    "cross_entropy": (case_cross_entropy, "cross-entropy (128, 10), fwd+bwd"),
    "batch_norm_relu": (case_batch_norm_relu, "BatchNorm2d(32) + ReLU, (128, 32, 28, 28), fwd+bwd"),
    "max_pool_relu": (case_max_pool_relu, "ReLU + MaxPool2d(2), (128, 6, 28, 28), fwd+bwd"),
    "dropout": (case_dropout, "dropout 0.5, (128, 300), fwd+bwd"),
    "lstm": (case_lstm, "LSTM 28→128 over 28 steps, batch 128, fwd+bwd"),
    "gru": (case_gru, "GRU 28→128 over 28 steps, batch 128, fwd+bwd"),
    "conv_lenet1": (lambda t: _conv_case(t, 1, 6, 5, 2, 28, input_grad=False), "conv 1→6 5x5 pad 2, 28x28"),
    "conv_lenet2": (lambda t: _conv_case(t, 6, 16, 5, 0, 14, memory=(1, 2, 3, 0)), "conv 6→16 5x5, 14x14"),
    "conv_cnn1": (lambda t: _conv_case(t, 1, 32, 3, 1, 28, input_grad=False), "conv 1→32 3x3, 28x28"),
    "conv_cnn2": (lambda t: _conv_case(t, 32, 32, 3, 1, 28, memory=(0, 2, 3, 1)), "conv 32→32 3x3, 28x28"),
    "conv_cnn3": (lambda t: _conv_case(t, 32, 64, 3, 1, 14, memory=(0, 2, 3, 1)), "conv 32→64 3x3, 14x14"),
    "conv_cnn4": (lambda t: _conv_case(t, 64, 64, 3, 1, 14, memory=(0, 2, 3, 1)), "conv 64→64 3x3, 14x14"),
    # float32 products: the kernel column is neurona.kernels.gemm.matmul (its own AVX-512 kernel where
    # NEURONA_GEMM picks it, else NumPy's BLAS), the reference column NumPy's BLAS
    "gemm_mlp": (lambda t: _gemm_case(t, 128, 784, 300), "product (128, 784) · (784, 300): the MLP's first layer"),
    "gemm_rnn": (lambda t: _gemm_case(t, 128, 128, 512), "product (128, 128) · (128, 512): an LSTM step"),
    "gemm_1024": (lambda t: _gemm_case(t, 1024, 1024, 1024), "product (1024, 1024) · (1024, 1024)"),
}


def paired(fns: dict, rounds: int, inner: int) -> dict:
    for f in fns.values():  # warm up: compile, allocate
        f()
        f()
    times = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        for k in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            for _ in range(inner):
                fns[k]()
            times[k].append((time.perf_counter() - t0) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--only", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--threads", type=int, default=None, help="threads for both libraries (default: theirs)")
    args = ap.parse_args()
    import torch
    if args.threads is not None:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)
    from neurona.kernels import gemm
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, load average "
          f"{os.getloadavg()[0]:.1f}; NumPy {np.__version__}, PyTorch {torch.__version__}; "
          f"threads: {args.threads or 'library defaults'}; float32 products on "
          f"{'neurona' if gemm.in_force(np.zeros(1, np.float32)) else 'the BLAS'}")
    only = [s for s in args.only.split(",") if s]
    print(f"{'kernel':17s} {'reference':>10s} {'kernel':>10s} {'PyTorch':>10s} {'k/ref':>6s} {'k/PT':>6s}  what")
    for name, (make, what) in CASES.items():
        if only and name not in only:
            continue
        fast, tfn = make(torch)
        fns = {"reference": _reference(fast), "kernel": fast, "torch": tfn}
        inner = 20 if name in ("adam", "sgd", "cross_entropy", "sigmoid", "dropout", "linear_relu", "gemm_mlp",
                               "gemm_rnn") else 3
        t = paired(fns, args.rounds, inner)
        print(f"{name:17s} {t['reference'] * 1e3:8.3f}ms {t['kernel'] * 1e3:8.3f}ms {t['torch'] * 1e3:8.3f}ms "
              f"{t['kernel'] / t['reference']:6.2f} {t['kernel'] / t['torch']:6.2f}  {what}", flush=True)


if __name__ == "__main__":
    main()
