"""Group, instance and local response normalization, composed of differentiable ops.

- group_norm: the C channels of each sample fall into G groups; each group is
  normalized with its own mean and (biased) variance, x̂ = (x − μ_g)/√(σ²_g + ε),
  then y = γ_c x̂ + β_c per channel. G = 1 is layer norm over (C, *), G = C
  is instance norm.
- instance_norm: each (sample, channel) map normalized on its own (style
  transfer, GANs); with running statistics it tracks them like batch norm.
- local_response_norm (AlexNet's LRN): each activation divided by
  (k + α/n · Σ of the squares of its n neighbouring channels)^β.
"""
from __future__ import annotations

import numpy as np

from ..engine import Tensor, _wrap
from ..engine import no_grad
from .math import as_tensor

__all__ = ["group_norm", "instance_norm", "local_response_norm"]


def _affine(y: Tensor, weight, bias) -> Tensor:
    shape = (1, -1) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(*shape)
    if bias is not None:
        y = y + bias.reshape(*shape)
    return y


def group_norm(input, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize each of ``num_groups`` channel groups of every sample of (N, C, *) (PyTorch's ``F.group_norm``).

    >>> import neurona
    >>> y = neurona.nn.functional.group_norm(neurona.randn(2, 4, 3), 2)
    >>> round(float(y[0, :2].mean()), 6) == 0.0
    True
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input (N, C, *), got shape {tuple(x.shape)}")
    N, C = x.shape[0], x.shape[1]
    if C % num_groups:
        raise ValueError(f"group_norm: {C} channels do not split into {num_groups} groups")
    g = x.reshape(N, num_groups, -1)
    mu = g.mean(-1, keepdim=True)
    var = g.var(-1, unbiased=False, keepdim=True)
    y = ((g - mu) / (var + eps).sqrt()).reshape(*x.shape)
    return _affine(y, weight, bias)


def instance_norm(input, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each (sample, channel) map of (N, C, *) with its own statistics (PyTorch's ``F.instance_norm``).

    With ``running_mean``/``running_var`` and ``use_input_stats`` they are
    updated in place with the batch average of the maps' statistics
    (running ← (1 − momentum)·running + momentum·stat, the variance unbiased);
    ``use_input_stats=False`` normalizes with them instead.
    """
    x = as_tensor(input)
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected an input (N, C, *) with at least one spatial dimension, got "
                         f"shape {tuple(x.shape)}")
    axes = tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if use_input_stats:
        mu = x.mean(axes, keepdim=True)
        var = x.var(axes, unbiased=False, keepdim=True)
        if running_mean is not None or running_var is not None:
            n = int(np.prod([x.shape[a] for a in axes]))
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(mu.detach().mean(0).reshape(-1) * momentum)
                if running_var is not None:
                    unbiased = var.detach() * (n / max(n - 1, 1))
                    running_var.mul_(1 - momentum).add_(unbiased.mean(0).reshape(-1) * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        mu, var = running_mean.reshape(*shape), running_var.reshape(*shape)
    return _affine((x - mu) / (var + eps).sqrt(), weight, bias)


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """y_c = x_c / (k + α/n · Σ_{c' near c} x_c'²)^β over ``size`` = n neighbouring channels (zeros past the
    edges), for (N, C, *) inputs (PyTorch's ``F.local_response_norm``; AlexNet's LRN with n=5, α=1e-4,
    β=0.75, k=2)."""
    x = as_tensor(input)
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected an input (N, C, *) of 3 or more dimensions, got shape "
                         f"{tuple(x.shape)}")
    C = x.shape[1]
    sq = x * x
    before, after = size // 2, (size - 1) // 2
    from .shape import cat
    tail = tuple(x.shape[2:])
    parts = []
    if before:
        parts.append(_wrap(np.zeros((x.shape[0], before) + tail, x.dtype)))
    parts.append(sq)
    if after:
        parts.append(_wrap(np.zeros((x.shape[0], after) + tail, x.dtype)))
    padded = cat(parts, 1) if len(parts) > 1 else sq
    total = padded.narrow(1, 0, C)
    for j in range(1, size):
        total = total + padded.narrow(1, j, C)
    return x / (total * (alpha / size) + k) ** beta
