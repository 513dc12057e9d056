"""Views of an array's memory for the kernels, whatever its axis order.

A kernel runs over the elements in memory order, so that its innermost loop
reads contiguous values that LLVM vectorizes. An array is *dense* when some
permutation of its axes is C-contiguous: NCHW, or the batch-last and
channels-last memory that convolutions hand on (see "Memory layout" in
CONTRIBUTING.md). An op takes that permutation from its input, makes its
outputs in the same order (``empty_in_order``) and brings a gradient that
arrives in another order to it (``in_order``: one copy); the 1-D (``flat``),
spatial (``spatial_view``) and per-channel (``channel_view``) views then
agree element by element. Views are always made with an explicit order,
never re-derived from an array's strides: an axis of length 1 makes an array
contiguous in several orders at once.
"""
from __future__ import annotations

import numpy as np

__all__ = ["dense_order", "dense", "flat", "in_order", "empty_in_order", "spatial_view", "channel_kind", "channel_view"]


def dense_order(a):
    """The axis permutation ``perm`` with ``a.transpose(perm)`` C-contiguous (``a`` is dense), or None."""
    if a.flags.c_contiguous:
        return tuple(range(a.ndim))
    perm = tuple(int(i) for i in np.argsort([-abs(s) for s in a.strides], kind="stable"))
    return perm if a.transpose(perm).flags.c_contiguous else None


def dense(a):
    """(``a``, or a C-contiguous copy of it when it is strided; its axis permutation ``perm``)."""
    perm = dense_order(a)
    if perm is None:
        a = np.ascontiguousarray(a)
        perm = tuple(range(a.ndim))
    return a, perm


def flat(a, perm):
    """The 1-D view of ``a``'s memory, for ``a`` dense in axis order ``perm``."""
    return a.transpose(perm).reshape(-1)


def in_order(b, perm):
    """``b`` with its memory in axis order ``perm``: itself, or a copy (a gradient laid out otherwise)."""
    if b.transpose(perm).flags.c_contiguous:
        return b
    out = empty_in_order(b.shape, b.dtype, perm)
    out[...] = b
    return out


_SPATIAL_ORDERS = ((0, 1, 2, 3), (1, 2, 3, 0), (0, 2, 3, 1))


def spatial_view(a, order=None):
    """A 4-D (N, C, H, W) array as the 4-D (A, H, W, B) array of its memory, for kernels that slide over H and W.

    NCHW memory gives (N·C, H, W, 1); batch-last (C, H, W, N) gives (C, H, W, N); channels-last (N, H, W, C)
    gives (N, H, W, C). Returns (view, order), ``order`` the axis permutation of ``a`` that the view's memory
    follows, or (None, None) when ``a`` is laid out otherwise. Give ``order`` to view several arrays alike: an
    array with axes of length 1 can be contiguous in more than one order.
    """
    n, c, h, w = a.shape
    shapes = {(0, 1, 2, 3): (n * c, h, w, 1), (1, 2, 3, 0): (c, h, w, n), (0, 2, 3, 1): (n, h, w, c)}
    for o in (_SPATIAL_ORDERS if order is None else (tuple(order),)):
        t = a.transpose(o)
        if t.flags.c_contiguous:
            return t.reshape(shapes[o]), o
    return None, None


def empty_in_order(shape, dtype, order):
    """An uninitialized array of logical ``shape`` whose memory follows the axis permutation ``order``."""
    stored = np.empty(tuple(shape[i] for i in order), dtype)
    return stored.transpose(tuple(int(i) for i in np.argsort(order)))


def channel_kind(a, perm):
    """How the kernels around a channel axis (axis 1) read ``a``, dense in axis order ``perm``: 'last' when the
    channels are innermost (channels-last, or (N, C) rows), 'mid' when each channel's values come in runs
    (NCHW, or batch-last with the channels outermost), None for any other order."""
    nd = a.ndim
    if perm[-1] == 1 and perm[0] == 0:
        return "last"
    if perm == tuple(range(nd)) or perm == (1,) + tuple(range(2, nd)) + (0,):
        return "mid"
    return None


def channel_view(a, perm):
    """``a`` (dense in order ``perm``, see ``channel_kind``) as (M, C) for 'last' or (A, C, L) for 'mid'."""
    t = a.transpose(perm)
    c = a.shape[1]
    if perm[-1] == 1 and perm[0] == 0:
        return t.reshape(-1, c)
    if perm[0] == 1:
        return t.reshape(1, c, -1)
    return t.reshape(a.shape[0], c, -1)
