"""The strict stand-in device: CPU arrays that refuse what CuPy refuses.

CI has no GPU, yet every op must run on CuPy arrays. An op that leaves the
array-module seam (``xp = backend.get_array_module(x)``) works on NumPy and
fails only on a GPU: it calls ``np.zeros`` and mixes the host array with a
device array, converts a device array with ``np.asarray``, or calls a NumPy
function that CuPy does not have. The stand-in device ``"strict"`` makes those
mistakes fail on the CPU. Its arrays (:class:`StrictArray`) hold a NumPy array
and behave like CuPy's:

- implicit conversion to a host array (``np.asarray(a)``, ``np.array(a)``,
  ``__array__``) raises ``TypeError``, as CuPy's ``ndarray.__array__`` does;
  ``a.get()`` and ``backend.to_numpy(a)`` copy explicitly;
- an op (operator, ufunc, NumPy function, method, ``a[i] = v``) that mixes a
  stand-in array with a host ``numpy.ndarray`` raises ``TypeError``; Python
  and NumPy scalars are fine, and host integer arrays may index (CuPy copies
  them over);
- a NumPy function, ufunc method (``np.add.at``, ``np.maximum.reduceat``) or
  array method that CuPy lacks raises ``TypeError`` (the list of what CuPy has
  is ``neurona._cupy_api``, recorded from CuPy itself);
- reductions and integer indexing return 0-d arrays, not NumPy scalars;
  ``float(a)``, ``a.item()`` and ``a.tolist()`` read back to the host (and are
  counted: :func:`host_reads`).

The rules bind the library's code only. Code outside the ``neurona`` package
(tests, user scripts) may convert and mix freely, so that the test suite can
run in this mode unchanged (``NEURONA_STRICT_DEVICE=1``) and check results
with NumPy: a refusal happens when the first caller outside NumPy and this
module lives in ``neurona/``.

``get_array_module`` returns :data:`xp` for these arrays: a namespace with
NumPy's names that CuPy also has, whose functions take and return stand-in
arrays. The stand-in is slow (a Python call around every NumPy call): it is
for tests, never for speed.
"""
from __future__ import annotations

import os
import sys
import types
import weakref

import numpy as np

from . import _cupy_api as api

