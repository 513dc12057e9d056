"""The array-module seam and the dtype policy.

Every op asks this module which array library to use (``xp``), the way
Chainer's and DeZero's functions do. Today that is always NumPy; a CuPy
backend for NVIDIA GPUs plugs in here, and only here, without touching the
ops. No other module of neurona may import an array library other than NumPy.
"""
from __future__ import annotations

import os
import sys

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


# --- the allocator -----------------------------------------------------------

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's malloc.h)
MMAP_THRESHOLD_MIB = 32
TRIM_THRESHOLD_MIB = 128
allocator_tuned = False


def tune_allocator(mmap_threshold_mib: int = MMAP_THRESHOLD_MIB, trim_threshold_mib: int = TRIM_THRESHOLD_MIB) -> bool:
    """Make glibc's malloc keep freed blocks of up to ``mmap_threshold_mib`` MiB for reuse.

    A training step allocates and frees the same multi-megabyte arrays
    (activations, patch matrices, gradients) every batch. By default glibc
    serves blocks above a few hundred KiB with ``mmap`` and returns them to the
    system when freed, so every step pays a page fault per 4 KiB on first
    touch: on LeNet-5 at batch 128, about 1,700 faults and a third of the
    step. Raising the mmap threshold (and the heap trim threshold above it)
    lets such blocks be reused in place. Called when neurona is imported; set
    the environment variable ``NEURONA_TUNE_MALLOC=0`` before importing to
    leave the allocator alone. The setting is process-wide, so other
    libraries in the same process get the same allocator. Returns whether the
    setting was applied (only on Linux with glibc).
    """
    global allocator_tuned
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded into the process
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold_mib) << 20) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, int(trim_threshold_mib) << 20) == 1 and ok
    allocator_tuned = allocator_tuned or ok
    return ok


if os.environ.get("NEURONA_TUNE_MALLOC", "1").strip().lower() not in ("0", "false", "no", "off"):
    tune_allocator()
