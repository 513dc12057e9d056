"""The engine: ``Tensor``, ``Function``, reverse-mode ``backward`` and grad mode.

A ``Tensor`` wraps an ndarray. Each differentiable op is a ``Function``
subclass whose ``forward`` works on raw arrays and whose ``backward`` maps the
gradient of its output to the gradients of its inputs (the chain rule,
∂L/∂x = ∂L/∂y · ∂y/∂x). When gradients are enabled and some input requires a
gradient, calling a ``Function`` records it as the output's creator; the
recorded creators form the computational graph that ``backward`` walks from
the output back to the leaves.

Backward is iterative: every recorded creator gets a creation stamp (``gen``)
from one counter, and a creator is always made after the creators of its
inputs, so visiting creators by decreasing stamp runs each one only after
every consumer of its output has contributed its gradient. Gradients of a
tensor used several times are summed; leaves accumulate into ``.grad`` across
calls until zeroed, like PyTorch.

In-place ops (``x += y``, ``x.mul_(2)``, ``x[i] = v``) change a tensor's own
memory, as in PyTorch; with grad mode on they are recorded (the tensor's
creator becomes the in-place op). The bookkeeping — which memory was changed
and when, so that ``backward`` refuses arrays that an op kept and that were
changed afterwards, and the views that share a tensor's memory — lives in
:mod:`neurona.inplace`; it costs nothing to ops that are not in place.
"""
from __future__ import annotations

import heapq
import itertools
import operator
import threading
import weakref

import numpy as np

from . import backend
from . import printing as _printing
from .size import Size

_tuple_new = tuple.__new__
_NO_DATA = object()  # Tensor() with no argument: an empty float tensor, as in PyTorch

# --- grad mode -----------------------------------------------------------------


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether ops called now record a graph."""
    return _mode.enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = _mode.enabled
        _mode.enabled = self.mode  # like torch: takes effect when constructed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev
        return False

    def __call__(self, fn):
        # used as a decorator: constructing it switched the mode already; undo that, switch inside fn only
        _mode.enabled = self.prev
        return _with_mode(fn, self.mode)


def _with_mode(fn, mode: bool):
    def wrapper(*args, **kwargs):
        prev = _mode.enabled
        _mode.enabled = mode
        try:
            return fn(*args, **kwargs)
        finally:
            _mode.enabled = prev

    wrapper.__name__ = getattr(fn, "__name__", "wrapper")
    wrapper.__doc__ = getattr(fn, "__doc__", None)
    wrapper.__wrapped__ = fn
    return wrapper


class no_grad:
    """Run ops without recording a graph: no creators, no saved arrays.

    Use as ``with neurona.no_grad(): ...`` or as a decorator ``@neurona.no_grad()``.
    """

    _enabled = False

    def __new__(cls, fn=None):
        if fn is not None:  # used bare as a decorator: @no_grad
            return cls()(fn)
        return super().__new__(cls)

    def __init__(self, fn=None):
        pass

    def __enter__(self):
        self.prev = _mode.enabled
        _mode.enabled = self._enabled
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev
        return False

    def __call__(self, fn):
        return _with_mode(fn, self._enabled)


class enable_grad(no_grad):
    """Re-enable graph recording inside a ``no_grad`` block."""

    _enabled = True


class inference_mode(no_grad):
    """PyTorch's ``inference_mode``: in neurona the same as ``no_grad`` (``inference_mode(False)`` records)."""

    def __new__(cls, mode=True):
        if callable(mode):  # used bare as a decorator
            return cls()(mode)
        return object.__new__(cls)

    def __init__(self, mode: bool = True):
        self._enabled = not mode


# --- Function --------------------------------------------------------------------

_NEEDS1 = (True,)
_F64 = np.dtype(np.float64)
_NDARRAY = np.ndarray
_stamp = itertools.count(1).__next__  # creation stamps of graph nodes and of in-place changes (atomic under the GIL)


def _normalize_output(data, inputs):
    """Fix the two ways NumPy's answer can break the dtype and array contracts of ``Tensor.array``.

    - 0-d arithmetic returns NumPy scalars (np.float32), not arrays: wrap them.
    - Integers combined with floats (``int / int``, ``int * 0.5``, ``int + float32``) come out float64.
      As in PyTorch, the result takes the floating inputs' dtype, or the default dtype when no input is
      floating. float64 stays where an input was float64, and where every input is floating (a float64
      constant leaking inside an op is that op's bug, left visible for its tests).
    """
    if isinstance(data, np.generic):
        data = np.asarray(data)
    if data.dtype != _F64:
        return data
    floats = []
    for t in inputs:
        d = t.array.dtype
        if d.kind == "f":
            if d == _F64:
                return data
            floats.append(d)
    if len(floats) == len(inputs):
        return data
    target = floats[0] if floats else backend.get_default_dtype()
    for d in floats:
        if d.itemsize > target.itemsize:
            target = d
    return data if target == _F64 else data.astype(target)


_device_types = backend._modules  # non-empty once a device other than the CPU is in use


def _check_devices(fn, inputs) -> None:
    """PyTorch's error for an op whose inputs live on different devices, naming both."""
    kinds = {type(t.array) for t in inputs}
    if len(kinds) > 1:
        backend.same_device(type(fn).__name__.lower(), *[t.array for t in inputs])


class Function:
    """Base class of every differentiable primitive.

    Subclasses implement ``forward(*arrays) -> array`` and
    ``backward(gy) -> grad or tuple of grads`` (one per input, ``None`` where
    no gradient is needed; ``self.needs`` says which are). Whatever backward
    needs is stored on ``self`` in forward, by name; after backward the engine
    clears it (unless ``retain_graph=True``), so nothing is kept by accident.
    Hyperparameters (axis, shape, ...) are passed to ``__init__``.
    """

    __slots__ = ("parents", "needs", "gen", "__dict__")
    retained = None  # weakref to the output when retain_grad() was called on it
    hooks = None  # the output's register_hook hooks (a dict), run on its gradient before backward

    def __call__(self, *inputs: "Tensor") -> "Tensor":
        if len(inputs) == 1:  # the common case, kept short: it runs for every elementwise op
            x = inputs[0]
            try:
                data = self.forward(x.array)
            except ValueError as e:
                raise ValueError(self._describe_failure(inputs, e)) from e
            if type(data) is not _NDARRAY or data.dtype is _F64:
                data = _normalize_output(data, inputs)
            out = Tensor.__new__(Tensor)
            out.array, out._grad, out.name = data, None, None
            if x.requires_grad and _mode.enabled:
                c = x._ctx
                self.parents = (x,) if c is None else (c,)
                self.needs, self.gen = _NEEDS1, _stamp()
                out._ctx, out.requires_grad = self, True
            else:
                out._ctx, out.requires_grad = None, False
            return out
        if _device_types:
            _check_devices(self, inputs)
        try:
            data = self.forward(*[t.array for t in inputs])
        except ValueError as e:
            raise ValueError(self._describe_failure(inputs, e)) from e
        if type(data) is not _NDARRAY or data.dtype is _F64:
            data = _normalize_output(data, inputs)
        out = Tensor.__new__(Tensor)
        out.array, out._grad, out.name = data, None, None
        out._ctx, out.requires_grad = None, False
        if _mode.enabled:
            needs = tuple([t.requires_grad for t in inputs])
            if True in needs:
                parents = []
                for t in inputs:
                    c = t._ctx
                    parents.append(c if c is not None else (t if t.requires_grad else None))
                self.parents = parents
                self.needs = needs
                self.gen = _stamp()
                out._ctx, out.requires_grad = self, True
        return out

    def forward(self, *xs):  # pragma: no cover - every op overrides it
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def backward(self, gy):  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__}.backward is not written")

    def _describe_failure(self, inputs, err) -> str:
        shapes = " and ".join(str(tuple(t.shape)) for t in inputs)
        return f"{type(self).__name__.lower()}: cannot apply to inputs of shapes {shapes}: {err}"

    def release(self) -> None:
        """Drop what forward kept for backward."""
        d = self.__dict__
        if d:
            d.clear()
            self.gen = -1  # marks it freed, and older than any in-place change: backward's one stamp test sees it

    @property
    def freed(self) -> bool:
        """Whether release() dropped what backward needs."""
        return getattr(self, "gen", 0) < 0


