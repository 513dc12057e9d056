"""``neurona.autograd.Function``: differentiable functions written by users, in PyTorch's form.

>>> import neurona
>>> from neurona.autograd import Function
>>> class Exp(Function):
...     @staticmethod
...     def forward(ctx, x):
...         y = x.exp()
...         ctx.save_for_backward(y)
...         return y
...     @staticmethod
...     def backward(ctx, grad_output):
...         y, = ctx.saved_tensors
...         return grad_output * y          # d e^x/dx = e^x
>>> x = neurona.tensor([0.0, 1.0], requires_grad=True)
>>> Exp.apply(x).sum().backward()
>>> x.grad
tensor([1.    , 2.7183])

``forward`` and ``backward`` work on Tensors (forward runs without
recording a graph, as in PyTorch). The engine's own ops subclass the
array-level :class:`neurona.Function` instead, which is leaner.
"""
from __future__ import annotations

import functools

from .. import engine
from ..engine import Tensor, _wrap

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """What ``forward`` leaves for ``backward`` (``ctx``): saved tensors, flags and any attribute you set."""

    __slots__ = ()  # a mixin of the graph node below, which holds the attributes

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (inputs, outputs or None) for backward; read them back as ``ctx.saved_tensors``.

        As in PyTorch, changing one of them in place before backward is
        detected and refused.
        """
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: expected tensors or None, got {type(t).__name__}; "
                                f"store other values as attributes of ctx (ctx.value = ...)")
        self._saved = tuple(tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self.freed:
            raise RuntimeError("saved_tensors: the saved tensors were already freed by an earlier backward; pass "
                               "retain_graph=True to the first backward() to use them twice")
        return self.__dict__.get("_saved", ())

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs that get no gradient (indices, masks): they do not require grad."""
        self._non_differentiable = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize = bool(value)

    def mark_dirty(self, *tensors) -> None:
        raise NotImplementedError("mark_dirty: custom functions that change their inputs in place are not "
                                  "supported; return a new tensor instead")


class _Node(FunctionCtx, engine.Function):
    """The graph node of one call of a user Function; it is the ``ctx`` that forward and backward receive."""

    fn_class = None  # the user's Function subclass
    _materialize = True

    def backward(self, gy):
        cls = self.fn_class
        n_out = self._n_outputs
        grads = list(gy.grads) if isinstance(gy, _Grads) else [gy]
        outs = []
        for i in range(n_out):
            g = grads[i] if i < len(grads) else None
            if g is None and self._materialize:
                shape, dtype, xp = self._out_meta[i]
                g = xp.zeros(shape, dtype)
            outs.append(None if g is None else _wrap(g))
        with engine.no_grad():
            result = cls.backward(self, *outs)
        if not isinstance(result, tuple):
            result = (result,)
        n_in = len(self._in_meta)
        if len(result) < n_in or any(r is not None for r in result[n_in:]):
            raise RuntimeError(f"{cls.__name__}.backward returned {len(result)} gradient(s), expected {n_in} "
                               f"(one per argument of forward, None for those that need none)")
        out = []
        for i, (g, meta) in enumerate(zip(result, self._in_meta)):
            if g is not None and meta is None:
                raise RuntimeError(f"{cls.__name__}.backward returned a gradient for argument {i} of forward, which "
                                   f"is not a tensor; return None there")
            if g is None or not self.needs[i]:
                out.append(None)
                continue
            a = g.array if isinstance(g, Tensor) else g
            shape, dtype = meta
            if getattr(a, "shape", None) != shape:
                raise RuntimeError(f"{cls.__name__}.backward returned a gradient of shape "
                                   f"{tuple(getattr(a, 'shape', ()))} for argument {i} of forward, which has shape "
                                   f"{shape}")
            out.append(a if a.dtype == dtype else a.astype(dtype))
        return tuple(out)


class _Grads:
    """The gradients of a multi-output node, one slot per output; the engine adds them up like arrays."""

    __slots__ = ("grads",)

    def __init__(self, grads: list):
        self.grads = grads

    def __add__(self, other: "_Grads") -> "_Grads":
        return _Grads([b if a is None else a if b is None else a + b for a, b in zip(self.grads, other.grads)])


class _Select(engine.Function):
    """Output ``i`` of a multi-output node: hands its gradient to that node in slot ``i``."""

    def __init__(self, i: int, n: int):
        self.i, self.n = i, n

    def backward(self, gy):
        grads = [None] * self.n
        grads[self.i] = gy
        return _Grads(grads)


class _FunctionMeta(type):
    def __init__(cls, name, bases, ns):
        super().__init__(name, bases, ns)
        cls._backward_node = type(f"{name}Backward", (_Node,), {"fn_class": cls})


class Function(metaclass=_FunctionMeta):
    """Base class of differentiable functions written on Tensors; call them with ``MyFunction.apply(...)``.

    Write ``@staticmethod forward(ctx, *args, **kwargs)`` returning a tensor
    or a tuple of tensors, and ``@staticmethod backward(ctx, *grad_outputs)``
    returning one gradient per argument of forward (None for arguments that
    are not tensors or need none). ``ctx.save_for_backward(*tensors)`` keeps
    tensors, ``ctx.needs_input_grad`` says which arguments want a gradient,
    and any other value can be kept as an attribute of ``ctx``. Or write
    ``forward(*args)`` without ctx and ``@staticmethod setup_context(ctx,
    inputs, output)`` (PyTorch 2's form).
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover
        raise NotImplementedError("a Function subclass defines @staticmethod forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):  # pragma: no cover
        raise NotImplementedError("a Function subclass defines @staticmethod backward(ctx, *grad_outputs)")

    @staticmethod
    def setup_context(ctx, inputs, output):  # pragma: no cover - overridden by the forward-without-ctx form
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = cls._backward_node()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with engine.no_grad():
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(output, tuple)
        outs = (output,) if single else output
        record = engine.is_grad_enabled() and any(ctx.needs_input_grad)
        if not record:
            return output
        # a returned input becomes a new tensor on the same memory: the output needs its own graph
        outs = tuple(_wrap(o.array) if isinstance(o, Tensor) and any(o is a for a in args) else o for o in outs)
        ctx._in_meta = [(tuple(a.shape), a.dtype) if isinstance(a, Tensor) else None for a in args]
        ctx._n_outputs = len(outs)
        ctx._out_meta = [(tuple(o.shape), o.dtype, _xp(o)) if isinstance(o, Tensor) else None for o in outs]
        skip = ctx.__dict__.get("_non_differentiable", set())
        engine_parents = [(a._ctx if a._ctx is not None else a) if isinstance(a, Tensor) and a.requires_grad else None
                          for a in args]
        ctx.parents, ctx.needs, ctx.gen = engine_parents, ctx.needs_input_grad, engine._stamp()
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor) or id(o) in skip or o.array.dtype.kind != "f":
                continue
            if single:
                o._ctx = ctx
            else:
                sel = _Select(i, len(outs))
                sel.parents, sel.needs, sel.gen = [ctx], (True,), engine._stamp()
                o._ctx = sel
            o.requires_grad = True
        return outs[0] if single else outs


def _xp(t: Tensor):
    from ..backend import get_array_module
    return get_array_module(t.array)


def once_differentiable(fn):
    """PyTorch's decorator for a backward that cannot itself be differentiated: every neurona backward is so."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper
