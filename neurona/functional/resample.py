"""Resizing images and signals: ``interpolate`` (PyTorch's ``F.interpolate``) and ``upsample``.

Every mode is separable: resizing an (N, C, H, W) batch is resizing H and
then W, each a fixed linear map from n_in to n_out positions. ``nearest``
picks one input position per output (an ``index_select``); ``linear``,
``bicubic`` and ``area`` multiply by an (n_out, n_in) weight matrix, whose
transpose carries the gradient back. The positions are PyTorch's:

- align_corners=False: output pixel j samples input coordinate s·(j + ½) - ½
  (clamped at 0 for linear), with s = n_in / n_out, or 1/scale_factor when
  that was given;
- align_corners=True: s = (n_in - 1)/(n_out - 1) and coordinate s·j, so the
  corner pixels line up;
- bicubic uses the cubic convolution kernel with a = -0.75 and repeats the
  border pixels; area averages the input cells each output cell covers.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_array_module
from ..engine import Tensor
from .math import as_tensor, matmul

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_MODES = {"nearest": None, "nearest-exact": None, "area": None, "linear": 3, "bilinear": 4, "bicubic": 4,
          "trilinear": 5}


def _scale(n_in: int, n_out: int, align_corners: bool, scale) -> float:
    """Input positions per output position (PyTorch's area_pixel_compute_scale)."""
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else n_in / n_out


def _nearest_index(xp, n_in: int, n_out: int, scale, exact: bool):
    # PyTorch computes these positions in single precision: so do we, for the same picks at the boundaries
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in) / np.float32(n_out)
    j = xp.arange(n_out, dtype=np.float32)
    src = xp.floor((j + np.float32(0.5)) * s if exact else j * s).astype(np.int64)
    return xp.minimum(src, n_in - 1)


def _spread(xp, n_in: int, n_out: int, neighbours, weights):
    """The (n_out, n_in) matrix with ``weights[:, k]`` at column ``neighbours[:, k]`` of each row (repeats add)."""
    w = xp.zeros((n_out, n_in))
    rows = xp.arange(n_out)
    for k in range(neighbours.shape[1]):
        xp.add.at(w, (rows, neighbours[:, k]), weights[:, k])
    return w


def _linear_weights(xp, n_in: int, n_out: int, align_corners: bool, scale):
    s = _scale(n_in, n_out, align_corners, scale)
    j = xp.arange(n_out, dtype=np.float64)
    src = s * j if align_corners else xp.maximum(s * (j + 0.5) - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(np.int64), n_in - 1)
    i1 = xp.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    return _spread(xp, n_in, n_out, xp.stack([i0, i1], axis=1), xp.stack([1 - lam, lam], axis=1))


def _cubic(t, a: float = -0.75):
    """The cubic convolution weights of the four neighbours at offsets -1, 0, 1, 2 from a fraction t."""
    def near(x):  # |x| ≤ 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return get_array_module(t).stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)


def _cubic_weights(xp, n_in: int, n_out: int, align_corners: bool, scale):
    s = _scale(n_in, n_out, align_corners, scale)
    j = xp.arange(n_out, dtype=np.float64)
    src = s * j if align_corners else s * (j + 0.5) - 0.5
    i = xp.floor(src).astype(np.int64)
    neighbours = xp.clip(i[:, None] - 1 + xp.arange(4), 0, n_in - 1)  # beyond the border: the border pixel again
    return _spread(xp, n_in, n_out, neighbours, _cubic(src - i))


def _area_weights(xp, n_in: int, n_out: int):
    o = xp.arange(n_out)
    start, end = (o * n_in) // n_out, -((-(o + 1) * n_in) // n_out)
    cols = xp.arange(n_in)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return inside / (end - start)[:, None]


def _along(x: Tensor, axis: int, weights) -> Tensor:
    """Apply an (n_out, n_in) matrix along ``axis``: y[..., o, ...] = Σ_i W[o, i] x[..., i, ...]."""
    from .layout import movedim
    w = Tensor(weights.T, dtype=x.array.dtype)
    return movedim(matmul(movedim(x, axis, -1), w), -1, axis)


def _sizes(x: Tensor, size, scale_factor, n: int) -> tuple:
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        out = (size,) * n if isinstance(size, (int, np.integer)) else tuple(size)
        if len(out) != n:
            raise ValueError(f"interpolate: size {size} has {len(out)} entries, the input {x.shape} has {n} spatial "
                             f"dimensions")
        return tuple(int(v) for v in out), (None,) * n
    scales = (scale_factor,) * n if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(scales) != n:
        raise ValueError(f"interpolate: scale_factor {scale_factor} has {len(scales)} entries, the input {x.shape} "
                         f"has {n} spatial dimensions")
    out = tuple(int(math.floor(float(x.shape[2 + k]) * float(scales[k]))) for k in range(n))
    return out, tuple(float(s) for s in scales)


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize the spatial dimensions of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) tensor.

    ``size`` (an int or one per dimension) or ``scale_factor`` gives the new
    size (floor(n · scale)). Modes: 'nearest', 'nearest-exact', 'linear'
    (3-D), 'bilinear' and 'bicubic' (4-D), 'trilinear' (5-D), 'area'.

    >>> import neurona
    >>> import neurona.nn.functional as F
    >>> F.interpolate(neurona.tensor([[[1.0, 2.0]]]), scale_factor=2, mode="linear")
    tensor([[[1.  , 1.25, 1.75, 2.  ]]])
    """
    x = as_tensor(input)
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, spatial...), got shape {x.shape}")
    if _MODES[mode] is not None and x.ndim != _MODES[mode]:
        raise ValueError(f"interpolate: mode {mode!r} needs a {_MODES[mode]}-D input, got shape {x.shape}")
    if align_corners is not None and _MODES[mode] is None:
        raise ValueError("interpolate: align_corners can only be set with the interpolating modes "
                         "linear, bilinear, bicubic and trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if x.array.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating-point input, got {x.dtype}")
    n = x.ndim - 2
    out_size, scales = _sizes(x, size, scale_factor, n)
    if recompute_scale_factor:
        scales = (None,) * n
    corners = bool(align_corners)
    from .indexing import index_select
    xp = get_array_module(x.array)
    y = x
    for k in range(n):
        axis, n_in, n_out = 2 + k, x.shape[2 + k], out_size[k]
        if n_out < 1:
            raise ValueError(f"interpolate: output size {out_size} must be positive")
        if mode == "nearest" and n_out % n_in == 0 and scales[k] in (None, n_out // n_in):
            from .layout import RepeatInterleave
            y = RepeatInterleave(n_out // n_in, axis)(y)  # a whole factor: each input repeated, gradient summed back
        elif mode in ("nearest", "nearest-exact"):
            y = index_select(y, axis, _nearest_index(xp, n_in, n_out, scales[k], mode == "nearest-exact"))
        elif mode == "area":
            y = _along(y, axis, _area_weights(xp, n_in, n_out))
        elif mode == "bicubic":
            y = _along(y, axis, _cubic_weights(xp, n_in, n_out, corners, scales[k]))
        else:
            y = _along(y, axis, _linear_weights(xp, n_in, n_out, corners, scales[k]))
    return y


def upsample(input, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None) -> Tensor:
    """``interpolate`` under its older name."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None) -> Tensor:
    """Bilinear resizing with aligned corners (what this older name always did)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
