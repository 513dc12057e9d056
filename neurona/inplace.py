"""In-place changes of tensors, with PyTorch's rules.

``x += y``, ``x.mul_(2)``, ``x[i] = v``, ``p.data.normal_()``... change a
tensor's own memory, so every tensor that shares it (its views, ``detach()``,
``.data``) sees the new values.

- **Under** ``no_grad()``, or when nothing involved requires grad, the change
  is just a write: this is how a hand-written optimizer updates its
  parameters (``with no_grad(): p -= lr * p.grad``).
- **With grad mode on**, an in-place op on a leaf that requires grad is an
  error (its gradient would describe values that no longer exist); on any
  other tensor the op is recorded: the tensor's creator becomes the in-place
  op, so gradients flow through the new values (``out += identity`` in a
  residual block). The op computes its result with the ordinary op and copies
  it into the tensor's memory (ops that only write, such as ``fill_`` or
  ``x[i] = v``, write directly).
- **Versions.** Every in-place change of a block of memory is recorded here
  (a version count and the creation stamp of the change, on the same clock
  as the graph's nodes). When ``backward`` reaches a node created before the
  latest change, it looks at the arrays that node kept for backward; if one
  of them was changed after the node was made, its gradient would be wrong,
  and ``backward`` raises PyTorch's "one of the variables needed for gradient
  computation has been modified by an inplace operation" naming the op.
  Nodes made after the latest change pay nothing.
- **Views.** Reshapes, transposes, basic indexing and expands are views of
  their input's memory. An in-place change through a view also changes its
  base, whose history is rebased as in PyTorch (the base becomes "old base
  with the view's region replaced"), and every view of a base that changed
  gets a graph that reads it from the base's new history. A view made under
  ``no_grad()`` cannot be changed in place with grad mode on (PyTorch's rule).
"""
from __future__ import annotations

import collections
import functools
import math
import weakref

import numpy as np

from . import backend
from .engine import Function, Tensor, ViewFunction, _mode, _stamp

# --- which memory was changed in place, and when ---------------------------------------------------------------


class _Changes:
    """The in-place history of one block of memory: its version and the stamps of its latest changes."""

    __slots__ = ("ref", "version", "stamps", "outputs_of")

    def __init__(self, root, key: int):
        self.ref = weakref.ref(root, functools.partial(_forget, key))
        self.version = 0
        self.stamps = collections.deque(maxlen=32)
        self.outputs_of = collections.deque(maxlen=32)  # ids of the creators of the tensors that were changed


_changes: dict[int, _Changes] = {}  # id(root array) -> its history; only memory changed in place has one
_last = 0  # stamp of the most recent in-place change (0: none yet)
anomaly = False  # set by neurona.autograd.set_detect_anomaly


def _forget(key: int, ref) -> None:
    rec = _changes.get(key)
    if rec is not None and rec.ref is ref:
        del _changes[key]


def _root(a):
    """The array that owns ``a``'s memory (``a`` itself unless it is a view)."""
    b = a.base
    while b is not None and type(b) is type(a):
        a, b = b, b.base
    return a


def same_memory(a, b) -> bool:
    return _root(a) is _root(b)


class _Alias:
    """What a tensor shares: the base it is a view of (and how), the views made of it, whether it is ``.data``."""

    __slots__ = ("base", "fn", "views", "untracked")

    def __init__(self, base=None, fn=None, untracked=False):
        self.base, self.fn, self.views, self.untracked = base, fn, None, untracked


def _alias(t: Tensor):
    return getattr(t, "_alias", None)


def untracked() -> _Alias:
    """The alias record of a ``.data`` tensor."""
    return _Alias(untracked=True)


def record_change(t: Tensor, stamp: int) -> None:
    """Note that ``t``'s memory was changed in place at ``stamp`` (its version goes up by one)."""
    global _last
    al = _alias(t)
    if al is not None and al.untracked:
        return  # PyTorch's .data: changes through it are not seen by the version checks
    root = _root(t.array)
    key = id(root)
    rec = _changes.get(key)
    if rec is None or rec.ref() is not root:
        rec = _changes[key] = _Changes(root, key)
    rec.version += 1
    rec.stamps.append(stamp)
    for holder in (t, al.base if al is not None else None):
        if holder is not None and holder._ctx is not None:
            rec.outputs_of.append(id(holder._ctx))
    if stamp > _last:
        _last = stamp


