"""Every tuning knob of neurona in one module; the process is tuned only when asked.

Importing neurona changes nothing in the process: no allocator setting, no
BLAS thread count, no thread started, and Numba is not imported until the
first op with a fast kernel runs. The settings, with their defaults:

======================  ===========  ==================================================================
variable                default      meaning
======================  ===========  ==================================================================
NEURONA_KERNELS         numba        ``numba``: ops run their named fast kernels (``neurona.kernels``),
                                     compiled on first use and cached on disk; ``reference``: every op
                                     runs its plain NumPy implementation. Without an importable Numba
                                     neurona runs the reference ops and says so once.
NEURONA_REWRITES        on           ``on``: ``nn.Sequential`` applies the named rewrites of
                                     ``neurona.rewrites`` (fused layer pairs, same function and
                                     gradients) while the Numba kernels are in use; ``off``: never.
NEURONA_GEMM            auto         float32 matrix products of the fast kernels: ``neurona``: on neurona's
                                     AVX-512 kernel (``neurona.kernels.gemm``); ``blas``: on NumPy's BLAS;
                                     ``auto``: neurona's where the CPU has AVX-512 and NumPy's OpenBLAS,
                                     on one thread, runs older kernels (see :func:`blas_hints`).
NEURONA_BLAS_THREADS    (BLAS's)     threads that :func:`tune` gives NumPy's BLAS; empty: unchanged.
NEURONA_MALLOC          tune         ``tune``: :func:`tune` raises glibc's mmap and trim thresholds;
                                     ``keep``: it leaves the allocator alone.
NEURONA_DATA            (unset)      first folder the data readers search (``neurona.data``).
NEURONA_DEBUG           (unset)      set: the ``neurona`` command shows full tracebacks.
NEURONA_MAX_FILE_BYTES  4 GiB        the largest array content of a model or data file that is read;
                                     a larger file is refused unread (``neurona.io``).
NEURONA_STRICT_DEVICE   (unset)      set: new tensors go to the strict stand-in device, CPU arrays that
                                     refuse what CuPy refuses (``neurona.strict``; for the tests).
======================  ===========  ==================================================================

Numba's own ``NUMBA_CACHE_DIR`` says where compiled kernels are kept; by
default they go to ``__pycache__`` beside the kernel files, or to the user's
cache folder (``~/.cache/numba``) where the package folder is read-only.

The ``neurona`` command calls :func:`tune`; a library user calls it too, or
tunes one block of code with ``with neurona.runtime.tuning(): ...``.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["SETTINGS", "settings", "kernels", "set_kernels", "use_kernels", "rewrites_enabled", "set_rewrites", "gemm",
           "set_gemm",
           "tune", "tuning", "blas_hints"]


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    choices: tuple = ()
    doc: str = ""


SETTINGS = (
    Setting("NEURONA_KERNELS", "numba", ("numba", "reference"), "fast kernels or the reference ops"),
    Setting("NEURONA_REWRITES", "on", ("on", "off"), "nn.Sequential's fused layer pairs"),
    Setting("NEURONA_GEMM", "auto", ("auto", "neurona", "blas"), "whose kernel runs float32 products"),
    Setting("NEURONA_BLAS_THREADS", "", (), "BLAS threads set by tune(); empty leaves BLAS's own"),
    Setting("NEURONA_MALLOC", "tune", ("tune", "keep"), "whether tune() raises glibc's malloc thresholds"),
    Setting("NEURONA_DATA", "", (), "first folder searched for data sets"),
    Setting("NEURONA_DEBUG", "", (), "the CLI shows full tracebacks"),
    Setting("NEURONA_MAX_FILE_BYTES", str(4 * 1024 ** 3), (), "largest array content of a file that is read"),
    Setting("NEURONA_STRICT_DEVICE", "", (), "new tensors on the strict stand-in device (tests)"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> str:
    """The value of one ``NEURONA_*`` setting: the environment's, else its default (checked against its choices)."""
    s = _BY_NAME[name]
    v = os.environ.get(name, "").strip()
    if not v:
        return s.default
    if s.choices:
        v = v.lower()
        if v not in s.choices:
            raise ValueError(f"{name}={os.environ[name]!r}: expected one of {', '.join(s.choices)}")
    return v


def settings() -> dict[str, str]:
    """Every ``NEURONA_*`` setting with the value in force (the environment's, or the default).

    >>> sorted(settings())[:2]
    ['NEURONA_BLAS_THREADS', 'NEURONA_DATA']
    """
    out = {s.name: setting(s.name) for s in SETTINGS}
    out["NEURONA_KERNELS"] = kernels()
    out["NEURONA_REWRITES"] = "on" if rewrites_enabled() else "off"
    out["NEURONA_GEMM"] = gemm()
    return out


# --- which implementation the ops run ------------------------------------------------------------------

class _State:
    kernels: str | None = None   # 'numba' or 'reference'; None: not read from the environment yet
    rewrites: bool | None = None
    gemm: str | None = None      # 'auto', 'neurona' or 'blas'


_state = _State()


def kernels() -> str:
    """The kernels in force: 'numba' (fast kernels where an op has one) or 'reference' (plain NumPy ops)."""
    k = _state.kernels
    if k is None:
        k = _state.kernels = setting("NEURONA_KERNELS")
    return k


def set_kernels(name: str) -> None:
    """Run the ops on 'numba' kernels (where they exist) or on the 'reference' NumPy ops from now on."""
    if name not in ("numba", "reference"):
        raise ValueError(f"set_kernels: expected 'numba' or 'reference', got {name!r}")
    _state.kernels = name


