"""Indexing by tensors of indices, and sorting: gather, scatter, index_select, masked_select, nonzero, sort, topk.

``gather`` is the primitive: out[i][j][k] = x[i][index[i][j][k]][k] (for
``dim=1``); its gradient adds each output's gradient back at the element it
came from. ``sort``, ``topk``, ``kthvalue``, ``max(dim)`` and ``median(dim)``
compute indices and gather the values with them, so the gradient reaches
exactly the elements chosen. Indices are int64, as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from .. import return_types
from ..backend import get_array_module
from ..engine import Function, Tensor
from .math import as_tensor

__all__ = ["gather", "scatter", "scatter_add", "index_select", "masked_select", "nonzero", "argwhere", "take",
           "take_along_dim", "sort", "argsort", "topk", "kthvalue", "unique", "bincount"]


def _coordinates(index, dim: int) -> tuple:
    """The full advanced index that reads ``x[..., index, ...]`` at ``dim`` and position elsewhere."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


class Gather(Function):
    """Read ``x`` at ``index`` along ``dim`` (PyTorch's gather)."""

    def __init__(self, index, dim: int, unique: bool = False):
        self.where, self.unique = _coordinates(index, dim), unique

    def forward(self, x):
        self.shape = x.shape
        return x[self.where]

    def backward(self, gy):  # each output came from one element: its gradient goes back there, repeats add up
        gx = get_array_module(gy).zeros(self.shape, gy.dtype)
        if self.unique:
            gx[self.where] = gy
        else:
            np.add.at(gx, self.where, gy)
        return gx


class Scatter(Function):
    """A copy of ``x`` with ``src`` written at ``index`` along ``dim`` (added there when ``add``)."""

    def __init__(self, index, dim: int, add: bool):
        self.where, self.add = _coordinates(index, dim), add
        self.cut = tuple(slice(n) for n in index.shape)  # src may be larger than index: its leading corner is used

    def forward(self, x, src):
        self.src_shape = src.shape
        out = x.copy()
        if self.add:
            np.add.at(out, self.where, src[self.cut])
        else:
            out[self.where] = src[self.cut]
        return out

    def backward(self, gy):  # written places: ∂/∂x = 0 (scatter) or 1 (add); ∂/∂src = gy at the places written
        gx = gsrc = None
        if self.needs[0]:
            gx = gy if self.add else gy.copy()
            if not self.add:
                gx[self.where] = 0
        if self.needs[1]:
            gsrc = get_array_module(gy).zeros(self.src_shape, gy.dtype)
            gsrc[self.cut] = gy[self.where]
        return gx, gsrc


def _dim(dim, ndim: int, op: str) -> int:
    n = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return int(dim) % n


def _int_index(index, op: str, name: str = "index") -> np.ndarray:
    a = index.array if isinstance(index, Tensor) else get_array_module(index).asarray(index)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must be an integer tensor (int64), got {a.dtype}")
    return a.astype(np.int64, copy=False)


def _check_index(x: Tensor, index: np.ndarray, d: int, op: str, other_shape=None) -> None:
    if index.ndim != x.ndim:
        raise ValueError(f"{op}: index has {index.ndim} dimensions, the input {x.ndim} (shape {x.shape}); "
                         f"they must have the same number")
    for k, (ni, nx) in enumerate(zip(index.shape, x.shape)):
        if k != d and ni > nx:
            raise ValueError(f"{op}: index shape {index.shape} is larger than the input's {x.shape} in dimension {k}")
        if other_shape is not None and ni > other_shape[k]:
            raise ValueError(f"{op}: index shape {index.shape} is larger than src's {other_shape} in dimension {k}")
    n = x.shape[d] if x.ndim else 1
    if index.size and (index.min() < -n or index.max() >= n):
        bad = index[(index < -n) | (index >= n)].reshape(-1)[:3].tolist()
        raise IndexError(f"{op}: index values {bad} are out of range for dimension {d} of size {n}")


