"""Creating tensors: ``tensor`` and the factories, and the random seed.

Floating data becomes the default dtype (float32) unless a dtype is asked
for — Python floats and NumPy's float64 arrays included, so that a float64
upcast never enters a model by accident. Integer data stays int64 (labels,
indices) and booleans stay bool.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .engine import Tensor

# --- random numbers ----------------------------------------------------------

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed neurona's global random generator (initializers, dropout, shuffling).

    The generator is reseeded in place (as in PyTorch), so code that holds
    ``default_generator()`` from before the call follows the new seed too.
    Afterwards it draws exactly what ``numpy.random.default_rng(seed)`` draws.
    """
    _rng.bit_generator.state = np.random.PCG64(seed).state
    return _rng


def default_generator() -> np.random.Generator:
    """The global generator that ``manual_seed`` resets."""
    return _rng


def get_rng_state() -> dict:
    """The global generator's state, as a JSON-friendly dict (for checkpoints)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = state


def _gen(generator) -> np.random.Generator:
    if generator is None:
        return _rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator: expected a numpy.random.Generator or None, got {type(generator).__name__}")


# --- conversion ----------------------------------------------------------------

_ALLOWED_KINDS = "fiub"


def _as_array(data, dtype=None) -> np.ndarray:
    """Turn ``data`` into an ndarray following neurona's dtype policy."""
    if isinstance(data, Tensor):
        data = data.array
    xp = backend.get_array_module(data)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"tensor: dtype {dtype} is not supported (use a float, integer or bool dtype)")
    arr = xp.asarray(data)
    kind = arr.dtype.kind
    if dtype is not None and kind in _ALLOWED_KINDS:  # strings and objects are refused below, not parsed
        return arr.astype(dtype, copy=False)
    if kind == "f":
        # float32 stays float32; float64 (NumPy's and Python's default) and float16 become the default dtype
        return arr if arr.dtype == np.float32 else arr.astype(backend.get_default_dtype(), copy=False)
    if kind in "iub":
        return arr
    raise TypeError(
        f"tensor: cannot make a tensor from data of dtype {arr.dtype} "
        f"({type(data).__name__}); expected numbers (float, int or bool)"
    )


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a tensor from a number, a (nested) list or an array.

    >>> x = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> x.dtype
    dtype('float32')

    Floating data becomes float32 unless ``dtype`` says otherwise (e.g.
    ``dtype=neurona.float64``, or after ``neurona.set_default_dtype``).
    The data is copied only when a conversion requires it.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(data, dtype=None) -> Tensor:
    """``data`` itself if it is already a Tensor (of ``dtype``), else ``tensor(data)``."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return Tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap an ndarray without changing its dtype or copying it."""
    t = Tensor.__new__(Tensor)
    arr = backend.get_array_module(array).asarray(array)  # a CuPy array stays on its device
    t.array, t.grad, t._ctx, t.name, t.requires_grad = arr, None, None, None, False
    if t.array.dtype.kind not in _ALLOWED_KINDS:
        raise TypeError(f"from_numpy: dtype {t.array.dtype} is not supported")
    return t


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _float(dtype) -> np.dtype:
    d = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
    return d


def _random_float(dtype, op: str) -> np.dtype:
    d = _float(dtype)
    if d.kind != "f":  # casting [0, 1) samples to integers would give zeros, silently
        raise TypeError(f"{op}: expected a floating dtype, got {d} (use randint for integers)")
    return d


def _new(arr, requires_grad) -> Tensor:
    t = from_numpy(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _new(np.zeros(_shape(shape), _float(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(_shape(shape), _float(dtype)), requires_grad)


def empty(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.empty(_shape(shape), _float(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    if dtype is None and isinstance(fill_value, (bool, np.bool_)):
        dtype = np.bool_
    elif dtype is None and isinstance(fill_value, (int, np.integer)):
        dtype = np.int64
    return _new(np.full(_shape((shape,)), fill_value, _float(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Like ``torch.arange``: integers give int64, any float gives float32."""
    if end is None:
        start, end = 0, start
    is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    d = np.dtype(dtype) if dtype is not None else (np.dtype(np.int64) if is_int else backend.get_default_dtype())
    return _new(np.arange(start, end, step).astype(d, copy=False), requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t.array if isinstance(t, Tensor) else np.asarray(t)
    return _new(np.zeros(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t.array if isinstance(t, Tensor) else np.asarray(t)
    return _new(np.ones(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t.array if isinstance(t, Tensor) else np.asarray(t)
    return _new(np.full(a.shape, fill_value, a.dtype if dtype is None else dtype), requires_grad)


def rand(*shape, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    d = _random_float(dtype, "rand")
    return _new(_gen(generator).random(_shape(shape), dtype=np.float64).astype(d, copy=False), requires_grad)


def randn(*shape, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    d = _random_float(dtype, "randn")
    return _new(_gen(generator).standard_normal(_shape(shape)).astype(d, copy=False), requires_grad)


def randint(low: int, high: int | None = None, size=(), generator=None) -> Tensor:
    """Integers in [low, high) as int64 (``randint(10, size=(3,))`` also works)."""
    if high is None:
        low, high = 0, low
    return _new(_gen(generator).integers(low, high, size=_shape((size,)) if size != () else ()), False)


def rand_like(t, generator=None) -> Tensor:
    return rand(*t.shape, dtype=t.dtype, generator=generator)


def randn_like(t, generator=None) -> Tensor:
    return randn(*t.shape, dtype=t.dtype, generator=generator)


def randperm(n: int, generator=None) -> Tensor:
    return _new(_gen(generator).permutation(n), False)
