"""Activation functions of the notes, as differentiable ops.

Each forward cites its definition; each backward its derivative, the g'(φ)
of the notes' delta equations.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Function, Tensor
from .math import as_tensor


class ReLU(Function):
    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, 0) if x.dtype.kind != "f" else x * self.mask

    def backward(self, gy):  # g'(x) = 1 if x > 0 else 0
        return gy * self.mask


class Sigmoid(Function):
    def forward(self, x):
        # σ(x) = 1/(1 + e^-x); with e = e^-|x| ≤ 1 no exp overflows and tiny values keep their precision
        e = np.exp(-np.abs(x))
        r = 1 / (1 + e)
        self.y = y = np.where(x >= 0, r, e * r)
        return y

    def backward(self, gy):  # σ'(x) = σ(x)(1 - σ(x))
        y = self.y
        return gy * y * (1 - y)


class Tanh(Function):
    def forward(self, x):
        self.y = y = np.tanh(x)
        return y

    def backward(self, gy):  # tanh'(x) = 1 - tanh(x)²
        y = self.y
        return gy * (1 - y * y)


class Softmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        self.y = y = e / e.sum(axis=self.axis, keepdims=True)
        return y

    def backward(self, gy):  # ∂s_i/∂x_j = s_i(δ_ij - s_j)  ⇒  g_x = s ⊙ (g - Σ g s)
        y = self.y
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        m = x.max(axis=self.axis, keepdims=True)
        z = x - m
        self.y = y = z - np.log(np.exp(z).sum(axis=self.axis, keepdims=True))
        return y

    def backward(self, gy):  # ∂ log s_i/∂x_j = δ_ij - s_j  ⇒  g_x = g - s Σ g
        return gy - np.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def relu(x) -> Tensor:
    """ReLU(x) = max(0, x)."""
    return ReLU()(as_tensor(x))


def sigmoid(x) -> Tensor:
    """σ(x) = 1 / (1 + e^{-x}); finite for any x."""
    return Sigmoid()(as_tensor(x))


def tanh(x) -> Tensor:
    """tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x})."""
    return Tanh()(as_tensor(x))


def _dim(x: Tensor, dim: int, op: str) -> int:
    if not -x.ndim <= dim < max(x.ndim, 1):
        raise ValueError(f"{op}: dim {dim} is out of range for a tensor of shape {x.shape}")
    return dim % max(x.ndim, 1)


def softmax(x, dim: int = -1) -> Tensor:
    """softmax(x)_i = e^{x_i} / Σ_j e^{x_j} along ``dim`` (stable: the max is subtracted first)."""
    x = as_tensor(x)
    return Softmax(_dim(x, dim, "softmax"))(x)


def log_softmax(x, dim: int = -1) -> Tensor:
    """log softmax(x) = x - logsumexp(x), along ``dim``; stable."""
    x = as_tensor(x)
    return LogSoftmax(_dim(x, dim, "log_softmax"))(x)
