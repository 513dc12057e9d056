"""DataLoader: iterate over a dataset in (shuffled) batches of Tensors, as PyTorch's ``torch.utils.data.DataLoader``.

The three ways of the notes to walk the training set S of N samples
(notes, "BackProp incremental o batch"; "Descenso de Gradiente por
Mini-batches") are three batch sizes:

- batch:       ``batch_size=N`` (or None with the ``(X, y)`` shorthand below), one update per epoch;
- mini-batch:  ``batch_size=B``, about N/B updates per epoch;
- incremental (online): ``batch_size=1``, N updates per epoch, each sample
  taken "en orden aleatorio" with ``shuffle=True``.

``DataLoader(dataset, batch_size=1, shuffle=False, sampler=None,
batch_sampler=None, num_workers=0, collate_fn=None, pin_memory=False,
drop_last=False, timeout=0, worker_init_fn=None, ..., generator=None)``
has PyTorch's arguments and meaning. Loading always runs in the calling
process: ``num_workers``, ``pin_memory``, ``timeout``, ``worker_init_fn``,
``multiprocessing_context``, ``prefetch_factor``, ``persistent_workers``,
``pin_memory_device`` and ``in_order`` are checked as PyTorch checks them
and otherwise have no effect (no worker process is started, so
``worker_init_fn`` is never called and ``get_worker_info()`` is None).

neurona adds a shorthand: a tuple of arrays ``(X, y)`` as the dataset (a
``TensorDataset``), with ``batch_size=None`` meaning the whole set in one
batch, plus ``seed=`` (a private generator for shuffling) and
``transform=`` (applied to the inputs of each batch, as NumPy arrays).
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from .collate import default_collate, default_convert
from .dataset import IterableDataset, TensorDataset, _generator, collate
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]


def get_worker_info():
    """Information about the worker process loading data: always None, as loading runs in the calling process."""
    return None


def _is_arrays(dataset) -> bool:
    """neurona's shorthand: a tuple of arrays or tensors that share their first dimension."""
    from ..engine import Tensor
    return isinstance(dataset, tuple) and len(dataset) > 0 and all(isinstance(a, (np.ndarray, Tensor))
                                                                  for a in dataset)


class DataLoader:
    """Yield batches of Tensors from ``dataset``.

    >>> loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)   # PyTorch's way
    >>> loader = DataLoader((X, y), batch_size=32, shuffle=True, seed=0)        # neurona's shorthand
    >>> for xb, yb in loader: ...

    Each pass (each epoch) over a shuffling loader draws a new order from the
    ``generator`` given, from a private generator made from ``seed``, or from
    the global generator of ``neurona.manual_seed``. Batches are made by
    ``collate_fn`` (``default_collate`` by default: a tuple sample gives a
    list of tensors); float arrays become float32 tensors (the default
    dtype), integer labels stay int64.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn: Callable | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True, seed: int | None = None, transform: Callable | None = None):
        self._whole = _is_arrays(dataset)
        if self._whole:
            dataset = TensorDataset(*dataset)
        if not isinstance(dataset, IterableDataset) and not (hasattr(dataset, "__len__")
                                                             and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: expected a Dataset (with __len__ and __getitem__), an IterableDataset or "
                            f"a tuple of arrays, got {type(dataset).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None, got {batch_size!r}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor applies to worker processes; it needs num_workers > 0")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if isinstance(dataset, IterableDataset):
            if shuffle:
                raise ValueError("DataLoader: an IterableDataset cannot be shuffled by the loader (shuffle inside "
                                 "its __iter__); got shuffle=True")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an IterableDataset takes no sampler or batch_sampler")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive (the sampler sets the order)")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, sampler "
                                 "and drop_last")
            batch_size, drop_last = None, False

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        self.num_workers, self.pin_memory, self.timeout = num_workers, bool(pin_memory), timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        self.transform = transform
        self._custom_collate = collate_fn is not None
        self._auto_batch = batch_sampler is not None or batch_size is not None or self._whole
        self.collate_fn = collate_fn if collate_fn is not None else (default_collate if self._auto_batch
                                                                     else default_convert)
        # the random source of shuffling: the generator given, one made from seed, or None (the global one)
        self.generator = _generator(seed, generator) if (seed is not None or generator is not None) else None
        if isinstance(dataset, IterableDataset):
            self.sampler, self.batch_sampler = None, None
            return
        if sampler is None:
            sampler = RandomSampler(dataset, generator=self.generator) if self.shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        if batch_sampler is None and self._auto_batch:
            batch_sampler = BatchSampler(sampler, self._batch_size(), self.drop_last)
        self.batch_sampler = batch_sampler

    def _batch_size(self) -> int:
        if self.batch_size is None:  # the shorthand's full batch
            return max(len(self.dataset), 1)
        return self.batch_size

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # a TypeError if the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def _fetch(self, indices: list):
        """One batch: NumPy gathering for array datasets (then the transform), else samples and ``collate_fn``."""
        from ..creation import tensor
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None and not self._custom_collate:
            arrays = list(get_batch(np.asarray(indices, dtype=np.int64)))
            if self.transform is not None:
                arrays[0] = self.transform(arrays[0])
            return [tensor(a) for a in arrays]
        many = getattr(self.dataset, "__getitems__", None)
        samples = many(list(indices)) if many is not None else [self.dataset[i] for i in indices]
        if self.transform is not None:
            arrays = list(collate(samples))
            arrays[0] = self.transform(arrays[0])
            return [tensor(a) for a in arrays]
        return self.collate_fn(samples)

    def __iter__(self) -> Iterator:
        if isinstance(self.dataset, IterableDataset):
            yield from self._iter_stream()
            return
        if self.batch_sampler is None:  # batch_size=None: samples one at a time, converted
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        for indices in self.batch_sampler:
            yield self._fetch(indices)

    def _iter_stream(self) -> Iterator:
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __repr__(self) -> str:
        name = type(self.dataset).__name__
        size = f" of {len(self.dataset)}" if hasattr(self.dataset, "__len__") and not isinstance(
            self.dataset, IterableDataset) else ""
        return (f"DataLoader({name}{size}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
