"""The engine: ``Tensor``, ``Function``, reverse-mode ``backward`` and grad mode.

A ``Tensor`` wraps an ndarray. Each differentiable op is a ``Function``
subclass whose ``forward`` works on raw arrays and whose ``backward`` maps the
gradient of its output to the gradients of its inputs (the chain rule,
∂L/∂x = ∂L/∂y · ∂y/∂x). When gradients are enabled and some input requires a
gradient, calling a ``Function`` records it as the output's creator; the
recorded creators form the computational graph that ``backward`` walks from
the output back to the leaves.

Backward is iterative: creators are visited by decreasing *generation* (one
more than the largest generation of the creators of their inputs), so a node
runs only after every consumer of its output has contributed its gradient.
Gradients of a tensor used several times are summed; leaves accumulate into
``.grad`` across calls until zeroed, like PyTorch.
"""
from __future__ import annotations

import heapq
import threading
import weakref

import numpy as np

from . import backend

# --- grad mode -----------------------------------------------------------------


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether ops called now record a graph."""
    return _mode.enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = _mode.enabled
        _mode.enabled = self.mode  # like torch: takes effect when constructed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev
        return False

    def __call__(self, fn):
        # used as a decorator: constructing it switched the mode already; undo that, switch inside fn only
        _mode.enabled = self.prev
        mode = self.mode

        def wrapper(*args, **kwargs):
            prev = _mode.enabled
            _mode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _mode.enabled = prev

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        wrapper.__wrapped__ = fn
        return wrapper


class no_grad:
    """Run ops without recording a graph: no creators, no saved arrays.

    Use as ``with neurona.no_grad(): ...`` or as a decorator ``@neurona.no_grad()``.
    """

    _enabled = False

    def __new__(cls, fn=None):
        if fn is not None:  # used bare as a decorator: @no_grad
            return cls()(fn)
        return super().__new__(cls)

    def __init__(self, fn=None):
        pass

    def __enter__(self):
        self.prev = _mode.enabled
        _mode.enabled = self._enabled
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev
        return False

    def __call__(self, fn):
        mode = self._enabled

        def wrapper(*args, **kwargs):
            prev = _mode.enabled
            _mode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _mode.enabled = prev

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        wrapper.__wrapped__ = fn
        return wrapper


class enable_grad(no_grad):
    """Re-enable graph recording inside a ``no_grad`` block."""

    _enabled = True


# --- Function --------------------------------------------------------------------

_NEEDS1 = (True,)
_F64 = np.dtype(np.float64)
_NDARRAY = np.ndarray


def _normalize_output(data, inputs):
    """Fix the two ways NumPy's answer can break the dtype and array contracts of ``Tensor.array``.

    - 0-d arithmetic returns NumPy scalars (np.float32), not arrays: wrap them.
    - Integers combined with floats (``int / int``, ``int * 0.5``, ``int + float32``) come out float64.
      As in PyTorch, the result takes the floating inputs' dtype, or the default dtype when no input is
      floating. float64 stays where an input was float64, and where every input is floating (a float64
      constant leaking inside an op is that op's bug, left visible for its tests).
    """
    if isinstance(data, np.generic):
        data = np.asarray(data)
    if data.dtype != _F64:
        return data
    floats = []
    for t in inputs:
        d = t.array.dtype
        if d.kind == "f":
            if d == _F64:
                return data
            floats.append(d)
    if len(floats) == len(inputs):
        return data
    target = floats[0] if floats else backend.get_default_dtype()
    for d in floats:
        if d.itemsize > target.itemsize:
            target = d
    return data if target == _F64 else data.astype(target)


class Function:
    """Base class of every differentiable primitive.

    Subclasses implement ``forward(*arrays) -> array`` and
    ``backward(gy) -> grad or tuple of grads`` (one per input, ``None`` where
    no gradient is needed; ``self.needs`` says which are). Whatever backward
    needs is stored on ``self`` in forward, by name; after backward the engine
    clears it (unless ``retain_graph=True``), so nothing is kept by accident.
    Hyperparameters (axis, shape, ...) are passed to ``__init__``.
    """

    __slots__ = ("parents", "needs", "gen", "__dict__")
    freed = False  # set once release() dropped what backward needs
    retained = None  # weakref to the output when retain_grad() was called on it

    def __call__(self, *inputs: "Tensor") -> "Tensor":
        if len(inputs) == 1:  # the common case, kept short: it runs for every elementwise op
            x = inputs[0]
            try:
                data = self.forward(x.array)
            except ValueError as e:
                raise ValueError(self._describe_failure(inputs, e)) from None
            if type(data) is not _NDARRAY or data.dtype is _F64:
                data = _normalize_output(data, inputs)
            out = Tensor.__new__(Tensor)
            out.array, out.grad, out.name = data, None, None
            if x.requires_grad and _mode.enabled:
                c = x._ctx
                if c is None:
                    self.parents, self.gen = (x,), 0
                else:
                    self.parents, self.gen = (c,), c.gen + 1
                self.needs = _NEEDS1
                out._ctx, out.requires_grad = self, True
            else:
                out._ctx, out.requires_grad = None, False
            return out
        try:
            data = self.forward(*[t.array for t in inputs])
        except ValueError as e:
            raise ValueError(self._describe_failure(inputs, e)) from None
        if type(data) is not _NDARRAY or data.dtype is _F64:
            data = _normalize_output(data, inputs)
        out = Tensor.__new__(Tensor)
        out.array, out.grad, out.name = data, None, None
        out._ctx, out.requires_grad = None, False
        if _mode.enabled:
            needs = tuple([t.requires_grad for t in inputs])
            if True in needs:
                gen = 0
                parents = []
                for t in inputs:
                    c = t._ctx
                    if c is not None:
                        parents.append(c)
                        if c.gen >= gen:
                            gen = c.gen + 1
                    else:
                        parents.append(t if t.requires_grad else None)
                self.parents = parents
                self.needs = needs
                self.gen = gen
                out._ctx, out.requires_grad = self, True
        return out

    def forward(self, *xs):  # pragma: no cover - every op overrides it
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def backward(self, gy):  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__}.backward is not written")

    def _describe_failure(self, inputs, err) -> str:
        shapes = " and ".join(str(tuple(t.shape)) for t in inputs)
        return f"{type(self).__name__.lower()}: cannot apply to inputs of shapes {shapes}: {err}"

    def release(self) -> None:
        """Drop what forward kept for backward."""
        d = self.__dict__
        if d:
            d.clear()
            self.freed = True


# --- Tensor ----------------------------------------------------------------------


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    Create tensors with :func:`neurona.tensor` and the factories
    (``zeros``, ``randn``, ...). ``.array`` is the ndarray the tensor wraps
    (what ops compute on); ``.data`` is, as in PyTorch, a tensor sharing that
    memory but recording no graph; ``.grad`` is ``None`` or a Tensor holding
    ∂L/∂self after ``L.backward()``.
    """

    __slots__ = ("array", "grad", "requires_grad", "_ctx", "name", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected op
    __hash__ = object.__hash__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        from .creation import _as_array

        self.array = _as_array(data, dtype)
        self.grad = None
        self._ctx = None
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # --- basic attributes ---
    @property
    def data(self) -> "Tensor":
        """A tensor on the same memory, cut from the graph (PyTorch's ``.data``).

        Changing it in place changes this tensor without recording anything:
        ``p.data.add_(g, alpha=-lr)``. ``t.data = other`` replaces the array.
        """
        t = Tensor.__new__(Tensor)
        t.array, t.grad, t._ctx, t.name, t.requires_grad = self.array, None, None, None, False
        return t

    @data.setter
    def data(self, value) -> None:
        from .creation import _as_array

        self.array = value.array if isinstance(value, Tensor) else _as_array(value, None)

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> str:
        return "cpu" if backend.get_array_module(self.array) is np else "cuda"

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def size(self, dim: int | None = None):
        """The shape (PyTorch's ``size()``), or its length along ``dim``."""
        return self.array.shape if dim is None else self.array.shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

    def dim(self) -> int:
        return self.array.ndim

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only a one-element tensor converts to a Python number, this one has shape {self.shape}")
        return self.array.item()

    def numpy(self) -> np.ndarray:
        return self.array

    def tolist(self):
        return self.array.tolist()

    def __array__(self, dtype=None, copy=None):
        a = self.array
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self.array.item())

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self.array, separator=", ", prefix="tensor(", precision=4, threshold=200)
        extra = ""
        if self.array.dtype != backend.get_default_dtype() and not (
            self.array.dtype.kind in "ib" and self.array.dtype.itemsize == 8 or self.array.dtype == np.bool_
        ):
            extra += f", dtype={self.array.dtype.name}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # --- autograd ---
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.array.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, this one is {self.array.dtype}"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False): this tensor is the output of an op; use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing the same data, cut from the graph."""
        t = Tensor.__new__(Tensor)
        t.array, t.grad, t._ctx, t.name, t.requires_grad = self.array, None, None, None, False
        return t

    def retain_grad(self) -> None:
        """Keep ``.grad`` of this non-leaf tensor after backward."""
        if self._ctx is not None:
            self._ctx.retained = weakref.ref(self)
        elif not self.requires_grad:
            raise RuntimeError("retain_grad(): this tensor does not require grad")

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Compute ∂self/∂leaf for every leaf that requires grad, into ``leaf.grad``.

        ``grad`` is ∂L/∂self; it may be omitted only for a one-element tensor
        (it is then 1). Gradients accumulate into ``.grad`` across calls.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no graph; create the inputs with "
                "requires_grad=True (and not under no_grad()) to differentiate through them"
            )
        if grad is None:
            if self.array.size != 1:
                raise RuntimeError(
                    f"backward(): this tensor has shape {self.shape}; only a one-element tensor can be the start "
                    f"of backward without a gradient. Reduce it first (y.sum().backward()) or pass "
                    f"grad= an array of shape {self.shape} (e.g. y.backward(neurona.ones_like(y)))"
                )
            g = np.ones_like(self.array)
        else:
            g = grad.array if isinstance(grad, Tensor) else backend.get_array_module(self.array).asarray(grad)
            if g.shape != self.array.shape:
                raise ValueError(f"backward(): grad has shape {g.shape}, expected the tensor's shape {self.shape}")
            if g.dtype != self.array.dtype:
                g = g.astype(self.array.dtype)
        run_backward(self, g, retain_graph)

    # --- in-place helpers (not recorded in the graph) ---
    def _check_inplace(self, op: str) -> None:
        if self.requires_grad and _mode.enabled:
            raise RuntimeError(
                f"{op}: in-place change of a tensor that requires grad; wrap it in neurona.no_grad() "
                f"or change .data directly"
            )

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self.array[...] = 0
        return self

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        self.array[...] = value
        return self

    def copy_(self, src) -> "Tensor":
        self._check_inplace("copy_")
        src = src.array if isinstance(src, Tensor) else backend.get_array_module(self.array).asarray(src)
        try:
            fits = np.broadcast_shapes(src.shape, self.shape) == self.shape
        except ValueError:  # shapes that do not broadcast at all
            fits = False
        if not fits:
            raise ValueError(f"copy_: cannot copy shape {src.shape} into shape {self.shape}")
        self.array[...] = src
        return self

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        if isinstance(value, Tensor):
            value = value.array
        self.array[_index_arrays(index)] = value

    # --- ops: thin methods over neurona.functional (visible to IDEs) ---
    def __add__(self, other): return _m.add(self, other)
    def __radd__(self, other): return _m.add(self, other)
    def __sub__(self, other): return _m.sub(self, other)
    def __rsub__(self, other): return _m.rsub(self, other)
    def __mul__(self, other): return _m.mul(self, other)
    def __rmul__(self, other): return _m.mul(self, other)
    def __truediv__(self, other): return _m.div(self, other)
    def __rtruediv__(self, other): return _m.rdiv(self, other)
    def __neg__(self): return _m.neg(self)
    def __pos__(self): return self
    def __pow__(self, other): return _m.pow(self, other)
    def __rpow__(self, other): return _m.rpow(self, other)
    def __matmul__(self, other): return _m.matmul(self, other)
    def __rmatmul__(self, other): return _m.matmul(_m.as_tensor(other, like=self), self)
    def __abs__(self): return _m.abs(self)
    def __getitem__(self, index): return _s.getitem(self, index)

    def __lt__(self, other): return _m.compare(np.less, self, other)
    def __le__(self, other): return _m.compare(np.less_equal, self, other)
    def __gt__(self, other): return _m.compare(np.greater, self, other)
    def __ge__(self, other): return _m.compare(np.greater_equal, self, other)
    def __eq__(self, other): return _m.compare(np.equal, self, other)
    def __ne__(self, other): return _m.compare(np.not_equal, self, other)
    def __invert__(self): return _c.bitwise_not(self)
    def __and__(self, other): return _c.bitwise_and(self, other)
    def __or__(self, other): return _c.bitwise_or(self, other)

    def add(self, other): return _m.add(self, other)
    def sub(self, other): return _m.sub(self, other)
    def mul(self, other): return _m.mul(self, other)
    def div(self, other): return _m.div(self, other)
    def pow(self, exponent): return _m.pow(self, exponent)
    def matmul(self, other): return _m.matmul(self, other)
    def neg(self): return _m.neg(self)
    def exp(self): return _m.exp(self)
    def log(self): return _m.log(self)
    def log1p(self): return _m.log1p(self)
    def sqrt(self): return _m.sqrt(self)
    def abs(self): return _m.abs(self)
    def sign(self): return _m.sign(self)
    def clip(self, min=None, max=None): return _m.clip(self, min, max)
    clamp = clip
    def maximum(self, other): return _m.maximum(self, other)
    def minimum(self, other): return _m.minimum(self, other)
    def tanh(self): return _a.tanh(self)
    def sigmoid(self): return _a.sigmoid(self)
    def relu(self): return _a.relu(self)
    def softmax(self, dim=-1): return _a.softmax(self, dim)
    def log_softmax(self, dim=-1): return _a.log_softmax(self, dim)

    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None): return _r.sum(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)
    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None): return _r.mean(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)
    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.max(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.min(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None): return _r.var(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None): return _r.std(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def any(self, dim=None, keepdim=False, *, axis=None): return _c.any(self, dim, keepdim, axis=axis)
    def all(self, dim=None, keepdim=False, *, axis=None): return _c.all(self, dim, keepdim, axis=axis)

    def reshape(self, *shape): return _s.reshape(self, *shape)
    def view(self, *shape): return _s.reshape(self, *shape)
    def flatten(self, start_dim=0, end_dim=-1): return _s.flatten(self, start_dim, end_dim)
    def transpose(self, *dims): return _s.transpose(self, *dims)
    def permute(self, *dims): return _s.permute(self, *dims)
    def squeeze(self, dim=None): return _s.squeeze(self, dim)
    def unsqueeze(self, dim): return _s.unsqueeze(self, dim)
    def expand(self, *shape): return _s.expand(self, *shape)
    def broadcast_to(self, shape): return _s.broadcast_to(self, shape)
    def split(self, split_size_or_sections, dim=0): return _s.split(self, split_size_or_sections, dim)

    @property
    def T(self): return _s.transpose(self)

    def astype(self, dtype): return _m.cast(self, dtype)
    def to(self, dtype): return _m.cast(self, dtype)
    def float(self): return _m.cast(self, np.float32)
    def double(self): return _m.cast(self, np.float64)
    def long(self): return Tensor(self.array.astype(np.int64))
    def int(self): return Tensor(self.array.astype(np.int32))
    def bool(self): return Tensor(self.array.astype(np.bool_))
    def clone(self): return _m.mul(self, 1) if self.array.dtype.kind == "f" else Tensor(self.array.copy())

    # --- tensor API: PyTorch's everyday methods ---
    # thin methods over neurona.functional, grouped as the modules are; each has the PyTorch signature

    # elementwise (functional/pointwise.py)
    def sin(self): return _p.sin(self)
    def cos(self): return _p.cos(self)
    def tan(self): return _p.tan(self)
    def asin(self): return _p.asin(self)
    def acos(self): return _p.acos(self)
    def atan(self): return _p.atan(self)
    def atan2(self, other): return _p.atan2(self, other)
    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    def sinh(self): return _p.sinh(self)
    def cosh(self): return _p.cosh(self)
    def asinh(self): return _p.asinh(self)
    def acosh(self): return _p.acosh(self)
    def atanh(self): return _p.atanh(self)
    def expm1(self): return _p.expm1(self)
    def exp2(self): return _p.exp2(self)
    def log2(self): return _p.log2(self)
    def log10(self): return _p.log10(self)
    def square(self): return _p.square(self)
    def rsqrt(self): return _p.rsqrt(self)
    def reciprocal(self): return _p.reciprocal(self)
    def erf(self): return _p.erf(self)
    def hypot(self, other): return _p.hypot(self, other)
    def floor(self): return _p.floor(self)
    def ceil(self): return _p.ceil(self)
    def round(self, decimals=0): return _p.round(self, decimals=decimals)
    def trunc(self): return _p.trunc(self)
    fix = trunc
    def frac(self): return _p.frac(self)
    def floor_divide(self, other): return _p.floor_divide(self, other)
    def remainder(self, other): return _p.remainder(self, other)
    def fmod(self, other): return _p.fmod(self, other)
    def __floordiv__(self, other): return _p.floor_divide(self, other)
    def __rfloordiv__(self, other): return _p.floor_divide(_m.as_tensor(other, like=self), self)
    def __mod__(self, other): return _p.remainder(self, other)
    def __rmod__(self, other): return _p.remainder(_m.as_tensor(other, like=self), self)
    def divide(self, other, *, rounding_mode=None): return _m.div(self, other, rounding_mode=rounding_mode)
    def true_divide(self, other): return _m.div(self, other)
    def multiply(self, other): return _m.mul(self, other)
    def subtract(self, other): return _m.sub(self, other)
    def negative(self): return _m.neg(self)
    def absolute(self): return _m.abs(self)
    def clamp_min(self, min): return _m.clip(self, min, None)
    def clamp_max(self, max): return _m.clip(self, None, max)
    def where(self, condition, other): return _m.where(condition, self, other)

    # comparisons and logic (functional/compare.py)
    def eq(self, other): return _c.eq(self, other)
    def ne(self, other): return _c.ne(self, other)
    def lt(self, other): return _c.lt(self, other)
    def le(self, other): return _c.le(self, other)
    def gt(self, other): return _c.gt(self, other)
    def ge(self, other): return _c.ge(self, other)
    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
    def equal(self, other): return _c.equal(self, other)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False): return _c.isclose(self, other, rtol, atol, equal_nan)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False): return _c.allclose(self, other, rtol, atol, equal_nan)
    def logical_and(self, other): return _c.logical_and(self, other)
    def logical_or(self, other): return _c.logical_or(self, other)
    def logical_xor(self, other): return _c.logical_xor(self, other)
    def logical_not(self): return _c.logical_not(self)
    def bitwise_and(self, other): return _c.bitwise_and(self, other)
    def bitwise_or(self, other): return _c.bitwise_or(self, other)
    def bitwise_xor(self, other): return _c.bitwise_xor(self, other)
    def bitwise_not(self): return _c.bitwise_not(self)
    def __xor__(self, other): return _c.bitwise_xor(self, other)
    def __rand__(self, other): return _c.bitwise_and(other, self)
    def __ror__(self, other): return _c.bitwise_or(other, self)
    def __rxor__(self, other): return _c.bitwise_xor(other, self)
    def isnan(self): return _c.isnan(self)
    def isinf(self): return _c.isinf(self)
    def isfinite(self): return _c.isfinite(self)
    def count_nonzero(self, dim=None): return _c.count_nonzero(self, dim)
    def __contains__(self, element): return bool((self.array == (element.array if isinstance(element, Tensor) else element)).any())

    # reductions, scans, sorting (functional/reduce.py, functional/indexing.py)
    def prod(self, dim=None, keepdim=False, *, dtype=None): return _r.prod(self, dim, keepdim, dtype=dtype)
    def amax(self, dim=(), keepdim=False, *, axis=None, keepdims=None): return _r.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def amin(self, dim=(), keepdim=False, *, axis=None, keepdims=None): return _r.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def median(self, dim=None, keepdim=False): return _r.median(self, dim, keepdim)
    def cumsum(self, dim, *, dtype=None): return _r.cumsum(self, dim, dtype=dtype)
    def cumprod(self, dim, *, dtype=None): return _r.cumprod(self, dim, dtype=dtype)
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None): return _l.norm(self, p, dim, keepdim, dtype)
    def dist(self, other, p=2): return _l.dist(self, other, p)
    def sort(self, dim=-1, descending=False, *, stable=False): return _i.sort(self, dim, descending, stable=stable)
    def argsort(self, dim=-1, descending=False, *, stable=False): return _i.argsort(self, dim, descending, stable=stable)
    def topk(self, k, dim=-1, largest=True, sorted=True): return _i.topk(self, k, dim, largest, sorted)
    def kthvalue(self, k, dim=-1, keepdim=False): return _i.kthvalue(self, k, dim, keepdim)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None): return _i.unique(self, sorted, return_inverse, return_counts, dim)
    def bincount(self, weights=None, minlength=0): return _i.bincount(self, weights, minlength)

    # indexing with tensors (functional/indexing.py)
    def gather(self, dim, index): return _i.gather(self, dim, index)
    def scatter(self, dim, index, src=None, *, value=None, reduce=None): return _i.scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return _i.scatter_add(self, dim, index, src)
    def index_select(self, dim, index): return _i.index_select(self, dim, index)
    def masked_select(self, mask): return _i.masked_select(self, mask)
    def nonzero(self, *, as_tuple=False): return _i.nonzero(self, as_tuple=as_tuple)
    def argwhere(self): return _i.argwhere(self)
    def take(self, index): return _i.take(self, index)
    def take_along_dim(self, indices, dim=None): return _i.take_along_dim(self, indices, dim)

    # shapes and layout (functional/layout.py, functional/shape.py)
    def t(self): return _lay.t(self)
    @property
    def mT(self): return _lay.adjoint(self)
    @property
    def mH(self): return _lay.adjoint(self)
    def adjoint(self): return _lay.adjoint(self)
    def narrow(self, dim, start, length): return _lay.narrow(self, dim, start, length)
    def movedim(self, source, destination): return _lay.movedim(self, source, destination)
    moveaxis = movedim
    def swapaxes(self, axis0, axis1): return _lay.swapaxes(self, axis0, axis1)
    swapdims = swapaxes
    def unflatten(self, dim, sizes): return _lay.unflatten(self, dim, sizes)
    def ravel(self): return _lay.ravel(self)
    def view_as(self, other): return _s.reshape(self, other.shape)
    def reshape_as(self, other): return _s.reshape(self, other.shape)
    def expand_as(self, other): return _s.expand(self, other.shape)
    def repeat(self, *sizes): return _lay.repeat(self, *sizes)
    def tile(self, *dims): return _lay.tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)
    def repeat_interleave(self, repeats, dim=None, *, output_size=None): return _lay.repeat_interleave(self, repeats, dim, output_size=output_size)
    def chunk(self, chunks, dim=0): return _s.chunk(self, chunks, dim)
    def tensor_split(self, indices_or_sections, dim=0): return _lay.tensor_split(self, indices_or_sections, dim)
    def unbind(self, dim=0): return _lay.unbind(self, dim)
    def flip(self, *dims): return _lay.flip(self, *dims)
    def fliplr(self): return _lay.fliplr(self)
    def flipud(self): return _lay.flipud(self)
    def roll(self, shifts, dims=None): return _lay.roll(self, shifts, dims)
    def rot90(self, k=1, dims=(0, 1)): return _lay.rot90(self, k, dims)
    def contiguous(self, memory_format=None): return _lay.contiguous(self)
    def is_contiguous(self, memory_format=None): return bool(self.array.flags.c_contiguous)
    def stride(self, dim=None):
        st = tuple(s // self.array.itemsize for s in self.array.strides)
        return st if dim is None else st[dim]

    # linear algebra (functional/linalg.py)
    def mm(self, mat2): return _l.mm(self, mat2)
    def bmm(self, mat2): return _l.bmm(self, mat2)
    def mv(self, vec): return _l.mv(self, vec)
    def dot(self, other): return _l.dot(self, other)
    def inner(self, other): return _l.inner(self, other)
    def outer(self, vec2): return _l.outer(self, vec2)
    ger = outer
    def addmm(self, mat1, mat2, *, beta=1, alpha=1): return _l.addmm(self, mat1, mat2, beta=beta, alpha=alpha)
    def tril(self, diagonal=0): return _l.tril(self, diagonal)
    def triu(self, diagonal=0): return _l.triu(self, diagonal)
    def diag(self, diagonal=0): return _l.diag(self, diagonal)
    def diagonal(self, offset=0, dim1=0, dim2=1): return _l.diagonal(self, offset, dim1, dim2)
    def diag_embed(self, offset=0, dim1=-2, dim2=-1): return _l.diag_embed(self, offset, dim1, dim2)
    def trace(self): return _l.trace(self)

    # random draws (functional/random.py)
    def bernoulli(self, p=None, *, generator=None): return _rand.bernoulli(self, p, generator=generator)
    def multinomial(self, num_samples, replacement=False, *, generator=None): return _rand.multinomial(self, num_samples, replacement, generator=generator)

    # new tensors like this one: same dtype unless told otherwise
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False): return self._new(_np_new("zeros", size), dtype, device, requires_grad)
    def new_ones(self, *size, dtype=None, device=None, requires_grad=False): return self._new(_np_new("ones", size), dtype, device, requires_grad)
    def new_empty(self, *size, dtype=None, device=None, requires_grad=False): return self._new(_np_new("empty", size), dtype, device, requires_grad)
    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False): return self._new(_np_new("full", (size,), fill_value), dtype, device, requires_grad)
    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        a = data.array.copy() if isinstance(data, Tensor) else np.array(data)
        return self._new(a, dtype, device, requires_grad)

    def _new(self, a, dtype, device, requires_grad) -> "Tensor":
        t = Tensor(a, dtype=self.array.dtype if dtype is None else dtype)
        if device is not None:
            t = t.to(device)
        return t.requires_grad_(True) if requires_grad else t

    # one-element tensors as Python numbers, and sizes
    def __index__(self):
        if self.array.size != 1 or self.array.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got {self.array.dtype} of shape {self.shape}")
        return int(self.array.item())
    def nelement(self): return int(self.array.size)
    def ndimension(self): return self.array.ndim
    def element_size(self): return int(self.array.itemsize)
    @property
    def itemsize(self): return int(self.array.itemsize)
    @property
    def nbytes(self): return int(self.array.nbytes)
    def is_floating_point(self): return self.array.dtype.kind == "f"
    def is_complex(self): return False
    def type_as(self, other): return _m.cast(self, other.dtype)


