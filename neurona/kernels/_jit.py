"""Numba, and the options every fast kernel is compiled with.

Importing this module imports Numba (a fifth of a second); ``neurona.kernels``
imports it on the first lookup of a kernel, never when neurona is imported.

``kernel`` is ``numba.njit`` with:

- ``cache=True``: the compiled code is kept on disk (see ``neurona.runtime``)
  and loaded by later processes; compiling costs a few tenths of a second
  per kernel and dtype, paid once.
- ``error_model='numpy'``: a float division by zero gives inf or nan, as in
  NumPy. Python's model puts a branch before every division, and a loop with
  a branch out of it is not vectorized.
- ``fastmath={'contract'}``: a·b + c may become one fused multiply-add (one
  rounding instead of two). Kernels that sum pass ``reduce=True`` to add
  ``reassoc``, which lets the sum be split over vector lanes. No other
  fast-math flag: NaN and infinity keep their meaning.
- no ``parallel=True``: kernels run on the calling thread. Numba's OpenMP
  layer costs milliseconds per parallel loop on a small machine, and BLAS
  already spreads the matrix products over the cores.

``expf``, ``sigmoid`` and ``tanh`` are for use inside kernels. LLVM does not
vectorize a call to the C library's ``exp``, so for float32 ``expf`` is a
polynomial that it does vectorize: e^x = 2^n · e^r with n = round(x / ln 2)
and |r| ≤ ln(2)/2, e^r by its Taylor series to degree 7 (within 1 ulp over
the float32 range, checked in the tests). float64 keeps the C library's.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

__all__ = ["kernel", "expf", "sigmoid", "tanh"]

_FLAGS = {"contract"}
_REDUCE_FLAGS = {"contract", "reassoc"}


# Numba keys a cached kernel on its own file's source; the helpers below are inlined into kernels of other
# files, so their source goes into the key too (else a change here would leave stale kernels on disk)
with open(__file__, "rb") as _f:
    _HELPERS_STAMP = hashlib.sha256(_f.read()).hexdigest()


def _cache_with_helpers(f):
    from numba.core.caching import FunctionCache

    class KernelCache(FunctionCache):
        def _index_key(self, sig, codegen):
            return super()._index_key(sig, codegen) + (_HELPERS_STAMP,)
    return KernelCache(f)


def kernel(fn=None, *, reduce: bool = False):
    """Compile ``fn`` as a fast kernel (``numba.njit`` with neurona's options, see the module docstring)."""
    def wrap(f):
        d = njit(cache=True, error_model="numpy", fastmath=_REDUCE_FLAGS if reduce else _FLAGS)(f)
        try:
            d._cache = _cache_with_helpers(f)
        except (ImportError, AttributeError, TypeError):  # another Numba's internals: its own cache key
            pass
        return d
    return wrap if fn is None else wrap(fn)


@intrinsic
def _bits_as_f32(typingctx, bits):
    """The float32 whose bit pattern is the int32 ``bits`` (a free register move, vectorizable)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return sig, codegen


_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)        # ln 2 split in two: n·LN2_HI is exact for |n| ≤ 255
_LN2_LO = np.float32(-2.1219444e-4)
_EXP_LO, _EXP_HI = np.float32(-87.33655), np.float32(88.72283)  # e^x underflows / overflows float32 beyond
_INV_FACT = [np.float32(1.0 / math.factorial(k)) for k in range(8)]


def expf(x):
    """e^x inside a kernel: vectorizable for float32, the C library's for float64."""
    return math.exp(x)


@overload(expf, inline="always")
def _expf(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        c0, c1, c2, c3, c4, c5, c6, c7 = _INV_FACT

        def impl(x):
            xc = min(max(x, _EXP_LO), _EXP_HI)
            n = np.floor(xc * _LOG2E + np.float32(0.5))
            r = (xc - n * _LN2_HI) - n * _LN2_LO
            p = ((((((c7 * r + c6) * r + c5) * r + c4) * r + c3) * r + c2) * r + c1) * r + c0
            k = np.int32(n)
            half = k >> np.int32(1)  # 2^n as 2^half · 2^(n − half): both factors normal for n in [−126, 128]
            y = (p * _bits_as_f32((half + np.int32(127)) << np.int32(23))
                 * _bits_as_f32((k - half + np.int32(127)) << np.int32(23)))
            if x < _EXP_LO:
                y = np.float32(0.0)
            if x > _EXP_HI:
                y = np.float32(np.inf)
            return y
        return impl
    return lambda x: math.exp(x)


def sigmoid(x):
    """σ(x) = 1/(1 + e^{−x}) inside a kernel: exact at the extremes (e^{−x} = inf gives 0)."""
    return 1.0 / (1.0 + math.exp(-x))


def tanh(x):
    """tanh(x) = 2σ(2x) − 1 inside a kernel, from the same exponential (absolute error about one ulp of 1)."""
    return math.tanh(x)


def _float_consts(x):
    """(1, 2) in the float type of ``x`` (int constants would promote float32 arithmetic to float64)."""
    dt = np.float32 if x.bitwidth == 32 else np.float64
    return dt(1.0), dt(2.0)


@overload(sigmoid, inline="always")
def _sigmoid(x):
    if isinstance(x, types.Float):
        one, _ = _float_consts(x)
        return lambda x: one / (one + expf(-x))


@overload(tanh, inline="always")
def _tanh(x):
    if isinstance(x, types.Float):
        one, two = _float_consts(x)
        return lambda x: two / (one + expf(-two * x)) - one
