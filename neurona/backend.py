"""The array-module seam, devices and the dtype policy.

Every op asks this module which array library to use (``xp``), the way
Chainer's and DeZero's functions do. A *device* (``neurona.device("cpu")``,
``"cuda:0"``) maps to an array library here: the CPU to NumPy, an NVIDIA GPU
to CuPy when it is installed, and the strict stand-in device (``"strict"``,
``neurona.strict``) to NumPy arrays that refuse what CuPy refuses. No other
module of neurona may import an array library other than NumPy.

``NEURONA_STRICT_DEVICE=1`` makes the stand-in the default device, so that
every tensor created without ``device=`` lives there: the test suite run that
way fails wherever an op leaves the seam.
"""
from __future__ import annotations

import builtins
import os

import numpy as np

_cupy = None  # set by enable_cupy(); the only place CuPy may ever be imported
_strict = None  # the neurona.strict module, once the stand-in device is used
_modules: dict = {}  # device array type -> its array module (CuPy's, the stand-in's); empty on a CPU-only run


def get_array_module(*arrays):
    """Return the array module (``numpy``, ``cupy`` or the stand-in's ``xp``) that owns ``arrays``.

    Ops write ``xp = get_array_module(x)`` and then ``xp.zeros(...)`` so the
    same code runs on either library.
    """
    if _modules:
        for a in arrays:
            m = _modules.get(type(a))
            if m is not None:
                return m
    return np


def enable_cupy() -> bool:
    """Try to make CuPy available as a second backend; return whether it is."""
    global _cupy
    if _cupy is not None:
        return True
    try:
        import cupy  # noqa: F401  (the one permitted import of another array library)
    except ImportError:
        return False
    _cupy = cupy
    _modules[cupy.ndarray] = cupy
    return True


def enable_strict():
    """Load the strict stand-in device (``neurona.strict``) and return that module."""
    global _strict
    if _strict is None:
        from . import strict

        _strict = strict
        _modules[strict.StrictArray] = strict.xp
    return _strict


def array_types() -> tuple:
    """The array classes of the libraries in use (``numpy.ndarray``, and CuPy's or the stand-in's once used)."""
    return (np.ndarray, *_modules)


def is_array(a) -> bool:
    """Whether ``a`` is an array of any device (a NumPy, CuPy or stand-in array)."""
    return isinstance(a, np.ndarray) or type(a) in _modules


def to_numpy(a) -> np.ndarray:
    """``a`` as a NumPy array (a copy to host memory for a device array)."""
    if isinstance(a, np.ndarray):
        return a
    if type(a) in _modules:
        return a.get()
    return np.asarray(a)


# --- devices ------------------------------------------------------------------

# the device types PyTorch names; neurona runs on "cpu", and on "cuda" through CuPy
STRICT_TYPE = "strict"  # neurona's own: the stand-in device for tests without a GPU (neurona.strict)
_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "ipu", "hpu", "mtia", "vulkan", "lazy", "ve",
                 "fpga", "maia", "opengl", "opencl", "ideep", "mkldnn", "privateuseone")


