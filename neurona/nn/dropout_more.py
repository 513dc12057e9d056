"""``Dropout1d``, ``Dropout3d``, ``AlphaDropout``, ``FeatureAlphaDropout``: dropout layers beyond ``Dropout`` and
``Dropout2d``, over :mod:`neurona.functional.dropout_more`. Each is the identity in ``eval()``."""
from __future__ import annotations

from ..engine import Tensor
from ..functional import dropout_more as F
from ..functional.dropout import _check_p
from .module import Module

__all__ = ["Dropout1d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    _fn = None

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = _check_p(p, type(self).__name__)
        self.inplace = bool(inplace)  # accepted for PyTorch compatibility; the result is always a new tensor

    def forward(self, x: Tensor) -> Tensor:
        return type(self)._fn(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) with probability ``p`` in training, scaling the rest."""

    _fn = staticmethod(F.dropout1d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability ``p`` in training."""

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance (dropped units take SELU's saturation value)."""

    _fn = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels."""

    _fn = staticmethod(F.feature_alpha_dropout)
