"""Activations as one-pass kernels, and a fully connected layer fused with its activation.

The reference ops (``neurona.functional.activation``) write g and g' with
NumPy: ReLU's forward is a comparison and a product, its backward a product;
σ's forward is five passes (exp of −|x|, add, divide, compare, select), its
backward three. Here each is one loop. Each forward keeps its output, from
which every one of these derivatives follows (ReLU: y > 0; σ: y(1 − y);
tanh: 1 − y²), so the input can be freed.

``LinearActivation`` is ``act(x Wᵀ + b)`` in one op: the product, then one
pass that adds the bias and applies the activation in place; backward forms
∂L/∂z = ∂L/∂y · act'(z) and the bias gradient Σ ∂L/∂z in the same pass.
``neurona.rewrites`` puts it where a ``Linear`` is followed by one of these
activations in an ``nn.Sequential``.
"""
from __future__ import annotations

import numpy as np

from ..functional import activation as ref
from ..functional.linear import Linear as _Linear
from ._jit import kernel, sigmoid
from .gemm import products
from ._layout import dense, empty_in_order, flat, in_order

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "LinearActivation"]

# activation codes shared by the kernels below
RELU, LEAKY, SIGMOID, TANH = 0, 1, 2, 3


@kernel
def _forward(x, y, act, slope):
    zero = x.dtype.type(0)
    s = x.dtype.type(slope)
    for i in range(x.size):
        v = x[i]
        if act == RELU:
            y[i] = zero if v <= zero else v            # NaN stays NaN
        elif act == LEAKY:
            y[i] = v * s if v <= zero else v
        else:  # SIGMOID
            y[i] = sigmoid(v)


@kernel
def _backward(gy, y, gx, act, slope):
    one, zero = y.dtype.type(1), y.dtype.type(0)
    s = y.dtype.type(slope)
    for i in range(y.size):
        v = y[i]
        if act == RELU:
            gx[i] = gy[i] if v > zero else zero        # y > 0 exactly where x > 0
        elif act == LEAKY:
            gx[i] = gy[i] if v > zero else gy[i] * s    # (slope ≥ 0) y > 0 exactly where x > 0
        elif act == SIGMOID:
            gx[i] = gy[i] * v * (one - v)               # σ' = σ(1 − σ)
        else:  # TANH
            gx[i] = gy[i] * (one - v * v)               # tanh' = 1 − tanh²


class _Elementwise:
    """Forward and backward of one activation over the memory of its input (any dense layout)."""

    act = RELU

    def _slope(self) -> float:
        return 0.0

    def forward(self, x):
        if x.flags.c_contiguous:  # the common case, kept short: small arrays pay for every call
            y = np.empty(x.shape, x.dtype)
            _forward(x.ravel(), y.ravel(), self.act, self._slope())  # ravel: reshape(-1)'s view, called faster
            self.y, self.perm = y, None
            return y
        x, perm = dense(x)
        y = empty_in_order(x.shape, x.dtype, perm)
        _forward(flat(x, perm), flat(y, perm), self.act, self._slope())
        self.y, self.perm = y, perm
        return y

    def backward(self, gy):
        y, perm = self.y, self.perm
        if perm is None and gy.flags.c_contiguous:
            gx = np.empty(y.shape, y.dtype)
            _backward(gy.ravel(), y.ravel(), gx.ravel(), self.act, self._slope())
            return gx
        perm = perm or tuple(range(y.ndim))
        gx = empty_in_order(y.shape, y.dtype, perm)
        _backward(flat(in_order(gy, perm), perm), flat(y, perm), flat(gx, perm), self.act, self._slope())
        return gx


class ReLU(_Elementwise, ref.ReLU):
    act = RELU


class LeakyReLU(_Elementwise, ref.LeakyReLU):
    """For slopes ≥ 0 (``neurona.functional.leaky_relu`` keeps the reference for negative ones)."""
    act = LEAKY

    def _slope(self) -> float:
        return self.slope


class Sigmoid(_Elementwise, ref.Sigmoid):
    act = SIGMOID


class Tanh(_Elementwise, ref.Tanh):
    """NumPy's tanh forward (vectorized and exact already); the derivative in one pass."""
    act = TANH

    def forward(self, x):
        if x.flags.c_contiguous:
            self.y, self.perm = np.tanh(x), None
            return self.y
        x, perm = dense(x)
        y = empty_in_order(x.shape, x.dtype, perm)
        np.tanh(x, out=y)
        self.y, self.perm = y, perm
        return y


# --- a fully connected layer and its activation ----------------------------------------------------------


@kernel
def _bias_act(z, b, act, slope):
    """z[r, :] ← act(z[r, :] + b) in place (act −1: the bias only; TANH: the bias only, NumPy's tanh follows)."""
    zero = z.dtype.type(0)
    s = z.dtype.type(slope)
    rows, cols = z.shape
    for r in range(rows):
        for c in range(cols):
            v = z[r, c] + b[c]
            if act == RELU:
                v = zero if v <= zero else v
            elif act == LEAKY:
                v = v * s if v <= zero else v
            elif act == SIGMOID:
                v = sigmoid(v)
            z[r, c] = v


@kernel(reduce=True)
def _act_grad(gy, y, gz, gb, act, slope):
    """gz = gy · act'(z) (from y = act(z)) and gb = Σ_rows gz, in one pass."""
    one, zero = y.dtype.type(1), y.dtype.type(0)
    s = y.dtype.type(slope)
    rows, cols = y.shape
    for c in range(cols):
        gb[c] = zero
    for r in range(rows):
        for c in range(cols):
            v = y[r, c]
            g = gy[r, c]
            if act == RELU:
                g = g if v > zero else zero
            elif act == LEAKY:
                g = g if v > zero else g * s
            elif act == SIGMOID:
                g = g * v * (one - v)
            elif act == TANH:
                g = g * (one - v * v)
            gz[r, c] = g
            gb[c] += g


class LinearActivation(_Linear):
    """y = act(x Wᵀ + b), one op; inputs (x, W, b) as ``Linear`` with a bias. ``act``: 'relu', 'leaky_relu'
    (slope ≥ 0), 'sigmoid' or 'tanh'. Keeps x (as rows), W and y."""

    CODES = {"relu": RELU, "leaky_relu": LEAKY, "sigmoid": SIGMOID, "tanh": TANH}
    _products = staticmethod(products)  # neurona.kernels.gemm's products, where it is in force

    def __init__(self, act: str, slope: float = 0.0):
        self.act, self.slope = self.CODES[act], float(slope)

    def forward(self, x, w, b):
        x2 = x.reshape(-1, x.shape[-1])
        z = self._products()(x2, w.T)  # a fresh C-contiguous array, written over in place
        _bias_act(z, b, self.act, self.slope)
        if self.act == TANH:
            np.tanh(z, out=z)
        self.x2, self.w, self.xshape, self.y = x2, w, x.shape, z
        return z.reshape(x.shape[:-1] + (w.shape[0],)) if x.ndim != 2 else z

    def backward(self, gy):
        y = self.y
        g2 = gy.reshape(y.shape)
        if not g2.flags.c_contiguous:
            g2 = np.ascontiguousarray(g2)
        gz = np.empty(y.shape, y.dtype)
        gb = np.empty(y.shape[1], y.dtype)
        _act_grad(g2, y, gz, gb, self.act, self.slope)
        mm = self._products()
        gx = mm(gz, self.w).reshape(self.xshape) if self.needs[0] else None
        gw = mm(gz.T, self.x2) if self.needs[1] else None
        return gx, gw, (gb if self.needs[2] else None)
