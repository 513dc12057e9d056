"""``neurona.cuda``: what PyTorch's ``torch.cuda`` answers about NVIDIA GPUs.

neurona reaches NVIDIA GPUs through CuPy (``pip install 'neurona[cuda]'``).
Without CuPy, or without a GPU, ``is_available()`` is False and asking for a
``"cuda"`` device raises an error that says which of the two is missing.
Memory figures are those of CuPy's memory pool, which keeps freed blocks for
reuse (``empty_cache()`` hands them back to the driver).
"""
from __future__ import annotations

from . import backend

__all__ = ["is_available", "device_count", "current_device", "synchronize", "manual_seed", "manual_seed_all",
           "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats", "empty_cache",
           "get_device_name", "allow_tf32"]


def is_available() -> bool:
    """Whether a CUDA GPU can be used (CuPy installed and at least one GPU found)."""
    return backend.cuda_available()


def device_count() -> int:
    """The number of CUDA GPUs CuPy finds (0 without CuPy)."""
    return backend.cuda_device_count()


def current_device() -> int:
    """The index of the GPU that ``"cuda"`` means; an error when there is none."""
    backend.check_device("cuda")
    return int(backend._cupy.cuda.runtime.getDevice())


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. 'NVIDIA H100 80GB HBM3'."""
    d = backend.check_device("cuda" if device is None else backend.cuda_device(device))
    props = backend._cupy.cuda.runtime.getDeviceProperties(d.index or 0)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device=None) -> None:
    """Wait until every kernel queued on the GPU has finished (timings need it: kernels run asynchronously)."""
    if backend.cuda_available():
        backend.synchronize("cuda" if device is None else backend.cuda_device(device))


def manual_seed(seed: int) -> None:
    """Seed the generators of every device: neurona's global seed also restarts each GPU's generator."""
    from .creation import manual_seed as _seed
    _seed(seed)


manual_seed_all = manual_seed

_peak = [0]


def _pool():
    return backend._cupy.get_default_memory_pool() if backend.cuda_available() else None


def memory_allocated(device=None) -> int:
    """Bytes held by live GPU arrays (0 without CuPy)."""
    pool = _pool()
    if pool is None:
        return 0
    used = int(pool.used_bytes())
    _peak[0] = max(_peak[0], used)
    return used


def max_memory_allocated(device=None) -> int:
    """The largest ``memory_allocated()`` seen since the start or ``reset_peak_memory_stats()``.

    CuPy keeps no peak of its own: this is the peak of the readings taken, plus the pool's total (reserved)
    bytes as an upper bound when no reading was taken since the reset.
    """
    pool = _pool()
    if pool is None:
        return 0
    memory_allocated(device)
    return max(_peak[0], int(pool.used_bytes()))


def reset_peak_memory_stats(device=None) -> None:
    _peak[0] = 0


def empty_cache() -> None:
    """Hand the memory pool's free blocks back to the driver (live arrays are untouched)."""
    pool = _pool()
    if pool is not None:
        pool.free_all_blocks()


def allow_tf32(enabled: bool | None = None) -> bool:
    """Whether float32 matrix products on the GPU may use TF32 tensor cores (10-bit mantissa inputs).

    Off by default, as in PyTorch for matrix products: results then match the CPU's to float32 rounding.
    ``allow_tf32(True)`` trades that for speed on Ampere and later GPUs (CuPy's ``CUPY_TF32`` setting, read
    when CuPy initialises cuBLAS: set it before the first product). Returns the setting in force.
    """
    import os

    if enabled is not None:
        os.environ["CUPY_TF32"] = "1" if enabled else "0"
    return os.environ.get("CUPY_TF32", "0") == "1"