def _np_new(kind: str, size, fill=None) -> np.ndarray:
    """An ndarray of ``size`` (ints or one tuple) for the ``new_*`` methods; the dtype is set by the caller."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(n) for n in size)
    if kind == "full":
        return np.full(shape, fill)
    return getattr(np, kind)(shape)


def _index_arrays(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    return index


# --- backward --------------------------------------------------------------------


def run_backward(root: Tensor, g, retain_graph: bool = False) -> None:
    """Propagate ``g`` = ∂L/∂root back through the graph into the leaves' ``.grad``."""
    handed = {id(g)}  # arrays already stored somewhere: copy before making them a .grad
    ctx = root._ctx
    if ctx is None:
        _accumulate_leaf(root, g, handed)
        return
    pending = {ctx: g}
    heap = []
    fn = ctx
    while True:
        gy = pending.pop(fn)
        if fn.freed:
            raise RuntimeError(
                f"backward(): the graph through {type(fn).__name__} was already freed by an earlier backward; "
                f"pass retain_graph=True to the first backward() to differentiate through it twice"
            )
        if fn.retained is not None:
            t = fn.retained()
            if t is not None:
                _accumulate_leaf(t, gy, handed)
        gxs = fn.backward(gy)
        if type(gxs) is not tuple:
            gxs = tuple(gxs) if type(gxs) is list else (gxs,)
        parents = fn.parents
        if len(gxs) != len(parents):
            raise RuntimeError(
                f"{type(fn).__name__}.backward returned {len(gxs)} gradient(s) for {len(parents)} input(s); "
                f"return one per input (None where an input needs none)"
            )
        nxt = None  # a node that became ready and may run next without going through the heap
        for p, gx in zip(parents, gxs):
            if p is None or gx is None:
                continue
            if isinstance(p, Tensor):  # a leaf that requires grad (Parameter included)
                _accumulate_leaf(p, gx, handed)
            elif p in pending:
                pending[p] = pending[p] + gx  # never in place: gx may be shared
            else:
                pending[p] = gx
                if nxt is not None:
                    heapq.heappush(heap, (-nxt.gen, id(nxt), nxt))
                nxt = p
        if not retain_graph:
            fn.release()
        if nxt is not None:
            if not heap or -heap[0][0] <= nxt.gen:
                fn = nxt  # no waiting node has a higher generation: nxt is next in order (a chain never
                continue  # touches the heap)
            heapq.heappush(heap, (-nxt.gen, id(nxt), nxt))
        if not heap:
            break
        fn = heapq.heappop(heap)[2]