def gather(input, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    """Values of ``input`` along ``dim`` at ``index`` (int64, same number of dimensions as ``input``).

    >>> import neurona
    >>> neurona.gather(neurona.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, neurona.tensor([[0, 0], [1, 0]]))
    tensor([[1., 1.],
            [4., 3.]])
    """
    x = as_tensor(input)
    d = _dim(dim, x.ndim, "gather")
    idx = _int_index(index, "gather")
    if x.ndim == 0:
        return Gather(idx.reshape(1), 0)(x.reshape(1)).reshape(idx.shape) if idx.ndim == 0 else x
    _check_index(x, idx, d, "gather")
    return Gather(idx, d)(x)


def _scatter(op, input, dim, index, src, add: bool) -> Tensor:
    x = as_tensor(input)
    d = _dim(dim, x.ndim, op)
    idx = _int_index(index, op)
    if isinstance(src, Tensor):
        s = src
        if s.ndim != x.ndim:
            raise ValueError(f"{op}: src has {s.ndim} dimensions, the input {x.ndim}")
    else:
        s = Tensor(get_array_module(x.array).full(idx.shape, src, dtype=x.array.dtype), dtype=x.array.dtype)
    _check_index(x, idx, d, op, s.shape)
    if s.array.dtype != x.array.dtype:
        from .math import cast
        s = cast(s, x.array.dtype)
    return Scatter(idx, d, add)(x, s)


def scatter(input, dim: int, index, src=None, *, value=None, reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor or a number) written at ``index`` along ``dim``.

    out[i][index[i][j]] = src[i][j] for ``dim=1``. ``reduce="add"`` adds
    instead of writing; ``"multiply"`` multiplies (not differentiable).
    Where an index repeats, which write wins is unspecified, as in PyTorch.
    """
    if src is None:
        if value is None:
            raise TypeError("scatter: give src (a tensor or a number) or value")
        src = value
    if reduce is None:
        return _scatter("scatter", input, dim, index, src, add=False)
    if reduce == "add":
        return _scatter("scatter", input, dim, index, src, add=True)
    if reduce == "multiply":
        x = as_tensor(input)
        if x.requires_grad or (isinstance(src, Tensor) and src.requires_grad):
            raise RuntimeError("scatter: reduce='multiply' is not differentiable here; use scatter_reduce-free ops")
        d = _dim(dim, x.ndim, "scatter")
        idx = _int_index(index, "scatter")
        s = src.array if isinstance(src, Tensor) else get_array_module(x.array).full(idx.shape, src, x.array.dtype)
        out = x.array.copy()
        np.multiply.at(out, _coordinates(idx, d), s[tuple(slice(n) for n in idx.shape)])
        return Tensor(out, dtype=out.dtype)
    raise ValueError(f"scatter: reduce must be None, 'add' or 'multiply', got {reduce!r}")


def scatter_add(input, dim: int, index, src) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim``; repeated indices accumulate."""
    return _scatter("scatter_add", input, dim, index, src, add=True)


def index_select(input, dim: int, index) -> Tensor:
    """The slices of ``input`` at the positions ``index`` (1-D, int64) along ``dim``."""
    from .shape import getitem
    x = as_tensor(input)
    d = _dim(dim, x.ndim, "index_select")
    idx = _int_index(index, "index_select")
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {idx.shape}")
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index_select: index values must lie in [{-n}, {n}) for dimension {d} of size {n}")
    if x.ndim == 0:
        from .shape import reshape
        return getitem(reshape(x, 1), (idx.reshape(-1),)).reshape(idx.shape)
    return getitem(x, (slice(None),) * d + (idx.reshape(-1),))


def take(input, index) -> Tensor:
    """The elements of ``input`` as if flattened, at ``index`` (any shape)."""
    from .shape import getitem, reshape
    x = as_tensor(input)
    idx = _int_index(index, "take")
    return getitem(reshape(x, -1), idx)


def take_along_dim(input, indices, dim: int | None = None) -> Tensor:
    """``gather`` with broadcasting: the values along ``dim`` at ``indices`` (flattened input when None)."""
    from .shape import broadcast_to, reshape
    x = as_tensor(input)
    idx = _int_index(indices, "take_along_dim")
    if dim is None:
        return gather(reshape(x, -1), 0, idx.reshape(-1))
    d = _dim(dim, x.ndim, "take_along_dim")
    shape_x, shape_i = list(x.shape), list(idx.shape)
    shape_x[d] = shape_i[d] = 1
    common = list(np.broadcast_shapes(tuple(shape_x), tuple(shape_i)))
    tx, ti = list(common), list(common)
    tx[d], ti[d] = x.shape[d], idx.shape[d]
    return gather(broadcast_to(x, tuple(tx)), d, np.broadcast_to(idx, tuple(ti)))


def masked_select(input, mask) -> Tensor:
    """The elements of ``input`` where ``mask`` (bool, broadcastable) is True, as a 1-D tensor."""
    from .shape import broadcast_to, getitem
    x = as_tensor(input)
    m = mask.array if isinstance(mask, Tensor) else get_array_module(mask).asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor, got {m.dtype}")
    try:
        shape = np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise ValueError(f"masked_select: mask of shape {m.shape} does not broadcast with input {x.shape}") from None
    return getitem(broadcast_to(x, shape), np.broadcast_to(m, shape))


def nonzero(input, *, as_tuple: bool = False):
    """Indices of the nonzero elements: an int64 tensor (count, ndim), or with ``as_tuple`` one 1-D tensor per dim."""
    a = input.array if isinstance(input, Tensor) else get_array_module(input).asarray(input)
    xp = get_array_module(a)
    if a.ndim == 0:  # PyTorch treats it as one element: found at index 0, or not
        hit = bool(a)
        if as_tuple:
            return (Tensor(xp.zeros(int(hit), np.int64)),)
        return Tensor(xp.zeros((int(hit), 0), np.int64))
    where = np.nonzero(a)
    if as_tuple:
        return tuple(Tensor(w.astype(np.int64, copy=False)) for w in where)
    return Tensor(np.stack(where, axis=1).astype(np.int64, copy=False))


def argwhere(input) -> Tensor:
    """``nonzero(input)``: an int64 tensor of shape (count, ndim)."""
    return nonzero(input)


# --- sorting ------------------------------------------------------------------------


def _argsort(a, d: int, descending: bool):
    """Stable order along ``d``; descending keeps equal elements in their original order, NaN comes first."""
    if not descending:
        return np.argsort(a, axis=d, kind="stable")
    n = a.shape[d]
    return n - 1 - np.flip(np.argsort(np.flip(a, d), axis=d, kind="stable"), d)


def _select_along(name: str, x: Tensor, d, keepdim: bool, pick):
    """(values, indices) of the elements that ``pick(array, dim)`` chooses along ``d`` (size-1 index)."""
    from .shape import squeeze
    result = getattr(return_types, name)
    if d is None or x.ndim == 0:  # a 0-d tensor: the element itself, at index 0
        return result(x * 1 if x.array.dtype.kind == "f" else Tensor(x.array.copy()),
                      Tensor(get_array_module(x.array).zeros((), np.int64)))
    if x.shape[d] == 0:
        raise IndexError(f"{name}: dimension {d} of the input of shape {x.shape} is empty")
    idx = pick(x.array, d).astype(np.int64, copy=False)
    values = Gather(idx, d, unique=True)(x)
    if not keepdim:
        values, idx = squeeze(values, d), np.squeeze(idx, d)
    return result(values, Tensor(idx))


def sort(input, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """``(values, indices)`` sorted along ``dim``; equal elements keep their order (the sort is always stable).

    >>> import neurona
    >>> neurona.sort(neurona.tensor([3.0, 1.0, 2.0]), descending=True).values
    tensor([3., 2., 1.])
    """
    x = as_tensor(input)
    if x.ndim == 0:
        return _select_along("sort", x, None, False, None)
    d = _dim(dim, x.ndim, "sort")
    idx = _argsort(x.array, d, descending).astype(np.int64, copy=False)
    return return_types.sort(Gather(idx, d, unique=True)(x), Tensor(idx))


def argsort(input, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (int64)."""
    x = as_tensor(input)
    if x.ndim == 0:
        return Tensor(get_array_module(x.array).zeros((), np.int64))
    d = _dim(dim, x.ndim, "argsort")
    return Tensor(_argsort(x.array, d, descending).astype(np.int64, copy=False))


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``, always in sorted order
    (largest first, or smallest first with ``largest=False``); among equal values the first index comes first."""
    x = as_tensor(input)
    d = _dim(dim, x.ndim, "topk")
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for dimension {d} of size {n} (input shape {x.shape})")
    if x.ndim == 0:  # k is 0 or 1 here
        from .shape import reshape
        r = topk(reshape(x, 1), k, 0, largest, sorted)
        return r if k == 0 else return_types.topk(reshape(r.values, ()), Tensor(r.indices.array.reshape(())))
    idx = _argsort(x.array, d, largest)[(slice(None),) * d + (slice(0, k),)].astype(np.int64, copy=False)
    return return_types.topk(Gather(idx, d, unique=True)(x), Tensor(idx))


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False):
    """``(values, indices)`` of the ``k``-th smallest element (k from 1) along ``dim``."""
    x = as_tensor(input)
    d = _dim(dim, x.ndim, "kthvalue")
    n = x.shape[d] if x.ndim else 1
    if not 1 <= k <= n:
        raise ValueError(f"kthvalue: k={k} is out of range [1, {n}] for dimension {d} (input shape {x.shape})")
    return _select_along("kthvalue", x, d if x.ndim else None, keepdim,
                         lambda a, dd: np.take(_argsort(a, dd, False), [k - 1], axis=dd))


def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim: int | None = None):
    """The distinct values (sorted), and optionally where each input element went and how often each occurs."""
    a = input.array if isinstance(input, Tensor) else get_array_module(input).asarray(input)
    out = np.unique(a, return_inverse=True, return_counts=True, axis=dim)
    values, inverse, counts = out
    if dim is None:
        inverse = inverse.reshape(a.shape)
    else:
        inverse = inverse.reshape(-1)
    result = [Tensor(values, dtype=values.dtype)]
    if return_inverse:
        result.append(Tensor(inverse.astype(np.int64, copy=False)))
    if return_counts:
        result.append(Tensor(counts.astype(np.int64, copy=False)))
    return result[0] if len(result) == 1 else tuple(result)


def bincount(input, weights=None, minlength: int = 0) -> Tensor:
    """How often each non-negative integer occurs in the 1-D ``input`` (summed ``weights`` when given)."""
    a = _int_index(input, "bincount", "input")
    if a.ndim != 1:
        raise ValueError(f"bincount: input must be 1-D, got shape {a.shape}")
    if a.size and a.min() < 0:
        raise ValueError("bincount: input must hold non-negative integers")
    if weights is None:
        return Tensor(np.bincount(a, minlength=minlength).astype(np.int64, copy=False))
    w = weights.array if isinstance(weights, Tensor) else get_array_module(weights).asarray(weights)
    out = np.bincount(a, weights=w, minlength=minlength)
    d = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
    return Tensor(out.astype(d, copy=False), dtype=d)
