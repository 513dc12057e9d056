"""The notes' two losses, their values and the output delta δ^(L) each gives.

Casacuberta–Vidal, "Funciones objetivo o de pérdida": the loss of a training
set S of N samples is the mean of the per-sample losses,

    q_S(Θ) = 1/N Σ_n q_n(Θ).

Sign convention. Here δ^(l) = ∂q_n/∂a^(l) (Bunge, "Backpropagation (II)"),
so that ∂q_n/∂W^(l) = δ^(l) z^(l-1)ᵀ and the update is W ← W - ρ ∂q_S/∂W.
Casacuberta–Vidal define the opposite sign, δ_i = (t_i - s_i) g'(φ_i) =
-∂q_n/∂φ_i, and write the same update as Δθ_ij = +ρ δ_i s_j.

Both values are computed from the pre-activations a^(L) (the logits) where
the output activation allows it, so that log never sees a rounded 0.
"""
from __future__ import annotations

import numpy as np

from .activations import Activation, Sigmoid, Softmax


def _logsumexp(a: np.ndarray) -> np.ndarray:
    """log Σ_i exp(a_i) per row, as m + log Σ exp(a_i - m) with m = max_i a_i."""
    m = a.max(axis=-1, keepdims=True)
    return m + np.log(np.exp(a - m).sum(axis=-1, keepdims=True))


class SquaredError:
    """ERROR CUADRÁTICO: q_n = ½ Σ_i (t_ni - s_i^L)², for regression and classification."""

    name = "squared_error"

    def check(self, output: Activation) -> None:
        pass  # any output activation works

    def value(self, aL: np.ndarray, zL: np.ndarray, T: np.ndarray, h: Activation) -> float:
        """q_S = 1/N Σ_n ½ Σ_i (t_ni - s_ni)²."""
        r = T - zL
        return float((r * r).sum()) / (2 * len(T))

    def delta(self, aL: np.ndarray, zL: np.ndarray, T: np.ndarray, h: Activation) -> np.ndarray:
        """δ^(L) = h'(a^(L)) ⊙ ∂q_n/∂ŷ with ∂q_n/∂ŷ = ŷ - t (the notes' (t_i - s_i) g'(φ_i), negated)."""
        dq_dy = zL - T
        if isinstance(h, Softmax):
            return h.vjp(zL, dq_dy)  # softmax couples the outputs: δ = Jᵀ ∂q_n/∂ŷ
        return h.derivative(aL, zL) * dq_dy


class CrossEntropy:
    """ENTROPÍA CRUZADA, for classification; the output activation decides which one.

    softmax output (C exclusive classes):  q_n = -Σ_i t_ni log s_i
    sigmoid output (two classes, or independent labels):
                                          q_n = -Σ_i [t_ni log s_i + (1 - t_ni) log(1 - s_i)]
    """

    name = "cross_entropy"

    def check(self, output: Activation) -> None:
        if not isinstance(output, (Softmax, Sigmoid)):
            raise ValueError(f"loss='cross_entropy' needs output='softmax' (C classes) or output='sigmoid' "
                             f"(two classes), got output={output.name!r}; its outputs must be probabilities")

    def value(self, aL, zL, T, h: Activation) -> float:
        """q_S = 1/N Σ_n q_n, computed from the logits a^(L)."""
        N = len(T)
        if isinstance(h, Softmax):
            # -Σ_i t_i log s_i with log s_i = a_i - logsumexp(a)
            return float((T.sum(axis=-1, keepdims=True) * _logsumexp(aL)).sum() - (T * aL).sum()) / N
        # -[t log σ(a) + (1-t) log(1-σ(a))] = log(1 + e^a) - t a, and log(1 + e^a) = logaddexp(0, a)
        return float((np.logaddexp(0, aL) - T * aL).sum()) / N

    def delta(self, aL, zL, T, h: Activation) -> np.ndarray:
        """δ^(L) = ∂q_n/∂a^(L): s - t for sigmoid; s Σ_i t_i - t for softmax, which is s - t for one-hot t.

        The notes leave this as an exercise ("derivar las ecuaciones BackProp
        para el caso de clasificación"): the factor g'(a) of the activation
        cancels the 1/s of the logarithm's derivative.
        """
        if isinstance(h, Softmax):
            return zL * T.sum(axis=-1, keepdims=True) - T
        return zL - T


LOSSES = {"squared_error": SquaredError, "cross_entropy": CrossEntropy}
