"""``neurona.onnx.load``: an ONNX graph becomes a trainable neurona ``Module``.

Every node of the graph becomes one step of :class:`OnnxModule`'s forward:

- nodes that hold weights become neurona layers, whose parameters train like
  any others: ``Gemm``/``MatMul`` (+ ``Add``) with constant weights →
  :class:`~neurona.nn.Linear`, ``Conv`` → ``Conv1d``/``Conv2d``,
  ``BatchNormalization`` → batch norm, ``LayerNormalization`` → ``LayerNorm``,
  ``Gather`` on a constant table → ``Embedding``, ``LSTM``/``GRU``/``RNN`` →
  the recurrent layers (gates put back in PyTorch's order), ``PRelu`` →
  ``PReLU``, ``Dropout`` → ``Dropout``. They are named after their weights
  (``fc1.weight`` → ``fc1``) or, failing that, their node (``/features/features.0/Conv``
  → ``features.0``), so a PyTorch-exported file usually keeps PyTorch's
  module and ``state_dict`` names;
- every other node runs as neurona ops (differentiable where the values are
  floats); shape arithmetic (``Shape``, ``Gather`` on shapes, ``Concat``...)
  runs on integer arrays;
- nodes whose inputs are all constants (a ``Transpose`` of a weight, a
  ``DequantizeLinear`` of int8 weights) are computed once, at load time.

An operator neurona does not know raises :class:`UnsupportedOperatorError`
naming every such node before anything is built.
"""
from __future__ import annotations

import os
import re
from collections import OrderedDict
from typing import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import nn
from ..creation import from_numpy
from ..engine import Tensor
from .builders import BUILDERS
from .ops import OPS, UnsupportedOperatorError, _arr, _f32, _t, _unsupported

__all__ = ["load", "OnnxModule", "UnsupportedOperatorError", "supported_operators"]


# --- the runtime form of a node -------------------------------------------------------------------


class _Node:
    """One step of the forward: ``fn(module, node, *inputs)`` computes the node's outputs."""

    __slots__ = ("op_type", "name", "inputs", "outputs", "attrs", "fn", "module", "extra")

    def __init__(self, proto, attrs: dict):
        self.op_type, self.name = proto.op_type, proto.name or proto.op_type
        self.inputs, self.outputs = list(proto.input), list(proto.output)
        self.attrs = attrs
        self.fn: Callable | None = None
        self.module: str | None = None   # dotted path of the layer the node runs, if any
        self.extra: dict = {}

    def __repr__(self) -> str:
        return f"{self.name} ({self.op_type}{', ' + self.module if self.module else ''})"


class _Scope(nn.Module):
    """A named group of layers (``features`` in ``features.0``), indexed like a Sequential; never called itself."""

    def __getitem__(self, key):
        return self._modules[str(key)]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, *args):
        raise RuntimeError("a group of layers imported from ONNX is not called on its own; call the whole model")


class OnnxModule(nn.Module):
    """A neurona model built from an ONNX graph (see :func:`load`).

    ``forward(*inputs)`` takes the graph inputs in order (or by name as
    keywords) and returns the output, or a tuple when the graph has several.
    Its layers are ordinary neurona layers: ``parameters()``, ``state_dict()``,
    ``train()``/``eval()``, :func:`neurona.models.freeze` and
    :func:`neurona.models.replace_head` work as for any model.
    """

    def __init__(self, nodes: list, constants: dict, input_names: list, output_names: list, opset: int,
                 layers: "OrderedDict[str, nn.Module]"):
        super().__init__()
        self.__dict__["_nodes"] = nodes
        self.__dict__["_constants"] = constants
        self.input_names, self.output_names, self.opset = list(input_names), list(output_names), int(opset)
        for path, layer in layers.items():
            _place(self, path, layer)

    @property
    def nodes(self) -> list:
        """The steps of the forward: (node name, operator, layer path) for each ONNX node kept."""
        return list(self._nodes)

    def forward(self, *args, **kwargs):
        if len(args) > len(self.input_names):
            raise TypeError(f"OnnxModule: the graph takes {len(self.input_names)} input(s) "
                            f"({', '.join(self.input_names)}), got {len(args)}")
        env = dict(self._constants)
        given = dict(zip(self.input_names, args))
        for k, v in kwargs.items():
            if k not in self.input_names or k in given:
                raise TypeError(f"OnnxModule: unexpected or repeated input {k!r}; the inputs are "
                                f"{', '.join(self.input_names)}")
            given[k] = v
        missing = [n for n in self.input_names if n not in given]
        if missing:
            raise TypeError(f"OnnxModule: missing input(s) {', '.join(missing)}")
        for k, v in given.items():
            env[k] = v if isinstance(v, Tensor) else from_numpy(np.asarray(v))
        for node in self._nodes:
            xs = [env[i] if i else None for i in node.inputs]
            try:
                out = node.fn(self, node, *xs)
            except Exception as e:
                shapes = ", ".join("None" if x is None else str(tuple(x.shape)) for x in xs)
                raise RuntimeError(f"ONNX node {node.name!r} ({node.op_type}) failed on inputs of shapes "
                                   f"({shapes}): {e}") from e
            outs = out if isinstance(out, tuple) else (out,)
            for name, v in zip(node.outputs, outs):
                if name:
                    env[name] = v
        res = tuple(env[n] for n in self.output_names)
        return res[0] if len(res) == 1 else res

    def extra_repr(self) -> str:
        return f"inputs={self.input_names}, outputs={self.output_names}, opset={self.opset}, {len(self._nodes)} nodes"


