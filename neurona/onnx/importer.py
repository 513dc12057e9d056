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

import math
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
from ..functional import activation as A
from ..functional import math as Fm
from ..functional import reduce as Fr
from ..functional import shape as Fs
from ..functional.conv import conv1d, conv2d, pad_mode
from ..functional.normalization import batch_norm, layer_norm
from ..functional.pool import avg_pool2d, interpolate, max_pool2d
from ..nn.normalization import _BatchNorm

__all__ = ["load", "OnnxModule", "UnsupportedOperatorError", "supported_operators"]


class UnsupportedOperatorError(ValueError):
    """The ONNX graph holds operators (or attributes) that neurona cannot run; the message names each node."""


def _unsupported(node, why: str):
    raise UnsupportedOperatorError(f"ONNX node {node.name!r} ({node.op_type}): {why}")


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


# --- helpers --------------------------------------------------------------------------------------


def _t(a) -> Tensor:
    return a if isinstance(a, Tensor) else from_numpy(np.asarray(a))


def _arr(x) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _is_float(x) -> bool:
    return _arr(x).dtype.kind == "f"


def _ints(x) -> list[int]:
    return [int(v) for v in _arr(x).reshape(-1)]


def _axis(a: int, ndim: int) -> int:
    return a + ndim if a < 0 else a


_OPS: dict[str, Callable] = {}


def _op(*names: str):
    def wrap(fn):
        for n in names:
            _OPS[n] = fn
        return fn
    return wrap


def supported_operators() -> list[str]:
    """The ONNX operators (default domain) that :func:`load` runs."""
    return sorted(set(_OPS) | set(_BUILDERS))


# --- elementwise and arithmetic ---------------------------------------------------------------------

_NP_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power}
_F_BINARY = {"Add": Fm.add, "Sub": Fm.sub, "Mul": Fm.mul, "Div": Fm.div, "Pow": Fm.pow}


@_op("Add", "Sub", "Mul", "Div", "Pow")
def _binary(rt, node, a, b):
    if not (_is_float(a) or _is_float(b)):  # integer (shape) arithmetic: keep integers, Div truncates
        x, y = _arr(a), _arr(b)
        if node.op_type == "Div":
            return _t(np.trunc(x / y).astype(np.result_type(x, y)))
        return _t(_NP_BINARY[node.op_type](x, y))
    if node.op_type == "Pow" and not _is_float(b):
        b = _t(_arr(b).astype(_arr(a).dtype))
    return _F_BINARY[node.op_type](a, b)


_UNARY = {"Relu": A.relu, "Sigmoid": A.sigmoid, "Tanh": A.tanh, "Softsign": A.softsign, "Exp": Fm.exp,
          "Log": Fm.log, "Sqrt": Fm.sqrt, "Neg": Fm.neg, "Abs": Fm.abs, "Erf": A.erf}


@_op(*_UNARY)
def _unary(rt, node, x):
    if not _is_float(x) and node.op_type in ("Neg", "Abs", "Relu"):
        return _t({"Neg": np.negative, "Abs": np.abs, "Relu": lambda v: np.maximum(v, 0)}[node.op_type](_arr(x)))
    return _UNARY[node.op_type](x)


@_op("Reciprocal")
def _reciprocal(rt, node, x):
    return Fm.div(_t(np.asarray(1, _arr(x).dtype)), x)


@_op("Sign", "Floor", "Ceil", "Round")
def _rounding(rt, node, x):  # piecewise constant: no gradient
    f = {"Sign": np.sign, "Floor": np.floor, "Ceil": np.ceil, "Round": np.rint}[node.op_type]
    return _t(f(_arr(x)))


@_op("LeakyRelu")
def _leaky(rt, node, x):
    return A.leaky_relu(x, node.attrs.get("alpha", 0.01))


@_op("Elu")
def _elu(rt, node, x):
    return A.elu(x, node.attrs.get("alpha", 1.0))


@_op("Selu")
def _selu(rt, node, x):
    alpha = node.attrs.get("alpha", 1.67326319217681884765625)
    gamma = node.attrs.get("gamma", 1.05070102214813232421875)
    return A.ELU(float(alpha), float(gamma))(x)


@_op("Celu")
def _celu(rt, node, x):
    return A.celu(x, node.attrs.get("alpha", 1.0))


@_op("Softplus")
def _softplus(rt, node, x):
    return A.softplus(x, 1.0, math.inf)


@_op("Gelu")
def _gelu(rt, node, x):
    return A.gelu(x, node.attrs.get("approximate", "none"))


@_op("HardSigmoid")
def _hard_sigmoid(rt, node, x):
    a, b = node.attrs.get("alpha", 0.2), node.attrs.get("beta", 0.5)
    return Fm.clip(x * a + b, 0.0, 1.0)


@_op("HardSwish")
def _hard_swish(rt, node, x):
    return x * Fm.clip(x * (1 / 6) + 0.5, 0.0, 1.0)


@_op("PRelu")
def _prelu(rt, node, x, slope):
    pos = A.relu(x)
    return pos + slope * (x - pos)  # x where x > 0, slope·x elsewhere


@_op("Clip")
def _clip(rt, node, x, lo=None, hi=None):
    lo = node.attrs.get("min") if lo is None else _arr(lo).item()
    hi = node.attrs.get("max") if hi is None else _arr(hi).item()
    if lo is None and hi is None:
        return x
    if not _is_float(x):
        return _t(np.clip(_arr(x), lo, hi))
    return Fm.clip(x, lo, hi)


