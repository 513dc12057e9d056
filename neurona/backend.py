"""The array-module seam, devices and the dtype policy.

Every op asks this module which array library to use (``xp``), the way
Chainer's and DeZero's functions do. A *device* (``neurona.device("cpu")``,
``"cuda:0"``) maps to an array library here: the CPU to NumPy, an NVIDIA GPU
to CuPy when it is installed. No other module of neurona may import an array
library other than NumPy.
"""
from __future__ import annotations

import builtins

import numpy as np

_cupy = None  # set by enable_cupy(); the only place CuPy may ever be imported


def get_array_module(*arrays):
    """Return the array module (``numpy`` or ``cupy``) that owns ``arrays``.

    Ops write ``xp = get_array_module(x)`` and then ``xp.zeros(...)`` so the
    same code runs on either library.
    """
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
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
    return True


def array_types() -> tuple:
    """The array classes of the libraries in use (``numpy.ndarray``, and CuPy's once enabled)."""
    return (np.ndarray,) if _cupy is None else (np.ndarray, _cupy.ndarray)


def to_numpy(a) -> np.ndarray:
    """``a`` as a NumPy array (a copy to host memory for a GPU array)."""
    if isinstance(a, np.ndarray):
        return a
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return a.get()
    return np.asarray(a)


# --- devices ------------------------------------------------------------------

# the device types PyTorch names; neurona runs on "cpu", and on "cuda" through CuPy
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
        if type not in _DEVICE_TYPES:
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


def check_device(dev) -> device:
    """``dev`` as a ``device`` that this machine has, or a :class:`DeviceUnavailableError` saying what is missing."""
    d = dev if isinstance(dev, device) else device(dev)
    if d.type == "cpu":
        if d.index not in (None, 0):
            raise DeviceUnavailableError(f"device '{d}' does not exist: there is one CPU device, 'cpu'")
        return d
    if d.type != "cuda":
        raise DeviceUnavailableError(
            f"device '{d}' is not available: neurona runs on the CPU ('cpu') and, through CuPy, on NVIDIA GPUs "
            f"('cuda'); it has no {d.type} backend"
        )
    if not enable_cupy():
        raise DeviceUnavailableError(
            f"device '{d}' is not available: CuPy is not installed. neurona runs on NVIDIA GPUs through CuPy: "
            f"pip install 'neurona[cuda]' (a CuPy wheel matching your CUDA version); until then use 'cpu'"
        )
    n = cuda_device_count()
    if n == 0:
        raise DeviceUnavailableError(f"device '{d}' is not available: CuPy is installed but finds no CUDA GPU "
                                     f"(no NVIDIA driver or no GPU on this machine); use 'cpu'")
    if (d.index or 0) >= n:
        raise DeviceUnavailableError(f"device '{d}' does not exist: {n} CUDA GPU(s) found "
                                     f"({', '.join(f'cuda:{i}' for i in range(n))})")
    return d


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
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return device("cuda", a.device.id)
    return CPU


def array_module_for(dev):
    """The array module (``numpy`` or ``cupy``) that creates arrays on ``dev`` (``None``: the default device)."""
    d = check_device(_default_device if dev is None else dev)
    return np if d.type == "cpu" else _cupy


def to_device(a, dev):
    """Array ``a`` on device ``dev``: itself if it is there already, else a copy."""
    d = check_device(dev)
    if d.type == "cpu":
        return to_numpy(a)
    with _cupy.cuda.Device(d.index or 0):
        return _cupy.asarray(a)


def get_default_device() -> device:
    """The device new tensors are created on when none is asked for (``cpu`` unless changed)."""
    return _default_device


def set_default_device(dev) -> None:
    """Create new tensors on ``dev`` when no ``device=`` is given (``None`` resets it to the CPU)."""
    global _default_device
    _default_device = CPU if dev is None else check_device(dev)


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
