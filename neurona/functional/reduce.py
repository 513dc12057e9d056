"""Reductions: sum, mean, prod, max, min, amax, amin, var, std, logsumexp, argmax, argmin, median, cumsum, cumprod.

Signatures are PyTorch's: ``sum(input, dim=None, keepdim=False, *, dtype=None)``.
``dim`` may be an int, a tuple or None (all dimensions); NumPy's ``axis`` and
``keepdims`` are accepted as keyword aliases. ``max``/``min``/``median`` with
a ``dim`` return the named tuple ``(values, indices)``, as in PyTorch.
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


def _keep(keepdim, keepdims) -> bool:
    return bool(keepdim if keepdims is None else keepdims)


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


class Prod(Function):
    """Π over one axis (or all elements)."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x = x
        return np.prod(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):  # ∂Π/∂x_i = Π_{j≠i} x_j = (product of those before i) · (product of those after i)
        x, axis = self.x, self.axis
        axes = None if axis is None else (axis,)
        if x.size == 0:
            return np.zeros_like(x)
        flat, a = (x.reshape(-1), 0) if axis is None else (x, axis)
        others = _exclusive_cumprod(flat, a) * np.flip(_exclusive_cumprod(np.flip(flat, a), a), a)
        return _expand(gy, x.shape, axes, self.keepdims) * others.reshape(x.shape)


def _exclusive_cumprod(a, axis: int):
    """The product of the elements before each position along ``axis`` (1 at the first): exact, no division."""
    lead = (slice(None),) * axis
    before, first = a[lead + (slice(0, -1),)], a[lead + (slice(0, 1),)]
    return np.cumprod(np.concatenate([np.ones_like(first), before], axis=axis), axis=axis)


