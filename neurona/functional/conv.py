"""Convolution: ``conv2d`` and ``conv1d``, the reference op written as im2col and one matrix product.

The notes' convolutional layer slides a filter (kernel) of size M x N over the
image with a stride and zero padding. For an input x of shape (N, C, H, W) and
weights w of shape (O, C/groups, kh, kw), output channel o at position (p, q) is

    y[n, o, p, q] = b[o] + Σ_c Σ_i Σ_j  w[o, c, i, j] · x_pad[n, c, p·sh + i·dh, q·sw + j·dw]

(the c sum runs over the input channels of o's group). This is a
cross-correlation, as in PyTorch and every deep-learning library.

How it is computed (im2col + one matrix product). The windows of the padded
input are copied into a matrix of *patches* ("columns"), one row per output
position, and the whole layer becomes one product with the weights reshaped
to a matrix:

    Y = cols · Wᵀ,   cols: (N·OH·OW, C·kh·kw),  W: (O, C·kh·kw)

Backward is the chain rule through that product:

    ∂L/∂W    = ∂L/∂Yᵀ · cols
    ∂L/∂b    = Σ_{n,p,q} ∂L/∂Y
    ∂L/∂x    = col2im(∂L/∂Y · W)      (each patch entry adds back into the pixel it was copied from)

col2im adds one strided slab per kernel offset (i, j). Backward builds the
patches again from the input rather than keeping them (kh·kw times the
input's size).

This op returns C-contiguous NCHW and reads any strides. Two fast
strategies compute the same op, ``neurona.kernels.conv_batch_last`` (few
channels) and ``neurona.kernels.conv_channels_last`` (16 or more), and hand
on the memory order they compute in (see "Memory layout" in
CONTRIBUTING.md); ``conv2d`` picks one with ``neurona.kernels.conv2d_strategy``
and ``lookup``. ``conv2d_reference`` is an independent plain implementation
(one einsum per kernel offset) that the tests compare all three with.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..backend import get_array_module
from ..engine import Function, Tensor, is_grad_enabled
from .math import as_tensor

__all__ = ["conv2d", "conv1d", "conv2d_reference", "conv_output_size"]


def _pair(v, name: str, op: str) -> tuple:
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(a, (int, np.integer)) for a in v):
        return (int(v[0]), int(v[1]))
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")


def conv_output_size(size: int, kernel: int, stride: int = 1, pad_before: int = 0, pad_after: int = 0,
                     dilation: int = 1) -> int:
    """Output length along one axis: ⌊(size + pads − dilation·(kernel − 1) − 1) / stride⌋ + 1."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def _padding4(padding, kernel: tuple, stride: tuple, dilation: tuple, op: str) -> tuple:
    """(top, bottom, left, right) from an int, a pair, a 4-tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1 (as in PyTorch), got stride {stride}")
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]  # an odd total puts the extra row/column after
            return tuple(out)
        raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        pads = tuple(int(p) for p in padding)
    else:
        ph, pw = _pair(padding, "padding", op)
        pads = (ph, ph, pw, pw)
    if min(pads) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return pads


def _windows(xp, xpad, kernel: tuple, stride: tuple, dilation: tuple, out_hw: tuple):
    """The (N, C, OH, OW, kh, kw) windows of the padded input: a view, no copy."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    sn, sc, sy, sx = xpad.strides
    return xp.lib.stride_tricks.as_strided(xpad, (xpad.shape[0], xpad.shape[1], oh, ow, kh, kw),
                                           (sn, sc, sy * sh, sx * sw, sy * dh, sx * dw), writeable=False)


