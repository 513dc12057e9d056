"""float32 matrix products on the CPU's 512-bit vectors, for when NumPy's BLAS does not use them.

Why it exists: a BLAS picks its kernels for the CPU when it loads. OpenBLAS
gives a CPU it does not know (AMD Zen 5), or one it is told to treat as older
(``OPENBLAS_CORETYPE=Haswell``), its AVX2 kernels, which run at about half the
rate of the CPU's AVX-512 units; the products are most of a training step's
time. ``matmul`` computes C = A B with its own AVX-512 micro-kernel instead, in
the layout of Goto and van de Geijn ("Anatomy of high-performance matrix
multiplication", 2008), which BLIS and OpenBLAS also use:

- B is cut into slivers NR = 32 columns wide, KC rows at a time (a sliver of
  KC × 32 floats, 32 KiB, stays in the L1 cache while it is used), read where
  they are when B's rows are contiguous, else packed, each sliver contiguous;
- A is read in slivers of MR = 12 rows, in place when its rows or its columns
  are contiguous (else packed);
- the micro-kernel computes one 12 × 32 tile of C over KC values of k, keeping
  the tile in 24 vector registers: for each k it loads two vectors of B and
  broadcasts twelve values of A, 24 fused multiply-adds. It is written in LLVM's
  IR (through llvmlite, as a Numba intrinsic) because Numba gives no way to
  keep an accumulator tile in registers.

Tiles at the right and bottom edges are computed whole into a scratch tile
(B's padding is zeros) and only their valid part is written. A product of
unchanged B several times (a recurrent layer's weights, once per time step)
packs B once: ``pack(b)``. A rough cost model (``_cost``) computes a product
transposed, Cᵀ = Bᵀ Aᵀ, when packing B would cost more than packing Aᵀ and
copying Cᵀ back, and leaves to the BLAS a product whose tiles would be mostly
padding or that is too small to pay for the call. The micro-kernel also sums
over several segments of A at different places, which is how the stride-1
convolutions read their input in place (``_gemm_tile._conv_rows``).

:func:`in_force` says when ``matmul`` runs this kernel: float32 NumPy arrays,
fast kernels on, and ``NEURONA_GEMM`` (``auto``: when the CPU has AVX-512, the
BLAS runs on one thread and is an OpenBLAS whose kernels lack AVX-512; ``blas``:
never; ``neurona``: always). Otherwise ``matmul`` is ``np.matmul``. The
reference ops always use NumPy's products.
"""
from __future__ import annotations

import numpy as np

from .. import runtime

__all__ = ["matmul", "products", "pack", "PackedB", "in_force", "MR", "NR", "KC"]

MR, NR, KC = 12, 32, 256  # the micro-kernel's tile and the rows of B per packed block (_gemm_tile)


