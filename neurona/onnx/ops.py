"""The ONNX operators as neurona ops: what each node of an imported graph computes (``neurona.onnx.load``).

Each entry of ``OPS`` is ``fn(module, node, *inputs)``: ``module`` is the
:class:`~neurona.onnx.OnnxModule` running the graph (layers are fetched from
it by path, so a deep copy or a replaced head is used), ``node`` the node
with its attributes, ``inputs`` Tensors (None for an omitted optional
input). Floating values go through differentiable neurona ops; integer
values (shapes, indices) through NumPy.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..creation import from_numpy
from ..engine import Tensor
from ..functional import activation as A
from ..functional import math as Fm
from ..functional import reduce as Fr
from ..functional import shape as Fs
from ..functional.conv import conv1d, conv2d, pad_mode
from ..functional.conv_transpose import conv_transpose1d, conv_transpose2d
from ..functional.normalization import batch_norm, layer_norm
from ..functional.pointwise import erf
from ..functional.pool import avg_pool2d, interpolate, max_pool2d

class UnsupportedOperatorError(ValueError):
    """The ONNX graph holds operators (or attributes) that neurona cannot run; the message names each node."""


def _unsupported(node, why: str):
    raise UnsupportedOperatorError(f"ONNX node {node.name!r} ({node.op_type}): {why}")


# --- helpers --------------------------------------------------------------------------------------


def _f32(v: float) -> float:
    """A float32 attribute as the shortest decimal that rounds to it (1e-05, not 9.999999747378752e-06)."""
    return float(str(np.float32(v)))


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


OPS: dict[str, Callable] = {}


def _op(*names: str):
    def wrap(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return wrap


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
          "Log": Fm.log, "Sqrt": Fm.sqrt, "Neg": Fm.neg, "Abs": Fm.abs, "Erf": erf}


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


OPS["Softmax"] = _softmax_like(A.softmax)
OPS["LogSoftmax"] = _softmax_like(A.log_softmax)


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


def _conv_transpose_geometry(node, nd: int):
    """(strides, dilations, output_padding, begins, ends) of a ConvTranspose node; explicit pads only."""
    at = node.attrs
    if at.get("output_shape") is not None or at.get("auto_pad", "NOTSET") != "NOTSET":
        _unsupported(node, "ConvTranspose with output_shape or auto_pad is not supported (explicit pads are)")
    s = list(at.get("strides", [1] * nd))
    d = list(at.get("dilations", [1] * nd))
    op = list(at.get("output_padding", [0] * nd))
    pads = list(at.get("pads", [0] * 2 * nd))
    return s, d, op, pads[:nd], pads[nd:]


def _crop_spatial(y: Tensor, begins, ends) -> Tensor:
    if not any(begins) and not any(ends):
        return y
    index = (slice(None), slice(None)) + tuple(slice(b, y.shape[2 + i] - e) for i, (b, e) in
                                                 enumerate(zip(begins, ends)))
    return y[index]


@_op("ConvTranspose")
def _conv_transpose(rt, node, x, w, b=None):
    """A transposed convolution whose weights are not constants (constant ones become a ConvTranspose layer):
    computed without padding, then cropped by the pads (which may differ at the two ends)."""
    nd = w.ndim - 2
    if nd not in (1, 2):
        _unsupported(node, f"{nd}-D transposed convolutions are not supported (1-D and 2-D are)")
    s, d, op, begins, ends = _conv_transpose_geometry(node, nd)
    g = node.attrs.get("group", 1)
    if any(o >= max(si, di) for o, si, di in zip(op, s, d)):  # past what the layer allows: pad the far end instead
        _unsupported(node, f"output_padding {op} must be smaller than the stride {s} or the dilation {d}")
    if nd == 1:
        y = conv_transpose1d(x, w, b, s[0], 0, op[0], g, d[0])
    else:
        y = conv_transpose2d(x, w, b, tuple(s), 0, tuple(op), g, tuple(d))
    return _crop_spatial(y, begins, ends)


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
    B = x.shape[1]
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
