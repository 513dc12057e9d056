"""More of PyTorch's activations, each a short composition of differentiable ops (its gradient is theirs).

- hardswish(x) = x · relu6(x + 3) / 6,   hardsigmoid(x) = relu6(x + 3) / 6
- mish(x) = x · tanh(softplus(x))
- glu(x) = a · σ(b), with (a, b) the two halves of x along ``dim``
- softmin(x) = softmax(−x);  softmax2d: softmax over the channels of (N, C, H, W) or (C, H, W)
- softshrink(x) = x − λ·sign(x) where |x| > λ, else 0;  hardshrink(x) = x where |x| > λ, else 0
- tanhshrink(x) = x − tanh(x);  threshold(x) = x where x > threshold, else value
- rrelu(x) = x for x ≥ 0, a·x below, with a drawn from U(lower, upper) per element in training and
  (lower + upper)/2 in evaluation
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..engine import Tensor, _wrap
from .activation import relu6, softmax, softplus, sigmoid, tanh
from .math import as_tensor, where

__all__ = ["hardswish", "hardsigmoid", "mish", "glu", "softmin", "softmax2d", "softshrink", "hardshrink",
           "tanhshrink", "threshold", "rrelu"]


def hardswish(input, inplace: bool = False) -> Tensor:
    """x · relu6(x + 3) / 6 (MobileNetV3's cheap swish)."""
    x = as_tensor(input)
    return x * relu6(x + 3) / 6


def hardsigmoid(input, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 below −3, 1 above 3, linear between."""
    return relu6(as_tensor(input) + 3) / 6


def mish(input, inplace: bool = False) -> Tensor:
    """x · tanh(softplus(x))."""
    x = as_tensor(input)
    return x * tanh(softplus(x))


def glu(input, dim: int = -1) -> Tensor:
    """The gated linear unit: the first half of ``input`` along ``dim`` times σ(the second half)."""
    x = as_tensor(input)
    n = x.shape[dim]
    if n % 2:
        raise ValueError(f"glu: dimension {dim} must have an even size, got shape {tuple(x.shape)}")
    a, b = x.split(n // 2, dim)
    return a * sigmoid(b)


def softmin(input, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(−x) along ``dim``: the smallest entries get the largest weights."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy choice when dim is omitted
    return softmax(-x, dim)


def softmax2d(input) -> Tensor:
    """Softmax over the channels at every position of (N, C, H, W) or (C, H, W)."""
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"Softmax2d: expected a 3-D or 4-D input, got shape {tuple(x.shape)}")
    return softmax(x, -3)


def softshrink(input, lambd: float = 0.5) -> Tensor:
    """x − λ where x > λ, x + λ where x < −λ, 0 between."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be non-negative, got {lambd}")
    x = as_tensor(input)
    zero = x.dtype.type(0)
    return where(x > lambd, x - lambd, where(x < -lambd, x + lambd, zero))


def hardshrink(input, lambd: float = 0.5) -> Tensor:
    """x where |x| > λ, 0 elsewhere."""
    x = as_tensor(input)
    return where((x > lambd) | (x < -lambd), x, x.dtype.type(0))


def tanhshrink(input) -> Tensor:
    """x − tanh(x)."""
    x = as_tensor(input)
    return x - tanh(x)


def threshold(input, threshold: float, value: float, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > ``threshold``, ``value`` elsewhere."""
    x = as_tensor(input)
    return where(x > threshold, x, x.dtype.type(value))


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False,
          *, generator=None) -> Tensor:
    """Randomized leaky ReLU: slope a ~ U(lower, upper) per element for x < 0 in training, (lower + upper)/2
    in evaluation."""
    from ..creation import _gen

    x = as_tensor(input)
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: expects 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if training:
        a = _gen(generator).uniform(lower, upper, tuple(x.shape)).astype(x.dtype)
        slope = _wrap(get_array_module(x.array).asarray(a))
    else:
        slope = x.dtype.type((lower + upper) / 2)
    return where(x >= 0, x, x * slope)


_ = np  # numpy is used through x.dtype.type above
