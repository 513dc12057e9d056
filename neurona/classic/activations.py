"""Activation functions g and their derivatives g', on plain arrays.

The notes call the activation g (Casacuberta–Vidal, "Funciones de activación
y sus derivadas") or h (Bunge, "Representación Vectorial de MLP"); its input
is φ or a, its output s or z. Each activation here is a small object:

- ``act(a)`` returns z = g(a), elementwise;
- ``act.derivative(a, z)`` returns g'(a), elementwise. It receives the output
  z = g(a) as well, because the notes write several derivatives in terms of
  g itself (g'_S = g_S(1 - g_S), g'_T = 1 - g_T²), which saves recomputing g.

Step and sign have no useful derivative (0 wherever it exists, undefined at
0), so backprop cannot train a network that uses them: their ``derivative``
raises ``NotDifferentiableError``. Softmax is not elementwise; it is an output
activation only and gives the product of its Jacobian with a vector instead
(``Softmax.vjp``).
"""
from __future__ import annotations

import numpy as np


class NotDifferentiableError(ValueError):
    """Backprop was asked for g' of an activation that has none (step, sign)."""


class Activation:
    """An elementwise activation g with its derivative g'."""

    name = "activation"
    differentiable = True

    def __call__(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not define g(a): subclasses write __call__")

    def derivative(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not define g'(a): subclasses write derivative")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Activation):
    """LINEAL: g_L(a) = a, g'_L(a) = 1."""

    name = "identity"

    def __call__(self, a):
        return a

    def derivative(self, a, z):
        return np.ones_like(a)


class Sigmoid(Activation):
    """SIGMOID: g_S(a) = 1 / (1 + exp(-a)), g'_S(a) = g_S(a) (1 - g_S(a))."""

    name = "sigmoid"

    def __call__(self, a):
        # with e = exp(-|a|) ≤ 1 nothing overflows: g = 1/(1+e) for a ≥ 0 and e/(1+e) for a < 0
        e = np.exp(-np.abs(a))
        r = 1 / (1 + e)
        return np.where(a >= 0, r, e * r)

    def derivative(self, a, z):
        return z * (1 - z)  # g'_S = g_S (1 - g_S)


class Tanh(Activation):
    """TANGENTE HIPERBÓLICA: g_T(a) = (e^a - e^-a)/(e^a + e^-a), g'_T(a) = 1 - g_T(a)²."""

    name = "tanh"

    def __call__(self, a):
        return np.tanh(a)

    def derivative(self, a, z):
        return 1 - z * z  # g'_T = 1 - g_T²


class ReLU(Activation):
    """RELU: g_U(a) = max(0, a); g'_U(a) = 1 if a > 0, 0 if a < 0.

    The notes leave g'_U(0) undefined; we take 0 there, as PyTorch does.
    """

    name = "relu"

    def __call__(self, a):
        return a * (a > 0)

    def derivative(self, a, z):
        return (a > 0).astype(a.dtype)


class LeakyReLU(Activation):
    """Leaky ReLU: g(a) = max(αa, a) for 0 < α < 1; g'(a) = 1 if a > 0 else α.

    The notes' example uses α = 0.1 (``LeakyReLU(0.1)``); the default 0.01 is
    PyTorch's. PreLU is the same function with α learned.
    """

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = float(negative_slope)

    def __call__(self, a):
        return np.where(a > 0, a, a * self.negative_slope)

    def derivative(self, a, z):
        one, alpha = a.dtype.type(1), a.dtype.type(self.negative_slope)
        return np.where(a > 0, one, alpha)

    def __repr__(self):
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class ELU(Activation):
    """ELU: g(a) = a if a ≥ 0, α(e^a - 1) if a < 0; g'(a) = 1 if a > 0, α e^a = g(a) + α otherwise."""

    name = "elu"

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def __call__(self, a):
        # expm1 of min(a, 0): the branch that np.where discards never overflows
        return np.where(a > 0, a, self.alpha * np.expm1(np.minimum(a, 0)))

    def derivative(self, a, z):
        return np.where(a > 0, a.dtype.type(1), z + a.dtype.type(self.alpha))  # α e^a = g(a) + α

    def __repr__(self):
        return f"ELU(alpha={self.alpha})"


class Softsign(Activation):
    """RÁPIDA (softsign): g_F(a) = a / (1 + |a|), g'_F(a) = 1 / (1 + |a|)²."""

    name = "softsign"

    def __call__(self, a):
        return a / (1 + np.abs(a))

    def derivative(self, a, z):
        d = 1 + np.abs(a)
        return 1 / (d * d)


class Step(Activation):
    """Step (threshold unit): g(a) = 1 if a > 0, else 0. Not trainable by backprop.

    g'(a) = 0 for a ≠ 0 and is undefined at 0: every delta through it would be
    zero, so ``derivative`` raises. Use it to evaluate networks whose weights
    were set by hand (McCulloch–Pitts units, Rosenblatt's perceptron).
    """

    name = "step"
    differentiable = False

    def __call__(self, a):
        return (a > 0).astype(a.dtype)

    def derivative(self, a, z):
        raise NotDifferentiableError(
            f"{self.name}: g'(a) is 0 for a != 0 and undefined at 0, so backprop cannot train through it; "
            "use 'sigmoid' or 'tanh' (its smooth versions) to train, and step only to evaluate")


class Sign(Step):
    """ESCALÓN of the notes: g_E(a) = sgn(a) = +1 if a > 0, -1 if a < 0 (0 at a = 0).

    Not trainable by backprop: g'_E(a) = 0 for a ≠ 0, undefined at 0.
    """

    name = "sign"

    def __call__(self, a):
        return np.sign(a)


class Softmax(Activation):
    """SOFTMAX: g_M(a)_i = exp(a_i) / Σ_j exp(a_j), over each sample's outputs (last axis).

    Output layer only. The notes list g'_M(a_i) = g_M(a_i)(1 - g_M(a_i)), which
    is only the diagonal of the Jacobian ∂s_i/∂a_j = s_i(δ_ij - s_j); every
    output depends on every input, so backprop needs the full product
    ``vjp(z, g)`` = Jᵀ g = s ⊙ (g - Σ_j g_j s_j).
    """

    name = "softmax"

    def __call__(self, a):
        e = np.exp(a - a.max(axis=-1, keepdims=True))  # the max cancels out of the ratio and prevents overflow
        return e / e.sum(axis=-1, keepdims=True)

    def derivative(self, a, z):
        raise NotDifferentiableError(
            "softmax: its derivative is a Jacobian, not elementwise; it is an output activation "
            "(use Softmax.vjp), not a hidden one")

    def vjp(self, z: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Jᵀ g with J_ij = ∂s_i/∂a_j = s_i(δ_ij - s_j): s ⊙ (g - Σ_j g_j s_j), row by row."""
        return z * (g - (g * z).sum(axis=-1, keepdims=True))


ACTIVATIONS: dict[str, type[Activation]] = {
    "identity": Identity, "linear": Identity,
    "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "leaky_relu": LeakyReLU, "elu": ELU,
    "softsign": Softsign, "step": Step, "sign": Sign, "softmax": Softmax,
}


def get_activation(spec: str | Activation) -> Activation:
    """An activation from its name (``'tanh'``) or an ``Activation`` instance (``LeakyReLU(0.1)``)."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        cls = ACTIVATIONS.get(spec.lower())
        if cls is None:
            raise ValueError(f"unknown activation {spec!r}; expected one of {sorted(ACTIVATIONS)} "
                             "or an Activation instance")
        return cls()
    raise TypeError(f"activation: expected a name or an Activation instance, got {type(spec).__name__}")
