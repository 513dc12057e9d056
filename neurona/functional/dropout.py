"""Dropout and additive Gaussian noise: regularizers that act only in training.

The notes: "Drop-out: durante el entrenamiento se seleccionan aleatoriamente
un subconjunto de nodos y no son utilizados en una iteración", and, among the
remedies for bad local minima, "añadir ruido durante el entrenamiento".
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..backend import get_array_module
from ..creation import _gen, from_numpy
from ..engine import Function, Tensor
from .math import as_tensor


class DropoutMask(Function):
    """y = x ⊙ m with a fixed mask m (0 for dropped units, 1/(1 − p) for kept ones)."""

    def __init__(self, mask):
        self.mask = mask

    def forward(self, x):
        return x * self.mask

    def backward(self, gy):  # ∂(x ⊙ m)/∂x = m: dropped units pass no gradient
        return gy * self.mask


def _check_p(p: float, op: str) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, got p={p}")
    return p


def dropout(x, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by 1/(1 − p).

    The scaling keeps the expectation, E[y] = x, so nothing changes at
    evaluation time, where dropout is the identity (``training=False``).
    The mask comes from ``generator`` (default: neurona's global generator,
    seeded by ``neurona.manual_seed``). The signature is PyTorch's;
    ``inplace`` is accepted, and the result is always a new tensor.
    """
    x = as_tensor(x)
    p = _check_p(p, "dropout")
    if not training or p == 0.0:
        return x
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    xp = get_array_module(x.array)
    if p == 1.0:
        mask = xp.zeros(x.shape, dtype)
    else:
        u = _gen(generator).random(x.shape, dtype=np.float32 if dtype != np.float64 else np.float64)
        fast = kernels.lookup("dropout", x.array)
        if fast is not None:
            return fast(u, p)(x)
        keep = u >= p
        mask = keep.astype(dtype)
        mask *= dtype.type(1.0 / (1.0 - p))
        mask = xp.asarray(mask)  # drawn on the host by the seeded generator, used where x lives
    return DropoutMask(mask)(x)


def gaussian_noise(x, std: float, training: bool = True, generator: np.random.Generator | None = None) -> Tensor:
    """x + ε with ε ~ N(0, std²) drawn afresh each call in training; the identity otherwise."""
    x = as_tensor(x)
    std = float(std)
    if std < 0:
        raise ValueError(f"gaussian_noise: std must be non-negative, got {std}")
    if not training or std == 0.0:
        return x
    noise = _gen(generator).standard_normal(x.shape).astype(x.dtype, copy=False)
    noise *= x.dtype.type(std)
    return x + from_numpy(get_array_module(x.array).asarray(noise))