class ViewFunction(Function):
    """A Function whose output is a view of its input's memory (reshape, transpose, basic indexing...).

    ``view_fn()`` returns a function that applies the same view to any array
    of the input's shape. The output is linked to its base tensor, so that an
    in-place change of either is seen by the other's graph, as in PyTorch.
    """

    def view_fn(self):  # pragma: no cover - every view op overrides it
        raise NotImplementedError(f"{type(self).__name__}.view_fn is not written")

    def __call__(self, x: "Tensor") -> "Tensor":
        out = Function.__call__(self, x)
        # a view of a leaf that requires grad made with grad mode on (w.T, the common case) is linked to nothing:
        # changing it in place is refused, and neurona.inplace finds that by walking back its graph
        if (x._ctx is not None or not x.requires_grad or not _mode.enabled) and out.array.base is not None \
                and _ip.same_memory(out.array, x.array):
            _ip.link_view(out, x, self.view_fn())
        return out


# --- Tensor ----------------------------------------------------------------------


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    Create tensors with :func:`neurona.tensor` and the factories
    (``zeros``, ``randn``, ...). ``.array`` is the ndarray the tensor wraps
    (what ops compute on); ``.data`` is, as in PyTorch, a tensor sharing that
    memory but recording no graph; ``.grad`` is ``None`` or a Tensor holding
    ∂L/∂self after ``L.backward()``.
    """

    # _alias (what memory the tensor shares: see neurona.inplace) is left unset by ops, whose outputs rarely need
    # it, and read with getattr(t, "_alias", None)
    # _hooks (a leaf's register_hook hooks) is left unset too, read with getattr(t, "_hooks", None)
    __slots__ = ("array", "_grad", "requires_grad", "_ctx", "name", "_alias", "_hooks", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected op
    __hash__ = object.__hash__

    def __init__(self, data=_NO_DATA, *sizes: int, requires_grad: bool = False, dtype=None):
        """``Tensor(data)`` wraps data as :func:`neurona.tensor` does (float data → float32, ints stay ints).

        As in PyTorch, ``Tensor(2, 3)`` (ints, or one ``Size``) is a float
        tensor of that shape (zeros: PyTorch leaves it uninitialised) and
        ``Tensor()`` an empty one.
        """
        from .creation import _as_array

        if data is _NO_DATA or sizes or type(data) is int or isinstance(data, Size):
            a = _sized_array(data, sizes, dtype)
        else:
            a = _as_array(data, dtype)
        if backend._default_device is not backend.CPU and type(a) is _NDARRAY:
            a = backend.to_device(a, backend._default_device)  # as torch.Tensor(data) follows the default device
        self.array = a
        self._alias = None
        self._grad = None
        self._ctx = None
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # --- basic attributes ---
    def _set_grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__module__}.{type(value).__name__}")
            if value.array.shape != self.array.shape:
                raise RuntimeError(f"attempting to assign a gradient of shape {tuple(value.array.shape)} to a tensor "
                                   f"of shape {tuple(self.array.shape)}; the gradient and the tensor must have the "
                                   f"same shape")
            if value.array.dtype != self.array.dtype:
                raise RuntimeError(f"attempting to assign a gradient of dtype {value.array.dtype} to a tensor of "
                                   f"dtype {self.array.dtype}; cast it first (grad.to({self.array.dtype.name}))")
            if backend.get_array_module(value.array) is not backend.get_array_module(self.array):
                raise RuntimeError(f"attempting to assign a gradient on {value.device} to a tensor on {self.device}")
        self._grad = value

    def _del_grad(self) -> None:
        self._grad = None

    # read through a C getter: the optimizer loop and user code read .grad often
    grad = property(operator.attrgetter("_grad"), _set_grad, _del_grad,
                    doc="∂L/∂self after ``L.backward()`` (``None`` before): a Tensor of this tensor's shape and dtype. "
                        "Assigning anything else raises, as in PyTorch.")

    @property
    def data(self) -> "Tensor":
        """A tensor on the same memory, cut from the graph (PyTorch's ``.data``).

        Changing it in place changes this tensor without recording anything:
        ``p.data.add_(g, alpha=-lr)``. As in PyTorch, such a change is not
        seen by the version checks of ``backward`` (prefer ``with no_grad():``,
        which is). ``t.data = other`` replaces the array.
        """
        t = _wrap(self.array)
        t._alias = _ip.untracked()
        return t

    @data.setter
    def data(self, value) -> None:
        from .creation import _as_array

        self.array = value.array if isinstance(value, Tensor) else _as_array(value, None)

    @property
    def shape(self) -> Size:
        return _tuple_new(Size, self.array.shape)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> "backend.device":
        """Where the memory lives: ``device(type='cpu')`` (compares equal to the string ``"cpu"``)."""
        return backend.device_of(self.array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def get_device(self) -> int:
        """The GPU index, or -1 on the CPU (as PyTorch)."""
        d = self.device
        return -1 if d.type == "cpu" else (d.index or 0)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared with its views, as in PyTorch)."""
        return _ip.version_of(self)

    def size(self, dim: int | None = None):
        """The shape (PyTorch's ``size()``, a :class:`neurona.Size`), or its length along ``dim``."""
        return _tuple_new(Size, self.array.shape) if dim is None else self.array.shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

    def dim(self) -> int:
        return self.array.ndim

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only a one-element tensor converts to a Python number, this one has shape {self.shape}")
        return self.array.item()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The ndarray itself, without a copy (changing one changes the other).

        As in PyTorch, a tensor that requires grad refuses (its ndarray is
        outside the graph): use ``t.detach().numpy()``, or ``force=True``.
        """
        if self.requires_grad and not force:
            raise RuntimeError("numpy(): can't call numpy() on a tensor that requires grad; use "
                               "tensor.detach().numpy() instead")
        a = self.array
        if not isinstance(a, np.ndarray):
            if not force:
                raise TypeError(f"numpy(): can't convert a tensor on {self.device} to a NumPy array; use "
                                f"tensor.cpu() to copy it to host memory first")
            return backend.to_numpy(a)
        return a

    def tolist(self):
        return self.array.tolist()

    def __array__(self, dtype=None, copy=None):
        a = self.array
        if type(a) is not _NDARRAY:  # a device array converts only where its library allows (CuPy: never)
            a = a.__array__()
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self.array.item())

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"``: a 0-d tensor formats its number, as in PyTorch; others only with an empty spec."""
        if self.array.size == 1 and self.array.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {tuple(self.shape)}; only a "
                            f"0-d tensor formats as a number (use .item() or .tolist())")
        return repr(self)

    def __repr__(self) -> str:
        body = _printing.array_string(backend.to_numpy(self.array), "tensor(")
        extra = ""
        if self.array.dtype != backend.get_default_dtype() and not (
            self.array.dtype.kind in "ib" and self.array.dtype.itemsize == 8 or self.array.dtype == np.bool_
        ):
            extra += f", dtype={self.array.dtype.name}"
        d = self.device
        if d.type != "cpu":
            extra += f", device='{d}'"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __reduce_ex__(self, protocol):
        # copy / deepcopy / pickle give a leaf with the same values, flag and gradient: the graph and the links to
        # views are not copied (a Parameter has its own, keeping its class)
        grad = None if self._grad is None else self._grad.array
        return (_rebuild_tensor, (self.array, self.requires_grad, grad))

    # --- autograd ---
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.array.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, this one is {self.array.dtype}"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False): this tensor is the output of an op; use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing the same data, cut from the graph.

        As in PyTorch, an in-place change of either one is seen by the version
        checks of the other's graph.
        """
        return _wrap(self.array)

    def detach_(self) -> "Tensor":
        """Cut this tensor from its graph, in place: it becomes a leaf that does not require grad."""
        al = getattr(self, "_alias", None)
        if al is not None and al.base is not None and al.fn is not None:
            raise RuntimeError("detach_(): can't detach a view in place (its base's graph would still see it); "
                               "use detach() instead")
        self._ctx, self.requires_grad = None, False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` of this non-leaf tensor after backward."""
        if self._ctx is not None:
            _retain(self._ctx, self)
        elif not self.requires_grad:
            raise RuntimeError("retain_grad(): this tensor does not require grad")

    def register_hook(self, hook) -> "RemovableHandle":
        """Call ``hook(grad)`` with ∂L/∂self during backward; a Tensor it returns replaces the gradient.

        On a leaf the hook sees the gradient of this backward pass (every use
        summed) before it is added to ``.grad``; on a non-leaf it sees the
        gradient before it flows further back, and ``retain_grad()`` keeps the
        replaced value. Hooks run in the order registered; ``handle.remove()``
        unregisters one.

        >>> import neurona
        >>> x = neurona.ones(2, requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * 3).sum().backward()
        >>> x.grad
        tensor([30., 30.])
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook(): cannot register a hook on a tensor that doesn't require gradient")
        if self._ctx is None:
            return _add_hook(self, "pre", hook)
        fn = self._ctx
        if fn.freed:
            raise RuntimeError("register_hook(): the graph of this tensor was freed by an earlier backward")
        if fn.hooks is None:
            fn.hooks = {}
        _retain_hooks(fn)
        return RemovableHandle(fn.hooks, hook)

    def register_post_accumulate_grad_hook(self, hook) -> "RemovableHandle":
        """Call ``hook(tensor)`` on this leaf once backward has added its last gradient of the pass to ``.grad``
        (its return value is ignored). An optimizer can step each parameter there, as soon as its gradient is
        complete; distributed training starts reducing it there."""
        return register_post_accumulate_grad_hook(self, hook)

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None, *, grad=None) -> None:
        """Compute ∂self/∂leaf for every leaf that requires grad, into ``leaf.grad``.

        ``gradient`` (or ``grad=``) is ∂L/∂self; it may be omitted only for a
        one-element tensor (it is then 1). Gradients accumulate into ``.grad``
        across calls. ``inputs``: accumulate only into these tensors.
        ``create_graph=True`` (higher-order gradients) is not supported:
        neurona's backward computes on arrays, not on a new graph.
        """
        if grad is not None:
            if gradient is not None:
                raise TypeError("backward(): give the gradient once, as gradient= (grad= is its older name)")
            gradient = grad
        if create_graph:
            _check_create_graph(create_graph, "backward")
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no graph; create the inputs with "
                "requires_grad=True (and not under no_grad()) to differentiate through them"
            )
        a = self.array
        if gradient is None and a.size == 1 and type(a) is _NDARRAY:  # loss.backward(): the common case
            g = np.empty_like(a)
            g.fill(1)  # (np.ones_like runs Python code: slower for one element)
        else:
            g = _seed_gradient(self, gradient, "backward()")
        if inputs is None:
            run_backward((self,), (g,), bool(retain_graph))
            return
        sink = _Sink(_tensors(inputs, "backward(): inputs"), _accumulate_leaf)
        try:
            run_backward((self,), (g,), bool(retain_graph), sink)
        finally:
            sink.close()

    # --- in-place ops: they change this tensor's memory (see neurona.inplace for the rules) ---
    def add_(self, other, *, alpha=1): return _ip.binary_(self, "add_", np.add, _m.add, other, alpha)
    def sub_(self, other, *, alpha=1): return _ip.binary_(self, "sub_", np.subtract, _m.sub, other, alpha)
    def mul_(self, other): return _ip.binary_(self, "mul_", np.multiply, _m.mul, other)
    def div_(self, other, *, rounding_mode=None): return _ip.div_(self, other, rounding_mode)
    def pow_(self, exponent): return _ip.binary_(self, "pow_", np.power, _m.pow, exponent)
    def __iadd__(self, other): return _ip.binary_(self, "+=", np.add, _m.add, other)
    def __isub__(self, other): return _ip.binary_(self, "-=", np.subtract, _m.sub, other)
    def __imul__(self, other): return _ip.binary_(self, "*=", np.multiply, _m.mul, other)
    def __itruediv__(self, other): return _ip.div_(self, other, None, "/=")
    def __ipow__(self, other): return _ip.binary_(self, "**=", np.power, _m.pow, other)
    def addcmul_(self, tensor1, tensor2, *, value=1): return _ip.addc_(self, "addcmul_", tensor1, tensor2, value)
    def addcdiv_(self, tensor1, tensor2, *, value=1): return _ip.addc_(self, "addcdiv_", tensor1, tensor2, value)
    def lerp_(self, end, weight): return _ip.lerp_(self, end, weight)
    def clamp_(self, min=None, max=None): return _ip.clamp_(self, min, max, "clamp_")
    clip_ = clamp_
    def clamp_min_(self, min): return _ip.clamp_(self, min, None, "clamp_min_")
    def clamp_max_(self, max): return _ip.clamp_(self, None, max, "clamp_max_")
    def zero_(self): return _ip.fill_(self, 0, "zero_")
    def fill_(self, value): return _ip.fill_(self, value, "fill_")
    def copy_(self, src, non_blocking: bool = False): return _ip.copy_(self, src)
    def masked_fill_(self, mask, value): return _ip.masked_fill_(self, mask, value)
    def index_add_(self, dim, index, source, *, alpha=1): return _ip.index_add_(self, dim, index, source, alpha)
    def __setitem__(self, index, value): _ip.setitem_(self, index, value)
    # unary in-place ops: the same values as the method without "_"
    def neg_(self): return _ip.unary_(self, "neg_", Tensor.neg)
    def abs_(self): return _ip.unary_(self, "abs_", Tensor.abs)
    def exp_(self): return _ip.unary_(self, "exp_", Tensor.exp)
    def log_(self): return _ip.unary_(self, "log_", Tensor.log)
    def log1p_(self): return _ip.unary_(self, "log1p_", Tensor.log1p)
    def sqrt_(self): return _ip.unary_(self, "sqrt_", Tensor.sqrt)
    def sign_(self): return _ip.unary_(self, "sign_", Tensor.sign)
    def sigmoid_(self): return _ip.unary_(self, "sigmoid_", Tensor.sigmoid)
    def tanh_(self): return _ip.unary_(self, "tanh_", Tensor.tanh)
    def relu_(self): return _ip.unary_(self, "relu_", Tensor.relu)
    def sin_(self): return _ip.unary_(self, "sin_", lambda t: t.sin())
    def cos_(self): return _ip.unary_(self, "cos_", lambda t: t.cos())
    def tan_(self): return _ip.unary_(self, "tan_", lambda t: t.tan())
    def atan_(self): return _ip.unary_(self, "atan_", lambda t: t.atan())
    def sinh_(self): return _ip.unary_(self, "sinh_", lambda t: t.sinh())
    def cosh_(self): return _ip.unary_(self, "cosh_", lambda t: t.cosh())
    def expm1_(self): return _ip.unary_(self, "expm1_", lambda t: t.expm1())
    def floor_(self): return _ip.unary_(self, "floor_", lambda t: t.floor())
    def ceil_(self): return _ip.unary_(self, "ceil_", lambda t: t.ceil())
    def round_(self): return _ip.unary_(self, "round_", lambda t: t.round())
    # random fills: new values drawn from neurona's generator (or ``generator=``); no gradient flows to the old ones
    def normal_(self, mean=0.0, std=1.0, *, generator=None): return _ip.random_fill_(self, "normal_", generator, "normal", mean, std)
    def uniform_(self, from_=0.0, to=1.0, *, generator=None): return _ip.random_fill_(self, "uniform_", generator, "uniform", from_, to)
    def bernoulli_(self, p=0.5, *, generator=None): return _ip.random_fill_(self, "bernoulli_", generator, "bernoulli", p)
    def random_(self, from_=0, to=None, *, generator=None): return _ip.random_fill_(self, "random_", generator, "random", from_, to)
    def exponential_(self, lambd=1.0, *, generator=None): return _ip.random_fill_(self, "exponential_", generator, "exponential", lambd)
    def log_normal_(self, mean=1.0, std=2.0, *, generator=None): return _ip.random_fill_(self, "log_normal_", generator, "log_normal", mean, std)
    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None): return _ip.random_fill_(self, "cauchy_", generator, "cauchy", median, sigma)
    def geometric_(self, p, *, generator=None): return _ip.random_fill_(self, "geometric_", generator, "geometric", p)

    # --- ops: thin methods over neurona.functional (visible to IDEs) ---
    def __add__(self, other): return _m.add(self, other)
    def __radd__(self, other): return _m.add(self, other)
    def __sub__(self, other): return _m.sub(self, other)
    def __rsub__(self, other): return _m.rsub(self, other)
    def __mul__(self, other): return _m.mul(self, other)
    def __rmul__(self, other): return _m.mul(self, other)
    def __truediv__(self, other): return _m.div(self, other)
    def __rtruediv__(self, other): return _m.rdiv(self, other)
    def __neg__(self): return _m.neg(self)
    def __pos__(self): return self
    def __pow__(self, other): return _m.pow(self, other)
    def __rpow__(self, other): return _m.rpow(self, other)
    def __matmul__(self, other): return _m.matmul(self, other)
    def __rmatmul__(self, other): return _m.matmul(_m.as_tensor(other, like=self), self)
    def __abs__(self): return _m.abs(self)
    def __getitem__(self, index): return _s.getitem(self, index)

    def __lt__(self, other): return _m.compare(np.less, self, other)
    def __le__(self, other): return _m.compare(np.less_equal, self, other)
    def __gt__(self, other): return _m.compare(np.greater, self, other)
    def __ge__(self, other): return _m.compare(np.greater_equal, self, other)
    def __eq__(self, other): return _m.compare(np.equal, self, other)
    def __ne__(self, other): return _m.compare(np.not_equal, self, other)
    def __invert__(self): return _c.bitwise_not(self)
    def __and__(self, other): return _c.bitwise_and(self, other)
    def __or__(self, other): return _c.bitwise_or(self, other)

    def add(self, other, *, alpha=1): return _m.add(self, other if alpha == 1 else _m.mul(other, alpha))
    def sub(self, other, *, alpha=1): return _m.sub(self, other if alpha == 1 else _m.mul(other, alpha))
    def mul(self, other): return _m.mul(self, other)
    def div(self, other): return _m.div(self, other)
    def pow(self, exponent): return _m.pow(self, exponent)
    def matmul(self, other): return _m.matmul(self, other)
    def neg(self): return _m.neg(self)
    def exp(self): return _m.exp(self)
    def log(self): return _m.log(self)
    def log1p(self): return _m.log1p(self)
    def sqrt(self): return _m.sqrt(self)
    def abs(self): return _m.abs(self)
    def sign(self): return _m.sign(self)
    def clip(self, min=None, max=None): return _m.clip(self, min, max)
    clamp = clip
    def maximum(self, other): return _m.maximum(self, other)
    def minimum(self, other): return _m.minimum(self, other)
    def tanh(self): return _a.tanh(self)
    def sigmoid(self): return _a.sigmoid(self)
    def relu(self): return _a.relu(self)
    def softmax(self, dim=-1): return _a.softmax(self, dim)
    def log_softmax(self, dim=-1): return _a.log_softmax(self, dim)
    def masked_fill(self, mask, value): return _s.masked_fill(self, mask, value)
    def index_add(self, dim, index, source, *, alpha=1): return _s.index_add(self, dim, index, source, alpha=alpha)

    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None): return _r.sum(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)
    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None): return _r.mean(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)
    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.max(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.min(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None): return _r.var(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None): return _r.std(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None): return _r.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def any(self, dim=None, keepdim=False, *, axis=None): return _c.any(self, dim, keepdim, axis=axis)
    def all(self, dim=None, keepdim=False, *, axis=None): return _c.all(self, dim, keepdim, axis=axis)

    def reshape(self, *shape): return _s.reshape(self, *shape)
    def view(self, *shape): return _s.reshape(self, *shape)
    def flatten(self, start_dim=0, end_dim=-1): return _s.flatten(self, start_dim, end_dim)
    def transpose(self, *dims): return _s.transpose(self, *dims)
    def permute(self, *dims): return _s.permute(self, *dims)
    def squeeze(self, dim=None): return _s.squeeze(self, dim)
    def unsqueeze(self, dim): return _s.unsqueeze(self, dim)
    def expand(self, *shape): return _s.expand(self, *shape)
    def broadcast_to(self, shape): return _s.broadcast_to(self, shape)
    def split(self, split_size_or_sections, dim=0): return _s.split(self, split_size_or_sections, dim)

    @property
    def T(self): return _s.transpose(self)

    # --- dtype and device ---
    def astype(self, dtype): return _m.cast(self, dtype)
    def to(self, *args, **kwargs) -> "Tensor":
        """PyTorch's ``to``: ``t.to(dtype)``, ``t.to(device)``, ``t.to(device, dtype)``, ``t.to(other)``, with
        ``non_blocking=`` (accepted) and ``copy=``. Differentiable; returns ``t`` itself when nothing changes."""
        return _convert(self, *args, **kwargs)
    def cpu(self): return _convert(self, "cpu")
    def cuda(self, device=None, non_blocking: bool = False): return _convert(self, backend.cuda_device(device))
    def float(self): return _m.cast(self, np.float32)
    def double(self): return _m.cast(self, np.float64)
    def half(self): return _m.cast(self, np.float16)
    def long(self): return _m.cast(self, np.int64)
    def int(self): return _m.cast(self, np.int32)
    def short(self): return _m.cast(self, np.int16)
    def char(self): return _m.cast(self, np.int8)
    def byte(self): return _m.cast(self, np.uint8)
    def bool(self): return _m.cast(self, np.bool_)
    def type(self, dtype=None, non_blocking: bool = False):
        """``t.type()`` is the PyTorch-style type name ('neurona.FloatTensor'); ``t.type(dtype)`` casts."""
        if dtype is None:
            return backend.type_name(self.array.dtype, self.device)
        return _m.cast(self, dtype)
    def clone(self): return _m.mul(self, 1) if self.array.dtype.kind == "f" else Tensor(self.array.copy())

    # --- tensor API: PyTorch's everyday methods ---
    # thin methods over neurona.functional, grouped as the modules are; each has the PyTorch signature

    # elementwise (functional/pointwise.py)
    def sin(self): return _p.sin(self)
    def cos(self): return _p.cos(self)
    def tan(self): return _p.tan(self)
    def asin(self): return _p.asin(self)
    def acos(self): return _p.acos(self)
    def atan(self): return _p.atan(self)
    def atan2(self, other): return _p.atan2(self, other)
    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    def sinh(self): return _p.sinh(self)
    def cosh(self): return _p.cosh(self)
    def asinh(self): return _p.asinh(self)
    def acosh(self): return _p.acosh(self)
    def atanh(self): return _p.atanh(self)
    def expm1(self): return _p.expm1(self)
    def exp2(self): return _p.exp2(self)
    def log2(self): return _p.log2(self)
    def log10(self): return _p.log10(self)
    def square(self): return _p.square(self)
    def rsqrt(self): return _p.rsqrt(self)
    def reciprocal(self): return _p.reciprocal(self)
    def erf(self): return _p.erf(self)
    def hypot(self, other): return _p.hypot(self, other)
    def floor(self): return _p.floor(self)
    def ceil(self): return _p.ceil(self)
    def round(self, decimals=0): return _p.round(self, decimals=decimals)
    def trunc(self): return _p.trunc(self)
    fix = trunc
    def frac(self): return _p.frac(self)
    def floor_divide(self, other): return _p.floor_divide(self, other)
    def remainder(self, other): return _p.remainder(self, other)
    def fmod(self, other): return _p.fmod(self, other)
    def __floordiv__(self, other): return _p.floor_divide(self, other)
    def __rfloordiv__(self, other): return _p.floor_divide(_m.as_tensor(other, like=self), self)
    def __mod__(self, other): return _p.remainder(self, other)
    def __rmod__(self, other): return _p.remainder(_m.as_tensor(other, like=self), self)
    def divide(self, other, *, rounding_mode=None): return _m.div(self, other, rounding_mode=rounding_mode)
    def true_divide(self, other): return _m.div(self, other)
    def multiply(self, other): return _m.mul(self, other)
    def subtract(self, other): return _m.sub(self, other)
    def negative(self): return _m.neg(self)
    def absolute(self): return _m.abs(self)
    def clamp_min(self, min): return _m.clip(self, min, None)
    def clamp_max(self, max): return _m.clip(self, None, max)
    def where(self, condition, other): return _m.where(condition, self, other)

    # comparisons and logic (functional/compare.py)
    def eq(self, other): return _c.eq(self, other)
    def ne(self, other): return _c.ne(self, other)
    def lt(self, other): return _c.lt(self, other)
    def le(self, other): return _c.le(self, other)
    def gt(self, other): return _c.gt(self, other)
    def ge(self, other): return _c.ge(self, other)
    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
    def equal(self, other): return _c.equal(self, other)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False): return _c.isclose(self, other, rtol, atol, equal_nan)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False): return _c.allclose(self, other, rtol, atol, equal_nan)
    def logical_and(self, other): return _c.logical_and(self, other)
    def logical_or(self, other): return _c.logical_or(self, other)
    def logical_xor(self, other): return _c.logical_xor(self, other)
    def logical_not(self): return _c.logical_not(self)
    def bitwise_and(self, other): return _c.bitwise_and(self, other)
    def bitwise_or(self, other): return _c.bitwise_or(self, other)
    def bitwise_xor(self, other): return _c.bitwise_xor(self, other)
    def bitwise_not(self): return _c.bitwise_not(self)
    def __xor__(self, other): return _c.bitwise_xor(self, other)
    def __rand__(self, other): return _c.bitwise_and(other, self)
    def __ror__(self, other): return _c.bitwise_or(other, self)
    def __rxor__(self, other): return _c.bitwise_xor(other, self)
    def isnan(self): return _c.isnan(self)
    def isinf(self): return _c.isinf(self)
    def isfinite(self): return _c.isfinite(self)
    def count_nonzero(self, dim=None): return _c.count_nonzero(self, dim)
    def __contains__(self, element): return bool((self.array == (element.array if isinstance(element, Tensor) else element)).any())

    # reductions, scans, sorting (functional/reduce.py, functional/indexing.py)
    def prod(self, dim=None, keepdim=False, *, dtype=None): return _r.prod(self, dim, keepdim, dtype=dtype)
    def amax(self, dim=(), keepdim=False, *, axis=None, keepdims=None): return _r.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def amin(self, dim=(), keepdim=False, *, axis=None, keepdims=None): return _r.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def median(self, dim=None, keepdim=False): return _r.median(self, dim, keepdim)
    def cumsum(self, dim, *, dtype=None): return _r.cumsum(self, dim, dtype=dtype)
    def cumprod(self, dim, *, dtype=None): return _r.cumprod(self, dim, dtype=dtype)
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None): return _l.norm(self, p, dim, keepdim, dtype)
    def dist(self, other, p=2): return _l.dist(self, other, p)
    def sort(self, dim=-1, descending=False, *, stable=False): return _i.sort(self, dim, descending, stable=stable)
    def argsort(self, dim=-1, descending=False, *, stable=False): return _i.argsort(self, dim, descending, stable=stable)
    def topk(self, k, dim=-1, largest=True, sorted=True): return _i.topk(self, k, dim, largest, sorted)
    def kthvalue(self, k, dim=-1, keepdim=False): return _i.kthvalue(self, k, dim, keepdim)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None): return _i.unique(self, sorted, return_inverse, return_counts, dim)
    def bincount(self, weights=None, minlength=0): return _i.bincount(self, weights, minlength)

    # indexing with tensors (functional/indexing.py)
    def gather(self, dim, index): return _i.gather(self, dim, index)
    def scatter(self, dim, index, src=None, *, value=None, reduce=None): return _i.scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return _i.scatter_add(self, dim, index, src)
    def index_select(self, dim, index): return _i.index_select(self, dim, index)
    def masked_select(self, mask): return _i.masked_select(self, mask)
    def nonzero(self, *, as_tuple=False): return _i.nonzero(self, as_tuple=as_tuple)
    def argwhere(self): return _i.argwhere(self)
    def take(self, index): return _i.take(self, index)
    def take_along_dim(self, indices, dim=None): return _i.take_along_dim(self, indices, dim)

    # shapes and layout (functional/layout.py, functional/shape.py)
    def t(self): return _lay.t(self)
    @property
    def mT(self): return _lay.adjoint(self)
    @property
    def mH(self): return _lay.adjoint(self)
    def adjoint(self): return _lay.adjoint(self)
    def narrow(self, dim, start, length): return _lay.narrow(self, dim, start, length)
    def movedim(self, source, destination): return _lay.movedim(self, source, destination)
    moveaxis = movedim
    def swapaxes(self, axis0, axis1): return _lay.swapaxes(self, axis0, axis1)
    swapdims = swapaxes
    def unflatten(self, dim, sizes): return _lay.unflatten(self, dim, sizes)
    def ravel(self): return _lay.ravel(self)
    def view_as(self, other): return _s.reshape(self, other.shape)
    def reshape_as(self, other): return _s.reshape(self, other.shape)
    def expand_as(self, other): return _s.expand(self, other.shape)
    def repeat(self, *sizes): return _lay.repeat(self, *sizes)
    def tile(self, *dims): return _lay.tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)
    def repeat_interleave(self, repeats, dim=None, *, output_size=None): return _lay.repeat_interleave(self, repeats, dim, output_size=output_size)
    def chunk(self, chunks, dim=0): return _s.chunk(self, chunks, dim)
    def tensor_split(self, indices_or_sections, dim=0): return _lay.tensor_split(self, indices_or_sections, dim)
    def unbind(self, dim=0): return _lay.unbind(self, dim)
    def flip(self, *dims): return _lay.flip(self, *dims)
    def fliplr(self): return _lay.fliplr(self)
    def flipud(self): return _lay.flipud(self)
    def roll(self, shifts, dims=None): return _lay.roll(self, shifts, dims)
    def rot90(self, k=1, dims=(0, 1)): return _lay.rot90(self, k, dims)
    def contiguous(self, memory_format=None): return _lay.contiguous(self)
    def is_contiguous(self, memory_format=None): return bool(self.array.flags.c_contiguous)
    def stride(self, dim=None):
        st = tuple(s // self.array.itemsize for s in self.array.strides)
        return st if dim is None else st[dim]

    # linear algebra (functional/linalg.py)
    def mm(self, mat2): return _l.mm(self, mat2)
    def bmm(self, mat2): return _l.bmm(self, mat2)
    def mv(self, vec): return _l.mv(self, vec)
    def dot(self, other): return _l.dot(self, other)
    def inner(self, other): return _l.inner(self, other)
    def outer(self, vec2): return _l.outer(self, vec2)
    ger = outer
    def addmm(self, mat1, mat2, *, beta=1, alpha=1): return _l.addmm(self, mat1, mat2, beta=beta, alpha=alpha)
    def tril(self, diagonal=0): return _l.tril(self, diagonal)
    def triu(self, diagonal=0): return _l.triu(self, diagonal)
    def diag(self, diagonal=0): return _l.diag(self, diagonal)
    def diagonal(self, offset=0, dim1=0, dim2=1): return _l.diagonal(self, offset, dim1, dim2)
    def diag_embed(self, offset=0, dim1=-2, dim2=-1): return _l.diag_embed(self, offset, dim1, dim2)
    def trace(self): return _l.trace(self)

    # random draws (functional/random.py)
    def bernoulli(self, p=None, *, generator=None): return _rand.bernoulli(self, p, generator=generator)
    def multinomial(self, num_samples, replacement=False, *, generator=None): return _rand.multinomial(self, num_samples, replacement, generator=generator)

    # new tensors like this one: same dtype unless told otherwise
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False): return self._new(_np_new("zeros", size), dtype, device, requires_grad)
    def new_ones(self, *size, dtype=None, device=None, requires_grad=False): return self._new(_np_new("ones", size), dtype, device, requires_grad)
    def new_empty(self, *size, dtype=None, device=None, requires_grad=False): return self._new(_np_new("empty", size), dtype, device, requires_grad)
    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False): return self._new(_np_new("full", (size,), fill_value), dtype, device, requires_grad)
    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        a = data.array.copy() if isinstance(data, Tensor) else np.array(data)
        return self._new(a, dtype, device, requires_grad)

    def _new(self, a, dtype, device, requires_grad) -> "Tensor":
        t = Tensor(a, dtype=self.array.dtype if dtype is None else dtype)
        if device is not None:
            t = t.to(device)
        return t.requires_grad_(True) if requires_grad else t

    # one-element tensors as Python numbers, and sizes
    def __index__(self):
        if self.array.size != 1 or self.array.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got {self.array.dtype} of shape {self.shape}")
        return int(self.array.item())
    def nelement(self): return int(self.array.size)
    def ndimension(self): return self.array.ndim
    def element_size(self): return int(self.array.itemsize)
    @property
    def itemsize(self): return int(self.array.itemsize)
    @property
    def nbytes(self): return int(self.array.nbytes)
    def is_floating_point(self): return self.array.dtype.kind == "f"
    def is_complex(self): return False
    def type_as(self, other): return _m.cast(self, other.dtype)

    # blends, scans, writes by index, square matrices (functional/blend.py, scan.py, put.py, solve.py)
    def lerp(self, end, weight): return _bl.lerp(self, end, weight)
    def addcmul(self, tensor1, tensor2, *, value=1): return _bl.addcmul(self, tensor1, tensor2, value=value)
    def addcdiv(self, tensor1, tensor2, *, value=1): return _bl.addcdiv(self, tensor1, tensor2, value=value)
    def cross(self, other, dim=None): return _bl.cross(self, other, dim)
    def kron(self, other): return _bl.kron(self, other)
    def cummax(self, dim): return _scan.cummax(self, dim)
    def cummin(self, dim): return _scan.cummin(self, dim)
    def logcumsumexp(self, dim): return _scan.logcumsumexp(self, dim)
    def histc(self, bins=100, min=0, max=0): return _scan.histc(self, bins, min, max)
    def index_fill(self, dim, index, value): return _put.index_fill(self, dim, index, value)
    def index_put(self, indices, values, accumulate=False): return _put.index_put(self, indices, values, accumulate)
    def masked_scatter(self, mask, source): return _put.masked_scatter(self, mask, source)
    def unfold(self, dimension, size, step): return _put.unfold_windows(self, dimension, size, step)
    def inverse(self): return _solve.inv(self)
    def det(self): return _solve.det(self)
    def logdet(self): return _solve.logdet(self)
    def slogdet(self): return _solve.slogdet(self)
    # their in-place forms, and the in-place ones of ops above (neurona/inplace.py has the rules)
    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return _ip.modify(self, "scatter_", lambda: _i.scatter(self, dim, index, src, value=value, reduce=reduce), (src, value))
    def scatter_add_(self, dim, index, src): return _ip.modify(self, "scatter_add_", lambda: _i.scatter_add(self, dim, index, src), (src,))
    def index_fill_(self, dim, index, value): return _ip.modify(self, "index_fill_", lambda: _put.index_fill(self, dim, index, value), (value,))
    def index_put_(self, indices, values, accumulate=False): return _ip.modify(self, "index_put_", lambda: _put.index_put(self, indices, values, accumulate), (values,))
    def masked_scatter_(self, mask, source): return _ip.modify(self, "masked_scatter_", lambda: _put.masked_scatter(self, mask, source), (source,))
    def logcumsumexp_(self, dim): return _ip.modify(self, "logcumsumexp_", lambda: _scan.logcumsumexp(self, dim))
    def t_(self): return _ip.view_(self, "t_", Tensor.t)
    def transpose_(self, dim0, dim1): return _ip.view_(self, "transpose_", lambda t: t.transpose(dim0, dim1))
    def squeeze_(self, dim=None): return _ip.view_(self, "squeeze_", lambda t: t.squeeze(dim))
    def unsqueeze_(self, dim): return _ip.view_(self, "unsqueeze_", lambda t: t.unsqueeze(dim))
    def resize_(self, *sizes): return _ip.resize_(self, tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes))
    def resize_as_(self, other): return _ip.resize_(self, tuple(other.shape), "resize_as_")


def _np_new(kind: str, size, fill=None) -> np.ndarray:
    """An ndarray of ``size`` (ints or one tuple) for the ``new_*`` methods; the dtype is set by the caller."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(n) for n in size)
    if kind == "full":
        return np.full(shape, fill)
    return getattr(np, kind)(shape)