def _softmax_like(fn):
    def run(rt, node, x):
        axis = node.attrs.get("axis", -1 if rt.opset >= 13 else 1)
        if rt.opset >= 13:
            return fn(x, axis)
        # before opset 13: the input is seen as 2-D, (dims before axis) × (dims from axis on)
        a = _axis(axis, x.ndim)
        lead = int(np.prod(x.shape[:a], dtype=np.int64))
        return Fs.reshape(fn(Fs.reshape(x, (lead, -1)), 1), x.shape)
    return run


_OPS["Softmax"] = _softmax_like(A.softmax)
_OPS["LogSoftmax"] = _softmax_like(A.log_softmax)


@_op("Max", "Min", "Sum", "Mean")
def _variadic(rt, node, *xs):
    xs = [x for x in xs if x is not None]
    if not any(_is_float(x) for x in xs):
        f = {"Max": np.maximum, "Min": np.minimum, "Sum": np.add}.get(node.op_type)
        out = _arr(xs[0])
        for x in xs[1:]:
            out = f(out, _arr(x)) if f else out + _arr(x)
        return _t(out if node.op_type != "Mean" else out // len(xs))
    f = {"Max": Fm.maximum, "Min": Fm.minimum}.get(node.op_type, Fm.add)
    out = xs[0]
    for x in xs[1:]:
        out = f(out, x)
    return out * (1.0 / len(xs)) if node.op_type == "Mean" else out


_COMPARE = {"Equal": np.equal, "Greater": np.greater, "Less": np.less, "GreaterOrEqual": np.greater_equal,
            "LessOrEqual": np.less_equal, "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor}


@_op(*_COMPARE)
def _compare(rt, node, a, b):
    return _t(_COMPARE[node.op_type](_arr(a), _arr(b)))


@_op("Not")
def _not(rt, node, x):
    return _t(np.logical_not(_arr(x)))


@_op("Where")
def _where(rt, node, cond, a, b):
    if not (_is_float(a) or _is_float(b)):
        return _t(np.where(_arr(cond), _arr(a), _arr(b)))
    return Fm.where(_arr(cond), a, b)


_ONNX_NP = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_,
            10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64, 4: np.uint16}


@_op("Cast")
def _cast(rt, node, x):
    to = node.attrs["to"]
    if to not in _ONNX_NP:
        _unsupported(node, f"casting to ONNX type {to} is not supported")
    d = np.dtype(_ONNX_NP[to])
    if _is_float(x) and d.kind == "f":
        return Fm.cast(x, d)  # differentiable between float types
    return _t(_arr(x).astype(d))


@_op("CastLike")
def _cast_like(rt, node, x, like):
    d = _arr(like).dtype
    return Fm.cast(x, d) if _is_float(x) and d.kind == "f" else _t(_arr(x).astype(d))


@_op("Identity")
def _identity(rt, node, x):
    return x


@_op("MatMul")
def _matmul(rt, node, a, b):
    if not (_is_float(a) or _is_float(b)):
        return _t(np.matmul(_arr(a), _arr(b)))
    return Fm.matmul(a, b)


@_op("Gemm")
def _gemm(rt, node, a, b, c=None):
    at = node.attrs
    if at.get("transA", 0):
        a = Fs.transpose(a)
    if at.get("transB", 0):
        b = Fs.transpose(b)
    y = Fm.matmul(a, b)
    if at.get("alpha", 1.0) != 1.0:
        y = y * at["alpha"]
    if c is not None:
        y = y + (c if at.get("beta", 1.0) == 1.0 else c * at["beta"])
    return y


# --- shapes -------------------------------------------------------------------------------------


@_op("Shape")
def _shape(rt, node, x):
    s = np.asarray(x.shape, np.int64)
    start, end = node.attrs.get("start", 0), node.attrs.get("end", None)
    return _t(s[start:end])


@_op("Size")
def _size(rt, node, x):
    return _t(np.asarray(int(np.prod(x.shape, dtype=np.int64)), np.int64))


@_op("Reshape")
def _reshape(rt, node, x, shape):
    target = _ints(shape)
    if not node.attrs.get("allowzero", 0):
        target = [x.shape[i] if v == 0 else v for i, v in enumerate(target)]
    if not _is_float(x):
        return _t(_arr(x).reshape(target))
    return Fs.reshape(x, tuple(target))


@_op("Flatten")
def _flatten(rt, node, x):
    a = _axis(node.attrs.get("axis", 1), x.ndim)
    shape = (int(np.prod(x.shape[:a], dtype=np.int64)), int(np.prod(x.shape[a:], dtype=np.int64)))
    return Fs.reshape(x, shape) if _is_float(x) else _t(_arr(x).reshape(shape))


@_op("Transpose")
def _transpose(rt, node, x):
    perm = node.attrs.get("perm") or list(range(x.ndim))[::-1]
    return Fs.permute(x, *perm) if _is_float(x) else _t(np.transpose(_arr(x), perm))


def _axes(node, given, name: str = "axes"):
    if given is not None:
        return _ints(given)
    v = node.attrs.get(name)
    return None if v is None else list(v)


@_op("Squeeze")
def _squeeze(rt, node, x, axes=None):
    ax = _axes(node, axes)
    ax = [i for i, d in enumerate(x.shape) if d == 1] if ax is None else [_axis(a, x.ndim) for a in ax]
    shape = tuple(d for i, d in enumerate(x.shape) if i not in ax)
    return Fs.reshape(x, shape) if _is_float(x) else _t(_arr(x).reshape(shape))


@_op("Unsqueeze")
def _unsqueeze(rt, node, x, axes=None):
    ax = _axes(node, axes)
    n = x.ndim + len(ax)
    ax = sorted(_axis(a, n) for a in ax)
    shape = list(x.shape)
    for a in ax:
        shape.insert(a, 1)
    return Fs.reshape(x, tuple(shape)) if _is_float(x) else _t(_arr(x).reshape(shape))


@_op("Concat")
def _concat(rt, node, *xs):
    xs = [x for x in xs if x is not None]
    axis = node.attrs["axis"]
    if not any(_is_float(x) for x in xs):
        return _t(np.concatenate([_arr(x) for x in xs], axis=axis))
    return Fs.cat(xs, axis=_axis(axis, xs[0].ndim))


@_op("Split")
def _split(rt, node, x, split=None):
    axis = _axis(node.attrs.get("axis", 0), x.ndim)
    sizes = _ints(split) if split is not None else node.attrs.get("split")
    if sizes is None:
        n = node.attrs.get("num_outputs", len(node.outputs))
        size = -(-x.shape[axis] // n)
        sizes = [min(size, x.shape[axis] - i * size) for i in range(n)]
    if not _is_float(x):
        return tuple(_t(a) for a in np.split(_arr(x), np.cumsum(sizes)[:-1], axis=axis))
    return tuple(Fs.split(x, list(sizes), axis))


@_op("Slice")
def _slice(rt, node, x, starts=None, ends=None, axes=None, steps=None):
    if starts is None:  # opset < 10: attributes
        starts, ends = node.attrs["starts"], node.attrs["ends"]
        axes = node.attrs.get("axes")
    else:
        starts, ends = _ints(starts), _ints(ends)
        axes = None if axes is None else _ints(axes)
    axes = list(range(len(starts))) if axes is None else [_axis(a, x.ndim) for a in axes]
    steps = [1] * len(starts) if steps is None else _ints(steps)
    index = [slice(None)] * x.ndim
    big = 2 ** 62
    for a, s, e, st in zip(axes, starts, ends, steps):
        s = None if (st > 0 and s <= -big) or (st < 0 and s >= big) else s
        e = None if (st > 0 and e >= big) or (st < 0 and e <= -big) else e
        index[a] = slice(s, e, st)
    return x[tuple(index)] if _is_float(x) else _t(_arr(x)[tuple(index)])


@_op("Gather")
def _gather(rt, node, data, indices):
    axis = _axis(node.attrs.get("axis", 0), data.ndim)
    idx = _arr(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + data.shape[axis], idx)
    if not _is_float(data):
        return _t(np.take(_arr(data), idx, axis=axis))
    return data[(slice(None),) * axis + (idx,)]


@_op("Expand")
def _expand(rt, node, x, shape):
    target = np.broadcast_shapes(tuple(x.shape), tuple(_ints(shape)))
    return Fs.broadcast_to(x, target) if _is_float(x) else _t(np.broadcast_to(_arr(x), target).copy())


@_op("Tile")
def _tile(rt, node, x, repeats):
    reps = _ints(repeats)
    if not _is_float(x):
        return _t(np.tile(_arr(x), reps))
    for a, r in enumerate(reps):
        if r != 1:
            x = Fs.cat([x] * r, axis=a)
    return x


@_op("ConstantOfShape")
def _constant_of_shape(rt, node, shape):
    v = node.attrs.get("value")
    fill = np.zeros(1, np.float32) if v is None else v
    return _t(np.full(_ints(shape), fill.reshape(-1)[0], fill.dtype))


@_op("Range")
def _range(rt, node, start, limit, delta):
    return _t(np.arange(_arr(start).item(), _arr(limit).item(), _arr(delta).item()).astype(_arr(start).dtype))


@_op("Constant")
def _constant(rt, node):
    return _t(node.extra["value"])


# --- reductions -------------------------------------------------------------------------------------


@_op("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2")
def _reduce(rt, node, x, axes=None):
    ax = _axes(node, axes)
    keep = bool(node.attrs.get("keepdims", 1))
    if not ax:
        if node.attrs.get("noop_with_empty_axes", 0):
            return x
        ax = list(range(x.ndim))
    ax = tuple(_axis(a, x.ndim) for a in ax)
    op = node.op_type
    if not _is_float(x):
        f = {"ReduceMean": np.mean, "ReduceSum": np.sum, "ReduceMax": np.max, "ReduceMin": np.min,
             "ReduceProd": np.prod}[op]
        return _t(np.asarray(f(_arr(x), axis=ax, keepdims=keep)).astype(_arr(x).dtype))
    if op == "ReduceMean":
        return Fr.mean(x, ax, keep)
    if op == "ReduceSum":
        return Fr.sum(x, ax, keep)
    if op == "ReduceMax":
        return Fr.amax(x, ax, keep)
    if op == "ReduceMin":
        return Fr.amin(x, ax, keep)
    if op == "ReduceL2":
        return Fm.sqrt(Fr.sum(x * x, ax, keep))
    return _t(np.prod(_arr(x), axis=ax, keepdims=keep))


@_op("ArgMax", "ArgMin")
def _arg(rt, node, x):
    a = _axis(node.attrs.get("axis", 0), x.ndim)
    f = np.argmax if node.op_type == "ArgMax" else np.argmin
    if node.attrs.get("select_last_index", 0):
        r = x.shape[a] - 1 - f(np.flip(_arr(x), a), axis=a)
    else:
        r = f(_arr(x), axis=a)
    return _t(np.expand_dims(r, a) if node.attrs.get("keepdims", 1) else r)


# --- convolution, pooling, normalization ----------------------------------------------------------------


def _same_pads(size, k, s, d, mode: str) -> tuple[int, int]:
    """auto_pad SAME_UPPER / SAME_LOWER: the output is ⌈size/stride⌉; the odd pixel goes after (UPPER) or before."""
    out = -(-size // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    small = total // 2
    return (small, total - small) if mode == "SAME_UPPER" else (total - small, small)


def _pads(node, x, kernel, strides, dilations) -> tuple[list, list]:
    """(begins, ends) of the spatial padding from ``pads`` or ``auto_pad``."""
    nd = len(kernel)
    auto = node.attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pairs = [_same_pads(x.shape[2 + i], kernel[i], strides[i], dilations[i], auto) for i in range(nd)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if auto == "VALID":
        return [0] * nd, [0] * nd
    pads = list(node.attrs.get("pads", [0] * 2 * nd))
    return pads[:nd], pads[nd:]


def _pad_spatial(x: Tensor, begins, ends, value: float = 0.0) -> Tensor:
    if not any(begins) and not any(ends):
        return x
    width = [(0, 0), (0, 0)] + list(zip(begins, ends))
    return Fs.pad(x, tuple(width), value=value)


def _as_2d(x: Tensor, nd: int) -> Tensor:
    return Fs.unsqueeze(x, 2) if nd == 1 else x


@_op("Conv")
def _conv(rt, node, x, w, b=None):
    """A convolution whose weights are not constants (constant ones become a Conv layer)."""
    nd = w.ndim - 2
    k = list(w.shape[2:])
    s = list(node.attrs.get("strides", [1] * nd))
    d = list(node.attrs.get("dilations", [1] * nd))
    begins, ends = _pads(node, x, k, s, d)
    x = _pad_spatial(x, begins, ends)
    g = node.attrs.get("group", 1)
    if nd == 1:
        return conv1d(x, w, b, s[0], 0, d[0], g)
    if nd == 2:
        return conv2d(x, w, b, tuple(s), 0, tuple(d), g)
    _unsupported(node, f"{nd}-D convolutions are not supported (1-D and 2-D are)")


def _run_conv_layer(rt, node, x, *rest):
    begins, ends = node.extra["pads"](x)
    return rt.get_submodule(node.module)(_pad_spatial(x, begins, ends))


def _pool_setup(node, x):
    """Geometry of a pooling node: (nd, kernel, strides, dilations, declared pads, pads with ceil mode's extra)."""
    nd = x.ndim - 2
    if nd not in (1, 2):
        _unsupported(node, f"{nd}-D pooling is not supported (1-D and 2-D are)")
    k = list(node.attrs["kernel_shape"])
    s = list(node.attrs.get("strides", [1] * nd))
    d = list(node.attrs.get("dilations", [1] * nd))
    declared = _pads(node, x, k, s, d)
    begins, ends = list(declared[0]), list(declared[1])
    if node.attrs.get("ceil_mode", 0):  # the ceiling's last window: extra end padding, unless it starts in padding
        for i in range(nd):
            n = x.shape[2 + i]
            span = n + begins[i] + ends[i] - d[i] * (k[i] - 1) - 1
            out = -(-span // s[i]) + 1
            if (out - 1) * s[i] >= n + begins[i]:
                out -= 1
            ends[i] = max(ends[i], (out - 1) * s[i] + d[i] * (k[i] - 1) + 1 - n - begins[i])
    return nd, k, s, d, declared, (begins, ends)


@_op("MaxPool")
def _max_pool(rt, node, x):
    if len(node.outputs) > 1 and node.outputs[1]:
        _unsupported(node, "the Indices output of MaxPool is not supported")
    nd, k, s, d, _, (begins, ends) = _pool_setup(node, x)
    xp = _pad_spatial(x, begins, ends, value=-math.inf)  # padding never wins the max
    k2, s2, d2 = ([1] + k, [1] + s, [1] + d) if nd == 1 else (k, s, d)
    y = max_pool2d(_as_2d(xp, nd), tuple(k2), tuple(s2), 0, tuple(d2))
    return Fs.squeeze(y, 2) if nd == 1 else y


@_op("AveragePool")
def _avg_pool(rt, node, x):
    nd, k, s, d, (pb, pe), (begins, ends) = _pool_setup(node, x)
    if any(v != 1 for v in d):
        _unsupported(node, "dilated average pooling is not supported")
    k2, s2 = ([1] + k, [1] + s) if nd == 1 else (k, s)
    y = avg_pool2d(_as_2d(_pad_spatial(x, begins, ends), nd), tuple(k2), tuple(s2), 0)  # window sum / window size
    include = bool(node.attrs.get("count_include_pad", 0))
    if (include and ends == pe) or not (any(begins) or any(ends)):
        return Fs.squeeze(y, 2) if nd == 1 else y
    # divide by the number of counted elements in each window instead: the input, and the declared padding
    # with count_include_pad; never ceil mode's extra padding
    mb, me = (pb, pe) if include else ([0] * nd, [0] * nd)
    ones = from_numpy(np.ones((1, 1) + tuple(x.shape[2:]), _arr(x).dtype))
    mask = _pad_spatial(_pad_spatial(ones, mb, me, value=1.0), [b - m for b, m in zip(begins, mb)],
                        [e - m for e, m in zip(ends, me)])
    y = y / avg_pool2d(_as_2d(mask, nd), tuple(k2), tuple(s2), 0)
    return Fs.squeeze(y, 2) if nd == 1 else y


@_op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(rt, node, x):
    axes = tuple(range(2, x.ndim))
    return Fr.mean(x, axes, True) if node.op_type == "GlobalAveragePool" else Fr.amax(x, axes, True)


@_op("BatchNormalization")
def _batch_norm_op(rt, node, x, scale, b, mean, var):
    if len(node.outputs) > 1 and any(node.outputs[1:]):
        _unsupported(node, "training-mode BatchNormalization (with running-statistics outputs) is not supported")
    return batch_norm(x, mean, var, scale, b, False, 0.0, node.attrs.get("epsilon", 1e-5))


@_op("LayerNormalization")
def _layer_norm_op(rt, node, x, scale, b=None):
    a = _axis(node.attrs.get("axis", -1), x.ndim)
    shape = tuple(x.shape[a:])
    scale = Fs.broadcast_to(scale, shape) if tuple(scale.shape) != shape else scale
    if b is not None and tuple(b.shape) != shape:
        b = Fs.broadcast_to(b, shape)
    return layer_norm(x, shape, scale, b, node.attrs.get("epsilon", 1e-5))


@_op("InstanceNormalization")
def _instance_norm(rt, node, x, scale, b):
    axes = tuple(range(2, x.ndim))
    mean = Fr.mean(x, axes, True)
    c = x - mean
    var = Fr.mean(c * c, axes, True)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return c / Fm.sqrt(var + node.attrs.get("epsilon", 1e-5)) * Fs.reshape(scale, shape) + Fs.reshape(b, shape)


@_op("Dropout")
def _dropout(rt, node, x, ratio=None, training=None):
    if len(node.outputs) > 1 and node.outputs[1]:
        _unsupported(node, "the mask output of Dropout is not supported")
    if node.module is not None:
        return rt.get_submodule(node.module)(x)
    return x


@_op("Pad")
def _pad(rt, node, x, pads=None, value=None, axes=None):
    mode = node.attrs.get("mode", "constant")
    p = _ints(pads) if pads is not None else list(node.attrs["pads"])
    n = len(p) // 2
    ax = list(range(x.ndim)) if axes is None else [_axis(a, x.ndim) for a in _ints(axes)]
    width = [(0, 0)] * x.ndim
    for i, a in enumerate(ax[:n]):
        width[a] = (p[i], p[i + n])
    if mode == "constant":
        fill = node.attrs.get("value", 0.0) if value is None else _arr(value).item()
        if any(b < 0 or e < 0 for b, e in width):
            _unsupported(node, "negative padding (cropping) is not supported")
        return Fs.pad(x, tuple(width), value=float(fill)) if _is_float(x) else _t(
            np.pad(_arr(x), width, constant_values=fill))
    if any(width[i] != (0, 0) for i in range(x.ndim - 2)) or x.ndim < 3:
        _unsupported(node, f"{mode} padding is supported on the last two axes of a 3-D or 4-D input only")
    (t, b), (l, r) = (width[-2], width[-1])
    mm = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(mode)
    if mm is None:
        _unsupported(node, f"padding mode {mode!r} is not supported")
    if x.ndim == 3:
        return Fs.squeeze(pad_mode(Fs.unsqueeze(x, 0), (t, b, l, r), mm), 0)
    return pad_mode(x, (t, b, l, r), mm)


@_op("Resize", "Upsample")
def _resize(rt, node, x, roi=None, scales=None, sizes=None):
    if node.op_type == "Upsample" or rt.opset < 11:  # opsets 7-10: (x, scales)
        scales, roi = roi, None
    if x.ndim != 4:
        _unsupported(node, f"only 4-D (N, C, H, W) inputs are resized, got rank {x.ndim}")
    mode = node.attrs.get("mode", "nearest")
    ctm = node.attrs.get("coordinate_transformation_mode", "half_pixel")
    if sizes is not None and _arr(sizes).size:
        size, sf = tuple(_ints(sizes)[2:]), None
    else:
        sc = [float(v) for v in _arr(scales).reshape(-1)]
        if sc[:2] != [1.0, 1.0]:
            _unsupported(node, "resizing the batch or channel axes is not supported")
        size, sf = None, (sc[2], sc[3])
    if mode == "nearest":
        if ctm not in ("asymmetric",) or node.attrs.get("nearest_mode", "round_prefer_floor") != "floor":
            _unsupported(node, "nearest resizing is supported with coordinate_transformation_mode='asymmetric' "
                               "and nearest_mode='floor' (PyTorch's nearest)")
        return interpolate(x, size, sf, "nearest")
    if mode == "linear":
        if ctm == "align_corners":
            return interpolate(x, size, sf, "bilinear", align_corners=True)
        if ctm in ("pytorch_half_pixel", "half_pixel"):
            return interpolate(x, size, sf, "bilinear", align_corners=False)
    _unsupported(node, f"resize mode {mode!r} with coordinate_transformation_mode {ctm!r} is not supported")


# --- quantization -----------------------------------------------------------------------------------


def _q_shape(scale, x, axis):
    s = _arr(scale)
    if s.ndim == 0 or s.size == 1:
        return s.reshape(())
    shape = [1] * x.ndim
    shape[_axis(axis, x.ndim)] = -1
    return s.reshape(shape)


@_op("QuantizeLinear")
def _quantize(rt, node, x, scale, zero=None):
    axis = node.attrs.get("axis", 1)
    z = np.zeros((), np.uint8) if zero is None else _arr(zero)
    info = np.iinfo(z.dtype)
    q = np.rint(_arr(x) / _q_shape(scale, x, axis)) + _q_shape(z, x, axis).astype(np.float64)
    return _t(np.clip(q, info.min, info.max).astype(z.dtype))


@_op("DequantizeLinear")
def _dequantize(rt, node, q, scale, zero=None):
    axis = node.attrs.get("axis", 1)
    z = 0 if zero is None else _q_shape(zero, q, axis).astype(np.float32)
    s = _q_shape(scale, q, axis)
    return _t(((_arr(q).astype(np.float32) - z) * s).astype(s.dtype))


# --- recurrent layers ---------------------------------------------------------------------------------

_TO_TORCH = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2), "RNN": (0,)}  # ONNX gate blocks in PyTorch's order


def _run_recurrent(rt, node, x, *rest):
    from ..functional import recurrent as R

    layer = rt.get_submodule(node.module)
    kind, D, H, layout = node.extra["kind"], node.extra["D"], node.extra["H"], node.extra["layout"]
    names = ["W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    given = dict(zip(names, rest))
    if layout == 1:  # batch-major: (B, T, I) and states (B, D, H)
        x = Fs.transpose(x, 0, 1)
        for k in ("initial_h", "initial_c"):
            if given.get(k) is not None:
                given[k] = Fs.transpose(given[k], 0, 1)
    T, B = x.shape[0], x.shape[1]
    lengths = given.get("sequence_lens")
    lengths = None if lengths is None else _arr(lengths).astype(np.int64)
    zeros = from_numpy(np.zeros((B, H), _arr(x).dtype))
    outs, hs, cs = [], [], []
    for d in range(D):
        w = layer._layer_weights(0, d)
        reverse = node.extra["reverse"] if D == 1 else d == 1
        h0 = zeros if given.get("initial_h") is None else given["initial_h"][d]
        if kind == "LSTM":
            c0 = zeros if given.get("initial_c") is None else given["initial_c"][d]
            out, h, c = R.lstm_sequence(x, h0, c0, *w, lengths=lengths, reverse=reverse)
            cs.append(c)
        elif kind == "GRU":
            out, h = R.gru_sequence(x, h0, *w, lengths=lengths, reverse=reverse)
        else:
            out, h = R.rnn_sequence(x, h0, *w, nonlinearity=node.extra["nonlinearity"], lengths=lengths,
                                    reverse=reverse)
        outs.append(out)
        hs.append(h)
    Y = Fs.stack(outs, 1)                       # (T, D, B, H)
    Yh = Fs.stack(hs, 0)                        # (D, B, H)
    Yc = Fs.stack(cs, 0) if cs else None
    if layout == 1:
        Y = Fs.permute(Y, 2, 0, 1, 3)           # (B, T, D, H)
        Yh = Fs.transpose(Yh, 0, 1)
        Yc = None if Yc is None else Fs.transpose(Yc, 0, 1)
    return (Y, Yh, Yc) if kind == "LSTM" else (Y, Yh)


# --- building layers from nodes with constant weights --------------------------------------------------

_BUILDERS: dict[str, Callable] = {}


def _builder(*names: str):
    def wrap(fn):
        for n in names:
            _BUILDERS[n] = fn
        return fn
    return wrap


def _param(a: np.ndarray) -> nn.Parameter:
    return nn.Parameter(from_numpy(np.array(a, copy=True)))


def _set(layer: nn.Module, name: str, a: np.ndarray) -> None:
    """Overwrite ``layer.name`` (parameter or buffer) with a copy of ``a`` of the same shape."""
    t = getattr(layer, name)
    t.array = np.array(a, dtype=t.array.dtype, copy=True).reshape(t.array.shape)


@_builder("Gemm")
def _build_gemm(ctx, node):
    at = node.attrs
    b, c = ctx.const(node, 1), ctx.const(node, 2) if len(node.inputs) > 2 else None
    if b is None or b.ndim != 2 or at.get("transA", 0) or b.dtype.kind != "f":
        return None
    if len(node.inputs) > 2 and node.inputs[2] and c is None:
        return None
    w = (b if at.get("transB", 0) else b.T) * at.get("alpha", 1.0)
    out_f = w.shape[0]
    bias = None
    if c is not None:
        if c.size not in (1, out_f) or (c.ndim == 2 and c.shape[0] != 1):
            return None
        bias = np.broadcast_to(c.reshape(-1), (out_f,)) * at.get("beta", 1.0)
    layer = nn.Linear(w.shape[1], out_f, bias=bias is not None, dtype=b.dtype)
    _set(layer, "weight", w)
    if bias is not None:
        _set(layer, "bias", bias)
    return layer, _run_layer, {}


@_builder("MatMul")
def _build_matmul(ctx, node):
    b = ctx.const(node, 1)
    if b is None or b.ndim != 2 or b.dtype.kind != "f" or ctx.const(node, 0) is not None:
        return None
    bias = None
    add = ctx.only_consumer(node.outputs[0])
    if add is not None and add.op_type == "Add":
        other = [i for i in add.inputs if i != node.outputs[0]]
        c = ctx.const_value(other[0]) if len(other) == 1 else None
        if c is not None and c.dtype.kind == "f" and c.size == b.shape[1] and (c.ndim == 1 or c.shape[:-1] == (1,)):
            bias = c.reshape(-1)
            ctx.absorb(add, node)  # y = x W + b in one Linear layer
    layer = nn.Linear(b.shape[0], b.shape[1], bias=bias is not None, dtype=b.dtype)
    _set(layer, "weight", b.T)
    if bias is not None:
        _set(layer, "bias", bias)
    return layer, _run_layer, {}


def _run_layer(rt, node, x, *rest):
    return rt.get_submodule(node.module)(x)


@_builder("Conv")
def _build_conv(ctx, node):
    w, b = ctx.const(node, 1), (ctx.const(node, 2) if len(node.inputs) > 2 and node.inputs[2] else None)
    if w is None or w.dtype.kind != "f" or w.ndim not in (3, 4):
        return None
    if len(node.inputs) > 2 and node.inputs[2] and b is None:
        return None
    nd = w.ndim - 2
    at = node.attrs
    k = list(w.shape[2:])
    s = list(at.get("strides", [1] * nd))
    d = list(at.get("dilations", [1] * nd))
    g = int(at.get("group", 1))
    auto = at.get("auto_pad", "NOTSET")
    pads = list(at.get("pads", [0] * 2 * nd))
    symmetric = auto in ("NOTSET", "VALID") and pads[:nd] == pads[nd:]
    padding = (pads[:nd] if auto == "NOTSET" else [0] * nd) if symmetric else [0] * nd
    cls = nn.Conv1d if nd == 1 else nn.Conv2d
    layer = cls(w.shape[1] * g, w.shape[0], tuple(k) if nd == 2 else k[0],
                stride=tuple(s) if nd == 2 else s[0], padding=tuple(padding) if nd == 2 else padding[0],
                dilation=tuple(d) if nd == 2 else d[0], groups=g, bias=b is not None, dtype=w.dtype)
    _set(layer, "weight", w)
    if b is not None:
        _set(layer, "bias", b)
    if symmetric:
        return layer, _run_layer, {}
    return layer, _run_conv_layer, {"pads": lambda x, node=node: _pads(node, x, k, s, d)}


class BatchNormNd(_BatchNorm):
    """Batch normalization for inputs of any rank ≥ 2 (channels on axis 1), for graphs whose ranks are unknown."""

    _accepted_ndims = (2, 3, 4, 5)
    _layout = "(N, C, ...)"


@_builder("BatchNormalization")
def _build_batch_norm(ctx, node):
    if len(node.outputs) > 1 and any(node.outputs[1:]):
        return None
    scale, bias, mean, var = (ctx.const(node, i) for i in range(1, 5))
    if any(a is None for a in (scale, bias, mean, var)) or scale.dtype.kind != "f":
        return None
    rank = ctx.rank(node.inputs[0])
    cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d}.get(rank, BatchNormNd)
    layer = cls(scale.size, eps=float(node.attrs.get("epsilon", 1e-5)),
                momentum=_f32(1.0 - node.attrs.get("momentum", 0.9)), dtype=scale.dtype)
    for name, a in (("weight", scale), ("bias", bias), ("running_mean", mean), ("running_var", var)):
        _set(layer, name, a)
    return layer, _run_layer, {}


@_builder("LayerNormalization")
def _build_layer_norm(ctx, node):
    scale = ctx.const(node, 1)
    b = ctx.const(node, 2) if len(node.inputs) > 2 and node.inputs[2] else None
    axis = node.attrs.get("axis", -1)
    rank = ctx.rank(node.inputs[0])
    k = -axis if axis < 0 else (None if rank is None else rank - axis)
    if scale is None or k is None or scale.ndim != k or (len(node.inputs) > 2 and node.inputs[2] and b is None):
        return None
    if len(node.outputs) > 1 and any(node.outputs[1:]):
        return None
    layer = nn.LayerNorm(scale.shape, eps=float(node.attrs.get("epsilon", 1e-5)), bias=b is not None,
                         dtype=scale.dtype)
    _set(layer, "weight", scale)
    if b is not None:
        _set(layer, "bias", b)
    return layer, _run_layer, {}


@_builder("Gather")
def _build_gather(ctx, node):
    table = ctx.const(node, 0)
    if table is None or table.ndim != 2 or table.dtype.kind != "f" or node.attrs.get("axis", 0) != 0 \
            or ctx.const(node, 1) is not None:
        return None
    layer = nn.Embedding(table.shape[0], table.shape[1], dtype=table.dtype)
    _set(layer, "weight", table)
    return layer, _run_embedding, {}


def _run_embedding(rt, node, table, ids):
    idx = _arr(ids).astype(np.int64)
    layer = rt.get_submodule(node.module)
    return layer(np.where(idx < 0, idx + layer.num_embeddings, idx))


@_builder("PRelu")
def _build_prelu(ctx, node):
    slope = ctx.const(node, 1)
    rank = ctx.rank(node.inputs[0])
    if slope is None or slope.dtype.kind != "f":
        return None
    if slope.size == 1:
        n = 1
    elif rank is not None and rank >= 2 and slope.shape[0] == slope.size and slope.ndim == max(rank - 1, 1):
        n = slope.size  # (C, 1, ..., 1): one slope per channel on axis 1
    else:
        return None
    layer = nn.PReLU(n, dtype=slope.dtype)
    _set(layer, "weight", slope.reshape(-1))
    return layer, _run_layer, {}


@_builder("Dropout")
def _build_dropout(ctx, node):
    ratio = ctx.const(node, 1) if len(node.inputs) > 1 and node.inputs[1] else None
    p = float(ratio) if ratio is not None else float(node.attrs.get("ratio", 0.5))
    return nn.Dropout(p), _dropout, {}


@_builder("LSTM", "GRU", "RNN")
def _build_recurrent(ctx, node):
    kind, at = node.op_type, node.attrs
    W, R = ctx.const(node, 1), ctx.const(node, 2)
    B = ctx.const(node, 3) if len(node.inputs) > 3 and node.inputs[3] else None
    if W is None or R is None or (len(node.inputs) > 3 and node.inputs[3] and B is None):
        _unsupported(node, "recurrent layers whose weights are computed in the graph are not supported; "
                           "the weights W, R and B must be constants")
    if len(node.inputs) > 7 and node.inputs[7]:
        _unsupported(node, "LSTM peephole weights (input P) are not supported")
    if at.get("clip") is not None:
        _unsupported(node, "cell clipping (attribute clip) is not supported")
    if at.get("input_forget", 0):
        _unsupported(node, "coupled input and forget gates (input_forget=1) are not supported")
    direction = at.get("direction", "forward")
    D = 2 if direction == "bidirectional" else 1
    H = int(at.get("hidden_size", R.shape[-1]))
    acts = [a.lower() for a in at.get("activations", [])]
    nonlinearity = "tanh"
    if kind == "LSTM" and acts and acts != ["sigmoid", "tanh", "tanh"] * D:
        _unsupported(node, f"LSTM activations {at['activations']} (only Sigmoid, Tanh, Tanh are supported)")
    if kind == "GRU":
        if acts and acts != ["sigmoid", "tanh"] * D:
            _unsupported(node, f"GRU activations {at['activations']} (only Sigmoid, Tanh are supported)")
        if not at.get("linear_before_reset", 0):
            _unsupported(node, "GRU with linear_before_reset=0 is not supported: neurona's GRU (like PyTorch's) "
                               "applies the reset gate after the recurrent product (linear_before_reset=1)")
    if kind == "RNN":
        if acts and (acts[0] not in ("tanh", "relu") or len(set(acts)) != 1):
            _unsupported(node, f"RNN activations {at['activations']} (only Tanh or Relu are supported)")
        nonlinearity = acts[0] if acts else "tanh"
    order = _TO_TORCH[kind]

    def torch_order(a):
        return np.concatenate([a[k * H:(k + 1) * H] for k in order], axis=0)
    I = W.shape[-1]
    cls = {"LSTM": nn.LSTM, "GRU": nn.GRU}.get(kind)
    opts = dict(bias=B is not None, bidirectional=D == 2, dtype=W.dtype)
    layer = cls(I, H, **opts) if cls else nn.RNN(I, H, nonlinearity=nonlinearity, **opts)
    G = len(order)
    for d in range(D):
        sfx = "_l0" + ("_reverse" if d == 1 else "")
        _set(layer, "weight_ih" + sfx, torch_order(W[d]))
        _set(layer, "weight_hh" + sfx, torch_order(R[d]))
        if B is not None:
            _set(layer, "bias_ih" + sfx, torch_order(B[d][:G * H]))
            _set(layer, "bias_hh" + sfx, torch_order(B[d][G * H:]))
    extra = {"kind": kind, "D": D, "H": H, "layout": int(at.get("layout", 0)), "reverse": direction == "reverse",
             "nonlinearity": nonlinearity}
    return layer, _run_recurrent, extra


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


def _f32(v: float) -> float:
    """A float32 attribute as the shortest decimal that rounds to it (1e-05, not 9.999999747378752e-06)."""
    return float(str(np.float32(v)))


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
        node.fn = _OPS.get(node.op_type)
        ins_const = all(not i or i in constants for i in node.inputs)
        if node.op_type == "Constant" or (fold_constants and ins_const and node.op_type not in ("Dropout",)):
            if node.fn is None:
                node.fn = _fold_via_builder
            res = node.fn(None, node, *[constants[i] if i else None for i in node.inputs])
            for name, v in zip(node.outputs, res if isinstance(res, tuple) else (res,)):
                if name and v is not None:
                    constants[name] = _t(_arr(v))
            continue
        build = _BUILDERS.get(node.op_type)
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


def _fold_via_builder(rt, node, *xs):
    raise UnsupportedOperatorError(f"ONNX node {node.name!r} ({node.op_type}) cannot be computed at load time")
