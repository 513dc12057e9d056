"""Dropout with its mask made and applied in one pass.

The reference (``neurona.functional.dropout``) turns the uniform draws u into
a float mask (compare, convert, scale: three passes and a mask the size of x
in x's dtype) and then multiplies. Here one loop writes y = x/(1 − p) where
u ≥ p and 0 elsewhere, and keeps a one-byte mask for backward. The draws are
the reference's (same generator call), so both paths drop the same units.
"""
from __future__ import annotations

import numpy as np

from ..functional.dropout import DropoutMask
from ._jit import kernel
from ._layout import dense, empty_in_order, flat, in_order

__all__ = ["Dropout"]


@kernel
def _forward(x, u, p, scale, y, keep):
    dt = x.dtype.type
    s, zero = dt(scale), dt(0)
    for i in range(x.size):
        k = u[i] >= p
        keep[i] = k
        y[i] = x[i] * s if k else zero


@kernel
def _backward(gy, keep, scale, gx):
    dt = gy.dtype.type
    s, zero = dt(scale), dt(0)
    for i in range(gy.size):
        gx[i] = gy[i] * s if keep[i] else zero


class Dropout(DropoutMask):
    """y = x ⊙ m, m = [u ≥ p]/(1 − p) from the uniform draws ``u`` (x's shape); keeps m as bytes."""

    def __init__(self, u, p: float):
        self.u, self.p = u, p

    def forward(self, x):
        x, perm = dense(x)
        y = empty_in_order(x.shape, x.dtype, perm)
        keep = empty_in_order(x.shape, np.bool_, perm)
        self.scale = 1.0 / (1.0 - self.p)
        _forward(flat(x, perm), flat(in_order(self.u, perm), perm), self.p, self.scale, flat(y, perm),
                 flat(keep, perm))
        self.keep, self.perm = keep, perm
        del self.u
        return y

    def backward(self, gy):
        keep, perm = self.keep, self.perm
        gx = empty_in_order(keep.shape, gy.dtype, perm)
        _backward(flat(in_order(gy, perm), perm), flat(keep, perm), self.scale, flat(gx, perm))
        return gx
