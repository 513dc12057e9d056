"""``GroupNorm``, ``InstanceNorm1d/2d/3d`` and ``LocalResponseNorm`` (PyTorch's names, defaults and
state_dict keys) over :mod:`neurona.functional.normalization_more`."""
from __future__ import annotations

from ..engine import Tensor
from ..functional.normalization_more import group_norm, instance_norm, local_response_norm
from . import init
from .module import Module
from .normalization import _affine, _dtype, _per_channel_state

__all__ = ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm"]


class GroupNorm(Module):
    """Normalize ``num_groups`` groups of channels of each sample of (N, C, *), then y = γ_c x̂ + β_c.

    Unlike batch norm it does not depend on the batch, so it works with
    batches of one. γ (ones) and β (zeros) have shape (C,) when ``affine``.

    >>> import neurona
    >>> neurona.nn.GroupNorm(2, 4)(neurona.randn(1, 4, 5, 5)).shape
    neurona.Size([1, 4, 5, 5])
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = float(eps), bool(affine)
        d = _dtype(dtype)
        _affine(self, self.num_channels if affine else None, d)

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected an input (N, {self.num_channels}, *), got shape {x.shape}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(Module):
    _spatial = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, dtype=None):
        super().__init__()
        _per_channel_state(self, num_features, eps, momentum, affine, track_running_stats, dtype)

    def forward(self, x: Tensor) -> Tensor:
        name, s = type(self).__name__, self._spatial
        if x.ndim not in (s + 1, s + 2):
            raise ValueError(f"{name}: expected an input (N, C, ...) of {s + 2} dimensions or an unbatched one of "
                             f"{s + 1}, got shape {x.shape}")
        unbatched = x.ndim == s + 1
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError(f"{name}: expected {self.num_features} channels, got input of shape {x.shape}")
        use_input_stats = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
        track = self.track_running_stats
        y = instance_norm(x, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_input_stats, self.momentum if self.momentum is not None
                          else 0.1, self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Normalize each channel of each sample of (N, C, L) (or (C, L)) on its own; no learnable affine map and no
    running statistics unless asked (``affine=True``, ``track_running_stats=True``), as in PyTorch."""

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Normalize each feature map of (N, C, H, W) (or (C, H, W)) on its own: style transfer's normalization."""

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Normalize each volume of (N, C, D, H, W) (or (C, D, H, W)) on its own."""

    _spatial = 3


class LocalResponseNorm(Module):
    """AlexNet's local response normalization across ``size`` neighbouring channels:
    y_c = x_c / (k + α/n · Σ x_c'²)^β (AlexNet: size=5, alpha=1e-4, beta=0.75, k=2)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def forward(self, x: Tensor) -> Tensor:
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
