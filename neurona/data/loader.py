"""DataLoader: iterate over a dataset in (shuffled) batches of Tensors.

The three ways of the notes to walk the training set S of N samples
(notes, "BackProp incremental o batch"; "Descenso de Gradiente por
Mini-batches") are three batch sizes:

- batch:       ``batch_size=None`` (or N), one update per epoch;
- mini-batch:  ``batch_size=B``, about N/B updates per epoch;
- incremental (online): ``batch_size=1``, N updates per epoch, each sample
  taken "en orden aleatorio" with ``shuffle=True``.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from .dataset import Dataset, TensorDataset, _generator, collate


class DataLoader:
    """Yield tuples of Tensors, one per batch, from ``dataset``.

    >>> loader = DataLoader((X, y), batch_size=32, shuffle=True, seed=0)
    >>> for xb, yb in loader: ...

    ``dataset`` is a Dataset or a tuple of arrays (wrapped in a TensorDataset).
    Each ``iter(loader)`` (each epoch) draws a new permutation from the
    loader's generator: ``seed`` makes the whole sequence of epochs
    reproducible, ``generator`` shares an existing one, and with neither the
    global generator of ``neurona.manual_seed`` is used.

    ``transform`` is applied to the inputs (the first array) of every batch
    before they become Tensors; pass augmentation here for the training
    loader only (``neurona.data.transforms``). Float arrays become float32
    Tensors (the default dtype); integer labels stay int64.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, generator: np.random.Generator | None = None,
                 transform: Callable | None = None):
        if isinstance(dataset, (tuple, list)):
            dataset = TensorDataset(*dataset)
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: expected a Dataset or a tuple of arrays, got {type(dataset).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None (full batch), "
                             f"got {batch_size!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        self.dataset: Dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.generator = _generator(seed, generator) if (seed is not None or generator is not None) else None

    def _batch_size(self) -> int:
        n = len(self.dataset)
        return max(n, 1) if self.batch_size is None else self.batch_size

    def __len__(self) -> int:
        n, b = len(self.dataset), self._batch_size()
        return n // b if self.drop_last else -(-n // b)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator if self.generator is not None else _generator()
        return rng.permutation(n)

    def _fetch(self, idx: np.ndarray) -> tuple:
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None:
            return tuple(get_batch(idx))
        return collate([self.dataset[int(i)] for i in idx])

    def __iter__(self) -> Iterator[tuple]:
        from ..creation import tensor

        order, b = self._order(), self._batch_size()
        for start in range(0, len(order), b):
            idx = order[start:start + b]
            if self.drop_last and len(idx) < b:
                break
            arrays = list(self._fetch(idx))
            if self.transform is not None:
                arrays[0] = self.transform(arrays[0])
            yield tuple(tensor(a) for a in arrays)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})")
