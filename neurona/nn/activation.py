"""Activation layers: the notes' activation functions g as modules, with PyTorch's names and signatures.

Each module calls the fused op of :mod:`neurona.functional.activation`, whose
backward writes the derivative g' of the notes ("Funciones de activación y
sus derivadas"). ``PReLU`` and ``Maxout`` learn parameters; the others hold
only hyperparameters. (``Identity``, the notes' LINEAL g_L(z) = z, lives in
:mod:`neurona.nn.containers`.)

>>> import neurona
>>> from neurona import nn
>>> net = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.1), nn.Linear(16, 3), nn.LogSoftmax(dim=1))
>>> net(neurona.randn(4, 2)).shape
(4, 3)
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_default_dtype
from ..creation import from_numpy
from ..functional import activation as F
from ..functional.math import sign
from ..engine import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = [
    "Step", "Sign", "Sigmoid", "LogSigmoid", "Tanh", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU",
    "CELU", "Softsign", "Softplus", "GELU", "SiLU", "Hardtanh", "Maxout", "Softmax", "LogSoftmax",
]


class Step(Module):
    """Threshold unit: 1 where x > threshold, 0 where x < threshold, ``value`` at the threshold.

    The notes' "Step, basada en umbral" (the perceptron's activation). Its
    derivative is 0 wherever it exists, so the gradient through it is zero:
    use it for perceptron demos and inference, not for gradient training.
    See :func:`neurona.functional.heaviside`.
    """

    def __init__(self, threshold: float = 0.0, value: float = 0.0):
        super().__init__()
        self.threshold, self.value = float(threshold), float(value)

    def forward(self, x: Tensor) -> Tensor:
        return F.heaviside(x, self.value, threshold=self.threshold)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


class Sign(Module):
    """The notes' ESCALÓN g_E(z) = sgn(z) ∈ {-1, 0, +1}; g_E'(z) = 0 for z ≠ 0, so the gradient is zero."""

    def forward(self, x: Tensor) -> Tensor:
        return sign(x)


class Sigmoid(Module):
    """σ(x) = 1/(1 + e^{-x}), g_S' = g_S(1 - g_S) (notes: SIGMOID). Finite for any x, |x| = 1e4 included."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class LogSigmoid(Module):
    """log σ(x) = -log(1 + e^{-x}), computed stably."""

    def forward(self, x: Tensor) -> Tensor:
        return F.logsigmoid(x)


class Tanh(Module):
    """tanh(x), g_T' = 1 - g_T² (notes: TANGENTE HIPERBÓLICA)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(Module):
    """max(0, x) (notes: RELU); derivative 1 for x > 0, 0 otherwise.

    ``inplace`` is accepted for PyTorch compatibility (neurona never overwrites an input).
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class ReLU6(Module):
    """min(max(0, x), 6).

    ``inplace`` is accepted for PyTorch compatibility (neurona never overwrites an input).
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu6(x)


class Hardtanh(Module):
    """clip(x, min_val, max_val); derivative 1 strictly inside, 0 outside.

    ``inplace`` is accepted for PyTorch compatibility (neurona never overwrites an input).
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = float(min_val), float(max_val), bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class LeakyReLU(Module):
    """x if x > 0 else α x, α = ``negative_slope`` (notes: LeakyRelu, max(0.1x, x) for α = 0.1).

    ``inplace`` is accepted for PyTorch compatibility (neurona never overwrites an input).
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = float(negative_slope), bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """max(αz, z) with a learnable slope α (notes: PreLU), one shared α or one per channel (dim 1).

    ``weight`` has shape (num_parameters,), filled with ``init``. It learns
    like any parameter (∂y/∂α = x for x ≤ 0); note that weight decay on α
    pushes it towards 0 (ReLU).

    >>> import neurona
    >>> act = neurona.nn.PReLU(num_parameters=3)
    >>> act(neurona.randn(2, 3, 4)).shape
    (2, 3, 4)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=None):
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be at least 1, got {num_parameters}")
        self.num_parameters, self.init = int(num_parameters), float(init)
        d = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.weight = Parameter(from_numpy(np.full((self.num_parameters,), self.init, d)))

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, x: Tensor) -> Tensor:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x if x > 0 else α(e^x - 1) (notes: ELU).

    ``inplace`` is accepted for PyTorch compatibility (neurona never overwrites an input).
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = float(alpha), bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(Module):
    """λ · ELU(x; α), α ≈ 1.6733, λ ≈ 1.0507 (self-normalizing).

    ``inplace`` is accepted for PyTorch compatibility (neurona never overwrites an input).
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.selu(x)


class CELU(Module):
    """x if x > 0 else α(e^{x/α} - 1).

    ``inplace`` is accepted for PyTorch compatibility (neurona never overwrites an input).
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        if alpha == 0:
            raise ValueError("CELU: alpha must not be 0")
        self.alpha, self.inplace = float(alpha), bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.celu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softsign(Module):
    """The notes' RÁPIDA ("fast") activation g_F(z) = z/(1 + |z|), g_F'(z) = 1/(1 + |z|)²: tanh-like, no exp."""

    def forward(self, x: Tensor) -> Tensor:
        return F.softsign(x)


