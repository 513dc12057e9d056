"""Embeddings: a table lookup with a learnable table, bags of embeddings, and one-hot codes.

The notes' word representation: one-hot codes, v(casa) = [0, 1, 0, 0], are
long, sparse and put every pair of words at the same distance; a word
embedding maps each of the |V| words to a short dense vector learned with
the network, so that words used alike end up close. Multiplying a one-hot
row by a (|V|, D) matrix W selects one row of W,

    one_hot(k) · W = W[k],

so an embedding layer is that product computed as a lookup, and its
gradient is the product's: ∂L/∂W[k] = Σ over the positions that looked up
k of ∂L/∂y at that position (a scatter-add of the output gradients into
the rows they came from). ``padding_idx`` names a row that is looked up
like any other but never learns (its gradient is 0).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import get_array_module
from ..creation import from_numpy
from ..engine import Function, Tensor
from .math import as_tensor

__all__ = ["embedding", "embedding_bag", "one_hot", "scatter_rows"]


def scatter_rows(n_rows: int, index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """out[k] = Σ_{j: index[j] = k} values[j]: an (n_rows, D) array (a sorted segment sum, deterministic).

    Same result as ``np.add.at(zeros, index, values)``, several times faster: the rows are sorted by
    index once and each run of equal indices is summed with ``np.add.reduceat``.
    """
    xp = get_array_module(values)
    out = xp.zeros((n_rows,) + values.shape[1:], values.dtype)
    if index.size == 0:
        return out
    index = xp.asarray(index)
    order = xp.argsort(index, kind="stable")
    si = index[order]
    starts = xp.flatnonzero(xp.concatenate((xp.ones(1, bool), si[1:] != si[:-1])))
    out[si[starts]] = xp.add.reduceat(values[order], starts, axis=0)
    return out


def _indices(input, num_embeddings: int, op: str) -> np.ndarray:
    idx = input.array if isinstance(input, Tensor) else get_array_module(input).asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers (int64), got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_embeddings):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"{op}: index {bad} is out of range for a table of {num_embeddings} rows "
                         f"(valid: 0..{num_embeddings - 1})")
    return idx


def _check_padding_idx(padding_idx, n: int, op: str):
    if padding_idx is None:
        return None
    p = int(padding_idx)
    if not -n <= p < n:
        raise ValueError(f"{op}: padding_idx {padding_idx} is out of range for {n} embeddings")
    return p % n


def _renorm_(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale, in place and outside the graph, the looked-up rows whose norm exceeds max_norm."""
    rows = np.unique(idx)
    w = weight.array
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        r = rows[big]
        w[r] *= (max_norm / (norms[big] + 1e-7)).astype(w.dtype)[:, None]


class EmbeddingLookup(Function):
    """y = W[idx]; ∂L/∂W[k] = Σ_{positions p with idx_p = k} ∂L/∂y_p (0 for the padding row)."""

    def __init__(self, idx, padding_idx=None, scale_grad_by_freq=False):
        self.idx, self.padding_idx, self.scale = idx, padding_idx, scale_grad_by_freq

    def forward(self, w):
        self.n = w.shape[0]
        return w[self.idx]

    def backward(self, gy):
        idx = self.idx.reshape(-1)
        g2 = gy.reshape(idx.size, -1)
        if self.scale:  # each row's gradient divided by how often the row occurs in the batch
            counts = np.bincount(idx, minlength=self.n)
            g2 = g2 / counts[idx].astype(g2.dtype)[:, None]
        gw = scatter_rows(self.n, idx, g2)
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw


