"""Batches of sequences of different lengths, as PyTorch's ``torch.nn.utils.rnn``.

A batch of sequences of lengths (3, 2, 1) is held either **padded** — one
tensor (T, B, *) (or (B, T, *) with ``batch_first``) with filler after each
sequence's end — or **packed**: a :class:`PackedSequence` whose ``data``
stacks, step by step, the rows of the sequences still running at that step
(the sequences sorted by decreasing length), and whose ``batch_sizes`` says
how many rows each step has. The recurrent layers take either form (a packed
input gives a packed output), so padding never enters a sequence's state:

>>> import neurona
>>> from neurona.nn.utils.rnn import pack_sequence, pad_packed_sequence
>>> seqs = [neurona.ones(3, 2), neurona.ones(1, 2), neurona.ones(2, 2)]
>>> packed = pack_sequence(seqs, enforce_sorted=False)
>>> packed.batch_sizes
tensor([3, 2, 1])
>>> out, h_n = neurona.nn.GRU(2, 4)(packed)
>>> padded, lengths = pad_packed_sequence(out, batch_first=True)
>>> tuple(padded.shape), lengths
((3, 3, 4), tensor([3, 1, 2]))

Everything here is made of differentiable ops (indexing, ``cat``, ``stack``),
so gradients flow from the padded or packed results to the inputs.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from ...creation import _as_array
from ...engine import Tensor, _wrap
from ...functional.indexing import index_select
from ...functional.shape import cat, stack

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence"]


class PackedSequence(NamedTuple):
    """A batch of sequences packed step by step: ``data`` (Σ lengths, *), ``batch_sizes`` (max length,) int64,
    ``sorted_indices`` (the batch order by decreasing length, or None when the input was sorted) and
    ``unsorted_indices`` (its inverse). Made by :func:`pack_padded_sequence` or :func:`pack_sequence`."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> "PackedSequence":
        """The same packing with ``data`` converted by ``Tensor.to`` (the indices stay as they are)."""
        return self._replace(data=self.data.to(*args, **kwargs))

    def float(self) -> "PackedSequence":
        return self._replace(data=self.data.float())

    def double(self) -> "PackedSequence":
        return self._replace(data=self.data.double())

    def cpu(self) -> "PackedSequence":
        return self._replace(data=self.data.cpu())

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _lengths_array(lengths, what: str) -> np.ndarray:
    a = np.asarray(lengths.array if isinstance(lengths, Tensor) else lengths)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise ValueError(f"{what}: lengths must be a 1-D sequence of ints, got {a.tolist()!r}")
    return a.astype(np.int64)


def _index(a: np.ndarray) -> Tensor:
    return _wrap(np.ascontiguousarray(a, dtype=np.int64))