def version_of(t: Tensor) -> int:
    al = _alias(t)
    if al is not None and al.untracked:
        return 0
    root = _root(t.array)
    rec = _changes.get(id(root))
    return rec.version if rec is not None and rec.ref() is root else 0


def checks_from() -> float:
    """backward checks every node whose stamp is at most this (all of them in anomaly mode)."""
    return math.inf if anomaly else _last


def checked_backward(fn: Function, gy):
    """``fn.backward(gy)`` after the checks for a node made before the latest in-place change, or freed."""
    if fn.freed:
        raise RuntimeError(
            f"backward(): the graph through {type(fn).__name__} was already freed by an earlier backward; "
            f"pass retain_graph=True to the first backward() to differentiate through it twice"
        )
    if fn.gen < _last:
        _check_unchanged(fn)
    gxs = fn.backward(gy)
    if anomaly:
        for i, g in enumerate(gxs if isinstance(gxs, (tuple, list)) else (gxs,)):
            if isinstance(g, backend.array_types()) and not backend.get_array_module(g).isfinite(g).all():
                raise RuntimeError(f"Function '{type(fn).__name__}' returned nan or infinite values in its "
                                   f"{i}th output (the gradient of its input {i}), in anomaly detection mode")
    return gxs


def _kept_arrays(fn: Function):
    """(name, array) for every array ``fn`` kept for backward (directly, in a tuple or list, or as a Tensor)."""
    for name, v in fn.__dict__.items():
        for a in (v if type(v) in (tuple, list) else (v,)):
            if isinstance(a, Tensor):
                a = a.array
            if isinstance(a, backend.array_types()):
                yield name, a


def _check_unchanged(fn: Function) -> None:
    for name, a in _kept_arrays(fn):
        root = _root(a)
        rec = _changes.get(id(root))
        if rec is None or rec.ref() is not root or rec.stamps[-1] < fn.gen:
            continue
        later = sum(1 for s in rec.stamps if s > fn.gen)
        op = type(fn).__name__
        role = "output 0" if id(fn) in rec.outputs_of else "an input"
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"[{a.dtype} tensor of shape {tuple(a.shape)}], which is {role} of {op} (kept as '{name}'), is at "
            f"version {rec.version}; expected version {rec.version - later} instead. Hint: the tensor was changed "
            f"in place after {op} used it; change it out of place (y = y + 1 rather than y += 1, y = y.relu() "
            f"rather than y.relu_()) or clone() it before the change"
        )


# --- views -------------------------------------------------------------------------------------------------------


def link_view(out: Tensor, x: Tensor, fn) -> None:
    """Record that ``out`` is the view ``fn(x.array)`` of ``x``'s memory (called by view ops)."""
    al = _alias(x)
    if al is None or al.base is None:
        base, chain = x, fn
    else:
        base, prev = al.base, al.fn
        chain = None if prev is None else (lambda a, f=prev, g=fn: g(f(a)))
    if not _mode.enabled:
        chain = None  # made under no_grad: never rebased, and never changed in place with grad mode on
    balias = _alias(base)
    out._alias = _Alias(base, chain, balias is not None and balias.untracked)
    if chain is None or (base._ctx is None and base.requires_grad):
        return  # a view of a leaf that requires grad is never rebased: changing either in place is refused
    if balias is None:
        balias = base._alias = _Alias()
    views = balias.views
    if views is None:
        views = balias.views = []
    elif len(views) >= 16 and len(views) & (len(views) - 1) == 0:  # at each power of two: drop dead views
        views[:] = [r for r in views if r() is not None]
    views.append(weakref.ref(out))


def _positions(base: Tensor, fn):
    """For each element of the view ``fn(base)``, its flat index in ``base``."""
    xp = backend.get_array_module(base.array)
    return xp.asarray(fn(xp.arange(base.array.size).reshape(base.array.shape)))


