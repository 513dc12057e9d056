"""Creating tensors: ``tensor`` and the factories, and the random generators.

Floating data becomes the default dtype (float32) unless a dtype is asked
for — Python floats and NumPy's float64 arrays included, so that a float64
upcast never enters a model by accident. Integer data stays int64 (labels,
indices) and booleans stay bool. Every factory takes PyTorch's ``dtype=``,
``device=`` and ``requires_grad=``; random ones take ``generator=`` too.
"""
from __future__ import annotations

import builtins
import os

import numpy as np

from . import backend
from .engine import Tensor, _wrap

# --- random numbers ----------------------------------------------------------


def _fresh_seed() -> int:
    return int.from_bytes(os.urandom(8), "little") >> 1  # 63 random bits


_initial_seed = _fresh_seed()
_rng = np.random.Generator(np.random.PCG64(_initial_seed))


def manual_seed(seed: int) -> np.random.Generator:
    """Seed neurona's global random generator (initializers, dropout, shuffling, ``randn``...).

    The generator is reseeded in place (as in PyTorch), so code that holds
    ``default_generator()`` from before the call follows the new seed too.
    Afterwards it draws exactly what ``numpy.random.default_rng(seed)`` draws.
    """
    global _initial_seed
    seed = _check_seed(seed, "manual_seed")
    _rng.bit_generator.state = np.random.PCG64(seed).state
    _initial_seed = seed
    _device_rngs.clear()  # the device generators restart from the new seed on their next draw
    return _rng


def seed() -> int:
    """Seed the global generator with a fresh non-deterministic number, and return it."""
    s = _fresh_seed()
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed of the global generator: the last ``manual_seed``, or the random one drawn at import."""
    return _initial_seed


def default_generator() -> np.random.Generator:
    """The global generator that ``manual_seed`` resets."""
    return _rng


def get_rng_state() -> dict:
    """The global generator's state, as a JSON-friendly dict (for checkpoints); ``set_rng_state`` takes it back."""
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = _check_state(state, "set_rng_state")


def _check_seed(seed, where: str) -> int:
    if isinstance(seed, builtins.bool) or not isinstance(seed, (builtins.int, np.integer)):
        raise TypeError(f"{where}: the seed must be an integer, got {type(seed).__name__}")
    if seed < 0:
        seed = int(seed) + 2 ** 64  # PyTorch accepts negative seeds as their 64-bit two's complement
    return int(seed)


def _check_state(state, where: str) -> dict:
    if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
        raise ValueError(f"{where}: expected a state returned by get_rng_state() / Generator.get_state() "
                         f"(a dict of a PCG64 generator), got {type(state).__name__}")
    return state


class Generator:
    """A random generator of its own (PyTorch's ``torch.Generator``), for ``generator=`` arguments.

    >>> g = Generator().manual_seed(42)
    >>> a = randn(3, generator=g)
    >>> b = randn(3, generator=Generator().manual_seed(42))
    >>> bool((a == b).all())
    True

    It draws what ``numpy.random.default_rng(seed)`` draws; the NumPy
    generator itself is ``g.numpy_generator``.
    """

    def __init__(self, device="cpu"):
        self.device = backend.device(device)
        if self.device.type != "cpu":
            backend.check_device(self.device)
        self._initial_seed = _fresh_seed()
        self.numpy_generator = np.random.Generator(np.random.PCG64(self._initial_seed))

    def manual_seed(self, seed: int) -> "Generator":
        """Reseed in place; returns the generator (``Generator().manual_seed(0)``)."""
        seed = _check_seed(seed, "Generator.manual_seed")
        self.numpy_generator.bit_generator.state = np.random.PCG64(seed).state
        self._initial_seed = seed
        return self

    def seed(self) -> int:
        """Reseed with a fresh non-deterministic number, and return it."""
        s = _fresh_seed()
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self) -> dict:
        """The state, as a JSON-friendly dict; ``set_state`` takes it back."""
        return self.numpy_generator.bit_generator.state

    def set_state(self, state: dict) -> "Generator":
        self.numpy_generator.bit_generator.state = _check_state(state, "Generator.set_state")
        return self

    def __repr__(self) -> str:
        return f"<neurona.Generator on {self.device}>"


_device_rngs: dict = {}  # array module -> its device generator, made on first use from the global seed