__all__ = ["StrictArray", "StrictDeviceError", "xp", "host_reads", "wrap", "unwrap"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_NUMPY = os.path.dirname(os.path.abspath(np.__file__)) + os.sep
_HERE = os.path.abspath(__file__)


class StrictDeviceError(TypeError):
    """An op of neurona did something on the strict device that CuPy would refuse."""


def _library_caller() -> str | None:
    """``file:line`` of the first caller outside NumPy and this module, if it is neurona's code; else None."""
    f = sys._getframe(2)
    while f is not None:
        name = os.path.abspath(f.f_code.co_filename)
        if f.f_code.co_name == "__array__":
            pass  # Tensor.__array__ only hands the conversion on: its caller decides
        elif name != _HERE and not name.startswith(_NUMPY) and not name.startswith("<"):
            if name.startswith(_PACKAGE):
                return f"{os.path.relpath(name, os.path.dirname(_PACKAGE.rstrip(os.sep)))}:{f.f_lineno}"
            return None
        f = f.f_back
    return None


def _refuse(what: str, fix: str) -> None:
    where = _library_caller()
    if where is not None:
        raise StrictDeviceError(f"strict device: {what} at {where}; CuPy refuses this on a GPU. {fix}")


_SEAM = "Create and combine arrays with xp = backend.get_array_module(x) (xp.zeros, xp.asarray...)"


# --- conversion between the two sides ---------------------------------------------------------------------

_reads = [0]


def host_reads() -> int:
    """How many times a stand-in array was read back to the host so far (``item``, ``float``, ``tolist``...).

    A training step that reads nothing back between logs keeps this count flat.
    """
    return _reads[0]


def wrap(x):
    """NumPy results as stand-in values: arrays wrapped, NumPy scalars as 0-d arrays, tuples and lists mapped."""
    t = type(x)
    if t is np.ndarray:
        return StrictArray(x)
    if isinstance(x, np.generic):
        return StrictArray(np.asarray(x))
    if t is tuple or t is list:
        return t(wrap(v) for v in x)
    if isinstance(x, tuple):  # NumPy's named results (SVDResult, EighResult, ...)
        return t(*(wrap(v) for v in x))
    return x


def unwrap(x, what: str = "an op"):
    """The NumPy array inside a stand-in value; host arrays are refused (in library code)."""
    t = type(x)
    if t is StrictArray:
        return x._a
    if t is np.ndarray:
        _refuse(f"{what} mixes a device array with a host numpy.ndarray of shape {x.shape}", _SEAM)
        return x
    if t is tuple or t is list:
        return t(unwrap(v, what) for v in x)
    return x


def _unwrap_index(key):
    # CuPy copies host integer and bool arrays used as indices to the device, so they are allowed here
    t = type(key)
    if t is StrictArray:
        return key._a
    if t is tuple:
        return tuple(k._a if type(k) is StrictArray else k for k in key)
    return key


def _unwrap_kwargs(kwargs: dict, what: str) -> dict:
    return {k: unwrap(v, what) for k, v in kwargs.items()} if kwargs else kwargs


# --- the array ------------------------------------------------------------------------------------------


def _binary(name: str):
    def op(self, other):
        r = getattr(self._a, name)(unwrap(other, f"the operator {name}"))
        return r if r is NotImplemented else wrap(r)
    op.__name__ = name
    return op


def _inplace(name: str):
    def op(self, other):
        r = getattr(self._a, name)(unwrap(other, f"the operator {name}"))
        return self if r is not NotImplemented else r
    op.__name__ = name
    return op


def _unary(name: str):
    def op(self):
        return wrap(getattr(self._a, name)())
    op.__name__ = name
    return op


class _Device:
    """What CuPy's ``ndarray.device`` gives: the device with its ``id``."""

    id = 0

    def __repr__(self):
        return "<strict stand-in device 0>"


_DEVICE = _Device()
_PROBE = None  # StrictArray.__array_ufunc__ reads nothing from self: _Ufunc calls it with this


_wrappers = weakref.WeakValueDictionary()  # id(NumPy array) -> the StrictArray that holds it


class StrictArray:
    """An array on the strict stand-in device: a NumPy array that refuses what a CuPy array refuses."""

    __slots__ = ("_a", "_base", "__weakref__")  # CuPy's arrays take weak references too
    __array_priority__ = 100
    __hash__ = None

    def __new__(cls, a: np.ndarray):
        # one wrapper per NumPy array, so that a view's ``base`` is the very array it was taken from, as in CuPy
        w = _wrappers.get(id(a))
        if w is not None and w._a is a:
            return w
        w = object.__new__(cls)
        w._a, w._base = a, None
        _wrappers[id(a)] = w
        return w

    # --- what CuPy refuses ---
    def __array__(self, dtype=None, copy=None):
        _refuse("implicit conversion of a device array to a NumPy array (np.asarray, np.array, __array__)",
                "Copy it explicitly with backend.to_numpy(a), or stay on the device with xp = "
                "backend.get_array_module(a).")
        _reads[0] += 1
        a = self._a if dtype is None else self._a.astype(dtype, copy=False)
        return a.copy() if copy else a

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = ufunc.__name__
        if name not in api.UFUNCS and name not in api.TOP:  # CuPy looks the name up (matmul is no ufunc there)
            _refuse(f"the ufunc np.{name} (CuPy has no such function)", _SEAM)
        elif method == "at" and name not in api.UFUNC_AT:
            _refuse(f"np.{name}.at (CuPy's ufunc.at supports only {', '.join(sorted(api.UFUNC_AT))})",
                    "Use xp.add.at, or a scatter written with indexing.")
        elif method in ("reduce", "accumulate") and name not in ("add", "multiply"):
            _refuse(f"np.{name}.{method} (CuPy supports {method} only for add and multiply)",
                    "Use the array's own reduction (x.max(axis), x.cumsum(axis)...).")
        elif method == "reduceat" and name != "add":
            _refuse(f"np.{name}.reduceat (CuPy supports reduceat only for add)", _SEAM)
        elif method not in ("__call__", "outer", "at", "reduce", "accumulate", "reduceat"):
            _refuse(f"np.{name}.{method} (not a CuPy ufunc method)", _SEAM)
        what = f"np.{name}" if method == "__call__" else f"np.{name}.{method}"
        out = kwargs.get("out")
        if method in ("at", "reduceat") and len(inputs) > 1:  # host indices are copied over, as CuPy does
            args = [unwrap(inputs[0], what), _unwrap_index(inputs[1]), *unwrap(list(inputs[2:]), what)]
        else:
            args = unwrap(list(inputs), what)
        if out is not None:
            kwargs = dict(kwargs, out=tuple(unwrap(o, what) for o in out))
        r = getattr(ufunc, method)(*args, **kwargs)
        if out is not None and len(out) == 1 and r is kwargs["out"][0]:
            return out[0]
        return wrap(r)

    def __array_function__(self, func, types_, args, kwargs):
        name, mod = func.__name__, func.__module__ or "numpy"
        allowed = _ALLOWED_BY_MODULE.get(mod)
        if allowed is None or name not in allowed:
            _refuse(f"{mod}.{name} on a device array (CuPy has no {name} there)", _SEAM)
        what = f"{mod}.{name}"
        return wrap(func(*unwrap(list(args), what), **_unwrap_kwargs(kwargs, what)))

    # --- attributes and methods CuPy's ndarray has ---
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: StrictArray(self._a.T))
    mT = property(lambda self: StrictArray(self._a.mT))
    device = property(lambda self: _DEVICE)

    @property
    def base(self):
        if self._base is None:
            b = self._a.base
            if type(b) is not np.ndarray:
                return b
            self._base = StrictArray(b)  # kept, as a CuPy view keeps its base alive
        return self._base

    @property
    def real(self):
        return StrictArray(self._a.real)

    def __getattr__(self, name):
        if name.startswith("_"):  # NumPy's probes (__array_interface__, __array_struct__...): CuPy has none
            raise AttributeError(f"'StrictArray' object has no attribute {name!r}")
        if name in api.NDARRAY:
            method = getattr(self._a, name)
            if not callable(method):
                return wrap(method)
            what = f"ndarray.{name}"

            def call(*args, **kwargs):
                return wrap(method(*unwrap(list(args), what), **_unwrap_kwargs(kwargs, what)))
            call.__name__ = name
            return call
        if hasattr(np.ndarray, name):
            _refuse(f"ndarray.{name} on a device array (CuPy's ndarray has no {name})", _SEAM)
            return getattr(self._a, name)
        raise AttributeError(f"'StrictArray' object has no attribute {name!r}")

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        return StrictArray(self._a.astype(dtype, order=order, copy=copy))

    def reshape(self, *shape, **kwargs):
        return StrictArray(self._a.reshape(*shape, **kwargs))

    def get(self, stream=None, order="C", out=None) -> np.ndarray:
        """A host copy (CuPy's explicit device-to-host transfer)."""
        _reads[0] += 1
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order)

    def set(self, arr, stream=None) -> None:
        """Copy host array ``arr`` into this array (CuPy's explicit host-to-device transfer)."""
        self._a[...] = arr

    def item(self, *args):
        _reads[0] += 1
        return self._a.item(*args)

    def tolist(self):
        _reads[0] += 1
        return self._a.tolist()

    # --- indexing ---
    def __getitem__(self, key):
        return wrap(self._a[_unwrap_index(key)])

    def __setitem__(self, key, value):
        t = type(value)
        if t is StrictArray:
            value = value._a
        elif t is np.ndarray or t is list or t is tuple:
            _refuse(f"assigning a host {t.__name__} into a device array (a[i] = v)", _SEAM)
        self._a[_unwrap_index(key)] = value

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self._a)):
            yield wrap(self._a[i])

    # --- reading back one value (CuPy allows it: one synchronising copy) ---
    def __bool__(self):
        _reads[0] += 1
        return bool(self._a)

    def __float__(self):
        _reads[0] += 1
        return float(self._a)

    def __int__(self):
        _reads[0] += 1
        return int(self._a)

    def __complex__(self):
        _reads[0] += 1
        return complex(self._a)

    def __repr__(self):
        return "strict_" + repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    def __copy__(self):
        return StrictArray(self._a.copy())

    def __deepcopy__(self, memo):
        return StrictArray(self._a.copy())

    def __reduce__(self):
        return (StrictArray, (self._a,))

    __add__, __radd__, __sub__, __rsub__ = _binary("__add__"), _binary("__radd__"), _binary("__sub__"), _binary("__rsub__")
    __mul__, __rmul__, __truediv__, __rtruediv__ = (_binary("__mul__"), _binary("__rmul__"), _binary("__truediv__"),
                                                    _binary("__rtruediv__"))
    __floordiv__, __rfloordiv__, __mod__, __rmod__ = (_binary("__floordiv__"), _binary("__rfloordiv__"),
                                                      _binary("__mod__"), _binary("__rmod__"))
    __pow__, __rpow__, __matmul__, __rmatmul__ = (_binary("__pow__"), _binary("__rpow__"), _binary("__matmul__"),
                                                  _binary("__rmatmul__"))
    __and__, __rand__, __or__, __ror__, __xor__, __rxor__ = (_binary("__and__"), _binary("__rand__"),
                                                             _binary("__or__"), _binary("__ror__"),
                                                             _binary("__xor__"), _binary("__rxor__"))
    __lshift__, __rshift__ = _binary("__lshift__"), _binary("__rshift__")
    __lt__, __le__, __gt__, __ge__ = _binary("__lt__"), _binary("__le__"), _binary("__gt__"), _binary("__ge__")
    __eq__, __ne__ = _binary("__eq__"), _binary("__ne__")
    __iadd__, __isub__, __imul__, __itruediv__ = (_inplace("__iadd__"), _inplace("__isub__"), _inplace("__imul__"),
                                                  _inplace("__itruediv__"))
    __ifloordiv__, __imod__, __ipow__ = _inplace("__ifloordiv__"), _inplace("__imod__"), _inplace("__ipow__")
    __iand__, __ior__, __ixor__ = _inplace("__iand__"), _inplace("__ior__"), _inplace("__ixor__")
    __neg__, __pos__, __abs__, __invert__ = _unary("__neg__"), _unary("__pos__"), _unary("__abs__"), _unary("__invert__")


