"""Writing into copies by index or mask: ``index_fill``, ``index_put``, ``masked_scatter``, and the sliding
windows of ``Tensor.unfold``.

The out-of-place forms return a new tensor; the ``_`` methods of ``Tensor``
write the same values into the tensor itself (``neurona.inplace`` rules).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..engine import Function, Tensor, _wrap
from .math import as_tensor, where

__all__ = ["index_fill", "index_put", "masked_scatter", "unfold_windows"]


def _dim(dim: int, ndim: int, op: str) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % n


def _int_index(index, op: str) -> np.ndarray:
    a = index.array if isinstance(index, Tensor) else np.asarray(index)
    if a.dtype.kind not in "iu" or a.ndim > 1:
        raise TypeError(f"{op}: index must be a 1-D integer tensor, got {a.dtype} of shape {tuple(a.shape)}")
    return a.reshape(-1)


def index_fill(input, dim: int, index, value) -> Tensor:
    """A copy of ``input`` with every slice at ``index`` along ``dim`` set to ``value`` (a number or a 0-d
    tensor, differentiable).

    >>> import neurona
    >>> neurona.zeros(2, 3).index_fill(1, neurona.tensor([0, 2]), 5.0)
    tensor([[5., 0., 5.],
            [5., 0., 5.]])
    """
    x = as_tensor(input)
    d = _dim(dim, x.ndim, "index_fill")
    idx = _int_index(index, "index_fill")
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index_fill: index {idx.tolist()} is out of range for dimension {d} of size {n}")
    xp = get_array_module(x.array)
    hit = xp.zeros(n, bool)
    hit[idx] = True
    mask = hit.reshape((n,) + (1,) * (x.ndim - d - 1)) if x.ndim else hit.reshape(())
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"index_fill: value must be a number or a 0-d tensor, got shape {tuple(value.shape)}")
    v = value if isinstance(value, Tensor) else x.dtype.type(value)
    out = where(_wrap(mask), v, x)
    return out if out.dtype == x.dtype else out.to(x.dtype)


class IndexPutAdd(Function):
    """out = x with values added at ``indices`` (repeats accumulate): ∂out/∂x = 1, ∂out/∂values = g[indices]."""

    def __init__(self, indices):
        self.indices = indices

    def forward(self, x, v):
        out = x.copy()
        self.vshape = v.shape
        get_array_module(x).add.at(out, self.indices, v)
        return out

    def backward(self, gy):
        gv = None
        if self.needs[1]:
            gv = gy[self.indices]
            while gv.ndim > len(self.vshape):
                gv = gv.sum(0)
            for ax, n in enumerate(self.vshape):
                if n == 1 and gv.shape[ax] != 1:
                    gv = gv.sum(ax, keepdims=True)
        return gy, gv


def _indices(indices, op: str) -> tuple:
    if isinstance(indices, Tensor) or not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op}: indices must be a tuple of index tensors, got {type(indices).__name__}")
    return tuple(i.array if isinstance(i, Tensor) else np.asarray(i) for i in indices)


def index_put(input, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``values`` written at ``indices`` (a tuple of index tensors, as in
    ``x[indices] = values``); ``accumulate=True`` adds them instead, summing repeated positions."""
    x = as_tensor(input)
    idx = _indices(indices, "index_put")
    v = as_tensor(values, like=x)
    if v.dtype != x.dtype:
        v = v.to(x.dtype)
    if accumulate:
        try:
            np.broadcast_shapes(x.array[idx].shape, v.shape)
        except (ValueError, IndexError) as e:
            raise ValueError(f"index_put: values of shape {tuple(v.shape)} do not fit the indexed positions of a "
                             f"tensor of shape {tuple(x.shape)}: {e}") from None
        return IndexPutAdd(idx)(x, v)
    out = x.clone()
    out[idx] = v
    return out


def masked_scatter(input, mask, source) -> Tensor:
    """A copy of ``input`` whose elements where ``mask`` holds take, in order, the first elements of ``source``.

    >>> import neurona
    >>> m = neurona.tensor([[True, False], [False, True]])
    >>> neurona.zeros(2, 2).masked_scatter(m, neurona.tensor([7.0, 8.0, 9.0]))
    tensor([[7., 0.],
            [0., 8.]])
    """
    x = as_tensor(input)
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_scatter: mask must be a bool tensor, got {m.dtype}")
    shape = np.broadcast_shapes(m.shape, tuple(x.shape))
    m = np.broadcast_to(m, shape)
    if shape != tuple(x.shape):
        x = x.expand(*shape)
    src = as_tensor(source, like=x)
    n = int(m.sum())
    if src.numel() < n:
        raise ValueError(f"masked_scatter: the mask selects {n} elements, source has only {src.numel()}")
    out = x.clone()
    out[_wrap(np.ascontiguousarray(m))] = src.reshape(-1)[:n].to(x.dtype)
    return out


def unfold_windows(input, dimension: int, size: int, step: int) -> Tensor:
    """``Tensor.unfold``: the windows of ``size`` elements every ``step`` along ``dimension``, which becomes the
    number of windows, with the window as a new last dimension.

    >>> import neurona
    >>> neurona.arange(5.0).unfold(0, 2, 2)
    tensor([[0., 1.],
            [2., 3.]])
    """
    x = as_tensor(input)
    d = _dim(dimension, x.ndim, "unfold")
    n = x.shape[d] if x.ndim else 1
    if size < 0 or size > n:
        raise ValueError(f"unfold: size {size} must be in 0..{n} (the length of dimension {d})")
    if step <= 0:
        raise ValueError(f"unfold: step must be positive, got {step}")
    if x.ndim == 0:
        return x.reshape(1)
    count = (n - size) // step + 1
    idx = np.arange(count)[:, None] * step + np.arange(size)[None, :]
    moved = x.movedim(d, -1)
    windows = moved[(Ellipsis, _wrap(idx))]  # (..., count, size)
    return windows.movedim(-2, d)
