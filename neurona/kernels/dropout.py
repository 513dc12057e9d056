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
from ._layout import dense, flat_as

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
        x, xf = dense(x)
        y = np.empty_like(x)
        keep = np.empty_like(x, dtype=np.bool_)
        _forward(xf, flat_as(self.u, x), self.p, 1.0 / (1.0 - self.p), flat_as(y, x), flat_as(keep, x))
        self.keep, self.scale = keep, 1.0 / (1.0 - self.p)
        del self.u
        return y

    def backward(self, gy):
        keep = self.keep
        gx = np.empty_like(keep, dtype=gy.dtype)
        _backward(flat_as(gy, keep), flat_as(keep, keep), self.scale, flat_as(gx, keep))
        return gx
