"""Sliding blocks and pixel rearrangements: ``unfold`` (im2col), ``fold`` (col2im), ``pixel_shuffle``,
``pixel_unshuffle``, ``max_unpool1d``/``max_unpool2d``.

``unfold`` takes, for every position of a kernel sliding over (N, C, H, W),
the C·kh·kw values under it: (N, C·kh·kw, L), L the number of positions. A
convolution is then one matrix product with the kernel as a matrix.
``fold`` is its adjoint: it puts blocks back, summing where they overlap, so
``fold(unfold(x))`` is x times how many blocks cover each pixel.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..engine import Function, Tensor, _wrap
from .math import as_tensor

__all__ = ["unfold", "fold", "pixel_shuffle", "pixel_unshuffle", "max_unpool1d", "max_unpool2d"]


def _pair(v, name: str, op: str) -> tuple[int, int]:
    t = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair, got {v!r}")
    return int(t[0]), int(t[1])


def _grid(size, kernel, dilation, padding, stride, op: str):
    """Row and column indices (into the padded input) of every kernel tap at every block position."""
    (H, W), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = size, kernel, dilation, padding, stride
    oh = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{op}: a kernel {kernel} with dilation {dilation} does not fit an input of spatial size "
                         f"{size} padded by {padding}")
    rows = (np.arange(kh) * dh)[:, None, None, None] + (np.arange(oh) * sh)[None, None, :, None]
    cols = (np.arange(kw) * dw)[None, :, None, None] + (np.arange(ow) * sw)[None, None, None, :]
    return rows, cols, oh, ow


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """The blocks under a sliding kernel, (N, C, H, W) → (N, C·kh·kw, L) (PyTorch's ``F.unfold``, im2col).

    >>> import neurona
    >>> neurona.nn.functional.unfold(neurona.ones(1, 2, 4, 4), 2).shape
    neurona.Size([1, 8, 9])
    """
    x = as_tensor(input)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    if x.ndim != 4:
        raise ValueError(f"unfold: expected a 4-D input (N, C, H, W) or a 3-D one, got shape {tuple(input.shape)}")
    k, d = _pair(kernel_size, "kernel_size", "unfold"), _pair(dilation, "dilation", "unfold")
    p, s = _pair(padding, "padding", "unfold"), _pair(stride, "stride", "unfold")
    N, C, H, W = x.shape
    rows, cols, oh, ow = _grid((H, W), k, d, p, s, "unfold")
    if p != (0, 0):
        from .shape import pad
        x = pad(x, (p[1], p[1], p[0], p[0]))
    blocks = x[:, :, _wrap(rows), _wrap(cols)]  # (N, C, kh, kw, oh, ow)
    out = blocks.reshape(N, C * k[0] * k[1], oh * ow)
    return out.squeeze(0) if unbatched else out


class Fold(Function):
    """Sum blocks (N, C·kh·kw, L) back into (N, C, H, W): the adjoint of unfold, whose gather is its backward."""

    def __init__(self, C, size, kernel, rows, cols, padding):
        self.C, self.size, self.kernel, self.rows, self.cols, self.padding = C, size, kernel, rows, cols, padding

    def forward(self, cols):
        xp = get_array_module(cols)
        N = cols.shape[0]
        (H, W), (ph, pw), (kh, kw) = self.size, self.padding, self.kernel
        oh, ow = self.rows.shape[2], self.cols.shape[3]
        out = xp.zeros((N, self.C, H + 2 * ph, W + 2 * pw), cols.dtype)
        blocks = cols.reshape(N, self.C, kh, kw, oh, ow)
        r = np.broadcast_to(self.rows, (kh, kw, oh, ow))
        c = np.broadcast_to(self.cols, (kh, kw, oh, ow))
        xp.add.at(out, (slice(None), slice(None), r, c), blocks)
        return out[:, :, ph:ph + H, pw:pw + W]

    def backward(self, gy):
        (ph, pw) = self.padding
        g = get_array_module(gy).pad(gy, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else gy
        blocks = g[:, :, self.rows, self.cols]
        return blocks.reshape(gy.shape[0], -1, blocks.shape[-2] * blocks.shape[-1])


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Blocks (N, C·kh·kw, L) summed back into (N, C, H, W), ``output_size`` = (H, W) (PyTorch's ``F.fold``)."""
    x = as_tensor(input)
    unbatched = x.ndim == 2
    if unbatched:
        x = x.unsqueeze(0)
    if x.ndim != 3:
        raise ValueError(f"fold: expected a 3-D input (N, C·kh·kw, L) or a 2-D one, got shape {tuple(input.shape)}")
    size = _pair(output_size, "output_size", "fold")
    k, d = _pair(kernel_size, "kernel_size", "fold"), _pair(dilation, "dilation", "fold")
    p, s = _pair(padding, "padding", "fold"), _pair(stride, "stride", "fold")
    rows, cols, oh, ow = _grid(size, k, d, p, s, "fold")
    if x.shape[1] % (k[0] * k[1]):
        raise ValueError(f"fold: dimension 1 of the input ({x.shape[1]}) must be divisible by the kernel's "
                         f"{k[0]}·{k[1]} taps")
    if x.shape[2] != oh * ow:
        raise ValueError(f"fold: the input has {x.shape[2]} blocks, an output of size {size} with these settings "
                         f"holds {oh}·{ow} = {oh * ow}")
    out = Fold(x.shape[1] // (k[0] * k[1]), size, k, rows, cols, p)(x)
    return out.squeeze(0) if unbatched else out


def pixel_shuffle(input, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) → (*, C, H·r, W·r): sub-pixel convolution's rearrangement (PyTorch's ``F.pixel_shuffle``)."""
    x = as_tensor(input)
    r = int(upscale_factor)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expected (*, C·{r}², H, W), got shape {tuple(x.shape)}")
    *lead, C, H, W = x.shape
    c = C // (r * r)
    y = x.reshape(*lead, c, r, r, H, W)
    n = len(lead)
    y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(*lead, c, H * r, W * r)


def pixel_unshuffle(input, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) → (*, C·r², H, W): the inverse of :func:`pixel_shuffle`."""
    x = as_tensor(input)
    r = int(downscale_factor)
    if x.ndim < 3 or x.shape[-1] % r or x.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: expected (*, C, H·{r}, W·{r}), got shape {tuple(x.shape)}")
    *lead, C, H, W = x.shape
    y = x.reshape(*lead, C, H // r, r, W // r, r)
    n = len(lead)
    y = y.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return y.reshape(*lead, C * r * r, H // r, W // r)


def _unpool(op: str, x, indices, spatial: tuple[int, ...]) -> Tensor:
    from .indexing import scatter

    lead = tuple(x.shape[:-len(spatial)])
    idx = indices if isinstance(indices, Tensor) else _wrap(np.asarray(indices))
    if tuple(idx.shape) != tuple(x.shape):
        raise ValueError(f"{op}: indices have shape {tuple(idx.shape)}, the input {tuple(x.shape)}; pass the "
                         f"indices the pooling returned with return_indices=True")
    n = int(np.prod(spatial))
    if idx.numel() and (int(idx.array.max()) >= n or int(idx.array.min()) < 0):
        raise ValueError(f"{op}: an index is out of range for an output of spatial size {spatial}")
    flat_x = x.reshape(*lead, -1)
    zeros = _wrap(get_array_module(x.array).zeros(lead + (n,), x.dtype))
    return scatter(zeros, len(lead), idx.reshape(*lead, -1), flat_x).reshape(*lead, *spatial)


def _unpool_size(op, in_size, kernel, stride, padding, output_size, nd):
    if output_size is not None:
        size = tuple(int(s) for s in output_size)[-nd:]
        return size
    return tuple((i - 1) * s - 2 * p + k for i, k, s, p in zip(in_size, kernel, stride, padding))


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Put each pooled maximum back where ``max_pool2d(..., return_indices=True)`` found it; zeros elsewhere."""
    x = as_tensor(input)
    k = _pair(kernel_size, "kernel_size", "max_unpool2d")
    s = k if stride is None else _pair(stride, "stride", "max_unpool2d")
    p = _pair(padding, "padding", "max_unpool2d")
    size = _unpool_size("max_unpool2d", tuple(x.shape[-2:]), k, s, p, output_size, 2)
    return _unpool("max_unpool2d", x, indices, size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The 1-D form of :func:`max_unpool2d`, for (N, C, L) or (C, L)."""
    x = as_tensor(input)
    k = (int(kernel_size if isinstance(kernel_size, int) else kernel_size[0]),)
    s = k if stride is None else (int(stride if isinstance(stride, int) else stride[0]),)
    p = (int(padding if isinstance(padding, int) else padding[0]),)
    size = _unpool_size("max_unpool1d", tuple(x.shape[-1:]), k, s, p, output_size, 1)
    return _unpool("max_unpool1d", x, indices, size)
