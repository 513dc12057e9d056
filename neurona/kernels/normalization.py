"""Batch normalization in training and evaluation, forward and backward, optionally followed by ReLU.

The input is read in its own memory order (see "Memory layout" in
CONTRIBUTING.md), as one of two contiguous views around the channel axis:
(A, C, L) when each channel's values come in runs (NCHW, batch-last), or
(M, C) when the channels are innermost (channels-last, (N, C) rows). Each
kernel walks the memory once per pass, with the channels' statistics at hand:

- training forward: the mean of each channel, then its variance from
  x − μ (two passes, as the reference: no cancellation in float32), then
  y = (x − μ)·s + β with s = γ/sqrt(σ² + ε) (and max(y, 0) when fused with
  ReLU). Keeps x, μ and 1/sqrt(σ² + ε): x̂ is recomputed, not stored.
- training backward: Σ G and Σ G (x − μ) per channel in one pass (G = ∂L/∂y,
  zeroed where the fused ReLU's output is 0), then
  ∂L/∂x = s (G − mean(G) − x̂ mean(G x̂)) in one more.
- evaluation: y = (x − μ)·s + β with the running statistics, one pass.

Sums run in the array's dtype over a run (or a chunk of rows) and in float64
across them. Outputs and gradients keep the input's memory order.
"""
from __future__ import annotations

import numpy as np

from ..functional.normalization import BatchNormEval as _Eval
from ..functional.normalization import BatchNormTrain as _Train
from ._jit import kernel
from ._layout import channel_kind, channel_view, dense, empty_in_order, in_order

__all__ = ["BatchNormTrain", "BatchNormEval", "BatchNormReLU"]

_CHUNK = 256  # rows of an (M, C) view summed in the array's dtype before going into the float64 total


# --- (A, C, L): runs of each channel -------------------------------------------------------------------


@kernel(reduce=True)
def _moments_mid(x, eps, mean, var, inv):
    a, c, l = x.shape
    for j in range(c):
        s = 0.0
        for i in range(a):
            r = x.dtype.type(0)
            for k in range(l):
                r += x[i, j, k]
            s += r
        m = x.dtype.type(s / (a * l))
        q = 0.0
        for i in range(a):
            r = x.dtype.type(0)
            for k in range(l):
                d = x[i, j, k] - m
                r += d * d
            q += r
        mean[j] = m
        var[j] = q / (a * l)
        inv[j] = 1.0 / np.sqrt(q / (a * l) + eps)


@kernel
def _affine_mid(x, mean, scale, shift, relu, y):
    a, c, l = x.shape
    zero = x.dtype.type(0)
    for i in range(a):
        for j in range(c):
            m, s, b = mean[j], scale[j], shift[j]
            for k in range(l):
                v = (x[i, j, k] - m) * s + b
                if relu:
                    v = zero if v <= zero else v
                y[i, j, k] = v


@kernel(reduce=True)
def _grad_sums_mid(gy, x, y, relu, mean, sum_g, sum_gx):
    a, c, l = x.shape
    zero = x.dtype.type(0)
    for j in range(c):
        m = mean[j]
        sa = 0.0
        sb = 0.0
        for i in range(a):
            ra = zero
            rb = zero
            for k in range(l):
                g = gy[i, j, k]
                if relu and not y[i, j, k] > zero:
                    g = zero
                ra += g
                rb += g * (x[i, j, k] - m)
            sa += ra
            sb += rb
        sum_g[j] = sa
        sum_gx[j] = sb


@kernel
def _grad_input_mid(gy, x, y, relu, mean, ca, cb, cc, gx):
    a, c, l = x.shape
    zero = x.dtype.type(0)
    for i in range(a):
        for j in range(c):
            m, aj, bj, cj = mean[j], ca[j], cb[j], cc[j]
            for k in range(l):
                g = gy[i, j, k]
                if relu and not y[i, j, k] > zero:
                    g = zero
                gx[i, j, k] = aj * g - bj * (x[i, j, k] - m) - cj


# --- (M, C): channels innermost --------------------------------------------------------------------------


@kernel(reduce=True)
def _moments_last(x, eps, mean, var, inv, acc, tot):
    rows, c = x.shape
    for j in range(c):
        tot[j] = 0.0
    for r0 in range(0, rows, _CHUNK):
        for j in range(c):
            acc[j] = 0
        for r in range(r0, min(rows, r0 + _CHUNK)):
            for j in range(c):
                acc[j] += x[r, j]
        for j in range(c):
            tot[j] += acc[j]
    for j in range(c):
        mean[j] = tot[j] / rows
        tot[j] = 0.0
    for r0 in range(0, rows, _CHUNK):
        for j in range(c):
            acc[j] = 0
        for r in range(r0, min(rows, r0 + _CHUNK)):
            for j in range(c):
                d = x[r, j] - mean[j]
                acc[j] += d * d
        for j in range(c):
            tot[j] += acc[j]
    for j in range(c):
        var[j] = tot[j] / rows
        inv[j] = 1.0 / np.sqrt(tot[j] / rows + eps)


@kernel
def _affine_last(x, mean, scale, shift, relu, y):
    rows, c = x.shape
    zero = x.dtype.type(0)
    for r in range(rows):
        for j in range(c):
            v = (x[r, j] - mean[j]) * scale[j] + shift[j]
            if relu:
                v = zero if v <= zero else v
            y[r, j] = v