def _sized_array(first, sizes: tuple, dtype) -> np.ndarray:
    """The zeros behind ``Tensor(2, 3)``, ``Tensor(Size([2, 3]))`` and ``Tensor()`` (shape (0,))."""
    if first is _NO_DATA:
        shape = (0,)
    elif isinstance(first, Size) and not sizes:
        shape = tuple(first)
    else:
        shape = (first,) + sizes
        if not all(type(n) is int for n in shape):
            raise TypeError(f"Tensor(*sizes): the sizes must all be ints, got {shape!r}; to make a tensor from "
                            f"data, pass the data as one argument (Tensor([1.0, 2.0]))")
        if min(shape) < 0:
            raise ValueError(f"Tensor(*sizes): sizes must be non-negative, got {shape}")
    return np.zeros(shape, backend.get_default_dtype() if dtype is None else backend.to_dtype(dtype))


def _rebuild_tensor(array, requires_grad: bool, grad=None) -> Tensor:
    t = _wrap(array)
    t.requires_grad = bool(requires_grad)
    if grad is not None:
        t._grad = _wrap(grad)
    return t


def _wrap(a) -> Tensor:
    """A tensor holding the array ``a`` as it is (no copy, no dtype policy): what ops and factories return."""
    t = Tensor.__new__(Tensor)
    t.array, t._grad, t._ctx, t.name, t.requires_grad = a, None, None, None, False
    t._alias = None
    return t


