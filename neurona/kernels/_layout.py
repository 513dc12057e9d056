"""Flat views for elementwise kernels: one loop over an array's memory, whatever its axis order.

An elementwise kernel runs over the elements in memory order, as a 1-D loop
that LLVM vectorizes. ``flat(a)`` is that 1-D view of a dense array (C order,
or any permutation of it, such as the batch-last or channels-last outputs
NumPy ops pass along), or None for a strided one. ``empty_like`` makes an
output in the same axis order; ``flat_as(b, a)`` is ``b`` seen in ``a``'s order
(a copy when ``b`` is laid out otherwise, e.g. a gradient that came back from
an op with another layout).
"""
from __future__ import annotations

import numpy as np

__all__ = ["flat", "dense", "flat_as"]


def _order(a) -> tuple:
    return tuple(int(i) for i in np.argsort([-abs(s) for s in a.strides], kind="stable"))


def flat(a):
    """The 1-D view of ``a`` in memory order, or None when ``a`` is not dense."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    if a.ndim > 1:
        t = a.transpose(_order(a))
        if t.flags.c_contiguous:
            return t.reshape(-1)
    return None


def dense(a):
    """(``a`` or a dense copy of it, its flat view)."""
    f = flat(a)
    if f is None:
        a = np.ascontiguousarray(a)
        f = a.reshape(-1)
    return a, f


def flat_as(b, a):
    """``b`` (shape of ``a``) as a 1-D array in ``a``'s memory order: a view if it is laid out alike, else a copy."""
    if a.flags.c_contiguous and b.flags.c_contiguous:
        return b.reshape(-1)
    if b.strides == a.strides:
        f = flat(b)
        if f is not None:
            return f
    c = np.empty_like(a, dtype=b.dtype)
    np.copyto(c, b)
    return flat(c)
