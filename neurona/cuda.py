"""``neurona.cuda``: what PyTorch's ``torch.cuda`` answers about NVIDIA GPUs.

neurona reaches NVIDIA GPUs through CuPy (``pip install 'neurona[cuda]'``).
Without CuPy, or without a GPU, ``is_available()`` is False and asking for a
``"cuda"`` device raises an error that says which of the two is missing.
"""
from __future__ import annotations

from . import backend


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


def manual_seed(seed: int) -> None:
    """Seed the GPU generators: neurona draws random numbers on the CPU and moves them, so this seeds that."""
    from .creation import manual_seed as _seed
    _seed(seed)


manual_seed_all = manual_seed
