"""Rearranging elements: repeat, tile, repeat_interleave, flip, roll, narrow, movedim, unbind, stacking helpers.

Every op here moves or copies input elements without changing them, so each
gradient routes the output's gradient back: copies add up (``repeat``,
``tile``, ``repeat_interleave``), moves are undone (``roll``, ``flip``).
Ops that are a view in PyTorch (``narrow``, ``movedim``, ``unflatten``, ``t``)
are a slice, permutation or reshape here.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..backend import get_array_module
from ..engine import Function, Tensor
from .math import as_tensor
from .shape import _norm_dim, broadcast_to, cat, getitem, permute, reshape, transpose

__all__ = ["narrow", "movedim", "moveaxis", "swapaxes", "swapdims", "unflatten", "t", "adjoint", "repeat", "tile",
           "repeat_interleave", "unbind", "flip", "fliplr", "flipud", "roll", "rot90", "contiguous", "clone", "ravel",
           "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "row_stack", "dstack", "column_stack",
           "tensor_split", "broadcast_tensors", "broadcast_shapes", "meshgrid"]


def _dims(dims) -> tuple:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return tuple(int(d) for d in dims)


def narrow(input, dim: int, start, length: int) -> Tensor:
    """The ``length`` elements from ``start`` along ``dim`` (``start`` may be negative or a 0-d tensor)."""
    x = as_tensor(input)
    d = _norm_dim(dim, x.ndim, "narrow")
    n = x.shape[d]
    s = int(start)
    if s < 0:
        s += n
    if not 0 <= s <= n or length < 0 or s + length > n:
        raise IndexError(f"narrow: start {int(start)} and length {length} do not fit dimension {d} of size {n}")
    return getitem(x, (slice(None),) * d + (slice(s, s + length),))


def movedim(input, source, destination) -> Tensor:
    """Move dimension(s) ``source`` to position(s) ``destination``, keeping the others in order."""
    x = as_tensor(input)
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} differ in length")
    src = tuple(_norm_dim(d, x.ndim, "movedim") for d in src)
    dst = tuple(_norm_dim(d, x.ndim, "movedim") for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dimension in source {source} or destination {destination}")
    order = [k for k in range(x.ndim) if k not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, *order) if order != list(range(x.ndim)) else x


moveaxis = movedim


def swapaxes(input, axis0: int, axis1: int) -> Tensor:
    """Exchange two dimensions (``transpose(input, axis0, axis1)``)."""
    return transpose(as_tensor(input), axis0, axis1)


swapdims = swapaxes


def unflatten(input, dim: int, sizes) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one may be -1): unflatten(x, 1, (2, -1))."""
    x = as_tensor(input)
    d = _norm_dim(dim, x.ndim, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    known = int(np.prod([s for s in sizes if s != -1], dtype=np.int64))
    n = x.shape[d]
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
        raise ValueError(f"unflatten: cannot split dimension {d} of size {n} (shape {x.shape}) into {sizes}")
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def t(input) -> Tensor:
    """The transpose of a 2-D tensor; 0-D and 1-D tensors come back as they are."""
    x = as_tensor(input)
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with at most 2 dimensions, got shape {x.shape}; use transpose(d0, d1)")
    return transpose(x) if x.ndim == 2 else x


def adjoint(input) -> Tensor:
    """The last two dimensions swapped (``mT``; real tensors have nothing to conjugate)."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"mT: expects a tensor with at least 2 dimensions, got shape {x.shape}")
    return transpose(x, -2, -1)


class Tile(Function):
    """The input repeated ``reps[k]`` times along each dimension k (leading 1s added to its shape)."""

    def __init__(self, reps: tuple):
        self.reps = reps

    def forward(self, x):
        self.shape = x.shape
        return np.tile(x, self.reps)

    def backward(self, gy):  # every copy sends its gradient back: view as (r0, n0, r1, n1, ...) and sum the r axes
        n = (1,) * (len(self.reps) - len(self.shape)) + tuple(self.shape)
        split = [v for pair in zip(self.reps, n) for v in pair]
        g = gy.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g.reshape(self.shape)


def repeat(input, *sizes) -> Tensor:
    """PyTorch's ``Tensor.repeat``: copy the whole tensor ``sizes[k]`` times along dimension k.

    ``sizes`` may have more entries than the tensor has dimensions (new
    leading ones), never fewer. ``tile`` is the same with fewer allowed.
    """
    x = as_tensor(input)
    reps = _dims(sizes)
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: {len(reps)} repeat counts for a tensor with {x.ndim} dimensions; give at least "
                         f"{x.ndim}")
    if builtins.min(reps, default=0) < 0:
        raise ValueError(f"repeat: repeat counts must be non-negative, got {reps}")
    return Tile(reps)(x)


def tile(input, dims) -> Tensor:
    """Copy the tensor ``dims[k]`` times along dimension k; missing leading counts are 1."""
    x = as_tensor(input)
    reps = _dims((dims,)) if isinstance(dims, (tuple, list)) else (int(dims),)
    reps = (1,) * (x.ndim - len(reps)) + reps
    return repeat(x, reps)


class RepeatInterleave(Function):
    """Each element (slice) along ``axis`` repeated ``repeats`` times in place: [a, b] → [a, a, b, b]."""

    def __init__(self, repeats, axis: int):
        self.repeats, self.axis = repeats, axis

    def forward(self, x):
        self.shape = x.shape
        return np.repeat(x, self.repeats, axis=self.axis)

    def backward(self, gy):  # the copies of each element add their gradients
        a, r = self.axis, self.repeats
        if np.ndim(r) == 0:
            n = self.shape[a]
            return gy.reshape(gy.shape[:a] + (n, int(r)) + gy.shape[a + 1:]).sum(axis=a + 1)
        gx = get_array_module(gy).zeros(self.shape, gy.dtype)
        owner = np.repeat(get_array_module(gy).arange(self.shape[a]), r)
        np.add.at(np.moveaxis(gx, a, 0), owner, np.moveaxis(gy, a, 0))
        return gx


def repeat_interleave(input, repeats=None, dim: int | None = None, *, output_size: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times (an int, or one count per element) along ``dim`` (flattened if None).

    ``repeat_interleave(counts)`` with only an int64 tensor gives
    ``[0]*counts[0] + [1]*counts[1] + ...``, as PyTorch.
    """
    x = as_tensor(input)
    if repeats is None:
        counts = x.array
        if counts.ndim != 1 or counts.dtype.kind not in "iu":
            raise ValueError(f"repeat_interleave: a lone argument must be a 1-D integer tensor, got {counts.dtype} "
                             f"of shape {counts.shape}")
        return Tensor(np.repeat(get_array_module(counts).arange(counts.shape[0], dtype=np.int64), counts))
    if dim is None:
        x, d = reshape(x, -1), 0
    else:
        d = _norm_dim(dim, x.ndim, "repeat_interleave")
        if x.ndim == 0:
            x = reshape(x, 1)
    r = repeats.array if isinstance(repeats, Tensor) else get_array_module(repeats).asarray(repeats)
    if r.ndim == 1 and r.shape[0] == 1:
        r = r.reshape(())
    if r.dtype.kind not in "iu":
        raise TypeError(f"repeat_interleave: repeats must be integers, got {r.dtype}")
    if r.ndim == 1 and r.shape[0] != x.shape[d]:
        raise ValueError(f"repeat_interleave: {r.shape[0]} repeat counts for dimension {d} of size {x.shape[d]}")
    if (r < 0).any():
        raise ValueError("repeat_interleave: repeat counts must be non-negative")
    out = RepeatInterleave(int(r) if r.ndim == 0 else r, d)(x)
    if output_size is not None and out.shape[d] != output_size:
        raise ValueError(f"repeat_interleave: output_size={output_size}, but the result has {out.shape[d]}")
    return out


def unbind(input, dim: int = 0) -> tuple:
    """The slices along ``dim``, as a tuple of tensors with that dimension removed."""
    x = as_tensor(input)
    d = _norm_dim(dim, x.ndim, "unbind")
    return tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x.shape[d]))


