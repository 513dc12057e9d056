"""Activation functions of the notes, as differentiable ops.

An activation g is applied elementwise to the pre-activation φ (the notes'
``s = g(φ)``, "Funciones de activación y sus derivadas"); backprop needs its
derivative g'(φ) in the delta equations δ = g'(φ) ⊙ (∂q/∂s). Each op here is
one fused ``Function`` whose ``forward`` computes g and whose ``backward``
writes g' explicitly (instead of differentiating a chain of primitive ops),
which is faster and keeps extreme inputs (|x| ~ 1e4) finite.

Notes' list (with their names): LINEAL g_L(z) = z → :func:`identity`;
ESCALÓN g_E(z) = sgn(z) → :func:`neurona.sign` (and the 0/1 step
:func:`heaviside`); SIGMOID → :func:`sigmoid`; TANGENTE HIPERBÓLICA →
:func:`tanh`; RÁPIDA g_F(z) = z/(1+|z|) → :func:`softsign`; RELU →
:func:`relu`; LeakyReLU/PReLU → :func:`leaky_relu`, :func:`prelu`; ELU →
:func:`elu`; Maxout → :func:`maxout`; SOFTMAX → :func:`softmax`. Beyond the
notes: ReLU6, SELU, CELU, Softplus, GELU, SiLU, Hardtanh, LogSigmoid.
"""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from ..backend import get_array_module
from ..engine import Function, Tensor
from .math import as_tensor

__all__ = [
    "heaviside", "identity", "sigmoid", "logsigmoid", "tanh", "relu", "relu_", "relu6", "leaky_relu", "prelu", "elu",
    "selu", "celu", "softsign", "softplus", "gelu", "silu", "hardtanh", "maxout", "softmax", "log_softmax",
]


def _c(x, c):
    """The constant ``c`` as a scalar of ``x``'s float dtype (float32 stays float32)."""
    return x.dtype.type(c) if x.dtype.kind == "f" else c


# --- step, identity ------------------------------------------------------------------


class Heaviside(Function):
    def __init__(self, threshold, value):
        self.threshold, self.value = threshold, value

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        t = self.threshold
        y = (x > t).astype(x.dtype if x.dtype.kind == "f" else np.float32)
        if self.value != 0:
            y = y + (x == t) * _c(y, self.value)
        return y

    def backward(self, gy):  # piecewise constant: g'(z) = 0 for z ≠ threshold, undefined at it (0 is used)
        return get_array_module(gy).zeros(self.shape, self.dtype)


# --- sigmoid family ------------------------------------------------------------------


def _sigmoid(x):
    """σ(x) on arrays without overflow: with e = e^{-|x|} ≤ 1, σ = 1/(1+e) for x ≥ 0 and e/(1+e) below."""
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(x >= 0, r, e * r)


class Sigmoid(Function):
    def forward(self, x):
        self.y = y = _sigmoid(x)
        return y

    def backward(self, gy):  # g_S'(z) = g_S(z)(1 - g_S(z))
        y = self.y
        return gy * y * (1 - y)


class LogSigmoid(Function):
    def forward(self, x):
        self.x = x
        # log σ(x) = min(x, 0) - log(1 + e^{-|x|}): never exp of a large number
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    def backward(self, gy):  # d log σ(x)/dx = 1 - σ(x) = σ(-x)
        return gy * _sigmoid(-self.x)


class Tanh(Function):
    def forward(self, x):
        self.y = y = np.tanh(x)
        return y

    def backward(self, gy):  # g_T'(z) = 1 - g_T(z)²
        y = self.y
        return gy * (1 - y * y)


class Softsign(Function):
    def forward(self, x):
        self.d = d = 1 + np.abs(x)
        return x / d

    def backward(self, gy):  # g_F'(z) = 1/(1 + |z|)²
        d = self.d
        return gy / (d * d)


class Softplus(Function):
    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        bx = x * _c(x, self.beta)
        self.bx = bx
        self.linear = lin = bx > self.threshold
        # log(1 + e^{βx})/β, computed as max(βx, 0) + log1p(e^{-|βx|}) so that no exp overflows
        soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / _c(x, self.beta)
        return np.where(lin, x, soft)

    def backward(self, gy):  # d/dx log(1 + e^{βx})/β = σ(βx); 1 in the linear region βx > threshold
        return gy * np.where(self.linear, _c(gy, 1.0), _sigmoid(self.bx))