def _pack(padded: Tensor, lengths_sorted: np.ndarray) -> tuple[Tensor, Tensor]:
    """``data`` and ``batch_sizes`` of a time-major batch already sorted by decreasing length."""
    T = int(lengths_sorted[0]) if lengths_sorted.size else 0
    batch_sizes = np.array([(lengths_sorted > t).sum() for t in range(T)], dtype=np.int64)
    data = cat([padded[t, :int(b)] for t, b in enumerate(batch_sizes)], 0)
    return data, _wrap(batch_sizes)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) whose sequences have ``lengths``.

    With ``enforce_sorted`` the lengths must decrease (as PyTorch requires, for
    ONNX export); otherwise the batch is sorted here and the order kept in
    ``sorted_indices``, so that unpacking gives it back as it was.
    """
    x = input if isinstance(input, Tensor) else _wrap(_as_array(input))
    L = _lengths_array(lengths, "pack_padded_sequence")
    if batch_first:
        x = x.transpose(0, 1)
    if x.ndim < 2 or L.shape[0] != x.shape[1]:
        raise ValueError(f"pack_padded_sequence: {L.shape[0]} lengths for a batch of "
                         f"{x.shape[1] if x.ndim >= 2 else 'no'} sequences (input of shape {tuple(input.shape)}, "
                         f"batch_first={batch_first})")
    if L.size and (L.min() <= 0 or L.max() > x.shape[0]):
        raise ValueError(f"pack_padded_sequence: every length must be in 1..{x.shape[0]} (the padded length), "
                         f"got {L.tolist()}")
    if enforce_sorted:
        if np.any(np.diff(L) > 0):
            raise RuntimeError(f"pack_padded_sequence: lengths {L.tolist()} must be sorted in decreasing order when "
                               f"enforce_sorted is True; pass enforce_sorted=False to have them sorted here")
        sorted_idx = unsorted_idx = None
    else:
        order = np.argsort(-L, kind="stable")
        sorted_idx, unsorted_idx = _index(order), _index(np.argsort(order, kind="stable"))
        x, L = index_select(x, 1, sorted_idx), L[order]
    data, batch_sizes = _pack(x, L)
    return PackedSequence(data, batch_sizes, sorted_idx, unsorted_idx)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: the padded batch (T, B, *) in the original order and the lengths.

    ``T`` is the longest length, or ``total_length`` when given (to pad back to
    the length the batch had before packing).
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data = sequence.data
    sizes = sequence.batch_sizes.array.astype(np.int64)
    T = int(sizes.shape[0])
    B = int(sizes[0]) if T else 0
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"pad_packed_sequence: total_length {total_length} is shorter than the longest sequence "
                             f"({T} steps)")
        T = int(total_length)
    tail = tuple(data.shape[1:])
    steps, start = [], 0
    for t in range(T):
        b = int(sizes[t]) if t < sizes.shape[0] else 0
        rows = data[start:start + b]
        start += b
        if b < B:
            fill = _wrap(np.full((B - b,) + tail, padding_value, dtype=data.dtype))
            rows = cat([rows, fill], 0) if b else fill
        steps.append(rows)
    padded = stack(steps, 0)
    lengths = np.array([(sizes > i).sum() for i in range(B)], dtype=np.int64)
    if sequence.unsorted_indices is not None:
        padded = index_select(padded, 1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.array]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _wrap(lengths)


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences (L_i, *) of different lengths into one padded tensor (T, B, *) ((B, T, *) with
    ``batch_first``), filling with ``padding_value`` after each one (before, with ``padding_side="left"``)."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    seqs = [s if isinstance(s, Tensor) else _wrap(_as_array(s)) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequence: expected at least one sequence")
    tail = tuple(seqs[0].shape[1:])
    for s in seqs:
        if s.ndim == 0 or tuple(s.shape[1:]) != tail:
            raise ValueError(f"pad_sequence: every sequence must have the shape (length, {', '.join(map(str, tail))})"
                             f"; got {[tuple(s.shape) for s in seqs]}")
    T = max(s.shape[0] for s in seqs)
    rows = []
    for s in seqs:
        n = T - s.shape[0]
        if n:
            fill = _wrap(np.full((n,) + tail, padding_value, dtype=s.dtype))
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) directly: ``pack_padded_sequence(pad_sequence(sequences), lengths)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list[Tensor]:
    """The list of sequences ``pad_sequence`` was given: each one cut at its length."""
    L = _lengths_array(lengths, "unpad_sequence")
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(L)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences ``pack_sequence`` was given."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def repack_like(padded: Tensor, like: PackedSequence, batch_first: bool = False) -> PackedSequence:
    """Pack a padded batch in the same order and with the same lengths as ``like`` (a recurrent layer's output
    for a packed input)."""
    x = padded.transpose(0, 1) if batch_first else padded
    if like.sorted_indices is not None:
        x = index_select(x, 1, like.sorted_indices)
    sizes = like.batch_sizes.array.astype(np.int64)
    data = cat([x[t, :int(b)] for t, b in enumerate(sizes)], 0)
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)
