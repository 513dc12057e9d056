"""Fully connected layer: ``Linear``."""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_default_dtype
from ..creation import from_numpy
from ..functional.linear import linear
from ..engine import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Linear"]


class Linear(Module):
    """y = x Wᵀ + b: the notes' a^(l) = W^(l) z^(l-1) + w_0^(l) applied to a batch of rows.

    ``weight`` has shape (out_features, in_features), like the notes' W^(l) ∈
    R^{M(l) × M(l-1)}; ``bias`` (the notes' w_0^(l)) has shape (out_features,).
    Input (..., in_features) → output (..., out_features).

    Initialization is PyTorch's default: ``kaiming_uniform_(weight, a=sqrt(5))``,
    which is U(−1/sqrt(in_features), 1/sqrt(in_features)), and the bias is drawn
    from the same interval. Call ``nn.init.xavier_uniform_(layer.weight)`` (tanh,
    sigmoid) or ``nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")``
    for the schemes of the notes.

    >>> import neurona
    >>> layer = neurona.nn.Linear(784, 128)
    >>> layer(neurona.randn(32, 784)).shape
    (32, 128)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: feature counts must be non-negative, got in_features={in_features}, "
                             f"out_features={out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        d = np.dtype(dtype) if dtype is not None else get_default_dtype()
        if d.kind != "f":
            raise TypeError(f"Linear: dtype must be a floating dtype, got {d}")
        self.weight = Parameter(from_numpy(np.empty((self.out_features, self.in_features), d)))
        if bias:
            self.bias = Parameter(from_numpy(np.empty((self.out_features,), d)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights: W ~ kaiming_uniform(a=sqrt(5)), b ~ U(−1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        p = self._parameters  # read from the registry: self.weight finds it only after a failed attribute lookup
        if "weight" in p and "bias" in p:
            return linear(x, p["weight"], p["bias"])
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