class SiLU(Function):
    def forward(self, x):
        self.x = x
        self.s = s = _sigmoid(x)
        return x * s

    def backward(self, gy):  # d(x σ(x))/dx = σ(x)(1 + x(1 - σ(x)))
        s = self.s
        return gy * (s * (1 + self.x * (1 - s)))


# --- rectifiers ----------------------------------------------------------------------


class ReLU(Function):
    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, 0) if x.dtype.kind != "f" else x * self.mask

    def backward(self, gy):  # g_U'(z) = 1 if z > 0 else 0 (0 at z = 0, where it is undefined)
        return gy * self.mask


class Hardtanh(Function):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.inside = (x > self.lo) & (x < self.hi)
        return np.clip(x, _c(x, self.lo), _c(x, self.hi))

    def backward(self, gy):  # 1 strictly inside (lo, hi), 0 outside and on the bounds (as PyTorch)
        return gy * self.inside


class LeakyReLU(Function):
    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        self.pos = pos = x > 0
        return np.where(pos, x, x * _c(x, self.slope))

    def backward(self, gy):  # g'(z) = 1 if z > 0 else α
        return np.where(self.pos, gy, gy * _c(gy, self.slope))


class PReLU(Function):
    """max(αz, z) with a learnable α per channel (``weight`` broadcast along dim 1)."""

    def __init__(self, wshape):
        self.wshape = wshape  # the weight reshaped to broadcast against x: (1, C, 1, ...) or ()

    def forward(self, x, w):
        self.x = x
        self.pos = pos = x > 0
        self.wb = wb = w.reshape(self.wshape)
        self.w_shape = w.shape
        return np.where(pos, x, wb * x)

    def backward(self, gy):  # ∂y/∂x = 1 if x > 0 else α;  ∂y/∂α = 0 if x > 0 else x
        pos = self.pos
        gx = np.where(pos, gy, gy * self.wb) if self.needs[0] else None
        gw = None
        if self.needs[1]:
            contrib = np.where(pos, 0, gy * self.x)
            axes = tuple(i for i in range(contrib.ndim) if len(self.wshape) != contrib.ndim or self.wshape[i] == 1)
            gw = contrib.sum(axis=axes).reshape(self.w_shape)
        return gx, gw


class ELU(Function):
    """scale · (x if x > 0 else α (e^{κx} - 1)): ELU (scale = κ = 1), SELU, CELU (κ = 1/α)."""

    def __init__(self, alpha, scale=1.0, input_scale=1.0):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale

    def forward(self, x):
        self.pos = pos = x > 0
        # expm1 of min(x, 0): accurate near 0 and no overflow for large positive x
        self.em = em = np.expm1(np.minimum(x, 0) * _c(x, self.input_scale))
        neg = em * _c(x, self.alpha)
        y = np.where(pos, x, neg)
        return y * _c(x, self.scale) if self.scale != 1.0 else y

    def backward(self, gy):  # g'(z) = scale · (1 if z > 0 else α κ e^{κz})
        ak = self.alpha * self.input_scale
        d_neg = (self.em + 1) * _c(gy, ak)
        d = np.where(self.pos, _c(gy, 1.0), d_neg)
        if self.scale != 1.0:
            d = d * _c(gy, self.scale)
        return gy * d


# --- GELU and an accurate erf --------------------------------------------------------

# erf(x) = 2/√π Σ_n (-1)^n x^{2n+1} / (n! (2n+1)): used for |x| < 2, where 36 terms reach double precision.
_ERF_SERIES = [2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(36)]
# erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))): for x ≥ 2, 60 levels reach double
# precision.
_ERFC_CF_DEPTH = 60


def _erfc_large(x):
    """erfc(x) for x ≥ 2 from its continued fraction, evaluated from the tail (relative error ~1e-16)."""
    f = x
    for k in range(_ERFC_CF_DEPTH, 0, -1):
        f = x + (0.5 * k) / f
    return np.exp(-x * x) / (math.sqrt(math.pi) * f)


