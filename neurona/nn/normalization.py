"""Normalization layers: ``BatchNorm1d`` (and the ``_BatchNorm`` base for other ranks) and ``LayerNorm``.

The notes' normalization: x̂ = (x − μ)/sqrt(σ² + ε), ŝ = γ x̂ + β, with the
statistics of the mini-batch (μ_B, σ²_B per feature) or of the features of
one sample (μ_L, σ²_L). The fused ops live in
``neurona.functional.normalization``.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_default_dtype
from ..creation import from_numpy
from ..functional.normalization import _batch_norm, layer_norm
from ..engine import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "LayerNorm"]


def _dtype(dtype) -> np.dtype:
    d = np.dtype(dtype) if dtype is not None else get_default_dtype()
    if d.kind != "f":
        raise TypeError(f"normalization layers need a floating dtype, got {d}")
    return d


def _affine(m: Module, shape, d, bias: bool = True) -> None:
    """The affine γ (ones) and β (zeros) of a normalization, of ``shape``; None: none (registered as None)."""
    if shape is None:
        m.register_parameter("weight", None)
        m.register_parameter("bias", None)
        return
    m.weight = Parameter(from_numpy(np.ones(shape, d)))
    if bias:
        m.bias = Parameter(from_numpy(np.zeros(shape, d)))
    else:
        m.register_parameter("bias", None)


def _per_channel_state(m: Module, num_features, eps, momentum, affine, track_running_stats, dtype) -> None:
    """The settings, the affine γ, β (ones, zeros) and the running statistics of a per-channel normalization."""
    d = _dtype(dtype)
    m.num_features, m.eps, m.momentum = int(num_features), float(eps), momentum
    m.affine, m.track_running_stats = bool(affine), bool(track_running_stats)
    _affine(m, m.num_features if affine else None, d)
    if track_running_stats:
        m.register_buffer("running_mean", from_numpy(np.zeros(m.num_features, d)))
        m.register_buffer("running_var", from_numpy(np.ones(m.num_features, d)))
        m.register_buffer("num_batches_tracked", from_numpy(np.array(0, np.int64)))
    else:
        m.register_buffer("running_mean", None)
        m.register_buffer("running_var", None)
        m.register_buffer("num_batches_tracked", None)


class _BatchNorm(Module):
    """Shared body of BatchNorm1d/2d/3d; a subclass only says which input ranks it accepts."""

    _accepted_ndims: tuple = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=None):
        super().__init__()
        _per_channel_state(self, num_features, eps, momentum, affine, track_running_stats, dtype)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input_dim(self, x: Tensor) -> None:
        if x.ndim not in self._accepted_ndims:
            raise ValueError(f"{type(self).__name__}: expected input of shape {self._layout}, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels on axis 1 "
                             f"(num_features), got input of shape {x.shape}")

    def forward(self, x: Tensor) -> Tensor:
        return self._normalize(x)

    def _normalize(self, x: Tensor, train_op=None) -> Tensor:
        """The forward pass; ``train_op`` replaces the training-mode op (``neurona.rewrites``' batch norm + ReLU)."""
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # cumulative moving average over all batches seen
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return _batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                           self.weight, self.bias, use_batch_stats, factor, self.eps, train_op)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per feature/channel C.

    In training each batch is normalized with its own statistics (the notes'
    μ_B and σ²_B, biased), x̂ = (x − μ_B)/sqrt(σ²_B + ε), y = γ x̂ + β, and the
    running statistics are updated,
    ``running = (1 − momentum)·running + momentum·batch`` (the variance
    unbiased, n/(n − 1)·σ²_B; ``momentum=None`` gives the plain average over
    all batches). In ``eval()`` the running statistics normalize, so the output
    of a sample does not depend on its batch. γ (``weight``) starts at 1 and
    β (``bias``) at 0.

    >>> import neurona
    >>> bn = neurona.nn.BatchNorm1d(3)
    >>> y = bn(neurona.randn(16, 3))
    >>> bn.num_batches_tracked.item()
    1
    """

    _accepted_ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` dimensions of each sample.

    The notes' μ_L and σ²_L are the statistics of one sample's features
    (biased variance, as PyTorch): x̂ = (x − μ_L)/sqrt(σ²_L + ε), y = γ x̂ + β,
    with learnable γ (ones) and β (zeros) of shape ``normalized_shape`` when
    ``elementwise_affine``. Training and evaluation behave the same.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        d = _dtype(dtype)
        _affine(self, self.normalized_shape if elementwise_affine else None, d, bias)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
