"""Running extremes and sorted lookups: ``cummax``, ``cummin``, ``logcumsumexp``, ``searchsorted``,
``bucketize``, ``histc``.

``cummax``/``cummin`` find the indices with NumPy and take the values with
``gather``, whose gradient sends each output's gradient to the element that
holds the running extreme. ``logcumsumexp`` is ``log(cumsum(exp(x − m))) + m``
with m the largest element along the dimension (a constant), so no step
overflows.
"""
from __future__ import annotations

import numpy as np

from .. import return_types
from ..backend import get_array_module, to_numpy
from ..engine import Tensor, _wrap
from .math import as_tensor

__all__ = ["cummax", "cummin", "logcumsumexp", "searchsorted", "bucketize", "histc"]


def _running_extreme(input, dim: int, name: str, accumulate):
    from .indexing import gather

    x = as_tensor(input)
    if x.ndim == 0:
        return getattr(return_types, name)(x * 1 if x.dtype.kind == "f" else _wrap(x.array.copy()),
                                           _wrap(np.zeros((), np.int64)))
    d = dim % x.ndim if -x.ndim <= dim < x.ndim else None
    if d is None:
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor of {x.ndim} dimensions")
    a = x.array
    xp = get_array_module(a)
    running = accumulate(a, axis=d)
    pos = xp.arange(a.shape[d], dtype=np.int64).reshape((-1,) + (1,) * (a.ndim - d - 1))
    # the latest position holding the running extreme (PyTorch picks the last of equal values)
    idx = np.maximum.accumulate(xp.where(a == running, pos, 0), axis=d)
    idx = _wrap(xp.ascontiguousarray(idx))
    values = gather(x, d, idx) if x.dtype.kind == "f" else _wrap(running)
    return getattr(return_types, name)(values, idx)


def cummax(input, dim: int):
    """Running maxima along ``dim`` and where they are: ``(values, indices)``, values_k = max_{i≤k} x_i.

    >>> import neurona
    >>> neurona.cummax(neurona.tensor([1.0, 3.0, 2.0, 5.0]), 0).indices
    tensor([0, 1, 1, 3])
    """
    return _running_extreme(input, dim, "cummax", np.maximum.accumulate)


def cummin(input, dim: int):
    """Running minima along ``dim`` and where they are: ``(values, indices)``, values_k = min_{i≤k} x_i."""
    return _running_extreme(input, dim, "cummin", np.minimum.accumulate)


def logcumsumexp(input, dim: int) -> Tensor:
    """y_k = log Σ_{i≤k} exp(x_i) along ``dim``, computed as log(cumsum(exp(x − m))) + m for stability."""
    from .reduce import amax, cumsum

    x = as_tensor(input)
    if x.dtype.kind != "f":
        raise TypeError(f"logcumsumexp: expects a floating-point tensor, got {x.dtype}")
    if x.ndim == 0:
        return x * 1
    m = amax(x.detach(), dim, keepdim=True)
    m = _wrap(get_array_module(m.array).where(np.isfinite(m.array), m.array, 0).astype(x.dtype))
    return cumsum((x - m).exp(), dim).log() + m


def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False, side: str | None = None,
                 sorter=None) -> Tensor:
    """Where each value of ``input`` would go in ``sorted_sequence`` to keep it sorted (int64 indices).

    ``side="left"`` (or ``right=False``): the first such place; ``"right"``:
    the last. A sequence of several dimensions is searched row by row
    (its leading dimensions match ``input``'s). ``sorter``: indices that sort
    an unsorted sequence.

    >>> import neurona
    >>> neurona.searchsorted(neurona.tensor([1, 3, 5, 7]), neurona.tensor([3, 6]))
    tensor([1, 3])
    """
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ValueError("searchsorted: side='left' contradicts right=True")
        right = side == "right"
    seq = to_numpy(sorted_sequence.array if isinstance(sorted_sequence, Tensor) else np.asarray(sorted_sequence))
    scalar = not isinstance(input, Tensor) and np.ndim(input) == 0
    vals = to_numpy(input.array if isinstance(input, Tensor) else np.asarray(input))
    if sorter is not None:
        order = to_numpy(sorter.array if isinstance(sorter, Tensor) else np.asarray(sorter))
        seq = np.take_along_axis(seq, order, -1)
    how = "right" if right else "left"
    if seq.ndim <= 1:
        out = np.searchsorted(seq, vals, side=how)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise ValueError(f"searchsorted: the leading dimensions of sorted_sequence {seq.shape} and input "
                             f"{vals.shape} must match")
        rows_s, rows_v = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
        out = np.stack([np.searchsorted(s, v, side=how) for s, v in zip(rows_s, rows_v)]).reshape(vals.shape)
    out = np.asarray(out, np.int32 if out_int32 else np.int64)
    return _wrap(out.reshape(()) if scalar else out)


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each value: i such that boundaries[i−1] < x ≤ boundaries[i] (``right=True``:
    boundaries[i−1] ≤ x < boundaries[i]); ``boundaries`` is 1-D and increasing."""
    b = boundaries.array if isinstance(boundaries, Tensor) else np.asarray(boundaries)
    if b.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-D, got shape {tuple(b.shape)}")
    return searchsorted(b, input, out_int32=out_int32, right=right)


def histc(input, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """Counts of the elements in ``bins`` equal-width bins between ``min`` and ``max`` (the data's own range
    when both are 0); elements outside are left out. The result has the input's dtype, as in PyTorch."""
    x = as_tensor(input)
    if x.dtype.kind != "f":
        raise TypeError(f"histc: expects a floating-point tensor, got {x.dtype}")
    a = to_numpy(x.array).ravel()
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise ValueError(f"histc: min ({min}) must not exceed max ({max})")
    counts, _ = np.histogram(a[(a >= lo) & (a <= hi)], bins=int(bins), range=(lo, hi))
    return _wrap(counts.astype(x.dtype))
