"""Loss modules (PyTorch's names, signatures and defaults) over :mod:`neurona.functional.loss`.

A loss module holds its options; calling it as ``criterion(output, target)``
returns the loss tensor. The notes' objectives are one line each (``y`` the
network output, ``t`` the targets, N samples, λ the regularization factor)::

    sse = 0.5 * ((y - t) ** 2).sum()                                       # ½ Σ (t - s)²
    loss = (nn.MSELoss(reduction="sum")(y, t) / (2 * N)                   # 1/(2N) Σ (y - h)²
            + lam / (2 * N) * nn.utils.l2_penalty(model.parameters()))    # + λ/(2N) Σ W²

Class weights and ``pos_weight`` are registered as buffers, so they follow
``criterion.to(dtype)`` and appear in ``state_dict``. Options other than
``weight`` are keyword-only (PyTorch's deprecated ``size_average``/``reduce``
are not accepted), so a positional call written for PyTorch fails loudly;
``HuberLoss(reduction, delta)``, which PyTorch gives no deprecated slots, takes them positionally.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_default_dtype
from ..functional import loss as F
from ..engine import Tensor
from .module import Module

__all__ = [
    "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
    "BCEWithLogitsLoss", "KLDivLoss",
]


def _as_buffer(value) -> Tensor | None:
    """Class weights as a float tensor (lists and arrays follow ``neurona.tensor``: float32 by default)."""
    if value is None or isinstance(value, Tensor):
        return value
    a = np.asarray(value)
    return Tensor(a if a.dtype.kind == "f" else a.astype(get_default_dtype()))


class _Loss(Module):
    _reductions = F._REDUCTIONS

    def __init__(self, *, reduction: str = "mean"):
        super().__init__()
        F._check_reduction(reduction, type(self).__name__, self._reductions)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error mean((output - target)²) (notes: MSE; the squared error ½Σ(t - s)² is
    ``0.5 * MSELoss(reduction='sum')(s, t)``)."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error mean(|output - target|)."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """½d² for |d| < δ, δ(|d| - ½δ) beyond: robust to outliers (``delta`` = δ)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = float(delta)

    def forward(self, input: Tensor, target) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        return ", ".join(s for s in (super().extra_repr(), f"delta={self.delta}") if s)


class SmoothL1Loss(_Loss):
    """½d²/β for |d| < β, |d| - ½β beyond (``beta`` = β; L1 for β = 0)."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction=reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = float(beta)

    def forward(self, input: Tensor, target) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        return ", ".join(s for s in (super().extra_repr(), f"beta={self.beta}") if s)


class CrossEntropyLoss(_Loss):
    """Softmax + cross-entropy on logits (notes: ENTROPÍA CRUZADA with a softmax output layer).

    ``criterion(logits, target)``: logits (N, C) or (N, C, d1, ...); target
    class indices (N,) / (N, d1, ...) or class probabilities of the logits'
    shape. ``weight`` (C,) rescales classes, rows with target ``ignore_index``
    are skipped, ``label_smoothing`` ε trains towards (1-ε)·onehot + ε/C.
    One fused op whose gradient is softmax - onehot. See
    :func:`neurona.functional.cross_entropy` for the exact normalization.

    >>> import neurona
    >>> criterion = neurona.nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> loss = criterion(neurona.randn(8, 5), neurona.randint(0, 5, (8,)))
    >>> loss.shape
    ()
    """

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction=reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.register_buffer("weight", _as_buffer(weight))
        self.ignore_index, self.label_smoothing = int(ignore_index), float(label_smoothing)

    def forward(self, input: Tensor, target) -> Tensor:
        b = self._buffers  # read from the registry: self.weight finds it only after a failed attribute lookup
        weight = b["weight"] if "weight" in b else self.weight
        return F.cross_entropy(input, target, weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        if self.weight is not None:
            parts.append(f"weight=({self.weight.shape[0]},)")
        return ", ".join(p for p in parts if p)


class NLLLoss(_Loss):
    """Negative log-likelihood of the target classes, on log-probabilities (after ``LogSoftmax``)."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.register_buffer("weight", _as_buffer(weight))
        self.ignore_index = int(ignore_index)

    def forward(self, input: Tensor, target) -> Tensor:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)

    def extra_repr(self) -> str:
        parts = [super().extra_repr(), f"ignore_index={self.ignore_index}" if self.ignore_index != -100 else ""]
        return ", ".join(p for p in parts if p)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities (after ``Sigmoid``); logs clamped at -100 (PyTorch).

    Prefer :class:`BCEWithLogitsLoss` on logits: one stable op.
    """

    def __init__(self, weight=None, *, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.register_buffer("weight", _as_buffer(weight))

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy on logits, stable for any logit; gradient σ(x) - t.

    ``weight`` rescales elements; ``pos_weight`` (e.g. (C,) for C labels)
    multiplies the positive term: ``pos_weight = negatives / positives`` balances
    a rare class.
    """

    def __init__(self, weight=None, *, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction=reduction)
        self.register_buffer("weight", _as_buffer(weight))
        self.register_buffer("pos_weight", _as_buffer(pos_weight))

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """KL(target ‖ q) with the input = log q; ``reduction='batchmean'`` is the per-sample KL.

    Used for knowledge distillation: ``KLDivLoss(reduction='batchmean')(log_softmax(s/T, 1), softmax(t/T, 1)) * T²``.
    ``log_target=True`` takes the target as log-probabilities too.
    """

    _reductions = F._REDUCTIONS + ("batchmean",)

    def __init__(self, *, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction=reduction)
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        parts = [super().extra_repr(), "log_target=True" if self.log_target else ""]
        return ", ".join(p for p in parts if p)
