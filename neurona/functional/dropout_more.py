"""Dropout variants: channel dropout for 1-D and 3-D feature maps, and alpha dropout for SELU networks.

- dropout1d / dropout3d: zero whole channels x[n, c] with probability p and
  scale the rest by 1/(1 − p), as ``dropout2d`` does for images.
- alpha_dropout: dropped units take SELU's saturation value α' = −λα instead
  of 0, and an affine map a·x + b restores zero mean and unit variance:
  a = ((1 − p)(1 + p·α'²))^(−1/2), b = −a·α'·p.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..engine import Tensor, _wrap
from .math import as_tensor

__all__ = ["dropout1d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

_SELU_SATURATION = -1.0507009873554804934193349852946 * 1.6732632423543772848170429916717  # −λα


def _channel_dropout(op: str, x, p: float, training: bool, spatial: int, generator) -> Tensor:
    from ..creation import _gen
    from .dropout import DropoutMask, _check_p

    x = as_tensor(x)
    p = _check_p(p, op)
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{op}: expected a {spatial + 2}-D input (N, C, ...) or a {spatial + 1}-D one (C, ...), "
                         f"got shape {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    mshape = tuple(x.shape[:-spatial]) + (1,) * spatial
    if p == 1.0:
        mask = np.zeros(mshape, x.dtype)
    else:
        mask = (_gen(generator).random(mshape) >= p).astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return DropoutMask(get_array_module(x.array).asarray(mask))(x)


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False, *, generator=None) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) with probability ``p``; the identity when not training."""
    return _channel_dropout("dropout1d", input, p, training, 1, generator)


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False, *, generator=None) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability ``p``."""
    return _channel_dropout("dropout3d", input, p, training, 3, generator)


def _alpha(op: str, input, p: float, training: bool, mshape_of, generator) -> Tensor:
    from ..creation import _gen
    from .dropout import _check_p

    x = as_tensor(input)
    p = _check_p(p, op)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0
    keep = (_gen(generator).random(mshape_of(x)) >= p).astype(x.dtype)
    a = ((1 - p) * (1 + p * _SELU_SATURATION ** 2)) ** -0.5
    b = -a * _SELU_SATURATION * p
    xp = get_array_module(x.array)
    keep_t = _wrap(xp.asarray(keep * a))
    shift = _wrap(xp.asarray((1 - keep) * (a * _SELU_SATURATION) + b).astype(x.dtype))
    return x * keep_t + shift


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False, *, generator=None) -> Tensor:
    """Dropout that keeps a SELU network's activations at zero mean and unit variance (self-normalizing nets)."""
    return _alpha("alpha_dropout", input, p, training, lambda x: tuple(x.shape), generator)


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False, *,
                          generator=None) -> Tensor:
    """Alpha dropout of whole channels of (N, C, *)."""
    return _alpha("feature_alpha_dropout", input, p, training,
                  lambda x: tuple(x.shape[:2]) + (1,) * (x.ndim - 2), generator)
