"""Shape ops and indexing: the gradient is the input's values moved back.

reshape / view / flatten / squeeze / unsqueeze are one ``Reshape``;
transpose and permute one ``Permute``; split is slicing.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..backend import get_array_module
from ..engine import Function, Tensor, _index_arrays
from .math import as_tensor


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)

    def _describe_failure(self, inputs, err):
        x = inputs[0]
        return f"reshape: cannot reshape a tensor of shape {x.shape} ({x.array.size} elements) into shape {self.shape}"


class Permute(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):  # undo the permutation
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return gy.transpose(inverse)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return np.broadcast_to(x, self.shape)

    def backward(self, gy):
        from .math import unbroadcast
        return unbroadcast(gy, self.in_shape)

    def _describe_failure(self, inputs, err):
        return f"expand: cannot broadcast shape {inputs[0].shape} to {self.shape}"


class Concat(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, gy):  # each input gets back its own slab
        bounds = np.cumsum(self.sizes)[:-1]
        return tuple(np.split(gy, bounds, axis=self.axis))

    def _describe_failure(self, inputs, err):
        shapes = ", ".join(str(t.shape) for t in inputs)
        return f"cat: tensors must have the same shape except along axis {self.axis}, got {shapes}"


class Stack(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return np.stack(xs, axis=self.axis)

    def backward(self, gy):
        n = gy.shape[self.axis]
        return tuple(np.take(gy, i, axis=self.axis) for i in range(n))

    def _describe_failure(self, inputs, err):
        shapes = ", ".join(str(t.shape) for t in inputs)
        return f"stack: all tensors must have the same shape, got {shapes}"


class Pad(Function):
    def __init__(self, pad_width, value):
        self.pad_width, self.value = pad_width, value

    def forward(self, x):
        return np.pad(x, self.pad_width, mode="constant", constant_values=self.value)

    def backward(self, gy):  # crop the padding away
        idx = tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.pad_width))
        return gy[idx]


def _is_basic(index) -> bool:
    """Basic indexing (ints, slices, None, ...) selects each element at most once."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items)


class GetItem(Function):
    def __init__(self, index):
        items = index if isinstance(index, tuple) else (index,)
        bools = [isinstance(i, np.ndarray) and i.dtype == np.bool_ for i in items]
        # a lone boolean mask selects each element once: scatter by assignment
        self.basic = _is_basic(index) or (len(items) == 1 and bools[0])
        if not self.basic and any(bools):  # np.add.at wants integer arrays
            expanded = []
            for i, b in zip(items, bools):
                expanded.extend(np.nonzero(i) if b else (i,))
            index = tuple(expanded)
        self.index = index

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, gy):  # scatter back; repeated indices accumulate (np.add.at)
        xp = get_array_module(gy)
        gx = xp.zeros(self.shape, self.dtype)
        if self.basic:
            gx[self.index] = gy
        else:
            xp.add.at(gx, self.index, gy)
        return gx

    def _describe_failure(self, inputs, err):
        return f"getitem: index {self.index!r} is invalid for a tensor of shape {inputs[0].shape}: {err}"


def reshape(x, *shape) -> Tensor:
    """Same data, new shape (one dimension may be -1)."""
    x = as_tensor(x)
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    return Reshape(shape)(x)


view = reshape


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one (as ``torch.flatten``)."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    shape = x.shape[:s] + (-1,) + x.shape[e + 1:]
    return reshape(x, shape)


def _norm_dim(d: int, ndim: int, op: str) -> int:
    if not -ndim <= d < builtins.max(ndim, 1):
        raise ValueError(f"{op}: dimension {d} is out of range for a tensor with {ndim} dimensions")
    return d % builtins.max(ndim, 1)


def transpose(x, *dims) -> Tensor:
    """``transpose(x)`` reverses the axes; ``transpose(x, d0, d1)`` swaps two (as PyTorch)."""
    x = as_tensor(x)
    if len(dims) == 0:
        axes = tuple(range(x.ndim))[::-1]
    elif len(dims) == 2:
        d0, d1 = _norm_dim(dims[0], x.ndim, "transpose"), _norm_dim(dims[1], x.ndim, "transpose")
        axes = list(range(x.ndim))
        axes[d0], axes[d1] = axes[d1], axes[d0]
        axes = tuple(axes)
    else:
        raise TypeError(f"transpose: expected no dims or two dims to swap, got {dims}; use permute for a full order")
    if axes == tuple(range(x.ndim)):
        return x
    return Permute(axes)(x)


def permute(x, *dims) -> Tensor:
    """Reorder the axes: ``permute(x, 0, 2, 1)``."""
    x = as_tensor(x)
    axes = _shape_arg(dims)
    if sorted(a % builtins.max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} axes of shape {x.shape}")
    return Permute(tuple(a % x.ndim for a in axes))(x)


def squeeze(x, dim=None) -> Tensor:
    """Drop size-1 dimensions (all, or the given ones; others are left as PyTorch does)."""
    x = as_tensor(x)
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dims = {_norm_dim(d, x.ndim, "squeeze") for d in ((dim,) if isinstance(dim, int) else dim)}
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1))
    return reshape(x, shape)