def _index_arrays(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    return index


def _convert(t: Tensor, *args, **kwargs) -> Tensor:
    """``Tensor.to``: PyTorch's forms ``to(dtype)``, ``to(device, dtype)``, ``to(other)``, with ``copy=``."""
    if args and isinstance(args[0], Tensor):  # to(other): other's device and dtype
        args = (args[0].device, args[0].array.dtype) + args[1:]
    device, dtype, copy = backend.parse_to(args, kwargs, "Tensor.to")
    out = t
    if dtype is not None and out.array.dtype != dtype:
        out = _m.cast(out, dtype)
    if device is not None and backend.device_of(out.array) != device:
        out = _m.to_device(out, device)
    if copy and out is t:
        out = t.clone()
    return out


def _check_create_graph(create_graph, where: str) -> None:
    if create_graph:
        raise NotImplementedError(
            f"{where}: create_graph=True (higher-order gradients) is not supported: neurona's backward computes "
            f"gradients on arrays, not as a new graph of tensors, so they cannot be differentiated again"
        )


def _seed_gradient(t: Tensor, gradient, where: str):
    """∂L/∂t as an array of t's shape and dtype: ``gradient``, or 1 for a one-element tensor."""
    if gradient is None:
        if t.array.size != 1:
            raise RuntimeError(
                f"{where}: this tensor has shape {t.shape}; only a one-element tensor can be the start "
                f"of backward without a gradient. Reduce it first (y.sum().backward()) or pass "
                f"gradient= an array of shape {t.shape} (e.g. y.backward(neurona.ones_like(y)))"
            )
        return backend.get_array_module(t.array).ones_like(t.array)
    g = gradient.array if isinstance(gradient, Tensor) else backend.get_array_module(t.array).asarray(gradient)
    if g.shape != t.array.shape:
        raise ValueError(f"{where}: grad has shape {g.shape}, expected the tensor's shape {t.shape}")
    if g.dtype != t.array.dtype:
        g = g.astype(t.array.dtype)
    return g


_retained_upto = 0  # the newest node whose output is retained or hooked: backward looks for those up to it only


def _retain(fn: Function, t: Tensor) -> None:
    fn.retained = weakref.ref(t)
    _retain_hooks(fn)


def _retain_hooks(fn: Function) -> None:
    global _retained_upto
    if fn.gen > _retained_upto:
        _retained_upto = fn.gen


# --- tensor hooks ------------------------------------------------------------------


class _LeafHooks:
    """A leaf's hooks: ``pre`` run on its gradient before it is added to ``.grad``, ``post`` after."""

    __slots__ = ("pre", "post")

    def __init__(self):
        self.pre, self.post = {}, {}


_hooked_leaves = 0  # how many leaves ever got a hook: backward buffers leaf gradients only when some did


def _add_hook(t: Tensor, kind: str, hook) -> RemovableHandle:
    global _hooked_leaves
    h = getattr(t, "_hooks", None)
    if h is None:
        h = t._hooks = _LeafHooks()
        _hooked_leaves += 1
    return RemovableHandle(getattr(h, kind), hook)


def _run_hooks(hooks: dict, g, where: str):
    """Pass the gradient array ``g`` through each hook in turn; a returned Tensor (or array) replaces it."""
    for hook in list(hooks.values()):
        r = hook(_wrap(g))
        if r is None:
            continue
        a = r.array if isinstance(r, Tensor) else np.asarray(r)
        if a.shape != g.shape:
            raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} on {where} returned a gradient of shape "
                               f"{tuple(a.shape)}, expected {tuple(g.shape)}")
        g = a if a.dtype == g.dtype else a.astype(g.dtype)
    return g