class CumSum(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return np.cumsum(x, axis=self.axis)

    def backward(self, gy):  # y_k = Σ_{i≤k} x_i  ⇒  ∂L/∂x_i = Σ_{k≥i} g_k, a reversed cumulative sum
        a = self.axis
        return np.flip(np.cumsum(np.flip(gy, a), axis=a), a)


class CumProd(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.x = x
        self.y = y = np.cumprod(x, axis=self.axis)
        return y

    def backward(self, gy):  # ∂L/∂x_i = Σ_{k≥i} g_k Π_{j≤k, j≠i} x_j
        x, y, a = self.x, self.y, self.axis
        if (x != 0).all():  # Π_{j≤k, j≠i} x_j = y_k / x_i
            return np.flip(np.cumsum(np.flip(gy * y, a), axis=a), a) / x
        g = np.zeros_like(x)  # a zero: leave out x_i itself by setting it to 1, one position at a time
        xm = np.moveaxis(x, a, 0)
        gm, out = np.moveaxis(gy, a, 0), np.moveaxis(g, a, 0)
        for i in range(xm.shape[0]):
            z = xm.copy()
            z[i] = 1
            out[i] = (np.cumprod(z, axis=0)[i:] * gm[i:]).sum(axis=0)
        return g


def _reduce(cls, x, dim, keepdim, axis, keepdims, name):
    x = as_tensor(x)
    axes = _axes(axis, dim, x.ndim, name)
    return cls(axes, _keep(keepdim, keepdims))(x)


def _with_dtype(x, dtype, name):
    x = as_tensor(x)
    if dtype is None:
        return x
    from .math import cast
    return cast(x, dtype)


def sum(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:  # noqa: A001
    """Σ over ``dim`` (every dimension when None); ``dtype`` casts the input first.

    Integers and bools sum to int64, as in PyTorch.
    """
    x = _with_dtype(input, dtype, "sum")
    if x.array.dtype.kind in "biu" and x.array.dtype != np.uint64:
        x = Tensor(x.array.astype(np.int64, copy=False))
    return _reduce(Sum, x, dim, keepdim, axis, keepdims, "sum")


def mean(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """Arithmetic mean over ``dim``; ``dtype`` casts the input first (integers need it)."""
    x = _with_dtype(input, dtype, "mean")
    if x.array.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating-point tensor, got {x.dtype} (pass dtype=neurona.float32)")
    return _reduce(Mean, x, dim, keepdim, axis, keepdims, "mean")


def prod(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Π over ``dim`` (an int) or over every element; exact gradients even where some factors are 0."""
    x = _with_dtype(input, dtype, "prod")
    if x.array.dtype.kind in "biu":
        x = Tensor(x.array.astype(np.int64, copy=False))
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"prod: dim must be an int (one dimension), got {dim!r}")
    axes = _axes(None, dim, x.ndim, "prod")
    if dim is not None and not axes:  # a 0-d tensor
        return x
    return Prod(None if axes is None else axes[0], bool(keepdim))(x)


def _one_dim(dim, axis, ndim: int, name: str):
    axes = _axes(axis, dim, ndim, name)
    if axes is not None and len(axes) > 1 or isinstance(dim if axis is None else axis, (tuple, list)):
        raise TypeError(f"{name}: dim must be an int; use a{name} to reduce several dimensions at once")
    return axes


def _extreme_with_dim(which, input, dim, keepdim, axis, keepdims):
    from .indexing import _select_along
    from .math import maximum, minimum
    if isinstance(dim, Tensor) or isinstance(axis, Tensor):
        other = dim if isinstance(dim, Tensor) else axis
        return (maximum if which == "max" else minimum)(input, other)
    x = as_tensor(input)
    axes = _one_dim(dim, axis, x.ndim, which)
    if axes is None:
        return (Max if which == "max" else Min)(None, False)(x)
    if not x.array.size:
        raise ValueError(f"{which}: cannot reduce an empty tensor of shape {x.shape} along a dimension")
    fn = np.argmax if which == "max" else np.argmin
    return _select_along(which, x, axes[0] if axes else None, _keep(keepdim, keepdims),
                         lambda a, d: np.expand_dims(fn(a, axis=d), d))


def max(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):  # noqa: A001
    """The largest element; ``max(x, dim)`` gives ``(values, indices)``; ``max(x, other)`` is ``maximum``.

    The full reduction shares the gradient equally among tied maxima; with a
    ``dim`` the gradient goes to the element at ``indices``, as in PyTorch.

    >>> import neurona
    >>> neurona.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1)
    max(values=tensor([5., 7.]), indices=tensor([1, 0]))
    """
    return _extreme_with_dim("max", input, dim, keepdim, axis, keepdims)


def min(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):  # noqa: A001
    """The smallest element; ``min(x, dim)`` gives ``(values, indices)``; ``min(x, other)`` is ``minimum``."""
    return _extreme_with_dim("min", input, dim, keepdim, axis, keepdims)


def amax(input, dim=(), keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Maximum over ``dim`` (an int, a tuple; ``()`` or None is every dimension); ties share the gradient."""
    d = None if isinstance(dim, tuple) and dim == () else dim  # PyTorch: () is every dimension
    return _reduce(Max, input, d, keepdim, axis, keepdims, "amax")


def amin(input, dim=(), keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Minimum over ``dim`` (an int, a tuple; ``()`` or None is every dimension); ties share the gradient."""
    d = None if isinstance(dim, tuple) and dim == () else dim  # PyTorch: () is every dimension
    return _reduce(Min, input, d, keepdim, axis, keepdims, "amin")


def logsumexp(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """log Σ exp(x) over ``dim``, stable for large |x|."""
    return _reduce(LogSumExp, input, dim, keepdim, axis, keepdims, "logsumexp")


def _correction(unbiased, correction, name) -> float:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}: give unbiased or correction, not both")
    if unbiased is not None:
        return 1 if unbiased else 0
    return 1 if correction is None else correction


def var(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:
    """Variance Σ(x - x̄)² / (n - correction); ``correction=1`` (unbiased) by default, as in PyTorch.

    ``unbiased=False`` is ``correction=0``. ``var(x, False)`` (a bool in
    the place of ``dim``) is PyTorch's ``var(input, unbiased)`` form.
    """
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    c = _correction(unbiased, correction, "var")
    x = as_tensor(input)
    axes = _axes(axis, dim, x.ndim, "var")
    keep = _keep(keepdim, keepdims)
    n = _count(x.shape, axes)
    d = x - Mean(axes, True)(x)
    factor = 1.0 / (n - c) if n > c else float("nan")
    return Sum(axes, keep)(d * d) * factor


def std(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:
    """Standard deviation, the square root of :func:`var` (same arguments)."""
    from .math import sqrt
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    x = as_tensor(input)
    _axes(axis, dim, x.ndim, "std")  # so that a bad axis is reported as std's, not var's
    return sqrt(var(x, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims))


def var_mean(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> tuple:
    """``(var, mean)`` over ``dim``."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim) if not isinstance(dim, bool) else mean(input))


def std_mean(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> tuple:
    """``(std, mean)`` over ``dim``."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim) if not isinstance(dim, bool) else mean(input))


def _arg(fn, x, dim, keepdim, axis, keepdims, name):
    x = as_tensor(x)
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: give axis or dim, not both")
        dim = axis
    keep = _keep(keepdim, keepdims)
    if dim is None:
        xp = get_array_module(x.array)
        r = xp.asarray(fn(x.array.reshape(-1)), dtype=np.int64)
        return Tensor(r.reshape((1,) * x.ndim) if keep else r)
    if not -builtins.max(x.ndim, 1) <= dim < builtins.max(x.ndim, 1):
        raise ValueError(f"{name}: axis {dim} is out of range for a tensor with {x.ndim} dimensions")
    if x.ndim == 0:
        return Tensor(get_array_module(x.array).zeros((), np.int64))
    return Tensor(fn(x.array, axis=dim, keepdims=keep).astype(np.int64, copy=False))


def argmax(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Index of the maximum (int64, not differentiable); the first one among ties."""
    return _arg(np.argmax, input, dim, keepdim, axis, keepdims, "argmax")


def argmin(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Index of the minimum (int64, not differentiable); the first one among ties."""
    return _arg(np.argmin, input, dim, keepdim, axis, keepdims, "argmin")


def median(input, dim=None, keepdim: bool = False):
    """The median (the lower of the two middle values for an even count, as PyTorch).

    ``median(x)`` is a tensor; ``median(x, dim)`` gives ``(values, indices)``.
    The gradient goes to the element chosen.
    """
    from .indexing import _select_along
    x = as_tensor(input)

    def pick(a, d):
        order = np.argsort(a, axis=d, kind="stable")
        k = (a.shape[d] - 1) // 2
        return np.take(order, [k], axis=d)

    if dim is None:
        if not x.array.size:
            raise ValueError("median: cannot take the median of an empty tensor")
        from .shape import reshape
        return _select_along("median", reshape(x, -1), 0, False, pick).values
    axes = _one_dim(dim, None, x.ndim, "median")
    return _select_along("median", x, axes[0] if axes else None, bool(keepdim), pick)


def _scan(cls, input, dim, dtype, name):
    x = _with_dtype(input, dtype, name)
    if dim is None:
        raise TypeError(f"{name}: dim is required (e.g. {name}(x, dim=0))")
    if x.array.dtype.kind in "biu":
        x = Tensor(x.array.astype(np.int64, copy=False))  # PyTorch accumulates integers in int64
    axes = _axes(None, dim, x.ndim, name)
    if x.ndim == 0:  # one element: the running sum or product is the element itself
        return x * 1 if x.array.dtype.kind == "f" else Tensor(x.array.copy())
    d = axes[0]
    if x.array.dtype.kind != "f":
        return Tensor(cls(d).forward(x.array))
    return cls(d)(x)


def cumsum(input, dim=None, *, dtype=None) -> Tensor:
    """Running sums along ``dim``: y_k = Σ_{i≤k} x_i."""
    return _scan(CumSum, input, dim, dtype, "cumsum")


def cumprod(input, dim=None, *, dtype=None) -> Tensor:
    """Running products along ``dim``: y_k = Π_{i≤k} x_i (exact gradients at zeros too)."""
    return _scan(CumProd, input, dim, dtype, "cumprod")