@kernel(reduce=True)
def _grad_sums_last(gy, x, y, relu, mean, sum_g, sum_gx, acc_a, acc_b, tot_a, tot_b):
    rows, c = x.shape
    zero = x.dtype.type(0)
    for j in range(c):
        tot_a[j] = 0.0
        tot_b[j] = 0.0
    for r0 in range(0, rows, _CHUNK):
        for j in range(c):
            acc_a[j] = 0
            acc_b[j] = 0
        for r in range(r0, min(rows, r0 + _CHUNK)):
            for j in range(c):
                g = gy[r, j]
                if relu and not y[r, j] > zero:
                    g = zero
                acc_a[j] += g
                acc_b[j] += g * (x[r, j] - mean[j])
        for j in range(c):
            tot_a[j] += acc_a[j]
            tot_b[j] += acc_b[j]
    for j in range(c):
        sum_g[j] = tot_a[j]
        sum_gx[j] = tot_b[j]


@kernel
def _grad_input_last(gy, x, y, relu, mean, ca, cb, cc, gx):
    rows, c = x.shape
    zero = x.dtype.type(0)
    for r in range(rows):
        for j in range(c):
            g = gy[r, j]
            if relu and not y[r, j] > zero:
                g = zero
            gx[r, j] = ca[j] * g - cb[j] * (x[r, j] - mean[j]) - cc[j]


# --- the ops ----------------------------------------------------------------------------------------------


def _dense(a):
    """(``a`` or a C-contiguous copy, its axis order, its kind): read in place when a channel kind fits."""
    a, perm = dense(a)
    kind = channel_kind(a, perm)
    if kind is None:
        a = np.ascontiguousarray(a)
        perm = tuple(range(a.ndim))
        kind = channel_kind(a, perm)
    return a, perm, kind


class BatchNormTrain(_Train):
    """Training-mode batch norm (the reference's inputs: x, then γ and β if present)."""

    relu = False

    def forward(self, x, *affine):
        w = affine[0] if self.has_weight else None
        b = affine[-1] if self.has_bias else None
        dt = x.dtype
        x, perm, kind = _dense(x)
        xv = channel_view(x, perm)
        c = x.shape[1]
        mean, var, inv = np.empty(c, dt), np.empty(c, dt), np.empty(c, dt)
        if kind == "last":
            _moments_last(xv, float(self.eps), mean, var, inv, np.empty(c, dt), np.empty(c))
        else:
            _moments_mid(xv, float(self.eps), mean, var, inv)
        scale = inv if w is None else inv * w
        shift = np.zeros(c, dt) if b is None else b
        y = empty_in_order(x.shape, dt, perm)
        yv = channel_view(y, perm)
        (_affine_last if kind == "last" else _affine_mid)(xv, mean, scale, shift, self.relu, yv)
        self.batch_mean, self.batch_var = mean, var          # read (then dropped) by batch_norm
        self.x, self.perm, self.kind, self.mean, self.inv, self.w = x, perm, kind, mean, inv, w
        self.n = x.size // c
        self.y = y if self.relu else None
        return y

    def backward(self, gy):
        x, perm, kind, mean, inv, w, n = self.x, self.perm, self.kind, self.mean, self.inv, self.w, self.n
        dt = x.dtype
        gv, xv = channel_view(in_order(gy, perm), perm), channel_view(x, perm)
        yv = channel_view(self.y, perm) if self.relu else xv
        c = x.shape[1]
        sum_g, sum_gx = np.empty(c, dt), np.empty(c, dt)
        if kind == "last":
            _grad_sums_last(gv, xv, yv, self.relu, mean, sum_g, sum_gx, np.empty(c, dt), np.empty(c, dt),
                            np.empty(c), np.empty(c))
        else:
            _grad_sums_mid(gv, xv, yv, self.relu, mean, sum_g, sum_gx)
        gb = sum_g                                   # ∂L/∂β = Σ G
        gw = sum_gx * inv                            # ∂L/∂γ = Σ G x̂
        gx = None
        if self.needs[0]:
            # ∂L/∂x = s (G − mean(G) − x̂ mean(G x̂)), s = γ/sqrt(σ² + ε)
            s = inv if w is None else inv * w
            gx = empty_in_order(x.shape, dt, perm)
            (_grad_input_last if kind == "last" else _grad_input_mid)(
                gv, xv, yv, self.relu, mean, s, s * inv * inv * (sum_gx / dt.type(n)), s * (sum_g / dt.type(n)),
                channel_view(gx, perm))
        return self._grads(gx, gw, gb)


class BatchNormReLU(BatchNormTrain):
    """relu(batch_norm(x)) in training, one op (the ``batch_norm+relu`` rewrite of ``neurona.rewrites``)."""

    relu = True


class BatchNormEval(_Eval):
    """Evaluation-mode batch norm: y = (x − μ)·s + β with the running statistics; backward is the reference's."""

    def forward(self, x, *affine):
        dt = x.dtype
        inv = (1.0 / np.sqrt(self.var + dt.type(self.eps))).astype(dt, copy=False)
        mean = self.mean.astype(dt, copy=False)
        w = affine[0] if self.has_weight else None
        b = affine[-1] if self.has_bias else None
        scale = inv if w is None else inv * w
        shift = np.zeros(len(mean), dt) if b is None else b
        x, perm, kind = _dense(x)
        y = empty_in_order(x.shape, dt, perm)
        (_affine_last if kind == "last" else _affine_mid)(channel_view(x, perm), mean, scale, shift, False,
                                                          channel_view(y, perm))
        cshape = (1, len(mean)) + (1,) * (x.ndim - 2)
        self.x, self.inv, self.mu, self.scale = x, inv.reshape(cshape), mean.reshape(cshape), scale.reshape(cshape)
        return y