def _accumulate_leaf(t: Tensor, gx, handed: set) -> None:
    if isinstance(gx, np.generic):
        gx = np.array(gx)  # a 0-d gradient that NumPy computed as a scalar; .grad.array is always an array
    if gx.dtype != t.array.dtype:
        gx = gx.astype(t.array.dtype)
    elif gx.base is not None or id(gx) in handed or not gx.flags.writeable:
        gx = gx.copy(order="K")  # in the gradient's memory order: a transposing copy costs several times more
    if gx.shape != t.array.shape:  # a broadcast scalar gradient, e.g. from a 0-d constant
        gx = np.broadcast_to(gx, t.array.shape).copy()
    if t.grad is None:
        handed.add(id(gx))
        g = Tensor.__new__(Tensor)
        g.array, g.grad, g._ctx, g.name, g.requires_grad = gx, None, None, None, False
        t.grad = g
    else:
        # not in place: the stored array may also be travelling through the graph
        s = t.grad.array + gx
        t.grad.array = np.asarray(s) if isinstance(s, np.generic) else s

from .functional import activation as _a  # noqa: E402  (methods above resolve these at call time)
from .functional import math as _m  # noqa: E402
from .functional import reduce as _r  # noqa: E402
from .functional import shape as _s  # noqa: E402
from .functional import compare as _c  # noqa: E402
from .functional import indexing as _i  # noqa: E402
from .functional import layout as _lay  # noqa: E402
from .functional import linalg as _l  # noqa: E402
from .functional import pointwise as _p  # noqa: E402
from .functional import random as _rand  # noqa: E402
