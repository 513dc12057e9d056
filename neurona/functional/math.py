"""Arithmetic and elementwise math: the primitives every other op composes.

Each class states its local derivative in ``backward``; broadcasting ops
sum their gradients back to each input's shape (``unbroadcast``).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import get_array_module
from ..engine import Function, Tensor, _wrap


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor; numbers and float arrays take ``like``'s float dtype."""
    if isinstance(x, Tensor):
        return x
    from ..creation import _as_array, _placed

    if like is None:
        t = _wrap(_as_array(x))  # not Tensor(x): Tensor(3) is PyTorch's sized constructor
        return _placed(t, None) if type(t.array) is np.ndarray else t  # host data goes to the default device
    a = get_array_module(x).asarray(x)
    if type(a) is np.ndarray and type(like.array) is not np.ndarray:
        a = backend.to_device(a, backend.device_of(like.array))  # a host constant joins the tensor's device
    if like.array.dtype.kind == "f" and a.dtype.kind in "fiub":
        return _wrap(a.astype(like.array.dtype, copy=False))
    return _wrap(_as_array(a))


def _const(c, like: Tensor):
    """A Python/NumPy scalar as a scalar of ``like``'s dtype (no float64 leak).

    Python ints and floats are "weak" in NumPy 2 and keep the array's dtype;
    NumPy scalars (np.float64(2.0), results of np.sqrt(n)) are not.
    """
    if type(c) is float or type(c) is int:
        return c
    if like.array.dtype.kind == "f":
        return like.array.dtype.type(c)
    return c


def _is_scalar(x) -> bool:
    t = type(x)
    return t is float or t is int or isinstance(x, (np.integer, np.floating))