class CopySlices(Function):
    """A base after an in-place change through one of its views: the old base outside the view, the view inside."""

    def __init__(self, pos, shape):
        self.pos, self.shape = pos, shape

    def backward(self, gy):  # ∂new/∂old base = 1 outside the view, 0 inside; ∂new/∂view = 1 at the view's elements
        pos = self.pos
        g_old = None
        if self.needs[0]:
            g_old = gy.copy()  # C order: its reshape(-1) is a view
            g_old.reshape(-1)[pos.reshape(-1)] = 0
        return g_old, gy.reshape(-1)[pos]


class AsView(Function):
    """A view read again from its base's history, after the base changed in place."""

    def __init__(self, pos, shape):
        self.pos, self.shape = pos, shape

    def backward(self, gy):  # scatter back to the base; an element seen several times (expand) adds up
        xp = backend.get_array_module(gy)
        gx = xp.zeros(int(np.prod(self.shape, dtype=np.int64)), gy.dtype)
        xp.add.at(gx, self.pos.reshape(-1), gy.reshape(-1))
        return gx.reshape(self.shape)


def _parent(t: Tensor):
    return t._ctx if t._ctx is not None else (t if t.requires_grad else None)


def _attach(fn: Function, parents: list) -> Function:
    """Record a node made by hand (not by calling it on tensors)."""
    fn.parents = parents
    fn.needs = tuple(p is not None for p in parents)
    fn.gen = _stamp()
    return fn


def _rebase(t: Tensor) -> None:
    """After a recorded in-place change of ``t``: its base (if a view) and every view of that base see it."""
    al = _alias(t)
    if al is not None and al.base is not None:
        base = al.base
        node = CopySlices(_positions(base, al.fn), base.array.shape)
        base._ctx, base.requires_grad = _attach(node, [_parent(base), t._ctx]), True
    else:
        base = t
    balias = _alias(base)
    if balias is None or not balias.views:
        return
    for ref in balias.views:
        v = ref()
        if v is not None:
            v._ctx = _attach(AsView(_positions(base, v._alias.fn), base.array.shape), [base._ctx])
            v.requires_grad = True


# --- the in-place op ---------------------------------------------------------------------------------------------


def _recording(t: Tensor, operands) -> bool:
    if not _mode.enabled:
        return False
    if t.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands):
        return True
    al = _alias(t)  # a view (made under no_grad) of a tensor that requires grad: the base's history would change
    return al is not None and al.base is not None and al.base.requires_grad


def _leaf_viewed(t: Tensor):
    """The leaf that requires grad whose memory ``t`` is a view of, found by walking back ``t``'s view ops."""
    fn = t._ctx
    while isinstance(fn, ViewFunction):
        p = fn.parents[0]
        if isinstance(p, Tensor):
            return p if same_memory(t.array, p.array) else None
        fn = p
    return None


def _check_recordable(t: Tensor, op: str) -> None:
    hint = (" Change the values under `with neurona.no_grad():` (as a hand-written optimizer step does), or "
            "compute a new tensor out of place (w = w + 1)")
    if t._ctx is None and t.requires_grad:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation."
                           + hint)
    if _leaf_viewed(t) is not None:  # views of such leaves are not linked (see ViewFunction)
        raise RuntimeError(f"{op}: a view of a leaf Variable that requires grad is being used in an in-place "
                           f"operation." + hint)
    al = _alias(t)
    if al is None or al.base is None:
        return
    if al.base._ctx is None and al.base.requires_grad:
        raise RuntimeError(f"{op}: a view of a leaf Variable that requires grad is being used in an in-place "
                           f"operation." + hint)
    if al.fn is None:
        raise RuntimeError(
            f"{op}: a view was created in no_grad mode and is being modified in place with grad mode enabled. "
            f"Move both the view and the in-place change inside the no_grad block (if the change should not be "
            f"recorded) or both outside it (if it should)"
        )


def _fresh_nodes(fn, start: int) -> list:
    """The nodes recorded since ``start`` on the way back from ``fn`` (those of the op being done in place)."""
    found, stack = [], [fn]
    while stack:
        f = stack.pop()
        if isinstance(f, Function) and f.gen > start and all(f is not g for g in found):
            found.append(f)
            stack.extend(f.parents)
    return found