def _place(root: nn.Module, path: str, layer: nn.Module) -> None:
    parts = path.split(".")
    parent = root
    for p in parts[:-1]:
        child = parent._modules.get(p)
        if child is None:
            child = _Scope()
            parent.add_module(p, child)
        parent = child
    parent.add_module(parts[-1], layer)


def supported_operators() -> list[str]:
    """The ONNX operators (default domain) that :func:`load` runs."""
    return sorted(set(OPS) | set(BUILDERS))


# --- the loader ------------------------------------------------------------------------------------------


def _attributes(proto) -> dict:
    out = {}
    for a in proto.attribute:
        v = helper.get_attribute_value(a)
        if a.type == onnx.AttributeProto.FLOAT:
            v = _f32(v)
        elif a.type == onnx.AttributeProto.FLOATS:
            v = [_f32(x) for x in v]
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode("utf-8") for s in v]
        out[a.name] = v
    return out


def _constant_value(node) -> np.ndarray:
    at = node.attrs
    if "value" in at:
        return np.asarray(at["value"])
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                    ("value_ints", np.int64)):
        if key in at:
            return np.asarray(at[key], dt)
    _unsupported(node, f"Constant with attribute(s) {sorted(at)} is not supported")


_SEGMENT = re.compile(r"[^0-9A-Za-z_]")


def _clean(seg: str) -> str:
    s = _SEGMENT.sub("_", seg).strip("_")
    return s or "layer"


class _Context:
    """What the builders see while the graph is read: constants, consumers, ranks, names in use."""

    def __init__(self, graph, nodes: list[_Node], constants: dict, ranks: dict):
        self.graph, self.nodes, self.constants, self.ranks = graph, nodes, constants, ranks
        self.consumers: dict[str, list[_Node]] = {}
        for n in nodes:
            for i in n.inputs:
                if i:
                    self.consumers.setdefault(i, []).append(n)
        self.outputs = {o.name for o in graph.output}
        self.absorbed: dict[int, _Node] = {}
        self.paths: set[str] = set()
        self.leaves: set[str] = set()

    def const_value(self, name: str):
        v = self.constants.get(name)
        return None if v is None else _arr(v)

    def const(self, node: _Node, i: int):
        if i >= len(node.inputs) or not node.inputs[i]:
            return None
        return self.const_value(node.inputs[i])

    def rank(self, name: str):
        return self.ranks.get(name)

    def only_consumer(self, name: str):
        users = self.consumers.get(name, [])
        if len(users) == 1 and name not in self.outputs:
            return users[0]
        return None

    def absorb(self, node: _Node, into: _Node) -> None:
        """``node`` (an Add of a bias) is computed by ``into``'s layer: ``into`` now writes its output."""
        self.absorbed[id(node)] = node
        into.outputs = list(node.outputs)

    def path_for(self, node: _Node, weight_input: int) -> str:
        """A dotted layer name: from the weight's name (``fc1.weight``), the node's scope, or the operator."""
        path = None
        w = node.inputs[weight_input] if weight_input < len(node.inputs) else ""
        if w and "." in w and not w.startswith("onnx::") and re.fullmatch(r"[\w.]+", w):
            path = w.rsplit(".", 1)[0]
        elif node.name.startswith("/") and node.name.count("/") >= 2:
            current = ""
            for seg in node.name.strip("/").split("/")[:-1]:
                current = seg if (not current or seg.startswith(current + ".")) else f"{current}.{seg}"
            path = current
        if not path:
            path = node.op_type.lower()
        parts = [_clean(p) for p in path.split(".")]
        # a layer cannot also hold layers: below an existing layer, join with "_" instead of nesting
        for i in range(1, len(parts)):
            if ".".join(parts[:i]) in self.leaves:
                parts = parts[:i - 1] + ["_".join(parts[i - 1:])]
                break
        base = ".".join(parts)
        path, k = base, 1
        while path in self.paths or path in self.leaves:
            path = f"{base}_{k}"
            k += 1
        self.leaves.add(path)
        for i in range(1, len(parts)):
            self.paths.add(".".join(parts[:i]))
        return path


_WEIGHT_INPUT = {"Gemm": 1, "MatMul": 1, "Conv": 1, "BatchNormalization": 1, "LayerNormalization": 1,
                 "Gather": 0, "PRelu": 1, "LSTM": 1, "GRU": 1, "RNN": 1, "Dropout": 0}


# inputs that a layer built from the node holds as its own weights
_LAYER_INPUTS = {"Gemm": (1, 2), "MatMul": (1,), "Conv": (1, 2), "BatchNormalization": (1, 2, 3, 4),
                 "LayerNormalization": (1, 2), "Gather": (0,), "PRelu": (1,), "Dropout": (1, 2),
                 "LSTM": (1, 2, 3), "GRU": (1, 2, 3), "RNN": (1, 2, 3)}


