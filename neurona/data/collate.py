"""Turning samples into batches of Tensors: ``default_collate`` and ``default_convert``, as PyTorch's.

``default_collate`` is what a DataLoader does with the list of samples of a
batch: tensors, arrays and numbers are stacked into one tensor with a new
first dimension; dicts, tuples, lists and named tuples are collated field by
field (a tuple of fields becomes a list, as in PyTorch); strings are kept as
a sequence. neurona's dtype policy applies: floating data becomes the
default dtype (float32) unless it already is a float32/float64 tensor, and
Python floats become float32 (PyTorch would give float64).
"""
from __future__ import annotations

import collections.abc
from typing import Any

import numpy as np

from ..engine import Tensor

__all__ = ["default_collate", "default_convert"]


def _stack_tensors(batch: list) -> Tensor:
    from ..functional.shape import stack
    shapes = {t.shape for t in batch}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: cannot stack tensors of different shapes {sorted(shapes)} into a batch; "
                           f"pad them to one shape or pass a collate_fn")
    return stack(batch)


def default_collate(batch: list) -> Any:
    """Stack a list of samples into a batch, recursively (PyTorch's ``default_collate``).

    >>> import numpy as np
    >>> xb, yb = default_collate([(np.zeros(2), 1), (np.ones(2), 0)])
    >>> xb.shape, yb.dtype
    ((2, 2), dtype('int64'))
    """
    from ..creation import tensor
    if not isinstance(batch, (list, tuple)) or not len(batch):
        raise TypeError(f"default_collate: expected a non-empty list of samples, got {type(batch).__name__}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray) and elem.dtype.kind not in "SUO":
        shapes = {a.shape for a in batch}
        if len(shapes) > 1:
            raise RuntimeError(f"default_collate: cannot stack arrays of different shapes {sorted(shapes)} into a "
                               f"batch; pad them to one shape or pass a collate_fn")
        return tensor(np.stack(batch))
    if isinstance(elem, (np.bool_, np.number)) or (isinstance(elem, np.ndarray) and elem.ndim == 0):
        return tensor(np.array(batch))
    if isinstance(elem, bool):
        return tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        try:
            return type(elem)({key: default_collate([d[key] for d in batch]) for key in elem})
        except TypeError:  # a mapping type that cannot be built from a dict
            return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple keeps its type
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(s) != size for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        if isinstance(elem, tuple):
            return fields  # a list, as PyTorch
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(f"default_collate: batch must contain tensors, arrays, numbers, dicts, lists or strings; "
                    f"found {type(elem).__name__}")


def default_convert(data: Any) -> Any:
    """Arrays to Tensors inside a sample, leaving numbers as they are (what a DataLoader with ``batch_size=None``
    applies to each sample)."""
    from ..creation import tensor
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray) and data.dtype.kind not in "SUO":
        return tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            return type(data)({k: default_convert(v) for k, v in data.items()})
        except TypeError:
            return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