class _HostDraws:
    """A host generator whose draws are copied to a device (an explicit ``generator=`` on device arrays)."""

    def __init__(self, gen: np.random.Generator, xp):
        self.gen, self.xp = gen, xp

    def random(self, shape, dtype=np.float64):
        return self.xp.asarray(self.gen.random(shape, dtype=dtype))

    def standard_normal(self, shape, dtype=np.float64):
        return self.xp.asarray(self.gen.standard_normal(shape, dtype=dtype))

    def poisson(self, lam):
        return self.xp.asarray(self.gen.poisson(backend.to_numpy(lam)))


def device_generator(xp, generator=None):
    """The generator that draws random arrays for the array module ``xp`` (``random``, ``standard_normal``).

    NumPy: ``generator`` or the global one. A device (CuPy, the stand-in): the device's own generator, seeded
    from ``manual_seed``, so dropout masks and noise are drawn where they are used; with an explicit
    ``generator`` the host draws them and they are copied over (the same numbers on every device).
    """
    if xp is np:
        return _gen(generator)
    if generator is not None:
        return _HostDraws(_gen(generator), xp)
    g = _device_rngs.get(xp)
    if g is None:
        g = _device_rngs[xp] = xp.random.default_rng(_initial_seed)
    return g


def _gen(generator) -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s (a ``neurona.Generator`` or a NumPy one), else the global one."""
    if generator is None:
        return _rng
    if isinstance(generator, Generator):
        return generator.numpy_generator
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator: expected a neurona.Generator, a numpy.random.Generator or None, "
                    f"got {type(generator).__name__}")


# --- conversion ----------------------------------------------------------------

_ALLOWED_KINDS = "fiub"


def _as_array(data, dtype=None) -> np.ndarray:
    """Turn ``data`` into an ndarray following neurona's dtype policy."""
    if isinstance(data, Tensor):
        data = data.array
    xp = backend.get_array_module(data)
    if dtype is not None:
        try:
            dtype = backend.to_dtype(dtype)
        except TypeError as e:
            raise TypeError(f"tensor: {e} (use a float, integer or bool dtype)") from None
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


def _placed(t: Tensor, device) -> Tensor:
    """``t`` moved to ``device`` (None: the default device) when it is elsewhere; no copy otherwise."""
    d = backend.get_default_device() if device is None else backend.check_device(device)
    if backend.device_of(t.array) != d:
        t.array = backend.to_device(t.array, d)
    return t


