"""Datasets: indexable collections of samples.

A dataset answers ``len(ds)`` and ``ds[i]`` (one sample, a tuple of NumPy
arrays). Array-backed datasets also answer ``ds.get_batch(indices)``, which
gathers a whole mini-batch with one fancy index per array; the DataLoader
uses it when it exists and falls back to ``ds[i]`` one sample at a time
otherwise. Datasets hold NumPy arrays; the DataLoader turns each batch into
neurona Tensors.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__``.

    ``__getitem__(i)`` returns one sample, usually a tuple ``(x, y)`` of arrays.
    Define ``get_batch(indices)`` too when whole batches can be gathered at once.
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


def _as_ndarray(a) -> np.ndarray:
    from ..backend import is_array
    from ..engine import Tensor

    data = a.array if isinstance(a, Tensor) else a  # a tensor's array stays on its device
    return data if is_array(data) else np.asarray(data)


class TensorDataset(Dataset):
    """Samples are rows of one or more arrays that share their first axis.

    >>> ds = TensorDataset(np.zeros((100, 2)), np.arange(100))
    >>> x, y = ds[3]            # x.shape == (2,), y == 3
    >>> len(ds)
    100

    Arrays and neurona Tensors are accepted; the data is not copied.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array, got none")
        self.arrays = tuple(_as_ndarray(a) for a in arrays)
        for k, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {k} is a scalar; every array needs a first (sample) axis")
        n = len(self.arrays[0])
        if any(len(a) != n for a in self.arrays):
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"TensorDataset: all arrays must have the same length (first axis), got shapes {shapes}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple:
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> tuple:
        """One fancy index per array: ``tuple(a[indices] for a in arrays)``."""
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"{type(self).__name__}({shapes})"


ArrayDataset = TensorDataset


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx[(idx < -n) | (idx >= n)][:5].tolist()
            raise IndexError(f"Subset: indices {bad} are out of range for a dataset of length {n}")
        self.indices = idx

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> tuple:
        inner = self.indices[np.asarray(indices)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(inner)
        return collate([self.dataset[int(i)] for i in inner])

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {type(self.dataset).__name__} of length {len(self.dataset)})"


def collate(samples: list) -> tuple:
    """Stack a list of samples (tuples of arrays or numbers) into batch arrays."""
    if not samples:
        raise ValueError("collate: cannot make a batch from an empty list of samples")
    first = samples[0]
    if not isinstance(first, (tuple, list)):
        return (np.stack([np.asarray(s) for s in samples]),)
    width = len(first)
    for k, s in enumerate(samples):
        if not isinstance(s, (tuple, list)) or len(s) != width:
            raise ValueError(f"collate: sample {k} has {len(s) if isinstance(s, (tuple, list)) else 1} "
                             f"fields, the first sample has {width}")
    return tuple(np.stack([np.asarray(s[j]) for s in samples]) for j in range(width))


def random_split(dataset: Dataset, lengths: Sequence[float], seed: int | None = None,
                 generator: np.random.Generator | None = None) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping Subsets.

    ``lengths`` are sample counts that add up to ``len(dataset)``, or fractions
    that add up to 1 (the remainder samples go to the first parts, one each):

    >>> train, val = random_split(ds, [0.8, 0.2], seed=0)
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if any(x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        counts = [int(x) for x in lengths]
        if sum(counts) != n:
            raise ValueError(f"random_split: lengths {counts} add up to {sum(counts)}, the dataset has {n} samples")
    else:
        if abs(sum(lengths) - 1.0) > 1e-6:
            raise ValueError(f"random_split: fractions {lengths} add up to {sum(lengths)}, expected 1 "
                             f"(or give sample counts that add up to {n})")
        counts = [int(np.floor(n * f)) for f in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
    rng = _generator(seed, generator)
    perm = rng.permutation(n)
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def _generator(seed=None, generator=None) -> np.random.Generator:
    """``generator`` if given, else a fresh one from ``seed``, else neurona's global one."""
    if generator is not None:
        from ..creation import _gen
        generator = _gen(generator)  # a neurona.Generator's NumPy generator, or a NumPy one
        if seed is not None:
            raise ValueError("give either seed or generator, not both")
        return generator
    if seed is not None:
        return np.random.default_rng(seed)
    from ..creation import default_generator
    return default_generator()
