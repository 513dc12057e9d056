"""Softmax and cross-entropy in one pass per row, forward and backward.

The reference ``CrossEntropy`` (``neurona.functional.loss``) takes the
log-softmax of the logits with NumPy (max, subtract, exp, sum, log,
subtract: six passes and a full (N, C) array of log-probabilities), then
gathers the targets' entries. Here one loop per row finds the maximum, the
sum of exponentials and the loss, and keeps only the row's log-sum-exp;
backward rebuilds softmax from it, ∂ℓ_n/∂x_nc = g_n (e^{x_nc − lse_n} − [c = y_n]).
For the common case: (N, C) logits, class-index targets (``ignore_index``
honoured), no class weights, no label smoothing.
"""
from __future__ import annotations

import numpy as np

from ..functional import loss as ref
from ._jit import expf, kernel

__all__ = ["CrossEntropy"]


@kernel
def _forward(x, y, ignore, lse, loss):
    """Per row: lse = log Σ e^x, loss = lse − x[target] (0 for ignored rows). Returns (Σ loss in float64, the
    number of counted rows, the first target out of [0, C) or −1 if none)."""
    n, c = x.shape
    total = 0.0
    counted = 0
    for r in range(n):
        t = y[r]
        if t != ignore and (t < 0 or t >= c):
            return total, counted, r
        m = x[r, 0]
        for j in range(1, c):
            m = max(m, x[r, j])
        s = x.dtype.type(0)
        for j in range(c):
            s += expf(x[r, j] - m)
        lse[r] = m + np.log(s)
        if t == ignore:
            loss[r] = 0
        else:
            loss[r] = lse[r] - x[r, t]
            total += loss[r]
            counted += 1
    return total, counted, -1


@kernel
def _backward(x, y, ignore, lse, g_row, gx):
    n, c = x.shape
    for r in range(n):
        t = y[r]
        g = g_row[r] if t != ignore else x.dtype.type(0)
        for j in range(c):
            gx[r, j] = expf(x[r, j] - lse[r]) * g
        if t != ignore:
            gx[r, t] -= g


class CrossEntropy(ref.CrossEntropy):
    """For (N, C) logits without class weights or label smoothing (the dispatch in ``cross_entropy`` checks)."""

    def forward(self, x):
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        y = self.target.reshape(-1)
        n, c = x.shape
        lse = np.empty(n, x.dtype)
        loss = np.empty(n, x.dtype)
        total, counted, bad = _forward(x, y, self.ignore_index, lse, loss)
        if bad >= 0:  # the reference checks before it computes; the kernel checks as it goes
            raise IndexError(f"cross_entropy: target class index {int(y[bad])} is out of range for {c} classes "
                             f"(valid: 0 to {c - 1}, or ignore_index={self.ignore_index})")
        self.x, self.lse, self.y = x, lse, y
        if self.reduction == "none":
            return loss.reshape(self.target.shape)
        if self.reduction == "sum":
            return np.asarray(total, x.dtype)
        self.denom = x.dtype.type(counted)
        return np.asarray(total / counted if counted else np.nan, x.dtype)  # 0/0 = nan, as PyTorch

    def backward(self, gy):
        x, y = self.x, self.y
        n = x.shape[0]
        if self.reduction == "none":
            g_row = np.ascontiguousarray(gy.reshape(n), dtype=x.dtype)
        else:
            g = float(gy)
            if self.reduction == "mean":
                g = g / float(self.denom) if self.denom else np.nan
            g_row = np.full(n, g, x.dtype)
        gx = np.empty_like(x)
        _backward(x, y, self.ignore_index, self.lse, g_row, gx)
        return gx