def _read(source) -> onnx.ModelProto:
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, (bytes, bytearray)):
        return onnx.load_from_string(bytes(source))
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"neurona.onnx.load: {path}: no such file")
    try:
        return onnx.load(path)
    except Exception as e:  # a truncated or foreign file: the protobuf parser's own error, with the path
        raise ValueError(f"neurona.onnx.load: {path} is not a readable ONNX model ({type(e).__name__}: {e})") from e


def load(source, *, fold_constants: bool = True) -> OnnxModule:
    """Build a neurona model from an ONNX file (a path, bytes, or an ``onnx.ModelProto``).

    The result is an :class:`OnnxModule` in eval mode whose layers are
    neurona layers with trainable parameters, so a network exported by
    PyTorch (``torch.onnx.export``), by neurona or by another tool can be
    evaluated, frozen and fine-tuned here. Supported operators:
    :func:`supported_operators`; any other raises
    :class:`UnsupportedOperatorError` naming the node. ``fold_constants``
    computes, at load time, the nodes whose inputs are all constants.

    >>> import neurona, neurona.onnx
    >>> model = neurona.onnx.load("resnet.onnx")        # e.g. from torch.onnx.export(...)
    >>> neurona.models.freeze(model)
    >>> head = neurona.models.replace_head(model, 5)     # a new, trainable Linear for 5 classes
    """
    proto = _read(source)
    graph = proto.graph
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise UnsupportedOperatorError("neurona.onnx.load: the model imports no version of the default ONNX "
                                       "operator set")
    bad = [n for n in graph.node if n.domain not in ("", "ai.onnx") or n.op_type not in supported_operators()]
    if bad:
        listed = "; ".join(f"{n.op_type}{'' if n.domain in ('', 'ai.onnx') else ' (domain ' + n.domain + ')'} at "
                           f"node {n.name or '(unnamed)'!r}" for n in bad[:12])
        more = f" and {len(bad) - 12} more" if len(bad) > 12 else ""
        raise UnsupportedOperatorError(
            f"neurona.onnx.load: {len(bad)} node(s) use operators neurona does not support: {listed}{more}. "
            f"Supported: {', '.join(supported_operators())}")
    if any(n.op_type in ("If", "Loop", "Scan") for n in graph.node):  # pragma: no cover - not in the list
        raise UnsupportedOperatorError("neurona.onnx.load: control flow is not supported")
    constants: dict[str, Tensor] = {t.name: from_numpy(numpy_helper.to_array(t)) for t in graph.initializer}
    for sparse in graph.sparse_initializer:
        raise UnsupportedOperatorError(f"neurona.onnx.load: sparse initializer {sparse.values.name!r} is not supported")
    inputs = [i.name for i in graph.input if i.name not in constants]
    outputs = [o.name for o in graph.output]
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
        vi = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
        ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in vi
                 if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape")}
    except Exception:
        ranks = {}
    nodes = [_Node(n, _attributes(n)) for n in graph.node]
    for n in nodes:
        if n.op_type == "Constant":
            n.extra["value"] = _constant_value(n)
    ctx = _Context(graph, nodes, constants, ranks)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    kept = []
    for node in nodes:
        if id(node) in ctx.absorbed:
            continue
        node.fn = OPS.get(node.op_type)
        ins_const = all(not i or i in constants for i in node.inputs)
        if node.op_type == "Constant" or (fold_constants and ins_const and node.op_type not in ("Dropout",)):
            if node.fn is None:
                node.fn = _cannot_compute_now
            res = node.fn(None, node, *[constants[i] if i else None for i in node.inputs])
            for name, v in zip(node.outputs, res if isinstance(res, tuple) else (res,)):
                if name and v is not None:
                    constants[name] = _t(_arr(v))
            continue
        build = BUILDERS.get(node.op_type)
        made = build(ctx, node) if build is not None else None
        if made is not None:
            layer, fn, extra = made
            node.module = ctx.path_for(node, _WEIGHT_INPUT.get(node.op_type, 1))
            for i in _LAYER_INPUTS.get(node.op_type, ()):  # the layer holds these now
                if i < len(node.inputs) and node.inputs[i] in constants:
                    node.inputs[i] = ""
            node.fn = fn
            node.extra.update(extra)
            layers[node.module] = layer
        elif node.fn is None:
            _unsupported(node, "its weights must be constants for neurona to run it")
        kept.append(node)
    # constants still read by the kept nodes or returned as outputs; the rest were folded into layers
    needed = {i for n in kept for i in n.inputs if i} | set(outputs)
    used = {k: v for k, v in constants.items() if k in needed}
    module = OnnxModule(kept, used, inputs, outputs, opset, layers)
    module.eval()
    return module


def _cannot_compute_now(rt, node, *xs):
    raise UnsupportedOperatorError(f"ONNX node {node.name!r} ({node.op_type}) cannot be computed at load time")