# --- the namespace get_array_module returns: ``xp`` ---------------------------------------------------------

# functions that take host data on purpose: CuPy's explicit host-to-device copies
_TRANSFERS = frozenset({"asarray", "array", "ascontiguousarray", "asanyarray", "asfortranarray", "copy"})


def _host_ok(x):
    """Unwrap stand-in arrays inside host data given to a transfer (``xp.asarray([a, b])``)."""
    t = type(x)
    if t is StrictArray:
        return x._a
    if t is tuple or t is list:
        return t(_host_ok(v) for v in x)
    return x


class _Ufunc:
    """A NumPy ufunc as CuPy offers it: the call and the methods CuPy has, on stand-in arrays."""

    def __init__(self, uf: np.ufunc, label: str):
        self._uf, self._label = uf, label
        self.__name__ = uf.__name__
        self.nin, self.nout = uf.nin, uf.nout

    def _run(self, method: str, args, kwargs):
        if not any(type(a) is StrictArray for a in args) and any(type(a) is np.ndarray for a in args):
            _refuse(f"{self._label} called on host arrays only (CuPy's ufuncs take device arrays)", _SEAM)
        out = kwargs.get("out")
        if out is not None and type(out) is not tuple:
            kwargs = dict(kwargs, out=(out,))
        r = StrictArray.__array_ufunc__(_PROBE, self._uf, method, *args, **kwargs)
        return r

    def __call__(self, *args, **kwargs):
        return self._run("__call__", args, kwargs)

    def at(self, a, indices, b=None):
        return self._run("at", (a, indices) if b is None else (a, indices, b), {})

    def reduce(self, a, *args, **kwargs):
        return self._run("reduce", (a, *args), kwargs)

    def reduceat(self, a, indices, *args, **kwargs):
        return self._run("reduceat", (a, indices, *args), kwargs)

    def accumulate(self, a, *args, **kwargs):
        return self._run("accumulate", (a, *args), kwargs)

    def outer(self, a, b, **kwargs):
        return self._run("outer", (a, b), kwargs)

    def __repr__(self):
        return f"<ufunc {self._label}>"


