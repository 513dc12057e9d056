"""ONNX converters for the layers of ``neurona.nn``: one function per layer, each writing that layer's forward.

The layers run in eval mode: Dropout and noise are the identity, batch
normalization uses its running statistics. Weights keep their ``state_dict``
names as initializers, so an exported file says where each tensor came from.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..functional.activation import _SELU_ALPHA, _SELU_SCALE
from ..functional.conv import _pair
from ..functional.pool import _adaptive_bins, pool_output_size
from ..nn.normalization import _BatchNorm
from ._graph import ExportError, GraphBuilder, Value, register_converter

G = GraphBuilder  # type of the first argument of every converter


# --- containers and shape layers ----------------------------------------------------------------


@register_converter(nn.Sequential)
def _sequential(g: G, m: nn.Sequential, x: Value):
    for child in m:
        x = g.call(child, x)
    return x


@register_converter(nn.Identity, nn.Dropout, nn.Dropout2d, nn.GaussianNoise)
def _identity(g: G, m, x: Value, *args):
    return x  # the identity in eval mode: no node at all


@register_converter(nn.Flatten)
def _flatten(g: G, m: nn.Flatten, x: Value):
    return flatten(g, x, m.start_dim, m.end_dim)


def flatten(g: G, x: Value, start: int = 1, end: int = -1, value=None) -> Value:
    """``x.flatten(start, end)``: ONNX Flatten when it merges everything after ``start``, else a Reshape."""
    n = x.ndim
    s, e = start % n, end % n
    if e == n - 1 and s >= 1:
        if s == 1:
            return g.op("Flatten", [x], value, axis=1)
        return g.reshape(x, [0] * s + [-1], value)  # the leading dims stay, the rest merge
    shape = list(x.shape)
    merged = shape[:s] + [int(np.prod(shape[s:e + 1], dtype=np.int64))] + shape[e + 1:]
    target = [0] * s + [-1 if s == 0 else merged[s]] + merged[s + 1:]
    return g.reshape(x, target, value)


@register_converter(nn.Unflatten)
def _unflatten(g: G, m: nn.Unflatten, x: Value):
    d = m.dim % x.ndim
    size = list(m.unflattened_size)
    if d == 0:
        raise ExportError("neurona.onnx.export: Unflatten of the batch dimension (dim 0) cannot keep the batch "
                          "size variable")
    return g.reshape(x, [0] * d + size + list(x.shape[d + 1:]))


@register_converter(nn.Residual)
def _residual(g: G, m: nn.Residual, x: Value):
    y = g.call(m.fn, x)
    s = x if m.shortcut is None else g.call(m.shortcut, x)
    return g.op("Add", [y, s], y.tensor + s.tensor)


# --- linear layers ----------------------------------------------------------------------------


@register_converter(nn.Linear)
def _linear(g: G, m: nn.Linear, x: Value):
    w = g.param(m.weight)
    b = None if m.bias is None else g.param(m.bias)
    if x.ndim == 2:
        return g.op("Gemm", [x, w, b], transB=1)  # y = x Wᵀ + b
    y = g.op("MatMul", [x, g.op("Transpose", [w], perm=[1, 0])])
    return y if b is None else g.op("Add", [y, b])


@register_converter(nn.Maxout)
def _maxout(g: G, m: nn.Maxout, x: Value):
    # y_o = max_p (W[o, p]·x + b[o, p]): all O·P pieces in one product, then the max over each unit's P pieces
    O, P, I = m.out_features, m.pool_size, m.in_features
    w = g.reshape(g.param(m.weight), [O * P, I])
    b = None if m.bias is None else g.reshape(g.param(m.bias), [O * P])
    if x.ndim == 2:
        z = g.op("Gemm", [x, w, b], transB=1)
    else:
        z = g.op("MatMul", [x, g.op("Transpose", [w], perm=[1, 0])])
        if b is not None:
            z = g.op("Add", [z, b])
    z = g.reshape(z, [0] * (x.ndim - 1) + [O, P])
    return g.reduce("ReduceMax", z, [x.ndim], keepdims=False)


# --- activations --------------------------------------------------------------------------------

_SIMPLE = {nn.ReLU: "Relu", nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh", nn.Softsign: "Softsign", nn.Sign: "Sign"}


@register_converter(*_SIMPLE)
def _simple(g: G, m, x: Value):
    return g.op(_SIMPLE[type(m)] if type(m) in _SIMPLE else _base_op(m), [x])


def _base_op(m) -> str:
    for cls, op in _SIMPLE.items():
        if isinstance(m, cls):
            return op
    raise ExportError(f"neurona.onnx.export: no ONNX operator for {type(m).__name__}")


@register_converter(nn.LeakyReLU)
def _leaky_relu(g: G, m: nn.LeakyReLU, x: Value):
    return g.op("LeakyRelu", [x], alpha=float(m.negative_slope))


@register_converter(nn.PReLU)
def _prelu(g: G, m: nn.PReLU, x: Value):
    slope = g.param(m.weight)
    c = m.num_parameters
    if c > 1 and x.ndim > 2:  # one α per channel (dim 1), broadcast over the spatial dims
        slope = g.reshape(slope, [c] + [1] * (x.ndim - 2))
    return g.op("PRelu", [x, slope])


@register_converter(nn.ELU)
def _elu(g: G, m: nn.ELU, x: Value):
    return g.op("Elu", [x], alpha=float(m.alpha))


@register_converter(nn.SELU)
def _selu(g: G, m: nn.SELU, x: Value):
    return g.op("Selu", [x], alpha=float(_SELU_ALPHA), gamma=float(_SELU_SCALE))


@register_converter(nn.CELU)
def _celu(g: G, m: nn.CELU, x: Value):
    return g.op("Celu", [x], alpha=float(m.alpha))


@register_converter(nn.Softplus)
def _softplus(g: G, m: nn.Softplus, x: Value):
    # log(1 + e^{βx})/β, and x itself where βx > threshold (as neurona and PyTorch do)
    bx = x if m.beta == 1 else g.op("Mul", [x, g.scalar(m.beta, x)])
    sp = g.op("Softplus", [bx])
    if m.beta != 1:
        sp = g.op("Div", [sp, g.scalar(m.beta, x)])
    return g.op("Where", [g.op("Greater", [bx, g.scalar(m.threshold, x)]), x, sp])


@register_converter(nn.GELU)
def _gelu(g: G, m: nn.GELU, x: Value):
    if g.opset >= 20:
        return g.op("Gelu", [x], approximate=m.approximate)
    half_x = g.op("Mul", [x, g.scalar(0.5, x)])
    if m.approximate == "tanh":  # ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.scalar(0.044715, x)])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.scalar(math.sqrt(2 / math.pi), x)])])
    else:  # ½x(1 + erf(x/√2))
        t = g.op("Erf", [g.op("Mul", [x, g.scalar(1 / math.sqrt(2), x)])])
    return g.op("Mul", [half_x, g.op("Add", [t, g.scalar(1.0, x)])])


@register_converter(nn.SiLU)
def _silu(g: G, m, x: Value):
    return g.op("Mul", [x, g.op("Sigmoid", [x])])


@register_converter(nn.Hardtanh)
def _hardtanh(g: G, m: nn.Hardtanh, x: Value):
    return g.op("Clip", [x, g.scalar(m.min_val, x), g.scalar(m.max_val, x)])


@register_converter(nn.ReLU6)
def _relu6(g: G, m, x: Value):
    return g.op("Clip", [x, g.scalar(0.0, x), g.scalar(6.0, x)])


@register_converter(nn.LogSigmoid)
def _logsigmoid(g: G, m, x: Value):
    return g.op("Neg", [g.op("Softplus", [g.op("Neg", [x])])])  # log σ(x) = −softplus(−x)


@register_converter(nn.Step)
def _step(g: G, m: nn.Step, x: Value):
    t = g.scalar(m.threshold, x)
    at = g.op("Where", [g.op("Equal", [x, t]), g.scalar(m.value, x), g.scalar(0.0, x)])
    return g.op("Where", [g.op("Greater", [x, t]), g.scalar(1.0, x), at])


@register_converter(nn.Softmax)
def _softmax(g: G, m: nn.Softmax, x: Value):
    return g.op("Softmax", [x], axis=int(m.dim))


@register_converter(nn.LogSoftmax)
def _log_softmax(g: G, m: nn.LogSoftmax, x: Value):
    return g.op("LogSoftmax", [x], axis=int(m.dim))


# --- normalization ------------------------------------------------------------------------------


@register_converter(_BatchNorm)
def _batch_norm(g: G, m: _BatchNorm, x: Value):
    C, dt = m.num_features, x.tensor.dtype
    scale = g.param(m.weight) if m.affine else g.const(np.ones(C, dt), f"{g.scope_name()}.weight")
    bias = g.param(m.bias) if m.affine else g.const(np.zeros(C, dt), f"{g.scope_name()}.bias")
    if m.running_mean is not None:
        return g.op("BatchNormalization", [x, scale, bias, g.param(m.running_mean), g.param(m.running_var)],
                    epsilon=float(m.eps))
    # no running statistics: eval mode normalizes with the batch's own, over every axis but the channels
    axes = [0] + list(range(2, x.ndim))
    mean = g.reduce("ReduceMean", x, axes)
    centered = g.op("Sub", [x, mean])
    var = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes)
    xhat = g.op("Div", [centered, g.op("Sqrt", [g.op("Add", [var, g.scalar(m.eps, x)])])])
    shape = [C] + [1] * (x.ndim - 2)
    return g.op("Add", [g.op("Mul", [xhat, g.reshape(scale, shape)]), g.reshape(bias, shape)])


@register_converter(nn.LayerNorm)
def _layer_norm(g: G, m: nn.LayerNorm, x: Value):
    k = len(m.normalized_shape)
    dt = x.tensor.dtype
    scale = g.param(m.weight) if m.weight is not None else g.const(np.ones(m.normalized_shape, dt),
                                                                     f"{g.scope_name()}.weight")
    bias = None if m.bias is None else g.param(m.bias)
    if g.opset >= 17:
        return g.op("LayerNormalization", [x, scale, bias], axis=-k, epsilon=float(m.eps))
    axes = list(range(x.ndim - k, x.ndim))
    centered = g.op("Sub", [x, g.reduce("ReduceMean", x, axes)])
    var = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes)
    y = g.op("Mul", [g.op("Div", [centered, g.op("Sqrt", [g.op("Add", [var, g.scalar(m.eps, x)])])]), scale])
    return y if bias is None else g.op("Add", [y, bias])


# --- convolution and pooling --------------------------------------------------------------------

_PAD_MODES = {"reflect": "reflect", "replicate": "edge"}


def _pad_spatial(g: G, x: Value, pads: tuple, mode: str) -> Value:
    """Pad the last two axes by (top, bottom, left, right) with ``mode`` (reflect, replicate or circular)."""
    t, b, l, r = pads
    if mode == "circular":  # wrap around: the last columns before, the first ones after (Slice + Concat)
        for axis, (before, after) in ((x.ndim - 1, (l, r)), (x.ndim - 2, (t, b))):
            n = x.shape[axis]
            parts = []
            if before:
                parts.append(g.slice(x, [n - before], [n], [axis]))
            parts.append(x)
            if after:
                parts.append(g.slice(x, [0], [after], [axis]))
            if len(parts) > 1:
                shape = list(x.shape)
                shape[axis] += before + after
                x = g.op("Concat", parts, _empty(shape, x), axis=axis)
        return x
    zeros = [0] * (x.ndim - 2)
    return g.op("Pad", [x, g.ints(zeros + [t, l] + zeros + [b, r])], mode=_PAD_MODES[mode])


def _empty(shape, like: Value):
    from ..creation import from_numpy

    return from_numpy(np.zeros(shape, like.tensor.dtype))


@register_converter(nn.Conv2d, nn.Conv1d)
def _conv(g: G, m, x: Value):
    nd = m._nd
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = g.unsqueeze(x, [0], _empty((1,) + x.shape, x))
    t, b, l, r = m._explicit_pads()
    if nd == 1:
        t = b = 0
    if m.padding_mode != "zeros":
        if nd == 1:
            x4 = g.unsqueeze(x, [2], _empty(x.shape[:2] + (1,) + x.shape[2:], x))
            x4 = _pad_spatial(g, x4, (0, 0, l, r), m.padding_mode)
            x = g.squeeze(x4, [2], _empty(x.shape[:2] + (x.shape[2] + l + r,), x))
        else:
            x = _pad_spatial(g, x, (t, b, l, r), m.padding_mode)
        t = b = l = r = 0
    pads = [l, r] if nd == 1 else [t, l, b, r]
    ins = [x, g.param(m.weight)] + ([g.param(m.bias)] if m.bias is not None else [])
    y = g.op("Conv", ins, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=pads,
             dilations=list(m.dilation), group=int(m.groups))
    if unbatched:
        y = g.squeeze(y, [0])
    return y


@register_converter(nn.ConvTranspose2d, nn.ConvTranspose1d)
def _conv_transpose(g: G, m, x: Value, output_size=None):
    """ONNX ConvTranspose has PyTorch's weight layout (in, out/groups, k...) and output size; the output_padding
    that ``output_size`` picks is found on the example input (spatial sizes are fixed in the graph)."""
    nd = m._nd
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = g.unsqueeze(x, [0], _empty((1,) + x.shape, x))
    output_padding = m._output_padding(tuple(x.shape[2:]), output_size)
    ins = [x, g.param(m.weight)] + ([g.param(m.bias)] if m.bias is not None else [])
    y = g.op("ConvTranspose", ins, kernel_shape=list(m.kernel_size), strides=list(m.stride),
             pads=list(m.padding) * 2, dilations=list(m.dilation), group=int(m.groups),
             output_padding=list(output_padding))
    if unbatched:
        y = g.squeeze(y, [0])
    return y


def _pool_geometry(m, x: Value, nd: int, op: str):
    """kernel, stride, padding, dilation as lists of ``nd`` ints (1-D pools give ints or 1-tuples)."""
    def norm(v, name):
        if nd == 1:
            return [int(v[0]) if isinstance(v, (tuple, list)) else int(v)]
        return list(_pair(v, name, op))
    k = norm(m.kernel_size, "kernel_size")
    s = k if m.stride is None or (isinstance(m.stride, (tuple, list)) and not m.stride) else norm(m.stride, "stride")
    p = norm(m.padding, "padding")
    d = norm(getattr(m, "dilation", 1), "dilation")
    return k, s, p, d


def _ceil_pads(x: Value, k, s, p, d, ceil_mode: bool) -> tuple[list, list]:
    """Begin and end pads; ceil mode becomes extra end padding, so the output size is PyTorch's exactly."""
    spatial = x.shape[-len(k):]
    ends = list(p)
    if ceil_mode:
        for i, n in enumerate(spatial):
            out = pool_output_size(n, k[i], s[i], p[i], d[i], True)
            need = (out - 1) * s[i] + d[i] * (k[i] - 1) + 1  # the padded length the last window reaches
            ends[i] = max(p[i], need - n - p[i])
    return list(p), ends


