"""Attention: scaled dot-product attention and the masks it takes.

The notes' "arquitectura totalmente con modelos de atención" rests on one
operation. Each query q_i looks at every key k_j, scores how well they match,
turns the scores into weights with a softmax, and returns the weighted mean
of the values:

    α_ij = softmax_j(q_i · k_j / √E + m_ij),    out_i = Σ_j α_ij v_j

(Vaswani et al. 2017, eq. 1), with E the size of a query and m_ij an
additive mask: 0 where query i may look at key j, −∞ where it may not (a
padded key, a future token), or any float bias. Everything here is
composed from the primitives (matmul, softmax, dropout, where), plus one
small op, :func:`masked_softmax`, a softmax in which −∞ entries get weight 0
and a query that may look at nothing gets all-zero weights instead of the
0/0 = NaN of a plain softmax.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_array_module
from ..engine import Function, Tensor
from .activation import _dim
from .dropout import dropout
from .math import as_tensor, matmul, mul
from .layout import repeat_interleave
from .shape import transpose

__all__ = ["scaled_dot_product_attention", "masked_softmax", "causal_mask", "additive_mask",
           "scaled_dot_product_attention_weights"]


class MaskedSoftmax(Function):
    """softmax along ``axis`` in which −∞ entries get weight 0; a row of −∞ only gives zeros."""

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        m = x.max(axis=self.axis, keepdims=True)
        m = xp.where(m == -np.inf, x.dtype.type(0), m)  # an all −∞ row: exp(−∞ − 0) = 0 everywhere
        e = xp.exp(x - m)
        s = e.sum(axis=self.axis, keepdims=True)
        e /= xp.where(s > 0, s, x.dtype.type(1))
        self.y = e
        return e

    def backward(self, gy):  # as softmax: g_x = s ⊙ (g − Σ g s); masked entries have s = 0 and get 0
        y = self.y
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


def masked_softmax(x, dim: int = -1) -> Tensor:
    """softmax(x) along ``dim`` where entries equal to −∞ are left out (weight 0).

    Equal to :func:`neurona.softmax` wherever a row has a finite entry; a row
    that is −∞ everywhere (a query whose keys are all masked) gives zeros, and
    no gradient, where softmax would give NaN.

    >>> import neurona
    >>> masked_softmax(neurona.tensor([[0.0, float("-inf")], [float("-inf"), float("-inf")]]))
    tensor([[1., 0.],
            [0., 0.]])
    """
    x = as_tensor(x)
    return MaskedSoftmax(_dim(x, dim, "masked_softmax"))(x)


def causal_mask(L: int, S: int | None = None, dtype=bool, xp=np):
    """The causal (lower-triangular) mask of L queries over S keys (default S = L): query i sees keys j ≤ i.

    Boolean (True where attention is allowed, as ``scaled_dot_product_attention`` reads it) or, for a
    float dtype, additive (0 where allowed, −∞ above the diagonal).
    """
    S = L if S is None else S
    allowed = xp.tril(xp.ones((int(L), int(S)), dtype=bool))
    d = np.dtype(dtype)
    if d == np.bool_:
        return allowed
    return xp.where(allowed, d.type(0), d.type(-np.inf))


def additive_mask(mask, dtype, op: str = "attention", true_means: str = "keep"):
    """A boolean or float mask (array or Tensor) as an additive float mask.

    Booleans become 0 / −∞: with ``true_means='keep'`` (PyTorch's scaled_dot_product_attention) True
    marks the pairs that take part; with ``true_means='mask'`` (PyTorch's MultiheadAttention and
    Transformer layers) True marks the pairs left out. A float Tensor is returned as is (it stays
    differentiable); a float array is cast to ``dtype``. Returns an array or a Tensor.
    """
    if mask is None:
        return None
    a = mask.array if isinstance(mask, Tensor) else mask
    xp = get_array_module(a)
    a = xp.asarray(a)
    if a.dtype == np.bool_:
        keep = a if true_means == "keep" else ~a
        return xp.where(keep, np.dtype(dtype).type(0), np.dtype(dtype).type(-np.inf))
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: a mask must be boolean or floating point, got dtype {a.dtype}")
    if isinstance(mask, Tensor):
        if mask.dtype != np.dtype(dtype):
            raise TypeError(f"{op}: a float mask must have the dtype of the query ({np.dtype(dtype)}), got {mask.dtype}")
        return mask
    return a.astype(dtype, copy=False)


def _check_qkv(q: Tensor, k: Tensor, v: Tensor, op: str) -> None:
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dimensions (..., length, features), got {t.shape}")
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be floating point, got dtype {t.dtype}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"{op}: query, key and value must share one dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{op}: query and key must have the same feature size (last dim), got query {q.shape} "
                         f"and key {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: key and value must have the same length (dim -2), got key {k.shape} and "
                         f"value {v.shape}")


def scaled_dot_product_attention_weights(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                         is_causal: bool = False, scale: float | None = None,
                                         enable_gqa: bool = False, *, generator=None,
                                         op: str = "scaled_dot_product_attention") -> tuple[Tensor, Tensor]:
    """:func:`scaled_dot_product_attention` that also returns the attention weights α (after dropout)."""
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    _check_qkv(q, k, v, op)
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if hk == 0 or hq % hk or v.shape[-3] != hk:
            raise ValueError(f"{op}: with enable_gqa the query heads ({hq}) must be a multiple of the key/value "
                             f"heads, got key {k.shape} and value {v.shape}")
        k, v = repeat_interleave(k, hq // hk, dim=-3), repeat_interleave(v, hq // hk, dim=-3)
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: the batch dimensions of query {q.shape}, key {k.shape} and value {v.shape} do "
                         f"not broadcast") from None
    if scale is None:
        scale = 1.0 / math.sqrt(E) if E else 1.0
    scores = mul(matmul(q, transpose(k, -2, -1)), float(scale))          # (..., L, S)
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{op}: give either attn_mask or is_causal=True, not both")
        attn_mask = causal_mask(L, S, xp=get_array_module(q.array))
    if attn_mask is not None:
        m = additive_mask(attn_mask, q.dtype, op)
        mshape = m.shape
        try:
            full = np.broadcast_shapes(mshape, batch + (L, S))
        except ValueError:
            full = None
        if full != batch + (L, S):
            raise ValueError(f"{op}: attn_mask of shape {tuple(mshape)} does not broadcast to the attention "
                             f"weights' shape {batch + (L, S)} (batch..., L queries, S keys)")
        scores = scores + m  # a host mask joins the scores' device
    attn = masked_softmax(scores, -1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, True, generator=generator)
    return matmul(attn, v), attn


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √E + M) V, PyTorch's ``F.scaled_dot_product_attention``.

    query (..., L, E), key (..., S, E), value (..., S, Ev) → (..., L, Ev); the batch dimensions
    (e.g. batch and heads) broadcast. ``attn_mask`` broadcasts to (..., L, S): boolean, True where
    a query may attend to a key, or float, added to the scores (a float Tensor receives a gradient).
    ``is_causal=True`` lets query i attend to keys j ≤ i only (no attn_mask then). ``scale``
    replaces 1/√E. ``dropout_p`` drops attention weights (always, as PyTorch: pass 0.0 when not
    training). ``enable_gqa``: key and value may have fewer heads (dim -3) than the query, each
    shared by a group of query heads. A query whose keys are all masked gets a zero output.

    >>> import neurona
    >>> q = k = v = neurona.randn(2, 4, 5, 8)          # batch 2, 4 heads, 5 tokens, 8 features
    >>> scaled_dot_product_attention(q, k, v, is_causal=True).shape
    neurona.Size([2, 4, 5, 8])
    """
    return scaled_dot_product_attention_weights(query, key, value, attn_mask, dropout_p, is_causal, scale,
                                                enable_gqa)[0]