def _replace_kept(nodes: list, swap) -> None:
    """Apply ``swap(array) -> array`` to every array the nodes kept (directly or in a tuple or list)."""
    for fn in nodes:
        d = fn.__dict__
        for k, v in list(d.items()):
            if type(v) in (tuple, list):
                d[k] = type(v)(swap(a) if isinstance(a, backend.array_types()) else a for a in v)
            elif isinstance(v, backend.array_types()):
                d[k] = swap(v)


def _check_fits(shape, target, op: str) -> None:
    """An in-place result must broadcast to the tensor's own shape, never beyond it."""
    try:
        b = np.broadcast_shapes(tuple(shape), tuple(target))
    except ValueError:
        raise RuntimeError(f"{op}: shapes {tuple(target)} and {tuple(shape)} do not broadcast") from None
    if b != tuple(target):
        raise RuntimeError(f"{op}: output with shape {tuple(target)} doesn't match the broadcast shape {b}")


def _check_writable(t: Tensor, op: str) -> None:
    if not getattr(t.array.flags, "writeable", True):
        raise RuntimeError(f"{op}: cannot write into this tensor of shape {tuple(t.shape)}: it is read-only. An "
                           f"expand()ed or broadcast tensor shares one element among many places: clone() it first")


def _broadcasts(x, a) -> bool:
    try:
        np.broadcast_shapes(x.shape, a.shape)
        return True
    except ValueError:
        return False


def _write(t: Tensor, src, op: str, casting: str = "same_kind") -> None:
    """Copy ``src`` (of ``t``'s shape after broadcasting) into ``t``'s memory."""
    a = t.array
    _check_fits(src.shape, a.shape, op)
    try:
        backend.get_array_module(a).copyto(a, src, casting=casting)
    except TypeError:
        raise RuntimeError(f"{op}: result type {src.dtype} can't be cast to the desired output type {a.dtype}") from None
    except ValueError:
        _check_writable(t, op)
        raise


def modify(t: Tensor, op: str, compute, operands=(), casting: str = "same_kind") -> Tensor:
    """Give ``t`` the values of ``compute()`` (a Tensor) in its own memory, recording the op when grad mode asks.

    ``compute`` uses the ordinary ops. An op that writes its first input
    itself and returns it (an in-place kernel: setitem, fill_, ...) skips
    the copy; such a kernel must not keep that input for its backward.
    """
    _check_writable(t, op)
    if not _recording(t, operands):
        new = compute()
        if new.array is not t.array:
            _write(t, new.array, op, casting)
        record_change(t, _stamp())
        return t
    _check_recordable(t, op)
    start = _stamp()  # the change's stamp: older than the nodes of this op, newer than every node before it
    new = compute()
    a, src = t.array, new.array
    fresh = _fresh_nodes(new._ctx, start)
    if src is not a:
        root = _root(a)
        _replace_kept(fresh, lambda k: k.copy() if _root(k) is root else k)  # the op's nodes keep t's old values
        _write(t, src, op, casting)
        _replace_kept(fresh, lambda k: a if k is src else k)  # ... and share t's memory where they kept the result
    record_change(t, start)
    if new._ctx is None:  # the new values are constants: t keeps a graph, with no gradient to its old values
        t._ctx = _attach(Overwrite(None), [_parent(t)])
    else:
        t._ctx = new._ctx
    t.requires_grad = True
    _rebase(t)
    return t


class Overwrite(Function):
    """In-place kernel: the tensor's new values do not depend on its old ones (fill_, random fills, floor division)."""

    def __init__(self, values):
        self.values = values

    def forward(self, x, *others):
        x[...] = self.__dict__.pop("values")
        self.shapes = [x.shape] + [o.shape for o in others]  # nothing else is kept
        return x

    def backward(self, gy):  # the old values are gone: their gradient is zero, as in PyTorch
        xp = backend.get_array_module(gy)
        shapes = self.__dict__.get("shapes") or [gy.shape] * len(self.parents)
        return tuple(xp.zeros(s, gy.dtype) if need else None for s, need in zip(shapes, self.needs))


