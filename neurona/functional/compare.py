"""Comparisons, logical and bitwise ops, tests on values: boolean results, never differentiable.

``eq``/``ne``/``lt``/``le``/``gt``/``ge`` are the operators ``==`` ... as
functions; ``equal`` and ``allclose`` answer one Python bool;
``any``/``all`` reduce with ``dim`` and ``keepdim`` like the other reductions.
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import backend
from ..backend import get_array_module
from ..engine import Tensor
from .math import as_tensor, compare

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
           "equal", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
           "bitwise_xor", "bitwise_not", "isclose", "allclose", "any", "all", "isnan", "isinf", "isfinite",
           "isposinf", "isneginf", "isin", "count_nonzero", "is_nonzero", "is_tensor", "is_floating_point",
           "numel"]


def _arr(x):
    return x.array if isinstance(x, Tensor) else get_array_module(x).asarray(x)


def _pair(a, b) -> tuple:
    """The arrays of two operands; a number or host array joins the other operand's device."""
    x, y = _arr(a), _arr(b)
    if type(x) is not type(y):
        if type(x) is np.ndarray and not isinstance(a, Tensor):
            x = backend.to_device(x, backend.device_of(y))
        elif type(y) is np.ndarray and not isinstance(b, Tensor):
            y = backend.to_device(y, backend.device_of(x))
    return x, y


def eq(input, other) -> Tensor:
    """``input == other`` elementwise (bool), with broadcasting."""
    return compare(np.equal, as_tensor(input), other)


def ne(input, other) -> Tensor:
    """``input != other`` elementwise (bool)."""
    return compare(np.not_equal, as_tensor(input), other)


def lt(input, other) -> Tensor:
    """``input < other`` elementwise (bool)."""
    return compare(np.less, as_tensor(input), other)


def le(input, other) -> Tensor:
    """``input <= other`` elementwise (bool)."""
    return compare(np.less_equal, as_tensor(input), other)


def gt(input, other) -> Tensor:
    """``input > other`` elementwise (bool)."""
    return compare(np.greater, as_tensor(input), other)


def ge(input, other) -> Tensor:
    """``input >= other`` elementwise (bool)."""
    return compare(np.greater_equal, as_tensor(input), other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def equal(input, other) -> bool:
    """True when both tensors have the same shape and the same values (a Python bool)."""
    a, b = _pair(input, other)
    return a.shape == b.shape and bool((a == b).all())


def _logical(ufunc, a, b=None) -> Tensor:
    if b is None:
        return Tensor(ufunc(_arr(a)))
    a, b = _pair(a, b)
    try:
        return Tensor(ufunc(a, b))
    except ValueError:
        raise ValueError(f"{ufunc.__name__}: shapes {a.shape} and {b.shape} do not broadcast") from None


def logical_and(input, other) -> Tensor:
    """Elementwise AND of the truth values (nonzero is True); bool."""
    return _logical(np.logical_and, input, other)


def logical_or(input, other) -> Tensor:
    return _logical(np.logical_or, input, other)


def logical_xor(input, other) -> Tensor:
    return _logical(np.logical_xor, input, other)


def logical_not(input) -> Tensor:
    return _logical(np.logical_not, input)


def _bitwise(ufunc, name, a, b=None) -> Tensor:
    arrays = [_arr(a)] if b is None else list(_pair(a, b))
    if builtins.any(x.dtype.kind == "f" for x in arrays):
        raise TypeError(f"{name}: expected integer or bool tensors, got {', '.join(str(x.dtype) for x in arrays)}")
    return Tensor(ufunc(*arrays))


def bitwise_and(input, other) -> Tensor:
    """``&``: bitwise AND of integers, logical AND of bools."""
    return _bitwise(np.bitwise_and, "bitwise_and", input, other)


def bitwise_or(input, other) -> Tensor:
    return _bitwise(np.bitwise_or, "bitwise_or", input, other)


def bitwise_xor(input, other) -> Tensor:
    return _bitwise(np.bitwise_xor, "bitwise_xor", input, other)


def bitwise_not(input) -> Tensor:
    """``~``: bitwise NOT of integers, logical NOT of bools."""
    return _bitwise(np.invert, "bitwise_not", input)


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|a - b| ≤ atol + rtol·|b| elementwise (bool)."""
    return Tensor(np.isclose(*_pair(input, other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when ``isclose`` holds everywhere (a Python bool)."""
    return bool(np.allclose(*_pair(input, other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def _reduce_bool(fn, name, input, dim, keepdim, axis) -> Tensor:
    from .reduce import _axes
    x = as_tensor(input)
    axes = _axes(axis, dim, x.ndim, name)
    a = x.array
    xp = get_array_module(a)
    out = xp.asarray(fn(a, axis=axes, keepdims=bool(keepdim)))
    return Tensor(out.astype(np.uint8) if a.dtype == np.uint8 else out)  # PyTorch keeps uint8 for uint8 input


def any(input, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:  # noqa: A001
    """Whether any element (along ``dim``) is nonzero; a bool tensor."""
    return _reduce_bool(np.any, "any", input, dim, keepdim, axis)


def all(input, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:  # noqa: A001
    """Whether every element (along ``dim``) is nonzero; a bool tensor."""
    return _reduce_bool(np.all, "all", input, dim, keepdim, axis)


def isnan(input) -> Tensor:
    return Tensor(np.isnan(_arr(input)))


def isinf(input) -> Tensor:
    return Tensor(np.isinf(_arr(input)))


def isposinf(input) -> Tensor:
    return Tensor(np.isposinf(_arr(input)))


def isneginf(input) -> Tensor:
    return Tensor(np.isneginf(_arr(input)))


def isfinite(input) -> Tensor:
    return Tensor(np.isfinite(_arr(input)))


def isin(elements, test_elements, *, invert: bool = False) -> Tensor:
    """Whether each element of ``elements`` occurs in ``test_elements`` (bool, shape of ``elements``)."""
    return Tensor(np.isin(*_pair(elements, test_elements), invert=invert))


def count_nonzero(input, dim=None) -> Tensor:
    """The number of nonzero elements (along ``dim``), int64."""
    from .reduce import _axes
    x = as_tensor(input)
    axes = _axes(None, dim, x.ndim, "count_nonzero")
    return Tensor(get_array_module(x.array).asarray(np.count_nonzero(x.array, axis=axes), dtype=np.int64))


def is_nonzero(input) -> bool:
    """The truth value of a one-element tensor."""
    return bool(as_tensor(input))


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input) -> bool:
    return as_tensor(input).array.dtype.kind == "f"


def numel(input) -> int:
    return int(as_tensor(input).array.size)
