"""Data-parallel training on several processes and machines, over MPI (``neurona.distributed``).

Run the same script on N processes — ``mpiexec -n N python train.py``, or
``mpiexec -n N neurona train --distributed`` — and each process trains on its
share of every batch; gradients are averaged after each backward, so all
processes keep the same weights (see ``DistributedDataParallel``). Without
MPI (no ``mpi4py``, or started without ``mpiexec``) everything here works as a
world of one process.

>>> import neurona.distributed as dist
>>> dist.init_process_group()
>>> model = dist.DistributedDataParallel(model)
>>> sampler = dist.DistributedSampler(train_set, shuffle=True, seed=0)
>>> for epoch in range(epochs):
...     sampler.set_epoch(epoch)
...     for xb, yb in DataLoader(train_set, batch_size=64, sampler=sampler): ...

Needs the optional extra ``pip install 'neurona[mpi]'`` (mpi4py and an Open
MPI from PyPI); on a cluster, mpi4py built against the system's MPI.
"""
from .comm import (ReduceOp, Work, abort, all_gather, all_gather_object, all_reduce, barrier, broadcast,
                   broadcast_object, destroy_process_group, get_local_rank, get_rank, get_world_size, init,
                   init_process_group, is_available, is_initialized, is_main_process)
from .ddp import DistributedDataParallel
from .sampler import DistributedEvalSampler, DistributedSampler
from .sync_batchnorm import SyncBatchNorm

__all__ = ["ReduceOp", "Work", "abort", "all_gather", "all_gather_object", "all_reduce", "barrier", "broadcast",
           "broadcast_object", "destroy_process_group", "get_local_rank", "get_rank", "get_world_size", "init",
           "init_process_group", "is_available", "is_initialized", "is_main_process", "DistributedDataParallel",
           "DistributedSampler", "DistributedEvalSampler", "SyncBatchNorm"]
