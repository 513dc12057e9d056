"""The graph builder behind :func:`neurona.onnx.export`: values, initializers, nodes and converters.

Export walks the model module by module. Each module type has a *converter*
that writes the ONNX nodes computing that module's forward, given the ONNX
values of its inputs. Every value carries the neurona tensor it holds for the
example input (the model runs alongside the export), so converters know
every shape and a composite module's converter can call its children in the
order its ``forward`` does.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..engine import Tensor, no_grad
from ..nn.module import Module

__all__ = ["Value", "GraphBuilder", "register_converter", "converter_for", "ExportError"]


class ExportError(ValueError):
    """A model (or one of its modules) cannot be written as ONNX; the message names the module and the reason."""


class Value:
    """An ONNX value (its name in the graph) and the neurona tensor it holds for the example input."""

    __slots__ = ("name", "tensor")

    def __init__(self, name: str, tensor: Tensor | None = None):
        self.name, self.tensor = name, tensor

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor.shape)

    @property
    def ndim(self) -> int:
        return self.tensor.ndim

    def __repr__(self) -> str:
        shape = None if self.tensor is None else self.shape
        return f"Value({self.name!r}, shape={shape})"


_CONVERTERS: dict[type, Callable] = {}


def register_converter(*module_types: type):
    """Decorator: ``fn(g, module, *inputs) -> Value or tuple of Values`` writes ``module``'s forward as ONNX.

    ``g`` is the :class:`GraphBuilder`; ``inputs`` are the :class:`Value` of
    each forward argument. A converter adds nodes with ``g.op``, reads weights
    with ``g.param``, and calls sub-modules with ``g.call``. A subclass that
    keeps its parent's ``forward`` uses the parent's converter.

    >>> from neurona import nn
    >>> class Double(nn.Module):
    ...     def forward(self, x):
    ...         return x * 2
    >>> @register_converter(Double)
    ... def _double(g, m, x):
    ...     return g.op("Mul", [x, g.const(np.float32(2))])
    """
    def wrap(fn):
        for t in module_types:
            _CONVERTERS[t] = fn
        return fn
    return wrap


def converter_for(module: Module) -> Callable | None:
    """The converter of ``module``'s class, or of the nearest base class whose ``forward`` it still uses."""
    cls = type(module)
    forward = cls.forward
    for base in cls.__mro__:
        fn = _CONVERTERS.get(base)
        if fn is not None:
            if base is cls or getattr(base, "forward", None) is forward:
                return fn
            return None  # the subclass rewrote forward: the base's converter would export the wrong function
    return None


_NP_TO_ONNX = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
               np.dtype(np.float16): TensorProto.FLOAT16, np.dtype(np.int64): TensorProto.INT64,
               np.dtype(np.int32): TensorProto.INT32, np.dtype(np.int8): TensorProto.INT8,
               np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.bool_): TensorProto.BOOL}


def onnx_dtype(dtype) -> int:
    d = np.dtype(dtype)
    if d not in _NP_TO_ONNX:
        raise ExportError(f"neurona.onnx.export: arrays of dtype {d} have no ONNX equivalent here")
    return _NP_TO_ONNX[d]