def _erf(x):
    """erf(x) in float64 to ~1e-16 absolute error (NumPy has no erf, and neurona does not depend on SciPy)."""
    x = get_array_module(x).asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    small = np.abs(x) < 2
    xs = x[small]
    z = xs * xs
    p = np.full_like(xs, _ERF_SERIES[-1])
    for c in reversed(_ERF_SERIES[:-1]):
        p = p * z + c
    out[small] = xs * p
    xb = x[~small]
    out[~small] = np.sign(xb) * (1 - _erfc_large(np.abs(xb)))
    return out


def _normal_cdf(x):
    """Φ(x) = (1 + erf(x/√2))/2 in float64; the far left tail uses erfc directly (no cancellation)."""
    u = get_array_module(x).asarray(x, dtype=np.float64) * (1 / math.sqrt(2))
    out = np.empty_like(u)
    tail = u < -2
    out[tail] = 0.5 * _erfc_large(-u[tail])
    out[~tail] = 0.5 * (1 + _erf(u[~tail]))
    return out


_GELU_K = math.sqrt(2 / math.pi)


class GELU(Function):
    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        self.x = x
        if self.approximate == "tanh":
            k, c = _c(x, _GELU_K), _c(x, 0.044715)
            self.t = t = np.tanh(k * (x + c * x * x * x))
            return 0.5 * x * (1 + t)
        # x Φ(x), Φ evaluated in float64 and cast back
        self.cdf = cdf = _normal_cdf(x).astype(x.dtype, copy=False)
        return x * cdf

    def backward(self, gy):
        x = self.x
        if self.approximate == "tanh":
            # d/dx ½x(1 + tanh u) = ½(1 + tanh u) + ½x(1 - tanh² u) u',  u' = √(2/π)(1 + 3·0.044715 x²)
            t, k, c = self.t, _c(x, _GELU_K), _c(x, 3 * 0.044715)
            return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + c * x * x))
        # d(x Φ(x))/dx = Φ(x) + x φ(x), φ(x) = e^{-x²/2}/√(2π)
        pdf = np.exp(-0.5 * x * x) * _c(x, 1 / math.sqrt(2 * math.pi))
        return gy * (self.cdf + x * pdf)


# --- maxout --------------------------------------------------------------------------


class Maxout(Function):
    """max over k affine pieces: y_o = max_p (W[o, p] · x + b[o, p]), fused with its affine maps.

    One GEMM computes all pieces, laid out piece-major (M, k, out) so that each
    piece is a contiguous block; the max is a running comparison over the k
    blocks (k is small), which also records the winning piece of each unit.
    """

    def forward(self, x, w, b=None):
        out_f, k, in_f = w.shape
        self.x_shape = x.shape
        self.x2 = x2 = x.reshape(-1, in_f)
        self.wt = wt = w.transpose(1, 0, 2).reshape(k * out_f, in_f)  # rows ordered (piece, unit)
        z = x2 @ wt.T
        if b is not None:
            z = z + b.T.reshape(-1)
        z = z.reshape(-1, k, out_f)
        y = z[:, 0]
        win = get_array_module(y).zeros(y.shape, np.intp)  # the winning piece of each (sample, unit)
        for p in range(1, k):
            better = z[:, p] > y
            y = np.where(better, z[:, p], y)
            win[better] = p
        self.win = win
        return y.reshape(x.shape[:-1] + (out_f,))

    def backward(self, gy):  # only the winning piece p* gets the gradient: ∂y/∂x = W[o, p*], ∂y/∂W[o, p*] = x
        x2, wt, win = self.x2, self.wt, self.win
        m, out_f = win.shape
        k = wt.shape[0] // out_f
        gy = gy.reshape(m, out_f)
        zero = gy.dtype.type(0)
        gz = np.stack([np.where(win == p, gy, zero) for p in range(k)], axis=1).reshape(m, k * out_f)
        gx = (gz @ wt).reshape(self.x_shape) if self.needs[0] else None
        gw = (gz.T @ x2).reshape(k, out_f, -1).transpose(1, 0, 2) if self.needs[1] else None
        gb = None
        if len(self.needs) > 2 and self.needs[2]:
            gb = gz.sum(axis=0).reshape(k, out_f).T
        return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)


# --- softmax -------------------------------------------------------------------------


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


# --- the functions users call ----------------------------------------------------------