@register_converter(nn.MaxPool2d, nn.MaxPool1d)
def _max_pool(g: G, m, x: Value):
    nd = 1 if isinstance(m, nn.MaxPool1d) else 2
    if getattr(m, "return_indices", False):
        raise ExportError("neurona.onnx.export: MaxPool2d(return_indices=True) has no ONNX form here; export the "
                          "model without the indices")
    k, s, p, d = _pool_geometry(m, x, nd, type(m).__name__)
    begin, end = _ceil_pads(x, k, s, p, d, m.ceil_mode)  # max pooling: extra padding is −∞, never the max
    return _unbatched_pool(g, x, nd, lambda v: g.op("MaxPool", [v], kernel_shape=k, strides=s, pads=begin + end,
                                                    dilations=d))


def _unbatched_pool(g: G, x: Value, nd: int, pool):
    if x.ndim == nd + 1:  # (C, ...) without a batch axis
        y = pool(g.unsqueeze(x, [0], _empty((1,) + x.shape, x)))
        return g.squeeze(y, [0])
    return pool(x)


@register_converter(nn.AvgPool2d, nn.AvgPool1d)
def _avg_pool(g: G, m, x: Value):
    nd = 1 if isinstance(m, nn.AvgPool1d) else 2
    k, s, p, _ = _pool_geometry(m, x, nd, type(m).__name__)
    div = getattr(m, "divisor_override", None)
    attrs = dict(kernel_shape=k, strides=s, pads=p + p, ceil_mode=int(bool(m.ceil_mode)),
                 count_include_pad=int(bool(m.count_include_pad) or div is not None))

    def pool(v):
        y = g.op("AveragePool", [v], **attrs)
        if div is not None:  # the window's sum over the given divisor: undo AveragePool's own count
            y = g.op("Mul", [y, g.scalar(float(np.prod(k)) / int(div), x)])
        return y
    return _unbatched_pool(g, x, nd, pool)


