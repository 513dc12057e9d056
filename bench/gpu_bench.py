"""GPU figures in one run: versions, op checks against the CPU, epoch times against PyTorch, ResNet-18 accuracy.

    PYTHONPATH=. python bench/gpu_bench.py --out figures.json [--data DIR] [--dry-run]

Every timing is paired in the same process on the same card, alternating neurona and PyTorch eager (float32),
after one warm-up epoch each, with a synchronize before each clock read. ``--dry-run`` runs the same neurona
code paths on the strict stand-in device with tiny sizes (no GPU, no PyTorch needed): it checks the script, not
speed. Without the full Fashion-MNIST (``--data`` or ``NEURONA_DATA``) the embedded subset is used and the
accuracy figure is marked invalid.
"""
from __future__ import annotations

import argparse
import os
import json
import platform
import sys
import time

import numpy as np

import neurona
from neurona import backend, nn, optim


def versions(dev: str) -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__, "neurona": neurona.__version__,
         "device": dev}
    if dev.startswith("cuda"):
        cp = backend._cupy
        v.update(cupy=cp.__version__, cuda_runtime=cp.cuda.runtime.runtimeGetVersion(),
                 driver=cp.cuda.runtime.driverGetVersion(), card=neurona.cuda.get_device_name())
        try:
            import torch
            v.update(torch=torch.__version__, torch_cuda=torch.version.cuda)
        except ImportError:
            v["torch"] = None
    return v


def load_fashion(data_dir, small: bool):
    from neurona.data.fashion import fashion_mnist
    xtr, ytr = fashion_mnist("train", root=data_dir, download=False, fallback_to_embedded=True)
    xte, yte = fashion_mnist("test", root=data_dir, download=False, fallback_to_embedded=True)
    full = len(xtr) >= 60000
    if not full:
        print("!!! NOTICE: the full Fashion-MNIST was not found; using the embedded subset. Accuracy figures are "
              "NOT valid: pass --data DIR with the IDX files.", file=sys.stderr)
    if small:
        xtr, ytr, xte, yte = xtr[:512], ytr[:512], xte[:256], yte[:256]
    xtr = (np.asarray(xtr, np.float32).reshape(len(xtr), 1, 28, 28) / 255.0)
    xte = (np.asarray(xte, np.float32).reshape(len(xte), 1, 28, 28) / 255.0)
    return xtr, np.asarray(ytr, np.int64), xte, np.asarray(yte, np.int64), full


# --- models, the same in both libraries -----------------------------------------------------------------------

def mlp(lib):
    return lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(784, 300), lib.nn.ReLU(), lib.nn.Linear(300, 100),
                             lib.nn.ReLU(), lib.nn.Linear(100, 10))


def lenet(lib):
    n = lib.nn
    return n.Sequential(n.Conv2d(1, 6, 5, padding=2), n.ReLU(), n.MaxPool2d(2), n.Conv2d(6, 16, 5), n.ReLU(),
                        n.MaxPool2d(2), n.Flatten(), n.Linear(400, 120), n.ReLU(), n.Linear(120, 84), n.ReLU(),
                        n.Linear(84, 10))


class _RowsLSTM:
    """LSTM over the 28 rows of an image (28 steps of 28 features), 128 hidden, a linear head."""

    def __init__(self, lib):
        self.lstm, self.head, self.lib = lib.nn.LSTM(28, 128), lib.nn.Linear(128, 10), lib

    def params(self):
        return list(self.lstm.parameters()) + list(self.head.parameters())

    def to(self, dev):
        self.lstm.to(dev), self.head.to(dev)
        return self

    def __call__(self, x):
        seq = x.reshape(x.shape[0], 28, 28).permute(1, 0, 2)
        out, _ = self.lstm(seq)
        return self.head(out[-1])


def resnet18(lib):
    if lib is neurona:
        from neurona.models.resnet import resnet
        return resnet(18, num_classes=10, in_channels=1, input_size=28)
    import torchvision
    m = torchvision.models.resnet18(num_classes=10)
    m.conv1 = lib.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return m


# --- one epoch -------------------------------------------------------------------------------------------------