class Conv2d(Function):
    """2-D convolution, y = im2col(x) · Wᵀ + b per group; see the module docstring. Keeps the padded input and W."""

    def __init__(self, stride: tuple, pads: tuple, dilation: tuple, groups: int, input_grad: bool = True,
                 weight_grad: bool = True):
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        # which gradients backward will be asked for (a fast strategy keeps only what they need)
        self.input_grad, self.weight_grad = input_grad, weight_grad

    def _geometry(self, x, w):
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        t, bt, l, r = self.pads
        oh = conv_output_size(h, kh, self.stride[0], t, bt, self.dilation[0])
        ow = conv_output_size(wd, kw, self.stride[1], l, r, self.dilation[1])
        return n, c, h, wd, o, cg, kh, kw, oh, ow

    def _cols(self, xp, xpad, kh, kw, oh, ow):
        """The patches, (G, N·OH·OW, C/G·kh·kw): rows are output positions (n, p, q), columns (c, i, j)."""
        n, c = xpad.shape[:2]
        g = self.groups
        win = _windows(xp, xpad, (kh, kw), self.stride, self.dilation, (oh, ow))       # (N, C, OH, OW, kh, kw)
        win = win.reshape(n, g, c // g, oh, ow, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6)  # (G, N, OH, OW, C/G, kh, kw)
        return win.reshape(g, n * oh * ow, c // g * kh * kw)                           # the im2col copy

    def forward(self, x, w, b=None):
        xp = get_array_module(x)
        n, c, h, wd, o, cg, kh, kw, oh, ow = self._geometry(x, w)
        t, bt, l, r = self.pads
        g = self.groups
        xpad = xp.pad(x, ((0, 0), (0, 0), (t, bt), (l, r))) if any(self.pads) else x
        cols = self._cols(xp, xpad, kh, kw, oh, ow)
        wmat = w.reshape(g, o // g, cg * kh * kw)
        y = xp.matmul(cols, wmat.transpose(0, 2, 1))                         # Y = cols · Wᵀ, (G, N·OH·OW, O/G)
        y = y.reshape(g, n, oh, ow, o // g).transpose(1, 0, 4, 2, 3).reshape(n, o, oh, ow)
        y = xp.ascontiguousarray(y)
        if b is not None:
            y += b.reshape(1, o, 1, 1)
        self.xpad, self.w, self.in_shape = xpad, w, x.shape
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        xpad, w = self.xpad, self.w
        n, c, h, wd = self.in_shape
        o, cg, kh, kw = w.shape
        oh, ow = gy.shape[2:]
        g = self.groups
        (sh, sw), (dh, dw) = self.stride, self.dilation
        gy2 = gy.reshape(n, g, o // g, oh, ow).transpose(1, 0, 3, 4, 2).reshape(g, n * oh * ow, o // g)
        gx = gw = gb = None
        if self.needs[1]:
            cols = self._cols(xp, xpad, kh, kw, oh, ow)                      # built again from the input
            gw = xp.matmul(gy2.transpose(0, 2, 1), cols).reshape(o, cg, kh, kw)   # ∂L/∂W = ∂L/∂Yᵀ · cols
        if len(self.needs) > 2 and self.needs[2]:
            gb = gy.sum(axis=(0, 2, 3))                                      # ∂L/∂b = Σ ∂L/∂Y
        if self.needs[0]:
            gcols = xp.matmul(gy2, w.reshape(g, o // g, cg * kh * kw))       # ∂L/∂cols = ∂L/∂Y · W
            gcols = gcols.reshape(g, n, oh, ow, cg, kh, kw).transpose(1, 0, 4, 2, 3, 5, 6).reshape(
                n, c, oh, ow, kh, kw)
            gpad = xp.zeros(xpad.shape, gy.dtype)
            hi, wi = sh * (oh - 1) + 1, sw * (ow - 1) + 1
            for i in range(kh):                                              # col2im: one slab per kernel offset
                for j in range(kw):
                    gpad[:, :, i * dh:i * dh + hi:sh, j * dw:j * dw + wi:sw] += gcols[..., i, j]
            t, bt, l, r = self.pads
            gx = xp.ascontiguousarray(gpad[:, :, t:t + h, l:l + wd]) if any(self.pads) else gpad
        return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)

    def _describe_failure(self, inputs, err):
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        return f"conv2d: cannot convolve inputs of shapes {shapes}: {err}"


# --- padding modes other than zeros ------------------------------------------------------


class PadMode(Function):
    """Reflect / replicate / circular padding of the last two axes (the ``padding_mode`` of Conv2d).

    Forward is ``numpy.pad``; every padded pixel is a copy of some input pixel,
    so backward adds each output gradient back into the pixel it copied. The
    map from output to input pixel is found by padding an array of indices.
    """

    _NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

    def __init__(self, pads: tuple, mode: str):
        self.pads, self.mode = pads, mode

    def forward(self, x):
        xp = get_array_module(x)
        t, b, l, r = self.pads
        width = ((0, 0),) * (x.ndim - 2) + ((t, b), (l, r))
        self.in_shape = x.shape
        return xp.pad(x, width, mode=self._NP_MODE[self.mode])

    def backward(self, gy):
        xp = get_array_module(gy)
        t, b, l, r = self.pads
        h, w = self.in_shape[-2:]
        src = xp.pad(xp.arange(h * w).reshape(h, w), ((t, b), (l, r)), mode=self._NP_MODE[self.mode]).reshape(-1)
        lead = int(np.prod(self.in_shape[:-2]))
        gx = xp.zeros((lead, h * w), gy.dtype)
        xp.add.at(gx, (slice(None), src), gy.reshape(lead, -1))
        return gx.reshape(self.in_shape)

    def _describe_failure(self, inputs, err):
        return f"pad (mode {self.mode!r}): cannot pad shape {tuple(inputs[0].shape)} by {self.pads}: {err}"


def pad_mode(x, pads: tuple, mode: str) -> Tensor:
    """Pad the last two axes by (top, bottom, left, right) with 'zeros', 'reflect', 'replicate' or 'circular'."""
    x = as_tensor(x)
    pads = tuple(int(p) for p in pads)
    if not any(pads):
        return x
    if mode == "zeros":
        from .shape import pad
        t, b, l, r = pads
        return pad(x, (l, r, t, b))
    if mode not in PadMode._NP_MODE:
        raise ValueError(f"pad: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got {mode!r}")
    h, w = x.shape[-2:]
    if mode == "reflect" and (max(pads[:2]) >= h or max(pads[2:]) >= w):
        raise ValueError(f"pad: reflect padding {pads} must be smaller than the input size ({h}, {w})")
    if mode == "circular" and (max(pads[:2]) > h or max(pads[2:]) > w):
        raise ValueError(f"pad: circular padding {pads} must not exceed the input size ({h}, {w})")
    return PadMode(pads, mode)(x)


# --- public functions ------------------------------------------------------------------


def _check_conv(x: Tensor, w: Tensor, b, groups: int, op: str, nd: int) -> None:
    if x.ndim != nd + 2:
        layout = "(N, C, H, W)" if nd == 2 else "(N, C, L)"
        raise ValueError(f"{op}: expected a {nd + 2}-D input {layout}, got shape {tuple(x.shape)}")
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight (out_channels, in_channels/groups, kernel...), "
                         f"got shape {tuple(w.shape)}")
    if groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups}")
    c, o, cg = x.shape[1], w.shape[0], w.shape[1]
    if c != cg * groups:
        raise ValueError(f"{op}: input has {c} channels but the weight {tuple(w.shape)} with groups={groups} "
                         f"expects {cg * groups}")
    if o % groups:
        raise ValueError(f"{op}: out_channels {o} is not divisible by groups={groups}")
    if b is not None and tuple(b.shape) != (o,):
        raise ValueError(f"{op}: expected a bias of shape ({o},), got {tuple(b.shape)}")
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        dts = f"input {x.dtype}, weight {w.dtype}" + (f", bias {b.dtype}" if b is not None else "")
        raise TypeError(f"{op}: input, weight and bias must have the same dtype, got {dts}")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of an (N, C, H, W) input, as ``torch.nn.functional.conv2d``.

    ``weight`` has shape (out_channels, in_channels/groups, kh, kw). ``stride``,
    ``padding`` and ``dilation`` are ints or (h, w) pairs; ``padding`` may also
    be 'valid' (none) or 'same' (output as large as the input, stride 1).
    Output size per axis: ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1.

    >>> import neurona
    >>> x = neurona.randn(2, 3, 8, 8)
    >>> w = neurona.randn(4, 3, 3, 3)
    >>> conv2d(x, w, padding=1).shape
    (2, 4, 8, 8)
    """
    x, weight = as_tensor(x), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check_conv(x, weight, bias, groups, "conv2d", 2)
    stride = _pair(stride, "stride", "conv2d")
    dilation = _pair(dilation, "dilation", "conv2d")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"conv2d: stride and dilation must be positive, got stride {stride}, dilation {dilation}")
    kernel = tuple(weight.shape[2:])
    pads = _padding4(padding, kernel, stride, dilation, "conv2d")
    h, w = x.shape[2:]
    oh = conv_output_size(h, kernel[0], stride[0], pads[0], pads[1], dilation[0])
    ow = conv_output_size(w, kernel[1], stride[1], pads[2], pads[3], dilation[1])
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: input of spatial size ({h}, {w}) with padding {pads} is smaller than the "
                         f"(dilated) kernel {kernel} (dilation {dilation}); the output would be ({oh}, {ow})")
    op = kernels.lookup(kernels.conv2d_strategy(x.array, weight.array, groups), x.array, weight.array) or Conv2d
    grad = is_grad_enabled()
    fn = op(stride, pads, dilation, groups, x.requires_grad and grad, weight.requires_grad and grad)
    return fn(x, weight) if bias is None else fn(x, weight, bias)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution of an (N, C, L) input with weights (out_channels, in_channels/groups, k).

    Computed as a 2-D convolution over a height of 1;
    L_out = ⌊(L + 2p − d(k − 1) − 1)/s⌋ + 1. ``padding`` may be 'same' or 'valid'.
    """
    x, weight = as_tensor(x), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check_conv(x, weight, bias, groups, "conv1d", 1)

    def one(v, name):
        if isinstance(v, (tuple, list)):
            if len(v) != 1:
                raise TypeError(f"conv1d: {name} must be an int or a 1-tuple, got {v!r}")
            v = v[0]
        return int(v)

    stride, dilation = one(stride, "stride"), one(dilation, "dilation")
    if isinstance(padding, str):
        pad2 = padding
    else:
        pad2 = (0, one(padding, "padding"))
    k = weight.shape[2]
    n, c, length = x.shape
    if not isinstance(pad2, str) and conv_output_size(length, k, stride, pad2[1], pad2[1], dilation) < 1:
        raise ValueError(f"conv1d: input of length {length} with padding {pad2[1]} is shorter than the "
                         f"(dilated) kernel of size {k} (dilation {dilation})")
    y = conv2d(x.reshape(n, c, 1, length), weight.reshape(weight.shape[0], weight.shape[1], 1, k), bias,
               stride=(1, stride), padding=pad2, dilation=(1, dilation), groups=groups)
    return y.reshape(n, y.shape[1], y.shape[3])


def conv2d_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride=1, padding=0,
                     dilation=1, groups: int = 1) -> np.ndarray:
    """Plain NumPy convolution straight from the definition (no autograd, for tests).

    One einsum per group and kernel offset (i, j):
    y[n, o, p, q] += Σ_c w[o, c, i, j] · x_pad[n, c, p·sh + i·dh, q·sw + j·dw].
    """
    stride, dilation = _pair(stride, "stride", "conv2d"), _pair(dilation, "dilation", "conv2d")
    kh, kw = w.shape[2:]
    t, bt, l, r = _padding4(padding, (kh, kw), stride, dilation, "conv2d")
    xp = get_array_module(x)
    xpad = xp.pad(x, ((0, 0), (0, 0), (t, bt), (l, r)))
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    og = o // groups
    oh = conv_output_size(x.shape[2], kh, stride[0], t, bt, dilation[0])
    ow = conv_output_size(x.shape[3], kw, stride[1], l, r, dilation[1])
    y = xp.zeros((n, o, oh, ow), np.result_type(x.dtype, w.dtype))
    for gi in range(groups):
        xs = xpad[:, gi * cg:(gi + 1) * cg]
        ws = w[gi * og:(gi + 1) * og]
        for i in range(kh):
            for j in range(kw):
                hs, vs = i * dilation[0], j * dilation[1]
                patch = xs[:, :, hs:hs + stride[0] * (oh - 1) + 1:stride[0], vs:vs + stride[1] * (ow - 1) + 1:stride[1]]
                y[:, gi * og:(gi + 1) * og] += xp.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y