def _adaptive_out(m, x: Value) -> tuple[int, int]:
    size = m.output_size
    h, w = x.shape[-2:]
    oh, ow = (size, size) if isinstance(size, (int, np.integer)) or size is None else tuple(size)
    return (h if oh is None else int(oh)), (w if ow is None else int(ow))


@register_converter(nn.AdaptiveAvgPool2d)
def _adaptive_avg(g: G, m, x: Value):
    h, w = x.shape[-2:]
    oh, ow = _adaptive_out(m, x)
    if x.ndim != 4:
        raise ExportError(f"neurona.onnx.export: AdaptiveAvgPool2d expects (N, C, H, W), got {x.shape}")
    if (oh, ow) == (1, 1):
        return g.op("GlobalAveragePool", [x])
    if h % oh == 0 and w % ow == 0:
        kh, kw = h // oh, w // ow
        return g.op("AveragePool", [x], kernel_shape=[kh, kw], strides=[kh, kw])
    return _bins(g, x, h, w, oh, ow, "ReduceMean")


def _bins(g: G, x: Value, h: int, w: int, oh: int, ow: int, reduce: str) -> Value:
    """Overlapping adaptive bins: each bin reduced on its own (Slice + Reduce), then put back in place (Concat)."""
    rows = []
    for hs, he in zip(*_adaptive_bins(h, oh)):
        cells = [g.reduce(reduce, g.slice(x, [hs, ws], [he, we], [2, 3]), [2, 3])
                 for ws, we in zip(*_adaptive_bins(w, ow))]
        rows.append(g.op("Concat", cells, axis=3) if len(cells) > 1 else cells[0])
    return g.op("Concat", rows, axis=2) if len(rows) > 1 else rows[0]