def unsqueeze(x, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim``."""
    x = as_tensor(x)
    d = _norm_dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def broadcast_to(x, shape) -> Tensor:
    """Repeat size-1 (or missing leading) dimensions to reach ``shape``."""
    x = as_tensor(x)
    shape = tuple(int(s) for s in shape)
    if shape == x.shape:
        return x
    return BroadcastTo(shape)(x)


def expand(x, *shape) -> Tensor:
    """PyTorch's ``expand``: like broadcast_to, and -1 keeps a dimension."""
    x = as_tensor(x)
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return broadcast_to(x, shape)


def cat(tensors, axis: int = 0, *, dim=None) -> Tensor:
    """Join tensors along an existing axis."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("cat: expected a non-empty list of tensors")
    a = _norm_dim(axis if dim is None else dim, ts[0].ndim, "cat")
    return Concat(a)(*ts)


concatenate = cat


def stack(tensors, axis: int = 0, *, dim=None) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: expected a non-empty list of tensors")
    a = _norm_dim(axis if dim is None else dim, ts[0].ndim + 1, "stack")
    return Stack(a)(*ts)


def split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into chunks of ``split_size`` (an int) or of the given sizes (a list): a tuple, as PyTorch."""
    x = as_tensor(x)
    d = _norm_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        k = int(split_size_or_sections)
        if k <= 0:
            raise ValueError(f"split: split_size must be positive, got {k}")
        sizes = [k] * (n // k) + ([n % k] if n % k else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} add up to {builtins.sum(sizes)}, but dimension {d} has size {n}")
    out, start = [], 0
    for s in sizes:
        idx = (slice(None),) * d + (slice(start, start + s),)
        out.append(getitem(x, idx))
        start += s
    return tuple(out)


def chunk(x, chunks: int, dim: int = 0) -> tuple:
    """Split into at most ``chunks`` pieces of ⌈n/chunks⌉ (the last one shorter), a tuple as PyTorch."""
    x = as_tensor(x)
    n = x.shape[_norm_dim(dim, x.ndim, "chunk")]
    size = -(-n // chunks)
    return split(x, size, dim)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad with a constant (``value``, default 0) or by ``mode`` 'reflect', 'replicate' or 'circular' (as PyTorch).

    ``pad`` is either NumPy-style ``((before, after), ...)`` per dimension, or
    PyTorch-style flat ``(left, right, top, bottom, ...)`` starting from the
    last dimension; a negative amount crops (mode 'constant'). The other modes
    copy input values outward: the gradient of an input element is the sum
    over every place it was copied to.

    >>> import neurona
    >>> pad(neurona.tensor([1.0, 2.0, 3.0]), (2, 1), mode="reflect")
    tensor([3., 2., 1., 2., 3., 2.])
    """
    x = as_tensor(x)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, _PAD_MODES))}, got {mode!r}")
    if value is not None and mode != "constant":
        raise ValueError(f"pad: value applies to mode 'constant' only, got value={value} with mode {mode!r}")
    if len(pad) and isinstance(pad[0], (tuple, list)):
        width = tuple((int(a), int(b)) for a, b in pad)
        if len(width) != x.ndim:
            raise ValueError(f"pad: expected {x.ndim} (before, after) pairs for shape {x.shape}, got {len(width)}")
    else:
        if len(pad) % 2 or len(pad) // 2 > x.ndim:
            raise ValueError(f"pad: a flat pad needs an even length of at most {2 * x.ndim}, got {len(pad)}")
        pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
        width = tuple([(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1])
    if builtins.min((builtins.min(p) for p in width), default=0) < 0:
        if mode != "constant":
            raise ValueError(f"pad: negative padding {width} (cropping) works with mode 'constant' only")
        if any(builtins.max(-lo, 0) + builtins.max(-hi, 0) > n for (lo, hi), n in zip(width, x.shape)):
            raise ValueError(f"pad: negative padding {width} crops more than the input of shape {x.shape} holds")
        x = getitem(x, tuple(slice(builtins.max(-lo, 0), n - builtins.max(-hi, 0)) for (lo, hi), n in zip(width, x.shape)))
        width = tuple((builtins.max(lo, 0), builtins.max(hi, 0)) for lo, hi in width)  # negative amounts crop
    if mode == "constant":
        return Pad(width, 0.0 if value is None else value)(x)
    # every output element copies one input element: a gather by per-axis index maps, whose gradient scatters back
    xp = get_array_module(x.array)
    maps = []
    for d, (lo, hi) in enumerate(width):
        n = x.shape[d]
        limit = n - 1 if mode == "reflect" else n
        if (lo or hi) and (n == 0 or builtins.max(lo, hi) > limit):
            raise ValueError(f"pad: {mode} padding ({lo}, {hi}) of dimension {d} needs at most {limit} on each side "
                             f"for an input of shape {x.shape}")
        maps.append(xp.pad(xp.arange(n), (lo, hi), mode=_PAD_MODES[mode]))
    return getitem(x, xp.ix_(*maps))


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]``: slices, integers, integer arrays, boolean masks."""
    index = _index_arrays(index)
    if isinstance(index, list):
        index = _list_index(index)
    if isinstance(index, tuple):
        index = tuple(_list_index(i) if isinstance(i, list) else i for i in index)
    return GetItem(index)(x)


def _list_index(items: list) -> np.ndarray:
    a = get_array_module(*items).asarray(items)
    return a.astype(np.intp) if a.size == 0 else a  # [] selects nothing (NumPy would read it as floats)
