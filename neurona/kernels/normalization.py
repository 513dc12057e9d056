"""Batch normalization in training and evaluation, forward and backward, optionally followed by ReLU.

For an (N, C, *) input seen as (N, C, L), contiguous, each kernel walks the
memory once per pass with the channel's statistics at hand:

- training forward: the mean of each channel, then its variance from
  x − μ (two passes, as the reference: no cancellation in float32), then
  y = (x − μ)·s + β with s = γ/sqrt(σ² + ε) (and max(y, 0) when fused with
  ReLU). Keeps x, μ and 1/sqrt(σ² + ε): x̂ is recomputed, not stored.
- training backward: Σ G and Σ G (x − μ) per channel in one pass (G = ∂L/∂y,
  zeroed where the fused ReLU's output is 0), then
  ∂L/∂x = s (G − mean(G) − x̂ mean(G x̂)) in one more.
- evaluation: y = (x − μ)·s + β with the running statistics, one pass.

Channel sums are accumulated over each (n, c) row in the array's dtype
(vector lanes, then the row's total) and over the rows in float64.
"""
from __future__ import annotations

import numpy as np

from ..functional.normalization import BatchNormEval as _Eval
from ..functional.normalization import BatchNormTrain as _Train
from ._jit import kernel

__all__ = ["BatchNormTrain", "BatchNormEval", "BatchNormReLU"]


@kernel(reduce=True)
def _moments(x, eps, mean, var, inv):
    n, c, l = x.shape
    for j in range(c):
        s = 0.0
        for i in range(n):
            r = x.dtype.type(0)
            for k in range(l):
                r += x[i, j, k]
            s += r
        m = x.dtype.type(s / (n * l))
        q = 0.0
        for i in range(n):
            r = x.dtype.type(0)
            for k in range(l):
                d = x[i, j, k] - m
                r += d * d
            q += r
        mean[j] = m
        var[j] = q / (n * l)
        inv[j] = 1.0 / np.sqrt(q / (n * l) + eps)


@kernel
def _affine(x, mean, scale, shift, relu, y):
    """y = (x − μ)·scale + shift per channel (and max(y, 0) if ``relu``)."""
    n, c, l = x.shape
    zero = x.dtype.type(0)
    for i in range(n):
        for j in range(c):
            m, s, b = mean[j], scale[j], shift[j]
            for k in range(l):
                v = (x[i, j, k] - m) * s + b
                if relu:
                    v = zero if v <= zero else v
                y[i, j, k] = v


@kernel(reduce=True)
def _grad_sums(gy, x, y, relu, mean, sum_g, sum_gx):
    """Σ G and Σ G (x − μ) per channel; G = ∂L/∂y, 0 where the fused ReLU gave 0."""
    n, c, l = x.shape
    zero = x.dtype.type(0)
    for j in range(c):
        m = mean[j]
        a = 0.0
        b = 0.0
        for i in range(n):
            ra = zero
            rb = zero
            for k in range(l):
                g = gy[i, j, k]
                if relu and not y[i, j, k] > zero:
                    g = zero
                ra += g
                rb += g * (x[i, j, k] - m)
            a += ra
            b += rb
        sum_g[j] = a
        sum_gx[j] = b


@kernel
def _grad_input(gy, x, y, relu, mean, a, b, c0, gx):
    """∂L/∂x = a·G − b·(x − μ) − c0 per channel (G as in ``_grad_sums``)."""
    n, c, l = x.shape
    zero = x.dtype.type(0)
    for i in range(n):
        for j in range(c):
            m, aj, bj, cj = mean[j], a[j], b[j], c0[j]
            for k in range(l):
                g = gy[i, j, k]
                if relu and not y[i, j, k] > zero:
                    g = zero
                gx[i, j, k] = aj * g - bj * (x[i, j, k] - m) - cj


def _as3(a):
    """(N, C, *) → (N, C, L), C-contiguous (a copy if ``a`` is laid out otherwise)."""
    a = np.ascontiguousarray(a)
    return a.reshape(a.shape[0], a.shape[1], -1)


class BatchNormTrain(_Train):
    """Training-mode batch norm (same inputs as the reference: x, then γ and β if present)."""

    relu = False

    def forward(self, x, *affine):
        w = affine[0] if self.has_weight else None
        b = affine[-1] if self.has_bias else None
        dt = x.dtype
        x3 = _as3(x)
        c = x3.shape[1]
        mean, var, inv = np.empty(c, dt), np.empty(c, dt), np.empty(c, dt)
        _moments(x3, float(self.eps), mean, var, inv)
        scale = inv if w is None else inv * w
        shift = np.zeros(c, dt) if b is None else b
        y = np.empty(x.shape, dt)
        _affine(x3, mean, scale, shift, self.relu, y.reshape(x3.shape))
        n = x3.shape[0] * x3.shape[2]
        self.batch_mean, self.batch_var = mean, var          # read (then dropped) by batch_norm
        self.x3, self.mean, self.inv, self.w, self.n = x3, mean, inv, w, n
        self.y3 = y.reshape(x3.shape) if self.relu else None
        return y

    def backward(self, gy):
        x3, mean, inv, w, n = self.x3, self.mean, self.inv, self.w, self.n
        g3 = _as3(gy)
        y3 = self.y3 if self.relu else x3
        dt = x3.dtype
        c = x3.shape[1]
        sum_g, sum_gx = np.empty(c, dt), np.empty(c, dt)
        _grad_sums(g3, x3, y3, self.relu, mean, sum_g, sum_gx)
        gb = sum_g                                   # ∂L/∂β = Σ G
        gw = sum_gx * inv                            # ∂L/∂γ = Σ G x̂
        gx = None
        if self.needs[0]:
            # ∂L/∂x = s (G − mean(G) − x̂ mean(G x̂)), s = γ/sqrt(σ² + ε)
            s = inv if w is None else inv * w
            gx = np.empty(gy.shape, dt)
            _grad_input(g3, x3, y3, self.relu, mean, s, s * inv * inv * (sum_gx / dt.type(n)),
                        s * (sum_g / dt.type(n)), gx.reshape(x3.shape))
        return self._grads(gx, gw.astype(dt, copy=False), gb)


class BatchNormReLU(BatchNormTrain):
    """relu(batch_norm(x)) in training, one op (the ``batch_norm+relu`` rewrite of ``neurona.rewrites``)."""

    relu = True


class BatchNormEval(_Eval):
    """Evaluation-mode batch norm: y = (x − μ)·s + β with the running statistics."""

    def forward(self, x, *affine):
        dt = x.dtype
        inv = (1.0 / np.sqrt(self.var + dt.type(self.eps))).astype(dt, copy=False)
        mean = self.mean.astype(dt, copy=False)
        w = affine[0] if self.has_weight else None
        b = affine[-1] if self.has_bias else None
        scale = inv if w is None else inv * w
        shift = np.zeros(len(mean), dt) if b is None else b
        x3 = _as3(x)
        y = np.empty(x.shape, dt)
        _affine(x3, mean, scale, shift, False, y.reshape(x3.shape))
        cshape = (1, len(mean)) + (1,) * (x.ndim - 2)
        self.x, self.inv, self.mu, self.scale = x, inv.reshape(cshape), mean.reshape(cshape), scale.reshape(cshape)
        return y
