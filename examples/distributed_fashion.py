"""Data-parallel training on several processes: the PyTorch recipe, written out.

The notes' argument for mini-batch SGD is also the argument for data
parallelism: the gradient of a mini-batch is the mean of per-example
gradients, so N processes can each take 1/N of the batch, compute the mean
gradient of their share, and average the N means (an all-reduce over MPI).
Every process then applies the same update to the same weights.

This script trains LeNet-5 on Fashion-MNIST that way, in the form PyTorch's
tutorials use:

1. ``init_process_group()`` joins the processes that ``mpiexec`` started;
2. ``DistributedDataParallel(model)`` copies rank 0's weights to every rank
   and averages the gradients after each ``backward()`` (in buckets of a few
   MB, each sent as soon as its gradients are ready);
3. ``DistributedSampler`` gives each rank a disjoint share of a permutation
   that changes with ``set_epoch``;
4. only rank 0 prints and saves; the test accuracy is summed over ranks.

Run (one process is a world of one; it also runs without MPI):

    python examples/distributed_fashion.py
    mpiexec -n 2 python examples/distributed_fashion.py [--full] [--epochs 3]

As root with Open MPI set OMPI_ALLOW_RUN_AS_ROOT=1 and
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; for more processes than cores add
OMPI_MCA_rmaps_base_oversubscribe=true. By default it uses the Fashion-MNIST
subset shipped with neurona (3,000 training images); ``--full`` the 60,000.
``neurona train --distributed`` and ``fit(..., distributed=True)`` do all of
this for you.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import neurona
import neurona.distributed as dist
from neurona import nn, optim
from neurona.data import fashion_mnist, fashion_mnist_small
from neurona.models import LeNet5
from neurona.utils.data import DataLoader, TensorDataset


def load(full: bool, limit: int | None):
    read = fashion_mnist if full else fashion_mnist_small
    kw = {} if full else {"warn": False}
    x_tr, y_tr = read("train", as_float=True, layout="NCHW", **kw)
    x_te, y_te = read("test", as_float=True, layout="NCHW", **kw)
    if limit:
        x_tr, y_tr, x_te, y_te = x_tr[:limit], y_tr[:limit], x_te[:limit], y_te[:limit]
    mean, std = x_tr.mean(), x_tr.std()  # the same statistics on every rank: all read the same training set
    return (TensorDataset(neurona.tensor((x_tr - mean) / std), neurona.tensor(y_tr)),
            TensorDataset(neurona.tensor((x_te - mean) / std), neurona.tensor(y_te)))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the full 60,000 training images")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64, help="examples per process and step")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N images of each split")
    args = ap.parse_args(argv)

    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    say = print if rank == 0 else (lambda *a, **k: None)

    train_set, test_set = load(args.full, args.limit)
    neurona.manual_seed(rank)  # different seeds on purpose: wrapping makes the weights equal
    model = dist.DistributedDataParallel(LeNet5())
    # the linear scaling rule: a global batch N times larger takes an N times larger step
    optimizer = optim.Adam(model.parameters(), lr=1e-3 * world)
    loss_fn = nn.CrossEntropyLoss()
    sampler = dist.DistributedSampler(train_set, shuffle=True, seed=0)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    say(f"{world} process(es), {len(sampler)} training images each, global batch {world * args.batch_size}")

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new permutation each epoch, the same on every rank
        model.train()
        start, total, n = time.perf_counter(), 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()  # the gradients are averaged over the ranks here
            optimizer.step()
            total, n = total + float(loss.item()) * len(xb), n + len(xb)
        mean_loss = dist.all_reduce(np.array([total, n], np.float64), op="sum")
        say(f"epoch {epoch + 1}/{args.epochs}  loss {mean_loss[0] / mean_loss[1]:.4f}  "
            f"{time.perf_counter() - start:.1f}s")

    # every rank scores its share of the test set; the counts are summed
    model.eval()
    shares = DataLoader(test_set, batch_size=256, sampler=dist.DistributedEvalSampler(test_set))
    right = seen = 0
    with neurona.no_grad():
        for xb, yb in shares:
            right += int((model(xb).argmax(1) == yb).sum().item())
            seen += len(xb)
    right, seen = (int(v) for v in dist.all_reduce(np.array([right, seen], np.int64), op="sum"))
    say(f"test accuracy {right / seen:.4f} ({right:,}/{seen:,})")
    return {"accuracy": right / seen, "world": world, "test_images": seen}


if __name__ == "__main__":
    main()
