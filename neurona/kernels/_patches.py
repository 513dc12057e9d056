"""Scratch arrays and strided views that both convolution strategies build their patches with."""
from __future__ import annotations

from .. import workspace


def _take(xp, shape, dtype):
    return workspace.take(shape, dtype, xp)


def _strided(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides, writeable=False)


def _zero_border(a, axes: tuple, pads: tuple) -> None:
    """Zero the padding frame of a reused buffer: ``pads`` = (top, bottom, left, right) along ``axes``."""
    t, b, l, r = pads
    ah, aw = axes
    idx = [slice(None)] * a.ndim
    for ax, lo, hi in ((ah, t, b), (aw, l, r)):
        n = a.shape[ax]
        if lo:
            idx[ax] = slice(0, lo)
            a[tuple(idx)] = 0
        if hi:
            idx[ax] = slice(n - hi, n)
            a[tuple(idx)] = 0
        idx[ax] = slice(None)
