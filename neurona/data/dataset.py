"""Datasets: collections of samples, as PyTorch's ``torch.utils.data``.

A map-style dataset answers ``len(ds)`` and ``ds[i]`` (one sample); an
``IterableDataset`` is iterated instead. Array-backed datasets also answer
``ds.get_batch(indices)``, which gathers a whole mini-batch as NumPy arrays
with one fancy index per array; the DataLoader uses it when it exists (and
its default collation is in use) and otherwise fetches ``ds[i]`` one sample
at a time and collates them.
"""
from __future__ import annotations

import bisect
import warnings
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..engine import Tensor


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__``.

    ``__getitem__(i)`` returns one sample, usually a tuple ``(x, y)`` of arrays.
    Define ``get_batch(indices)`` too when whole batches can be gathered at once.
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read as a stream: subclasses define ``__iter__`` (e.g. lines of a file, generated samples).

    The DataLoader batches what ``__iter__`` yields, in order; samplers and
    shuffling do not apply (shuffle inside ``__iter__`` if needed).
    """

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, it cannot be indexed")

    def __len__(self) -> int:
        # a TypeError, as for any object without a length (list() then simply does not pre-size)
        raise TypeError(f"{type(self).__name__} is an IterableDataset without __len__")

    def __add__(self, other: "Dataset") -> "ChainDataset":
        return ChainDataset([self, other])


def _as_ndarray(a) -> np.ndarray:
    from ..backend import is_array

    if isinstance(a, Tensor):
        return a.array  # a tensor's array stays on its device
    return a if is_array(a) else np.asarray(a)


def _as_tensor(a) -> Tensor:
    from ..creation import tensor
    return a if isinstance(a, Tensor) else tensor(a)


class TensorDataset(Dataset):
    """Samples are rows of one or more tensors that share their first dimension.

    >>> import neurona
    >>> ds = TensorDataset(neurona.zeros(100, 2), neurona.arange(100))
    >>> x, y = ds[3]            # x.shape == (2,), y == tensor(3)
    >>> len(ds)
    100

    Tensors are used as they are; arrays become tensors by :func:`neurona.tensor`'s
    rules (float64 data becomes float32; float32 and integer arrays are not copied).
    ``ds.tensors`` holds the tensors, ``ds.arrays`` their arrays.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor, got none")
        self.tensors = tuple(_as_tensor(t) for t in tensors)
        for k, t in enumerate(self.tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {k} is a scalar; every tensor needs a first (sample) axis")
        n = len(self.tensors[0])
        if any(len(t) != n for t in self.tensors):
            shapes = ", ".join(str(t.shape) for t in self.tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: all must have the same length (first "
                             f"dimension), got shapes {shapes}")

    @property
    def arrays(self) -> tuple:
        return tuple(t.array for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def get_batch(self, indices: np.ndarray) -> tuple:
        """One fancy index per array: ``tuple(a[indices] for a in arrays)``, as NumPy arrays."""
        return tuple(t.array[indices] for t in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{t.shape} {t.dtype}" for t in self.tensors)
        return f"{type(self).__name__}({shapes})"


ArrayDataset = TensorDataset


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    ``indices`` is kept as given (``random_split`` gives lists, as PyTorch's
    does); an int64 copy serves the lookups.
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx[(idx < -n) | (idx >= n)][:5].tolist()
            raise IndexError(f"Subset: indices {bad} are out of range for a dataset of length {n}")
        self.indices = indices
        self._idx = idx

    def __len__(self) -> int:
        return len(self._idx)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self._idx[np.asarray(index)]]
        return self.dataset[int(self._idx[index])]

    def get_batch(self, indices: np.ndarray) -> tuple:
        inner = self._idx[np.asarray(indices)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(inner)
        return collate([self.dataset[int(i)] for i in inner])

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {type(self.dataset).__name__} of length {len(self.dataset)})"


class ConcatDataset(Dataset):
    """The datasets one after the other: index ``i`` runs through the first, then the second, ...

    >>> ds = ConcatDataset([TensorDataset(np.zeros((3, 2))), TensorDataset(np.ones((2, 2)))])
    >>> len(ds), ds.cumulative_sizes
    (5, [3, 5])
    """

    def __init__(self, datasets: Iterable[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset: cannot concatenate an IterableDataset (use ChainDataset)")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        n = len(self)
        if index < 0:
            if -index > n:
                raise IndexError(f"ConcatDataset: index {index} is out of range for length {n}")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for length {n}")
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after the other."""

    def __init__(self, datasets: Iterable[Dataset]):
        self.datasets = list(datasets)

    def __iter__(self) -> Iterator:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: only IterableDatasets can be chained, got {type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def collate(samples: list) -> tuple:
    """Stack a list of samples (tuples of arrays or numbers) into batch arrays (NumPy; see ``default_collate``)."""
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


def random_split(dataset: Dataset, lengths: Sequence[float], generator=None, *,
                 seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping Subsets (PyTorch's ``random_split``).

    ``lengths`` are sample counts that add up to ``len(dataset)``, or fractions
    that add up to 1 (the remainder samples go to the first parts, one each).
    The permutation comes from ``generator``, a generator made from ``seed``,
    or neurona's global one:

    >>> train, val = random_split(ds, [0.8, 0.2], generator=np.random.default_rng(0))
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
        for k, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"random_split: length of split at index {k} is 0; this results in an empty dataset",
                              UserWarning, stacklevel=2)
    rng = _generator(seed, generator)
    perm = rng.permutation(n)
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, perm[a:b].tolist()) for a, b in zip(bounds[:-1], bounds[1:])]


def _generator(seed=None, generator=None) -> np.random.Generator:
    """``generator`` if given, else a fresh one from ``seed``, else neurona's global one."""
    if generator is not None:
        from ..creation import _gen
        if seed is not None:
            raise ValueError("give either seed or generator, not both")
        return _gen(generator)
    if seed is not None:
        return np.random.default_rng(seed)
    from ..creation import default_generator
    return default_generator()