def flip(input, *dims) -> Tensor:
    """Reverse the order of the elements along ``dims``."""
    x = as_tensor(input)
    ds = {_norm_dim(d, x.ndim, "flip") for d in _dims(dims)}
    if not ds:
        return x * 1 if x.array.dtype.kind == "f" else Tensor(x.array.copy())
    # a copy, as PyTorch's flip is: a reversed slice would be a view, and an in-place change of it would reach x
    return getitem(x, tuple(slice(None, None, -1) if k in ds else slice(None) for k in range(x.ndim))).clone()


def fliplr(input) -> Tensor:
    """Reverse dimension 1 (left/right of a matrix)."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"fliplr: expected at least 2 dimensions, got shape {x.shape}")
    return flip(x, 1)


def flipud(input) -> Tensor:
    """Reverse dimension 0 (up/down)."""
    x = as_tensor(input)
    if x.ndim < 1:
        raise ValueError("fliplr: expected at least 1 dimension, got a 0-d tensor")
    return flip(x, 0)


class Roll(Function):
    def __init__(self, shifts, axes):
        self.shifts, self.axes = shifts, axes

    def forward(self, x):
        return np.roll(x, self.shifts, axis=self.axes)

    def backward(self, gy):  # roll back
        back = -self.shifts if np.ndim(self.shifts) == 0 else tuple(-s for s in self.shifts)
        return np.roll(gy, back, axis=self.axes)


def roll(input, shifts, dims=None) -> Tensor:
    """Shift elements cyclically by ``shifts`` along ``dims`` (over the flattened tensor when None)."""
    x = as_tensor(input)
    if dims is None:
        if not isinstance(shifts, (int, np.integer)) and len(shifts) != 1:
            raise ValueError(f"roll: without dims, shifts must be one number, got {shifts}")
        s = int(shifts) if isinstance(shifts, (int, np.integer)) else int(shifts[0])
        return Roll(s, None)(x)
    sh = (int(shifts),) if isinstance(shifts, (int, np.integer)) else tuple(int(v) for v in shifts)
    ds = (int(dims),) if isinstance(dims, (int, np.integer)) else tuple(int(v) for v in dims)
    if len(sh) != len(ds):
        raise ValueError(f"roll: {len(sh)} shifts for {len(ds)} dims")
    return Roll(sh, tuple(_norm_dim(d, x.ndim, "roll") for d in ds))(x)


def rot90(input, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90° ``k`` times in the plane ``dims`` (from the first dimension toward the second)."""
    x = as_tensor(input)
    d0, d1 = (_norm_dim(d, x.ndim, "rot90") for d in dims)
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(x, d0, d1)
    if k == 1:
        return transpose(flip(x, d1), d0, d1)
    return flip(transpose(x, d0, d1), d1)


