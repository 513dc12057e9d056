"""Pooling and the other spatial ops of convolutional networks.

The notes' pooling layer summarizes each window of a feature map by its
maximum or its mean ("Valor máximo", "Valor medio"):

    max:  y[n, c, p, q] = max_{i,j} x_pad[n, c, p·sh + i·dh, q·sw + j·dw]      (padding with −∞)
    mean: y[n, c, p, q] = (1/|window|) Σ_{i,j} x_pad[n, c, p·sh + i, q·sw + j]  (padding with 0)

Backward: the max passes each output gradient to the one input that was the
maximum of its window (the first one on ties, like PyTorch); the mean spreads
it evenly, ∂y/∂x = 1/|window|, over the window.

Both are computed without copying patches: for each of the kh·kw kernel
offsets, the input pixels that offset visits in every window form one
strided slice of the (padded) input, and the output is a running max (or
sum) over these kh·kw slices; the max also records which offset won. NumPy
reduces such slices elementwise many times faster than a small trailing
window axis. Backward writes (non-overlapping windows) or adds (overlapping
ones) the routed gradient into the same slices. Outputs and gradients keep
the memory order of the input (NCHW, or the NHWC / CHWN of a convolution's
output), so no transposing copy is made between layers.

Also here: adaptive average/max pooling, channel dropout (``dropout2d``)
and ``interpolate`` (defined in resample.py, re-exported here).
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..backend import get_array_module
from ..creation import _gen
from ..engine import Function, Tensor
from .conv import _pair
from .math import as_tensor

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "max_pool1d", "avg_pool1d",
           "global_avg_pool2d", "dropout2d", "interpolate", "pool_output_size"]


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length along one axis, with PyTorch's rule for ``ceil_mode``.

    ⌊(size + 2p − d(k − 1) − 1)/s⌋ + 1 (⌈·⌉ with ``ceil_mode``; a last window
    that would start in the right padding is dropped).
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool_args(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode, op: str):
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W), got shape {tuple(x.shape)}")
    k = _pair(kernel_size, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else _pair(stride, "stride", op)
    p = _pair(padding, "padding", op)
    d = _pair(dilation, "dilation", op)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive, got {k}, {s}, {d}")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2 or min(p) < 0:
        raise ValueError(f"{op}: padding {p} must be non-negative and at most half the kernel size {k}")
    h, w = x.shape[-2:]
    oh = pool_output_size(h, k[0], s[0], p[0], d[0], ceil_mode)
    ow = pool_output_size(w, k[1], s[1], p[1], d[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: input of spatial size ({h}, {w}) is too small for kernel {k} with padding {p} "
                         f"and dilation {d}; the output would be ({oh}, {ow})")
    return k, s, p, d, (oh, ow)


def _batched(fn):
    """Run a 4-D op on a 3-D (C, H, W) input by adding a batch axis of 1."""
    def wrapper(x, *args, **kwargs):
        x = as_tensor(x)
        if x.ndim == 3:
            out = fn(x.unsqueeze(0), *args, **kwargs)
            if isinstance(out, tuple):
                return tuple(o.squeeze(0) if isinstance(o, Tensor) else o for o in out)
            return out.squeeze(0)
        return fn(x, *args, **kwargs)
    wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn
    return wrapper


def _axis_order(a) -> tuple:
    """The axes of ``a`` from the slowest-varying in memory to the fastest (NCHW, NHWC, CHWN...)."""
    return tuple(int(i) for i in np.argsort([-abs(s) for s in a.strides], kind="stable"))


def _alloc(xp, shape, dtype, order: tuple, fill=None):
    """An array of ``shape`` laid out in memory in axis order ``order`` (so that ops on it keep a layout)."""
    stored = tuple(shape[i] for i in order)
    a = xp.empty(stored, dtype) if fill is None else xp.full(stored, fill, dtype)
    return a.transpose(tuple(int(i) for i in np.argsort(order)))


def _in_order(xp, a, order: tuple):
    """``a`` itself if it is laid out in axis order ``order``, else a copy that is.

    Backward gets ∂L/∂y in whatever layout the next layer produced (a flatten
    gives NCHW while a pooled convolution output is CHWN); one transposing copy
    up front is far cheaper than every per-offset product running on mismatched
    strides.
    """
    if a.ndim != len(order) or _axis_order(a) == order:
        return a
    out = _alloc(xp, a.shape, a.dtype, order)
    out[...] = a
    return out


def _padded(xp, x, pt, pb, pl, pr, value):
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    out = _alloc(xp, (n, c, h + pt + pb, w + pl + pr), x.dtype, _axis_order(x), value)
    out[:, :, pt:pt + h, pl:pl + w] = x
    return out


def _extra(size, out, k, s, p, d):
    """Padding needed after the input so that the last window (ceil_mode) fits."""
    return max(0, (out - 1) * s + d * (k - 1) + 1 - (size + 2 * p))


# --- max pooling -------------------------------------------------------------------


def _offset_views(xpad, k, s, d, out_hw):
    """The strided slab of ``xpad`` that kernel offset (i, j) visits, for every offset: kh·kw views, no copies.

    Window (p, q) reads xpad[..., p·sh + i·dh, q·sw + j·dw] at offset (i, j), so
    offset (i, j) across all windows is one slice with step (sh, sw). Reducing
    over these views elementwise is much faster in NumPy than reducing a
    (…, kh·kw) patch axis.
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = k, s, d, out_hw
    hi, wi = sh * (oh - 1) + 1, sw * (ow - 1) + 1
    return [(i * kw + j, (slice(None), slice(None), slice(i * dh, i * dh + hi, sh), slice(j * dw, j * dw + wi, sw)))
            for i in range(kh) for j in range(kw)]