class device:
    """Where a tensor's memory lives (PyTorch's ``torch.device``).

    >>> device("cpu"), device("cuda:1").index, device("cuda", 0)
    (device(type='cpu'), 1, device(type='cuda', index=0))

    A device also compares equal to its name: ``device("cpu") == "cpu"``.
    Naming a device does not check that it exists; using it does.
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None):  # noqa: A002  (PyTorch's parameter name)
        if isinstance(type, device):
            if index is not None:
                raise TypeError(f"device: a device ({type}) and an index ({index}) were both given")
            type, index = type.type, type.index
        elif isinstance(type, (int, np.integer)) and not isinstance(type, (bool, np.bool_)):
            type, index = "cuda", int(type)  # a bare ordinal means a CUDA device, as in PyTorch
        elif isinstance(type, str):
            name = type.strip()
            if ":" in name:
                if index is not None:
                    raise TypeError(f"device: {name!r} already names an index; index={index} is one too many")
                name, _, num = name.partition(":")
                if not num.isdigit():
                    raise RuntimeError(f"device: invalid device string {type!r}: the index after ':' must be a "
                                       f"non-negative integer, e.g. 'cuda:0'")
                index = int(num)
            type = name
        else:
            raise TypeError(f"device: expected a device name such as 'cpu' or 'cuda:0', got {builtins.type(type).__name__}")
        if type not in _DEVICE_TYPES and type != STRICT_TYPE:
            raise RuntimeError(f"device: expected one of {', '.join(_DEVICE_TYPES)} at the start of the device string, "
                               f"got {type!r}")
        if index is not None and (not isinstance(index, (int, np.integer)) or index < 0):
            raise RuntimeError(f"device: the index must be a non-negative integer, got {index!r}")
        self.type, self.index = type, None if index is None else int(index)

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash(str(self))  # equal to the hash of its name, which it compares equal to

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")
STRICT = device(STRICT_TYPE)
_default_device = CPU


class DeviceUnavailableError(RuntimeError):
    """A device was asked for that this machine or this installation cannot provide."""


def cuda_available() -> bool:
    """Whether CuPy is installed and sees at least one CUDA GPU (imports CuPy on first call)."""
    return cuda_device_count() > 0


def cuda_device_count() -> int:
    if not enable_cupy():
        return 0
    try:
        return int(_cupy.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001  (no driver, no GPU: CuPy raises its own runtime errors)
        return 0


def cuda_missing() -> str | None:
    """Why ``"cuda"`` cannot be used here (CuPy missing, or no GPU), or None when it can."""
    if not enable_cupy():
        return ("CuPy is not installed. neurona runs on NVIDIA GPUs through CuPy: pip install 'neurona[cuda]' "
                "(the CuPy wheel for your CUDA version, cupy-cuda12x or cupy-cuda13x)")
    if cuda_device_count() == 0:
        return "CuPy is installed but finds no CUDA GPU (no NVIDIA driver, or no GPU on this machine)"
    return None


def check_device(dev) -> device:
    """``dev`` as a ``device`` that this machine has, or a :class:`DeviceUnavailableError` saying what is missing."""
    d = dev if isinstance(dev, device) else device(dev)
    if d.type == "cpu" or d.type == STRICT_TYPE:
        if d.index not in (None, 0):
            raise DeviceUnavailableError(f"device '{d}' does not exist: there is one such device, '{d.type}'")
        if d.type == STRICT_TYPE:
            enable_strict()
        return d
    if d.type != "cuda":
        raise DeviceUnavailableError(
            f"device '{d}' is not available: neurona runs on the CPU ('cpu') and, through CuPy, on NVIDIA GPUs "
            f"('cuda'); it has no {d.type} backend"
        )
    why = cuda_missing()
    if why is not None:
        raise DeviceUnavailableError(f"device '{d}' is not available: {why}; until then use 'cpu'")
    n = cuda_device_count()
    if (d.index or 0) >= n:
        raise DeviceUnavailableError(f"device '{d}' does not exist: {n} CUDA GPU(s) found "
                                     f"({', '.join(f'cuda:{i}' for i in range(n))})")
    return d


def resolve_device(dev) -> device:
    """``dev`` for training: ``"auto"`` (or None) is a CUDA GPU when one can be used, else the CPU."""
    if dev is None or (isinstance(dev, str) and dev.strip().lower() == "auto"):
        return device("cuda") if cuda_available() else CPU
    return check_device(dev)


def cuda_device(dev=None) -> device:
    """The device of ``.cuda(dev)``: ``cuda`` (the current GPU), an index, or a device name."""
    if dev is None:
        return device("cuda")
    d = device(dev) if not isinstance(dev, (int, np.integer)) else device("cuda", int(dev))
    if d.type != "cuda":
        raise ValueError(f"cuda(): expected a CUDA device, got '{d}'")
    return d


def device_of(a) -> device:
    """The device that holds array ``a``."""
    if type(a) is np.ndarray or not _modules:
        return CPU
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return device("cuda", a.device.id)
    if _strict is not None and type(a) is _strict.StrictArray:
        return STRICT
    return CPU


def array_module_for(dev):
    """The array module (``numpy``, ``cupy`` or the stand-in's) that creates arrays on ``dev`` (None: the default)."""
    d = check_device(_default_device if dev is None else dev)
    if d.type == "cpu":
        return np
    return _strict.xp if d.type == STRICT_TYPE else _cupy


def to_device(a, dev):
    """Array ``a`` on device ``dev``: itself if it is there already, else a copy."""
    d = check_device(dev)
    if d.type == "cpu":
        return to_numpy(a)
    if d.type == STRICT_TYPE:
        if type(a) is _strict.StrictArray:
            return a
        return _strict.StrictArray(np.array(to_numpy(a)))  # a copy, as a host-to-device transfer is
    with _cupy.cuda.Device(d.index or 0):
        if isinstance(a, _cupy.ndarray):
            return a if a.device.id == (d.index or 0) else a.copy()
        return _cupy.asarray(to_numpy(a))


def same_device(where: str, *arrays) -> None:
    """Raise PyTorch's error when ``arrays`` live on different devices (``where`` names the op)."""
    devs = {device_of(a) for a in arrays if is_array(a)}
    if len(devs) > 1:
        a, b = sorted(str(d) for d in devs)[:2]
        raise RuntimeError(f"{where}: expected all tensors to be on the same device, but found at least two "
                           f"devices, {a} and {b}; move them with .to(device) first")


def synchronize(dev=None) -> None:
    """Wait until every kernel queued on ``dev`` (a CUDA GPU) has finished; nothing to wait for elsewhere."""
    d = _default_device if dev is None else device(dev)
    if d.type == "cuda" and _cupy is not None:
        with _cupy.cuda.Device(d.index or 0):
            _cupy.cuda.Device().synchronize()


def get_default_device() -> device:
    """The device new tensors are created on when none is asked for (``cpu`` unless changed)."""
    return _default_device


def set_default_device(dev) -> None:
    """Create new tensors on ``dev`` when no ``device=`` is given (``None`` resets it to the CPU)."""
    global _default_device
    _default_device = CPU if dev is None else check_device(dev)


def strict_mode() -> bool:
    """Whether ``NEURONA_STRICT_DEVICE`` asks for the strict stand-in device as the default device."""
    return os.environ.get("NEURONA_STRICT_DEVICE", "").strip().lower() not in ("", "0", "false", "no", "off")


def parse_to(args: tuple, kwargs: dict, where: str) -> tuple:
    """(device or None, dtype or None, copy) from PyTorch's ``to(device, dtype, non_blocking, copy)`` forms."""
    kwargs = dict(kwargs)
    dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    copy = bool(kwargs.pop("copy", False))
    if kwargs:
        raise TypeError(f"{where}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
    flags = []
    for a in args:
        if isinstance(a, (bool, np.bool_)):
            flags.append(bool(a))  # non_blocking, then copy
        elif isinstance(a, (str, device)) or isinstance(a, (int, np.integer)):
            if dev is not None:
                raise TypeError(f"{where}: the device is given twice ({dev} and {a})")
            dev = a
        elif a is not None:
            if dtype is not None:
                raise TypeError(f"{where}: the dtype is given twice ({dtype} and {a})")
            dtype = a
    if len(flags) > 1:
        copy = copy or flags[1]
    return (None if dev is None else check_device(dev)), (None if dtype is None else to_dtype(dtype)), copy


# --- dtypes ------------------------------------------------------------------

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16))
_default_dtype = np.dtype(np.float32)