@register_converter(nn.AdaptiveMaxPool2d)
def _adaptive_max(g: G, m, x: Value):
    if m.return_indices:
        raise ExportError("neurona.onnx.export: AdaptiveMaxPool2d(return_indices=True) has no ONNX form here")
    h, w = x.shape[-2:]
    oh, ow = _adaptive_out(m, x)
    if (oh, ow) == (1, 1):
        return g.op("GlobalMaxPool", [x])
    if h % oh == 0 and w % ow == 0:
        kh, kw = h // oh, w // ow
        return g.op("MaxPool", [x], kernel_shape=[kh, kw], strides=[kh, kw])
    return _bins(g, x, h, w, oh, ow, "ReduceMax")


@register_converter(nn.GlobalAvgPool2d)
def _global_avg(g: G, m, x: Value):
    return g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)


@register_converter(nn.Upsample)
def _upsample(g: G, m: nn.Upsample, x: Value):
    h, w = x.shape[-2:]
    if m.mode == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attrs = dict(mode="linear", coordinate_transformation_mode="align_corners" if m.align_corners
                     else "pytorch_half_pixel")
    if m.size is not None:
        oh, ow = (m.size, m.size) if isinstance(m.size, (int, np.integer)) else m.size
        sizes = g.op("Concat", [g.slice(g.op("Shape", [x]), [0], [2], [0]), g.ints([oh, ow])], axis=0)
        return g.op("Resize", [x, None, None, sizes], **attrs)
    sf = m.scale_factor
    sh, sw = (sf, sf) if isinstance(sf, (int, float)) else sf
    scales = g.const(np.array([1, 1, sh, sw], np.float32), f"{g.scope_name()}.scales")
    return g.op("Resize", [x, None, scales], **attrs)