def tensor(data, requires_grad: bool = False, dtype=None, *, device=None, pin_memory: bool = False) -> Tensor:
    """Make a tensor from a number, a (nested) list or an array.

    >>> x = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> x.dtype
    dtype('float32')

    Floating data becomes float32 unless ``dtype`` says otherwise (e.g.
    ``dtype=neurona.float64``, or after ``neurona.set_default_dtype``).
    The data is copied only when a conversion requires it.
    """
    t = _wrap(_as_array(data, dtype))  # not Tensor(data): Tensor(3) is PyTorch's sized constructor
    _placed(t, device)
    return t.requires_grad_(True) if requires_grad else t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` itself if it is already a Tensor of ``dtype`` on ``device``, else ``tensor(data)``."""
    if isinstance(data, Tensor):
        out = data
        if dtype is not None and out.dtype != backend.to_dtype(dtype):
            out = out.to(dtype)
        return out if device is None else out.to(device)
    return _placed(_wrap(_as_array(data, dtype)), device)


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap an ndarray without changing its dtype or copying it."""
    t = _wrap(backend.get_array_module(array).asarray(array))  # a CuPy array stays on its device
    if t.array.dtype.kind not in _ALLOWED_KINDS:
        raise TypeError(f"from_numpy: dtype {t.array.dtype} is not supported")
    if backend.get_default_device().type == backend.STRICT_TYPE:
        # the strict test run: host data enters the stand-in device, as the suite's CPU-written tests assume
        t.array = backend.to_device(t.array, backend.STRICT)
    return t


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(builtins.int(s) for s in shape)


def _float(dtype) -> np.dtype:
    return backend.get_default_dtype() if dtype is None else backend.to_dtype(dtype)


def _random_float(dtype, op: str) -> np.dtype:
    d = _float(dtype)
    if d.kind != "f":  # casting [0, 1) samples to integers would give zeros, silently
        raise TypeError(f"{op}: expected a floating dtype, got {d} (use randint for integers)")
    return d


def _new(arr, requires_grad, device=None) -> Tensor:
    """A tensor of ``arr`` (made with NumPy) on ``device``."""
    t = _placed(from_numpy(arr), device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _xp(device):
    """The array module that makes arrays on ``device`` (checking that the device exists)."""
    return backend.array_module_for(device)


def zeros(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _new(_xp(device).zeros(_shape(shape), _float(dtype)), requires_grad, device)


def ones(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _new(_xp(device).ones(_shape(shape), _float(dtype)), requires_grad, device)


def empty(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _new(_xp(device).empty(_shape(shape), _float(dtype)), requires_grad, device)


def full(shape, fill_value, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    if dtype is None and isinstance(fill_value, (builtins.bool, np.bool_)):
        dtype = np.bool_
    elif dtype is None and isinstance(fill_value, (builtins.int, np.integer)):
        dtype = np.int64
    return _new(_xp(device).full(_shape((shape,)), fill_value, _float(dtype)), requires_grad, device)


def eye(n: int, m: int | None = None, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    return _new(_xp(device).eye(n, m, dtype=_float(dtype)), requires_grad, device)


def arange(start, end=None, step=1, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    """Like ``torch.arange``: integers give int64, any float gives float32."""
    if end is None:
        start, end = 0, start
    is_int = all(isinstance(v, (builtins.int, np.integer)) for v in (start, end, step))
    d = backend.to_dtype(dtype) if dtype is not None else (np.dtype(np.int64) if is_int else backend.get_default_dtype())
    return _new(_xp(device).arange(start, end, step).astype(d, copy=False), requires_grad, device)


def linspace(start, end, steps: int, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    return _new(_xp(device).linspace(start, end, steps).astype(_float(dtype)), requires_grad, device)


def _like(t, dtype):
    a = t.array if isinstance(t, Tensor) else np.asarray(t)
    return a, (a.dtype if dtype is None else backend.to_dtype(dtype))


def _like_device(t, device):
    return (t.device if isinstance(t, Tensor) else None) if device is None else device


def zeros_like(t, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    a, d = _like(t, dtype)
    device = _like_device(t, device)
    return _new(_xp(device).zeros(a.shape, d), requires_grad, device)


def ones_like(t, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    a, d = _like(t, dtype)
    device = _like_device(t, device)
    return _new(_xp(device).ones(a.shape, d), requires_grad, device)


def empty_like(t, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    a, d = _like(t, dtype)
    device = _like_device(t, device)
    return _new(_xp(device).empty(a.shape, d), requires_grad, device)


def full_like(t, fill_value, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    a, d = _like(t, dtype)
    device = _like_device(t, device)
    return _new(_xp(device).full(a.shape, fill_value, d), requires_grad, device)


# random draws are made on the CPU by the generator and then moved, so a seed gives the same numbers on every device


def rand(*shape, dtype=None, generator=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    d = _random_float(dtype, "rand")
    return _new(_gen(generator).random(_shape(shape), dtype=np.float64).astype(d, copy=False), requires_grad, device)


def randn(*shape, dtype=None, generator=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    d = _random_float(dtype, "randn")
    return _new(_gen(generator).standard_normal(_shape(shape)).astype(d, copy=False), requires_grad, device)


def randint(low: int, high: int | None = None, size=(), generator=None, *, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers in [low, high) as int64 (``randint(10, size=(3,))`` also works)."""
    if high is None:
        low, high = 0, low
    d = np.dtype(np.int64) if dtype is None else backend.to_dtype(dtype)
    a = _gen(generator).integers(low, high, size=_shape((size,)) if size != () else ())
    return _new(np.asarray(a).astype(d, copy=False), requires_grad, device)


def rand_like(t, generator=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return rand(*t.shape, dtype=t.dtype if dtype is None else dtype, generator=generator,
                device=_like_device(t, device), requires_grad=requires_grad)


def randn_like(t, generator=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return randn(*t.shape, dtype=t.dtype if dtype is None else dtype, generator=generator,
                 device=_like_device(t, device), requires_grad=requires_grad)


def randint_like(t, low: int, high: int | None = None, *, generator=None, dtype=None, device=None) -> Tensor:
    return randint(low, high, size=t.shape, generator=generator, dtype=t.dtype if dtype is None else dtype,
                   device=_like_device(t, device))


def randperm(n: int, generator=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    d = np.dtype(np.int64) if dtype is None else backend.to_dtype(dtype)
    return _new(_gen(generator).permutation(n).astype(d, copy=False), requires_grad, device)