class Contiguous(Function):
    def forward(self, x):
        return get_array_module(x).ascontiguousarray(x)

    def backward(self, gy):
        return gy


def contiguous(input) -> Tensor:
    """The tensor itself when its memory is in row-major order, else a row-major copy."""
    x = as_tensor(input)
    if x.array.flags.c_contiguous:
        return x
    return Contiguous()(x)


def clone(input, *, memory_format=None) -> Tensor:
    """A copy that records the op: the gradient passes through unchanged."""
    return as_tensor(input).clone()


def ravel(input) -> Tensor:
    """The elements as a 1-D tensor."""
    return reshape(as_tensor(input), -1)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dimension (a 0-d one becomes shape (1,))."""
    out = [reshape(t, 1) if t.ndim == 0 else t for t in map(as_tensor, _tensors(tensors))]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dimensions: () → (1, 1), (n,) → (1, n)."""
    out = [reshape(t, (1,) * (2 - t.ndim) + t.shape) if t.ndim < 2 else t for t in map(as_tensor, _tensors(tensors))]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dimensions: () → (1, 1, 1), (n,) → (1, n, 1), (m, n) → (m, n, 1)."""
    def three(t):
        if t.ndim == 0:
            return reshape(t, 1, 1, 1)
        if t.ndim == 1:
            return reshape(t, 1, t.shape[0], 1)
        if t.ndim == 2:
            return reshape(t, t.shape + (1,))
        return t
    out = [three(t) for t in map(as_tensor, _tensors(tensors))]
    return out[0] if len(out) == 1 else tuple(out)


def _tensors(tensors) -> list:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0])
    return list(tensors)


def _as_list(x):
    return list(x) if isinstance(x, tuple) else [x]


def hstack(tensors) -> Tensor:
    """Join along dimension 1 (dimension 0 for 1-D tensors)."""
    ts = _as_list(atleast_1d(list(tensors)))
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Join along dimension 0 after making each tensor at least 2-D (rows)."""
    return cat(_as_list(atleast_2d(list(tensors))), 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    """Join along dimension 2 after making each tensor at least 3-D."""
    return cat(_as_list(atleast_3d(list(tensors))), 2)


def column_stack(tensors) -> Tensor:
    """Join as columns: 0-d and 1-D tensors become (n, 1) columns, then join along dimension 1."""
    ts = [reshape(t, -1, 1) if t.ndim < 2 else t for t in map(as_tensor, tensors)]
    return cat(ts, 1)


def tensor_split(input, indices_or_sections, dim: int = 0) -> tuple:
    """Split into ``n`` nearly equal parts (the first ones one longer) or at the given ``indices``."""
    x = as_tensor(input)
    d = _norm_dim(dim, x.ndim, "tensor_split")
    n = x.shape[d]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k < 1:
            raise ValueError(f"tensor_split: the number of sections must be positive, got {k}")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        bounds = np.cumsum([0] + sizes)
    else:
        cuts = [builtins.min(builtins.max(int(i) if int(i) >= 0 else int(i) + n, 0), n) for i in indices_or_sections]
        bounds = [0] + cuts + [n]
    return tuple(getitem(x, (slice(None),) * d + (slice(int(a), builtins.max(int(a), int(b))),))
                 for a, b in zip(bounds[:-1], bounds[1:]))


def broadcast_shapes(*shapes) -> tuple:
    """The shape that all ``shapes`` broadcast to."""
    return tuple(np.broadcast_shapes(*[(s,) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]))


def broadcast_tensors(*tensors) -> tuple:
    """Every tensor expanded to the common broadcast shape."""
    ts = [as_tensor(t) for t in _tensors(tensors)]
    shape = broadcast_shapes(*[t.shape for t in ts])
    return tuple(broadcast_to(t, shape) for t in ts)


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors: out[k][i0, i1, ...] = tensors[k][i_k] ('ij'); 'xy' swaps the first two."""
    ts = [as_tensor(t) for t in _tensors(tensors)]
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if any(t.ndim > 1 for t in ts):
        raise ValueError(f"meshgrid: expects 0-D or 1-D tensors, got shapes {[t.shape for t in ts]}")
    ts = [reshape(t, -1) for t in ts]
    n = len(ts)
    swap = indexing == "xy" and n >= 2
    order = list(range(n))
    if swap:
        order[0], order[1] = 1, 0
    shape = tuple(ts[order[k]].shape[0] for k in range(n))
    out = []
    for i, t in enumerate(ts):
        pos = order.index(i)
        view = [1] * n
        view[pos] = t.shape[0]
        out.append(broadcast_to(reshape(t, tuple(view)), shape))
    return tuple(out)
