"""Shape ops and indexing: the gradient is the input's values moved back.

reshape / view / flatten / squeeze / unsqueeze are one ``Reshape``;
transpose and permute one ``Permute``; split is slicing. Reshape, Permute,
BroadcastTo and basic indexing return views of their input's memory
(``ViewFunction``), as in PyTorch. ``masked_fill`` and ``index_add`` write
values into a copy (or, for their ``_`` methods, into the tensor itself).
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from ..backend import get_array_module
from ..engine import Function, Tensor, ViewFunction, _index_arrays
from .math import as_tensor, unbroadcast


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(ViewFunction):
    def __init__(self, shape):
        self.shape = shape

    def view_fn(self):
        return operator.methodcaller("reshape", self.shape)

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)

    def _describe_failure(self, inputs, err):
        x = inputs[0]
        return f"reshape: cannot reshape a tensor of shape {x.shape} ({x.array.size} elements) into shape {self.shape}"


class Permute(ViewFunction):
    def __init__(self, axes):
        self.axes = axes

    def view_fn(self):
        return operator.methodcaller("transpose", self.axes)

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):  # undo the permutation
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return gy.transpose(inverse)


class BroadcastTo(ViewFunction):
    def __init__(self, shape):
        self.shape = shape

    def view_fn(self):
        shape = self.shape
        return lambda a: get_array_module(a).broadcast_to(a, shape)

    def forward(self, x):
        self.in_shape = x.shape
        return np.broadcast_to(x, self.shape)

    def backward(self, gy):
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


class GetItem(ViewFunction):
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

    def view_fn(self):  # used only when the result is a view (basic indexing)
        return operator.itemgetter(self.index)

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        y = x[self.index]
        if self.basic and isinstance(y, np.generic):  # one element: a 0-d view of it, as PyTorch's x[i, j] is
            y = x[(self.index if isinstance(self.index, tuple) else (self.index,)) + (Ellipsis,)]
        return y

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


class SetItem(Function):
    """In-place kernel of ``x[index] = value``: ``x`` keeps its elements except at ``index``, which take ``value``.

    Called through ``Tensor.__setitem__`` only: forward writes into ``x`` itself.
    """

    def __init__(self, index, const=None):
        self.index, self.const = index, const  # const: the value when it is not a tensor input

    def forward(self, x, v=None):
        x[self.index] = self.__dict__.pop("const") if v is None else v
        if v is not None:
            self.vshape, self.vdtype = v.shape, v.dtype
        return x

    def backward(self, gy):  # ∂x_new/∂x_old = 1 outside index, 0 inside; ∂x_new/∂value = 1 at index
        gx = None
        if self.needs[0]:
            gx = gy.copy()
            gx[self.index] = 0
        if len(self.needs) == 1:
            return gx
        gv = None
        if self.needs[1]:
            gv = gy[self.index]
            if gv.shape != self.vshape:
                gv = unbroadcast(gv, self.vshape) if len(self.vshape) <= gv.ndim else gv.reshape(self.vshape)
            gv = gv.astype(self.vdtype, copy=False)
        return gx, gv


def setitem(x: Tensor, index, value) -> Tensor:
    """``x[index] = value`` as a recorded in-place kernel (``Tensor.__setitem__`` calls it)."""
    if isinstance(value, Tensor):
        return SetItem(index)(x, value)
    return SetItem(index, value)(x)


class MaskedFill(Function):
    """``x`` with the elements where ``mask`` holds replaced by ``value`` (a number, or a 0-d tensor input)."""

    def __init__(self, mask, const=None, inplace: bool = False):
        self.mask, self.const, self.inplace = mask, const, inplace

    def forward(self, x, v=None):
        val = self.const if v is None else v
        xp = get_array_module(x)
        if self.inplace:
            xp.copyto(x, val, where=self.mask, casting="unsafe")
            return x
        return xp.where(self.mask, xp.asarray(val).astype(x.dtype), x)

    def backward(self, gy):  # 1 to x where the mask is off; the masked elements' gradients add up in the value
        mask = self.mask
        gx = get_array_module(gy).where(mask, gy.dtype.type(0), gy) if self.needs[0] else None
        if len(self.needs) == 1:
            return gx
        gv = None
        if self.needs[1]:
            gv = (gy * mask).sum().astype(gy.dtype)
        return gx, gv


def check_mask(mask, shape: tuple, op: str) -> None:
    if getattr(mask, "dtype", None) != np.bool_:
        raise TypeError(f"{op}: the mask must be a boolean tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    try:
        fits = np.broadcast_shapes(mask.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: a mask of shape {mask.shape} does not broadcast to the tensor's shape {shape}")


def masked_fill_parts(x: Tensor, mask, value, op: str, inplace: bool = False) -> tuple:
    """The MaskedFill op and its inputs for ``masked_fill(x, mask, value)``."""
    m = mask.array if isinstance(mask, Tensor) else get_array_module(x.array).asarray(mask)
    check_mask(m, x.shape, op)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"{op}: the value must be a number or a 0-dimensional tensor, got shape {value.shape}")
        if value.requires_grad:
            return MaskedFill(m, inplace=inplace), (x, value)
        value = value.array
    return MaskedFill(m, value, inplace), (x,)


def masked_fill(x, mask, value) -> Tensor:
    """``x`` with ``value`` where ``mask`` is True (PyTorch's ``masked_fill``); differentiable in x and value.

    >>> import neurona
    >>> masked_fill(neurona.tensor([1.0, 2.0, 3.0]), neurona.tensor([True, False, True]), 0.0)
    tensor([0., 2., 0.])
    """
    x = as_tensor(x)
    op, inputs = masked_fill_parts(x, mask, value, "masked_fill")
    return op(*inputs)


def index_add_into(a, dim: int, index, source, alpha=1) -> None:
    """``a[..., index[i], ...] += alpha * source[..., i, ...]`` along ``dim``, in place (repeated indices add up)."""
    s = source if alpha == 1 else source * alpha
    get_array_module(a).add.at(a, (slice(None),) * dim + (index,), s.astype(a.dtype, copy=False))


class IndexAdd(Function):
    """``x`` with ``alpha·source`` added along ``dim`` at the positions ``index``."""

    def __init__(self, dim: int, index, alpha, inplace: bool = False):
        self.dim, self.index, self.alpha, self.inplace = dim, index, alpha, inplace

    def forward(self, x, source):
        self.sdtype = source.dtype
        out = x if self.inplace else x.copy()
        index_add_into(out, self.dim, self.index, source, self.alpha)
        return out

    def backward(self, gy):  # ∂out/∂x = 1; ∂out/∂source[i] = alpha at index[i]
        gs = None
        if self.needs[1]:
            gs = get_array_module(gy).take(gy, self.index, axis=self.dim)
            if self.alpha != 1:
                gs = gs * gy.dtype.type(self.alpha)
            gs = gs.astype(self.sdtype, copy=False)
        return (gy if self.needs[0] else None), gs


def index_add_parts(x: Tensor, dim: int, index, source, op: str) -> tuple:
    """(dim, index array, source tensor) of ``index_add(x, dim, index, source)``, checked."""
    d = _norm_dim(dim, x.ndim, op)
    idx = index.array if isinstance(index, Tensor) else get_array_module(x.array).asarray(index)
    if idx.ndim > 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise TypeError(f"{op}: index must be a 1-D integer tensor, got dtype {idx.dtype} and shape {idx.shape}")
    idx = idx.reshape(-1).astype(np.intp, copy=False)
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"{op}: index out of range for dimension {d} of size {n}: {idx.min()}..{idx.max()}")
    source = as_tensor(source, like=x)
    expected = x.shape[:d] + (idx.size,) + x.shape[d + 1:]
    if source.shape != expected and not (x.ndim == 0 and source.size == idx.size):
        raise ValueError(f"{op}: source of shape {source.shape} does not fit: adding {idx.size} slices along "
                         f"dimension {d} of a tensor of shape {x.shape} needs shape {expected}")
    return d, idx, source


def index_add(x, dim: int, index, source, *, alpha=1) -> Tensor:
    """``x`` plus ``alpha·source[..., i, ...]`` at ``x[..., index[i], ...]`` along ``dim`` (PyTorch's ``index_add``).

    Repeated indices add up. Differentiable in ``x`` and ``source``.

    >>> import neurona
    >>> index_add(neurona.zeros(3), 0, neurona.tensor([0, 2, 0]), neurona.tensor([1.0, 2.0, 3.0]))
    tensor([4., 0., 2.])
    """
    x = as_tensor(x)
    d, idx, source = index_add_parts(x, dim, index, source, "index_add")
    return IndexAdd(d, idx, alpha)(x, source)


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
    return GetItem(index_of(index))(x)


def index_of(index):
    """An index as NumPy reads it: Tensors replaced by their arrays, lists by integer arrays."""
    index = _index_arrays(index)
    if isinstance(index, list):
        index = _list_index(index)
    if isinstance(index, tuple):
        index = tuple(_list_index(i) if isinstance(i, list) else i for i in index)
    return index


def _list_index(items: list) -> np.ndarray:
    a = get_array_module(*items).asarray(items)
    return a.astype(np.intp) if a.size == 0 else a  # [] selects nothing (NumPy would read it as floats)
