"""Max and average pooling over (N, C, H, W) arrays, and max pooling fused with ReLU.

The reference (``neurona.functional.pool``) reduces kh·kw strided slices of
the input with NumPy, a few passes per kernel offset. Here one loop visits
each window once: forward writes the output and, for max pooling, the offset
of the window's maximum (the first one on ties, as PyTorch and the reference);
backward writes every input pixel once, from the outputs of the windows that
contain it, so no zero-filled gradient is added into afterwards.

``MaxPoolReLU`` is relu(max_pool(x)), the ``relu+max_pool`` rewrite of
``neurona.rewrites``: max pooling commutes with ReLU, so it takes the maximum
of the raw window and clamps it at 0; the gradient reaches the window's
maximum where the output is positive, as it does through ReLU then pooling.
"""
from __future__ import annotations

import numpy as np

from ..functional.pool import AvgPool2d as _Avg
from ..functional.pool import MaxPool2d as _Max
from ._jit import kernel

__all__ = ["MaxPool2d", "AvgPool2d", "MaxPoolReLU"]


@kernel
def _max_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, relu, y, idx):
    n, h, w = x.shape
    oh, ow = y.shape[1], y.shape[2]
    ninf = x.dtype.type(-np.inf)
    zero = x.dtype.type(0)
    for b in range(n):
        for p in range(oh):
            for q in range(ow):
                m = ninf
                best = 0
                found = False
                for i in range(kh):
                    r = p * sh - ph + i * dh
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        c = q * sw - pw + j * dw
                        if c < 0 or c >= w:
                            continue
                        v = x[b, r, c]
                        if not found or v > m or (v != v and m == m):  # the first maximum; NaN wins
                            m = v
                            best = i * kw + j
                            found = True
                if relu and not m > zero:
                    m = zero if m == m else m
                y[b, p, q] = m
                idx[b, p, q] = best


@kernel
def _max_backward(gy, idx, y, kh, kw, sh, sw, ph, pw, dh, dw, relu, gx):
    n, h, w = gx.shape
    oh, ow = gy.shape[1], gy.shape[2]
    zero = gy.dtype.type(0)
    for b in range(n):
        for r in range(h):
            for c in range(w):
                gx[b, r, c] = zero
        for p in range(oh):
            for q in range(ow):
                if relu and not y[b, p, q] > zero:
                    continue
                k = idx[b, p, q]
                i = k // kw
                j = k - i * kw
                gx[b, p * sh - ph + i * dh, q * sw - pw + j * dw] += gy[b, p, q]


@kernel
def _max_backward_tiled(gy, idx, y, k, relu, gx):
    """Windows that tile the input exactly (k x k, stride k, no padding): each pixel written once."""
    n, oh, ow = gy.shape
    zero = gy.dtype.type(0)
    for b in range(n):
        for p in range(oh):
            for i in range(k):
                for q in range(ow):
                    g = gy[b, p, q]
                    if relu and not y[b, p, q] > zero:
                        g = zero
                    t = idx[b, p, q] - i * k
                    for j in range(k):
                        gx[b, p * k + i, q * k + j] = g if t == j else zero


def _planes(a):
    """(N, C, H, W) → (N·C, H, W), C-contiguous."""
    a = np.ascontiguousarray(a)
    return a.reshape(-1, a.shape[-2], a.shape[-1])


class MaxPool2d(_Max):
    """Max pooling (same constructor and ``flat_indices`` as the reference)."""

    relu = False

    def forward(self, x):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.k, self.s, self.p, self.d, self.out_hw
        n, c, h, w = x.shape
        x3 = _planes(x)
        y = np.empty((n, c, oh, ow), x.dtype)
        idx = np.empty((n, c, oh, ow), np.uint8 if kh * kw <= 255 else np.int32)
        _max_forward(x3, kh, kw, sh, sw, ph, pw, dh, dw, self.relu, y.reshape(-1, oh, ow), idx.reshape(-1, oh, ow))
        self.in_shape, self.idx = x.shape, idx
        self.y = y if self.relu else None
        return y

    def backward(self, gy):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.k, self.s, self.p, self.d, self.out_hw
        n, c, h, w = self.in_shape
        g3 = _planes(gy)
        y3 = (self.y if self.relu else gy).reshape(-1, oh, ow)
        gx = np.empty(self.in_shape, gy.dtype)
        idx3 = self.idx.reshape(-1, oh, ow)
        if kh == kw == sh == sw and ph == pw == 0 and dh == dw == 1 and (oh * kh, ow * kw) == (h, w):
            _max_backward_tiled(g3, idx3, y3, kh, self.relu, gx.reshape(-1, h, w))
        else:
            _max_backward(g3, idx3, y3, kh, kw, sh, sw, ph, pw, dh, dw, self.relu, gx.reshape(-1, h, w))
        return gx


class MaxPoolReLU(MaxPool2d):
    """relu(max_pool2d(x)) in one op (the ``relu+max_pool`` rewrite)."""

    relu = True


@kernel
def _avg_forward(x, kh, kw, sh, sw, ph, pw, div, y):
    n, h, w = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for b in range(n):
        for p in range(oh):
            for q in range(ow):
                s = x.dtype.type(0)
                for i in range(kh):
                    r = p * sh - ph + i
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        c = q * sw - pw + j
                        if 0 <= c < w:
                            s += x[b, r, c]
                y[b, p, q] = s / div[p, q]


@kernel
def _avg_backward(gy, kh, kw, sh, sw, ph, pw, div, gx):
    n, h, w = gx.shape
    oh, ow = gy.shape[1], gy.shape[2]
    zero = gy.dtype.type(0)
    for b in range(n):
        for r in range(h):
            for c in range(w):
                gx[b, r, c] = zero
        for p in range(oh):
            for q in range(ow):
                g = gy[b, p, q] / div[p, q]
                for i in range(kh):
                    r = p * sh - ph + i
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        c = q * sw - pw + j
                        if 0 <= c < w:
                            gx[b, r, c] += g


class AvgPool2d(_Avg):
    """Average pooling (same constructor as the reference)."""

    def forward(self, x):
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.k, self.s, self.p, self.out_hw
        n, c, h, w = x.shape
        self.in_shape = x.shape
        self.div = np.broadcast_to(np.asarray(self._divisor(np, h, w, x.dtype), x.dtype), (oh, ow))
        y = np.empty((n, c, oh, ow), x.dtype)
        _avg_forward(_planes(x), kh, kw, sh, sw, ph, pw, np.ascontiguousarray(self.div), y.reshape(-1, oh, ow))
        return y

    def backward(self, gy):
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.k, self.s, self.p, self.out_hw
        n, c, h, w = self.in_shape
        gx = np.empty(self.in_shape, gy.dtype)
        _avg_backward(_planes(gy), kh, kw, sh, sw, ph, pw, np.ascontiguousarray(self.div), gx.reshape(-1, h, w))
        return gx