class _Sink:
    """Where ``run_backward`` hands gradients when only some tensors should get them (``backward(inputs=...)``,
    ``autograd.grad``): each wanted leaf's gradient, and each wanted non-leaf's where its creator receives it.
    ``close()`` undoes the marks left on the creators."""

    def __init__(self, tensors, receive):
        self.wanted = {id(t) for t in tensors}
        self.receive = receive
        self.undo = []
        for t in tensors:
            c = t._ctx
            if c is not None:
                self.undo.append((c, c.__dict__.get("retained")))
                _retain(c, t)

    def __call__(self, t, g, handed) -> None:
        if id(t) in self.wanted:
            self.receive(t, g, handed)

    def close(self) -> None:
        for c, old in self.undo:
            if old is None:
                c.__dict__.pop("retained", None)
            else:
                c.retained = old


def _tensors(x, what: str) -> list:
    """A tensor or a sequence of tensors as a list, each checked to require grad."""
    ts = [x] if isinstance(x, Tensor) else list(x)
    for t in ts:
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}: expected tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"{what}: one of the differentiated tensors does not require grad")
    return ts


# --- backward --------------------------------------------------------------------


# --- hooks: leaves whose gradient is complete, and the end of a backward pass ----------

class _State(threading.local):
    callbacks = None  # the list of queue_callback() functions of the backward running in this thread


