"""Max and average pooling, and max pooling fused with ReLU, in the input's own memory order.

The reference (``neurona.functional.pool``) reduces kh·kw strided slices of
the input with NumPy, a few passes per kernel offset. Here one loop visits
each window once. The input is read as the (A, H, W, B) array of its memory
(see "Memory layout" in CONTRIBUTING.md): batch-last memory is (C, H, W, N),
channels-last (N, H, W, C), NCHW (N·C, H, W, 1); the window slides over H and
W and the innermost loop runs over B, contiguous values that LLVM vectorizes.
Outputs and the winners' offsets keep that order.

Forward writes the output and, for max pooling, the offset in the window of
its maximum (the first one on ties, as PyTorch and the reference). Backward
writes every input pixel once when the windows tile the input, and otherwise
adds each output's gradient into its window.

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
from ._layout import empty_in_order, in_order, spatial_view

__all__ = ["MaxPool2d", "AvgPool2d", "MaxPoolReLU"]


@kernel
def _max_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, relu, y, idx):
    na, h, w, nb = x.shape
    oh, ow = y.shape[1], y.shape[2]
    zero = x.dtype.type(0)
    for a in range(na):
        for p in range(oh):
            for q in range(ow):
                first = True
                for i in range(kh):
                    r = p * sh - ph + i * dh
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        c = q * sw - pw + j * dw
                        if c < 0 or c >= w:
                            continue
                        k = i * kw + j
                        if first:
                            for b in range(nb):
                                y[a, p, q, b] = x[a, r, c, b]
                                idx[a, p, q, b] = k
                            first = False
                        else:
                            for b in range(nb):
                                v = x[a, r, c, b]
                                m = y[a, p, q, b]
                                if v > m or (v != v and m == m):  # the first maximum wins; NaN wins
                                    y[a, p, q, b] = v
                                    idx[a, p, q, b] = k
                if relu:
                    for b in range(nb):
                        m = y[a, p, q, b]
                        y[a, p, q, b] = zero if m <= zero else m


@kernel
def _max_backward(gy, idx, y, kh, kw, sh, sw, ph, pw, dh, dw, relu, gx):
    """∂L/∂x: each output's gradient to its window's maximum (added: windows may overlap)."""
    na, h, w, nb = gx.shape
    oh, ow = gy.shape[1], gy.shape[2]
    zero = gy.dtype.type(0)
    for a in range(na):
        for r in range(h):
            for c in range(w):
                for b in range(nb):
                    gx[a, r, c, b] = zero
        for p in range(oh):
            for q in range(ow):
                for i in range(kh):
                    r = p * sh - ph + i * dh
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        c = q * sw - pw + j * dw
                        if c < 0 or c >= w:
                            continue
                        k = i * kw + j
                        for b in range(nb):
                            if idx[a, p, q, b] == k and (not relu or y[a, p, q, b] > zero):
                                gx[a, r, c, b] += gy[a, p, q, b]


@kernel
def _max_backward_tiled(gy, idx, y, k, relu, gx):
    """Windows that tile the input (k x k, stride k, no padding): each input pixel written once."""
    na, oh, ow, nb = gy.shape
    zero = gy.dtype.type(0)
    for a in range(na):
        for p in range(oh):
            for i in range(k):
                for q in range(ow):
                    for j in range(k):
                        t = i * k + j
                        for b in range(nb):
                            hit = idx[a, p, q, b] == t and (not relu or y[a, p, q, b] > zero)
                            gx[a, p * k + i, q * k + j, b] = gy[a, p, q, b] if hit else zero


def _input_view(x):
    v, order = spatial_view(x)
    if v is None:
        x = np.ascontiguousarray(x)
        v, order = spatial_view(x)
    return v, order


class MaxPool2d(_Max):
    """Max pooling (the reference's constructor and ``flat_indices``)."""

    relu = False

    def forward(self, x):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.k, self.s, self.p, self.d, self.out_hw
        n, c, h, w = x.shape
        xv, order = _input_view(x)
        y = empty_in_order((n, c, oh, ow), x.dtype, order)
        idx = empty_in_order((n, c, oh, ow), np.uint8 if kh * kw <= 255 else np.int32, order)
        _max_forward(xv, kh, kw, sh, sw, ph, pw, dh, dw, self.relu, spatial_view(y, order)[0],
                     spatial_view(idx, order)[0])
        self.in_shape, self.order, self.idx = x.shape, order, idx
        self.y = y if self.relu else None
        return y

    def backward(self, gy):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.k, self.s, self.p, self.d, self.out_hw
        n, c, h, w = self.in_shape
        idx = self.idx
        order = self.order
        g = in_order(gy, order)
        gv, iv = spatial_view(g, order)[0], spatial_view(idx, order)[0]
        yv = spatial_view(self.y, order)[0] if self.relu else gv
        gx = empty_in_order(self.in_shape, gy.dtype, order)
        xv = spatial_view(gx, order)[0]
        if kh == kw == sh == sw and ph == pw == 0 and dh == dw == 1 and (oh * kh, ow * kw) == (h, w):
            _max_backward_tiled(gv, iv, yv, kh, self.relu, xv)
        else:
            _max_backward(gv, iv, yv, kh, kw, sh, sw, ph, pw, dh, dw, self.relu, xv)
        return gx


class MaxPoolReLU(MaxPool2d):
    """relu(max_pool2d(x)) in one op (the ``relu+max_pool`` rewrite)."""

    relu = True


@kernel
def _avg_forward(x, kh, kw, sh, sw, ph, pw, inv, y):
    na, h, w, nb = x.shape
    oh, ow = y.shape[1], y.shape[2]
    zero = x.dtype.type(0)
    for a in range(na):
        for p in range(oh):
            for q in range(ow):
                for b in range(nb):
                    y[a, p, q, b] = zero
                for i in range(kh):
                    r = p * sh - ph + i
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        c = q * sw - pw + j
                        if 0 <= c < w:
                            for b in range(nb):
                                y[a, p, q, b] += x[a, r, c, b]
                f = inv[p, q]
                for b in range(nb):
                    y[a, p, q, b] *= f


@kernel
def _avg_backward(gy, kh, kw, sh, sw, ph, pw, inv, gx):
    na, h, w, nb = gx.shape
    oh, ow = gy.shape[1], gy.shape[2]
    zero = gy.dtype.type(0)
    for a in range(na):
        for r in range(h):
            for c in range(w):
                for b in range(nb):
                    gx[a, r, c, b] = zero
        for p in range(oh):
            for q in range(ow):
                f = inv[p, q]
                for i in range(kh):
                    r = p * sh - ph + i
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        c = q * sw - pw + j
                        if 0 <= c < w:
                            for b in range(nb):
                                gx[a, r, c, b] += gy[a, p, q, b] * f


class AvgPool2d(_Avg):
    """Average pooling (the reference's constructor)."""

    def forward(self, x):
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.k, self.s, self.p, self.out_hw
        n, c, h, w = x.shape
        self.in_shape = x.shape
        div = np.broadcast_to(np.asarray(self._divisor(np, h, w, x.dtype), x.dtype), (oh, ow))
        self.inv = np.ascontiguousarray(x.dtype.type(1) / div)
        self.div = div
        xv, order = _input_view(x)
        y = empty_in_order((n, c, oh, ow), x.dtype, order)
        _avg_forward(xv, kh, kw, sh, sw, ph, pw, self.inv, spatial_view(y, order)[0])
        self.order = order
        return y

    def backward(self, gy):
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.p
        order = self.order
        g = in_order(gy, order)
        gx = empty_in_order(self.in_shape, gy.dtype, order)
        _avg_backward(spatial_view(g, order)[0], kh, kw, sh, sw, ph, pw, self.inv.astype(gy.dtype, copy=False),
                      spatial_view(gx, order)[0])
        return gx
