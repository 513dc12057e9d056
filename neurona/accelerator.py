"""``neurona.accelerator``: PyTorch's device-neutral questions about the accelerator (a GPU), if any."""
from __future__ import annotations

from . import backend


def is_available() -> bool:
    """Whether an accelerator (today: a CUDA GPU through CuPy) can be used."""
    return backend.cuda_available()


def current_accelerator(check_available: bool = False) -> "backend.device | None":
    """The accelerator's device (``device(type='cuda')``), or None when there is none."""
    return backend.device("cuda") if backend.cuda_available() else None


def device_count() -> int:
    return backend.cuda_device_count()
