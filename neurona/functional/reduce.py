"""Reductions: sum, mean, max, min, var, std, logsumexp, argmax, argmin.

``axis`` may be an int, a tuple or None (all axes); ``dim`` and ``keepdim``
are accepted as PyTorch-style aliases of ``axis`` and ``keepdims``.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..backend import get_array_module
from ..engine import Function, Tensor
from .math import as_tensor


def _axes(axis, dim, ndim: int, op: str):
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give axis or dim, not both")
        axis = dim
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        if ndim:  # a 0-d tensor accepts axis 0 or -1 (as PyTorch) and has no axis to reduce
            out.append(a % ndim)
    return tuple(out)


def _keep(keepdims, keepdim) -> bool:
    return bool(keepdims if keepdim is None else keepdim)


def _expand(gy, shape, axes, keepdims):
    """Bring a reduced gradient back to a shape that broadcasts against the input."""
    if not keepdims and axes is not None and gy.ndim != len(shape):
        gy = np.expand_dims(gy, axes)
    elif axes is None and not keepdims:
        gy = gy.reshape((1,) * len(shape))
    return gy


def _count(shape, axes) -> int:
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class Sum(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):  # every summand gets the output's gradient
        return np.broadcast_to(_expand(gy, self.shape, self.axes, self.keepdims), self.shape)


class Mean(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.shape = x.shape
        if x.dtype.kind != "f":
            return x.mean(axis=self.axes, keepdims=self.keepdims)
        # sum / n: what ndarray.mean computes, without its Python-level wrapper (the hot path of every loss)
        return x.sum(axis=self.axes, keepdims=self.keepdims) / builtins.max(_count(x.shape, self.axes), 1)

    def backward(self, gy):  # each of the n averaged elements gets 1/n of the gradient
        n = _count(self.shape, self.axes)
        g = _expand(gy, self.shape, self.axes, self.keepdims) * gy.dtype.type(1.0 / builtins.max(n, 1))
        return np.broadcast_to(g, self.shape)


class _Extreme(Function):
    """max or min over axes; ties share the gradient equally."""

    reduce = None

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.x = x
        self.y = y = self.reduce(x, axis=self.axes, keepdims=True)
        return y if self.keepdims else (y.reshape(()) if self.axes is None else np.squeeze(y, self.axes))

    def backward(self, gy):
        mask = (self.x == self.y)
        count = mask.sum(axis=self.axes, keepdims=True)
        g = _expand(gy, self.x.shape, self.axes, self.keepdims)
        return (mask * (g / count.astype(gy.dtype))).astype(gy.dtype, copy=False)


class Max(_Extreme):
    reduce = staticmethod(np.max)


class Min(_Extreme):
    reduce = staticmethod(np.min)


class LogSumExp(Function):
    """log Σ exp(x), computed as m + log Σ exp(x - m) with m = max x (no overflow)."""

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        m = x.max(axis=self.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
        e = np.exp(x - m)
        s = e.sum(axis=self.axes, keepdims=True)
        y = np.log(s) + m
        self.p = e / s  # softmax: the gradient of logsumexp
        self.shape = x.shape
        return y if self.keepdims else (y.reshape(()) if self.axes is None else np.squeeze(y, self.axes))

    def backward(self, gy):  # ∂/∂x_i log Σ_j e^{x_j} = softmax(x)_i
        return _expand(gy, self.shape, self.axes, self.keepdims) * self.p


def _reduce(cls, x, axis, keepdims, dim, keepdim, name):
    x = as_tensor(x)
    axes = _axes(axis, dim, x.ndim, name)
    return cls(axes, _keep(keepdims, keepdim))(x)


def sum(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:  # noqa: A001
    """Σ over ``axis`` (all axes when None)."""
    return _reduce(Sum, x, axis, keepdims, dim, keepdim, "sum")


def mean(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Arithmetic mean over ``axis``."""
    x = as_tensor(x)
    if x.array.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating-point tensor, got {x.dtype}")
    return _reduce(Mean, x, axis, keepdims, dim, keepdim, "mean")


def max(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return _reduce(Max, x, axis, keepdims, dim, keepdim, "max")


def min(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:  # noqa: A001
    """Minimum over ``axis``; tied minima share the gradient equally."""
    return _reduce(Min, x, axis, keepdims, dim, keepdim, "min")


def logsumexp(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """log Σ exp(x) over ``axis``, stable for large |x|."""
    return _reduce(LogSumExp, x, axis, keepdims, dim, keepdim, "logsumexp")


def var(x, axis=None, keepdims: bool = False, *, correction: int = 1, dim=None, keepdim=None) -> Tensor:
    """Variance Σ(x - x̄)² / (n - correction); ``correction=1`` (unbiased) as in PyTorch."""
    x = as_tensor(x)
    axes = _axes(axis, dim, x.ndim, "var")
    keep = _keep(keepdims, keepdim)
    n = _count(x.shape, axes)
    d = x - Mean(axes, True)(x)
    factor = 1.0 / (n - correction) if n > correction else float("nan")
    return Sum(axes, keep)(d * d) * factor


def std(x, axis=None, keepdims: bool = False, *, correction: int = 1, dim=None, keepdim=None) -> Tensor:
    """Standard deviation, the square root of :func:`var`."""
    from .math import sqrt
    x = as_tensor(x)
    _axes(axis, dim, x.ndim, "std")  # so that a bad axis is reported as std's, not var's
    return sqrt(var(x, axis, keepdims, correction=correction, dim=dim, keepdim=keepdim))


def _arg(fn, x, axis, keepdims, dim, keepdim, name):
    x = as_tensor(x)
    if dim is not None:
        axis = dim
    keep = _keep(keepdims, keepdim)
    if axis is None:
        xp = get_array_module(x.array)
        r = xp.asarray(fn(x.array.reshape(-1)), dtype=np.int64)
        return Tensor(r.reshape((1,) * x.ndim) if keep else r)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for a tensor with {x.ndim} dimensions")
    return Tensor(fn(x.array, axis=axis, keepdims=keep).astype(np.int64, copy=False))


def argmax(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the maximum (int64, not differentiable)."""
    return _arg(np.argmax, x, axis, keepdims, dim, keepdim, "argmax")


def argmin(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the minimum (int64, not differentiable)."""
    return _arg(np.argmin, x, axis, keepdims, dim, keepdim, "argmin")