def _overlapping(k, s, d) -> bool:
    return any(kk > 1 and (dd > 1 or ss < kk) for kk, ss, dd in zip(k, s, d))


class MaxPool2d(Function):
    """Max over each window; backward routes ∂L/∂y to the argmax of the window."""

    def __init__(self, kernel, stride, padding, dilation, out_hw):
        self.k, self.s, self.p, self.d, self.out_hw = kernel, stride, padding, dilation, out_hw

    def forward(self, x):
        xp = get_array_module(x)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.k, self.s, self.p, self.d, self.out_hw
        n, c, h, w = x.shape
        eh, ew = _extra(h, oh, kh, sh, ph, dh), _extra(w, ow, kw, sw, pw, dw)
        xpad = _padded(xp, x, ph, ph + eh, pw, pw + ew, -np.inf)
        self.in_shape, self.pad_shape, self.order = x.shape, xpad.shape, _axis_order(x)
        views = _offset_views(xpad, self.k, self.s, self.d, self.out_hw)
        itype = np.uint8 if kh * kw <= 255 else np.int32
        y = xpad[views[0][1]].copy(order="K")  # "K": keep the input's memory order (NCHW, NHWC or CHWN)
        idx = xp.zeros_like(y, dtype=itype)
        for k, sl in views[1:]:
            v = xpad[sl]
            m = (v > y).view(np.uint8).astype(itype, copy=False)  # strictly greater: the first maximum wins ties
            idx += m * (itype(k) - idx)                              # idx = k where m, arithmetic (fast on strided data)
            xp.maximum(y, v, out=y)
        self.idx = idx
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        (ph, pw) = self.p
        n, c, h, w = self.in_shape
        idx = self.idx
        gy = _in_order(xp, gy, self.order)
        views = _offset_views(None, self.k, self.s, self.d, self.out_hw)
        overlap = _overlapping(self.k, self.s, self.d)
        covered = not overlap and self.pad_shape == self.in_shape and all(
            kk == ss for kk, ss in zip(self.k, self.s)) and (self.out_hw[0] * self.k[0], self.out_hw[1] * self.k[1]) == (h, w)
        gpad = _alloc(xp, self.pad_shape, gy.dtype, self.order, None if covered else 0)
        for k, sl in views:
            if overlap:
                gpad[sl] += gy * (idx == k)
            else:  # each input pixel is in at most one window: write, don't accumulate
                xp.multiply(gy, idx == k, out=gpad[sl])
        if self.pad_shape == self.in_shape:
            return gpad
        return gpad[:, :, ph:ph + h, pw:pw + w]

    def flat_indices(self):
        """Index of each maximum in the flattened (H·W) input plane, as PyTorch's ``return_indices``."""
        xp = get_array_module(self.idx)
        (_, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.k, self.s, self.p, self.d, self.out_hw
        w = self.in_shape[3]
        k = self.idx.astype(np.int64)
        rows = xp.arange(oh).reshape(oh, 1) * sh - ph + (k // kw) * dh
        cols = xp.arange(ow).reshape(1, ow) * sw - pw + (k % kw) * dw
        return rows * w + cols


@_batched
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    y[n, c, p, q] = max over the window starting at (p·s − pad, q·s − pad);
    ``stride`` defaults to ``kernel_size``; the padding counts as −∞. With
    ``return_indices=True`` also returns, for each output, the flat index
    (row·W + column) of its maximum in the input plane.

    >>> import neurona
    >>> max_pool2d(neurona.randn(1, 3, 28, 28), 2).shape
    (1, 3, 14, 14)
    """
    return _max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, op=None):
    """``max_pool2d`` of a 4-D input; ``op`` replaces the op (the fused ReLU + pooling of ``neurona.rewrites``)."""
    k, s, p, d, out_hw = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    if x.dtype.kind != "f":
        raise TypeError(f"max_pool2d: expected a floating-point input, got {x.dtype}")
    fn = (op or kernels.lookup("max_pool2d", x.array) or MaxPool2d)(k, s, p, d, out_hw)
    y = fn(x)
    if return_indices:
        from ..creation import from_numpy
        return y, from_numpy(fn.flat_indices())
    return y


# --- average pooling ---------------------------------------------------------------


class AvgPool2d(Function):
    """Mean over each window; backward spreads ∂L/∂y / |window| over the window."""

    def __init__(self, kernel, stride, padding, out_hw, ceil_mode, count_include_pad, divisor_override):
        self.k, self.s, self.p, self.out_hw = kernel, stride, padding, out_hw
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def _divisor(self, xp, h, w, dtype):
        """|window| per output position, as PyTorch counts it (padding included or not)."""
        if self.divisor_override:
            return dtype.type(self.divisor_override)
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.k, self.s, self.p, self.out_hw

        def axis(out, k, s, p, size):
            start = np.arange(out) * s - p
            end = np.minimum(start + k, size + p)
            full = end - start
            real = np.minimum(end, size) - np.maximum(start, 0)
            return full if self.count_include_pad else real

        cnt = np.outer(axis(oh, kh, sh, ph, h), axis(ow, kw, sw, pw, w))
        if np.all(cnt == cnt.flat[0]):
            return dtype.type(cnt.flat[0])
        return xp.asarray(cnt.astype(dtype))

    def forward(self, x):
        xp = get_array_module(x)
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.k, self.s, self.p, self.out_hw
        n, c, h, w = x.shape
        self.in_shape = x.shape
        self.div = self._divisor(xp, h, w, x.dtype)
        eh, ew = _extra(h, oh, kh, sh, ph, 1), _extra(w, ow, kw, sw, pw, 1)
        xpad = _padded(xp, x, ph, ph + eh, pw, pw + ew, 0)
        self.pad_shape, self.order = xpad.shape, _axis_order(x)
        views = _offset_views(xpad, self.k, self.s, (1, 1), self.out_hw)
        y = xpad[views[0][1]].copy(order="K")
        for _, sl in views[1:]:
            y += xpad[sl]
        y /= self.div
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.k, self.s, self.p, self.out_hw
        n, c, h, w = self.in_shape
        g = _in_order(xp, gy, self.order) / self.div
        overlap = _overlapping(self.k, self.s, (1, 1))
        covered = (not overlap and self.pad_shape == self.in_shape and (kh, kw) == (sh, sw)
                   and (oh * kh, ow * kw) == (h, w))
        gpad = _alloc(xp, self.pad_shape, gy.dtype, self.order, None if covered else 0)
        for _, sl in _offset_views(None, self.k, self.s, (1, 1), self.out_hw):
            if overlap:
                gpad[sl] += g
            else:
                gpad[sl] = g
        if self.pad_shape == self.in_shape:
            return gpad
        return gpad[:, :, ph:ph + h, pw:pw + w]


@_batched
def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    y = (1/|window|) Σ_window x_pad. With ``count_include_pad`` (the default)
    zero padding counts in |window|; ``divisor_override`` replaces |window|.
    """
    k, s, p, d, out_hw = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    if x.dtype.kind != "f":
        raise TypeError(f"avg_pool2d: expected a floating-point input, got {x.dtype}")
    if divisor_override is not None and int(divisor_override) <= 0:
        raise ValueError(f"avg_pool2d: divisor_override must be positive, got {divisor_override}")
    op = kernels.lookup("avg_pool2d", x.array) or AvgPool2d
    return op(k, s, p, out_hw, ceil_mode, count_include_pad, divisor_override)(x)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False) -> Tensor:
    """1-D max pooling of an (N, C, L) input (a 2-D pooling over a height of 1)."""
    x = as_tensor(x)
    if x.ndim != 3:
        raise ValueError(f"max_pool1d: expected a 3-D input (N, C, L), got shape {tuple(x.shape)}")
    one = lambda v: int(v[0]) if isinstance(v, (tuple, list)) else int(v)  # noqa: E731
    st = None if stride is None else (1, one(stride))
    y = max_pool2d(x.unsqueeze(2), (1, one(kernel_size)), st, (0, one(padding)), (1, one(dilation)), ceil_mode)
    return y.squeeze(2)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling of an (N, C, L) input."""
    x = as_tensor(x)
    if x.ndim != 3:
        raise ValueError(f"avg_pool1d: expected a 3-D input (N, C, L), got shape {tuple(x.shape)}")
    one = lambda v: int(v[0]) if isinstance(v, (tuple, list)) else int(v)  # noqa: E731
    st = None if stride is None else (1, one(stride))
    y = avg_pool2d(x.unsqueeze(2), (1, one(kernel_size)), st, (0, one(padding)), ceil_mode, count_include_pad)
    return y.squeeze(2)


# --- adaptive pooling ----------------------------------------------------------------


def _adaptive_bins(size: int, out: int):
    """PyTorch's bins: output i covers [⌊i·size/out⌋, ⌈(i+1)·size/out⌉)."""
    starts = [(i * size) // out for i in range(out)]
    ends = [-(-((i + 1) * size) // out) for i in range(out)]
    return starts, ends


def _averaging_matrix(size: int, out: int, dtype) -> np.ndarray:
    a = np.zeros((out, size), dtype)
    for i, (s, e) in enumerate(zip(*_adaptive_bins(size, out))):
        a[i, s:e] = 1.0 / (e - s)
    return a


class AdaptiveAvgPool2d(Function):
    """Average over PyTorch's adaptive bins, as two small matrix products: y = A_h x A_wᵀ.

    Each row of A_h (OH x H) averages one bin of rows; so backward is
    ∂L/∂x = A_hᵀ (∂L/∂y) A_w.
    """

    def __init__(self, out_hw):
        self.out_hw = out_hw

    def forward(self, x):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        oh, ow = self.out_hw
        self.in_shape = x.shape
        if (oh, ow) == (1, 1):  # global average pooling
            return x.mean(axis=(2, 3), keepdims=True)
        self.ah = xp.asarray(_averaging_matrix(h, oh, x.dtype))
        self.aw = xp.asarray(_averaging_matrix(w, ow, x.dtype))
        return xp.matmul(xp.matmul(self.ah, x), self.aw.T)

    def backward(self, gy):
        xp = get_array_module(gy)
        n, c, h, w = self.in_shape
        if self.out_hw == (1, 1):  # ∂mean/∂x = 1/(H·W)
            return xp.broadcast_to(gy * gy.dtype.type(1.0 / (h * w)), self.in_shape)
        return xp.matmul(xp.matmul(self.ah.T, gy), self.aw)


def _adaptive_size(x: Tensor, output_size, op: str) -> tuple:
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
        raise TypeError(f"{op}: output_size must be an int or a pair (None keeps the input size), got {output_size!r}")
    h, w = x.shape[-2:]
    out = tuple(int(s) if s is not None else dim for s, dim in zip(output_size, (h, w)))
    if min(out) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


@_batched
def adaptive_avg_pool2d(x, output_size) -> Tensor:
    """Average pooling to a fixed output size (OH, OW), whatever the input size.

    Output (i, j) averages rows ⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1 and the matching
    columns. ``output_size=1`` is global average pooling, (N, C, H, W) → (N, C, 1, 1).
    """
    if x.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    return AdaptiveAvgPool2d(_adaptive_size(x, output_size, "adaptive_avg_pool2d"))(x)


def global_avg_pool2d(x) -> Tensor:
    """(N, C, H, W) → (N, C): the mean of each feature map (global average pooling)."""
    x = as_tensor(x)
    return adaptive_avg_pool2d(x, 1).reshape(x.shape[0], x.shape[1])


class AdaptiveMaxPool2d(Function):
    """Max over PyTorch's adaptive bins (one bin at a time: the bins can differ in size)."""

    def __init__(self, out_hw):
        self.out_hw = out_hw

    def forward(self, x):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        oh, ow = self.out_hw
        hs, he = _adaptive_bins(h, oh)
        ws, we = _adaptive_bins(w, ow)
        y = xp.empty((n, c, oh, ow), x.dtype)
        rows = xp.empty((n, c, oh, ow), np.int64)
        cols = xp.empty((n, c, oh, ow), np.int64)
        for i in range(oh):
            for j in range(ow):
                patch = x[:, :, hs[i]:he[i], ws[j]:we[j]].reshape(n, c, -1)
                k = patch.argmax(axis=-1)
                y[:, :, i, j] = xp.take_along_axis(patch, k[..., None], -1)[..., 0]
                bw = we[j] - ws[j]
                rows[:, :, i, j] = hs[i] + k // bw
                cols[:, :, i, j] = ws[j] + k % bw
        self.in_shape, self.rows, self.cols = x.shape, rows, cols
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        n, c, h, w = self.in_shape
        gx = xp.zeros((n * c, h * w), gy.dtype)
        flat = (self.rows * w + self.cols).reshape(n * c, -1)
        xp.add.at(gx, (xp.arange(n * c)[:, None], flat), gy.reshape(n * c, -1))
        return gx.reshape(self.in_shape)

    def flat_indices(self):
        return self.rows * self.in_shape[3] + self.cols


@_batched
def adaptive_max_pool2d(x, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size, over the same bins as ``adaptive_avg_pool2d``."""
    if x.ndim != 4:
        raise ValueError(f"adaptive_max_pool2d: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    fn = AdaptiveMaxPool2d(_adaptive_size(x, output_size, "adaptive_max_pool2d"))
    y = fn(x)
    if return_indices:
        from ..creation import from_numpy
        return y, from_numpy(fn.flat_indices())
    return y


# --- channel dropout -------------------------------------------------------------------


def dropout2d(x, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None) -> Tensor:
    """Channel dropout: zero whole feature maps x[n, c] with probability ``p``, scale the rest by 1/(1 − p).

    Neighbouring pixels of a feature map are strongly correlated, so dropping
    single pixels barely regularizes a CNN; dropping the map does. Input
    (N, C, H, W) or (C, H, W); the identity when ``training`` is False.
    """
    from .dropout import DropoutMask, _check_p

    x = as_tensor(x)
    p = _check_p(p, "dropout2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W), got shape {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    dtype = x.dtype
    mshape = x.shape[:-2] + (1, 1)
    if p == 1.0:
        mask = np.zeros(mshape, dtype)
    else:
        keep = _gen(generator).random(mshape) >= p
        mask = keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))
    xp = get_array_module(x.array)
    return DropoutMask(xp.asarray(mask))(x)


# --- upsampling: F.interpolate lives in resample.py (every mode and dimension); re-exported here ----------------

from .resample import interpolate  # noqa: E402,F401