def pack_b(b: np.ndarray, out: np.ndarray, kc: int = KC) -> None:
    """B (k × n, any strides) into slivers: block q (rows q·kc…) starts at q·kc·n_pad, its sliver t at + t·kb·NR.

    NumPy's strided copies do this faster than a Numba loop.
    """
    k, n = b.shape
    nsl = -(-n // NR)
    npad, whole = nsl * NR, n // NR
    for pc in range(0, k, kc):
        kb = min(kc, k - pc)
        block = out[pc * npad:(pc + kb) * npad].reshape(nsl, kb, NR)
        if whole:
            block[:whole] = b[pc:pc + kb, :whole * NR].reshape(kb, whole, NR).transpose(1, 0, 2)
        if whole < nsl:
            block[whole, :, :n - whole * NR] = b[pc:pc + kb, whole * NR:]
            block[whole, :, n - whole * NR:] = 0.0


class PackedB:
    """B packed into slivers for ``matmul`` (see the module docstring); keeps the array it came from."""
    __slots__ = ("array", "data", "shape")

    def __init__(self, b: np.ndarray):
        k, n = b.shape
        self.array, self.shape = b, b.shape
        self.data = np.empty(k * (-(-n // NR) * NR), np.float32)
        pack_b(b, self.data)


def pack(b: np.ndarray) -> PackedB | np.ndarray:
    """``b`` packed for repeated products ``matmul(a, pack(b))``; ``b`` itself when the kernel is not in force."""
    return PackedB(b) if in_force(b) and b.ndim == 2 else b


def _takes(x) -> bool:
    """An operand the kernel reads: a float32 NumPy array, aligned (its strides whole floats)."""
    return type(x) is np.ndarray and x.dtype == np.float32 and x.flags.aligned


def _unit(x: np.ndarray) -> bool:
    return x.strides[1] == 4 or x.strides[0] == 4


# A rough cost model, in nanoseconds, to choose between this kernel (C = A B or Cᵀ = Bᵀ Aᵀ) and the BLAS:
# the kernel's rate on whole tiles, what the padded edge tiles waste, packing B and copying Cᵀ back;
# rates measured on an AVX-512 CPU whose OpenBLAS runs its AVX2 kernels
_RATE, _BLAS_RATE, _COPY_RATE = 230.0, 120.0, 3.0  # GFLOP/s, GFLOP/s, elements per ns


def _cost(m: int, k: int, n: int, packed: int, transposed: bool) -> float:
    """Nanoseconds for C (m × n) = A B with ``packed`` values of B to pack first (and Cᵀ to copy back)."""
    waste = (-(-m // MR) * MR / m) * (-(-n // NR) * NR / n)
    cost = 2.0 * m * n * k * waste / _RATE + packed / _COPY_RATE
    if transposed:
        cost += m * n / _COPY_RATE
    return cost


def _in_place(b: np.ndarray) -> bool:
    """Whether B's 32-column slivers are read where they are: unit column stride and rows close together.

    Rows more than 1 KiB apart spread a block of KC rows over more pages than the TLB holds, and rows a
    multiple of 512 bytes apart fall into few sets of the L1 cache; a packed sliver has neither problem.
    """
    return b.strides[1] == 4 and 0 < b.strides[0] <= 1024 and b.strides[0] % 512 != 0 and b.shape[1] >= NR


def _to_pack(b: np.ndarray) -> int:
    """How many values of B the product packs: none read in place, but for a last, partial sliver."""
    k, n = b.shape
    if _in_place(b):
        return k * NR if n % NR else 0
    return k * n


_NOTHING = np.zeros(1, np.float32)
_FEW = 4  # fewer rows or columns than this: the BLAS's product (see matmul)


def _product(a: np.ndarray, b, n: int, c: np.ndarray) -> None:
    """C = A B on the kernel: B a PackedB, or an array read in place where ``_in_place`` allows, else packed."""
    t = _tiles()
    if type(b) is PackedB:
        t._gemm(a, _NOTHING, 0, b.data, n, c)
    elif _in_place(b):
        part = n % NR
        bp = _NOTHING
        if part:
            bp = np.empty(b.shape[0] * NR, np.float32)
            pack_b(b[:, n - part:], bp)
        t._gemm(a, np.lib.stride_tricks.as_strided(b, (1,), (4,)), b.strides[0] // 4, bp, n, c)
    else:
        t._gemm(a, _NOTHING, 0, PackedB(b).data, n, c)


def matmul(a: np.ndarray, b, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)``: on the AVX-512 kernel for 2-D float32 arrays when it is in force.

    ``b`` may be a ``PackedB`` from :func:`pack`. A is read where it is, and
    so is B when its rows are contiguous (else packing costs a pass over it),
    so the product may be computed transposed, Cᵀ = Bᵀ Aᵀ, and copied into
    place, when that packs less; a product whose tiles would be mostly padding
    (a dimension much below 32) is left to the BLAS. ``_cost`` decides.
    """
    packed = type(b) is PackedB
    barr = b.array if packed else b
    if not (_takes(a) and _takes(barr) and a.ndim == 2 and barr.ndim == 2):
        return np.matmul(a, barr, out=out)
    (m, k), (k2, n) = a.shape, barr.shape
    if k != k2:
        raise ValueError(f"matmul: the inner dimensions differ: {a.shape} @ {barr.shape}")
    blas = 2.0 * m * n * k / _BLAS_RATE
    # a product of very few rows or columns (a batch of 1) is mostly padding in 12 × 32 tiles, and one under a
    # third of a microsecond costs less than calling the kernel: both go to the BLAS before the switch is read
    if m < _FEW or n < _FEW or (blas < 300.0 and not packed) or not _active():
        return np.matmul(a, barr, out=out)
    if (out is not None and not (_takes(out) and out.flags.writeable)) or not k:
        return np.matmul(a, barr, out=out)  # NumPy's own errors for a read-only or mistyped out
    if out is not None and out.shape != (m, n):
        raise ValueError(f"matmul: out has shape {out.shape}, the product {(m, n)}")
    mine = _cost(m, k, n, 0 if packed else _to_pack(barr), False) + (0.0 if _unit(a) else m * k / _COPY_RATE)
    swap = _cost(n, k, m, _to_pack(a.T), True) if not packed and _unit(a) and _unit(barr) else np.inf
    if min(mine, swap) >= blas:
        return np.matmul(a, barr, out=out)
    if out is None:
        out = np.empty((m, n), np.float32)
    if swap < mine:
        ct = np.empty((n, m), np.float32)
        _product(barr.T, a.T, m, ct)
        out[...] = ct.T
        return out
    direct = out.strides[1] == 4 and out.strides[0] >= 4 * n and not (
        np.may_share_memory(out, a) or np.may_share_memory(out, barr))
    c = out if direct else np.empty((m, n), np.float32)
    _product(a, b, n, c)
    if c is not out:
        out[...] = c
    return out


_controller: list = []


def _blas():
    """A function giving the thread count of NumPy's OpenBLAS when it runs narrower kernels than the CPU
    has (found through threadpoolctl), else None."""
    if not _controller:
        found = None
        if "avx512f" in runtime._cpu_flags():
            from threadpoolctl import ThreadpoolController
            for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers:
                if lib.architecture in runtime.NARROW_OPENBLAS:
                    found = _thread_count(lib)
        _controller.append(found)
    return _controller[0]


def _thread_count(lib):
    """OpenBLAS's own ``openblas_get_num_threads`` (as named in this build), called directly: this is read
    before every product, and threadpoolctl's property costs several times more; its property otherwise."""
    dynlib = getattr(lib, "dynlib", None)
    if getattr(lib, "threading_layer", None) != "openmp" and dynlib is not None:
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_", "_64"):
                fn = getattr(dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
                if fn is not None:
                    return fn
    return lambda: lib.num_threads


_loaded: list = []


def _tiles():
    """The Numba module (imported on first use)."""
    if not _loaded:
        from . import _gemm_tile
        _loaded.append(_gemm_tile)
    return _loaded[0]


def _active() -> bool:
    """The kernel's switch, for float32 NumPy operands (see the module docstring)."""
    if runtime._state.kernels != "numba" and runtime.kernels() != "numba":
        return False
    mode = runtime._state.gemm or runtime.gemm()
    if mode == "auto":
        threads = _blas()
        return threads is not None and threads() == 1 and _numba()
    return mode == "neurona" and _numba()


def _numba() -> bool:
    """Whether Numba imports (else the fast kernels are off, and neurona.kernels has said so)."""
    try:
        _tiles()
    except ImportError:
        return False
    return True


def products():
    """``matmul`` when the kernel is switched on, else ``np.matmul``: an op with several products reads the
    switch once."""
    return matmul if _active() else np.matmul


def in_force(*arrays) -> bool:
    """Whether ``matmul`` runs the AVX-512 kernel for these arrays (see the module docstring)."""
    for x in arrays:
        if not _takes(x):
            return False
    return _active()
