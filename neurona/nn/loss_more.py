"""More loss modules (PyTorch's names, signatures and defaults) over :mod:`neurona.functional.loss_more`.

As the other loss modules, options other than ``weight`` are keyword-only.
"""
from __future__ import annotations

from ..engine import Tensor
from ..functional import loss_more as F
from .loss import _as_buffer, _Loss

__all__ = ["TripletMarginLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "PoissonNLLLoss", "GaussianNLLLoss",
           "MultiMarginLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss"]


class TripletMarginLoss(_Loss):
    """max(d(a, p) − d(a, n) + margin, 0) with the p-norm distance d; ``swap`` uses the harder negative."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False, *,
                 reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.margin, self.p, self.eps, self.swap = float(margin), float(p), float(eps), bool(swap)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                     reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 − cos(x₁, x₂) for pairs labelled 1, max(0, cos(x₁, x₂) − margin) for pairs labelled −1."""

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.margin = float(margin)

    def forward(self, input1: Tensor, input2: Tensor, target) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, −y·(x₁ − x₂) + margin)."""

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.margin = float(margin)

    def forward(self, input1: Tensor, input2: Tensor, target) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """exp(x) − t·x (``log_input``), or x − t·log(x + ε); ``full`` adds Stirling's term."""

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8, *, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.log_input, self.full, self.eps = bool(log_input), bool(full), float(eps)

    def forward(self, log_input: Tensor, target) -> Tensor:
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """½(log v + (x − t)²/v), v the predicted variance (called as ``loss(input, target, var)``)."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = bool(full), float(eps)

    def forward(self, input: Tensor, target, var) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, reduction=self.reduction)


class MultiMarginLoss(_Loss):
    """The multi-class hinge loss Σ_{i≠y} w_y·max(0, margin − x_y + x_i)^p / C."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, *, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p}")
        self.p, self.margin = int(p), float(margin)
        self.register_buffer("weight", _as_buffer(weight))

    def forward(self, input: Tensor, target) -> Tensor:
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + exp(−y·x)) for labels ±1."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """−mean_c w_c [y_c log σ(x_c) + (1 − y_c) log σ(−x_c)], for multi-label targets of 0s and 1s."""

    def __init__(self, weight=None, *, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.register_buffer("weight", _as_buffer(weight))

    def forward(self, input: Tensor, target) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)