class UnsupportedDtype:
    """A PyTorch dtype name that neurona cannot hold (bfloat16): usable as a name, refused as a dtype."""

    __slots__ = ("name", "reason")

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason

    def __repr__(self):
        return f"neurona.{self.name}"


bfloat16 = UnsupportedDtype("bfloat16", "NumPy has no bfloat16 type; use float16 (neurona.half) or float32")

# PyTorch's names, as strings ('float' is float32 there, as neurona.float is); NumPy's names work too
_NAMES = {"float": np.float32, "double": np.float64, "half": np.float16, "long": np.int64, "int": np.int32,
          "short": np.int16, "char": np.int8, "byte": np.uint8, "bool": np.bool_, "cfloat": None, "cdouble": None}
_TENSOR_TYPES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
                 np.dtype(np.float16): "HalfTensor", np.dtype(np.int64): "LongTensor", np.dtype(np.int32): "IntTensor",
                 np.dtype(np.int16): "ShortTensor", np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor",
                 np.dtype(np.bool_): "BoolTensor"}


def to_dtype(d) -> np.dtype:
    """A dtype from any of its names: ``neurona.float`` (float32), ``neurona.long``, ``np.float64``, ``"double"``,
    ``"torch.FloatTensor"``, Python's ``float`` (float64, as in PyTorch)... Only real, integer and bool dtypes."""
    if isinstance(d, np.dtype):
        dt = d
    elif isinstance(d, UnsupportedDtype):
        raise TypeError(f"dtype {d.name} is not supported: {d.reason}")
    elif isinstance(d, str):
        name = d.strip()
        for prefix in ("torch.", "neurona.", "cuda."):
            name = name[len(prefix):] if name.startswith(prefix) else name
        by_type = {v: k for k, v in _TENSOR_TYPES.items()}
        if name in by_type:
            dt = by_type[name]
        elif name in _NAMES:
            if _NAMES[name] is None:
                raise TypeError(f"dtype {d!r} is not supported: neurona holds real, integer and bool tensors only")
            dt = np.dtype(_NAMES[name])
        elif name == "bfloat16":
            raise TypeError(f"dtype bfloat16 is not supported: {bfloat16.reason}")
        else:
            try:
                dt = np.dtype(name)
            except TypeError:
                raise TypeError(f"unknown dtype {d!r}") from None
    else:
        try:
            dt = np.dtype(d)
        except TypeError:
            raise TypeError(f"expected a dtype (e.g. neurona.float32, neurona.long), got {d!r}") from None
    if dt.kind not in "fiub":
        raise TypeError(f"dtype {dt} is not supported: neurona holds real, integer and bool tensors only")
    return dt


def type_name(dtype, dev: device | None = None) -> str:
    """PyTorch's tensor type name of a dtype: 'neurona.FloatTensor' (``Tensor.type()``)."""
    name = _TENSOR_TYPES.get(np.dtype(dtype), f"{np.dtype(dtype).name}Tensor")
    return f"neurona.cuda.{name}" if dev is not None and dev.type == "cuda" else f"neurona.{name}"


def get_default_dtype() -> np.dtype:
    """The floating dtype new tensors get when none is asked for (float32)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (float32 or float64, by any name: ``neurona.double``, ``"float64"``) the default for new
    float tensors."""
    global _default_dtype
    d = to_dtype(dtype)
    if d not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"set_default_dtype: expected float32 or float64, got {d}")
    _default_dtype = d


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


if strict_mode():
    set_default_device(STRICT)
