"""Losses for dense prediction and detection: soft Dice and sigmoid focal loss.

Per-pixel cross-entropy needs nothing new: ``nn.CrossEntropyLoss`` takes (N, C, H, W) logits with
(N, H, W) targets, class ``weight`` and ``ignore_index``, as PyTorch's does. When a few classes cover
most pixels (the background of a segmentation), the Dice loss balances them: it scores each class by
the overlap of its predicted probabilities with its true pixels, whatever the class's size.
"""
from __future__ import annotations

import numpy as np

from ..creation import from_numpy
from ..engine import Tensor
from ..functional.activation import sigmoid, softmax
from ..functional.loss import binary_cross_entropy_with_logits
from ..functional.math import as_tensor
from ..nn.module import Module

__all__ = ["dice_loss", "DiceLoss", "sigmoid_focal_loss"]


def dice_loss(input, target, weight=None, ignore_index: int | None = None, smooth: float = 1.0,
              per_image: bool = False) -> Tensor:
    """Soft multi-class Dice loss of logits ``input`` (N, C, d1, ...) against class indices ``target`` (N, d1, ...).

    With p = softmax(input) over the classes and t the one-hot target, for each class c

        Dice_c = (2 Σ p_c t_c + s) / (Σ p_c + Σ t_c + s),    loss = 1 − Σ_c w_c Dice_c / Σ_c w_c,

    the sums running over the batch and the pixels (over the pixels of each image with ``per_image=True``,
    the loss then averaged over images). ``s`` (``smooth``) keeps a class absent from both prediction and
    truth at Dice 1 and the gradient finite. Pixels whose target is ``ignore_index`` count nowhere.
    ``weight`` (C,) weighs the classes (default: all 1).

    >>> import neurona
    >>> logits = neurona.zeros(1, 2, 2, 2)            # p = 1/2 everywhere: Dice 2/4 and 4/6
    >>> round(dice_loss(logits, np.array([[[0, 1], [1, 1]]])).item(), 4)
    0.4167
    """
    op = "dice_loss"
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"{op}: expected logits (N, C, ...) with the classes on axis 1, got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: logits must be floating point, got {x.dtype}")
    c = x.shape[1]
    t = target.array if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {t.dtype}")
    if t.shape != x.shape[:1] + x.shape[2:]:
        raise ValueError(f"{op}: target of shape {t.shape} does not match logits {tuple(x.shape)}: expected "
                         f"{x.shape[:1] + x.shape[2:]}")
    valid = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    if ((t[valid] < 0) | (t[valid] >= c)).any():
        raise ValueError(f"{op}: target classes must be in [0, {c}) (or ignore_index), got values "
                         f"{np.unique(t[valid][(t[valid] < 0) | (t[valid] >= c)])[:5].tolist()}")
    dtype = x.dtype  # constants are made Tensors of the logits' dtype, so float64 stays float64
    onehot = (np.where(valid, t, -1)[:, None] == np.arange(c).reshape((1, c) + (1,) * (t.ndim - 1))).astype(dtype)
    p = softmax(x, dim=1) * from_numpy(valid[:, None].astype(dtype))
    axes = tuple(range(2, x.ndim)) if per_image else (0,) + tuple(range(2, x.ndim))
    inter = (p * from_numpy(onehot)).sum(axis=axes)
    card = p.sum(axis=axes) + from_numpy(onehot.sum(axis=axes))
    dice = (inter * 2.0 + smooth) / (card + smooth)  # (C,) or (N, C)
    w = np.ones(c, dtype) if weight is None else np.asarray(weight.array if isinstance(weight, Tensor) else weight,
                                                          dtype)
    if w.shape != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},) (one per class), got {w.shape}")
    score = (dice * from_numpy(w)).sum(axis=-1) / float(w.sum())
    return 1.0 - (score.mean() if per_image else score)


class DiceLoss(Module):
    """Module form of :func:`dice_loss`: ``DiceLoss(weight=None, ignore_index=None, smooth=1.0, per_image=False)``."""

    def __init__(self, weight=None, ignore_index: int | None = None, smooth: float = 1.0, per_image: bool = False):
        super().__init__()
        self.weight = None if weight is None else np.asarray(weight.array if isinstance(weight, Tensor) else weight)
        self.ignore_index, self.smooth, self.per_image = ignore_index, float(smooth), bool(per_image)

    def forward(self, input, target) -> Tensor:
        return dice_loss(input, target, self.weight, self.ignore_index, self.smooth, self.per_image)

    def extra_repr(self) -> str:
        return f"smooth={self.smooth}" + (f", ignore_index={self.ignore_index}" if self.ignore_index is not None else "")


def sigmoid_focal_loss(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none") -> Tensor:
    """Focal loss (Lin et al., 2017) on logits, as ``torchvision.ops.sigmoid_focal_loss``.

    With p = σ(x) and p_t = p·t + (1 − p)(1 − t): FL = α_t (1 − p_t)^γ · BCE(x, t), α_t = α t + (1 − α)(1 − t)
    (no α weighting when α < 0). The factor (1 − p_t)^γ shrinks the loss of the many easy examples (the
    empty cells of a detector), so the few objects are not drowned. ``reduction``: 'none', 'mean' or 'sum'.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"sigmoid_focal_loss: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    x = as_tensor(inputs)
    t = targets if isinstance(targets, Tensor) else from_numpy(np.asarray(targets, dtype=x.dtype))
    if t.shape != x.shape:
        raise ValueError(f"sigmoid_focal_loss: targets of shape {tuple(t.shape)} must match inputs {tuple(x.shape)}")
    p = sigmoid(x)
    ce = binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1.0 - p) * (1.0 - t)
    loss = ce * (1.0 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (t * alpha + (1.0 - t) * (1.0 - alpha))
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
