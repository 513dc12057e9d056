"""Data-parallel training on MPI: measured on this machine, projected to clusters.

    python bench/ddp.py [--steps 30] [--out bench/out/ddp]

1. Measured: for each model (MLP 784-300-100-10, LeNet-5, LSTM 128 over 28
   rows of a 28×28 image, ResNet-18 on 28×28 inputs), a training step at a
   per-rank batch b on 1 and on 2 ranks (``mpiexec -n``, one BLAS thread per
   rank): samples per second, the bytes each step all-reduces, and the time
   spent in communication (waiting for the all-reduce after backward) against
   the compute of the step.
2. Projected: a ring all-reduce of B bytes over N nodes costs
       T_comm(N) = 2(N − 1)/N · B / bandwidth + 2(N − 1) · α · messages
   (α the per-message latency of one hop). With the measured compute time of
   one step, T_c, a weak-scaling step (b examples per node) takes
   T_c + T_comm(N) without overlap, so the parallel efficiency is
   E(N) = T_c / (T_c + T_comm(N)). The table gives, for 10, 25 and 100 Gb/s
   networks, the efficiency at 8…256 nodes and the largest N with E ≥ 0.5
   ("stops scaling" past it), with bucketing (one message per bucket) and
   without (one message per parameter tensor). The inputs T_c, B and the
   number of tensors are this run's measurements; α is an assumption per
   network, printed with the table.

Figures go to stdout, to ``OUT.json`` and to ``OUT.png`` (efficiency curves).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# network scenarios: bandwidth in Gb/s and an assumed per-message latency of one hop (seconds)
NETWORKS = {"10 Gb/s Ethernet": (10, 30e-6), "25 Gb/s Ethernet": (25, 15e-6), "100 Gb/s InfiniBand": (100, 3e-6)}
NODES = (8, 16, 32, 64, 128, 256)
MODELS = {"mlp": 128, "lenet5": 128, "lstm": 128, "resnet18": 32}  # model -> per-rank batch


def build(name: str):
    import neurona as nr
    from neurona import models, nn

    nr.manual_seed(0)
    if name == "mlp":
        return models.MLP(784, (300, 100), 10), (784,)
    if name == "lenet5":
        return models.LeNet5(), (1, 28, 28)
    if name == "lstm":
        return models.build_model("lstm", input_size=28, hidden_size=128, num_classes=10), (28, 28)
    if name == "resnet18":
        return models.ResNet18(num_classes=10, in_channels=1, input_size=28), (1, 28, 28)
    raise ValueError(name)


def worker(name: str, batch: int, steps: int) -> None:
    """One rank's loop (run under mpiexec); rank 0 prints one JSON line."""
    import neurona as nr
    import neurona.distributed as dist
    from neurona import nn, optim

    dist.init_process_group()
    model, shape = build(name)
    ddp = dist.DistributedDataParallel(model)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(dist.get_rank())
    x = nr.tensor(rng.normal(size=(batch,) + shape).astype(np.float32))
    y = nr.tensor(rng.integers(0, 10, size=batch))
    loss_fn = nn.CrossEntropyLoss()
    times, waits = [], []
    for step in range(steps + 3):
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_fn(ddp(x), y).backward()
        opt.step()
        if step >= 3:  # the first steps warm caches and kernels
            times.append(time.perf_counter() - t0)
            waits.append(ddp.stats["wait_s"])
    n = dist.get_world_size()
    if dist.is_main_process():
        params = [p for p in model.parameters() if p.requires_grad]
        print(json.dumps({"model": name, "ranks": n, "batch": batch, "step_s": float(np.median(times)),
                          "wait_s": float(np.median(waits)), "samples_per_s": n * batch / float(np.median(times)),
                          "bytes": ddp.stats["bytes"], "buckets": ddp.stats["buckets"], "tensors": len(params),
                          "params": int(sum(p.array.size for p in params))}), flush=True)


def _mpiexec() -> str:
    local = Path(sys.executable).parent / "mpiexec"
    found = str(local) if local.exists() else shutil.which("mpiexec")
    if not found:
        raise SystemExit("bench/ddp.py needs mpi4py and an mpiexec: pip install 'neurona[mpi]'")
    return found


