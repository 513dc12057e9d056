"""Transposed convolution: ``conv_transpose2d`` and ``conv_transpose1d``.

A convolution maps a large image to a smaller one; its *transpose* maps back,
which is how the decoder of a segmentation network or an autoencoder grows
feature maps again ("deconvolution", upsampling with learned filters). It is
exactly the input-gradient of a convolution: where a convolution with stride s
reads a window of the input for every output pixel, the transposed convolution
lets every input pixel *write* its weighted kernel into the output:

    y_full[n, o, h·sh + i·dh, w·sw + j·dw] += Σ_c x[n, c, h, w] · W[c, o, i, j]

then ``y = y_full`` without ``padding`` rows/columns on each side. The weight
has shape (in_channels, out_channels/groups, kh, kw), as in PyTorch, and the
output size per axis is

    H_out = (H − 1)·sh − 2·ph + dh·(kh − 1) + output_padding_h + 1.

``output_padding`` adds rows at the bottom (columns at the right): a strided
convolution maps several input sizes to the same output size, and it picks
which one the transpose returns.

How it is computed (one matrix product and col2im). For each group,

    cols = Wᵀ · X,   Wᵀ: (kh·kw·O/g, C/g),  X: (C/g, N·H·W)

gives every pixel's kernel contribution; ``_col2im`` adds the kh·kw slabs of
``cols`` into the output at their strided places (one strided add per kernel
offset). Backward is a plain convolution of ∂L/∂y with the same weights:
``_im2col`` copies the strided windows of ∂L/∂y_full into patches P
(kh·kw·O/g, N·H·W), and

    ∂L/∂X = W · P,   ∂L/∂W = X · Pᵀ,   ∂L/∂b = Σ_{n,p,q} ∂L/∂y.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..engine import Function, Tensor
from .conv import _pair
from .math import as_tensor

__all__ = ["conv_transpose2d", "conv_transpose1d", "conv_transpose_output_size", "conv_transpose2d_reference"]


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0,
                               dilation: int = 1) -> int:
    """Output length along one axis: (size − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _slab(k: int, d: int, s: int, n: int) -> slice:
    """The rows (or columns) of the full output that kernel offset k touches: k·d, k·d + s, ..., n of them."""
    return slice(k * d, k * d + s * (n - 1) + 1, s)


def _col2im(cols, out, stride: tuple, dilation: tuple) -> None:
    """Add the patches ``cols`` (g, kh, kw, O/g, N, H, W) into ``out`` (g, O/g, N, Hf, Wf) at their strided places.

    One strided add per kernel offset; each slab ``cols[:, i, j]`` is contiguous and already in ``out``'s
    axis order (channels, then batch), so the add moves whole rows of W values.
    """
    kh, kw = cols.shape[1:3]
    h, w = cols.shape[-2:]
    for i in range(kh):
        for j in range(kw):
            rows, columns = _slab(i, dilation[0], stride[0], h), _slab(j, dilation[1], stride[1], w)
            out[..., rows, columns] += cols[:, i, j]


def _im2col(a, kernel: tuple, stride: tuple, dilation: tuple, hw: tuple):
    """The gather that ``_col2im`` inverts: patches (g, kh, kw, O/g, N, H, W) read from ``a`` (g, O/g, N, Hf, Wf)."""
    xp = get_array_module(a)
    g, og, n = a.shape[:3]
    h, w = hw
    cols = xp.empty((g,) + kernel + (og, n, h, w), a.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows, columns = _slab(i, dilation[0], stride[0], h), _slab(j, dilation[1], stride[1], w)
            cols[:, i, j] = a[..., rows, columns]
    return cols


class ConvTranspose2d(Function):
    """y = crop(col2im(Wᵀ·X)) + b; backward is the convolution of ∂L/∂y (see the module docstring).

    Works per group on channel-major matrices: X (g, C/g, N·H·W) and Wᵀ (g, kh·kw·O/g, C/g), so the patches
    come out as (kernel offset, output channel, image, pixel) and every slab col2im adds is contiguous.
    Keeps X and Wᵀ for backward.
    """

    def __init__(self, stride: tuple, padding: tuple, output_padding: tuple, dilation: tuple, groups: int):
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.dilation, self.groups = dilation, groups

    def forward(self, x, w, b=None):
        xp = get_array_module(x)
        n, c, h, wd = x.shape
        g = self.groups
        cg, og = c // g, w.shape[1]
        kernel = tuple(w.shape[2:])
        (sh, sw), (ph, pw), (oph, opw), (dh, dw) = self.stride, self.padding, self.output_padding, self.dilation
        oh = conv_transpose_output_size(h, kernel[0], sh, ph, oph, dh)
        ow = conv_transpose_output_size(wd, kernel[1], sw, pw, opw, dw)
        xm = x.reshape(n, g, cg, h * wd).transpose(1, 2, 0, 3).reshape(g, cg, n * h * wd)
        wt = w.reshape((g, cg, og) + kernel).transpose(0, 3, 4, 2, 1).reshape(g, -1, cg)
        cols = xp.matmul(wt, xm).reshape((g,) + kernel + (og, n, h, wd))
        full = xp.zeros((g, og, n, oh + 2 * ph, ow + 2 * pw), x.dtype)
        _col2im(cols, full, self.stride, self.dilation)
        y = full[..., ph:ph + oh, pw:pw + ow].transpose(2, 0, 1, 3, 4).reshape(n, g * og, oh, ow)
        if b is not None:
            y = y + b.reshape(1, -1, 1, 1)
        self.xm, self.wt, self.kernel, self.in_shape = xm, wt, kernel, x.shape
        return xp.ascontiguousarray(y)

    def backward(self, gy):
        xp = get_array_module(gy)
        n, c, h, wd = self.in_shape
        g, (ph, pw) = self.groups, self.padding
        og, oh, ow = gy.shape[1] // g, gy.shape[2], gy.shape[3]
        full = xp.zeros((g, og, n, oh + 2 * ph, ow + 2 * pw), gy.dtype)
        full[..., ph:ph + oh, pw:pw + ow] = gy.reshape(n, g, og, oh, ow).transpose(1, 2, 0, 3, 4)
        cols = _im2col(full, self.kernel, self.stride, self.dilation, (h, wd)).reshape(g, -1, n * h * wd)
        gx = gw = gb = None
        if self.needs[0]:  # ∂L/∂X = W·P, back to (N, C, H, W)
            gx = xp.matmul(self.wt.transpose(0, 2, 1), cols).reshape(g, c // g, n, h, wd)
            gx = xp.ascontiguousarray(gx.transpose(2, 0, 1, 3, 4)).reshape(n, c, h, wd)
        if self.needs[1]:  # ∂L/∂W = X·Pᵀ, back to (C, O/g, kh, kw)
            gw = xp.matmul(self.xm, cols.transpose(0, 2, 1)).reshape((g, c // g) + self.kernel + (og,))
            gw = xp.ascontiguousarray(gw.transpose(0, 1, 4, 2, 3)).reshape((c, og) + self.kernel)
        if len(self.needs) > 2 and self.needs[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return (gx, gw) if len(self.needs) == 2 else (gx, gw, gb)

    def _describe_failure(self, inputs, err):
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        return f"conv_transpose2d: cannot apply to inputs of shapes {shapes}: {err}"


def _check(x: Tensor, w: Tensor, b, groups: int, op: str, nd: int) -> None:
    layout = "(N, C, H, W)" if nd == 2 else "(N, C, L)"
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D input {layout}, got shape {tuple(x.shape)}")
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight (in_channels, out_channels/groups, kernel...), "
                         f"got shape {tuple(w.shape)}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"{op}: input has {x.shape[1]} channels but the weight {tuple(w.shape)} expects "
                         f"{w.shape[0]} (its first axis is in_channels)")
    if x.shape[1] % groups:
        raise ValueError(f"{op}: in_channels {x.shape[1]} is not divisible by groups={groups}")
    o = w.shape[1] * groups
    if b is not None and tuple(b.shape) != (o,):
        raise ValueError(f"{op}: expected a bias of shape ({o},) (out_channels), got {tuple(b.shape)}")
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        dts = f"input {x.dtype}, weight {w.dtype}" + (f", bias {b.dtype}" if b is not None else "")
        raise TypeError(f"{op}: input, weight and bias must have the same dtype, got {dts}")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1,
                     dilation=1) -> Tensor:
    """2-D transposed convolution of an (N, C_in, H, W) input, as ``torch.nn.functional.conv_transpose2d``.

    ``weight`` has shape (C_in, C_out/groups, kh, kw). ``stride``, ``padding``,
    ``output_padding`` and ``dilation`` are ints or (h, w) pairs; output size per axis
    (H − 1)·s − 2p + d(k − 1) + output_padding + 1. ``output_padding`` must be smaller
    than the stride or the dilation.

    >>> import neurona
    >>> x = neurona.randn(2, 8, 4, 4)
    >>> w = neurona.randn(8, 3, 2, 2)
    >>> conv_transpose2d(x, w, stride=2).shape        # doubles the height and width
    neurona.Size([2, 3, 8, 8])
    """
    op = "conv_transpose2d"
    x, weight = as_tensor(input), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check(x, weight, bias, groups, op, 2)
    stride, dilation = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    padding, output_padding = _pair(padding, "padding", op), _pair(output_padding, "output_padding", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride and dilation must be positive, got stride {stride}, dilation {dilation}")
    if min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got {padding}, {output_padding}")
    for a in range(2):
        if output_padding[a] >= max(stride[a], dilation[a]):
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than either the stride "
                             f"{stride} or the dilation {dilation} along each axis")
    kernel = tuple(weight.shape[2:])
    size = [conv_transpose_output_size(x.shape[2 + a], kernel[a], stride[a], padding[a], output_padding[a],
                                       dilation[a]) for a in range(2)]
    if min(size) < 1:
        raise ValueError(f"{op}: input of spatial size {tuple(x.shape[2:])} with kernel {kernel}, stride {stride}, "
                         f"padding {padding} gives an empty output {tuple(size)}")
    fn = ConvTranspose2d(stride, padding, output_padding, dilation, int(groups))
    return fn(x, weight) if bias is None else fn(x, weight, bias)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1,
                     dilation=1) -> Tensor:
    """1-D transposed convolution of an (N, C_in, L) input with weights (C_in, C_out/groups, k), as
    ``torch.nn.functional.conv_transpose1d``; computed as a 2-D one over a height of 1.

    L_out = (L − 1)·s − 2p + d(k − 1) + output_padding + 1.
    """
    op = "conv_transpose1d"
    x, weight = as_tensor(input), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check(x, weight, bias, groups, op, 1)

    def one(v, name):
        if isinstance(v, (tuple, list)):
            if len(v) != 1:
                raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
            v = v[0]
        if not isinstance(v, (int, np.integer)):
            raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
        return int(v)

    n, c, length = x.shape
    y = conv_transpose2d(x.reshape(n, c, 1, length), weight.reshape(weight.shape[:2] + (1, weight.shape[2])), bias,
                         stride=(1, one(stride, "stride")), padding=(0, one(padding, "padding")),
                         output_padding=(0, one(output_padding, "output_padding")), groups=groups,
                         dilation=(1, one(dilation, "dilation")))
    return y.reshape(n, y.shape[1], y.shape[3])


def conv_transpose2d_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride=1, padding=0,
                               output_padding=0, groups: int = 1, dilation=1) -> np.ndarray:
    """Plain NumPy transposed convolution, one input pixel at a time (no autograd, for tests).

    Every input pixel (h, q) adds x[n, c, h, q]·W[c, o, :, :] into the output at
    rows h·sh + i·dh, columns q·sw + j·dw; then the padding is cropped.
    """
    op = "conv_transpose2d"
    (sh, sw), (ph, pw) = _pair(stride, "stride", op), _pair(padding, "padding", op)
    (oph, opw), (dh, dw) = _pair(output_padding, "output_padding", op), _pair(dilation, "dilation", op)
    n, c, h, wd = x.shape
    cg, og, kh, kw = w.shape[0] // groups, w.shape[1], w.shape[2], w.shape[3]
    oh = conv_transpose_output_size(h, kh, sh, ph, oph, dh)
    ow = conv_transpose_output_size(wd, kw, sw, pw, opw, dw)
    full = np.zeros((n, og * groups, oh + 2 * ph, ow + 2 * pw), np.result_type(x, w))
    for ci in range(c):
        gi = ci // cg
        for p in range(h):
            for q in range(wd):
                for i in range(kh):
                    for j in range(kw):
                        full[:, gi * og:(gi + 1) * og, p * sh + i * dh, q * sw + j * dw] += (
                            x[:, ci, p, q, None] * w[ci, :, i, j][None])
    y = full[:, :, ph:ph + oh, pw:pw + ow]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y
