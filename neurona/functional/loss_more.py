"""More of PyTorch's losses, composed of differentiable ops (their gradients are the ops').

With per-sample losses ℓ_n, ``reduction`` gives mean_n ℓ_n ('mean'), Σ_n ℓ_n ('sum') or ℓ ('none'):

- triplet_margin_loss:  ℓ = max(d(a, p) − d(a, n) + margin, 0), d the p-norm distance
- cosine_embedding_loss: ℓ = 1 − cos(x₁, x₂) if y = 1, max(0, cos(x₁, x₂) − margin) if y = −1
- margin_ranking_loss:  ℓ = max(0, −y·(x₁ − x₂) + margin)
- poisson_nll_loss:     ℓ = exp(x) − t·x (log_input), x − t·log(x + ε) otherwise (+ Stirling's term if full)
- gaussian_nll_loss:    ℓ = ½(log v + (x − t)²/v) (+ ½ log 2π if full), v clamped to ≥ ε
- multi_margin_loss:    ℓ = Σ_{i≠y} w_y·max(0, margin − x_y + x_i)^p / C
- soft_margin_loss:     ℓ = log(1 + exp(−y·x)), averaged over the elements
- multilabel_soft_margin_loss: ℓ = −mean_c w_c [y_c log σ(x_c) + (1 − y_c) log σ(−x_c)]
"""
from __future__ import annotations

import math

import numpy as np

from ..engine import Tensor, _wrap, no_grad
from .activation import logsigmoid, relu
from .math import as_tensor, where

__all__ = ["triplet_margin_loss", "cosine_embedding_loss", "margin_ranking_loss", "poisson_nll_loss",
           "gaussian_nll_loss", "multi_margin_loss", "soft_margin_loss", "multilabel_soft_margin_loss"]


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _float(x, op: str) -> Tensor:
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expects floating-point inputs, got {x.dtype}")
    return x


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, *, reduction: str = "mean") -> Tensor:
    """Pull the anchor towards the positive and push it from the negative by at least ``margin``."""
    from .linalg import pairwise_distance

    a, pos, neg = (_float(t, "triplet_margin_loss") for t in (anchor, positive, negative))
    d_ap = pairwise_distance(a, pos, p, eps)
    d_an = pairwise_distance(a, neg, p, eps)
    if swap:  # the harder of the two negatives' distances (the "distance swap")
        d_pn = pairwise_distance(pos, neg, p, eps)
        d_an = where(d_pn < d_an, d_pn, d_an)
    return _reduce(relu(d_ap - d_an + margin), reduction, "triplet_margin_loss")


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, *, reduction: str = "mean") -> Tensor:
    """Make cos(x₁, x₂) high for pairs labelled 1 and below ``margin`` for pairs labelled −1."""
    x1, x2 = _float(input1, "cosine_embedding_loss"), _float(input2, "cosine_embedding_loss")
    y = as_tensor(target)
    eps = 1e-12  # as PyTorch: under the square root with each norm, so a zero vector gives cos = 0
    dot = (x1 * x2).sum(-1)
    cos = dot / ((x1 * x1).sum(-1) + eps).sqrt() / ((x2 * x2).sum(-1) + eps).sqrt()
    zero = cos.dtype.type(0)
    loss = where(y == 1, 1 - cos, zero) + where(y == -1, relu(cos - margin), zero)
    return _reduce(loss, reduction, "cosine_embedding_loss")


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, *, reduction: str = "mean") -> Tensor:
    """Rank x₁ above x₂ where y = 1 (below where y = −1) by at least ``margin``."""
    x1, x2 = _float(input1, "margin_ranking_loss"), _float(input2, "margin_ranking_loss")
    y = as_tensor(target, like=x1)
    return _reduce(relu(-y * (x1 - x2) + margin), reduction, "margin_ranking_loss")


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False, eps: float = 1e-8, *,
                     reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of counts ``target`` under a Poisson of rate exp(input) (or input)."""
    x = _float(input, "poisson_nll_loss")
    t = as_tensor(target, like=x)
    loss = x.exp() - t * x if log_input else x - t * (x + eps).log()
    if full:  # Stirling's approximation of log(t!), where t > 1
        ta = t.array
        safe = np.where(ta > 1, ta, 1)
        stirling = np.where(ta > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe), 0)
        loss = loss + _wrap(stirling.astype(x.dtype))
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6, *,
                      reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of ``target`` under a normal of mean ``input`` and variance ``var``.

    ``var`` has the input's shape, or one fewer dimension / a last dimension of
    1 (one variance per sample). Values below ``eps`` are raised to it for
    stability without stopping the gradient (as in PyTorch).
    """
    x = _float(input, "gaussian_nll_loss")
    t = as_tensor(target, like=x)
    v = _float(var, "gaussian_nll_loss")
    if tuple(v.shape) != tuple(x.shape):
        if tuple(x.shape[:-1]) == tuple(v.shape):
            v = v.unsqueeze(-1)
        elif not (tuple(x.shape[:-1]) == tuple(v.shape[:-1]) and v.shape[-1] == 1):
            raise ValueError(f"gaussian_nll_loss: var of shape {tuple(v.shape)} does not match the input's "
                             f"{tuple(x.shape)}")
    if np.any(v.array < 0):
        raise ValueError("gaussian_nll_loss: var has negative entries")
    with no_grad():  # the clamp lifts the values only: the gradient passes as if v were used as it is
        lift = _wrap(np.maximum(v.array, eps) - v.array)
    v = v + lift
    loss = 0.5 * (v.log() + (x - t) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None, *,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge loss: every wrong class's score should trail the right one's by ``margin``."""
    x = _float(input, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2, got {p}")
    unbatched = x.ndim == 1
    if unbatched:
        x = x.unsqueeze(0)
    y = np.asarray(target.array if isinstance(target, Tensor) else target).reshape(-1).astype(np.int64)
    N, C = x.shape
    if y.shape[0] != N or (y.size and (y.min() < 0 or y.max() >= C)):
        raise ValueError(f"multi_margin_loss: target must hold {N} class indices in 0..{C - 1}, got {y.tolist()}")
    rows = np.arange(N)
    x_y = x[_wrap(rows), _wrap(y)].unsqueeze(1)
    h = relu(margin - x_y + x)
    if p == 2:
        h = h * h
    if weight is not None:
        w = as_tensor(weight, like=x)
        h = h * w[_wrap(y)].unsqueeze(1)
    other = np.ones((N, C), x.dtype)
    other[rows, y] = 0
    loss = (h * _wrap(other)).sum(1) / C
    if unbatched:
        loss = loss.squeeze(0)
    return _reduce(loss, reduction, "multi_margin_loss")


def soft_margin_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """The two-class logistic loss log(1 + exp(−y·x)) for labels y = ±1."""
    x = _float(input, "soft_margin_loss")
    y = as_tensor(target, like=x)
    return _reduce(-logsigmoid(y * x), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """One logistic loss per class, averaged over the classes: multi-label classification with 0/1 targets."""
    x = _float(input, "multilabel_soft_margin_loss")
    y = as_tensor(target, like=x)
    per = -(y * logsigmoid(x) + (1 - y) * logsigmoid(-x))
    if weight is not None:
        per = per * as_tensor(weight, like=x)
    return _reduce(per.mean(-1), reduction, "multilabel_soft_margin_loss")
