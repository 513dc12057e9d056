"""Run by the distributed tests under ``mpiexec -n N``: one scenario per call, results into an npz by rank 0.

    mpiexec -n 2 python tests/distributed/mpi_worker.py SCENARIO OUT.npz [options]
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

import neurona as nr
import neurona.distributed as dist
from neurona import backend, nn, optim


def data(n: int = 96, d: int = 6, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return X, np.minimum(y, classes - 1)


def mlp(batch_norm: bool = False, seed: int = 0):
    nr.manual_seed(seed)
    layers = [nn.Linear(6, 16)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.Tanh(), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def make_optimizer(name: str, params):
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


def weights(model) -> dict:
    return {k: np.array(backend.to_numpy(v.array), copy=True) for k, v in model.state_dict().items()}


def scenario_train(out: str, opt_name: str, batch: int, steps: int, sync_bn: bool = False, accumulate: int = 1,
                   device: str = "cpu"):
    """Each rank trains on its share of the global batch; rank 0 saves the final weights. With a device (the strict
    stand-in here), parameters, inputs and gradients live there and the collectives stage them through the host."""
    rank, size = dist.get_rank(), dist.get_world_size()
    model = mlp(batch_norm=sync_bn, seed=100 + rank).to(device)  # different seeds: the wrap must make them equal
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = dist.DistributedDataParallel(model)
    start = {k: v for k, v in weights(model).items()}
    opt = make_optimizer(opt_name, model.parameters())
    X, y = data()
    loss_fn = nn.CrossEntropyLoss()

    def t(a):
        return nr.tensor(a).to(device)

    for step in range(steps):
        glob = np.arange(step * batch * size, (step + 1) * batch * size) % len(X)
        mine = glob[rank::size]  # this rank's share of the global batch (the sampler's interleaving)
        opt.zero_grad()
        if accumulate > 1:
            parts = np.array_split(mine, accumulate)
            with ddp.no_sync():
                for part in parts[:-1]:
                    (loss_fn(ddp(t(X[part])), t(y[part])) * (len(part) / len(mine))).backward()
            part = parts[-1]
            (loss_fn(ddp(t(X[part])), t(y[part])) * (len(part) / len(mine))).backward()
        else:
            loss_fn(ddp(t(X[mine])), t(y[mine])).backward()
        opt.step()
    on_device = all(p.device == backend.check_device(device) for p in model.parameters())
    gathered = dist.all_gather_object({k: float(np.abs(v).sum()) for k, v in weights(model).items()})
    if rank == 0:
        np.savez(out, **{"w_" + k: v for k, v in weights(model).items()},
                 **{"start_" + k: v for k, v in start.items()},
                 same_on_ranks=np.array(all(g == gathered[0] for g in gathered)), on_device=np.array(on_device),
                 bytes=np.array(ddp.stats["bytes"]), buckets=np.array(ddp.stats["buckets"]))


def scenario_collectives(out: str):
    rank, size = dist.get_rank(), dist.get_world_size()
    t = nr.tensor([float(rank), 1.0])
    dist.all_reduce(t, "sum")
    m = np.array([float(rank)])
    dist.all_reduce(m, "mean")
    mx = np.array([rank], np.int64)
    dist.all_reduce(mx, dist.ReduceOp.MAX)
    b = np.full(3, rank, np.float32)
    dist.broadcast(b, src=size - 1)
    g = dist.all_gather(np.array([rank * 10.0]))
    objs = dist.all_gather_object({"rank": rank})
    name = dist.broadcast_object(f"run-of-rank-{rank}", src=0)
    w = dist.all_reduce(np.ones(4), "sum", async_op=True)
    w.wait()
    d = nr.tensor([float(rank), 2.0]).to("strict")  # a device tensor, staged through the host
    dist.all_reduce(d, "mean")
    db = nr.tensor([float(rank)] * 2).to("strict")
    dist.broadcast(db, src=size - 1)
    dg = dist.all_gather(nr.tensor([rank * 1.0]).to("strict"))
    dist.barrier()
    if rank == 0:
        np.savez(out, sum=t.array, mean=m, max=mx, bcast=b, gathered=np.concatenate(g),
                 dev_mean=backend.to_numpy(d.array), dev_bcast=backend.to_numpy(db.array),
                 dev_gathered=np.concatenate([backend.to_numpy(p.array) for p in dg]),
                 dev_where=np.array([str(x.device) for x in (d, db, *dg)]),
                 objs=np.array(json.dumps(objs)), name=np.array(name), size=np.array(size))


def scenario_fit(out: str, shuffle: bool, device=None):
    """fit(distributed=True): rank 0 saves the weights and the history; every rank's history must agree."""
    rank = dist.get_rank()
    model = mlp(seed=7 + rank)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    X, y = data()
    hist = nr.train.fit(model, nn.CrossEntropyLoss(), opt, (X[:64], y[:64]), val=(X[64:], y[64:]), epochs=3,
                        batch_size=8, shuffle=shuffle, seed=3, verbose=2, distributed=True, device=device)
    assert device is None or all(str(p.device) == device for p in model.parameters())
    rows = dist.all_gather_object(json.dumps({k: [round(v, 6) for v in vals] for k, vals in hist.history.items()
                                              if k != "time"}))
    if rank == 0:
        np.savez(out, **{"w_" + k: v for k, v in weights(model).items()},
                 histories=np.array(json.dumps(rows)), val_accuracy=np.array(hist.history["val_accuracy"]))


def scenario_diverge(out: str):
    """One rank's batch turns NaN: every rank must stop at that same batch (no rank left waiting)."""
    rank = dist.get_rank()
    model = mlp(seed=7)
    opt = optim.SGD(model.parameters(), lr=0.1)
    X, y = data()
    X = X.copy()
    X[1 + 2 * 8 * 2] = np.nan  # rank 1's third batch (shuffle=False, batch 8, interleaved shares)
    trainer = nr.train.Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0,
                               callbacks=[nr.train.TerminateOnDivergence()], distributed=True)
    trainer.fit((X[:64], y[:64]), epochs=2, batch_size=8, shuffle=False)
    states = dist.all_gather_object([trainer.diverged is not None, trainer.stop_reason, trainer.epochs_done])
    if rank == 0:
        np.savez(out, states=np.array(json.dumps(states)))


def scenario_fail(out: str, how: str):
    rank = dist.get_rank()
    a = np.ones(3)
    dist.all_reduce(a)
    if rank == 1:
        if how == "kill":
            os.kill(os.getpid(), 9)
        raise RuntimeError("rank 1 fails on purpose")
    for _ in range(3):
        dist.all_reduce(a)  # the other ranks wait here for rank 1, which never comes
    print("unreachable: the job should have ended", flush=True)


if __name__ == "__main__":
    name, out, *rest = sys.argv[1:]
    dist.init_process_group()
    if name == "train":
        opt_name, batch, steps = rest[0], int(rest[1]), int(rest[2])
        scenario_train(out, opt_name, batch, steps, sync_bn="syncbn" in rest, accumulate=2 if "accumulate" in rest
                       else 1, device="strict" if "strict" in rest else "cpu")
    elif name == "collectives":
        scenario_collectives(out)
    elif name == "fit":
        scenario_fit(out, shuffle="shuffle" in rest, device="strict" if "strict" in rest else None)
    elif name == "diverge":
        scenario_diverge(out)
    elif name == "fail":
        scenario_fail(out, rest[0])
    else:
        raise SystemExit(f"unknown scenario {name}")