# --- the ops (Tensor's in-place methods call these) -------------------------------------------------------------


def _array(x):
    return x.array if isinstance(x, Tensor) else x


def binary_(t: Tensor, op: str, ufunc, fn, other, alpha=1) -> Tensor:
    """``t ← fn(t, alpha·other)`` in place: add_, sub_, mul_, pow_, +=, -=, *=, **=."""
    _check_writable(t, op)
    if not _recording(t, (other,)):
        a = t.array
        o = _array(other)
        if alpha != 1:
            o = o * alpha
        try:
            ufunc(a, o, out=a, casting="same_kind")
        except TypeError:
            rt = np.result_type(a, o)
            raise RuntimeError(f"{op}: result type {rt} can't be cast to the desired output type {a.dtype}") from None
        except ValueError:
            _check_fits(np.shape(o), a.shape, op)  # names the shapes
            raise
        record_change(t, _stamp())
        return t
    operand = other if alpha == 1 else _m().mul(other, alpha)
    return modify(t, op, lambda: fn(t, operand), (other,))


def div_(t: Tensor, other, rounding_mode=None, op: str = "div_") -> Tensor:
    if rounding_mode is None:
        return binary_(t, op, np.true_divide, _m().div, other)
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError(f"{op}: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    a, o = t.array, _array(other)
    if a.dtype.kind in "iu" and np.result_type(a, o).kind in "iu":
        q = np.floor_divide(a, o)
        if rounding_mode == "trunc":  # floor rounds negative quotients down; trunc rounds them towards zero
            q = q + ((np.remainder(a, o) != 0) & ((a < 0) != (np.asarray(o) < 0)))
    else:
        q = np.true_divide(a, o)
        q = np.floor(q) if rounding_mode == "floor" else np.trunc(q)
    return _overwrite(t, q, op, (other,))


def _overwrite(t: Tensor, values, op: str, operands=()) -> Tensor:
    """``t ← values``, values that carry no gradient."""
    values = backend.get_array_module(t.array).asarray(values)
    if not _recording(t, operands):
        _write(t, values, op)
        record_change(t, _stamp())
        return t
    _check_fits(values.shape, t.shape, op)
    if not np.can_cast(values.dtype, t.array.dtype, "same_kind"):
        raise RuntimeError(f"{op}: result type {values.dtype} can't be cast to the desired output type {t.dtype}")
    tensors = [o for o in operands if isinstance(o, Tensor)]
    return modify(t, op, lambda: Overwrite(values)(t, *tensors), operands)


def addc_(t: Tensor, op: str, t1, t2, value) -> Tensor:
    """addcmul_ (t ← t + value·t1·t2) and addcdiv_ (t ← t + value·t1/t2)."""
    if not _recording(t, (t1, t2)):
        x1, x2 = _array(t1), _array(t2)
        term = x1 * x2 if op == "addcmul_" else x1 / x2
        return binary_(t, op, np.add, None, term if value == 1 else term * value)
    m = _m()
    term = m.mul(t1, t2) if op == "addcmul_" else m.div(t1, t2)
    if value != 1:
        term = m.mul(term, value)
    return modify(t, op, lambda: m.add(t, term), (t1, t2))


def lerp_(t: Tensor, end, weight) -> Tensor:
    """t ← t + weight·(end − t)."""
    if not _recording(t, (end, weight)):
        a = t.array
        return binary_(t, "lerp_", np.add, None, (_array(end) - a) * _array(weight))
    m = _m()
    return modify(t, "lerp_", lambda: m.add(t, m.mul(m.sub(end, t), weight)), (end, weight))


def clamp_(t: Tensor, lo, hi, op: str) -> Tensor:
    if lo is None and hi is None:
        raise ValueError(f"{op}: at least one of min and max must be given")
    _check_writable(t, op)
    if not _recording(t, (lo, hi)):
        a = t.array
        xp = backend.get_array_module(a)
        if lo is not None:
            xp.maximum(a, _array(lo), out=a, casting="same_kind")
        if hi is not None:
            xp.minimum(a, _array(hi), out=a, casting="same_kind")
        record_change(t, _stamp())
        return t
    m = _m()

    def compute():
        if not isinstance(lo, Tensor) and not isinstance(hi, Tensor):
            return m.clip(t, lo, hi)
        y = t if lo is None else m.maximum(t, lo)
        return y if hi is None else m.minimum(y, hi)
    return modify(t, op, compute, (lo, hi))


def fill_(t: Tensor, value, op: str) -> Tensor:
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"{op}: only a 0-dimensional value tensor can fill a tensor, got shape {value.shape}")
        if _recording(t, (value,)) and value.requires_grad:
            return copy_(t, value, op)
        value = value.array
    _check_writable(t, op)
    if not _recording(t, ()):
        t.array[...] = value
        record_change(t, _stamp())
        return t
    return modify(t, op, lambda: Overwrite(value)(t))