@contextmanager
def use_kernels(name: str):
    """Run the ops of a block on 'numba' or 'reference' kernels; the previous choice comes back after it.

    >>> import neurona
    >>> with use_kernels("reference"):
    ...     y = neurona.relu(neurona.tensor([-1.0, 2.0], requires_grad=True))
    >>> type(y.grad_fn).__module__  # the reference op, not neurona.kernels.activation
    'neurona.functional.activation'
    """
    before = kernels()
    set_kernels(name)
    try:
        yield
    finally:
        _state.kernels = before


def rewrites_enabled() -> bool:
    """Whether ``nn.Sequential`` applies the named rewrites (only ever with the Numba kernels in force)."""
    r = _state.rewrites
    if r is None:
        r = _state.rewrites = setting("NEURONA_REWRITES") == "on"
    return r and kernels() == "numba"


def set_rewrites(on: bool) -> None:
    """Turn the named rewrites of ``nn.Sequential`` on or off for the running process."""
    _state.rewrites = bool(on)


def gemm() -> str:
    """Whose kernel runs the fast kernels' float32 products: 'auto', 'neurona' or 'blas' (``NEURONA_GEMM``)."""
    g = _state.gemm
    if g is None:
        g = _state.gemm = setting("NEURONA_GEMM")
    return g


def set_gemm(name: str) -> None:
    """Run the fast kernels' float32 products on 'neurona''s AVX-512 kernel, on 'blas', or choose ('auto')."""
    if name not in ("auto", "neurona", "blas"):
        raise ValueError(f"set_gemm: expected 'auto', 'neurona' or 'blas', got {name!r}")
    _state.gemm = name


# --- tuning the process (only when asked) ----------------------------------------------------------------

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's malloc.h)
MMAP_THRESHOLD_MIB = 32
TRIM_THRESHOLD_MIB = 128


def _tune_allocator() -> bool:
    """Make glibc keep freed blocks of up to ``MMAP_THRESHOLD_MIB`` for reuse; whether it was applied.

    A training step allocates and frees the same multi-megabyte arrays every
    batch; glibc serves large blocks with ``mmap`` and unmaps them when freed,
    so each step pays a page fault per 4 KiB on first touch. With a higher mmap
    threshold (and the trim threshold above it) freed blocks stay on the heap
    and are reused. Linux with glibc only; process-wide, and not undone later.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded into the process
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_MIB << 20) == 1
    return mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_MIB << 20) == 1 and ok


def _blas_threads(threads) -> int | None:
    if threads is None:
        v = setting("NEURONA_BLAS_THREADS")
        if not v:
            return None
        if not v.isdigit() or int(v) < 1:
            raise ValueError(f"NEURONA_BLAS_THREADS={v!r}: expected a positive number of threads")
        threads = int(v)
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"tune: blas_threads must be a positive number, got {threads}")
    return threads


def _cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# OpenBLAS core types (its ``architecture``) whose kernels stop short of AVX-512
NARROW_OPENBLAS = ("Haswell", "Zen", "Sandybridge", "Nehalem", "Prescott", "Core2")


def blas_hints() -> list[str]:
    """What could make NumPy's matrix products faster here, that only the environment can change.

    OpenBLAS picks its kernels for the CPU when it loads; one that does not
    know a recent CPU falls back to older kernels (AMD Zen 5 gets the AVX2
    "Haswell" ones, at about half the speed of its AVX-512 ones). The core type
    can only be set before NumPy loads, with ``OPENBLAS_CORETYPE``.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a core dependency
        return []
    hints = []
    flags = _cpu_flags()
    for info in threadpool_info():
        arch = info.get("architecture") or ""
        if info.get("internal_api") == "openblas" and "avx512f" in flags and arch in NARROW_OPENBLAS:
            hints.append(f"NumPy's OpenBLAS ({info.get('version')}) runs its {arch} kernels on a CPU with "
                         f"AVX-512; set OPENBLAS_CORETYPE=SkylakeX in the environment before starting Python "
                         f"for faster matrix products")
    return hints


def tune(blas_threads: int | None = None, allocator: bool | None = None) -> dict:
    """Tune the process for training; returns what was changed, and hints (``blas_hints``).

    - the allocator (``allocator=True``, or by default unless ``NEURONA_MALLOC=keep``):
      glibc keeps freed multi-megabyte blocks for reuse instead of unmapping them;
    - NumPy's BLAS threads, set through ``threadpoolctl``, when ``blas_threads``
      or ``NEURONA_BLAS_THREADS`` gives a number.

    Both are process-wide: they also affect other libraries in the process. The
    ``neurona`` command calls this at start.

    >>> changed = tune(allocator=False)
    >>> sorted(changed)
    ['allocator', 'blas_threads', 'hints']
    """
    if allocator is None:
        allocator = setting("NEURONA_MALLOC") == "tune"
    threads = _blas_threads(blas_threads)
    done = {"allocator": _tune_allocator() if allocator else False, "blas_threads": None, "hints": blas_hints()}
    if threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")
        done["blas_threads"] = threads
    return done


@contextmanager
def tuning(blas_threads: int | None = None, allocator: bool | None = None, kernels: str | None = None):
    """Tune a block of code: BLAS threads (and the kernels, if given) come back as they were after it.

    The allocator setting, when applied, stays: glibc offers no way to read the
    previous thresholds back. ``tuning(allocator=False)`` leaves it alone.
    """
    from threadpoolctl import threadpool_limits

    threads = _blas_threads(blas_threads)
    if allocator is None:
        allocator = setting("NEURONA_MALLOC") == "tune"
    before = _state.kernels
    limits = threadpool_limits(limits=threads, user_api="blas") if threads is not None else None
    try:
        if allocator:
            _tune_allocator()
        if kernels is not None:
            set_kernels(kernels)
        yield
    finally:
        _state.kernels = before
        if limits is not None:
            limits.restore_original_limits()
