"""Regularization layers active only in training: ``Dropout`` and ``GaussianNoise``."""
from __future__ import annotations

from ..functional.dropout import _check_p, dropout, gaussian_noise
from ..engine import Tensor
from .module import Module

__all__ = ["Dropout", "GaussianNoise"]


class Dropout(Module):
    """Inverted dropout: in training each element is zeroed with probability ``p`` and the survivors are
    scaled by 1/(1 − p), so the expected output equals the input; in ``eval()`` it is the identity.

    The notes: "durante el entrenamiento se seleccionan aleatoriamente un subconjunto de nodos y no son
    utilizados en una iteración". Masks come from neurona's global generator (``neurona.manual_seed``).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = _check_p(p, "Dropout")
        self.inplace = inplace  # accepted for PyTorch compatibility; the result is always a new tensor

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GaussianNoise(Module):
    """Adds N(0, std²) noise in training ("añadir ruido durante el entrenamiento"); the identity in eval."""

    def __init__(self, std: float = 0.1):
        super().__init__()
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be non-negative, got {std}")
        self.std = float(std)

    def forward(self, x: Tensor) -> Tensor:
        return gaussian_noise(x, self.std, self.training)

    def extra_repr(self) -> str:
        return f"std={self.std}"