class Copy(Function):
    """In-place kernel of copy_: the tensor takes ``src``'s values (broadcast, converted to its dtype)."""

    def forward(self, x, src):
        self.src_shape, self.src_dtype = src.shape, src.dtype
        backend.get_array_module(x).copyto(x, src, casting="unsafe")
        return x

    def backward(self, gy):  # ∂x_new/∂src = 1 (summed over broadcast), none to the old x
        from .functional.math import unbroadcast
        g = unbroadcast(gy, self.src_shape) if self.needs[1] else None
        return None, (g.astype(self.src_dtype, copy=False) if g is not None and self.src_dtype.kind == "f" else g)


def copy_(t: Tensor, src, op: str = "copy_") -> Tensor:
    """t ← src (broadcast to t's shape, converted to t's dtype)."""
    s = _array(src)
    if not hasattr(s, "shape"):
        s = backend.get_array_module(t.array).asarray(s)
    if not _broadcasts(s, t.array) or np.broadcast_shapes(s.shape, t.shape) != t.shape:
        raise ValueError(f"{op}: cannot copy shape {tuple(s.shape)} into shape {tuple(t.shape)}")
    _check_writable(t, op)
    if not _recording(t, (src,)):
        backend.get_array_module(t.array).copyto(t.array, s, casting="unsafe")
        record_change(t, _stamp())
        return t
    if isinstance(src, Tensor) and src.requires_grad:
        return modify(t, op, lambda: Copy()(t, src), (src,))
    return modify(t, op, lambda: Overwrite(s)(t))


def masked_fill_(t: Tensor, mask, value) -> Tensor:
    """t ← value where mask holds."""
    op, inputs = _s().masked_fill_parts(t, mask, value, "masked_fill_", inplace=True)
    if not _recording(t, inputs[1:]):
        return _plain(t, lambda: op.forward(*[x.array for x in inputs]), "masked_fill_")
    return modify(t, "masked_fill_", lambda: op(*inputs), inputs[1:])


def index_add_(t: Tensor, dim, index, source, alpha) -> Tensor:
    """t[..., index[i], ...] += alpha·source[..., i, ...] along dim."""
    s = _s()
    d, idx, source = s.index_add_parts(t, dim, index, source, "index_add_")
    if not _recording(t, (source,)):
        return _plain(t, lambda: s.index_add_into(t.array, d, idx, source.array, alpha), "index_add_")
    return modify(t, "index_add_", lambda: s.IndexAdd(d, idx, alpha, inplace=True)(t, source), (source,))


def setitem_(t: Tensor, index, value) -> None:
    """t[index] = value."""
    s = _s()
    index = s.index_of(index)
    if not _recording(t, (value,)):
        _check_writable(t, "__setitem__")
        try:
            t.array[index] = _array(value)
        except ValueError as e:
            raise ValueError(f"__setitem__: cannot assign a value of shape {np.shape(_array(value))} to index "
                             f"{index!r} of a tensor of shape {t.shape}: {e}") from e
        record_change(t, _stamp())
        return
    modify(t, "__setitem__", lambda: s.setitem(t, index, value), (value,))


def _plain(t: Tensor, write, op: str) -> Tensor:
    """An in-place change that records no graph: ``write()`` changes ``t.array``."""
    _check_writable(t, op)
    write()
    record_change(t, _stamp())
    return t