_backward_state = _State()


class RemovableHandle:
    """Returned by a hook registration (tensor or module hooks); ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict, hook=None):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1
        if hook is not None:
            hooks[self.id] = hook

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def register_post_accumulate_grad_hook(t: Tensor, hook) -> RemovableHandle:
    """Call ``hook(t)`` once per backward, after the last gradient of leaf ``t`` was added to ``t.grad``."""
    if t._ctx is not None:
        raise RuntimeError("register_post_accumulate_grad_hook(): post-accumulate-grad hooks can only be "
                           "registered on leaf tensors; this tensor is the output of an op")
    if not t.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook(): cannot register a hook on a tensor that "
                           "doesn't require gradient")
    return _add_hook(t, "post", hook)


def queue_callback(fn) -> None:
    """Run ``fn()`` when the backward pass now running in this thread has finished (from inside a hook)."""
    if _backward_state.callbacks is None:
        raise RuntimeError("queue_callback: no backward pass is running; call it from a gradient hook")
    _backward_state.callbacks.append(fn)


def _is_hooked(t) -> bool:
    h = getattr(t, "_hooks", None)
    return h is not None and bool(h.pre or h.post)


def _hooked_leaf_counts(roots) -> dict:
    """How many times each hooked leaf is an input of the ops reachable from ``roots`` (walked iteratively)."""
    counts: dict = {}
    stack = []
    for r in roots:
        if r._ctx is None:
            if _is_hooked(r):
                counts[id(r)] = counts.get(id(r), 0) + 1
        else:
            stack.append(r._ctx)
    seen = set(stack)
    while stack:
        fn = stack.pop()
        for p in fn.parents:
            if p is None:
                continue
            if isinstance(p, Tensor):
                if _is_hooked(p):
                    counts[id(p)] = counts.get(id(p), 0) + 1
            elif p not in seen:
                seen.add(p)
                stack.append(p)
    return counts


def run_backward(roots, grads, retain_graph: bool = False, sink=None) -> None:
    """Propagate ``grads[i]`` = ∂L/∂roots[i] back through the graph into the leaves' ``.grad``.

    ``sink(tensor, gradient, handed)``, when given, receives the gradients of
    the leaves (and of retained non-leaves) instead of ``_accumulate_leaf``:
    ``autograd.grad`` and ``backward(inputs=...)`` use it. Leaf hooks
    (``register_post_accumulate_grad_hook``) fire once a leaf has received its
    last gradient of the pass; functions queued with ``queue_callback`` run
    after the whole pass.
    """
    outer = _backward_state.callbacks
    _backward_state.callbacks = callbacks = []
    try:
        if _hooked_leaves:
            _run_backward_hooked(roots, grads, retain_graph, sink)
        else:
            _backward(roots, grads, retain_graph, sink, set())
    finally:
        _backward_state.callbacks = outer
    for fn in callbacks:
        fn()


def _run_backward_hooked(roots, grads, retain_graph: bool, sink) -> None:
    """A pass in which some leaf has hooks: each hooked leaf's gradients are summed over the pass; once the last
    one has come, its ``register_hook`` hooks see the sum, it is stored, and its post-accumulate hooks run (as in
    PyTorch, while the rest of the pass goes on)."""
    store = _accumulate_leaf if sink is None else sink
    accumulates = store is _accumulate_leaf or getattr(store, "receive", None) is _accumulate_leaf
    counts = _hooked_leaf_counts(roots)  # id(leaf) -> gradients still to come
    held: dict = {}  # id(leaf) -> [leaf, gradient summed so far]
    handed: set = set()

    def finish(key) -> None:
        t, g = held.pop(key)
        if t._hooks.pre:
            g = _run_hooks(t._hooks.pre, g, "a leaf tensor")
            handed.add(id(g))  # the hook's array may be the user's: copy it before it becomes .grad
        store(t, g, handed)
        if accumulates:
            for hook in list(t._hooks.post.values()):
                hook(t)

    def hooked(t, g, _handed) -> None:  # _handed is ``handed``: _backward passes the set it was given
        key = id(t)
        if key not in counts:
            store(t, g, handed)
            return
        if key in held:
            held[key][1] = held[key][1] + g
        else:
            held[key] = [t, g]
        counts[key] -= 1
        if counts[key] == 0:
            finish(key)

    _backward(roots, grads, retain_graph, hooked, handed)
    for key in list(held):  # some consumer sent no gradient: the leaf is complete now that the pass is over
        finish(key)


def _backward(roots, grads, retain_graph: bool, sink, handed: set) -> None:
    store = _accumulate_leaf if sink is None else sink
    if len(roots) == 1:  # loss.backward(): the common case, kept short
        handed.add(id(grads[0]))  # arrays already stored somewhere: copy before making them a .grad
        fn = roots[0]._ctx
        if fn is None:
            store(roots[0], grads[0], handed)
            return
        pending = {fn: grads[0]}
        heap = []
    else:
        handed.update(id(g) for g in grads)
        pending = {}
        for root, g in zip(roots, grads):
            ctx = root._ctx
            if ctx is None:
                store(root, g, handed)
            else:
                pending[ctx] = pending[ctx] + g if ctx in pending else g
        if not pending:
            return
        heap = [(-f.gen, id(f), f) for f in pending]
        heapq.heapify(heap)
        fn = heapq.heappop(heap)[2]
    # the few nodes that need more than backward() are those whose stamp is at most `recent`: nodes made before
    # the latest in-place change (checked), nodes whose output is retained, and freed nodes (their gen is -1)
    recent = _ip.checks_from() if _ip.anomaly else max(_ip._last, _retained_upto)
    while True:
        gy = pending.pop(fn)
        if fn.gen > recent:
            gxs = fn.backward(gy)
        else:
            if fn.hooks:
                gy = _run_hooks(fn.hooks, gy, "a non-leaf tensor")
                handed.add(id(gy))
            if fn.retained is not None:
                t = fn.retained()
                if t is not None:
                    store(t, gy, handed)
            gxs = _ip.checked_backward(fn, gy)
        parents = fn.parents
        nxt = None  # a node that became ready and may run next without going through the heap
        if type(gxs) is _NDARRAY and len(parents) == 1:  # one input, one gradient (most elementwise ops): no loop
            p = parents[0]
            if p is None:
                pass
            elif isinstance(p, Tensor):
                store(p, gxs, handed)
            elif p in pending:
                pending[p] = pending[p] + gxs  # never in place: gxs may be shared
            else:
                pending[p] = gxs
                nxt = p
        else:
            if type(gxs) is not tuple:
                gxs = tuple(gxs) if type(gxs) is list else (gxs,)
            if len(gxs) != len(parents):
                raise RuntimeError(
                    f"{type(fn).__name__}.backward returned {len(gxs)} gradient(s) for {len(parents)} input(s); "
                    f"return one per input (None where an input needs none)"
                )
            for p, gx in zip(parents, gxs):
                if p is None or gx is None:
                    continue
                if isinstance(p, Tensor):  # a leaf that requires grad (Parameter included)
                    store(p, gx, handed)
                elif p in pending:
                    pending[p] = pending[p] + gx  # never in place: gx may be shared
                else:
                    pending[p] = gx
                    if nxt is not None:
                        heapq.heappush(heap, (-nxt.gen, id(nxt), nxt))
                    nxt = p
        if not retain_graph:
            fn.release()
        if nxt is not None:
            if not heap or -heap[0][0] <= nxt.gen:
                fn = nxt  # no waiting node is younger than nxt: nxt is next in order (a chain never
                continue  # touches the heap)
            heapq.heappush(heap, (-nxt.gen, id(nxt), nxt))
        if not heap:
            break
        fn = heapq.heappop(heap)[2]


def _accumulate_leaf(t: Tensor, gx, handed: set) -> None:
    if isinstance(gx, np.generic):
        gx = np.array(gx)  # a 0-d gradient that NumPy computed as a scalar; .grad.array is always an array
    if gx.dtype != t.array.dtype:
        gx = gx.astype(t.array.dtype)
    elif gx.base is not None or id(gx) in handed or not gx.flags.writeable:
        gx = gx.copy(order="K")  # in the gradient's memory order: a transposing copy costs several times more
    if gx.shape != t.array.shape:  # a broadcast scalar gradient, e.g. from a 0-d constant
        gx = np.broadcast_to(gx, t.array.shape).copy()
    if t._grad is None:
        handed.add(id(gx))
        g = Tensor.__new__(Tensor)
        g.array, g._grad, g._ctx, g.name, g.requires_grad = gx, None, None, None, False
        t._grad = g
    else:
        # not in place: the stored array may also be travelling through the graph
        s = t._grad.array + gx
        t._grad.array = np.asarray(s) if isinstance(s, np.generic) else s

from . import inplace as _ip  # noqa: E402  (methods above resolve these at call time)
from .functional import activation as _a  # noqa: E402
from .functional import math as _m  # noqa: E402
from .functional import reduce as _r  # noqa: E402
from .functional import shape as _s  # noqa: E402
from .functional import compare as _c  # noqa: E402
from .functional import indexing as _i  # noqa: E402
from .functional import layout as _lay  # noqa: E402
from .functional import linalg as _l  # noqa: E402
from .functional import pointwise as _p  # noqa: E402
from .functional import random as _rand  # noqa: E402
from .functional import blend as _bl  # noqa: E402
from .functional import scan as _scan  # noqa: E402
from .functional import put as _put  # noqa: E402
from .functional import solve as _solve  # noqa: E402

# the arithmetic operators call their ops directly (same arguments, one Python call fewer per op); the methods
# above stay for reading and for IDEs
Tensor.__add__ = Tensor.__radd__ = _m.add
Tensor.__sub__ = _m.sub
Tensor.__mul__ = Tensor.__rmul__ = _m.mul
