"""Gradient clipping, weight penalties and flat parameter vectors (``neurona.nn.utils``).

The notes' remedies for exploding gradients ("Recorte del gradiente y
Regularización"):

- *gradiente escalado*: rescale the whole gradient vector so that its norm
  is at most a given value → :func:`clip_grad_norm_`;
- *recorte de gradiente*: force each gradient element into a fixed range →
  :func:`clip_grad_value_`;
- *regularización*: add q_S(Θ) + λ/2 Σ θ² (L2) or q_S(Θ) + λ Σ |θ| (L1) to the
  objective → :func:`l2_penalty`, :func:`l1_penalty`.
"""
from __future__ import annotations

import math

import numpy as np

from ...creation import from_numpy
from ...functional import math as _m
from ...functional import reduce as _r
from ...engine import Tensor

__all__ = ["rnn", "clip_grad_value_", "clip_grad_norm_", "l1_penalty", "l2_penalty", "parameters_to_vector",
           "vector_to_parameters"]


def _params(parameters, op: str) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        ps = list(parameters)
    except TypeError:
        raise TypeError(f"{op}: expected a Tensor or an iterable of Tensors (e.g. model.parameters()), "
                        f"got {type(parameters).__name__}") from None
    for i, p in enumerate(ps):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: item {i} is a {type(p).__name__}, not a Tensor")
    return ps


def clip_grad_value_(parameters, clip_value: float) -> None:
    """*Recorte de gradiente*: clip every gradient element into [−clip_value, clip_value], in place.

    Call between ``loss.backward()`` and ``optimizer.step()``.
    """
    c = float(clip_value)
    if c < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for p in _params(parameters, "clip_grad_value_"):
        if p.grad is not None:
            g = p.grad.array
            # a new array: the old one may still be referenced by the graph that produced it
            p.grad.array = np.clip(g, g.dtype.type(-c), g.dtype.type(c))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """*Gradiente escalado*: rescale all gradients together so their global norm is at most ``max_norm``.

    The norm is taken over all gradients as one vector, ‖g‖ = (Σ_p Σ_i |g_pi|^q)^{1/q}
    (q = ``norm_type``; ``float('inf')`` gives max |g|). When ‖g‖ > max_norm every
    gradient is multiplied by max_norm/(‖g‖ + 1e-6). Returns ‖g‖ before clipping
    as a 0-d tensor (``float(...)`` gives the number), like PyTorch.

    >>> import neurona
    >>> w = neurona.nn.Parameter(neurona.tensor([3.0, 4.0]))
    >>> (w * w).sum().backward()          # grad = [6, 8], norm 10
    >>> float(neurona.nn.utils.clip_grad_norm_([w], max_norm=1.0))
    10.0
    >>> w.grad
    tensor([0.6, 0.8])
    """
    ps = [p for p in _params(parameters, "clip_grad_norm_") if p.grad is not None]
    max_norm, q = float(max_norm), float(norm_type)
    if q <= 0 and not math.isinf(q):
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    out_dtype = ps[0].grad.array.dtype if ps else np.dtype(np.float32)
    if not ps:
        return from_numpy(np.array(0.0, out_dtype))
    grads = [p.grad.array for p in ps]
    if math.isinf(q):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    elif q == 2.0:
        total = math.sqrt(sum(float(np.dot(g.ravel().astype(np.float64), g.ravel().astype(np.float64)))
                              for g in grads))
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** q)) for g in grads) ** (1.0 / q)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
                           f"pass error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in ps:
            g = p.grad.array
            p.grad.array = g * g.dtype.type(coef)  # a new array, as in clip_grad_value_
    return from_numpy(np.array(total, out_dtype))


def _penalty(parameters, name: str, term) -> Tensor:
    """Σ term(θ) over the given parameters, a differentiable scalar."""
    ps = _params(parameters, name)
    if not ps:
        raise ValueError(f"{name}: no parameters given")
    total = term(ps[0])
    for p in ps[1:]:
        total = total + term(p)
    return total


def l2_penalty(parameters) -> Tensor:
    """Σ θ² over the given parameters: a differentiable scalar for the notes' L2 regularization.

    The regularized objective q_S(Θ) + λ/2 Σ θ² is then one line::

        loss = criterion(model(x), y) + lam / 2 * nn.utils.l2_penalty(model.parameters())

    To leave the biases out, pass ``[p for n, p in model.named_parameters() if n.endswith("weight")]``;
    for the variant scaled by the number N of training samples, L = error + λ/(2N) Σ W², write
    ``lam / (2 * N) * nn.utils.l2_penalty(...)``.
    """
    return _penalty(parameters, "l2_penalty", lambda p: _r.sum(p * p))


def l1_penalty(parameters) -> Tensor:
    """Σ |θ| over the given parameters, for the notes' L1 regularization: ``loss + lam * l1_penalty(...)``."""
    return _penalty(parameters, "l1_penalty", lambda p: _r.sum(_m.abs(p)))


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor (differentiable)."""
    from ...functional.shape import cat, reshape
    ps = _params(parameters, "parameters_to_vector")
    if not ps:
        raise ValueError("parameters_to_vector: no parameters given")
    return cat([reshape(p, -1) for p in ps])


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters' values (in place, not recorded)."""
    ps = _params(parameters, "vector_to_parameters")
    v = vec.array if isinstance(vec, Tensor) else np.asarray(vec)
    if v.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector, got shape {v.shape}")
    need = sum(int(p.array.size) for p in ps)
    if v.size != need:
        raise ValueError(f"vector_to_parameters: the vector has {v.size} elements, the parameters hold {need}")
    start = 0
    for p in ps:
        n = int(p.array.size)
        p.array[...] = v[start:start + n].reshape(p.shape)
        start += n
from . import rnn  # noqa: E402  (torch.nn.utils.rnn: padded and packed batches of sequences)