def measure(name: str, batch: int, ranks: int, steps: int) -> dict:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="true", PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [_mpiexec(), "-n", str(ranks), "--bind-to", "core", sys.executable, __file__, "--worker", name,
           str(batch), str(steps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{name} on {ranks} ranks failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(lines[-1])


def ring_allreduce_s(nbytes: float, nodes: int, gbps: float, alpha: float, messages: int) -> float:
    """2(N − 1)/N · B / bandwidth + 2(N − 1) · α · messages."""
    if nodes == 1:
        return 0.0
    return 2 * (nodes - 1) / nodes * nbytes / (gbps * 1e9 / 8) + 2 * (nodes - 1) * alpha * messages


def project(compute_s: float, nbytes: int, messages: int) -> dict:
    out = {}
    for net, (gbps, alpha) in NETWORKS.items():
        eff = {n: compute_s / (compute_s + ring_allreduce_s(nbytes, n, gbps, alpha, messages)) for n in NODES}
        fine = [n for n in range(2, 4097) if compute_s / (compute_s + ring_allreduce_s(nbytes, n, gbps, alpha,
                                                                                       messages)) >= 0.5]
        out[net] = {"efficiency": eff, "max_nodes_at_half": max(fine) if fine else 1}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "ddp"))
    args = ap.parse_args()
    rows = []
    for name in args.models.split(","):
        batch = MODELS[name]
        one = measure(name, batch, 1, args.steps)
        two = measure(name, batch, 2, args.steps)
        rows.append({"one": one, "two": two})
        comm = two["wait_s"]
        print(f"{name:9s} b={batch:4d}  params {one['params']:>10,}  all-reduce {two['bytes'] / 2**20:7.2f} MiB/step "
              f"in {two['buckets']} bucket(s) ({one['tensors']} tensors)  |  1 rank {one['samples_per_s']:8.1f} "
              f"samples/s, 2 ranks {two['samples_per_s']:8.1f} samples/s (x{two['samples_per_s'] / one['samples_per_s']:.2f})"
              f"  |  step {two['step_s'] * 1e3:7.1f} ms: communication {comm * 1e3:6.2f} ms, compute "
              f"{(two['step_s'] - comm) * 1e3:7.1f} ms", flush=True)
    print("\nProjection (weak scaling, b examples per node, ring all-reduce, no overlap; efficiency E(N)):")
    for net, (gbps, alpha) in NETWORKS.items():
        print(f"  {net}: α = {alpha * 1e6:g} µs per message (assumed)")
    projections = {}
    for r in rows:
        one = r["one"]
        compute, nbytes = one["step_s"], r["two"]["bytes"]
        buckets, tensors = r["two"]["buckets"], one["tensors"]
        projections[one["model"]] = {"bucketed": project(compute, nbytes, buckets),
                                     "per_tensor": project(compute, nbytes, tensors)}
        for net in NETWORKS:
            b = projections[one["model"]]["bucketed"][net]
            t = projections[one["model"]]["per_tensor"][net]
            effs = "  ".join(f"N={n}: {b['efficiency'][n]:.2f}" for n in NODES)
            print(f"  {one['model']:9s} {net:20s} {effs}  | E ≥ 0.5 up to N = {b['max_nodes_at_half']} "
                  f"(one message per tensor: {t['max_nodes_at_half']})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"measured": rows, "networks": NETWORKS,
                                                    "projection": projections}, indent=1))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    fig, axes = plt.subplots(1, len(NETWORKS), figsize=(5 * len(NETWORKS), 3.8), sharey=True)
    ns = np.unique(np.geomspace(2, 256, 40).astype(int))
    for ax, (net, (gbps, alpha)) in zip(axes, NETWORKS.items()):
        for r in rows:
            one = r["one"]
            eff = [one["step_s"] / (one["step_s"] + ring_allreduce_s(r["two"]["bytes"], n, gbps, alpha,
                                                                      r["two"]["buckets"])) for n in ns]
            ax.plot(ns, eff, label=one["model"])
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_title(net)
        ax.set_xlabel("nodes N")
    axes[0].set_ylabel("parallel efficiency E(N)")
    axes[0].legend()
    fig.suptitle("Projected weak scaling of data-parallel training (measured compute and bytes, ring all-reduce)")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print(f"figures in {out.with_suffix('.json')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
