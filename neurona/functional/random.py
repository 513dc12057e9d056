"""Sampling ops: multinomial, bernoulli, normal, poisson.

They draw from neurona's global generator (``neurona.manual_seed``) or the
``generator`` given, and are not differentiable: the samples are data.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import get_array_module, get_default_dtype
from ..engine import Tensor
from .math import as_tensor

__all__ = ["multinomial", "bernoulli", "normal", "poisson"]


def _rng(generator, xp=np):
    """The generator drawing arrays of ``xp`` (NumPy: ``generator`` or the global one; a device: its own)."""
    from ..creation import device_generator
    return device_generator(xp, generator)


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Draw category indices (int64) with probabilities proportional to the rows of ``input``.

    ``input`` is 1-D (one distribution) or 2-D (one per row), non-negative,
    not necessarily normalised. Without ``replacement`` each category is
    drawn at most once per row, so ``num_samples`` ≤ the number of categories
    with nonzero weight.

    >>> import neurona
    >>> neurona.multinomial(neurona.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
    tensor([1, 1])
    """
    w = as_tensor(input).array
    dev = backend.device_of(w)
    w = backend.to_numpy(w)  # drawn on the host, row by row: the same indices on every device
    if w.ndim not in (1, 2):
        raise ValueError(f"multinomial: input must be 1-D or 2-D, got shape {w.shape}")
    if w.dtype.kind != "f":
        raise TypeError(f"multinomial: input must be floating-point weights, got {w.dtype}")
    if num_samples < 1:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("multinomial: weights must be finite and non-negative")
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
    sums = rows.sum(axis=1)
    if (sums <= 0).any():
        raise ValueError("multinomial: every distribution needs a positive total weight")
    if not replacement:
        available = int((rows > 0).sum(axis=1).min())
        if num_samples > available:
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                             f"{available} categories with nonzero weight")
    rng = _rng(generator)
    out = np.stack([rng.choice(rows.shape[1], size=num_samples, replace=replacement, p=r / s)
                    for r, s in zip(rows, sums)]).astype(np.int64)
    return Tensor(backend.to_device(out.reshape(w.shape[:-1] + (num_samples,)), dev))


def bernoulli(input, p: float | None = None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (elementwise, or ``p`` for every element), else 0; the dtype of ``input``."""
    x = as_tensor(input)
    xp = get_array_module(x.array)
    prob = x.array if p is None else xp.full(x.shape, p)
    if (prob < 0).any() or (prob > 1).any():
        raise ValueError("bernoulli: probabilities must lie in [0, 1]")
    draw = _rng(generator, xp).random(x.shape) < prob
    dtype = x.array.dtype if x.array.dtype.kind == "f" or p is not None else get_default_dtype()
    return Tensor(draw, dtype=dtype)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None) -> Tensor:
    """Normal samples with the given ``mean`` and ``std`` (numbers or tensors, broadcast), or of ``size``."""
    given = [t.array for t in (mean, std) if isinstance(t, Tensor)]
    xp = get_array_module(*given) if given else backend.array_module_for(None)
    m = mean.array if isinstance(mean, Tensor) else xp.asarray(mean)
    s = std.array if isinstance(std, Tensor) else xp.asarray(std)
    if (s < 0).any():
        raise ValueError("normal: std must be non-negative")
    shape = tuple(size) if size is not None else np.broadcast_shapes(m.shape, s.shape)
    floats = [a.dtype for a in (m, s) if a.dtype.kind == "f" and a.ndim]
    d = np.dtype(dtype) if dtype is not None else (floats[0] if floats else get_default_dtype())
    z = _rng(generator, xp).standard_normal(shape)
    return Tensor(m + s * z, dtype=d)


def poisson(input, generator=None) -> Tensor:
    """Poisson samples with rates ``input`` (elementwise), in the dtype of ``input``."""
    x = as_tensor(input)
    return Tensor(_rng(generator, get_array_module(x.array)).poisson(x.array), dtype=x.array.dtype)