# --- embeddings ---------------------------------------------------------------------------------


def _table(g: G, m) -> Value:
    if m.max_norm is None:
        return g.param(m.weight)
    # rows longer than max_norm are rescaled when looked up; the exported table holds them rescaled already
    w = m.weight.array
    norms = np.linalg.norm(w, ord=m.norm_type, axis=1)
    scale = np.where(norms > m.max_norm, m.max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    return g.const(w * scale[:, None], f"{g.scope_name()}.weight")


@register_converter(nn.Embedding)
def _embedding(g: G, m: nn.Embedding, ids: Value):
    return g.op("Gather", [_table(g, m), ids], axis=0)


@register_converter(nn.EmbeddingBag)
def _embedding_bag(g: G, m: nn.EmbeddingBag, ids: Value, offsets=None, per_sample_weights=None):
    if offsets is not None or ids.ndim != 2:
        raise ExportError("neurona.onnx.export: EmbeddingBag exports with padded bags (B, L) as input; "
                          "1-D indices with offsets have no fixed-shape ONNX form")
    if per_sample_weights is not None:
        raise ExportError("neurona.onnx.export: EmbeddingBag with per_sample_weights is not exported")
    rows = g.op("Gather", [_table(g, m), ids], axis=0)                           # (B, L, D)
    dt = m.weight.dtype
    if m.padding_idx is None:
        if m.mode == "max":
            return g.reduce("ReduceMax", rows, [1], keepdims=False)
        total = g.reduce("ReduceSum", rows, [1], keepdims=False)
        if m.mode == "sum":
            return total
        return g.op("Div", [total, g.const(np.asarray(ids.shape[1], dt), f"{g.scope_name()}.count")])
    keep = g.op("Not", [g.op("Equal", [ids, g.const(np.asarray(m.padding_idx, ids.tensor.dtype))])])  # (B, L)
    mask = g.unsqueeze(g.op("Cast", [keep], to=_onnx_float(dt)), [2])               # (B, L, 1)
    count = g.reduce("ReduceSum", mask, [1], keepdims=False)                         # (B, 1)
    if m.mode == "max":  # padding rows out of the max; an empty bag gives 0
        neg = g.op("Where", [g.unsqueeze(keep, [2]), rows, g.const(np.asarray(-np.inf, dt))])
        best = g.reduce("ReduceMax", neg, [1], keepdims=False)
        return g.op("Where", [g.op("Greater", [count, g.const(np.asarray(0, dt))]), best,
                              g.const(np.asarray(0, dt))])
    total = g.reduce("ReduceSum", g.op("Mul", [rows, mask]), [1], keepdims=False)
    if m.mode == "sum":
        return total
    return g.op("Div", [total, g.op("Max", [count, g.const(np.asarray(1, dt))])])


def _onnx_float(dt) -> int:
    from ._graph import onnx_dtype

    return onnx_dtype(dt)


# --- recurrent layers ---------------------------------------------------------------------------

# rows of PyTorch's stacked gates, reordered into ONNX's: LSTM i,f,g,o → i,o,f,c; GRU r,z,n → z,r,h
_GATE_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN_TANH": (0,), "RNN_RELU": (0,)}
_ONNX_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _reorder(a: np.ndarray, mode: str, H: int) -> np.ndarray:
    order = _GATE_ORDER[mode]
    return np.concatenate([a[k * H:(k + 1) * H] for k in order], axis=0)


def _onnx_weights(g: G, mode: str, H: int, per_direction: list, name: str):
    """W (D, G·H, I), R (D, G·H, H), B (D, 2·G·H) or None, from each direction's (w_ih, w_hh, b_ih, b_hh)."""
    W = np.stack([_reorder(w[0].array, mode, H) for w in per_direction])
    R = np.stack([_reorder(w[1].array, mode, H) for w in per_direction])
    vals = [g.const(W, f"{name}.W"), g.const(R, f"{name}.R")]
    if per_direction[0][2] is not None:
        B = np.stack([np.concatenate([_reorder(w[2].array, mode, H), _reorder(w[3].array, mode, H)])
                      for w in per_direction])
        vals.append(g.const(B, f"{name}.B"))
    else:
        vals.append(None)
    return vals


def _rnn_node(g: G, mode: str, H: int, D: int, x: Value, weights: list, lengths, h0, c0):
    """One ONNX LSTM/GRU/RNN node over x (T, B, I): returns (Y (T, D, B, H), Y_h (D, B, H), Y_c or None)."""
    attrs = dict(hidden_size=H, direction="bidirectional" if D == 2 else "forward")
    if mode == "GRU":
        attrs["linear_before_reset"] = 1  # PyTorch's (and neurona's) GRU: r_t multiplies (W_hn h + b_hn)
    if mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * D
    outs = 3 if mode == "LSTM" else 2
    ins = [x, *weights, lengths, h0] + ([c0] if mode == "LSTM" else [])
    res = g.op(_ONNX_OP[mode], ins, outputs=outs, **attrs)
    return res[0], res[1], (res[2] if mode == "LSTM" else None)


def _select_layers(g: G, state: Value | None, k: int, D: int) -> Value | None:
    if state is None:
        return None
    return g.slice(state, [k * D], [(k + 1) * D], [0])


@register_converter(nn.RNN, nn.LSTM, nn.GRU)
def _rnn_layer(g: G, m: nn.RNNBase, x: Value, hx=None, lengths=None):
    """A stack of recurrent layers: one ONNX node per layer (both directions in one node)."""
    H, D, L, mode = m.hidden_size, m.num_directions, m.num_layers, m.mode
    unbatched = x.ndim == 2
    h0 = c0 = None
    if hx is not None:
        h0, c0 = (hx if isinstance(hx, (tuple, list)) else (hx, None))
    if unbatched:
        x = g.unsqueeze(x, [1])
        h0 = None if h0 is None else g.unsqueeze(h0, [1])
        c0 = None if c0 is None else g.unsqueeze(c0, [1])
    elif m.batch_first:
        x = g.op("Transpose", [x], perm=[1, 0, 2])
    seq_lens = None if lengths is None else g.op("Cast", [lengths], to=6)  # ONNX wants int32 lengths
    hs, cs = [], []
    for k in range(L):
        per_dir = [m._layer_weights(k, d) for d in range(D)]
        weights = _onnx_weights(g, mode, H, per_dir, f"{g.scope_name()}.l{k}")
        Y, Yh, Yc = _rnn_node(g, mode, H, D, x, weights, seq_lens, _select_layers(g, h0, k, D),
                              _select_layers(g, c0, k, D))
        if D == 1:
            x = g.squeeze(Y, [1])                                              # (T, B, H)
        else:
            x = g.reshape(g.op("Transpose", [Y], perm=[0, 2, 1, 3]), [0, 0, -1])  # (T, B, D·H)
        hs.append(Yh)
        cs.append(Yc)
    h_n = hs[0] if L == 1 else g.op("Concat", hs, axis=0)
    c_n = None if mode != "LSTM" else (cs[0] if L == 1 else g.op("Concat", cs, axis=0))
    out = x
    if unbatched:
        out = g.squeeze(out, [1])
        h_n = g.squeeze(h_n, [1])
        c_n = None if c_n is None else g.squeeze(c_n, [1])
    elif m.batch_first:
        out = g.op("Transpose", [out], perm=[1, 0, 2])
    return (out, (h_n, c_n)) if mode == "LSTM" else (out, h_n)


@register_converter(nn.RNNCell, nn.LSTMCell, nn.GRUCell)
def _cell(g: G, m, x: Value, hx=None):
    """One step of a cell is a recurrent node over a sequence of length 1."""
    mode = {nn.LSTMCell: "LSTM", nn.GRUCell: "GRU"}.get(type(m)) or \
        ("RNN_TANH" if getattr(m, "nonlinearity", "tanh") == "tanh" else "RNN_RELU")
    H = m.hidden_size
    lead = [0, 1] if x.ndim == 1 else [0]  # (I,) → (1, 1, I); (B, I) → (1, B, I)
    xs = g.unsqueeze(x, lead)
    h0 = c0 = None
    if hx is not None:
        h0, c0 = (hx if isinstance(hx, (tuple, list)) else (hx, None))
        h0 = g.unsqueeze(h0, lead)
        c0 = None if c0 is None else g.unsqueeze(c0, lead)
    weights = _onnx_weights(g, mode, H, [m._weights()], g.scope_name() or "cell")
    _, Yh, Yc = _rnn_node(g, mode, H, 1, xs, weights, None, h0, c0)
    h = g.squeeze(Yh, lead)
    return (h, g.squeeze(Yc, lead)) if mode == "LSTM" else h