def unbroadcast(g, shape: tuple):
    """Sum ``g`` over the axes that broadcasting added or stretched to reach ``g.shape`` from ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


# --- binary arithmetic ---------------------------------------------------------


class Add(Function):
    def forward(self, a, b):
        self.sa, self.sb = a.shape, b.shape
        return a + b

    def backward(self, gy):  # ∂(a+b)/∂a = ∂(a+b)/∂b = 1
        return (unbroadcast(gy, self.sa) if self.needs[0] else None,
                unbroadcast(gy, self.sb) if self.needs[1] else None)


class Sub(Function):
    def forward(self, a, b):
        self.sa, self.sb = a.shape, b.shape
        return a - b

    def backward(self, gy):  # ∂(a-b)/∂a = 1, ∂(a-b)/∂b = -1
        return (unbroadcast(gy, self.sa) if self.needs[0] else None,
                unbroadcast(-gy, self.sb) if self.needs[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):  # ∂(ab)/∂a = b, ∂(ab)/∂b = a
        a, b = self.a, self.b
        return (unbroadcast(gy * b, a.shape) if self.needs[0] else None,
                unbroadcast(gy * a, b.shape) if self.needs[1] else None)


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):  # ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = -a/b²
        a, b = self.a, self.b
        gb = unbroadcast(-gy * a / (b * b), b.shape) if self.needs[1] else None
        return (unbroadcast(gy / b, a.shape) if self.needs[0] else None, gb)


class Pow(Function):
    """a ** b with a tensor exponent."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = y = a ** b
        return y

    def backward(self, gy):  # ∂a^b/∂a = b a^(b-1), ∂a^b/∂b = a^b ln a
        a, b, y = self.a, self.b, self.y
        ga = gb = None
        if self.needs[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = b * a ** (b - 1)
            ga = unbroadcast(gy * np.where(b == 0, 0, d).astype(y.dtype, copy=False), a.shape)  # a^0 is constant
        if self.needs[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                la = np.where(a > 0, np.log(np.where(a > 0, a, 1)), np.where(a == 0, 0, np.nan)).astype(y.dtype, copy=False)
            gb = unbroadcast(gy * y * la, b.shape)
        return ga, gb


# --- ops with a constant -------------------------------------------------------


class AddConst(Function):
    def __init__(self, c):
        self.c = c

    def forward(self, a):
        return a + self.c

    def backward(self, gy):
        return gy


class MulConst(Function):
    def __init__(self, c):
        self.c = c

    def forward(self, a):
        return a * self.c

    def backward(self, gy):
        return gy * self.c


class RDivConst(Function):
    """c / a."""

    def __init__(self, c):
        self.c = c

    def forward(self, a):
        self.a = a
        return self.c / a

    def backward(self, gy):  # ∂(c/a)/∂a = -c/a²
        a = self.a
        return gy * (-self.c) / (a * a)


class PowConst(Function):
    """a ** c with a scalar exponent."""

    def __init__(self, c):
        self.c = c

    def forward(self, a):
        self.a = a
        c = self.c
        if c == 2:
            return a * a
        return a ** c

    def backward(self, gy):  # ∂a^c/∂a = c a^(c-1), and 0 for c = 0 (even at a = 0, as PyTorch)
        a, c = self.a, self.c
        if c == 2:
            return gy * (a + a)
        if c == 0:
            return get_array_module(gy).zeros_like(gy)
        return gy * (c * a ** (c - 1))


class RPowConst(Function):
    """c ** a with a scalar base."""

    def __init__(self, c):
        self.c = c

    def forward(self, a):
        self.y = y = self.c ** a
        return y

    def backward(self, gy):  # ∂c^a/∂a = c^a ln c
        return gy * self.y * self.y.dtype.type(np.log(self.c))


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, gy):
        return -gy


def add(a, b) -> Tensor:
    """a + b, with broadcasting."""
    tb = type(b)
    if (tb is float or tb is int) and isinstance(a, Tensor):  # the hot path: a Python number is "weak", no cast
        return AddConst(b)(a)
    if _is_scalar(b) and isinstance(a, Tensor):
        return AddConst(_const(b, a))(a)
    if _is_scalar(a) and isinstance(b, Tensor):
        return AddConst(_const(a, b))(b)
    a, b = _pair(a, b)
    return Add()(a, b)


def sub(a, b) -> Tensor:
    """a - b, with broadcasting."""
    tb = type(b)
    if (tb is float or tb is int) and isinstance(a, Tensor):
        return AddConst(-b)(a)
    if _is_scalar(b) and isinstance(a, Tensor):
        return AddConst(_const(-b, a))(a)
    a, b = _pair(a, b)
    return Sub()(a, b)


def rsub(a: Tensor, b) -> Tensor:
    """b - a (the reflected subtraction)."""
    if _is_scalar(b):
        return AddConst(_const(b, a))(Neg()(a))
    return sub(as_tensor(b, like=a), a)


def mul(a, b) -> Tensor:
    """a * b elementwise, with broadcasting."""
    tb = type(b)
    if (tb is float or tb is int) and isinstance(a, Tensor):
        return MulConst(b)(a)
    if _is_scalar(b) and isinstance(a, Tensor):
        return MulConst(_const(b, a))(a)
    if _is_scalar(a) and isinstance(b, Tensor):
        return MulConst(_const(a, b))(b)
    a, b = _pair(a, b)
    return Mul()(a, b)


def div(a, b, *, rounding_mode: str | None = None) -> Tensor:
    """a / b elementwise, with broadcasting; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is not None:
        return _rounded_div(a, b, rounding_mode)
    if _is_scalar(b) and isinstance(a, Tensor) and a.array.dtype.kind == "f":
        return MulConst(_const(1.0 / b, a))(a)
    a, b = _pair(a, b)
    return Div()(a, b)


def _rounded_div(a, b, mode: str) -> Tensor:
    from .pointwise import Stepwise
    if mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {mode!r}")
    a, b = _pair(a, b)
    integers = a.array.dtype.kind in "iub" and b.array.dtype.kind in "iub"
    if integers and (b.array == 0).any():
        raise ZeroDivisionError("div: integer division by zero")

    def quotient(x, y):
        if integers:
            return np.floor_divide(x, y) if mode == "floor" else (np.sign(x) * np.sign(y)) * (np.abs(x) // np.abs(y))
        return np.floor(x / y) if mode == "floor" else np.trunc(x / y)

    return Stepwise(quotient, "div")(a, b)


def rdiv(a: Tensor, b) -> Tensor:
    """b / a (the reflected division)."""
    if _is_scalar(b) and a.array.dtype.kind == "f":
        return RDivConst(_const(b, a))(a)
    return div(as_tensor(b, like=a), a)


def neg(a) -> Tensor:
    return Neg()(as_tensor(a))


def pow(a, b) -> Tensor:
    """a ** b: ``b`` a number or a tensor."""
    if _is_scalar(b) and isinstance(a, Tensor):
        return PowConst(_const(b, a) if a.array.dtype.kind == "f" else b)(a)
    a, b = _pair(a, b)
    return Pow()(a, b)


def rpow(a: Tensor, b) -> Tensor:
    """b ** a (a number raised to a tensor)."""
    if _is_scalar(b):
        return RPowConst(_const(b, a))(a)
    return pow(as_tensor(b, like=a), a)


def _pair(a, b):
    if isinstance(a, Tensor):
        return a, as_tensor(b, like=a)
    b = as_tensor(b)
    return as_tensor(a, like=b), b


# --- matmul ----------------------------------------------------------------------


class MatMul(Function):
    """a @ b with NumPy's matmul rules (vectors, matrices, broadcast batches)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        if a.ndim > 2 and b.ndim == 2:  # (..., m, k) @ (k, n): one GEMM over all rows
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + b.shape[-1:])
        return a @ b

    def backward(self, gy):  # ∂(AB)/∂A = G Bᵀ, ∂(AB)/∂B = Aᵀ G
        a, b = self.a, self.b
        if a.ndim == 2 and b.ndim == 2:  # the common case, straight to BLAS
            return (gy @ b.T if self.needs[0] else None), (a.T @ gy if self.needs[1] else None)
        if a.ndim == 1 and b.ndim == 1:  # dot product
            return (gy * b if self.needs[0] else None), (gy * a if self.needs[1] else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            gy = gy[..., None, :]
        if b.ndim == 1:
            gy = gy[..., None]
        ga = gb = None
        if self.needs[0]:
            if gy.ndim > 2 and b2.ndim == 2:
                ga = (gy.reshape(-1, gy.shape[-1]) @ b2.T).reshape(gy.shape[:-1] + b2.shape[:1])
            else:
                ga = gy @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga.reshape(-1, a.shape[0]).sum(0)
            ga = unbroadcast(ga, a.shape)
        if self.needs[1]:
            if b2.ndim == 2 and a2.ndim > 2:  # sum over the batch inside one GEMM
                gb = a2.reshape(-1, a2.shape[-1]).T @ gy.reshape(-1, gy.shape[-1])
            else:
                gb = a2.swapaxes(-1, -2) @ gy
            if b.ndim == 1:
                gb = gb.reshape(-1, b.shape[0]).sum(0)
            gb = unbroadcast(gb, b.shape)
        return ga, gb

    def _describe_failure(self, inputs, err):
        sa, sb = tuple(inputs[0].shape), tuple(inputs[1].shape)
        if len(sa) == 0 or len(sb) == 0:
            return f"matmul: both operands need at least 1 dimension, got shapes {sa} and {sb}"
        ka = sa[-1]
        kb = sb[-2] if len(sb) > 1 else sb[0]
        if ka != kb:
            return (f"matmul: shapes {sa} and {sb} are not aligned: the last dimension of the first ({ka}) "
                    f"must equal the {'second-to-last' if len(sb) > 1 else 'only'} dimension of the second ({kb})")
        return f"matmul: cannot multiply shapes {sa} and {sb}: the batch dimensions do not broadcast ({err})"


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b`` (2-D, batched with broadcasting, or with vectors)."""
    a, b = _pair(a, b)
    return MatMul()(a, b)


# --- elementwise functions -------------------------------------------------------


class Exp(Function):
    def forward(self, x):
        self.y = y = np.exp(x)
        return y

    def backward(self, gy):  # d e^x/dx = e^x
        return gy * self.y


class Log(Function):
    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, gy):  # d ln x/dx = 1/x
        return gy / self.x


class Log1p(Function):
    def forward(self, x):
        self.x = x
        return np.log1p(x)

    def backward(self, gy):  # d ln(1+x)/dx = 1/(1+x)
        return gy / (1 + self.x)


class Sqrt(Function):
    def forward(self, x):
        self.y = y = np.sqrt(x)
        return y

    def backward(self, gy):  # d √x/dx = 1/(2√x)
        return gy / (2 * self.y)


class Abs(Function):
    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, gy):  # d|x|/dx = sign(x), 0 at 0
        return gy * np.sign(self.x)


class Sign(Function):
    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return np.sign(x)

    def backward(self, gy):  # piecewise constant: zero gradient everywhere
        return get_array_module(gy).zeros(self.shape, self.dtype)


class Clip(Function):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.x = x
        return np.clip(x, self.lo, self.hi)

    def backward(self, gy):  # 1 inside [lo, hi] (bounds included, as PyTorch), 0 outside
        x, lo, hi = self.x, self.lo, self.hi
        if lo is None:
            return gy * (x <= hi)
        mask = x >= lo
        if hi is not None:
            mask &= x <= hi
        return gy * mask


class Maximum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, gy):  # the gradient goes to the larger input; ties split it in half
        a, b = self.a, self.b
        wa = (a > b) + (a == b) * 0.5
        wa = wa.astype(gy.dtype, copy=False)
        return (unbroadcast(gy * wa, a.shape) if self.needs[0] else None,
                unbroadcast(gy * (1 - wa), b.shape) if self.needs[1] else None)


class Minimum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, gy):  # the gradient goes to the smaller input; ties split it in half
        a, b = self.a, self.b
        wa = ((a < b) + (a == b) * 0.5).astype(gy.dtype, copy=False)
        return (unbroadcast(gy * wa, a.shape) if self.needs[0] else None,
                unbroadcast(gy * (1 - wa), b.shape) if self.needs[1] else None)


class Where(Function):
    """where(cond, a, b); ``cond`` is fixed at construction and not differentiated."""

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        self.sa, self.sb = a.shape, b.shape
        xp = get_array_module(a, b)
        if xp is not np and type(self.cond) is np.ndarray:
            self.cond = xp.asarray(self.cond)  # a host condition crosses to the values' device once
        return xp.where(self.cond, a, b)

    def backward(self, gy):
        c = self.cond
        zero = gy.dtype.type(0)
        return (unbroadcast(np.where(c, gy, zero), self.sa) if self.needs[0] else None,
                unbroadcast(np.where(c, zero, gy), self.sb) if self.needs[1] else None)


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        self.src = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.src)


def exp(x) -> Tensor:
    """e^x elementwise."""
    return Exp()(as_tensor(x))


def log(x) -> Tensor:
    """Natural logarithm elementwise."""
    return Log()(as_tensor(x))


def log1p(x) -> Tensor:
    """ln(1 + x), accurate for small x."""
    return Log1p()(as_tensor(x))


def sqrt(x) -> Tensor:
    return Sqrt()(as_tensor(x))


def abs(x) -> Tensor:  # noqa: A001  (mirrors torch.abs)
    return Abs()(as_tensor(x))


def sign(x) -> Tensor:
    """-1, 0 or 1 elementwise; its gradient is zero everywhere."""
    return Sign()(as_tensor(x))


def clip(x, min=None, max=None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]; either bound may be None, a number or a tensor (broadcast)."""
    x = as_tensor(x)
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # tensor bounds: the gradient goes to x inside the bounds and to the bound that x crossed
        y = x
        if min is not None:
            y = where(y < min, min, y)
        if max is not None:
            y = where(y > max, max, y)
        return y
    lo = None if min is None else _const(min, x)
    hi = None if max is None else _const(max, x)
    return Clip(lo, hi)(x)


clamp = clip


def maximum(a, b) -> Tensor:
    """Elementwise maximum of two tensors (broadcasting)."""
    a, b = _pair(a, b)
    return Maximum()(a, b)


def minimum(a, b) -> Tensor:
    """Elementwise minimum of two tensors (broadcasting)."""
    a, b = _pair(a, b)
    return Minimum()(a, b)


def where(condition, a=None, b=None) -> Tensor:
    """``a`` where ``condition`` holds, else ``b`` (differentiable in a and b; numbers are welcome).

    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.
    """
    if a is None and b is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if a is None or b is None:
        raise TypeError("where: give both input and other, or neither (where(condition) lists the nonzero indices)")
    cond = condition.array if isinstance(condition, Tensor) else get_array_module(condition).asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    a, b = _pair(a, b)
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: condition {cond.shape}, a {a.shape} and b {b.shape} do not broadcast together") from None
    out = Where(cond)(a, b)
    if out.shape != np.broadcast_shapes(a.shape, b.shape):
        out_shape = out.shape
        # the condition widened the output: route gradients through a broadcast of a and b
        from .shape import broadcast_to
        return Where(cond)(broadcast_to(a, out_shape), broadcast_to(b, out_shape))
    return out


def cast(x: Tensor, dtype) -> Tensor:
    """Convert to ``dtype``; gradients flow back in the source dtype (to or from integers: no gradient)."""
    d = backend.to_dtype(dtype)
    if x.array.dtype == d:
        return x
    if d.kind != "f" or x.array.dtype.kind != "f":
        return _wrap(x.array.astype(d))  # as it is: an explicit float64 or float16 stays so
    return Cast(d)(x)


class ToDevice(Function):
    """A copy on another device (CPU ↔ GPU); the gradient travels back to the source device."""

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.src = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return backend.to_device(gy, self.src)


def to_device(x: Tensor, device) -> Tensor:
    """``x`` on ``device`` (a ``neurona.device`` or a name such as ``"cpu"``); itself if it is there already."""
    d = backend.device(device)
    if backend.device_of(x.array) == d:
        return x
    return ToDevice(d)(x)


def compare(ufunc, a: Tensor, b) -> Tensor:
    """A comparison (``<``, ``==``, ...): a boolean tensor, never differentiable."""
    bd = b.array if isinstance(b, Tensor) else b
    if type(bd) is np.ndarray and type(a.array) is not np.ndarray:
        bd = get_array_module(a.array).asarray(bd)  # host data compared with a device tensor: copied over
    try:
        return Tensor(ufunc(a.array, bd))
    except ValueError:
        bs = np.shape(bd)
        raise ValueError(f"{ufunc.__name__}: cannot compare shapes {a.shape} and {bs}") from None