def embedding(input, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, D) at integer ``input`` (any shape) → (*input.shape, D).

    Equivalent to one_hot(input) @ weight. With ``max_norm``, looked-up rows longer than it are rescaled
    in place first (as PyTorch). ``padding_idx``'s row gets no gradient.

    >>> import neurona
    >>> w = neurona.randn(10, 3)
    >>> embedding(neurona.tensor([[1, 2], [4, 9]]), w).shape
    (2, 2, 3)
    """
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    idx = _indices(input, weight.shape[0], "embedding")
    p = _check_padding_idx(padding_idx, weight.shape[0], "embedding")
    if max_norm is not None:
        _renorm_(weight, idx.reshape(-1), float(max_norm), norm_type)
    return EmbeddingLookup(idx, p, scale_grad_by_freq)(weight)


class EmbeddingBagOp(Function):
    """One row per bag: the sum, mean or max of the embeddings of the bag's indices.

    ``idx`` (N,) flat indices, ``bag`` (N,) bag number of each, ``starts`` the first position of each
    non-empty bag, ``sizes`` (B,) the bag sizes. Optional second input: per-sample weights (N,) (sum).
    """

    def __init__(self, idx, bag, starts, sizes, mode):
        # the bookkeeping is computed on the host; the op keeps it on the weights' device
        self.idx, self.bag, self.starts, self.sizes, self.mode = idx, bag, starts, sizes, mode

    def _to(self, xp):
        if xp is not np:
            self.idx, self.bag, self.starts, self.sizes = (xp.asarray(a) for a in (self.idx, self.bag, self.starts,
                                                                                   self.sizes))

    def forward(self, w, psw=None):
        xp = get_array_module(w)
        self._to(xp)
        B, D = self.sizes.shape[0], w.shape[1]
        self.n = w.shape[0]
        out = xp.zeros((B, D), w.dtype)
        if self.idx.size == 0:
            return out
        E = w[self.idx]
        nonempty = self.sizes > 0
        if self.mode == "max":
            # scatter-max by bag (ufunc.at: CuPy has maximum.at and minimum.at, not their reduceat)
            out[nonempty] = -xp.inf
            xp.maximum.at(out, self.bag, E)
            # first position holding each (bag, feature) maximum: the one that gets the gradient
            pos = xp.where(E == out[self.bag], xp.arange(E.shape[0])[:, None], E.shape[0])
            first = xp.full((B, D), E.shape[0], pos.dtype)
            xp.minimum.at(first, self.bag, pos)
            self.argmax = first[nonempty]                                  # (nonempty bags, D)
            return out
        if psw is not None:
            self.E, self.psw = E, psw
            E = E * psw[:, None]
        out[nonempty] = xp.add.reduceat(E, self.starts, axis=0)
        if self.mode == "mean":
            out[nonempty] /= self.sizes[nonempty].astype(w.dtype)[:, None]
        return out

    def backward(self, gy):
        xp = get_array_module(gy)
        D = gy.shape[1]
        if self.idx.size == 0:
            return (xp.zeros((self.n, D), gy.dtype),) + ((xp.zeros(0, gy.dtype),) if len(self.needs) == 2 else ())
        if self.mode == "max":
            nonempty = self.sizes > 0
            gne = gy[nonempty]                                  # (nonempty bags, D)
            rows = self.idx[self.argmax]                        # table row behind each maximum
            gw = xp.zeros((self.n, D), gy.dtype)
            cols = xp.broadcast_to(xp.arange(D), rows.shape)
            xp.add.at(gw, (rows.ravel(), cols.ravel()), gne.ravel())
            return gw
        g = gy[self.bag]                                        # (N, D): each index gets its bag's gradient
        if self.mode == "mean":
            g = g / self.sizes[self.bag].astype(gy.dtype)[:, None]
        gpsw = None
        if len(self.needs) == 2:
            if self.needs[1]:
                gpsw = xp.einsum("nd,nd->n", g, self.E)        # ∂L/∂s_j = ∂L/∂y_bag · W[idx_j]
            g = g * self.psw[:, None]
        gw = scatter_rows(self.n, self.idx, g) if self.needs[0] else None
        return (gw, gpsw) if len(self.needs) == 2 else gw


def embedding_bag(input, weight: Tensor, offsets=None, mode: str = "mean", per_sample_weights=None,
                  padding_idx: int | None = None, include_last_offset: bool = False,
                  max_norm: float | None = None, norm_type: float = 2.0) -> Tensor:
    """Sum, mean or max of the embeddings of each bag of indices, without materializing (N, D) per bag.

    Either ``input`` is 2-D (B, L) (B bags of L indices), or 1-D (N,) with ``offsets`` (B,) giving the
    start of each bag (``include_last_offset``: offsets has B + 1 entries, the last one N). Indices equal
    to ``padding_idx`` are left out of their bag (and of its count for 'mean'); an empty bag gives
    zeros. ``per_sample_weights`` (same shape as input) weight each embedding, with ``mode='sum'``.
    Returns (B, D).

    >>> import neurona
    >>> w = neurona.randn(10, 4)
    >>> embedding_bag(neurona.tensor([1, 2, 4, 5, 4, 3]), w, neurona.tensor([0, 2]), mode="sum").shape
    (2, 4)
    """
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"embedding_bag: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    n = weight.shape[0]
    idx = backend.to_numpy(_indices(input, n, "embedding_bag"))  # bag bookkeeping runs on the host
    psw = None
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"embedding_bag: per_sample_weights work with mode='sum' only, got mode={mode!r}")
        psw = as_tensor(per_sample_weights, like=weight)
        if psw.shape != idx.shape:
            raise ValueError(f"embedding_bag: per_sample_weights must have the shape of input {idx.shape}, "
                             f"got {psw.shape}")
        if psw.dtype != weight.dtype:
            raise TypeError(f"embedding_bag: per_sample_weights dtype {psw.dtype} differs from weight's {weight.dtype}")
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets must be None when input is 2-D (each row is a bag)")
        B, L = idx.shape
        starts_all = np.arange(B, dtype=np.int64) * L
        flat = idx.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: a 1-D input needs offsets (the start of each bag)")
        off = backend.to_numpy(offsets.array if isinstance(offsets, Tensor) else np.asarray(offsets))
        off = off.astype(np.int64).reshape(-1)
        N = idx.shape[0]
        if include_last_offset:
            if off.size == 0 or off[-1] != N:
                raise ValueError(f"embedding_bag: with include_last_offset the last offset must equal the input "
                                 f"length {N}, got {off[-1] if off.size else 'no offsets'}")
            off = off[:-1]
        if off.size and (off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] > N):
            raise ValueError(f"embedding_bag: offsets must start at 0, never decrease and stay within the input "
                             f"length {N}, got {off.tolist()[:10]}")
        starts_all = off
        flat = idx
    else:
        raise ValueError(f"embedding_bag: input must be 1-D (with offsets) or 2-D (bags as rows), got {idx.shape}")
    B = starts_all.shape[0]
    N = flat.shape[0]
    bag = np.zeros(N, np.int64)
    if B:
        bag = np.searchsorted(starts_all, np.arange(N), side="right") - 1
    keep = None
    p = _check_padding_idx(padding_idx, n, "embedding_bag")
    if p is not None:
        keep = flat != p
        flat, bag = flat[keep], bag[keep]
    sizes = np.bincount(bag, minlength=B).astype(np.int64) if B else np.zeros(0, np.int64)
    ends = np.cumsum(sizes)
    starts = (ends - sizes)[sizes > 0]
    if max_norm is not None:
        _renorm_(weight, flat, float(max_norm), norm_type)
    op = EmbeddingBagOp(flat, bag, starts, sizes, mode)
    if psw is None:
        return op(weight)
    pw = psw.reshape(-1)
    if keep is not None:
        pw = pw[keep]
    return op(weight, pw)


def one_hot(tensor, num_classes: int = -1, dtype=np.int64) -> Tensor:
    """One-hot codes: (...,) integer class indices → (..., num_classes), 1 at each index, 0 elsewhere.

    ``num_classes=-1`` takes max(index) + 1. The result is int64 like PyTorch's (``dtype`` changes it,
    e.g. ``neurona.float32`` to feed a layer directly). The notes' v(casa) = [0, 1, 0, 0].

    >>> import neurona
    >>> one_hot(neurona.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    idx = tensor.array if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {idx.dtype}")
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: class indices must be non-negative, got {idx.min()}")
    top = int(idx.max()) + 1 if idx.size else 0
    if num_classes == -1:
        num_classes = top
    elif top > num_classes:
        raise ValueError(f"one_hot: class index {top - 1} is out of range for num_classes={num_classes}")
    xp = get_array_module(idx)
    out = xp.zeros(idx.shape + (int(num_classes),), dtype)
    xp.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return from_numpy(out)
