"""Elementwise functions beyond the arithmetic core: trigonometry, hyperbolics, rounding, powers.

Each class states its derivative in ``backward``. Integer inputs give
floating outputs (the default dtype) for the transcendental functions, as in
PyTorch; the rounding functions keep integers as they are. Rounding is
piecewise constant: its gradient is zero wherever it exists (PyTorch's
convention, so that ``requires_grad`` flows through it).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module, get_default_dtype
from ..engine import Function, Tensor
from .math import _pair, as_tensor, cast, pow, rpow, unbroadcast

__all__ = ["sin", "cos", "tan", "asin", "acos", "atan", "atan2", "arcsin", "arccos", "arctan", "arctan2", "sinh",
           "cosh", "asinh", "acosh", "atanh", "expm1", "exp2", "log2", "log10", "square", "rsqrt", "reciprocal",
           "floor", "ceil", "round", "trunc", "fix", "frac", "floor_divide", "remainder", "fmod", "true_divide",
           "erf", "hypot"]


class Sin(Function):
    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, gy):  # d sin x = cos x
        return gy * np.cos(self.x)


class Cos(Function):
    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, gy):  # d cos x = -sin x
        return -gy * np.sin(self.x)


class Tan(Function):
    def forward(self, x):
        self.y = y = np.tan(x)
        return y

    def backward(self, gy):  # d tan x = 1 + tan² x
        return gy * (1 + self.y * self.y)


class Asin(Function):
    def forward(self, x):
        self.x = x
        return np.arcsin(x)

    def backward(self, gy):  # d asin x = 1/√(1 - x²)
        return gy / np.sqrt(1 - self.x * self.x)


class Acos(Function):
    def forward(self, x):
        self.x = x
        return np.arccos(x)

    def backward(self, gy):  # d acos x = -1/√(1 - x²)
        return -gy / np.sqrt(1 - self.x * self.x)


class Atan(Function):
    def forward(self, x):
        self.x = x
        return np.arctan(x)

    def backward(self, gy):  # d atan x = 1/(1 + x²)
        return gy / (1 + self.x * self.x)


class Atan2(Function):
    """atan2(y, x): the angle of the point (x, y), in (-π, π]."""

    def forward(self, y, x):
        self.y, self.x = y, x
        return np.arctan2(y, x)

    def backward(self, g):  # ∂/∂y = x/(x² + y²), ∂/∂x = -y/(x² + y²)
        y, x = self.y, self.x
        r2 = x * x + y * y
        return (unbroadcast(g * x / r2, y.shape) if self.needs[0] else None,
                unbroadcast(-g * y / r2, x.shape) if self.needs[1] else None)


class Sinh(Function):
    def forward(self, x):
        self.x = x
        return np.sinh(x)

    def backward(self, gy):  # d sinh x = cosh x
        return gy * np.cosh(self.x)


class Cosh(Function):
    def forward(self, x):
        self.x = x
        return np.cosh(x)

    def backward(self, gy):  # d cosh x = sinh x
        return gy * np.sinh(self.x)


class Asinh(Function):
    def forward(self, x):
        self.x = x
        return np.arcsinh(x)

    def backward(self, gy):  # d asinh x = 1/√(x² + 1)
        return gy / np.sqrt(self.x * self.x + 1)


class Acosh(Function):
    def forward(self, x):
        self.x = x
        return np.arccosh(x)

    def backward(self, gy):  # d acosh x = 1/√(x² - 1)
        return gy / np.sqrt(self.x * self.x - 1)


class Atanh(Function):
    def forward(self, x):
        self.x = x
        return np.arctanh(x)

    def backward(self, gy):  # d atanh x = 1/(1 - x²)
        return gy / (1 - self.x * self.x)


class Expm1(Function):
    def forward(self, x):
        self.y = y = np.expm1(x)
        return y

    def backward(self, gy):  # d (eˣ - 1) = eˣ = y + 1
        return gy * (self.y + 1)


class Log2(Function):
    def forward(self, x):
        self.x = x
        return np.log2(x)

    def backward(self, gy):  # d log₂ x = 1/(x ln 2)
        return gy / (self.x * self.x.dtype.type(np.log(2.0)))


class Log10(Function):
    def forward(self, x):
        self.x = x
        return np.log10(x)

    def backward(self, gy):  # d log₁₀ x = 1/(x ln 10)
        return gy / (self.x * self.x.dtype.type(np.log(10.0)))


class Rsqrt(Function):
    def forward(self, x):
        self.y = y = 1 / np.sqrt(x)
        return y

    def backward(self, gy):  # d x^(-1/2) = -½ x^(-3/2) = -½ y³
        y = self.y
        return gy * (-0.5 * y * y * y)


class Reciprocal(Function):
    def forward(self, x):
        self.y = y = 1 / x if x.dtype.kind == "f" else 1 / x.astype(np.float64)
        return y

    def backward(self, gy):  # d (1/x) = -1/x² = -y²
        return -gy * self.y * self.y


class Erf(Function):
    def forward(self, x):
        from .activation import _erf
        self.x = x
        y = _erf(x)  # computed in float64
        return y.astype(x.dtype, copy=False) if x.dtype.kind == "f" else y

    def backward(self, gy):  # d erf x = 2/√π e^(-x²)
        x = self.x
        return gy * (x.dtype.type(2 / np.sqrt(np.pi)) * np.exp(-x * x))


class Hypot(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = y = np.hypot(a, b)
        return y

    def backward(self, g):  # ∂√(a² + b²)/∂a = a / √(a² + b²)
        a, b, y = self.a, self.b, self.y
        return (unbroadcast(g * a / y, a.shape) if self.needs[0] else None,
                unbroadcast(g * b / y, b.shape) if self.needs[1] else None)


class Frac(Function):
    def forward(self, x):
        return x - np.trunc(x)

    def backward(self, gy):  # d (x - trunc x) = 1 away from the integers
        return gy


class Remainder(Function):
    """a - b·⌊a/b⌋ (sign of the divisor, Python's %) or, with ``fmod``, a - b·trunc(a/b) (sign of the dividend)."""

    def __init__(self, fmod: bool):
        self.fmod = fmod

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.fmod(a, b) if self.fmod else np.remainder(a, b)

    def backward(self, g):  # ∂/∂a = 1, ∂/∂b = -⌊a/b⌋ (or -trunc(a/b))
        a, b = self.a, self.b
        q = np.trunc(a / b) if self.fmod else np.floor(a / b)
        return (unbroadcast(g, a.shape) if self.needs[0] else None,
                unbroadcast(-g * q.astype(g.dtype, copy=False), b.shape) if self.needs[1] else None)


class Stepwise(Function):
    """A piecewise-constant function (floor, ceil, round, trunc, sign of a quotient): zero gradient."""

    def __init__(self, fn, name: str):
        self.fn, self.name = fn, name

    def forward(self, *xs):
        self.shapes, self.dtypes = [x.shape for x in xs], [x.dtype for x in xs]
        return self.fn(*xs)

    def backward(self, gy):
        xp = get_array_module(gy)
        grads = tuple(xp.zeros(s, d) if n else None for s, d, n in zip(self.shapes, self.dtypes, self.needs))
        return grads if len(grads) > 1 else grads[0]

    def _describe_failure(self, inputs, err):
        return f"{self.name}: cannot apply to inputs of shapes {' and '.join(str(t.shape) for t in inputs)}: {err}"


def _unary(cls, x) -> Tensor:
    return cls()(as_tensor(x))


def sin(input) -> Tensor:
    """sin x elementwise (radians)."""
    return _unary(Sin, input)


def cos(input) -> Tensor:
    """cos x elementwise (radians)."""
    return _unary(Cos, input)


def tan(input) -> Tensor:
    """tan x elementwise (radians)."""
    return _unary(Tan, input)


def asin(input) -> Tensor:
    """arcsin x, in [-π/2, π/2]; NaN outside [-1, 1]."""
    return _unary(Asin, input)


def acos(input) -> Tensor:
    """arccos x, in [0, π]; NaN outside [-1, 1]."""
    return _unary(Acos, input)


def atan(input) -> Tensor:
    """arctan x, in (-π/2, π/2)."""
    return _unary(Atan, input)


def atan2(input, other) -> Tensor:
    """The angle of the point (other, input): ``atan2(y, x)``, with broadcasting."""
    a, b = _pair(input, other)
    return Atan2()(a, b)


def sinh(input) -> Tensor:
    return _unary(Sinh, input)


def cosh(input) -> Tensor:
    return _unary(Cosh, input)


def asinh(input) -> Tensor:
    return _unary(Asinh, input)


def acosh(input) -> Tensor:
    return _unary(Acosh, input)


def atanh(input) -> Tensor:
    return _unary(Atanh, input)


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2


def expm1(input) -> Tensor:
    """eˣ - 1, accurate for small x."""
    return _unary(Expm1, input)


def exp2(input) -> Tensor:
    """2ˣ elementwise (integers give the default float dtype)."""
    x = as_tensor(input)
    if x.array.dtype.kind != "f":
        x = cast(x, get_default_dtype())
    return rpow(x, 2)


def log2(input) -> Tensor:
    return _unary(Log2, input)


def log10(input) -> Tensor:
    return _unary(Log10, input)


def square(input) -> Tensor:
    """x² elementwise (integers stay integers)."""
    return pow(as_tensor(input), 2)


def rsqrt(input) -> Tensor:
    """1/√x elementwise."""
    return _unary(Rsqrt, input)


def reciprocal(input) -> Tensor:
    """1/x elementwise (integers give the default float dtype)."""
    return _unary(Reciprocal, input)


def erf(input) -> Tensor:
    """The error function, 2/√π ∫₀ˣ e^(-t²) dt."""
    return _unary(Erf, input)


def hypot(input, other) -> Tensor:
    """√(a² + b²) elementwise, with broadcasting."""
    a, b = _pair(input, other)
    return Hypot()(a, b)


def _rounding(fn, name: str, x) -> Tensor:
    x = as_tensor(x)
    if x.array.dtype.kind != "f":  # integers are already whole: a copy, as PyTorch
        return Tensor(x.array.copy())
    return Stepwise(fn, name)(x)


def floor(input) -> Tensor:
    """The largest integer ≤ x (same dtype); zero gradient."""
    return _rounding(np.floor, "floor", input)


def ceil(input) -> Tensor:
    """The smallest integer ≥ x (same dtype); zero gradient."""
    return _rounding(np.ceil, "ceil", input)


def trunc(input) -> Tensor:
    """x rounded toward zero (same dtype); zero gradient."""
    return _rounding(np.trunc, "trunc", input)


fix = trunc


def round(input, *, decimals: int = 0) -> Tensor:  # noqa: A001
    """Round to ``decimals`` places, halves to even (as PyTorch and NumPy): round(2.5) = 2."""
    if decimals == 0:
        return _rounding(np.round, "round", input)
    return _rounding(lambda a: np.round(a, decimals), "round", input)


def frac(input) -> Tensor:
    """x - trunc(x), the fractional part with the sign of x."""
    x = as_tensor(input)
    if x.array.dtype.kind != "f":
        raise TypeError(f"frac: expected a floating-point tensor, got {x.dtype}")
    return Frac()(x)


def _floor_div(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu" and (b == 0).any():
        raise ZeroDivisionError("floor_divide: integer division by zero")
    return np.floor_divide(a, b)


def floor_divide(input, other) -> Tensor:
    """⌊a / b⌋ elementwise (``a // b``); integers stay integers."""
    a, b = _pair(input, other)
    return Stepwise(_floor_div, "floor_divide")(a, b)


def true_divide(input, other) -> Tensor:
    """a / b as floats (the ``/`` operator)."""
    from .math import div
    return div(input, other)


def _integer_remainder(fn, name, a, b):
    if (b.array == 0).any():
        raise ZeroDivisionError(f"{name}: integer division by zero")
    return Tensor(fn(a.array, b.array))


def remainder(input, other) -> Tensor:
    """a - b·⌊a/b⌋, with the sign of the divisor (Python's and PyTorch's ``%``)."""
    a, b = _pair(input, other)
    if a.array.dtype.kind != "f" and b.array.dtype.kind != "f":
        return _integer_remainder(np.remainder, "remainder", a, b)
    return Remainder(False)(a, b)


def fmod(input, other) -> Tensor:
    """a - b·trunc(a/b), with the sign of the dividend (C's fmod)."""
    a, b = _pair(input, other)
    if a.array.dtype.kind != "f" and b.array.dtype.kind != "f":
        return _integer_remainder(np.fmod, "fmod", a, b)
    return Remainder(True)(a, b)
