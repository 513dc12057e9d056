"""Layers built from ONNX nodes whose weights are constants (``neurona.onnx.load``).

Each entry of ``BUILDERS`` is ``fn(ctx, node) -> (layer, run, extra)`` or
None when the node does not fit a neurona layer (it then runs as an op of
:mod:`neurona.onnx.ops`): a ``Gemm`` or a ``MatMul`` (+ the ``Add`` of its
bias) becomes a ``Linear``, a ``Conv`` a ``Conv1d``/``Conv2d``, and so on.
``run(module, node, *inputs)`` computes the node with the layer.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import nn
from ..creation import from_numpy
from ..nn.normalization import _BatchNorm
from .ops import (_arr, _conv_transpose_geometry, _dropout, _f32, _pads, _run_conv_layer, _run_recurrent,
                  _unsupported)

# --- building layers from nodes with constant weights --------------------------------------------------

BUILDERS: dict[str, Callable] = {}
_TO_TORCH = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2), "RNN": (0,)}  # ONNX's gate blocks in PyTorch's order


def _builder(*names: str):
    def wrap(fn):
        for n in names:
            BUILDERS[n] = fn
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


@_builder("ConvTranspose")
def _build_conv_transpose(ctx, node):
    """A ConvTranspose1d/2d layer from constant weights, when the pads are the same at both ends."""
    w, b = ctx.const(node, 1), (ctx.const(node, 2) if len(node.inputs) > 2 and node.inputs[2] else None)
    if w is None or w.dtype.kind != "f" or w.ndim not in (3, 4):
        return None
    if len(node.inputs) > 2 and node.inputs[2] and b is None:
        return None
    nd = w.ndim - 2
    s, d, op, begins, ends = _conv_transpose_geometry(node, nd)
    if begins != ends or any(o >= max(si, di) for o, si, di in zip(op, s, d)):
        return None  # run as an op: uneven pads are a crop after the layer
    g = int(node.attrs.get("group", 1))
    one = (lambda v: tuple(v)) if nd == 2 else (lambda v: v[0])
    cls = nn.ConvTranspose1d if nd == 1 else nn.ConvTranspose2d
    layer = cls(w.shape[0], w.shape[1] * g, one(list(w.shape[2:])), stride=one(s), padding=one(begins),
                output_padding=one(op), groups=g, bias=b is not None, dilation=one(d), dtype=w.dtype)
    _set(layer, "weight", w)
    if b is not None:
        _set(layer, "bias", b)
    return layer, _run_layer, {}


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
