"""More activation modules (PyTorch's names and defaults) over :mod:`neurona.functional.activation_more`.

``inplace`` is accepted where PyTorch has it; the result is always a new tensor.
"""
from __future__ import annotations

from ..engine import Tensor
from ..functional import activation_more as F
from .module import Module

__all__ = ["Hardswish", "Hardsigmoid", "Mish", "GLU", "Softmin", "Softmax2d", "Softshrink", "Hardshrink",
           "Tanhshrink", "Threshold", "RReLU"]


class _Inplace(Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)


class Hardswish(_Inplace):
    """x · relu6(x + 3) / 6."""

    def forward(self, x: Tensor) -> Tensor:
        return F.hardswish(x)


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6."""

    def forward(self, x: Tensor) -> Tensor:
        return F.hardsigmoid(x)


class Mish(_Inplace):
    """x · tanh(softplus(x))."""

    def forward(self, x: Tensor) -> Tensor:
        return F.mish(x)


class GLU(Module):
    """The first half of the input along ``dim`` times σ(the second half)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = int(dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.glu(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(−x) along ``dim``."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmin(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels at each position of (N, C, H, W) or (C, H, W)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax2d(x)


class Softshrink(Module):
    """x − λ above λ, x + λ below −λ, 0 between."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = float(lambd)

    def forward(self, x: Tensor) -> Tensor:
        return F.softshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x where |x| > λ, 0 elsewhere."""

    def forward(self, x: Tensor) -> Tensor:
        return F.hardshrink(x, self.lambd)


class Tanhshrink(Module):
    """x − tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanhshrink(x)


class Threshold(Module):
    """x where x > ``threshold``, ``value`` elsewhere."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = float(threshold), float(value), bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.threshold(x, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


class RReLU(Module):
    """Randomized leaky ReLU: a random slope in [lower, upper] per negative element in training, their mean in
    evaluation."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower, self.upper, self.inplace = float(lower), float(upper), bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.rrelu(x, self.lower, self.upper, self.training)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}"
