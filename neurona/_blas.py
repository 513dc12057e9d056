"""How many threads NumPy's BLAS uses, for the products of a block of code.

OpenBLAS threads every product above a small size. For a product that is only
a hundred microseconds of work, and skinny (a few rows, or a short inner
dimension), the hand-off to its second thread costs more than the thread
saves: the per-block weight-gradient products of a batch-last convolution run
about 1.7x faster on one thread here (6 x 7168 by 7168 x 25: 111 vs 193 µs),
LeNet-5's first layer, forward and backward, about 1.4x, and a whole LeNet-5
training step 12 % (paired in-process comparisons on the benchmark machine of
the README). Larger products (the MLP's, the LSTM's per-step products, the
channels-last blocks of wider convolutions) measured faster on OpenBLAS's
threads, so they keep them.

``single_threaded()`` is a context manager: one BLAS thread inside the block,
the previous count restored on exit. It talks to the OpenBLAS that NumPy
loaded (the ``scipy_openblas`` of NumPy's wheels, or a plain OpenBLAS)
through its ``get/set_num_threads`` functions. The setting is process-wide in
these builds, so a BLAS call made by another thread meanwhile also runs on one
thread (slower, never wrong). Where NumPy's BLAS is something else, it does
nothing; ``NEURONA_BLAS_THREADS=keep`` turns it off.
"""
from __future__ import annotations

import ctypes
import glob
import os
from contextlib import contextmanager

import numpy as np

__all__ = ["single_threaded", "available"]

# (getter, setter) names: NumPy 2 wheels' scipy_openblas, older wheels' 64-bit OpenBLAS, a plain OpenBLAS
_NAMES = [("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
          ("openblas_get_num_threads", "openblas_set_num_threads")]


def _find():
    if os.environ.get("NEURONA_BLAS_THREADS", "").strip().lower() == "keep":
        return None
    base = os.path.dirname(os.path.abspath(np.__file__))
    paths = []
    for folder in (base + ".libs", os.path.join(base, ".dylibs"), os.path.join(os.path.dirname(base), "numpy.libs")):
        paths += sorted(glob.glob(os.path.join(folder, "*openblas*")))
    for path in paths:
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same library
        except OSError:
            continue
        for get_name, set_name in _NAMES:
            get, put = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and put is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                return get, put
    return None


_FUNCS = _find()


def available() -> bool:
    """Whether NumPy's OpenBLAS was found (else ``single_threaded`` does nothing)."""
    return _FUNCS is not None


@contextmanager
def single_threaded():
    """Run the BLAS products inside the block on one thread."""
    if _FUNCS is None:
        yield
        return
    get, put = _FUNCS
    previous = get()
    if previous <= 1:
        yield
        return
    put(1)
    try:
        yield
    finally:
        put(previous)