class Softplus(Module):
    """log(1 + e^{βx})/β, a smooth ReLU; linear where βx > ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        if beta == 0:
            raise ValueError("Softplus: beta must not be 0")
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    """x Φ(x) (Φ the standard normal CDF); ``approximate='tanh'`` for the tanh formula."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x σ(x) (swish).

    ``inplace`` is accepted for PyTorch compatibility (neurona never overwrites an input).
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Maxout(Module):
    """Maxout layer: each of ``out_features`` units is the max of ``pool_size`` affine pieces of the input.

    The notes: f(z) = max(w_1ᵀz + b_1, w_2ᵀz + b_2) ("Funciones de activación (1)"),
    here with k = ``pool_size`` pieces: y_o = max_p (W[o, p] · x + b[o, p]).
    It replaces a Linear layer followed by an activation; ReLU (pieces z and 0)
    and PReLU (z and αz) are special cases, so a maxout network learns its own
    piecewise-linear activation.

    ``weight``: (out_features, pool_size, in_features); ``bias``: (out_features,
    pool_size). Both start as U(-1/√in_features, 1/√in_features), like
    :class:`Linear`. Input (..., in_features) → output (..., out_features).

    >>> import neurona
    >>> layer = neurona.nn.Maxout(4, 8, pool_size=3)
    >>> layer(neurona.randn(5, 4)).shape
    (5, 8)
    """

    def __init__(self, in_features: int, out_features: int, pool_size: int = 2, bias: bool = True, dtype=None):
        super().__init__()
        if in_features < 1 or out_features < 1 or pool_size < 1:
            raise ValueError(f"Maxout: in_features, out_features and pool_size must be positive, got "
                             f"{in_features}, {out_features} and {pool_size}")
        self.in_features, self.out_features, self.pool_size = int(in_features), int(out_features), int(pool_size)
        d = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.weight = Parameter(from_numpy(np.empty((self.out_features, self.pool_size, self.in_features), d)))
        if bias:
            self.bias = Parameter(from_numpy(np.empty((self.out_features, self.pool_size), d)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw W and b from U(-1/√in_features, 1/√in_features)."""
        bound = 1.0 / math.sqrt(self.in_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.maxout(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, pool_size={self.pool_size}, "
                f"bias={self.bias is not None}")


class Softmax(Module):
    """e^{x_i}/Σ_j e^{x_j} along ``dim`` (notes: SOFTMAX, the output layer as class probabilities).

    ``dim`` defaults to -1 (the last axis); PyTorch users usually pass ``dim=1``
    for (N, C) scores. To train, give the logits to ``CrossEntropyLoss`` instead
    of a Softmax layer: the fused loss is stabler and faster.
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log softmax(x) = x - logsumexp(x) along ``dim`` (stable); pair it with ``NLLLoss``."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