class _Namespace(types.SimpleNamespace):
    """A NumPy module as CuPy offers it: only CuPy's names, stand-in arrays in and out."""

    __hash__ = object.__hash__  # one object per module, usable as a key, as modules are
    __eq__ = object.__eq__

    def __init__(self, label: str, module, names: frozenset, children: dict | None = None):
        super().__init__()
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_names", names)
        for k, v in (children or {}).items():
            object.__setattr__(self, k, v)

    def __getattr__(self, name):
        if name.startswith("__") or name not in self._names:
            raise AttributeError(f"strict device: {self._label} has no attribute {name!r} (CuPy has none either)")
        obj = getattr(self._module, name)
        if isinstance(obj, type) or not callable(obj):
            return obj  # dtypes, classes, constants
        label = f"{self._label}.{name}"
        if isinstance(obj, np.ufunc):
            fn = _Ufunc(obj, label)
            object.__setattr__(self, name, fn)
            return fn
        if name in _TRANSFERS:
            def fn(*args, **kwargs):
                return wrap(obj(*_host_ok(list(args)), **{k: _host_ok(v) for k, v in kwargs.items()}))
        else:
            def fn(*args, **kwargs):
                return wrap(obj(*unwrap(list(args), label), **_unwrap_kwargs(kwargs, label)))
        fn.__name__ = name
        object.__setattr__(self, name, fn)  # cached: the next lookup skips __getattr__
        return fn

    def __repr__(self):
        return f"<{self._label}: NumPy as the strict stand-in device offers it>"