class GraphBuilder:
    """Collects the nodes, initializers and names of one ONNX graph while the model is walked.

    ``param(t)`` adds a model parameter or buffer as an initializer named by its
    ``state_dict`` key; ``const(a)`` adds any other constant; ``op(...)`` adds a
    node; ``call(module, *values)`` runs a module's converter inside the
    module's name scope (node names read ``/features/features.0/Conv``).
    """

    def __init__(self, model: Module, opset: int):
        self.model, self.opset = model, int(opset)
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()
        self._by_id: dict[int, Value] = {}
        self._module_names = {id(m): n for n, m in model.named_modules()}
        self._tensor_names = {}
        for n, t in model.state_dict(keep_vars=True).items():
            self._tensor_names.setdefault(id(t), n)
        self._scope: list[str] = []
        self._node_counts: dict[str, int] = {}

    # --- names ---
    def fresh(self, base: str) -> str:
        """A value name not used yet, from ``base``."""
        name, k = base, 1
        while name in self._names:
            name = f"{base}_{k}"
            k += 1
        self._names.add(name)
        return name

    def scope_name(self) -> str:
        return self._scope[-1] if self._scope else ""

    def _node_name(self, op_type: str) -> str:
        path = "/".join(s for s in self._scope if s)
        base = f"/{path}/{op_type}" if path else f"/{op_type}"
        k = self._node_counts.get(base, 0)
        self._node_counts[base] = k + 1
        return base if k == 0 else f"{base}_{k}"

    # --- constants ---
    def param(self, t: Tensor, name: str | None = None) -> Value:
        """A model parameter or buffer as an initializer (one per tensor, named by its state_dict key)."""
        known = self._by_id.get(id(t))
        if known is not None:
            return known
        if name is None:
            name = self._tensor_names.get(id(t)) or f"{self.scope_name() or 'param'}.const"
        v = self.const(t.array, name)
        self._by_id[id(t)] = v
        return v

    def const(self, array, name: str | None = None) -> Value:
        """A constant initializer holding ``array`` (a NumPy scalar keeps its dtype)."""
        a = np.asarray(array)
        onnx_dtype(a.dtype)
        name = self.fresh(name or f"{self.scope_name() or 'graph'}.const")
        self.initializers.append(numpy_helper.from_array(np.array(a, order="C"), name))
        return Value(name, _wrap(a))

    def ints(self, values, name: str | None = None) -> Value:
        """An int64 vector constant (shapes, axes, pads)."""
        return self.const(np.asarray(list(values), np.int64), name or f"{self.scope_name() or 'graph'}.shape")

    # --- nodes ---
    def op(self, op_type: str, inputs: list, value: Tensor | None = None, *, outputs: int = 1,
           domain: str = "", **attrs):
        """Add a node; return its output Value (or a tuple of ``outputs`` Values).

        ``inputs`` are Values, names, or None for an omitted optional input;
        ``value`` is the neurona tensor the (single) output holds, when the
        caller computed it. Attributes equal to None are left out.
        """
        names = ["" if v is None else (v if isinstance(v, str) else v.name) for v in inputs]
        while names and names[-1] == "":
            names.pop()
        base = f"{self.scope_name() or 'graph'}/{op_type}"
        outs = [self.fresh(base if k == 0 else f"{base}:{k}") for k in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, names, outs, name=self._node_name(op_type), domain=domain,
                                           **attrs))
        if outputs == 1:
            return Value(outs[0], value)
        return tuple(Value(o) for o in outs)

    # --- ops whose form changed between opsets ---
    def unsqueeze(self, x: Value, axes, value: Tensor | None = None) -> Value:
        return self.op("Unsqueeze", [x, self.ints(axes)], value)

    def squeeze(self, x: Value, axes, value: Tensor | None = None) -> Value:
        return self.op("Squeeze", [x, self.ints(axes)], value)

    def reduce(self, op_type: str, x: Value, axes, keepdims: bool = True, value: Tensor | None = None) -> Value:
        """ReduceSum/Mean/Max/Min over ``axes``: an input from opset 18 (13 for ReduceSum), before an attribute."""
        if self.opset >= 18 or op_type == "ReduceSum":
            return self.op(op_type, [x, self.ints(axes)], value, keepdims=int(keepdims))
        return self.op(op_type, [x], value, axes=list(axes), keepdims=int(keepdims))

    def reshape(self, x: Value, shape, value: Tensor | None = None) -> Value:
        """Reshape to ``shape`` (0 keeps that input dimension, -1 takes what is left)."""
        return self.op("Reshape", [x, self.ints(shape)], value)

    def slice(self, x: Value, starts, ends, axes, steps=None, value: Tensor | None = None) -> Value:
        ins = [x, self.ints(starts), self.ints(ends), self.ints(axes)]
        if steps is not None:
            ins.append(self.ints(steps))
        return self.op("Slice", ins, value)

    def scalar(self, v: float, like: Value) -> Value:
        """A 0-d constant of ``like``'s dtype."""
        return self.const(np.asarray(v, like.tensor.dtype), f"{self.scope_name() or 'graph'}.c")

    # --- modules ---
    def call(self, module: Module, *inputs: Value, **kwargs):
        """Write ``module``'s forward on ``inputs``; return its output Value(s), each holding its example tensor."""
        fn = converter_for(module)
        path = self._module_names.get(id(module), type(module).__name__)
        if fn is None:
            cls = type(module).__name__
            raise ExportError(
                f"neurona.onnx.export: no ONNX converter for module {path or '(the model)'} ({cls}); write one "
                f"with @neurona.onnx.register_converter({cls}) (see the README's ONNX section)")
        self._scope.append(path)
        try:
            out = fn(self, module, *inputs, **kwargs)
        finally:
            self._scope.pop()
        if _needs_values(out):
            with no_grad():
                ref = module(*tensors_of(inputs), **{k: tensors_of(v) for k, v in kwargs.items()})
            out = _attach(out, ref, path)
        return out


def _wrap(a: np.ndarray) -> Tensor:
    from ..creation import from_numpy

    return from_numpy(np.asarray(a))


def tensors_of(obj):
    """The example tensors of a Value or of a (nested) tuple of them; None stays None."""
    if isinstance(obj, Value):
        return obj.tensor
    if isinstance(obj, (tuple, list)):
        return type(obj)(tensors_of(o) for o in obj)
    return obj


def _needs_values(out) -> bool:
    if isinstance(out, Value):
        return out.tensor is None
    if isinstance(out, (tuple, list)):
        return any(_needs_values(o) for o in out)
    return False


def _attach(out, ref, path: str):
    """Give each output Value the example tensor at the same place in the module's own output."""
    if out is None:
        return None
    if isinstance(out, Value):
        if not isinstance(ref, Tensor):
            raise ExportError(f"neurona.onnx.export: the converter of {path} returned one value, the module "
                              f"returns {type(ref).__name__}")
        if out.tensor is None:
            out.tensor = ref
        return out
    if not isinstance(ref, (tuple, list)) or len(ref) != len(out):
        raise ExportError(f"neurona.onnx.export: the converter of {path} returned {len(out)} values, the module "
                          f"returns a different structure")
    return type(out)(_attach(o, r, path) for o, r in zip(out, ref))


def value_info(name: str, t: Tensor, dynamic: dict) -> onnx.ValueInfoProto:
    """A graph input/output declaration; ``dynamic`` maps axes to symbolic dimension names."""
    shape = [dynamic.get(i, d) for i, d in enumerate(t.shape)]
    return helper.make_tensor_value_info(name, onnx_dtype(t.dtype), shape)