def heaviside(x, values: float = 0.0, *, threshold: float = 0.0) -> Tensor:
    """Step (Heaviside) function: 1 where x > threshold, 0 where x < threshold, ``values`` at the threshold.

    The notes' threshold activation ("Step, basada en umbral"). Its derivative
    is 0 wherever it exists (undefined at the threshold), so backward gives a
    zero gradient: a network of steps cannot learn by gradient descent, which is
    why backprop replaced it with sigmoids. For the ±1 version (the notes'
    ESCALÓN g_E(z) = sgn(z)) use :func:`neurona.sign`.

    >>> import neurona
    >>> heaviside(neurona.tensor([-1.0, 0.0, 2.0]), 0.5)
    tensor([0. , 0.5, 1. ])
    """
    x = as_tensor(x)
    if isinstance(values, Tensor):
        if values.array.size != 1:
            raise ValueError(f"heaviside: values must be a single number, got a tensor of shape {values.shape}")
        values = values.item()
    return Heaviside(float(threshold), float(values))(x)


def identity(x) -> Tensor:
    """The notes' LINEAL activation g_L(z) = z, g_L'(z) = 1 (returns ``x`` itself, no op recorded)."""
    return as_tensor(x)


def sigmoid(x) -> Tensor:
    """σ(x) = 1 / (1 + e^{-x}); σ' = σ(1 - σ). Finite for any x (no overflow at |x| = 1e4)."""
    x = as_tensor(x)
    return (kernels.lookup("sigmoid", x.array) or Sigmoid)()(x)


def logsigmoid(x) -> Tensor:
    """log σ(x) = -log(1 + e^{-x}), computed stably; derivative 1 - σ(x)."""
    return LogSigmoid()(as_tensor(x))


def tanh(x) -> Tensor:
    """tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x}); tanh' = 1 - tanh²."""
    x = as_tensor(x)
    return (kernels.lookup("tanh", x.array) or Tanh)()(x)


def relu(x, inplace: bool = False) -> Tensor:
    """ReLU(x) = max(0, x); derivative 1 for x > 0, 0 for x < 0 (0 is used at x = 0).

    ``inplace=True`` overwrites ``x`` (``x.relu_()``), as PyTorch's does.
    """
    if inplace:
        return relu_(x)
    x = as_tensor(x)
    return (kernels.lookup("relu", x.array) or ReLU)()(x)


def relu_(x: Tensor) -> Tensor:
    """ReLU in place: ``x`` takes the values max(0, x) (recorded when grad mode asks for it)."""
    return x.relu_()


def relu6(x) -> Tensor:
    """ReLU6(x) = min(max(0, x), 6); derivative 1 on (0, 6), else 0."""
    return Hardtanh(0.0, 6.0)(as_tensor(x))


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Hardtanh(x) = clip(x, min_val, max_val); derivative 1 on (min_val, max_val), else 0."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Hardtanh(float(min_val), float(max_val))(as_tensor(x))


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """LeakyReLU(x) = x if x > 0 else α x (α = ``negative_slope``); the notes' max(0.1x, x) is α = 0.1."""
    x = as_tensor(x)
    slope = float(negative_slope)
    op = (kernels.lookup("leaky_relu", x.array) if slope >= 0 else None) or LeakyReLU
    return op(slope)(x)


def prelu(x, weight) -> Tensor:
    """PReLU(x) = max(αx, x) for α ≥ 0, i.e. x if x > 0 else α x, with a learnable α (notes: PreLU).

    ``weight`` holds one α (shape (1,)) or one per channel (shape (C,)), the
    channels being dim 1 of ``x`` (as PyTorch). Gradients flow to both x and α.
    """
    x = as_tensor(x)
    w = as_tensor(weight, like=x)
    if w.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-D (one α per channel), got shape {w.shape}")
    c = w.shape[0]
    if c == 1:
        wshape = ()
    else:
        if x.ndim < 2 or x.shape[1] != c:
            ch = x.shape[1] if x.ndim >= 2 else 1
            raise ValueError(
                f"prelu: weight has {c} parameters but the input of shape {x.shape} has {ch} channel(s) on dim 1; "
                f"use num_parameters=1 or {ch}"
            )
        wshape = (1, c) + (1,) * (x.ndim - 2)
    return PReLU(wshape)(x, w)