class _Generator:
    """A NumPy generator whose draws land on the stand-in device, with the methods CuPy's generators have."""

    def __init__(self, gen, names: frozenset, label: str):
        self._gen, self._names, self._label = gen, names, label

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._names:
            raise AttributeError(f"strict device: {self._label} has no method {name!r} (CuPy's has none either)")
        method = getattr(self._gen, name)

        def draw(*args, **kwargs):
            return wrap(method(*unwrap(list(args), f"{self._label}.{name}"), **kwargs))
        return draw


def _default_rng(seed=None):
    return _Generator(np.random.default_rng(unwrap(seed)), api.GENERATOR, "xp.random.Generator")


def _random_state(seed=None):
    return _Generator(np.random.RandomState(unwrap(seed)), api.RANDOM_STATE, "xp.random.RandomState")


_random = _Namespace("xp.random", np.random, api.RANDOM - {"default_rng", "RandomState"})
object.__setattr__(_random, "default_rng", _default_rng)
object.__setattr__(_random, "RandomState", _random_state)

_stride_tricks = _Namespace("xp.lib.stride_tricks", np.lib.stride_tricks, api.STRIDE_TRICKS)
_linalg = _Namespace("xp.linalg", np.linalg, api.LINALG)
_fft = _Namespace("xp.fft", np.fft, api.FFT)

xp = _Namespace("xp", np, api.TOP - {"linalg", "fft", "random", "lib", "ndarray"},
                {"linalg": _linalg, "fft": _fft, "random": _random,
                 "lib": types.SimpleNamespace(stride_tricks=_stride_tricks), "ndarray": StrictArray})

_ALLOWED_BY_MODULE = {"numpy": api.TOP, "numpy.linalg": api.LINALG, "numpy.fft": api.FFT,
                      "numpy.lib.stride_tricks": api.STRIDE_TRICKS}
