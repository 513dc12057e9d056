"""The array-module seam and the dtype policy.

Every op asks this module which array library to use (``xp``), the way
Chainer's and DeZero's functions do. Today that is always NumPy; a CuPy
backend for NVIDIA GPUs plugs in here, and only here, without touching the
ops. No other module of neurona may import an array library other than NumPy.
"""
from __future__ import annotations

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
    try:
        import cupy  # noqa: F401  (the one permitted import of another array library)
    except ImportError:
        return False
    _cupy = cupy
    return True


# --- dtypes ------------------------------------------------------------------

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16))
_default_dtype = np.dtype(np.float32)


def get_default_dtype() -> np.dtype:
    """The floating dtype new tensors get when none is asked for (float32)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (float32 or float64) the default for new float tensors."""
    global _default_dtype
    d = np.dtype(dtype)
    if d not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"set_default_dtype: expected float32 or float64, got {d}")
    _default_dtype = d


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"
