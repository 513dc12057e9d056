"""``DistributedSampler``: each process takes its own share of the data set, all shares the same length."""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from ..data.sampler import Sampler
from . import comm

__all__ = ["DistributedSampler", "DistributedEvalSampler"]


class DistributedSampler(Sampler):
    """The indices of ``dataset`` that this rank trains on, in PyTorch's scheme.

    Each epoch, with ``shuffle``, the indices 0 … n − 1 are permuted by a
    generator seeded with ``seed + epoch`` (the same permutation on every
    rank — call ``set_epoch(e)`` at the start of each epoch, or let ``fit``
    do it); without ``drop_last`` the list is padded by repeating its start
    until its length divides by the number of replicas (with it, the tail is
    cut); rank r then takes ``indices[r::num_replicas]``. The shares are
    disjoint apart from the padding and together cover the data set, and all
    have ``len(sampler)`` indices, so every rank runs the same number of steps.

    With per-rank batches of b, the k-th batches of all ranks together are
    the k-th batch of size N·b of a single process walking the same
    permutation: the basis of the equivalence of N processes with one.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if num_replicas is None:
            num_replicas = comm.get_world_size()
        if rank is None:
            rank = comm.get_rank()
        num_replicas, rank = int(num_replicas), int(rank)
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in 0..{num_replicas - 1}, got {rank}")
        self.dataset = dataset
        self.n = len(dataset)
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        if self.drop_last and self.n % num_replicas:
            self.num_samples = math.ceil((self.n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(self.n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of this epoch (the same on every rank)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an array."""
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(self.n)
        else:
            order = np.arange(self.n)
        if not self.drop_last:
            pad = self.total_size - len(order)
            if pad > 0:
                order = np.concatenate([order, np.resize(order, pad)]) if len(order) else order
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f"DistributedSampler(n={self.n}, num_replicas={self.num_replicas}, rank={self.rank}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")


class DistributedEvalSampler(Sampler):
    """Examples rank, rank + N, rank + 2N, … of ``dataset``, in order and without padding: an evaluation share.

    Unlike :class:`DistributedSampler` no example repeats, so metrics summed
    over the ranks count every example once; the shares may differ in length
    by one, which evaluation (no collective per batch) allows.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None):
        num_replicas = comm.get_world_size() if num_replicas is None else int(num_replicas)
        rank = comm.get_rank() if rank is None else int(rank)
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedEvalSampler: expected 0 <= rank < num_replicas, got rank {rank} of "
                             f"{num_replicas}")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.idx = np.arange(rank, len(dataset), num_replicas)

    def __iter__(self) -> Iterator[int]:
        return iter(self.idx.tolist())

    def __len__(self) -> int:
        return len(self.idx)
