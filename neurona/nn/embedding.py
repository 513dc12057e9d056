"""Embedding layers: ``Embedding`` (a learnable lookup table) and ``EmbeddingBag`` (sums, means or
maxima of bags of embeddings), with PyTorch's names, signatures and initialization.

An embedding is the product of a one-hot code with a weight matrix, one_hot(k) · W = W[k], computed
as a lookup. The notes: one-hot codes are long and put every two words at the same distance; word
embeddings are short dense vectors in which "las palabras con significado parecido deberían
mantenerse cerca".
"""
from __future__ import annotations

import numpy as np

from ..backend import get_default_dtype
from ..creation import from_numpy
from ..functional.embedding import _check_padding_idx, embedding, embedding_bag
from ..engine import Tensor, no_grad
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding", "EmbeddingBag"]


def _table(op: str, num_embeddings: int, embedding_dim: int, _weight, dtype) -> Parameter:
    if int(num_embeddings) <= 0 or int(embedding_dim) <= 0:
        raise ValueError(f"{op}: num_embeddings and embedding_dim must be positive, got {num_embeddings} and "
                         f"{embedding_dim}")
    if _weight is not None:
        w = _weight.array if isinstance(_weight, Tensor) else np.asarray(_weight)
        if w.shape != (num_embeddings, embedding_dim):
            raise ValueError(f"{op}: _weight must have shape ({num_embeddings}, {embedding_dim}), got {w.shape}")
        if dtype is not None:
            w = w.astype(dtype)
        elif w.dtype.kind != "f" or not isinstance(_weight, Tensor):
            w = w.astype(get_default_dtype())
        return Parameter(from_numpy(w.copy()))
    d = np.dtype(dtype) if dtype is not None else get_default_dtype()
    if d.kind != "f":
        raise TypeError(f"{op}: dtype must be a floating dtype, got {d}")
    return Parameter(from_numpy(np.empty((int(num_embeddings), int(embedding_dim)), d)))


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``; input (*) int64 → output (*, D).

    ``weight`` (num_embeddings, embedding_dim) is drawn from N(0, 1), PyTorch's default; the row of
    ``padding_idx`` starts at 0 and never receives a gradient (the padding token stays a zero vector).
    ``max_norm`` rescales looked-up rows longer than it; ``scale_grad_by_freq`` divides each row's
    gradient by its count in the batch. ``sparse`` is accepted for PyTorch compatibility; the
    gradient of ``weight`` is always a dense array (rows not looked up are 0).

    >>> import neurona
    >>> emb = neurona.nn.Embedding(10, 3, padding_idx=0)
    >>> emb(neurona.tensor([[0, 2, 5]])).shape
    (1, 3, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight=None, _freeze: bool = False, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = _check_padding_idx(padding_idx, self.num_embeddings, "Embedding")
        self.sparse = bool(sparse)
        self.max_norm, self.norm_type = max_norm, float(norm_type)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.weight = _table("Embedding", self.num_embeddings, self.embedding_dim, _weight, dtype)
        if _weight is None:
            self.reset_parameters()
        if _freeze:
            self.weight.requires_grad_(False)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1); the padding row set to 0."""
        init.normal_(self.weight)
        self._zero_padding()

    def _zero_padding(self) -> None:
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0

    def forward(self, input) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> "Embedding":
        """An Embedding holding ``embeddings`` (2-D); frozen (no gradient) unless ``freeze=False``."""
        w = embeddings.array if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if w.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {w.shape}")
        return cls(w.shape[0], w.shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s


class EmbeddingBag(Module):
    """Reduce each bag of embeddings to one vector ('sum', 'mean' or 'max') without building (N, D) per bag.

    ``forward(input, offsets=None, per_sample_weights=None)``: either a 2-D input (B, L), each row a
    bag, or a 1-D input (N,) of all indices with ``offsets`` (B,) where each bag starts. Returns (B, D).
    The usual text classifier on it: a bag of word ids per document → mean embedding → Linear.

    >>> import neurona
    >>> bag = neurona.nn.EmbeddingBag(100, 8, mode="mean")
    >>> bag(neurona.tensor([4, 8, 15, 16, 23]), offsets=neurona.tensor([0, 3])).shape
    (2, 8)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                 _weight=None, include_last_offset: bool = False, padding_idx: int | None = None, dtype=None):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        if scale_grad_by_freq:
            raise ValueError("EmbeddingBag: scale_grad_by_freq is not available for bags; use Embedding")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.max_norm, self.norm_type, self.mode = max_norm, float(norm_type), mode
        self.include_last_offset, self.sparse = bool(include_last_offset), bool(sparse)  # sparse: as Embedding's
        self.padding_idx = _check_padding_idx(padding_idx, self.num_embeddings, "EmbeddingBag")
        self.weight = _table("EmbeddingBag", self.num_embeddings, self.embedding_dim, _weight, dtype)
        if _weight is None:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1); the padding row set to 0."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0

    def forward(self, input, offsets=None, per_sample_weights=None) -> Tensor:
        return embedding_bag(input, self.weight, offsets, self.mode, per_sample_weights, self.padding_idx,
                             self.include_last_offset, self.max_norm, self.norm_type)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm: float | None = None,
                        norm_type: float = 2.0, mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False, padding_idx: int | None = None) -> "EmbeddingBag":
        """An EmbeddingBag holding ``embeddings`` (2-D); frozen unless ``freeze=False``."""
        w = embeddings.array if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if w.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape {w.shape}")
        bag = cls(w.shape[0], w.shape[1], max_norm, norm_type, False, mode, sparse, _weight=embeddings,
                  include_last_offset=include_last_offset, padding_idx=padding_idx)
        if freeze:
            bag.weight.requires_grad_(False)
        return bag

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
