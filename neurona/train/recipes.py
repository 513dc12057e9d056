"""Training recipes: ``fit`` with the settings a model family is usually trained with.

``train_classifier`` is the recipe of the Vision Transformer (and of other image classifiers that
like it): AdamW with decoupled weight decay, a learning rate that warms up linearly over the first
batches and then follows a cosine down to 0 at the last batch (:class:`WarmupCosine`), gradient
clipping, and optional augmentation of the training images (random shifts, horizontal flips).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .callbacks import Callback

__all__ = ["WarmupCosine", "ClassifierRun", "train_classifier"]


class WarmupCosine(Callback):
    """Set the learning rate before every batch: a linear warm-up over ``warmup`` batches to ``lr``,
    then a cosine decay, η_t = ½ η (1 + cos(π (t − warmup)/(total − warmup))), reaching 0 at ``total``."""

    def __init__(self, lr: float, total: int, warmup: int = 0):
        self.lr, self.total, self.warmup = float(lr), max(1, int(total)), max(0, int(warmup))
        self.step = 0

    def factor(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def on_batch_begin(self, batch, logs=None):
        for g in self.trainer.optimizer.param_groups:
            g["lr"] = self.lr * self.factor(self.step)
        self.step += 1


@dataclass
class ClassifierRun:
    """What :func:`train_classifier` returns: the history, the wall time of ``fit`` (the per-epoch test
    evaluations included), the final test accuracy and loss, and one dict of logs per epoch."""

    history: object
    train_seconds: float
    test_accuracy: float
    test_loss: float
    epochs: int
    per_epoch: list = field(default_factory=list)


def _decays(name: str, p) -> bool:
    """Weight decay for the weight matrices only: not biases, norms, class tokens or position tables."""
    return p.ndim > 1 and not name.endswith("cls_token") and not name.startswith("positions.")


def train_classifier(model, train: tuple, test: tuple, epochs: int = 10, batch_size: int = 128, lr: float = 1e-3,
                     weight_decay: float = 0.05, warmup_epochs: float = 1.0, augment: bool = False,
                     clip_grad_norm: float | None = 1.0, label_smoothing: float = 0.0, seed: int = 0,
                     verbose: int = 2, evaluate_each_epoch: bool = True) -> ClassifierRun:
    """Train ``model`` on ``train`` = (images (N, C, H, W), labels) and report its accuracy on ``test``.

    The recipe: AdamW(lr, weight_decay), :class:`WarmupCosine` over every batch, gradient clipping,
    and with ``augment`` random shifts of up to 2 pixels and horizontal flips of the training
    images. With ``evaluate_each_epoch`` the test set is scored after each epoch (``val_accuracy``
    in the history: it is only watched, nothing is chosen by it).
    """
    from .. import manual_seed, nn, optim
    from ..data import DataLoader
    from ..data.transforms import Compose, RandomHorizontalFlip, RandomTranslate
    from .loop import evaluate, fit

    manual_seed(seed)
    x, y = train
    transform = Compose([RandomTranslate(2, seed=seed), RandomHorizontalFlip(seed=seed + 1)]) if augment else None
    loader = DataLoader((x, y), batch_size=batch_size, shuffle=True, seed=seed, transform=transform)
    total = len(loader) * int(epochs)
    schedule = WarmupCosine(lr, total, int(round(warmup_epochs * len(loader))))
    decay = [p for n, p in model.named_parameters() if _decays(n, p)]
    rest = [p for n, p in model.named_parameters() if not _decays(n, p)]
    opt = optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}],
                      lr=lr)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    start = time.perf_counter()
    history = fit(model, loss_fn, opt, loader, val=test if evaluate_each_epoch else None, epochs=epochs,
                  callbacks=[schedule], verbose=verbose, clip_grad_norm=clip_grad_norm, batch_size=batch_size)
    seconds = time.perf_counter() - start
    result = evaluate(model, nn.CrossEntropyLoss(), test, batch_size=512)
    per_epoch = []
    h = getattr(history, "history", {})
    for i in range(len(h.get("loss", []))):
        per_epoch.append({k: float(v[i]) for k, v in h.items() if i < len(v) and isinstance(v[i], (int, float,
                                                                                               np.floating))})
    return ClassifierRun(history, seconds, float(result["accuracy"]), float(result["loss"]), len(per_epoch), per_epoch)