def elu(x, alpha: float = 1.0) -> Tensor:
    """ELU(x) = x if x > 0 else α(e^x - 1) (notes: ELU); derivative 1, or α e^x for x ≤ 0."""
    return ELU(float(alpha))(as_tensor(x))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x) -> Tensor:
    """SELU(x) = λ · ELU(x; α) with α ≈ 1.6733, λ ≈ 1.0507 (self-normalizing networks)."""
    return ELU(_SELU_ALPHA, _SELU_SCALE)(as_tensor(x))


def celu(x, alpha: float = 1.0) -> Tensor:
    """CELU(x) = x if x > 0 else α(e^{x/α} - 1); continuously differentiable for any α > 0."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return ELU(float(alpha), 1.0, 1.0 / float(alpha))(as_tensor(x))


def softsign(x) -> Tensor:
    """The notes' RÁPIDA ("fast") activation g_F(z) = z / (1 + |z|), g_F'(z) = 1 / (1 + |z|)²."""
    return Softsign()(as_tensor(x))


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus(x) = log(1 + e^{βx}) / β, linear (= x) where βx > ``threshold``; derivative σ(βx)."""
    if beta == 0:
        raise ValueError("softplus: beta must not be 0")
    return Softplus(float(beta), float(threshold))(as_tensor(x))


def gelu(x, approximate: str = "none") -> Tensor:
    """GELU(x) = x Φ(x), Φ the standard normal CDF; derivative Φ(x) + x φ(x).

    ``approximate='tanh'`` uses ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    The exact form evaluates erf to double precision.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(as_tensor(x))


def silu(x) -> Tensor:
    """SiLU (swish)(x) = x σ(x); derivative σ(x)(1 + x(1 - σ(x)))."""
    return SiLU()(as_tensor(x))


def maxout(x, weight, bias=None) -> Tensor:
    """Maxout (notes: f(z) = max(w_1ᵀz + b_1, w_2ᵀz + b_2)), generalised to k pieces per unit.

    ``y[..., o] = max_p (x @ weight[o, p] + bias[o, p])``, with ``x`` of shape
    (..., in_features), ``weight`` of shape (out_features, k, in_features) and
    ``bias`` of shape (out_features, k) or None. ReLU (pieces z and 0) and
    PReLU/LeakyReLU (z and αz) are special cases. Only the winning piece
    receives a gradient.
    """
    x = as_tensor(x)
    w = as_tensor(weight, like=x)
    if w.ndim != 3:
        raise ValueError(f"maxout: weight must have shape (out_features, pool_size, in_features), got {w.shape}")
    if x.ndim < 1 or x.shape[-1] != w.shape[2]:
        raise ValueError(
            f"maxout: expected input with {w.shape[2]} features (last dim), got shape {x.shape}"
        )
    if bias is None:
        return Maxout()(x, w)
    b = as_tensor(bias, like=x)
    if b.shape != w.shape[:2]:
        raise ValueError(f"maxout: bias must have shape {w.shape[:2]} (out_features, pool_size), got {b.shape}")
    return Maxout()(x, w, b)


def _dim(x: Tensor, dim: int, op: str) -> int | None:
    n = max(x.ndim, 1)  # a 0-d tensor accepts dim 0 or -1, as in PyTorch
    if not -n <= dim < n:
        raise ValueError(f"{op}: dim {dim} is out of range for a tensor of shape {x.shape}")
    return dim % n if x.ndim else None


def softmax(x, dim: int = -1) -> Tensor:
    """softmax(x)_i = e^{x_i} / Σ_j e^{x_j} along ``dim`` (stable: the max is subtracted first).

    Notes' SOFTMAX g_M; its Jacobian is ∂s_i/∂x_j = s_i(δ_ij - s_j) (the diagonal
    s_i(1 - s_i) is the notes' g_M').
    """
    x = as_tensor(x)
    return Softmax(_dim(x, dim, "softmax"))(x)


def log_softmax(x, dim: int = -1) -> Tensor:
    """log softmax(x) = x - logsumexp(x), along ``dim``; stable for any finite x."""
    x = as_tensor(x)
    return LogSoftmax(_dim(x, dim, "log_softmax"))(x)