def epoch(lib, model, params, x, y, batch: int, dev, sync) -> float:
    opt = lib.optim.Adam(params, lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    n = len(x) - len(x) % batch
    perm = np.random.default_rng(0).permutation(len(x))[:n]
    sync()
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        xb, yb = lib.tensor(x[idx]).to(dev), lib.tensor(y[idx]).to(dev)
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    sync()
    return time.perf_counter() - t0


def paired(name, make, x, y, batch, dev, torch_dev, rounds: int, dry: bool) -> dict:
    def side(lib, d):
        m = make(lib)
        m = m.to(d)
        ps = m.params() if hasattr(m, "params") else list(m.parameters())
        return m, ps
    nm, nps = side(neurona, dev)
    sync_n = (lambda: neurona.cuda.synchronize()) if str(dev).startswith("cuda") else (lambda: None)
    epoch(neurona, nm, nps, x, y, batch, dev, sync_n)  # warm-up: kernels compiled, memory pool filled
    tn, tt = [], []
    if not dry:
        import torch
        tm, tps = side(torch, torch_dev)
        epoch(torch, tm, tps, x, y, batch, torch_dev, torch.cuda.synchronize)
    for _ in range(rounds):
        tn.append(epoch(neurona, nm, nps, x, y, batch, dev, sync_n))
        if not dry:
            tt.append(epoch(torch, tm, tps, x, y, batch, torch_dev, torch.cuda.synchronize))
    out = {"neurona_s": min(tn), "samples": len(x), "batch": batch}
    if tt:
        out.update(torch_s=min(tt), ratio=min(tn) / min(tt))
    print(f"{name}: {out}", flush=True)
    return out


def resnet_accuracy(x, y, xte, yte, dev, budget_s: float, batch: int = 256) -> dict:
    neurona.manual_seed(0)
    model = resnet18(neurona)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    from neurona.train import evaluate, fit
    t0, epochs, per = time.perf_counter(), 0, []
    acc = None
    while time.perf_counter() - t0 < budget_s:
        e0 = time.perf_counter()
        fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=1, batch_size=batch, verbose=0, device=dev, seed=epochs)
        per.append(time.perf_counter() - e0)
        epochs += 1
        acc = evaluate(model, None, (xte, yte))["accuracy"]
        print(f"resnet18 epoch {epochs}: {per[-1]:.1f} s, test accuracy {acc:.4f}", flush=True)
        if time.perf_counter() - t0 + per[-1] > budget_s:
            break
    return {"epochs": epochs, "seconds_per_epoch": float(np.mean(per)) if per else None, "test_accuracy": acc,
            "train_seconds": time.perf_counter() - t0}


def op_checks(dev: str) -> dict:
    """The device test module on ``dev`` against the CPU (values and gradients), as a pytest run."""
    import subprocess
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_device_ops.py",
                            f"--device={dev}"], capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired as e:
        print("op checks: over 180 s, stopped", flush=True)
        return {"returncode": None, "summary": "timed out after 180 s", "output": (e.stdout or "")[-2000:]}
    tail = (r.stdout + r.stderr).strip().splitlines()[-3:]  # ends with "N passed in S s" or the failures
    print("\n".join(tail), flush=True)
    return {"returncode": r.returncode, "summary": tail[-1] if tail else ""}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/gpu_figures.json")
    ap.add_argument("--data", default=None, help="folder with the full Fashion-MNIST (IDX files)")
    ap.add_argument("--dry-run", action="store_true", help="the same paths on the strict stand-in device, tiny sizes")
    ap.add_argument("--resnet-budget", type=float, default=150.0, help="seconds of ResNet-18 training")
    a = ap.parse_args(argv)
    dev = "strict" if a.dry_run else "cuda"
    if not a.dry_run and not neurona.cuda.is_available():
        print(f"no GPU: {backend.cuda_missing()}", file=sys.stderr)
        return 2
    if not a.dry_run:
        neurona.cuda.allow_tf32(False)
    figures = {"versions": versions(dev), "dry_run": a.dry_run}
    figures["op_checks"] = op_checks(dev)  # first: the quickest and the one that says whether the rest can be trusted
    x, y, xte, yte, full = load_fashion(a.data, a.dry_run)
    figures["full_fashion_mnist"] = full
    rounds = 1 if a.dry_run else 2
    torch_dev = None if a.dry_run else "cuda"
    figures["mlp_b128"] = paired("mlp b128", mlp, x, y, 128 if not a.dry_run else 64, dev, torch_dev, rounds, a.dry_run)
    figures["mlp_b1024"] = paired("mlp b1024", mlp, x, y, 1024 if not a.dry_run else 128, dev, torch_dev, rounds,
                                  a.dry_run)
    figures["lenet5"] = paired("lenet5 b128", lenet, x, y, 128 if not a.dry_run else 64, dev, torch_dev, rounds,
                               a.dry_run)
    figures["lstm_rows"] = paired("lstm rows b128", _RowsLSTM, x, y, 128 if not a.dry_run else 64, dev, torch_dev,
                                  rounds, a.dry_run)
    xr = x if not a.dry_run else x[:64]
    figures["resnet18_b256"] = paired("resnet18 b256", resnet18, xr[:10240], y[:10240], 256 if not a.dry_run else 32,
                                      dev, torch_dev, 1, a.dry_run)
    budget = a.resnet_budget if not a.dry_run else 1.0
    figures["resnet18_accuracy"] = resnet_accuracy(xr, y[:len(xr)], xte if not a.dry_run else xte[:64],
                                                   yte if not a.dry_run else yte[:64], dev, budget,
                                                   256 if not a.dry_run else 32)
    figures["resnet18_accuracy"]["valid"] = full and not a.dry_run
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(figures, f, indent=2, default=str)
    print(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