def unary_(t: Tensor, op: str, method) -> Tensor:
    """``t ← method(t)`` for an elementwise op (exp_, relu_, ...)."""
    return modify(t, op, lambda: method(t))


def random_fill_(t: Tensor, op: str, generator, kind: str, *params) -> Tensor:
    """Fill ``t`` with draws of a distribution (normal_, uniform_, bernoulli_, ...), from ``generator``."""
    from .creation import _gen
    rng = _gen(generator)
    shape, dtype = t.shape, t.array.dtype
    floating = ("normal", "uniform", "exponential", "log_normal", "cauchy")
    if kind in floating and dtype.kind != "f":
        raise TypeError(f"{op}: expects a floating-point tensor, got {dtype}")
    if kind == "normal":
        v = rng.normal(params[0], params[1], shape)
    elif kind == "uniform":
        v = rng.uniform(params[0], params[1], shape)
    elif kind == "bernoulli":
        p = _array(params[0])
        v = rng.random(shape) < (backend.to_numpy(p) if hasattr(p, "shape") else p)
    elif kind == "random":
        lo, hi = _random_range(params, dtype, op)
        v = rng.integers(lo, hi, shape)
    elif kind == "exponential":
        v = rng.exponential(1.0 / params[0], shape)
    elif kind == "log_normal":
        v = rng.lognormal(params[0], params[1], shape)
    elif kind == "cauchy":
        v = params[0] + params[1] * rng.standard_cauchy(shape)
    else:  # geometric
        v = rng.geometric(params[0], shape)
    v = np.asarray(v).astype(dtype, copy=False)
    return _overwrite(t, backend.to_device(v, backend.device_of(t.array)), op)


def _random_range(params, dtype, op: str) -> tuple:
    """PyTorch's random_(): [0, 2^mantissa] for floats or [0, max] for integers; random_(to); random_(from, to)."""
    lo, hi = params
    if hi is None and lo != 0:
        lo, hi = 0, lo
    if hi is None:
        if dtype.kind == "f":
            hi = 2 ** (np.finfo(dtype).nmant + 1) + 1
        elif dtype.kind == "b":
            hi = 2
        else:
            hi = int(np.iinfo(dtype).max)
    if hi <= lo:
        raise ValueError(f"{op}: expects from < to, got from={lo} and to={hi}")
    return int(lo), int(hi)


@functools.lru_cache(maxsize=None)
def _m():
    from .functional import math
    return math


@functools.lru_cache(maxsize=None)
def _s():
    from .functional import shape
    return shape


def view_(t: Tensor, op: str, method) -> Tensor:
    """An in-place view op (``t_``, ``transpose_``, ``squeeze_``, ``unsqueeze_``): ``t`` becomes ``method(t)``,
    the same memory seen with another shape. As in PyTorch, a leaf that requires grad refuses with grad mode on;
    on other tensors the view is recorded like its out-of-place form."""
    if _recording(t, ()):
        _check_recordable(t, op)
    new = method(t)
    t.array = new.array
    if new._ctx is not None:
        t._ctx = new._ctx
    al = _alias(new)
    if al is not None:
        t._alias = al
    return t


def resize_(t: Tensor, shape: tuple, op: str = "resize_") -> Tensor:
    """``t`` gets ``shape``: its elements in order, cut or extended (new elements are zeros; PyTorch leaves them
    uninitialised). Refused for a tensor that requires grad, as in PyTorch."""
    if t.requires_grad:
        raise RuntimeError(f"{op}: cannot resize a tensor that requires grad")
    if any(n < 0 for n in shape):
        raise ValueError(f"{op}: sizes must be non-negative, got {shape}")
    a = t.array
    xp = backend.get_array_module(a)
    n = math.prod(shape)
    flat = a.reshape(-1)  # a view when a is contiguous
    if n <= flat.size:
        t.array = flat[:n].reshape(shape)
    else:
        grown = xp.zeros(n, a.dtype)
        grown[:flat.size] = flat
        t.array = grown.reshape(shape)
    record_change(t, _stamp())
    return t
